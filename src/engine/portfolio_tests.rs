//! Portfolio rules inside the engine: valued on each clock tick at the engine's last prices,
//! fired with the rule's lifecycle, about `portfolio:TOTAL` or `portfolio:<ASSET>`.

use std::sync::Arc;

use super::*;
use crate::domain::{EventKind, Side, Symbol, TradeTick, Venue};
use crate::portfolio::Portfolio;
use crate::portfolio::config::PortfolioSection;

const T0: TsMs = 1_700_000_040_000;

fn trade(s: &str, id: u64, ts: TsMs, price: f64) -> MarketEvent {
    MarketEvent {
        venue: Venue::Sim,
        symbol: Symbol::new(s).unwrap(),
        exch_ms: ts,
        recv_ms: ts,
        kind: EventKind::Trade(TradeTick {
            trade_id: id,
            price,
            qty: 1.0,
            side: Side::Buy,
        }),
    }
}

/// 1 BTC bought at 100 and 10 ETH at 10 (USD), priced on sim:BTCUSDT and sim:ETHUSDT.
fn folio() -> Arc<Portfolio> {
    let section: PortfolioSection = toml::from_str(
        r#"
        prices = { BTC = "sim:BTCUSDT", ETH = "sim:ETHUSDT" }
        [[entries]]
        time = "2023-11-01"
        type = "buy"
        asset = "BTC"
        quote = "USD"
        qty = 1
        price = 100
        [[entries]]
        time = "2023-11-01"
        type = "buy"
        asset = "ETH"
        quote = "USD"
        qty = 10
        price = 10
        "#,
    )
    .unwrap();
    Arc::new(Portfolio::new(&section, Vec::new()).unwrap().unwrap())
}

fn engine(rules: &[&str]) -> Engine {
    engine_of(rules, folio())
}

fn engine_of(rules: &[&str], p: Arc<Portfolio>) -> Engine {
    let rules = rules
        .iter()
        .map(|t| {
            toml::from_str::<crate::alerts::rules::RuleConfig>(t)
                .unwrap()
                .build()
                .unwrap()
        })
        .collect();
    Engine::new(
        EngineConfig {
            rules,
            persist_trades: false,
            portfolio: Some(p),
            ..EngineConfig::default()
        },
        Arc::new(PipelineStats::default()),
    )
    .unwrap()
}

/// Applies trades (symbol, price) at `t`, then ticks the clock: (rule, key, message) fired.
fn step(e: &mut Engine, t: TsMs, trades: &[(&str, f64)]) -> Vec<(String, String, String)> {
    let mut out = OutputBatch::default();
    for (i, (s, p)) in trades.iter().enumerate() {
        e.apply(&trade(s, t as u64 + i as u64, t, *p), &mut out)
            .unwrap();
    }
    let mut out = OutputBatch::default();
    e.on_clock(t + 1_000, &mut out);
    out.alerts
        .iter()
        .map(|a| (a.rule.clone(), a.key.to_string(), a.message.clone()))
        .collect()
}

const RULES: [&str; 4] = [
    "name = 'dd'\nkind = 'portfolio_drawdown_above'\nvalue = 5\ncooldown_secs = 0",
    "name = 'low'\nkind = 'portfolio_value_below'\nvalue = 150\ncooldown_secs = 0",
    "name = 'heavy'\nkind = 'position_weight_above'\nvalue = 60\nsymbols = ['BTC']\ncooldown_secs = 0",
    "name = 'gain'\nkind = 'portfolio_pnl_above'\nvalue = 50\ncooldown_secs = 0",
];

#[test]
fn the_portfolio_rules_fire_on_its_value_pnl_drawdown_and_weights() {
    let mut e = engine(&RULES);
    // only ETH has a price: the value (100) is not whole, nothing is evaluated (a "below 150"
    // from it would be false)
    assert!(step(&mut e, T0, &[("ETHUSDT", 10.0)]).is_empty());
    // value 200, P/L 0, BTC 50 %
    assert!(step(&mut e, T0 + 2_000, &[("BTCUSDT", 100.0)]).is_empty());
    // 260: P/L 60 and BTC 160/260 = 61.5 %
    let fired = step(&mut e, T0 + 4_000, &[("BTCUSDT", 160.0)]);
    let names: Vec<&str> = fired.iter().map(|f| f.0.as_str()).collect();
    assert_eq!(names, ["gain", "heavy"], "{fired:?}");
    assert_eq!(fired[0].1, "portfolio:TOTAL");
    assert_eq!(fired[0].2, "portfolio P/L 60.00 USD rose above 50");
    assert_eq!(fired[1].1, "portfolio:BTC");
    assert!(
        fired[1].2.starts_with("BTC is 61.5% of the portfolio"),
        "{}",
        fired[1].2
    );
    // ETH to 7: 230, 11.5 % below the high of 260
    let fired = step(&mut e, T0 + 6_000, &[("ETHUSDT", 7.0)]);
    let dd: Vec<_> = fired.iter().filter(|f| f.0 == "dd").collect();
    assert_eq!(dd.len(), 1, "{fired:?}");
    assert_eq!(
        dd[0].2,
        "portfolio value 230.00 USD is 11.54% below its high of 260.00 USD (>= 5%)"
    );
    // down to 140: below 150
    let fired = step(&mut e, T0 + 8_000, &[("BTCUSDT", 70.0)]);
    assert!(fired.iter().any(|f| f.0 == "low"), "{fired:?}");
}

fn stored(p: &Arc<Portfolio>, high: f64) -> EngineCtl {
    EngineCtl::PortfolioStored(Box::new(crate::portfolio::StoredBasis {
        portfolio: p.clone(),
        high: Some(high),
        accounts: None,
        at_ms: T0,
    }))
}

#[test]
fn drawdown_is_measured_from_the_stored_high_too() {
    let p = folio();
    let mut e = engine_of(&RULES[..1], p.clone());
    assert!(step(&mut e, T0, &[("ETHUSDT", 10.0), ("BTCUSDT", 100.0)]).is_empty());
    let mut out = OutputBatch::default();
    // the high of another portfolio (one edited since it was asked for) is not this one's
    e.control(&stored(&folio(), 1_000.0), T0 + 1_000, &mut out)
        .unwrap();
    assert!(step(&mut e, T0 + 1_200, &[]).is_empty());
    e.control(&stored(&p, 400.0), T0 + 1_500, &mut out).unwrap();
    let fired = step(&mut e, T0 + 2_000, &[]);
    assert_eq!(fired.len(), 1, "{fired:?}");
    assert!(
        fired[0].2.contains("50.00% below its high of 400.00 USD"),
        "{}",
        fired[0].2
    );
}

#[test]
fn a_portfolio_edited_away_values_nothing_and_the_change_is_stored() {
    let mut e = engine(&RULES[..1]);
    // a high of 200 (BTC 100, ETH 10 × 10)
    assert!(step(&mut e, T0, &[("ETHUSDT", 10.0), ("BTCUSDT", 100.0)]).is_empty());
    let mut out = OutputBatch::default();
    let gone = crate::portfolio::EntryChange::Delete("config#1".into());
    e.control(
        &EngineCtl::EditPortfolio {
            change: gone.clone(),
            portfolio: None,
        },
        T0 + 1_500,
        &mut out,
    )
    .unwrap();
    assert_eq!(out.portfolio, vec![gone], "the change goes to the store");
    // BTC halves: the old portfolio would be 25 % below its high; there is none any more
    assert!(step(&mut e, T0 + 2_000, &[("BTCUSDT", 50.0)]).is_empty());
    // the same fall with the portfolio kept fires: the check above can tell
    let mut kept = engine(&RULES[..1]);
    assert!(step(&mut kept, T0, &[("ETHUSDT", 10.0), ("BTCUSDT", 100.0)]).is_empty());
    assert_eq!(step(&mut kept, T0 + 2_000, &[("BTCUSDT", 50.0)]).len(), 1);
}

/// The costs stored prices give (a deposit valued at its time) are used instead of a ledger
/// built at live prices; an edit forgets them and the high.
#[test]
fn stored_costs_are_used_until_the_portfolio_is_edited() {
    use crate::portfolio::ledger::Accounts;
    let p = folio();
    let mut e = engine_of(
        &["name = 'gain'\nkind = 'portfolio_pnl_above'\nvalue = 150\ncooldown_secs = 0"],
        p.clone(),
    );
    // at live prices: P/L 0 (BTC 100, ETH 10 as bought)
    assert!(step(&mut e, T0, &[("ETHUSDT", 10.0), ("BTCUSDT", 100.0)]).is_empty());
    // stored: the BTC lot cost 1 (a made-up cost basis), so its P/L is 99 + ETH 0
    let mut a =
        Accounts::build(&p.entries, T0, &p.basis, &crate::portfolio::ledger::NoRates).unwrap();
    a.holdings.get_mut("BTC").unwrap().lots[0].cost = Some(-60.0);
    let mut out = OutputBatch::default();
    e.control(
        &EngineCtl::PortfolioStored(Box::new(crate::portfolio::StoredBasis {
            portfolio: p.clone(),
            high: None,
            accounts: Some(a),
            at_ms: T0,
        })),
        T0 + 1_500,
        &mut out,
    )
    .unwrap();
    let fired = step(&mut e, T0 + 2_000, &[]);
    assert_eq!(fired.len(), 1, "P/L 160 from the stored cost: {fired:?}");
    // edited: the ledger is built again from the entries
    let mut out = OutputBatch::default();
    e.control(
        &EngineCtl::EditPortfolio {
            change: crate::portfolio::EntryChange::Delete("none".into()),
            portfolio: Some(folio()),
        },
        T0 + 2_500,
        &mut out,
    )
    .unwrap();
    let fired = step(&mut e, T0 + 10_000, &[("BTCUSDT", 101.0)]);
    assert!(fired.is_empty(), "P/L 1 again: {fired:?}");
}
