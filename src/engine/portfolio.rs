//! Portfolio rules (`portfolio_value_*`, `portfolio_pnl_*`, `portfolio_drawdown_above`,
//! `position_weight_above`): on each tick of the engine's clock the portfolio is valued at the
//! last prices the engine holds and its rules are evaluated with the same lifecycle,
//! hysteresis, cooldown and sinks as every other rule. Alerts are about `portfolio:TOTAL`, or
//! `portfolio:<ASSET>` for a position's weight.
//!
//! A value that is not whole (a position with no live price) evaluates nothing: a total
//! without a position would be too low, and a "value below" or "drawdown" alert from it false.
//!
//! The ledger (lots, costs, cash) is not replayed each tick: it is taken costed at stored
//! prices from the thread that reads history at start ([`crate::portfolio::StoredBasis`]), or
//! built once at live prices until then, and built again only when an entry's time comes.

use std::collections::HashMap;

use super::RuleBook;
use crate::alerts::rules::{Condition, Trigger};
use crate::domain::{OutputBatch, Symbol, TsMs, Venue, VenueSymbol};
use crate::portfolio::prices::LivePrices;
use crate::portfolio::{Books, Portfolio, StoredBasis};

/// The symbol of alerts about the whole portfolio.
pub const TOTAL: &str = "TOTAL";

/// What portfolio rules keep between ticks.
#[derive(Debug, Default)]
pub struct Watch {
    /// The highest whole value: from stored history, and every live valuation since.
    high: Option<f64>,
    /// Why the last valuation could not be used (logged once per reason, not every second).
    noted: Option<String>,
    /// The ledger as built, and when the first entry it does not hold yet comes due.
    books: Option<Books>,
}

impl Watch {
    /// What stored history gives (for the portfolio being valued: the caller checks).
    pub fn stored(&mut self, s: &StoredBasis) {
        if let Some(v) = s.high.filter(|v| v.is_finite() && *v > 0.0) {
            self.raise(v);
        }
        if let Some(a) = &s.accounts {
            self.books = Some(Books::new(a.clone(), &s.portfolio, s.at_ms));
        }
    }

    fn raise(&mut self, v: f64) {
        self.high = Some(self.high.map_or(v, |h| h.max(v)));
    }

    /// Portfolio rules exist, but no portfolio (none configured, or it could not be loaded).
    pub fn absent(&mut self) {
        self.note(Some(
            "there is no portfolio to value: its rules wait (add [[portfolio.entries]], import, or see why it could not be loaded above)".into(),
        ));
    }

    fn note(&mut self, why: Option<String>) {
        if why != self.noted {
            if let Some(w) = &why {
                tracing::warn!("portfolio alerts: {w}");
            } else if self.noted.is_some() {
                tracing::info!("portfolio alerts: the portfolio is valued whole again");
            }
            self.noted = why;
        }
    }

    /// Values `p` at the `last` prices and evaluates the portfolio rules.
    pub fn evaluate(
        &mut self,
        p: &Portfolio,
        last: impl Iterator<Item = (VenueSymbol, f64)>,
        now: TsMs,
        rules: &mut RuleBook,
        delivered: &str,
        out: &mut OutputBatch,
    ) {
        let prices = LivePrices {
            last: last.collect(),
            day_ago: HashMap::new(),
            now_ms: now,
        };
        let v = match p.value_at(prices, &mut self.books) {
            Ok(v) => v,
            Err(e) => {
                self.note(Some(format!("the ledger does not add up: {e}")));
                return;
            }
        };
        if !v.value_whole() {
            let unpriced: Vec<&str> = v
                .positions
                .iter()
                .filter(|p| p.qty > 0.0 && p.value.is_none())
                .map(|p| p.asset.as_str())
                .chain(
                    v.cash
                        .iter()
                        .filter(|c| c.balance > 0.0 && c.value.is_none())
                        .map(|c| c.currency.as_str()),
                )
                .collect();
            self.note(Some(format!(
                "no live price for {}: portfolio rules wait for one (subscribe to its market, or set [portfolio].prices)",
                unpriced.join(", ")
            )));
            return;
        }
        // P/L also needs every cost; the value rules go on without it
        let pnl_whole = v.missing.is_empty();
        self.note((!pnl_whole).then(|| {
            format!(
                "the cost of {} is not known: P/L rules wait (give deposits a price, or store the prices of their time)",
                v.missing.join(", ")
            )
        }));
        self.raise(v.value);
        let high = self.high.unwrap_or(v.value);
        let drawdown = if high > 0.0 {
            (1.0 - v.value / high) * 100.0
        } else {
            0.0
        };
        let base = v.base.clone();
        let money = |x: f64| format!("{} {base}", crate::format::price_with(x, 2));
        if let Ok(total) = Symbol::new(TOTAL) {
            let key = VenueSymbol::new(Venue::Portfolio, total);
            rules.on(Trigger::Portfolio).evaluate_detailed(
                key,
                now,
                false,
                delivered,
                out,
                |rule| {
                    let (x, text) = match rule.condition {
                        Condition::PortfolioValueAbove(l) => {
                            (v.value, format!("portfolio value {} rose above {l}", money(v.value)))
                        }
                        Condition::PortfolioValueBelow(l) => {
                            (v.value, format!("portfolio value {} fell below {l}", money(v.value)))
                        }
                        Condition::PortfolioPnlAbove(l) if pnl_whole => {
                            (v.pnl(), format!("portfolio P/L {} rose above {l}", money(v.pnl())))
                        }
                        Condition::PortfolioPnlBelow(l) if pnl_whole => {
                            (v.pnl(), format!("portfolio P/L {} fell below {l}", money(v.pnl())))
                        }
                        Condition::DrawdownAbove { pct } => (
                            drawdown,
                            format!(
                                "portfolio value {} is {drawdown:.2}% below its high of {} (>= {pct}%)",
                                money(v.value),
                                money(high)
                            ),
                        ),
                        _ => return None,
                    };
                    Some((x, Some(text)))
                },
            );
        }
        for pos in &v.positions {
            let (Some(w), Ok(sym)) = (pos.weight, Symbol::new(&pos.asset)) else {
                continue;
            };
            let key = VenueSymbol::new(Venue::Portfolio, sym);
            rules
                .on(Trigger::Portfolio)
                .evaluate(key, now, false, delivered, out, |rule| {
                    matches!(rule.condition, Condition::WeightAbove { .. }).then_some(w * 100.0)
                });
        }
    }
}
