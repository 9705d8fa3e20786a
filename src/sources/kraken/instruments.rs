//! Every pair's `price_precision` and `qty_precision`, from Kraken's v2 `instrument` channel:
//! the book checksum is computed over prices and sizes written with exactly these many decimals
//! (docs.kraken.com, "Spot WebSocket book v2" guide and the `instrument` channel). The channel is
//! subscribed once per connection when `depth` is on; its snapshot lists every pair (by the v2
//! names the book uses, `BTC/USD`), its updates change some.
//!
//! The connection writes here; the book task reads. A pair that is not listed has no book: its
//! frames are counted and never read with a guessed precision, and the list is asked for again
//! with backoff.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use serde::Deserialize;
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::domain::Symbol;

/// A pair's decimals as Kraken writes its book prices and sizes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Precision {
    pub price: u32,
    pub qty: u32,
}

/// How long a book waits for its pair's precisions before it is reported and asked again.
pub const WAIT: Duration = Duration::from_secs(5);
/// First wait before the list is asked for again; it doubles up to [`ASK_MAX`].
const ASK_FIRST: Duration = Duration::from_secs(5);
const ASK_MAX: Duration = Duration::from_secs(300);

#[derive(Debug, Default)]
struct Inner {
    pairs: HashMap<Symbol, Precision>,
    /// A snapshot arrived on some connection.
    listed: bool,
    /// The connection should ask for a fresh snapshot.
    want: bool,
    /// Asks so far without every waiting pair found, and when the next may go out.
    asks: u32,
    next_ask: Option<Instant>,
}

/// The precisions, shared by the connection and the book task.
#[derive(Debug, Default)]
pub struct Instruments {
    inner: Mutex<Inner>,
    changed: Notify,
}

#[derive(Deserialize)]
struct RawPair {
    symbol: String,
    price_precision: Option<u32>,
    qty_precision: Option<u32>,
}

#[derive(Deserialize, Default)]
struct RawData {
    #[serde(default)]
    pairs: Vec<RawPair>,
}

#[derive(Deserialize)]
struct RawFrame {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    data: RawData,
}

/// What an `instrument` frame said.
#[derive(Debug, Default, PartialEq)]
pub struct Listing {
    pub snapshot: bool,
    pub pairs: Vec<(Symbol, Precision)>,
    /// Pairs listed without both precisions, or with a name that is no symbol (skipped).
    pub incomplete: Vec<String>,
}

/// Reads an `instrument` snapshot or update.
pub fn parse(text: &str) -> Result<Listing, serde_json::Error> {
    let raw: RawFrame = serde_json::from_str(text)?;
    let mut out = Listing {
        snapshot: raw.kind == "snapshot",
        ..Listing::default()
    };
    for p in raw.data.pairs {
        match (Symbol::new(&p.symbol), p.price_precision, p.qty_precision) {
            (Ok(s), Some(price), Some(qty)) if price <= 18 && qty <= 18 => {
                out.pairs.push((s, Precision { price, qty }))
            }
            _ => out.incomplete.push(p.symbol),
        }
    }
    Ok(out)
}

fn lock(m: &Mutex<Inner>) -> std::sync::MutexGuard<'_, Inner> {
    match m.lock() {
        Ok(g) => g,
        Err(p) => p.into_inner(),
    }
}

impl Instruments {
    pub fn get(&self, symbol: Symbol) -> Option<Precision> {
        lock(&self.inner).pairs.get(&symbol).copied()
    }

    /// Takes in what a frame listed: a snapshot replaces the list, an update changes it.
    pub fn apply(&self, listing: Listing) {
        {
            let mut g = lock(&self.inner);
            if listing.snapshot {
                g.pairs.clear();
                g.listed = true;
            }
            g.pairs.extend(listing.pairs);
        }
        self.changed.notify_waiters();
    }

    /// Whether the connection should ask for a fresh snapshot now (taken once).
    pub fn take_want(&self) -> bool {
        std::mem::take(&mut lock(&self.inner).want)
    }

    /// Waits up to `within` for `symbol`'s precisions. On timeout the list is asked for again
    /// (no sooner than the backoff allows) and the answer says why there are none.
    pub async fn wait(&self, symbol: Symbol, within: Duration) -> Result<Precision, String> {
        let until = Instant::now() + within;
        loop {
            let notified = self.changed.notified();
            if let Some(p) = self.get(symbol) {
                return Ok(p);
            }
            if tokio::time::timeout_at(until, notified).await.is_err() {
                return Err(self.missing(symbol));
            }
        }
    }

    /// `symbol` is still not listed: why, and ask again when the backoff allows.
    fn missing(&self, symbol: Symbol) -> String {
        let mut g = lock(&self.inner);
        let now = Instant::now();
        if g.next_ask.is_none_or(|t| now >= t) {
            g.want = true;
            let delay = ASK_FIRST.saturating_mul(1 << g.asks.min(10)).min(ASK_MAX);
            g.asks += 1;
            g.next_ask = Some(now + delay);
        }
        if g.listed {
            format!(
                "Kraken's instrument list has no precisions for {symbol}, so its book checksum cannot be checked; the book is not shown"
            )
        } else {
            "no instrument list (pair precisions) from Kraken yet; the book is not shown until it comes".to_string()
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn sym(s: &str) -> Symbol {
        Symbol::new(s).unwrap()
    }

    /// Kraken's documented snapshot shape (docs.kraken.com, websocket-v2 `instrument`), trimmed.
    const SNAPSHOT: &str = r#"{"channel":"instrument","type":"snapshot","data":{"assets":[{"id":"USD","status":"enabled","precision":4,"precision_display":2,"borrowable":true,"collateral_value":1.0,"margin_rate":0.015}],"pairs":[{"symbol":"BTC/USD","base":"BTC","quote":"USD","status":"online","qty_precision":8,"qty_increment":1e-08,"price_precision":1,"cost_precision":5,"marginable":true,"has_index":true,"cost_min":0.5,"tick_size":0.1,"price_increment":0.1,"qty_min":0.0001},{"symbol":"MATIC/GBP","base":"MATIC","quote":"GBP","status":"online","qty_precision":8,"qty_increment":1e-08,"price_precision":4,"cost_precision":5,"marginable":false,"has_index":true,"cost_min":0.5,"tick_size":0.0001,"price_increment":0.0001,"qty_min":1},{"symbol":"ODD/USD","status":"online"}]}}"#;

    #[test]
    fn a_snapshot_lists_each_pairs_precisions_and_an_update_changes_them() {
        let l = parse(SNAPSHOT).unwrap();
        assert!(l.snapshot);
        assert_eq!(
            l.pairs,
            vec![
                (sym("BTC/USD"), Precision { price: 1, qty: 8 }),
                (sym("MATIC/GBP"), Precision { price: 4, qty: 8 })
            ]
        );
        assert_eq!(l.incomplete, vec!["ODD/USD".to_string()]);
        let i = Instruments::default();
        i.apply(l);
        let up = r#"{"channel":"instrument","type":"update","data":{"pairs":[{"symbol":"BTC/USD","price_precision":2,"qty_precision":8}]}}"#;
        i.apply(parse(up).unwrap());
        assert_eq!(i.get(sym("BTC/USD")), Some(Precision { price: 2, qty: 8 }));
        assert_eq!(i.get(sym("MATIC/GBP")).map(|p| p.price), Some(4));
        // a new snapshot is the whole list
        i.apply(parse(&SNAPSHOT.replace("MATIC/GBP", "ETH/GBP")).unwrap());
        assert_eq!(i.get(sym("MATIC/GBP")), None);
        assert_eq!(i.get(sym("BTC/USD")).map(|p| p.price), Some(1));
    }

    #[tokio::test(start_paused = true)]
    async fn a_missing_pair_is_reported_and_asked_again_with_backoff() {
        let i = std::sync::Arc::new(Instruments::default());
        let e = i.wait(sym("BTC/USD"), WAIT).await.unwrap_err();
        assert!(e.contains("no instrument list"), "{e}");
        assert!(i.take_want());
        assert!(!i.take_want());
        i.apply(parse(SNAPSHOT).unwrap());
        let e = i.wait(sym("ETH/USD"), WAIT).await.unwrap_err();
        assert!(e.contains("ETH/USD") && e.contains("not shown"), "{e}");
        // the first ask's backoff (5 s) has passed: asked again
        assert!(i.take_want());
        // the next ask waits 10 s after the second
        let _ = i.wait(sym("ETH/USD"), Duration::from_secs(1)).await;
        assert!(!i.take_want());
        let _ = i.wait(sym("ETH/USD"), Duration::from_secs(10)).await;
        assert!(i.take_want());
        // one that comes while waiting ends the wait
        let i2 = i.clone();
        let waiter = tokio::spawn(async move { i2.wait(sym("XRP/USD"), WAIT).await });
        tokio::time::sleep(Duration::from_secs(2)).await;
        i.apply(parse(&SNAPSHOT.replace("MATIC/GBP", "XRP/USD")).unwrap());
        assert_eq!(waiter.await.unwrap(), Ok(Precision { price: 4, qty: 8 }));
    }
}
