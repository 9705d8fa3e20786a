//! `[kraken]` in config.toml: every field optional, typos are errors.

use serde::Deserialize;

use super::{MAX_OHLC_ROWS, STALE_AFTER};
use crate::domain::Symbol;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KrakenConfig {
    /// The WebSocket v2 endpoint, used as given.
    pub ws_url: String,
    /// The REST base, without a path (trade refill and warm-up candles).
    pub rest_url: String,
    /// Pairs in Kraken's v2 form, base and quote joined by '/' (`BTC/USD`).
    pub symbols: Vec<String>,
    /// 1m candles fetched per pair at start (Kraken serves at most the last 720; 0 turns the
    /// warm-up off).
    pub backfill_candles: usize,
    /// Keep a local order book per pair (the `book` channel, checksummed with the pair's
    /// precisions from the `instrument` channel), for the ladder (`B`) and the liquidity rules.
    pub depth: bool,
    /// Levels of each side the ladder and the rules get from each book (at most 1000); the
    /// book is subscribed at the smallest Kraken depth (10, 25, 100, 500, 1000) that holds them.
    pub depth_levels: usize,
    /// Reconnect when nothing at all arrived for this long (Kraken sends a heartbeat every
    /// second, so a few seconds of silence means the connection is dead).
    pub stale_after_secs: u64,
    /// One REST request, from connecting to the last byte of the answer, fails after this long.
    pub rest_timeout_secs: u64,
    /// First reconnect delay; it doubles on each failed attempt (with jitter).
    pub backoff_initial_ms: u64,
    /// Longest reconnect delay.
    pub backoff_max_ms: u64,
}

impl Default for KrakenConfig {
    fn default() -> Self {
        KrakenConfig {
            ws_url: "wss://ws.kraken.com/v2".into(),
            rest_url: "https://api.kraken.com".into(),
            symbols: vec!["BTC/USD".into(), "ETH/USD".into()],
            backfill_candles: MAX_OHLC_ROWS,
            depth: false,
            depth_levels: 100,
            stale_after_secs: STALE_AFTER.as_secs(),
            rest_timeout_secs: 10,
            backoff_initial_ms: 125,
            backoff_max_ms: 60_000,
        }
    }
}

impl KrakenConfig {
    /// Checks every field; the message names the field and says what is allowed.
    pub fn validate(&self) -> Result<(), String> {
        use crate::sources::live::config::{
            check_depth_levels, check_rest_url, check_timings, check_ws_url,
        };
        check_ws_url("kraken", &self.ws_url, "wss://ws.kraken.com/v2")?;
        check_rest_url("kraken", &self.rest_url, "https://api.kraken.com")?;
        self.parsed_symbols()?;
        check_depth_levels("kraken", self.depth_levels, super::BOOK_DEPTHS[4])?;
        check_timings(
            "kraken",
            self.stale_after_secs,
            self.rest_timeout_secs,
            self.backoff_initial_ms,
            self.backoff_max_ms,
        )?;
        if self.backfill_candles > MAX_OHLC_ROWS {
            return Err(format!(
                "[kraken].backfill_candles is {}; Kraken serves at most the last {MAX_OHLC_ROWS} 1m candles",
                self.backfill_candles
            ));
        }
        Ok(())
    }

    /// The pairs, upper-cased and de-duplicated, in the order given.
    pub fn parsed_symbols(&self) -> Result<Vec<Symbol>, String> {
        if self.symbols.is_empty() {
            return Err("[kraken].symbols is empty; add at least one, e.g. [\"BTC/USD\"]".into());
        }
        let mut out: Vec<Symbol> = Vec::new();
        for s in &self.symbols {
            let sym = Symbol::new(s).map_err(|e| format!("[kraken].symbols: {e}"))?;
            let text = sym.as_str();
            let parts: Vec<&str> = text.split('/').collect();
            let ok = parts.len() == 2
                && parts
                    .iter()
                    .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric()));
            if !ok {
                return Err(format!(
                    "[kraken].symbols: {text:?} is not a Kraken v2 pair (base and quote joined by '/', e.g. BTC/USD)"
                ));
            }
            if parts[0] == "XBT" || parts[0] == "XDG" {
                return Err(format!(
                    "[kraken].symbols: {text:?} uses Kraken's old asset code; WebSocket v2 names it {}/{}",
                    if parts[0] == "XBT" { "BTC" } else { "DOGE" },
                    parts[1]
                ));
            }
            if !out.contains(&sym) {
                out.push(sym);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_typos_are_refused() {
        assert_eq!(KrakenConfig::default().validate(), Ok(()));
        let cfg: KrakenConfig = toml::from_str("symbols = [\"eth/eur\", \"ETH/EUR\"]").unwrap();
        assert_eq!(
            cfg.parsed_symbols().unwrap(),
            vec![Symbol::new("ETH/EUR").unwrap()]
        );
        let err = toml::from_str::<KrakenConfig>("simbols = [\"BTC/USD\"]").unwrap_err();
        assert!(err.to_string().contains("simbols"), "{err}");
    }

    #[test]
    fn validation_says_what_is_wrong_and_what_to_write() {
        let bad = |f: fn(&mut KrakenConfig)| {
            let mut c = KrakenConfig::default();
            f(&mut c);
            c.validate().unwrap_err()
        };
        assert!(bad(|c| c.ws_url = "https://ws.kraken.com".into()).contains("ws_url"));
        assert!(bad(|c| c.rest_url = "api.kraken.com".into()).contains("rest_url"));
        assert!(bad(|c| c.symbols.clear()).contains("BTC/USD"));
        for wrong in ["BTCUSD", "BTC-USD", "BTC/USD/X", "/USD"] {
            let e = bad_symbol(wrong);
            assert!(e.contains("joined by '/'"), "{wrong}: {e}");
        }
        assert!(bad_symbol("XBT/USD").contains("BTC/USD"));
        assert!(bad(|c| c.backfill_candles = 721).contains("720"));
        assert!(bad(|c| c.depth_levels = 0).contains("depth_levels"));
        assert!(bad(|c| c.depth_levels = 1001).contains("between 1 and 1000"));
    }

    #[test]
    fn the_book_is_subscribed_at_the_smallest_kraken_depth_that_holds_the_levels() {
        use super::super::book_depth;
        let got: Vec<usize> = [1, 10, 11, 25, 26, 100, 101, 500, 501, 1000]
            .into_iter()
            .map(book_depth)
            .collect();
        assert_eq!(got, [10, 10, 25, 25, 100, 100, 500, 500, 1000, 1000]);
    }

    fn bad_symbol(s: &str) -> String {
        let c = KrakenConfig {
            symbols: vec![s.into()],
            ..KrakenConfig::default()
        };
        c.validate().unwrap_err()
    }
}
