//! The portfolio's value over time: the ledger replayed up to each step and valued at the
//! prices of that step (stored candles). One computation for `export --portfolio`, the `P`
//! view's chart and the high-water mark that drawdown alerts measure from.

use super::Portfolio;
use super::ledger::{Accounts, LedgerError, Rates, Valuation, value};
use crate::domain::TsMs;

/// The portfolio at one step, and how far its value is below the highest value of the steps
/// before and at it (0 at a new high; −0.05: 5 % below).
#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    pub ts_ms: TsMs,
    pub valuation: Valuation,
    pub drawdown: f64,
}

/// The portfolio valued at `from`, `from + step`, … up to `to` (inclusive).
pub fn series(
    p: &Portfolio,
    rates: &dyn Rates,
    from: TsMs,
    to: TsMs,
    step_ms: TsMs,
) -> Result<Vec<Point>, LedgerError> {
    let step = step_ms.max(1);
    let mut high = f64::MIN;
    let mut out = Vec::new();
    let mut t = from;
    while t <= to {
        let accounts = Accounts::build(&p.entries, t, &p.basis, rates)?;
        let v = value(&accounts, &p.basis, rates, t);
        high = high.max(v.value);
        let drawdown = if high > 0.0 {
            v.value / high - 1.0
        } else {
            0.0
        };
        out.push(Point {
            ts_ms: t,
            valuation: v,
            drawdown,
        });
        t = match t.checked_add(step) {
            Some(n) => n,
            None => break,
        };
    }
    Ok(out)
}

/// The highest value the stored prices give the portfolio up to `now`: every day since its
/// first entry, and every hour of the last week (a whole value only: a step where a holding
/// has no price says nothing about the high; an unknown cost does not matter). None when no step could be valued whole.
pub fn stored_high(p: &Portfolio, rates: &dyn Rates, now: TsMs) -> Option<f64> {
    const HOUR: TsMs = 3_600_000;
    const DAY: TsMs = 24 * HOUR;
    let first = p.entries.iter().map(|e| e.ts_ms).min()?;
    let week_ago = now - 7 * DAY;
    let mut high: Option<f64> = None;
    let spans = [
        (first - first.rem_euclid(DAY) + DAY, week_ago.min(now), DAY),
        (week_ago.max(first), now, HOUR),
    ];
    for (from, to, step) in spans {
        if from > to {
            continue;
        }
        // a ledger that does not add up at some step has no high there; the error is the
        // portfolio view's and the command's to show
        let Ok(points) = series(p, rates, from, to, step) else {
            continue;
        };
        for pt in points {
            if pt.valuation.value_whole() {
                high = Some(high.map_or(pt.valuation.value, |h| h.max(pt.valuation.value)));
            }
        }
    }
    high
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::portfolio::config::PortfolioSection;
    use crate::portfolio::{Action, Entry};
    use std::collections::HashMap;

    struct Table(HashMap<(String, TsMs), f64>, TsMs);
    impl Rates for Table {
        fn value(&self, asset: &str, ts: TsMs) -> Option<f64> {
            if asset == "USD" {
                return Some(1.0);
            }
            // the price of the latest step at or before ts
            let step = ts - ts.rem_euclid(self.1);
            self.0.get(&(asset.to_string(), step)).copied()
        }
    }

    fn buy(ts: TsMs, qty: f64, price: f64) -> Entry {
        Entry {
            ts_ms: ts,
            action: Action::Buy,
            asset: "BTC".into(),
            qty,
            quote: Some("USD".into()),
            price: Some(price),
            fee: 0.0,
            fee_asset: None,
            market: None,
            id: format!("b{ts}"),
            source: "test".into(),
        }
    }

    fn portfolio(entries: Vec<Entry>) -> Portfolio {
        Portfolio::new(&PortfolioSection::default(), entries)
            .unwrap()
            .unwrap()
    }

    #[test]
    fn each_step_is_the_ledger_then_at_the_prices_then_with_its_drawdown() {
        let h = 3_600_000;
        let p = portfolio(vec![buy(0, 1.0, 100.0), buy(2 * h, 1.0, 120.0)]);
        let prices: HashMap<_, _> = [(0, 100.0), (h, 130.0), (2 * h, 120.0), (3 * h, 90.0)]
            .into_iter()
            .map(|(t, v)| (("BTC".to_string(), t), v))
            .collect();
        let pts = series(&p, &Table(prices, h), 0, 3 * h, h).unwrap();
        let got: Vec<(f64, f64, f64)> = pts
            .iter()
            .map(|p| (p.valuation.value, p.valuation.pnl(), p.drawdown))
            .collect();
        // value: 1 BTC at 100, at 130, then 2 BTC at 120 and at 90 (the cash paid is below zero:
        // money from outside, not a holding)
        assert_eq!(got[0], (100.0, 0.0, 0.0));
        assert_eq!(got[1], (130.0, 30.0, 0.0));
        assert_eq!(got[2].0, 240.0);
        assert_eq!(got[2].2, 0.0);
        assert_eq!(got[3].0, 180.0);
        assert!((got[3].1 - (180.0 - 220.0)).abs() < 1e-9);
        assert!((got[3].2 - (180.0 / 240.0 - 1.0)).abs() < 1e-12);
    }

    #[test]
    fn the_stored_high_skips_steps_with_a_missing_price() {
        let day = 86_400_000;
        let now = 20 * day;
        let p = portfolio(vec![buy(0, 1.0, 100.0)]);
        let mut prices = HashMap::new();
        for d in 0..=20 {
            prices.insert(("BTC".to_string(), d * day), 100.0 + d as f64);
        }
        // no price on day 5: a hole, not a zero
        prices.remove(&("BTC".to_string(), 5 * day));
        // the highest price is an hour in the last week
        let hourly: HashMap<_, _> = (0..=20 * 24)
            .map(|i| {
                let t = i * 3_600_000;
                let d = t / day;
                let v = if d == 5 {
                    None
                } else if i == 18 * 24 + 3 {
                    Some(500.0)
                } else {
                    Some(100.0 + d as f64)
                };
                (("BTC".to_string(), t), v)
            })
            .filter_map(|(k, v)| v.map(|v| (k, v)))
            .collect();
        assert_eq!(stored_high(&p, &Table(hourly, 3_600_000), now), Some(500.0));
        assert_eq!(stored_high(&p, &Table(prices, day), now), Some(120.0));
        assert_eq!(
            stored_high(&p, &Table(HashMap::new(), day), now),
            None,
            "no price at all: no high"
        );
    }
}
