use std::sync::Arc;

use super::*;
use crate::alerts::AlertRule;
use crate::alerts::rules::RuleConfig;
use crate::domain::{Candle, EventKind, Side, Symbol, TradeTick, TsMs, Venue};
use crate::pipeline::PipelineStats;

pub(super) const T0: TsMs = 1_700_000_040_000; // a minute boundary (1_700_000_040_000 % 60_000 == 0)

pub(super) fn key(s: &str) -> VenueSymbol {
    VenueSymbol::new(Venue::Sim, Symbol::new(s).unwrap())
}

pub(super) fn trade(s: &str, id: u64, ts: TsMs, price: f64, qty: f64) -> MarketEvent {
    MarketEvent {
        venue: Venue::Sim,
        symbol: Symbol::new(s).unwrap(),
        exch_ms: ts,
        recv_ms: ts,
        kind: EventKind::Trade(TradeTick {
            trade_id: id,
            price,
            qty,
            side: Side::Buy,
        }),
    }
}

pub(super) fn kline(s: &str, interval: Interval, c: Candle, closed: bool) -> MarketEvent {
    MarketEvent {
        venue: Venue::Binance,
        symbol: Symbol::new(s).unwrap(),
        exch_ms: c.open_ms,
        recv_ms: c.open_ms,
        kind: EventKind::Candle {
            interval,
            candle: c,
            closed,
        },
    }
}

/// A rule from its TOML form.
fn rule(text: &str) -> AlertRule {
    spec(text).build().unwrap()
}

fn spec(text: &str) -> RuleConfig {
    toml::from_str(text).unwrap()
}

pub(super) fn engine(cfg: EngineConfig) -> Engine {
    Engine::new(cfg, Arc::new(PipelineStats::default())).unwrap()
}

#[test]
fn trades_aggregate_into_every_interval_and_close_on_the_next_bucket() {
    let mut e = engine(EngineConfig::default());
    let mut out = OutputBatch::default();
    e.apply(&trade("BTCUSDT", 1, T0 + 100, 100.0, 1.0), &mut out)
        .unwrap();
    e.apply(&trade("BTCUSDT", 2, T0 + 500, 103.0, 2.0), &mut out)
        .unwrap();
    e.apply(&trade("BTCUSDT", 3, T0 + 900, 99.0, 1.0), &mut out)
        .unwrap();
    assert!(out.candles.is_empty());
    assert_eq!(out.trades.len(), 3);
    // next second closes the 1s candle only
    e.apply(&trade("BTCUSDT", 4, T0 + 1_000, 101.0, 1.0), &mut out)
        .unwrap();
    assert_eq!(out.candles.len(), 1);
    let c = &out.candles[0];
    assert_eq!(c.interval, Interval::S1);
    assert_eq!(
        (
            c.candle.open_ms,
            c.candle.open,
            c.candle.high,
            c.candle.low,
            c.candle.close,
            c.candle.volume,
            c.candle.trades
        ),
        (T0, 100.0, 103.0, 99.0, 99.0, 4.0, 3)
    );
    assert_eq!(c.columns.len(), c.values.len());
    // next minute closes 1m; the 1s series fills the 58 empty seconds with flat candles
    out = OutputBatch::default();
    e.apply(&trade("BTCUSDT", 5, T0 + 60_000, 102.0, 1.0), &mut out)
        .unwrap();
    let s1: Vec<_> = out
        .candles
        .iter()
        .filter(|c| c.interval == Interval::S1)
        .collect();
    assert_eq!(s1.len(), 59);
    assert!(
        s1[1..]
            .iter()
            .all(|c| c.candle.volume == 0.0 && c.candle.close == 101.0)
    );
    let m1: Vec<_> = out
        .candles
        .iter()
        .filter(|c| c.interval == Interval::M1)
        .collect();
    assert_eq!(m1.len(), 1);
    assert_eq!(
        (m1[0].candle.open, m1[0].candle.close, m1[0].candle.trades),
        (100.0, 101.0, 4)
    );
    assert_eq!(
        e.current(key("BTCUSDT"), Interval::D1).map(|c| c.trades),
        Some(5)
    );
}

#[test]
fn late_trades_are_counted_not_folded() {
    let mut e = engine(EngineConfig::default());
    let mut out = OutputBatch::default();
    e.apply(&trade("X", 1, T0 + 2_000, 10.0, 1.0), &mut out)
        .unwrap();
    e.apply(&trade("X", 2, T0 + 500, 11.0, 1.0), &mut out)
        .unwrap();
    assert_eq!(PipelineStats::get(&e.stats().late_trades), 1);
    assert_eq!(
        e.current(key("X"), Interval::S1).map(|c| c.high),
        Some(10.0)
    );
    // but still stored as a trade, and still in the minute candle
    assert_eq!(out.trades.len(), 2);
    assert_eq!(
        e.current(key("X"), Interval::M1).map(|c| c.high),
        Some(11.0)
    );
}

#[test]
fn invalid_events_are_rejected_and_counted() {
    let mut e = engine(EngineConfig::default());
    let mut out = OutputBatch::default();
    for bad in [f64::NAN, -1.0, 0.0] {
        assert!(e.apply(&trade("X", 1, T0, bad, 1.0), &mut out).is_err());
    }
    assert!(
        e.apply(&trade("X", 1, 1_700_000_000, 1.0, 1.0), &mut out)
            .is_err()
    );
    assert_eq!(PipelineStats::get(&e.stats().rejected), 4);
    assert!(out.trades.is_empty());
    assert!(e.last(key("X")).is_none(), "nothing was folded in");
}

#[test]
fn long_gaps_are_counted_instead_of_filled() {
    let mut e = engine(EngineConfig {
        max_gap_fill: 10,
        ..EngineConfig::default()
    });
    let mut out = OutputBatch::default();
    e.apply(&trade("X", 1, T0, 10.0, 1.0), &mut out).unwrap();
    e.apply(&trade("X", 2, T0 + 3_600_000, 10.0, 1.0), &mut out)
        .unwrap();
    // 1s (3599 missing) and 1m (59 missing) gaps are too long; 5m has 11 missing, 15m has 3
    assert_eq!(PipelineStats::get(&e.stats().candle_gaps), 3);
    assert_eq!(
        out.candles
            .iter()
            .filter(|c| c.interval == Interval::M15)
            .count(),
        4
    );
}

pub(super) fn candle(open_ms: TsMs, close: f64) -> Candle {
    Candle {
        open_ms,
        open: close,
        high: close + 1.0,
        low: close - 1.0,
        close,
        volume: 10.0,
        trades: 5,
    }
}

#[test]
fn venue_klines_roll_up_and_duplicates_are_ignored() {
    let mut e = engine(EngineConfig::default());
    let mut out = OutputBatch::default();
    for i in 0..10 {
        e.apply(
            &kline(
                "LINKUSDT",
                Interval::M1,
                candle(T0 + i * 60_000, 100.0 + i as f64),
                true,
            ),
            &mut out,
        )
        .unwrap();
    }
    let m1 = out
        .candles
        .iter()
        .filter(|c| c.interval == Interval::M1)
        .count();
    assert_eq!(m1, 10);
    // T0 is not 5m-aligned: find the 5m candles that closed
    let m5: Vec<_> = out
        .candles
        .iter()
        .filter(|c| c.interval == Interval::M5)
        .collect();
    assert!(!m5.is_empty());
    for c in &m5 {
        assert_eq!(c.candle.open_ms % 300_000, 0);
        assert_eq!(c.candle.volume, 10.0 * c.candle.trades as f64 / 5.0);
    }
    // the same closed candle again (REST backfill overlapping the stream) changes nothing
    let before = out.candles.len();
    e.apply(
        &kline(
            "LINKUSDT",
            Interval::M1,
            candle(T0 + 9 * 60_000, 555.0),
            true,
        ),
        &mut out,
    )
    .unwrap();
    assert_eq!(out.candles.len(), before);
    // an in-progress kline shows as the current candle, then closes
    e.apply(
        &kline(
            "LINKUSDT",
            Interval::M1,
            candle(T0 + 10 * 60_000, 120.0),
            false,
        ),
        &mut out,
    )
    .unwrap();
    let k = VenueSymbol::new(Venue::Binance, Symbol::new("LINKUSDT").unwrap());
    assert_eq!(e.current(k, Interval::M1).map(|c| c.close), Some(120.0));
    e.apply(
        &kline(
            "LINKUSDT",
            Interval::M1,
            candle(T0 + 10 * 60_000, 121.0),
            true,
        ),
        &mut out,
    )
    .unwrap();
    assert_eq!(e.current(k, Interval::M1), None);
    assert_eq!(
        e.closed(k, Interval::M1)
            .and_then(|r| r.last())
            .map(|b| b.candle.close),
        Some(121.0)
    );
}

#[test]
fn indicator_values_follow_the_closes() {
    let mut e = engine(EngineConfig::default());
    let mut out = OutputBatch::default();
    for i in 0..30 {
        e.apply(
            &kline(
                "A",
                Interval::M1,
                candle(T0 + i * 60_000, 100.0 + (i % 7) as f64),
                true,
            ),
            &mut out,
        )
        .unwrap();
    }
    let m1: Vec<_> = out
        .candles
        .iter()
        .filter(|c| c.interval == Interval::M1)
        .collect();
    assert_eq!(m1[18].value("sma20"), None);
    let expect: f64 = (0..20).map(|i| 100.0 + (i % 7) as f64).sum::<f64>() / 20.0;
    assert!((m1[19].value("sma20").unwrap() - expect).abs() < 1e-9);
    assert!(m1[29].value("rsi14").is_some());
}

#[test]
fn rules_fire_on_crossing_with_cooldown() {
    let rules = vec![
        rule("name = 'above'\nkind = 'price_above'\nvalue = 105\ncooldown_secs = 60"),
        rule("name = 'other'\nsymbols = ['Y']\nkind = 'price_above'\nvalue = 1\ncooldown_secs = 0"),
    ];
    let mut e = engine(EngineConfig {
        rules,
        ..EngineConfig::default()
    });
    let mut out = OutputBatch::default();
    let prices = [100.0, 106.0, 107.0, 100.0, 108.0];
    for (i, p) in prices.iter().enumerate() {
        e.apply(
            &trade("X", i as u64 + 1, T0 + i as i64 * 1_000, *p, 1.0),
            &mut out,
        )
        .unwrap();
    }
    assert_eq!(
        out.alerts.len(),
        1,
        "second crossing is inside the cooldown"
    );
    assert_eq!(out.alerts[0].rule, "above");
    assert_eq!(out.alerts[0].value, 106.0);
    assert!(
        out.alerts[0].message.contains("rose above 105"),
        "{}",
        out.alerts[0].message
    );
    e.apply(&trade("X", 9, T0 + 70_000, 100.0, 1.0), &mut out)
        .unwrap();
    e.apply(&trade("X", 10, T0 + 71_000, 109.0, 1.0), &mut out)
        .unwrap();
    assert_eq!(out.alerts.len(), 2);
    assert_eq!(
        e.snapshot(None, Interval::M1, None, 1).alerts[0].value,
        109.0,
        "newest first"
    );
}

#[test]
fn a_price_jump_gives_a_large_z_score() {
    let rules = vec![rule(
        "name = 'z'\nkind = 'zscore'\nvalue = 6\ncooldown_secs = 0",
    )];
    let mut e = engine(EngineConfig {
        rules,
        tick_z_warmup: 20,
        ..EngineConfig::default()
    });
    let mut out = OutputBatch::default();
    let mut p = 100.0;
    for i in 0..300u64 {
        p *= if i % 2 == 0 { 1.0005 } else { 0.9996 };
        e.apply(&trade("X", i + 1, T0 + i as i64 * 100, p, 1.0), &mut out)
            .unwrap();
    }
    assert!(out.alerts.is_empty());
    e.apply(&trade("X", 999, T0 + 40_000, p * 1.03, 1.0), &mut out)
        .unwrap();
    assert_eq!(out.alerts.len(), 1);
    assert!(out.alerts[0].value > 6.0);
}

#[test]
fn a_monitor_watching_a_recorder_keeps_candles_but_stores_none() {
    let mut e = engine(EngineConfig {
        persist_trades: false,
        persist_candles: false,
        ..EngineConfig::default()
    });
    let mut out = OutputBatch::default();
    for i in 0..200u64 {
        e.apply(
            &trade("X", i + 1, T0 + i as i64 * 1_000, 100.0, 1.0),
            &mut out,
        )
        .unwrap();
    }
    assert!(out.trades.is_empty() && out.candles.is_empty(), "{out:?}");
    // the chart still has them
    assert!(e.closed(key("X"), Interval::M1).map_or(0, |r| r.len()) >= 3);
}

#[test]
fn memory_stays_bounded() {
    let mut e = engine(EngineConfig {
        candle_capacity: 50,
        tick_capacity: 10,
        persist_trades: false,
        ..EngineConfig::default()
    });
    let mut out = OutputBatch::default();
    for i in 0..20_000u64 {
        e.apply(
            &trade(
                "X",
                i + 1,
                T0 + i as i64 * 700,
                100.0 + (i % 13) as f64,
                1.0,
            ),
            &mut out,
        )
        .unwrap();
        out = OutputBatch::default();
    }
    let k = key("X");
    for iv in Interval::ALL {
        assert!(e.closed(k, iv).map_or(0, |r| r.len()) <= 50);
    }
    assert_eq!(e.closed(k, Interval::S1).map(|r| r.len()), Some(50));
}

#[test]
fn snapshot_shows_rows_in_watchlist_order_and_the_focused_chart() {
    let watch = vec![key("B"), key("A")];
    let mut e = engine(EngineConfig {
        watchlist: watch,
        chart_candles: 5,
        ..EngineConfig::default()
    });
    let mut out = OutputBatch::default();
    for i in 0..20u64 {
        e.apply(
            &trade("A", i + 1, T0 + i as i64 * 1_000, 10.0 + i as f64, 1.0),
            &mut out,
        )
        .unwrap();
    }
    let snap = e.snapshot(Some(key("A")), Interval::S1, None, 7);
    assert_eq!(snap.version, 7);
    assert_eq!(
        snap.rows
            .iter()
            .map(|r| r.key.symbol.to_string())
            .collect::<Vec<_>>(),
        ["B", "A"]
    );
    assert_eq!(snap.rows[1].last, Some(29.0));
    assert_eq!(snap.rows[0].last, None);
    let chart = snap.chart.unwrap();
    assert_eq!(chart.key, key("A"));
    assert_eq!(chart.candles.len(), 6, "5 closed + the live one");
    assert!(!chart.candles[5].closed);
    assert_eq!(chart.series("sma20").map(|s| s.len()), Some(6));
}

#[test]
fn no_alerts_for_history_that_arrives_late() {
    let rules = vec![rule(
        "name = 'above'\nkind = 'price_above'\nvalue = 105\ncooldown_secs = 0",
    )];
    let mut e = engine(EngineConfig {
        rules,
        alert_max_lag_ms: Some(120_000),
        ..EngineConfig::default()
    });
    let mut out = OutputBatch::default();
    let mut old = trade("X", 1, T0, 100.0, 1.0);
    e.apply(&old, &mut out).unwrap();
    old = trade("X", 2, T0 + 1_000, 110.0, 1.0);
    old.recv_ms = T0 + 3_600_000; // played an hour late
    e.apply(&old, &mut out).unwrap();
    assert!(out.alerts.is_empty(), "history does not alert");
    e.apply(&trade("X", 3, T0 + 2_000, 100.0, 1.0), &mut out)
        .unwrap();
    e.apply(&trade("X", 4, T0 + 3_000, 110.0, 1.0), &mut out)
        .unwrap();
    assert_eq!(out.alerts.len(), 1, "live data does");
}

#[test]
fn closed_warm_up_candles_leave_trades_building_the_live_candle() {
    // a venue without a candle stream (Coinbase): REST warm-up candles, then only trades
    let mut e = engine(EngineConfig::default());
    let mut out = OutputBatch::default();
    for i in 0..5 {
        e.apply(
            &kline(
                "BTC-USD",
                Interval::M1,
                candle(T0 + i * 60_000, 100.0),
                true,
            ),
            &mut out,
        )
        .unwrap();
    }
    let k = VenueSymbol::new(Venue::Binance, Symbol::new("BTC-USD").unwrap());
    assert_eq!(e.closed(k, Interval::M1).map(|r| r.len()), Some(5));
    let mut ev = trade("BTC-USD", 1, T0 + 5 * 60_000 + 10, 101.0, 1.0);
    ev.venue = Venue::Binance;
    e.apply(&ev, &mut out).unwrap();
    assert_eq!(
        e.current(k, Interval::M1).map(|c| (c.open_ms, c.close)),
        Some((T0 + 5 * 60_000, 101.0)),
        "the first live trade opens the next 1m candle"
    );
    let mut ev = trade("BTC-USD", 2, T0 + 6 * 60_000 + 10, 102.0, 1.0);
    ev.venue = Venue::Binance;
    e.apply(&ev, &mut out).unwrap();
    assert_eq!(e.closed(k, Interval::M1).map(|r| r.len()), Some(6));
    // a venue that streams in-progress candles owns the interval from then on
    e.apply(
        &kline(
            "BTC-USD",
            Interval::M1,
            candle(T0 + 6 * 60_000, 150.0),
            false,
        ),
        &mut out,
    )
    .unwrap();
    let mut ev = trade("BTC-USD", 3, T0 + 6 * 60_000 + 20, 999.0, 1.0);
    ev.venue = Venue::Binance;
    e.apply(&ev, &mut out).unwrap();
    assert_eq!(e.current(k, Interval::M1).map(|c| c.close), Some(150.0));
}

#[test]
fn the_chart_reaches_back_to_since_and_the_detail_has_trades_and_quote() {
    use crate::domain::{EventKind, Quote};
    let mut e = engine(EngineConfig {
        chart_candles: 5,
        ..EngineConfig::default()
    });
    let mut out = OutputBatch::default();
    for i in 0..40u64 {
        e.apply(
            &trade("A", i + 1, T0 + i as i64 * 1_000, 10.0 + i as f64, 1.0),
            &mut out,
        )
        .unwrap();
    }
    // every closed candle from `since` on, not the default five
    let since = T0 + 10_000;
    let snap = e.snapshot(Some(key("A")), Interval::S1, Some(since), 1);
    let chart = snap.chart.unwrap();
    assert_eq!(chart.candles.first().map(|c| c.candle.open_ms), Some(since));
    assert_eq!(
        chart.candles.len(),
        30,
        "29 closed from since + the live one"
    );
    let d = snap.detail.unwrap();
    assert_eq!(d.trades.len(), 40.min(crate::engine::DETAIL_TRADES));
    assert_eq!(d.trades[0].price, 49.0, "newest first");
    assert!(!d.from_venue);
    assert_eq!((d.high_24h, d.low_24h), (Some(49.0), Some(10.0)));
    assert!(d.quote.is_none());
    let mut q = trade("A", 99, T0 + 41_000, 50.0, 1.0);
    q.kind = EventKind::Quote(Quote {
        bid: 49.5,
        bid_qty: 1.0,
        ask: 50.5,
        ask_qty: 2.0,
    });
    q.recv_ms = T0 + 41_500;
    e.apply(&q, &mut out).unwrap();
    let d = e
        .snapshot(Some(key("A")), Interval::S1, None, 2)
        .detail
        .unwrap();
    assert_eq!(
        d.quote.map(|(q, at)| (q.bid, q.ask, at)),
        Some((49.5, 50.5, T0 + 41_500))
    );
}

#[test]
fn watch_unwatch_and_watchlist_edits() {
    let mut e = engine(EngineConfig {
        watchlist: vec![key("A"), key("B"), key("C")],
        ..EngineConfig::default()
    });
    let mut out = OutputBatch::default();
    e.control(&EngineCtl::Watch { key: key("D") }, T0, &mut out)
        .unwrap();
    e.control(&EngineCtl::Unwatch { key: key("B") }, T0, &mut out)
        .unwrap();
    // a trade of B still queued when it was removed does not bring it back
    e.apply(&trade("B", 1, T0, 9.0, 1.0), &mut out).unwrap();
    // the index still finds every remaining symbol after the removal
    e.apply(&trade("C", 1, T0, 5.0, 1.0), &mut out).unwrap();
    e.apply(&trade("D", 1, T0, 7.0, 1.0), &mut out).unwrap();
    let snap = e.snapshot(None, Interval::M1, None, 1);
    let rows: Vec<(String, Option<f64>)> = snap
        .rows
        .iter()
        .map(|r| (r.key.symbol.to_string(), r.last))
        .collect();
    assert_eq!(
        rows,
        [
            ("A".to_string(), None),
            ("C".to_string(), Some(5.0)),
            ("D".to_string(), Some(7.0))
        ]
    );
    e.control(
        &EngineCtl::RecordWatchlistEdit {
            list: "majors".into(),
            key: key("D"),
            added: true,
        },
        T0,
        &mut out,
    )
    .unwrap();
    assert_eq!(out.watchlist.len(), 1);
    assert!(out.watchlist[0].added && out.watchlist[0].list == "majors");
}
