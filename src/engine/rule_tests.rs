//! Alert rules inside the engine under a controlled clock: kept by name and changed at run
//! time, evaluated on trades, candle closes and the clock, and every change handed to the store.

use std::sync::Arc;

use super::*;
use crate::alerts::rules::{Origin, RuleConfig, Status};
use crate::domain::{EventKind, Side, Symbol, TradeTick, TsMs, Venue, iso8601};
use crate::domain::{RuleChange, RuleRecord};

const T0: TsMs = 1_700_000_040_000; // a minute boundary
const MIN: TsMs = 60_000;

fn key(s: &str) -> VenueSymbol {
    VenueSymbol::new(Venue::Sim, Symbol::new(s).unwrap())
}

fn trade_at(s: &str, id: u64, ts: TsMs, recv: TsMs, price: f64, qty: f64) -> MarketEvent {
    MarketEvent {
        venue: Venue::Sim,
        symbol: Symbol::new(s).unwrap(),
        exch_ms: ts,
        recv_ms: recv,
        kind: EventKind::Trade(TradeTick {
            trade_id: id,
            price,
            qty,
            side: Side::Buy,
        }),
    }
}

fn trade(s: &str, id: u64, ts: TsMs, price: f64) -> MarketEvent {
    trade_at(s, id, ts, ts, price, 1.0)
}

fn spec(text: &str) -> RuleConfig {
    toml::from_str(text).unwrap()
}

fn engine(config_rules: &[&str], saved: Vec<RuleRecord>, watchlist: &[&str]) -> Engine {
    let rules = config_rules
        .iter()
        .map(|t| spec(t).build().unwrap())
        .collect();
    Engine::new(
        EngineConfig {
            rules,
            saved_rules: saved,
            watchlist: watchlist.iter().map(|s| key(s)).collect(),
            persist_trades: false,
            ..EngineConfig::default()
        },
        Arc::new(PipelineStats::default()),
    )
    .unwrap()
}

/// (name, status) of the rows written, and the names deleted, in order.
fn changes(out: &OutputBatch) -> Vec<(String, Option<Status>)> {
    out.rules
        .iter()
        .map(|c| match c {
            RuleChange::Upsert(r) => (r.rule_id.clone(), Some(r.state)),
            RuleChange::Delete(n) => (n.clone(), None),
        })
        .collect()
}

fn status(e: &Engine, name: &str) -> Option<Status> {
    e.snapshot(None, Interval::M1, None, 0)
        .rules
        .iter()
        .find(|r| r.name == name)
        .map(|r| r.status)
}

fn ctl(e: &mut Engine, c: EngineCtl, now: TsMs) -> (Result<(), String>, OutputBatch) {
    let mut out = OutputBatch::default();
    let r = e.control(&c, now, &mut out);
    (r, out)
}

fn s(name: &str, st: Status) -> (String, Option<Status>) {
    (name.to_string(), Some(st))
}

fn del(name: &str) -> (String, Option<Status>) {
    (name.to_string(), None)
}

#[test]
fn rules_made_at_run_time_are_kept_by_name_and_every_change_is_stored() {
    let mut e = engine(&[], vec![], &[]);
    let a = spec("name = 'a'\nkind = 'price_above'\nvalue = 105\ncooldown_secs = 0");
    let (r, out) = ctl(&mut e, EngineCtl::AddRule(a.clone()), T0);
    r.unwrap();
    assert_eq!(changes(&out), vec![s("a", Status::Armed)]);
    let RuleChange::Upsert(row) = &out.rules[0] else {
        panic!()
    };
    assert_eq!((row.origin, &row.spec), (Origin::Monitor, &a));
    let (r, out) = ctl(&mut e, EngineCtl::AddRule(a), T0);
    assert!(r.unwrap_err().contains("exists already"));
    assert!(out.rules.is_empty());

    let mut out = OutputBatch::default();
    e.apply(&trade("X", 1, T0 + 1_000, 100.0), &mut out)
        .unwrap();
    e.apply(&trade("X", 2, T0 + 2_000, 106.0), &mut out)
        .unwrap();
    assert_eq!(out.alerts.len(), 1);
    assert_eq!(out.alerts[0].rule, "a");
    assert_eq!(changes(&out), vec![s("a", Status::Triggered)]);
    assert_eq!(status(&e, "a"), Some(Status::Triggered));
    let mut out = OutputBatch::default();
    e.apply(&trade("X", 3, T0 + 3_000, 104.0), &mut out)
        .unwrap();
    assert_eq!(
        changes(&out),
        vec![s("a", Status::Armed)],
        "re-armed below 105"
    );

    let b = spec("name = 'b'\nkind = 'price_above'\nvalue = 200");
    let (r, out) = ctl(
        &mut e,
        EngineCtl::ReplaceRule {
            old_name: "a".into(),
            rule: b,
        },
        T0 + 4_000,
    );
    r.unwrap();
    assert_eq!(changes(&out), vec![del("a"), s("b", Status::Armed)]);

    let until = T0 + 15 * MIN;
    let (r, out) = ctl(
        &mut e,
        EngineCtl::Snooze {
            name: "b".into(),
            until_ms: Some(until),
        },
        T0 + 5_000,
    );
    r.unwrap();
    assert_eq!(changes(&out), vec![s("b", Status::Snoozed)]);
    let RuleChange::Upsert(row) = &out.rules[0] else {
        panic!()
    };
    assert_eq!(row.snoozed_until_ms, Some(until));
    let mut out = OutputBatch::default();
    assert!(!e.on_clock(until - 1, &mut out), "still snoozed");
    assert!(out.rules.is_empty());
    assert!(e.on_clock(until, &mut out));
    assert_eq!(
        changes(&out),
        vec![s("b", Status::Armed)],
        "the snooze ended"
    );

    let (r, out) = ctl(&mut e, EngineCtl::DeleteRule { name: "b".into() }, until);
    r.unwrap();
    assert_eq!(changes(&out), vec![del("b")]);
    assert!(e.snapshot(None, Interval::M1, None, 0).rules.is_empty());
    let (r, _) = ctl(&mut e, EngineCtl::DeleteRule { name: "b".into() }, until);
    assert!(r.unwrap_err().contains("no alert rule"));
}

#[test]
fn a_once_rule_fires_once_across_symbols_until_acknowledged() {
    let mut e = engine(
        &["name = 'once'\nkind = 'price_above'\nvalue = 105\nmode = 'once'\ncooldown_secs = 0"],
        vec![],
        &[],
    );
    let mut out = OutputBatch::default();
    e.apply(&trade("X", 1, T0, 106.0), &mut out).unwrap();
    e.apply(&trade("Y", 2, T0 + 1, 107.0), &mut out).unwrap();
    e.apply(&trade("X", 3, T0 + 2, 100.0), &mut out).unwrap();
    e.apply(&trade("X", 4, T0 + 3, 106.0), &mut out).unwrap();
    assert_eq!(out.alerts.len(), 1, "once for the whole rule");
    assert_eq!(status(&e, "once"), Some(Status::Triggered));
    let (r, out) = ctl(
        &mut e,
        EngineCtl::Acknowledge {
            name: "once".into(),
        },
        T0 + 4,
    );
    r.unwrap();
    assert_eq!(changes(&out), vec![s("once", Status::Armed)]);
    // X fired and is still above: it must fall back below 105 before it can fire again
    let mut out = OutputBatch::default();
    e.apply(&trade("X", 5, T0 + 5, 107.0), &mut out).unwrap();
    assert!(out.alerts.is_empty());
    e.apply(&trade("X", 6, T0 + 6, 104.0), &mut out).unwrap();
    e.apply(&trade("X", 7, T0 + 7, 106.0), &mut out).unwrap();
    assert_eq!(out.alerts.len(), 1);
    assert_eq!(status(&e, "once"), Some(Status::Triggered));
}

#[test]
fn an_expired_rule_is_shown_expired_and_never_fires() {
    let expires = iso8601(T0 + 10 * MIN);
    let text = format!(
        "name = 'x'\nkind = 'price_above'\nvalue = 105\ncooldown_secs = 0\nexpires = '{expires}'"
    );
    let mut e = engine(&[&text], vec![], &[]);
    let mut out = OutputBatch::default();
    e.apply(&trade("X", 1, T0, 106.0), &mut out).unwrap();
    assert_eq!(out.alerts.len(), 1);
    e.apply(&trade("X", 2, T0 + MIN, 100.0), &mut out).unwrap();
    let mut out = OutputBatch::default();
    e.on_clock(T0 + 10 * MIN, &mut out);
    assert_eq!(changes(&out), vec![s("x", Status::Expired)]);
    e.apply(&trade("X", 3, T0 + 11 * MIN, 110.0), &mut out)
        .unwrap();
    assert!(out.alerts.is_empty());
    assert_eq!(status(&e, "x"), Some(Status::Expired));
}

#[test]
fn stale_rules_fire_on_the_clock_from_the_last_receive_time() {
    let mut e = engine(
        &["name = 'quiet'\nkind = 'stale'\nvalue = 30\ncooldown_secs = 0"],
        vec![],
        &["X", "Y"],
    );
    let mut out = OutputBatch::default();
    e.on_clock(T0, &mut out);
    // X's data is from long ago, but it arrived now: age counts from the receive time
    e.apply(
        &trade_at("X", 1, T0 - 3_600_000, T0 + 5_000, 100.0, 1.0),
        &mut out,
    )
    .unwrap();
    let mut out = OutputBatch::default();
    e.on_clock(T0 + 29_000, &mut out);
    assert!(out.alerts.is_empty());
    e.on_clock(T0 + 31_000, &mut out);
    assert_eq!(out.alerts.len(), 1, "Y never sent anything");
    assert_eq!(out.alerts[0].key, key("Y"));
    assert!(
        out.alerts[0].message.contains("no data for 31 s"),
        "{}",
        out.alerts[0].message
    );
    e.on_clock(T0 + 35_000, &mut out);
    assert_eq!(out.alerts.len(), 2);
    assert_eq!(out.alerts[1].key, key("X"));
    e.on_clock(T0 + 60_000, &mut out);
    assert_eq!(out.alerts.len(), 2, "no repeat while still silent");
    assert_eq!(status(&e, "quiet"), Some(Status::Triggered));
    for (i, k) in ["X", "Y"].iter().enumerate() {
        e.apply(
            &trade_at(k, 10 + i as u64, T0, T0 + 61_000, 100.0, 1.0),
            &mut out,
        )
        .unwrap();
    }
    e.on_clock(T0 + 62_000, &mut out);
    assert_eq!(status(&e, "quiet"), Some(Status::Armed), "data again");
    assert_eq!(e.snapshot(None, Interval::M1, None, 0).alerts.len(), 2);
}

#[test]
fn pct_change_compares_with_the_price_a_window_ago() {
    let mut e = engine(
        &[
            "name = 'up2'\nkind = 'pct_change'\nvalue = 2\nwindow = '1m'\ndirection = 'up'\ncooldown_secs = 0",
        ],
        vec![],
        &[],
    );
    let mut out = OutputBatch::default();
    for i in 0..=100u64 {
        // a jump before a minute of history exists is not measured
        let p = if i == 30 { 103.0 } else { 100.0 };
        e.apply(&trade("X", i + 1, T0 + i as i64 * 1_000, p), &mut out)
            .unwrap();
    }
    assert!(out.alerts.is_empty(), "{:?}", out.alerts);
    e.apply(&trade("X", 200, T0 + 101_000, 101.0), &mut out)
        .unwrap();
    assert!(out.alerts.is_empty(), "+1% only");
    e.apply(&trade("X", 201, T0 + 102_000, 102.5), &mut out)
        .unwrap();
    assert_eq!(out.alerts.len(), 1);
    assert!((out.alerts[0].value - 2.5).abs() < 1e-9);
    assert!(
        out.alerts[0].message.contains("moved +2.50% in 1m"),
        "{}",
        out.alerts[0].message
    );
}

#[test]
fn rsi_and_volume_rules_fire_on_candles_built_from_trades() {
    let mut e = engine(
        &[
            "name = 'hot'\nkind = 'rsi_above'\nvalue = 70\ninterval = '1s'\ncooldown_secs = 0",
            "name = 'vol'\nkind = 'volume_spike'\nvalue = 3\ninterval = '1s'\ncooldown_secs = 0",
        ],
        vec![],
        &[],
    );
    let mut out = OutputBatch::default();
    for i in 0..40u64 {
        let qty = if i == 30 { 50.0 } else { 1.0 };
        let ts = T0 + i as i64 * 1_000;
        e.apply(
            &trade_at("X", i + 1, ts, ts, 100.0 + i as f64, qty),
            &mut out,
        )
        .unwrap();
    }
    let rules: Vec<&str> = out.alerts.iter().map(|a| a.rule.as_str()).collect();
    assert_eq!(
        rules.iter().filter(|r| **r == "hot").count(),
        1,
        "{rules:?}"
    );
    assert_eq!(
        rules.iter().filter(|r| **r == "vol").count(),
        1,
        "{rules:?}"
    );
    let vol = out.alerts.iter().find(|a| a.rule == "vol").unwrap();
    // the 30th one-second candle closes when the 31st trade arrives
    assert_eq!(vol.ts_ms, T0 + 31_000);
    assert!(vol.value >= 3.0);
}

#[test]
fn a_config_reload_keeps_the_state_of_unchanged_rules() {
    let a = "name = 'a'\nkind = 'price_above'\nvalue = 105\nmode = 'once'\ncooldown_secs = 0";
    let mut e = engine(&[a, "name = 'b'\nkind = 'zscore'\nvalue = 4"], vec![], &[]);
    let (r, _) = ctl(
        &mut e,
        EngineCtl::AddRule(spec("name = 'm'\nkind = 'price_below'\nvalue = 1")),
        T0,
    );
    r.unwrap();
    let mut out = OutputBatch::default();
    e.apply(&trade("X", 1, T0, 106.0), &mut out).unwrap();
    assert_eq!(status(&e, "a"), Some(Status::Triggered));
    // config rules belong to the file
    let (r, _) = ctl(&mut e, EngineCtl::DeleteRule { name: "a".into() }, T0);
    assert!(r.unwrap_err().contains("config.toml"));

    let c = "name = 'c'\nkind = 'stale'\nvalue = 60";
    let (r, out) = ctl(
        &mut e,
        EngineCtl::SetConfigRules(vec![spec(a), spec(c)]),
        T0 + 1,
    );
    r.unwrap();
    assert_eq!(changes(&out), vec![del("b"), s("c", Status::Armed)]);
    assert_eq!(status(&e, "a"), Some(Status::Triggered), "unchanged: kept");
    let names: Vec<String> = e
        .snapshot(None, Interval::M1, None, 0)
        .rules
        .iter()
        .map(|r| r.name.clone())
        .collect();
    assert_eq!(names, ["a", "c", "m"], "config first, monitor rules kept");

    let a2 = a.replace("105", "110");
    let (r, out) = ctl(
        &mut e,
        EngineCtl::SetConfigRules(vec![spec(&a2), spec(c)]),
        T0 + 2,
    );
    r.unwrap();
    assert_eq!(changes(&out), vec![s("a", Status::Armed)], "edited: afresh");
    let (r, _) = ctl(
        &mut e,
        EngineCtl::SetConfigRules(vec![spec(c), spec(c)]),
        T0 + 3,
    );
    assert!(r.unwrap_err().contains("same name"));
    assert_eq!(
        status(&e, "a"),
        Some(Status::Armed),
        "a refused reload changes nothing"
    );
}

#[test]
fn stored_rules_come_back_with_their_state() {
    let row = |name: &str, origin: Origin, text: &str, state: Status| RuleRecord {
        rule_id: name.into(),
        origin,
        spec: spec(text),
        state,
        snoozed_until_ms: None,
        created_ms: T0 - MIN,
        updated_ms: T0 - MIN,
        last_fired_ms: None,
    };
    let once = "name = 'once'\nkind = 'price_above'\nvalue = 105\nmode = 'once'\ncooldown_secs = 0";
    let rearm = "name = 'rearm'\nkind = 'price_above'\nvalue = 105\ncooldown_secs = 0";
    let mut snoozed = row(
        "m",
        Origin::Monitor,
        "name = 'm'\nkind = 'zscore'\nvalue = 5",
        Status::Snoozed,
    );
    snoozed.snoozed_until_ms = Some(T0 + 60 * MIN);
    let saved = vec![
        row("once", Origin::Config, once, Status::Triggered),
        row("rearm", Origin::Config, rearm, Status::Triggered),
        row(
            "gone",
            Origin::Config,
            "kind = 'zscore'\nvalue = 3",
            Status::Armed,
        ),
        snoozed,
    ];
    let fresh = "name = 'fresh'\nkind = 'zscore'\nvalue = 9";
    let mut e = engine(&[once, rearm, fresh], saved, &[]);
    let mut out = OutputBatch::default();
    // above the level from the first trade: neither restored rule fires again
    e.apply(&trade("X", 1, T0, 106.0), &mut out).unwrap();
    assert!(out.alerts.is_empty(), "{:?}", out.alerts);
    assert_eq!(changes(&out), vec![del("gone"), s("fresh", Status::Armed)]);
    assert_eq!(status(&e, "once"), Some(Status::Triggered));
    assert_eq!(status(&e, "m"), Some(Status::Snoozed));
    // the restored rearm rule fires again once the price has been back below
    e.apply(&trade("X", 2, T0 + 1, 104.0), &mut out).unwrap();
    e.apply(&trade("X", 3, T0 + 2, 106.0), &mut out).unwrap();
    let fired: Vec<&str> = out.alerts.iter().map(|a| a.rule.as_str()).collect();
    assert_eq!(fired, ["rearm"]);
}

/// 10,000 rules on other symbols (every trigger), and the four that apply to BTC.
fn crowded_engine() -> Engine {
    use crate::alerts::rules::RuleKind;
    let kinds = [
        RuleKind::PriceAbove,
        RuleKind::Zscore,
        RuleKind::RsiAbove,
        RuleKind::Stale,
    ];
    let mut rules: Vec<_> = (0..10_000)
        .map(|i| {
            let mut r = RuleConfig::new(kinds[i % kinds.len()], 50.0);
            r.name = Some(format!("far-{i}"));
            r.symbols = Some(vec![format!("OTHER{i}")]);
            r.build().unwrap()
        })
        .collect();
    for text in [
        format!(
            "name = 'far-expiring'\nsymbols = ['OTHER1']\nkind = 'price_above'\nvalue = 1\nexpires = '{}'",
            iso8601(T0 + 5 * MIN)
        ),
        "name = 'btc'\nsymbols = ['BTC']\nkind = 'price_above'\nvalue = 105\ncooldown_secs = 0"
            .into(),
        "name = 'any-z'\nkind = 'zscore'\nvalue = 50".into(),
        "name = 'btc-rsi'\nsymbols = ['BTC']\nkind = 'rsi_above'\nvalue = 99.9".into(),
        "name = 'btc-silent'\nsymbols = ['BTC']\nkind = 'stale'\nvalue = 5".into(),
    ] {
        rules.push(spec(&text).build().unwrap());
    }
    Engine::new(
        EngineConfig {
            rules,
            persist_trades: false,
            ..EngineConfig::default()
        },
        Arc::new(PipelineStats::default()),
    )
    .unwrap()
}

#[test]
fn an_event_visits_only_the_rules_for_its_symbol_and_a_flush_only_the_changed_ones() {
    let mut e = crowded_engine();
    let mut out = OutputBatch::default();
    e.on_clock(T0, &mut out);
    assert_eq!(out.rules.len(), 10_005, "the first flush stores every rule");
    let (visits, looks) = (e.rules.visits(), e.rules.looks());

    // BTC crosses 105 on every other trade: 'btc' fires, re-arms, fires...
    let n = 600;
    let mut out = OutputBatch::default();
    for i in 0..n {
        let price = if i % 2 == 0 { 100.0 } else { 110.0 };
        e.apply(&trade("BTC", i, T0 + i as TsMs * 1_000, price), &mut out)
            .unwrap();
    }
    let closes_1m = out
        .candles
        .iter()
        .filter(|c| c.interval == Interval::M1)
        .count() as u64;
    assert!(closes_1m >= 9, "{closes_1m}");
    assert_eq!(out.alerts.len(), n as usize / 2);
    assert!(out.alerts.iter().all(|a| a.rule == "btc"));
    // per trade 'btc' and 'any-z', per closed 1m candle 'btc-rsi': none of the 10,000 others
    assert_eq!(e.rules.visits() - visits, 2 * n + closes_1m);
    // each trade but the first changed the status of 'btc' alone, so each flush looked at it
    // alone, plus once at the rule that expired meanwhile
    assert_eq!(e.rules.looks() - looks, (n - 1) + 1);
    let stored: Vec<_> = changes(&out)
        .into_iter()
        .filter(|(name, _)| name != "btc")
        .collect();
    assert_eq!(stored, vec![s("far-expiring", Status::Expired)]);

    // the clock: only the silence rule of BTC (the one symbol seen) is evaluated
    let (visits, looks) = (e.rules.visits(), e.rules.looks());
    let last = T0 + (n as TsMs - 1) * 1_000;
    let mut out = OutputBatch::default();
    for k in 1..=10 {
        e.on_clock(last + k * 1_000, &mut out);
    }
    assert_eq!(e.rules.visits() - visits, 10);
    let fired: Vec<&str> = out.alerts.iter().map(|a| a.rule.as_str()).collect();
    assert_eq!(fired, ["btc-silent"]);
    assert_eq!(changes(&out), vec![s("btc-silent", Status::Triggered)]);
    assert_eq!(e.rules.looks() - looks, 1);
}

fn book_at(
    ts: TsMs,
    bids: &[(f64, f64)],
    sync: crate::domain::BookSync,
) -> crate::domain::BookSnapshot {
    let lv = |v: &[(f64, f64)]| {
        v.iter()
            .map(|&(price, qty)| crate::domain::Level { price, qty })
            .collect::<Vec<_>>()
    };
    crate::domain::BookSnapshot {
        key: key("BTCUSDT"),
        bids: lv(bids),
        asks: lv(&[(101.0, 1.0)]),
        more_bids: false,
        more_asks: false,
        sync,
        updated_ms: ts,
        gaps: 0,
        checksum_failures: 0,
        resyncs: 0,
    }
}

#[test]
fn liquidity_rules_see_only_books_in_sync_and_compare_across_no_resync() {
    use crate::domain::BookSync;
    let mut e = engine(
        &["name='big'\nkind='level_appear'\nvalue=50\ncooldown_secs=0"],
        vec![],
        &["BTCUSDT"],
    );
    let fired = |e: &mut Engine, b: &crate::domain::BookSnapshot| {
        let mut out = OutputBatch::default();
        e.apply_book(b, &mut out);
        out.alerts.len()
    };
    let small = [(100.0, 1.0)];
    let big = [(100.0, 1.0), (99.0, 60.0)];
    assert_eq!(fired(&mut e, &book_at(T0, &small, BookSync::Synced)), 0);
    // the venue's book lost updates: rebuilt from a snapshot that holds a large level; what
    // happened meanwhile is unknown, so nothing "appeared"
    let resyncing = BookSync::Resyncing { why: "gap".into() };
    assert_eq!(fired(&mut e, &book_at(T0 + 100, &[], resyncing)), 0);
    assert_eq!(fired(&mut e, &book_at(T0 + 200, &big, BookSync::Synced)), 0);
    // from one synced book to the next it did appear
    assert_eq!(
        fired(&mut e, &book_at(T0 + 300, &small, BookSync::Synced)),
        0
    );
    assert_eq!(fired(&mut e, &book_at(T0 + 400, &big, BookSync::Synced)), 1);
    // a stale book (its feed went quiet) fires nothing either, whatever it holds
    assert_eq!(
        fired(&mut e, &book_at(T0 + 500, &small, BookSync::Stale)),
        0
    );
    assert_eq!(fired(&mut e, &book_at(T0 + 600, &big, BookSync::Stale)), 0);
}

#[test]
fn book_snapshots_are_stored_at_their_period_only_while_in_sync() {
    use crate::domain::BookSync;
    let mut e = Engine::new(
        EngineConfig {
            book_snapshots: Some(BookSnapshots {
                every_ms: 1_000,
                levels: 1,
            }),
            ..EngineConfig::default()
        },
        Arc::new(PipelineStats::default()),
    )
    .unwrap();
    let mut out = OutputBatch::default();
    let two = [(100.0, 1.0), (99.0, 2.0)];
    for (dt, sync) in [
        (0, BookSync::Synced),
        (400, BookSync::Synced),
        (1_000, BookSync::Resyncing { why: "gap".into() }),
        (1_200, BookSync::Synced),
        (1_900, BookSync::Synced),
        (2_200, BookSync::Synced),
    ] {
        e.apply_book(&book_at(T0 + dt, &two, sync), &mut out);
    }
    let times: Vec<TsMs> = out.books.iter().map(|b| b.ts_ms - T0).collect();
    assert_eq!(times, vec![0, 1_200, 2_200]);
    assert_eq!(out.books[0].bids.len(), 1, "the top level only");
    assert_eq!(out.rows(), 6);
}
