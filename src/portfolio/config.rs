//! `[portfolio]` in config.toml: the base currency, the accounting method, which stablecoins
//! count as the base currency, where each asset's price comes from, and entries written by hand.
//!
//! ```toml
//! [portfolio]
//! base = "USD"
//! method = "fifo"                       # or "average"
//! stablecoins = ["USDT", "USDC"]        # counted as the base currency one for one
//! prices = { AAPL = "yahoo:AAPL", EUR = "yahoo:EURUSD=X" }
//!
//! [[portfolio.entries]]
//! time = "2025-01-15T10:30:00Z"
//! type = "buy"                          # buy, sell, deposit, withdrawal
//! market = "binance:BTCUSDT"            # the pair traded (asset and quote from it)
//! qty = 0.5
//! price = 42000
//! fee = 10.5
//! fee_asset = "USDT"
//! ```

use std::collections::BTreeMap;

use serde::Deserialize;

use super::ledger::{Basis, Method};
use super::{Action, Entry};
use crate::domain::{Venue, VenueSymbol, pair, parse_watch_symbol};

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct PortfolioSection {
    /// The currency everything is valued in.
    pub base: String,
    pub method: Method,
    /// Stablecoins counted as the base currency one for one. None by default: a stablecoin
    /// is only the base currency where the config says so.
    pub stablecoins: Vec<String>,
    /// Asset = "venue:SYMBOL": the market its price comes from (quoted in the pair's quote
    /// asset, or in the base currency for a symbol that is not a pair, like a stock).
    pub prices: BTreeMap<String, String>,
    pub entries: Vec<EntryConfig>,
}

impl Default for PortfolioSection {
    fn default() -> Self {
        PortfolioSection {
            base: "USD".into(),
            method: Method::Fifo,
            stablecoins: Vec::new(),
            prices: BTreeMap::new(),
            entries: Vec::new(),
        }
    }
}

/// One `[[portfolio.entries]]`.
#[derive(Debug, Clone, Deserialize, PartialEq, Default)]
#[serde(deny_unknown_fields)]
pub struct EntryConfig {
    /// RFC 3339 (`2025-01-15T10:30:00Z`), a date, or ms since the epoch.
    pub time: String,
    #[serde(rename = "type")]
    pub action: String,
    /// `venue:SYMBOL` of a trade (the asset and quote come from the pair; a stock's quote is
    /// the base currency unless `quote` says otherwise).
    pub market: Option<String>,
    /// The asset, for a deposit or withdrawal (or a trade without `market`).
    pub asset: Option<String>,
    pub quote: Option<String>,
    pub qty: f64,
    pub price: Option<f64>,
    #[serde(default)]
    pub fee: f64,
    pub fee_asset: Option<String>,
}

/// An asset's name as entered: upper case, letters and digits (and `.`, `-`, `^`, `=` for
/// stocks, indices and FX).
fn asset_name(s: &str) -> Result<String, String> {
    let t = s.trim().to_ascii_uppercase();
    if t.is_empty()
        || t.len() > 20
        || !t
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '^' | '='))
    {
        return Err(format!(
            "{s:?} is not an asset name (letters and digits, like BTC, USD or AAPL)"
        ));
    }
    Ok(t)
}

/// The market of `text` (`venue:SYMBOL`): its key, and the asset and quote it trades.
pub fn market(text: &str, base: &str) -> Result<(VenueSymbol, String, String), String> {
    let (venue, symbol) = parse_watch_symbol(text)?;
    let venue: Venue = venue.ok_or_else(|| {
        format!("{text:?}: name the venue too, like binance:BTCUSDT or yahoo:AAPL")
    })?;
    let (asset, quote) = match pair(venue, &symbol) {
        Some(p) => (p.base, p.quote),
        None => (symbol.as_str().to_string(), base.to_string()),
    };
    Ok((VenueSymbol::new(venue, symbol), asset, quote))
}

impl PortfolioSection {
    pub fn basis(&self) -> Basis {
        Basis::new(&self.base, &self.stablecoins, self.method)
    }

    /// Checks the section; the error names the key.
    pub fn validate(&self) -> Result<(), String> {
        asset_name(&self.base).map_err(|e| format!("[portfolio].base: {e}"))?;
        for s in &self.stablecoins {
            asset_name(s).map_err(|e| format!("[portfolio].stablecoins: {e}"))?;
        }
        for (asset, m) in &self.prices {
            asset_name(asset).map_err(|e| format!("[portfolio].prices: {e}"))?;
            market(m, &self.base).map_err(|e| format!("[portfolio].prices.{asset}: {e}"))?;
        }
        self.ledger().map(|_| ())
    }

    /// The entries written in the config, as ledger entries.
    pub fn ledger(&self) -> Result<Vec<Entry>, String> {
        let base = self.base.to_ascii_uppercase();
        self.entries
            .iter()
            .enumerate()
            .map(|(i, e)| {
                e.entry(&base, i)
                    .map_err(|why| format!("[[portfolio.entries]] #{}: {why}", i + 1))
            })
            .collect()
    }
}

impl EntryConfig {
    /// The ledger entry it describes (`i`: its place in the config, for its id).
    pub fn entry(&self, base: &str, i: usize) -> Result<Entry, String> {
        let ts_ms = crate::app::export::parse_time(&self.time).map_err(|e| format!("time: {e}"))?;
        let action: Action = self.action.parse().map_err(|e| format!("type: {e}"))?;
        if !(self.qty.is_finite() && self.qty > 0.0) {
            return Err(format!("qty = {} must be above zero", self.qty));
        }
        if !(self.fee.is_finite() && self.fee >= 0.0) {
            return Err(format!("fee = {} must be zero or more", self.fee));
        }
        let (market, asset, quote) = match (&self.market, &self.asset) {
            (Some(m), _) => {
                let (key, asset, quote) = market(m, base).map_err(|e| format!("market: {e}"))?;
                let quote = match &self.quote {
                    Some(q) => asset_name(q).map_err(|e| format!("quote: {e}"))?,
                    None => quote,
                };
                (Some(key), asset, Some(quote))
            }
            (None, Some(a)) => (
                None,
                asset_name(a).map_err(|e| format!("asset: {e}"))?,
                match &self.quote {
                    Some(q) => Some(asset_name(q).map_err(|e| format!("quote: {e}"))?),
                    None => None,
                },
            ),
            (None, None) => {
                return Err(
                    "give the `market` traded (binance:BTCUSDT) or the `asset` (BTC)".into(),
                );
            }
        };
        let trade = matches!(action, Action::Buy | Action::Sell);
        if trade && quote.is_none() {
            return Err("a buy or sell needs `market`, or `asset` and `quote`".into());
        }
        match self.price {
            None if trade => return Err("a buy or sell needs its `price`".into()),
            Some(p) if !(p.is_finite() && p > 0.0) => {
                return Err(format!("price = {p} must be above zero"));
            }
            _ => {}
        }
        let fee_asset = match &self.fee_asset {
            Some(f) => Some(asset_name(f).map_err(|e| format!("fee_asset: {e}"))?),
            // a trade's fee is in its quote unless said otherwise
            None if self.fee > 0.0 => quote.clone().or_else(|| Some(asset.clone())),
            None => None,
        };
        Ok(Entry {
            ts_ms,
            action,
            asset,
            qty: self.qty,
            quote: quote.filter(|_| trade || (action == Action::Deposit && self.price.is_some())),
            price: self.price,
            fee: self.fee,
            fee_asset,
            market,
            id: format!("config#{}", i + 1),
            source: "config".into(),
        })
    }
}
