//! Positions and P/L from a ledger, the way an accountant would check them: lots by FIFO (or
//! one pool at average cost), fees in the cost of what is bought and off the proceeds of what is
//! sold, a coin paid with another coin a disposal of that coin, and every amount in the base
//! currency at the time it happened. An amount that cannot be converted (no price of the quote
//! in the base currency at that time) is missing (`None`), never zero, and so is everything
//! computed from it.

use std::collections::{BTreeMap, HashSet, VecDeque};

use super::{Action, Entry};
use crate::domain::TsMs;

/// How the cost of what is sold is taken from what was bought.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// First in, first out: the oldest lots are sold first.
    #[default]
    Fifo,
    /// One pool per asset at its average cost.
    Average,
}

/// What the accounts are kept in.
#[derive(Debug, Clone, PartialEq)]
pub struct Basis {
    /// The base currency, upper case (`USD`).
    pub base: String,
    /// Assets counted as the base currency one for one (stablecoins the config names).
    pub pegged: HashSet<String>,
    /// Fiat currencies: held as cash (a balance that may go below zero when more was paid than
    /// the ledger says came in), never as lots.
    pub fiat: HashSet<String>,
    pub method: Method,
}

impl Basis {
    pub fn new(base: &str, pegged: &[String], method: Method) -> Basis {
        let mut fiat: HashSet<String> = FIAT.iter().map(|s| s.to_string()).collect();
        fiat.insert(base.to_ascii_uppercase());
        Basis {
            base: base.to_ascii_uppercase(),
            pegged: pegged.iter().map(|s| s.to_ascii_uppercase()).collect(),
            fiat,
            method,
        }
    }

    /// Cash: the base currency, a pegged stablecoin or another fiat currency.
    pub fn is_cash(&self, asset: &str) -> bool {
        asset == self.base || self.pegged.contains(asset) || self.fiat.contains(asset)
    }
}

/// Fiat currencies, held as cash.
pub const FIAT: [&str; 20] = [
    "USD", "EUR", "GBP", "JPY", "CHF", "CAD", "AUD", "NZD", "CNY", "HKD", "SGD", "SEK", "NOK",
    "DKK", "TRY", "BRL", "MXN", "ZAR", "INR", "KRW",
];

/// The value of one unit of an asset in the base currency at a time.
pub trait Rates {
    /// None: not known (no price of it, or of what it is quoted in, at that time).
    fn value(&self, asset: &str, ts: TsMs) -> Option<f64>;
}

/// No prices at all (an empty database): only the base currency and pegged coins have a value.
pub struct NoRates;

impl Rates for NoRates {
    fn value(&self, _: &str, _: TsMs) -> Option<f64> {
        None
    }
}

/// The base currency and its pegged stablecoins are worth one; everything else asks `rates`.
pub fn unit_value(basis: &Basis, rates: &dyn Rates, asset: &str, ts: TsMs) -> Option<f64> {
    if asset == basis.base || basis.pegged.contains(asset) {
        return Some(1.0);
    }
    rates.value(asset, ts)
}

/// Some of an asset bought at one time, with what it cost in the base currency.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Lot {
    pub qty: f64,
    /// Its whole cost in the base currency (None: not known).
    pub cost: Option<f64>,
    pub ts_ms: TsMs,
}

/// One non-cash asset held (or held once).
#[derive(Debug, Clone, PartialEq)]
pub struct Holding {
    /// FIFO: oldest first. Average: at most one lot (the pool).
    pub lots: VecDeque<Lot>,
    /// Proceeds less cost of everything disposed of, in the base currency (None: some part of
    /// it is not known).
    pub realized: Option<f64>,
    /// Fees paid on its trades, in the base currency.
    pub fees: Option<f64>,
}

impl Default for Holding {
    /// Nothing held, nothing realized: zero, which is known.
    fn default() -> Holding {
        Holding {
            lots: VecDeque::new(),
            realized: Some(0.0),
            fees: Some(0.0),
        }
    }
}

impl Holding {
    pub fn qty(&self) -> f64 {
        self.lots.iter().map(|l| l.qty).sum()
    }

    /// What the lots held cost (None: some lot's cost is not known).
    pub fn cost(&self) -> Option<f64> {
        self.lots.iter().map(|l| l.cost).sum()
    }
}

/// Everything the ledger says is held at a time.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Accounts {
    pub holdings: BTreeMap<String, Holding>,
    /// Cash balances by currency (below zero: more was paid than the ledger says came in).
    pub cash: BTreeMap<String, f64>,
    /// Entries applied.
    pub applied: usize,
}

/// Why a ledger does not add up.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LedgerError {
    #[error(
        "{when}: {what} {wanted} {asset}, but only {held} {asset} is held then (entry {id}): add the buy or deposit that brought it in, or correct the quantity"
    )]
    MoreThanHeld {
        when: String,
        what: &'static str,
        asset: String,
        wanted: f64,
        held: f64,
        id: String,
    },
    #[error("entry {id}: {why}")]
    Invalid { id: String, why: String },
}

/// Sizes within this fraction of a lot count as all of it: the decimals an exchange prints
/// (`0.1800000000`) must not leave 1e-17 of a coin behind, or refuse a sell of "all" of it.
const DUST: f64 = 1e-9;

impl Accounts {
    /// Applies `entries` (in time order; entries of one time in the given order) up to and
    /// including `upto`.
    pub fn build(
        entries: &[Entry],
        upto: TsMs,
        basis: &Basis,
        rates: &dyn Rates,
    ) -> Result<Accounts, LedgerError> {
        let mut order: Vec<&Entry> = entries.iter().filter(|e| e.ts_ms <= upto).collect();
        order.sort_by_key(|e| e.ts_ms);
        let mut a = Accounts::default();
        for e in order {
            a.apply(e, basis, rates)?;
        }
        Ok(a)
    }

    fn holding(&mut self, asset: &str) -> &mut Holding {
        self.holdings.entry(asset.to_string()).or_default()
    }

    fn apply(&mut self, e: &Entry, basis: &Basis, rates: &dyn Rates) -> Result<(), LedgerError> {
        let invalid = |why: String| LedgerError::Invalid {
            id: e.id.clone(),
            why,
        };
        if !(e.qty.is_finite() && e.qty > 0.0) {
            return Err(invalid(format!("quantity {} must be above zero", e.qty)));
        }
        if !(e.fee.is_finite() && e.fee >= 0.0) {
            return Err(invalid(format!("fee {} must be zero or more", e.fee)));
        }
        let at = |asset: &str| unit_value(basis, rates, asset, e.ts_ms);
        let fee_asset = e.fee_asset.as_deref().filter(|_| e.fee > 0.0);
        match e.action {
            Action::Buy | Action::Sell => {
                let quote = e
                    .quote
                    .as_deref()
                    .ok_or_else(|| invalid("a trade needs the asset it was paid in".into()))?;
                let price = e
                    .price
                    .filter(|p| p.is_finite() && *p > 0.0)
                    .ok_or_else(|| invalid("a trade needs a price above zero".into()))?;
                let total = e.qty * price;
                let quote_value = at(quote);
                let gross = quote_value.map(|v| total * v);
                // a fee in a third asset is that asset given away: disposed of at its value
                let fee_value = match fee_asset {
                    None => Some(0.0),
                    Some(f) if f == quote => quote_value.map(|v| e.fee * v),
                    Some(f) if f == e.asset => at(&e.asset)
                        .or_else(|| {
                            // the asset's own value: the trade's price in the quote
                            quote_value.map(|v| price * v)
                        })
                        .map(|v| e.fee * v),
                    Some(f) => {
                        let v = at(f).map(|v| e.fee * v);
                        self.spend(f, e.fee, v, e, basis, "pays a fee of")?;
                        v
                    }
                };
                if e.action == Action::Buy {
                    // pay: quote out (a disposal when it is not cash)
                    let paid = total + if fee_asset == Some(quote) { e.fee } else { 0.0 };
                    self.spend(
                        quote,
                        paid,
                        gross.zip(fee_value).map(
                            |(g, f)| {
                                if fee_asset == Some(quote) { g + f } else { g }
                            },
                        ),
                        e,
                        basis,
                        "pays",
                    )?;
                    // receive: the asset, less a fee taken in it
                    let got = e.qty
                        - if fee_asset == Some(&e.asset) {
                            e.fee
                        } else {
                            0.0
                        };
                    if got <= 0.0 {
                        return Err(invalid(format!(
                            "the fee {} {} is all of the {} bought",
                            e.fee, e.asset, e.qty
                        )));
                    }
                    let cost = match (gross, fee_value) {
                        // a fee in the asset itself is already the smaller quantity received
                        (Some(g), Some(f)) if fee_asset != Some(&e.asset) => Some(g + f),
                        (Some(g), Some(_)) => Some(g),
                        _ => None,
                    };
                    self.receive(&e.asset, got, cost, e.ts_ms, basis);
                    let h = self.holding(&e.asset);
                    h.fees = h.fees.zip(fee_value).map(|(a, b)| a + b);
                } else {
                    // the asset out, with a fee in it on top
                    let out = e.qty
                        + if fee_asset == Some(&e.asset) {
                            e.fee
                        } else {
                            0.0
                        };
                    let cost = self.take(&e.asset, out, e, "sells")?;
                    // proceeds: the quote in, less a fee taken in it (or paid elsewhere)
                    let fee_in_quote = if fee_asset == Some(quote) { e.fee } else { 0.0 };
                    let got = total - fee_in_quote;
                    if got < 0.0 {
                        return Err(invalid(format!(
                            "the fee {} {quote} is more than the {total} {quote} received",
                            e.fee
                        )));
                    }
                    // a fee in the asset is more of it given up (its cost is in `cost`); a fee
                    // in the quote or a third asset comes off the proceeds
                    let proceeds = if fee_asset == Some(&e.asset) {
                        gross
                    } else {
                        gross.zip(fee_value).map(|(g, f)| g - f)
                    };
                    let h = self.holding(&e.asset);
                    h.realized = h
                        .realized
                        .zip(proceeds.zip(cost).map(|(p, c)| p - c))
                        .map(|(a, b)| a + b);
                    h.fees = h.fees.zip(fee_value).map(|(a, b)| a + b);
                    self.receive(quote, got, quote_value.map(|v| got * v), e.ts_ms, basis);
                }
            }
            Action::Deposit => {
                if basis.is_cash(&e.asset) {
                    *self.cash.entry(e.asset.clone()).or_insert(0.0) += e.qty;
                } else {
                    // its cost: as given (in `quote`, else in the base currency), else its
                    // value when it came in
                    let cost = match e.price {
                        Some(p) if p.is_finite() && p >= 0.0 => match e.quote.as_deref() {
                            None => Some(e.qty * p),
                            Some(q) => at(q).map(|v| e.qty * p * v),
                        },
                        Some(p) => {
                            return Err(invalid(format!("cost {p} per unit is not a price")));
                        }
                        None => at(&e.asset).map(|v| e.qty * v),
                    };
                    self.receive(&e.asset, e.qty, cost, e.ts_ms, basis);
                }
            }
            Action::Withdrawal => {
                let out = e.qty
                    + if fee_asset == Some(&e.asset) {
                        e.fee
                    } else {
                        0.0
                    };
                if basis.is_cash(&e.asset) {
                    *self.cash.entry(e.asset.clone()).or_insert(0.0) -= out;
                } else {
                    // a transfer out is not a sale: its cost leaves with it; a fee in the coin
                    // is a loss of that coin's cost
                    self.take(&e.asset, e.qty, e, "withdraws")?;
                    if fee_asset == Some(&e.asset) {
                        let lost = self.take(&e.asset, e.fee, e, "pays a fee of")?;
                        let h = self.holding(&e.asset);
                        h.realized = h.realized.zip(lost).map(|(r, c)| r - c);
                    }
                }
                if let Some(f) = fee_asset.filter(|f| *f != e.asset) {
                    let v = at(f).map(|v| e.fee * v);
                    self.spend(f, e.fee, v, e, basis, "pays a fee of")?;
                }
            }
        }
        self.applied += 1;
        Ok(())
    }

    /// Adds `qty` of `asset` costing `cost` (cash: to its balance).
    fn receive(&mut self, asset: &str, qty: f64, cost: Option<f64>, ts_ms: TsMs, basis: &Basis) {
        if basis.is_cash(asset) {
            *self.cash.entry(asset.to_string()).or_insert(0.0) += qty;
            return;
        }
        let method = basis.method;
        let h = self.holding(asset);
        match (method, h.lots.front_mut()) {
            (Method::Average, Some(pool)) => {
                pool.qty += qty;
                pool.cost = pool.cost.zip(cost).map(|(a, b)| a + b);
            }
            _ => h.lots.push_back(Lot { qty, cost, ts_ms }),
        }
    }

    /// Pays `qty` of `asset` worth `value` in the base currency: cash leaves its balance; a
    /// coin is disposed of at that value (realized against its cost).
    fn spend(
        &mut self,
        asset: &str,
        qty: f64,
        value: Option<f64>,
        e: &Entry,
        basis: &Basis,
        what: &'static str,
    ) -> Result<(), LedgerError> {
        if basis.is_cash(asset) {
            *self.cash.entry(asset.to_string()).or_insert(0.0) -= qty;
            return Ok(());
        }
        let cost = self.take(asset, qty, e, what)?;
        let h = self.holding(asset);
        h.realized = h
            .realized
            .zip(value.zip(cost).map(|(v, c)| v - c))
            .map(|(a, b)| a + b);
        Ok(())
    }

    /// Removes `qty` of a non-cash `asset` from its lots (oldest first, or from the pool) and
    /// returns what that part cost.
    fn take(
        &mut self,
        asset: &str,
        qty: f64,
        e: &Entry,
        what: &'static str,
    ) -> Result<Option<f64>, LedgerError> {
        let held = self.holdings.get(asset).map_or(0.0, Holding::qty);
        if qty > held * (1.0 + DUST) + DUST * 1e-3 {
            return Err(LedgerError::MoreThanHeld {
                when: crate::domain::iso8601(e.ts_ms),
                what,
                asset: asset.to_string(),
                wanted: qty,
                held,
                id: e.id.clone(),
            });
        }
        let h = self.holding(asset);
        let mut left = qty;
        let mut cost = Some(0.0);
        while left > 0.0 {
            let Some(lot) = h.lots.front_mut() else { break };
            if lot.qty <= left * (1.0 + DUST) {
                left -= lot.qty;
                cost = cost.zip(lot.cost).map(|(a, b)| a + b);
                h.lots.pop_front();
            } else {
                let part = left / lot.qty;
                let part_cost = lot.cost.map(|c| c * part);
                lot.cost = lot.cost.map(|c| c - c * part);
                lot.qty -= left;
                cost = cost.zip(part_cost).map(|(a, b)| a + b);
                left = 0.0;
            }
        }
        Ok(cost)
    }
}

/// One asset held (or sold out, with what it realized), valued at a time.
#[derive(Debug, Clone, PartialEq)]
pub struct Position {
    pub asset: String,
    pub qty: f64,
    /// What the units held cost, and per unit.
    pub cost: Option<f64>,
    pub avg_cost: Option<f64>,
    /// The value of one unit then, and of the units held.
    pub last: Option<f64>,
    pub value: Option<f64>,
    /// The change of `value` over the 24 hours before (the same units).
    pub day_change: Option<f64>,
    pub unrealized: Option<f64>,
    pub realized: Option<f64>,
    pub fees: Option<f64>,
    /// Share of the portfolio's value (None when either is unknown).
    pub weight: Option<f64>,
}

/// A cash balance valued in the base currency.
#[derive(Debug, Clone, PartialEq)]
pub struct Cash {
    pub currency: String,
    pub balance: f64,
    pub value: Option<f64>,
}

/// The whole portfolio at a time.
#[derive(Debug, Clone, PartialEq)]
pub struct Valuation {
    pub at_ms: TsMs,
    pub base: String,
    pub positions: Vec<Position>,
    pub cash: Vec<Cash>,
    /// Positions plus cash above zero (a balance below zero is money paid in from outside,
    /// not a holding). Known parts only; `missing` names what has no value.
    pub value: f64,
    pub cost: f64,
    pub unrealized: f64,
    pub realized: f64,
    /// Assets whose value (or cost, or realized P/L) is not known at `at_ms`: the totals
    /// above leave them out, and say so.
    pub missing: Vec<String>,
}

impl Valuation {
    /// Unrealized plus realized.
    pub fn pnl(&self) -> f64 {
        self.unrealized + self.realized
    }

    /// Whether every holding has a value (its cost aside): `value` is then the whole
    /// portfolio's, not a part too low.
    pub fn value_whole(&self) -> bool {
        self.positions
            .iter()
            .all(|p| p.qty <= 0.0 || p.value.is_some())
            && self
                .cash
                .iter()
                .all(|c| c.balance <= 0.0 || c.value.is_some())
    }
}

/// Values `accounts` at `at_ms`.
pub fn value(accounts: &Accounts, basis: &Basis, rates: &dyn Rates, at_ms: TsMs) -> Valuation {
    let day = 86_400_000;
    let mut positions = Vec::new();
    let mut missing: Vec<String> = Vec::new();
    let (mut value, mut cost, mut unrealized, mut realized) = (0.0, 0.0, 0.0, 0.0);
    for (asset, h) in &accounts.holdings {
        let qty = h.qty();
        let held = qty > DUST;
        let last = unit_value(basis, rates, asset, at_ms);
        let pos_value = last.map(|v| v * qty);
        let pos_cost = h.cost();
        let unreal = pos_value.zip(pos_cost).map(|(v, c)| v - c);
        let before = unit_value(basis, rates, asset, at_ms - day).map(|v| v * qty);
        let known = |x: Option<f64>, total: &mut f64| match x {
            Some(v) => {
                *total += v;
                true
            }
            None => false,
        };
        let mut ok = true;
        if held {
            ok &= known(pos_value, &mut value);
            ok &= known(pos_cost, &mut cost);
            ok &= known(unreal, &mut unrealized);
        }
        ok &= known(h.realized, &mut realized);
        if !ok {
            missing.push(asset.clone());
        }
        if !held && h.realized == Some(0.0) {
            continue;
        }
        positions.push(Position {
            asset: asset.clone(),
            qty: if held { qty } else { 0.0 },
            cost: if held { pos_cost } else { Some(0.0) },
            avg_cost: pos_cost.filter(|_| held).map(|c| c / qty),
            last,
            value: if held { pos_value } else { Some(0.0) },
            day_change: pos_value.zip(before).map(|(a, b)| a - b),
            unrealized: if held { unreal } else { Some(0.0) },
            realized: h.realized,
            fees: h.fees,
            weight: None,
        });
    }
    let mut cash = Vec::new();
    for (currency, &balance) in &accounts.cash {
        let v = unit_value(basis, rates, currency, at_ms).map(|u| u * balance);
        if balance > 0.0 {
            match v {
                Some(v) => value += v,
                None => missing.push(currency.clone()),
            }
        }
        if balance.abs() > DUST {
            cash.push(Cash {
                currency: currency.clone(),
                balance,
                value: v,
            });
        }
    }
    for p in &mut positions {
        p.weight = p.value.filter(|_| value > 0.0).map(|v| v / value);
    }
    Valuation {
        at_ms,
        base: basis.base.clone(),
        positions,
        cash,
        value,
        cost,
        unrealized,
        realized,
        missing,
    }
}

#[cfg(test)]
#[path = "ledger_tests.rs"]
mod tests;
