//! What an asset is worth in the base currency at a time: the market its price comes from
//! (the config's `prices`, else the market of its own trades), that market's price then, and
//! the quote's worth in turn (ETH on ETHBTC, through BTC on BTCUSDT). Prices come from stored
//! candles (any past time, and now as fresh as the recorder keeps them) or from the monitor's
//! live prices.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};

use super::Entry;
use super::ledger::{Basis, Rates};
use crate::domain::{Interval, TsMs, VenueSymbol};
use crate::store::ReadStore;

/// Where each asset's price comes from: a market and the asset it is quoted in.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Markets {
    by_asset: HashMap<String, (VenueSymbol, String)>,
}

impl Markets {
    /// The config's `prices` first; then, for every other asset, the market of its latest
    /// trade that names one.
    pub fn new(
        prices: &BTreeMap<String, String>,
        entries: &[Entry],
        base: &str,
    ) -> Result<Markets, String> {
        let mut by_asset = HashMap::new();
        for (asset, text) in prices {
            let (key, _, quote) = super::config::market(text, base)?;
            by_asset.insert(asset.to_ascii_uppercase(), (key, quote));
        }
        let mut by_time: Vec<&Entry> = entries.iter().filter(|e| e.market.is_some()).collect();
        by_time.sort_by_key(|e| std::cmp::Reverse(e.ts_ms));
        for e in by_time {
            if let (Some(m), Some(q)) = (e.market, &e.quote)
                && !by_asset.contains_key(&e.asset)
            {
                by_asset.insert(e.asset.clone(), (m, q.clone()));
            }
        }
        Ok(Markets { by_asset })
    }

    /// The market `asset` is priced on, and its quote asset.
    pub fn of(&self, asset: &str) -> Option<&(VenueSymbol, String)> {
        self.by_asset.get(asset)
    }
}

/// A market's price at a time.
pub trait PriceAt {
    fn price(&self, key: VenueSymbol, ts: TsMs) -> Option<f64>;
}

/// Asset values through [`Markets`] and a [`PriceAt`], following quotes (at most three hops:
/// ETH on ETHBTC, BTC on BTCEUR, EUR on EURUSD).
pub struct Conversions<'a, P: PriceAt> {
    pub markets: &'a Markets,
    pub prices: P,
    pub basis: &'a Basis,
}

impl<P: PriceAt> Conversions<'_, P> {
    fn hop(&self, asset: &str, ts: TsMs, depth: u8) -> Option<f64> {
        if asset == self.basis.base || self.basis.pegged.contains(asset) {
            return Some(1.0);
        }
        if depth == 0 {
            return None;
        }
        let (key, quote) = self.markets.of(asset)?;
        let p = self.prices.price(*key, ts)?;
        Some(p * self.hop(quote, ts, depth - 1)?)
    }
}

impl<P: PriceAt> Rates for Conversions<'_, P> {
    fn value(&self, asset: &str, ts: TsMs) -> Option<f64> {
        self.hop(asset, ts, 3)
    }
}

/// Prices from stored candles: the close of the latest candle that opened at or before the
/// time (1m candles of the last day, else 1h of the last week, else 1d of the last month).
pub struct StoredPrices {
    reader: RefCell<Box<dyn ReadStore>>,
    cache: RefCell<HashMap<(VenueSymbol, TsMs), Option<f64>>>,
}

impl StoredPrices {
    pub fn new(reader: Box<dyn ReadStore>) -> StoredPrices {
        StoredPrices {
            reader: RefCell::new(reader),
            cache: RefCell::new(HashMap::new()),
        }
    }
}

impl PriceAt for StoredPrices {
    fn price(&self, key: VenueSymbol, ts: TsMs) -> Option<f64> {
        // one lookup per market and minute
        let minute = ts - ts.rem_euclid(60_000);
        if let Some(v) = self.cache.borrow().get(&(key, minute)) {
            return *v;
        }
        let mut found = None;
        for (iv, reach) in [
            (Interval::M1, 86_400_000),
            (Interval::H1, 7 * 86_400_000),
            (Interval::D1, 31 * 86_400_000),
        ] {
            let got = self.reader.borrow_mut().candles(
                Some(key.venue),
                key.symbol,
                iv,
                Some(ts - reach),
                Some(ts),
                Some(1),
            );
            match got {
                Ok(rows) => {
                    if let Some((_, c)) = rows.last() {
                        found = Some(c.candle.close);
                        break;
                    }
                }
                Err(e) => {
                    tracing::warn!("portfolio: reading {key} prices: {e}");
                    break;
                }
            }
        }
        self.cache.borrow_mut().insert((key, minute), found);
        found
    }
}

/// Prices from the monitor: the last price of each market (the same for any time: the
/// monitor values the portfolio now).
#[derive(Debug, Clone, Default)]
pub struct LivePrices {
    pub last: HashMap<VenueSymbol, f64>,
    /// Prices 24 hours before (the day's open where the venue gives it), for the day change.
    pub day_ago: HashMap<VenueSymbol, f64>,
    /// The time "now" is (prices before it by a day or more are the day-ago ones).
    pub now_ms: TsMs,
}

impl PriceAt for LivePrices {
    fn price(&self, key: VenueSymbol, ts: TsMs) -> Option<f64> {
        if ts <= self.now_ms - 86_400_000 {
            self.day_ago.get(&key).copied()
        } else {
            self.last.get(&key).copied()
        }
    }
}
