//! Hand-computed cases: every figure below is worked out in the comment above it.

use std::collections::HashMap;

use super::*;

/// Prices in the base currency, each from its time on.
#[derive(Default)]
struct Table(HashMap<&'static str, Vec<(TsMs, f64)>>);

impl Table {
    fn at(mut self, asset: &'static str, ts: TsMs, v: f64) -> Table {
        self.0.entry(asset).or_default().push((ts, v));
        self
    }
}

impl Rates for Table {
    fn value(&self, asset: &str, ts: TsMs) -> Option<f64> {
        self.0
            .get(asset)?
            .iter()
            .filter(|(t, _)| *t <= ts)
            .max_by_key(|(t, _)| *t)
            .map(|(_, v)| *v)
    }
}

const DAY: TsMs = 86_400_000;
const T: TsMs = 1_700_000_000_000;

#[allow(clippy::too_many_arguments)]
fn trade(
    ts: TsMs,
    action: Action,
    asset: &str,
    qty: f64,
    quote: &str,
    price: f64,
    fee: f64,
    fee_asset: &str,
) -> Entry {
    Entry {
        ts_ms: ts,
        action,
        asset: asset.into(),
        qty,
        quote: Some(quote.into()),
        price: Some(price),
        fee,
        fee_asset: (!fee_asset.is_empty()).then(|| fee_asset.into()),
        market: None,
        id: format!("{ts}-{asset}-{}", action.as_str()),
        source: "test".into(),
    }
}

fn deposit(ts: TsMs, asset: &str, qty: f64, cost_per_unit: Option<f64>) -> Entry {
    Entry {
        ts_ms: ts,
        action: Action::Deposit,
        asset: asset.into(),
        qty,
        quote: None,
        price: cost_per_unit,
        fee: 0.0,
        fee_asset: None,
        market: None,
        id: format!("{ts}-{asset}-deposit"),
        source: "test".into(),
    }
}

fn close(a: Option<f64>, b: f64) {
    let a = a.expect("a known amount");
    assert!((a - b).abs() < 1e-9, "{a} != {b}");
}

fn usd(method: Method) -> Basis {
    Basis::new("USD", &["USDT".to_string()], method)
}

fn pos<'a>(v: &'a Valuation, asset: &str) -> &'a Position {
    v.positions.iter().find(|p| p.asset == asset).unwrap()
}

/// 1 BTC at 100 + 1 fee (lot 1: 101), 2 BTC at 130 (lot 2: 260), then 1.5 sold at 150 less a
/// fee of 1.5: proceeds 223.5. FIFO: cost 101 + 0.5 × 130 = 166, realized 57.5; 1.5 left at
/// 195, worth 240 at 160: unrealized 45. Average: the pool of 3 cost 361; 1.5 of it 180.5,
/// realized 43; 1.5 left at 180.5: unrealized 59.5. Either way P/L is 102.5.
#[test]
fn partial_sells_across_lots_fifo_against_average() {
    let entries = [
        trade(T, Action::Buy, "BTC", 1.0, "USD", 100.0, 1.0, "USD"),
        trade(T + 1, Action::Buy, "BTC", 2.0, "USD", 130.0, 0.0, ""),
        trade(T + 2, Action::Sell, "BTC", 1.5, "USD", 150.0, 1.5, "USD"),
    ];
    let rates = Table::default().at("BTC", T, 100.0).at("BTC", T + 3, 160.0);
    let fifo = usd(Method::Fifo);
    let a = Accounts::build(&entries, T + 10, &fifo, &rates).unwrap();
    let v = value(&a, &fifo, &rates, T + 10);
    let btc = pos(&v, "BTC");
    assert!((btc.qty - 1.5).abs() < 1e-12);
    close(btc.cost, 195.0);
    close(btc.avg_cost, 130.0);
    close(btc.realized, 57.5);
    close(btc.unrealized, 45.0);
    close(btc.value, 240.0);
    close(btc.fees, 2.5);
    assert!((v.pnl() - 102.5).abs() < 1e-9);
    // the cash paid: −101 − 260 + 223.5; below zero, so not part of the value
    assert!((v.cash[0].balance + 137.5).abs() < 1e-9);
    assert!((v.value - 240.0).abs() < 1e-9);

    let avg = usd(Method::Average);
    let a = Accounts::build(&entries, T + 10, &avg, &rates).unwrap();
    let v = value(&a, &avg, &rates, T + 10);
    let btc = pos(&v, "BTC");
    close(btc.realized, 43.0);
    close(btc.cost, 180.5);
    close(btc.unrealized, 59.5);
    assert!((v.pnl() - 102.5).abs() < 1e-9);
}

/// Bought 1 BTC at 100 USDT (pegged) with a fee of 0.001 BTC: 0.999 BTC held at a cost of
/// 100. All of it sold at 110 less 0.11 USDT: gross 109.89, proceeds 109.78, realized 9.78.
#[test]
fn fees_in_the_base_asset_and_in_the_quote() {
    let entries = [
        trade(T, Action::Buy, "BTC", 1.0, "USDT", 100.0, 0.001, "BTC"),
        trade(
            T + 1,
            Action::Sell,
            "BTC",
            0.999,
            "USDT",
            110.0,
            0.11,
            "USDT",
        ),
    ];
    let basis = usd(Method::Fifo);
    let rates = Table::default().at("BTC", T, 100.0);
    let a = Accounts::build(&entries, T, &basis, &rates).unwrap();
    let h = &a.holdings["BTC"];
    assert!((h.qty() - 0.999).abs() < 1e-12);
    close(h.cost(), 100.0);
    let a = Accounts::build(&entries, T + 1, &basis, &rates).unwrap();
    let v = value(&a, &basis, &rates, T + 1);
    let btc = pos(&v, "BTC");
    assert_eq!(btc.qty, 0.0);
    close(btc.realized, 9.78);
    assert!((a.cash["USDT"] - 9.78).abs() < 1e-9);
    // USDT counts as USD where the config says so: the 9.78 is part of the value
    assert!((v.value - 9.78).abs() < 1e-9);
}

/// 1 BTC at 100 USD; then 10 ETH bought on ETHBTC at 0.05: 0.5 BTC paid while BTC is worth
/// 120, a disposal worth 60 of coins that cost 50 (BTC realizes 10); the ETH costs 60. Later
/// ETH 7 and BTC 130: ETH worth 70 (unrealized 10), 0.5 BTC worth 65 (unrealized 15).
#[test]
fn a_coin_bought_with_another_coin_disposes_of_it() {
    let entries = [
        trade(T, Action::Buy, "BTC", 1.0, "USD", 100.0, 0.0, ""),
        trade(T + DAY, Action::Buy, "ETH", 10.0, "BTC", 0.05, 0.0, ""),
    ];
    let rates = Table::default()
        .at("BTC", T, 100.0)
        .at("BTC", T + DAY, 120.0)
        .at("BTC", T + 2 * DAY, 130.0)
        .at("ETH", T + DAY, 6.0)
        .at("ETH", T + 2 * DAY, 7.0);
    let basis = usd(Method::Fifo);
    let a = Accounts::build(&entries, T + 2 * DAY, &basis, &rates).unwrap();
    let v = value(&a, &basis, &rates, T + 2 * DAY);
    close(pos(&v, "BTC").realized, 10.0);
    close(pos(&v, "BTC").unrealized, 15.0);
    close(pos(&v, "ETH").cost, 60.0);
    close(pos(&v, "ETH").unrealized, 10.0);
    // a day earlier ETH was 6: the day's change of the 10 held is 10
    close(pos(&v, "ETH").day_change, 10.0);
    assert!((v.value - 135.0).abs() < 1e-9);
    close(pos(&v, "ETH").weight, 70.0 / 135.0);
}

/// A fee in BNB is BNB given away: 1 BNB bought at 10; 1 BTC bought at 100 USDT with a fee of
/// 0.1 BNB while BNB is worth 12: BNB realizes 1.2 − 1.0 = 0.2, the BTC costs 101.2.
#[test]
fn a_fee_in_a_third_asset() {
    let entries = [
        trade(T, Action::Buy, "BNB", 1.0, "USD", 10.0, 0.0, ""),
        trade(T + 1, Action::Buy, "BTC", 1.0, "USDT", 100.0, 0.1, "BNB"),
    ];
    let rates = Table::default().at("BNB", T, 12.0).at("BTC", T, 100.0);
    let basis = usd(Method::Fifo);
    let a = Accounts::build(&entries, T + 1, &basis, &rates).unwrap();
    close(a.holdings["BTC"].cost(), 101.2);
    close(a.holdings["BNB"].realized, 0.2);
    assert!((a.holdings["BNB"].qty() - 0.9).abs() < 1e-12);
    close(a.holdings["BNB"].cost(), 9.0);
}

/// Coins sent in: 2 SOL with a stated cost of 20 each (40), 1 SOL without one while SOL is
/// worth 25 (its cost is that value). 3 sold at 30: proceeds 90, realized 90 − 65 = 25.
#[test]
fn a_transfer_in_makes_a_holding_without_a_buy() {
    let entries = [
        deposit(T, "SOL", 2.0, Some(20.0)),
        deposit(T + 1, "SOL", 1.0, None),
        trade(T + 2, Action::Sell, "SOL", 3.0, "USD", 30.0, 0.0, ""),
    ];
    let rates = Table::default().at("SOL", T, 25.0);
    let basis = usd(Method::Fifo);
    let a = Accounts::build(&entries, T + 1, &basis, &rates).unwrap();
    close(a.holdings["SOL"].cost(), 65.0);
    let a = Accounts::build(&entries, T + 2, &basis, &rates).unwrap();
    close(a.holdings["SOL"].realized, 25.0);
    assert!((a.cash["USD"] - 90.0).abs() < 1e-9);
}

#[test]
fn selling_more_than_is_held_is_a_clear_error() {
    let entries = [
        trade(T, Action::Buy, "BTC", 1.0, "USD", 100.0, 0.0, ""),
        trade(T + 1, Action::Sell, "BTC", 1.5, "USD", 110.0, 0.0, ""),
    ];
    let basis = usd(Method::Fifo);
    let e = Accounts::build(&entries, T + 1, &basis, &Table::default()).unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("sells 1.5 BTC, but only 1 BTC is held")
            && text.contains("add the buy or deposit"),
        "{text}"
    );
    // all of it is fine, whatever digits the exchange printed
    let all = [
        trade(T, Action::Buy, "BTC", 0.1 + 0.2, "USD", 100.0, 0.0, ""),
        trade(T + 1, Action::Sell, "BTC", 0.3, "USD", 110.0, 0.0, ""),
    ];
    let a = Accounts::build(&all, T + 1, &basis, &Table::default()).unwrap();
    assert_eq!(a.holdings["BTC"].qty(), 0.0);
}

/// Bought with EUR while no EUR price is known: the cost is missing, not zero, and so is
/// everything computed from it; the totals leave it out and name it.
#[test]
fn a_missing_conversion_is_missing_never_zero() {
    let entries = [
        trade(T, Action::Buy, "XYZ", 1.0, "EUR", 10.0, 0.0, ""),
        trade(T, Action::Buy, "BTC", 1.0, "USD", 100.0, 0.0, ""),
    ];
    let rates = Table::default().at("XYZ", T, 11.0).at("BTC", T, 100.0);
    let basis = usd(Method::Fifo);
    let a = Accounts::build(&entries, T, &basis, &rates).unwrap();
    let v = value(&a, &basis, &rates, T);
    let x = pos(&v, "XYZ");
    assert_eq!(x.cost, None);
    assert_eq!(x.unrealized, None);
    close(x.value, 11.0);
    assert_eq!(v.missing, vec!["XYZ".to_string()]);
    // the EUR paid out has no value in USD either, but a balance below zero is not counted
    assert!((v.value - 111.0).abs() < 1e-9);
    assert!((v.cost - 100.0).abs() < 1e-9);
}
