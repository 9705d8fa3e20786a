//! `[coinbase]` in config.toml: every field optional, typos are errors.

use serde::Deserialize;

use crate::domain::Symbol;

/// Most levels of each side a book publishes (`level2_batch` keeps the whole book; the ladder
/// and the rules never need more).
pub const MAX_DEPTH_LEVELS: usize = 1000;

/// Most 1m candles fetched per product at start (Coinbase serves 300 per request, about 10
/// requests a second; 10,000 is a week of minutes and 34 requests).
pub const MAX_BACKFILL_CANDLES: usize = 10_000;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CoinbaseConfig {
    /// The Coinbase Exchange WebSocket feed, used as given (no path is appended). The Advanced
    /// Trade endpoint (`wss://advanced-trade-ws.coinbase.com`) speaks another protocol and is
    /// not supported.
    pub ws_url: String,
    /// The Coinbase Exchange REST base, without a path (for trade backfill and warm-up candles).
    pub rest_url: String,
    /// Product ids in Coinbase's form, base and quote joined by '-' (`BTC-USD`).
    pub products: Vec<String>,
    /// Reconnect when nothing at all arrived for this long. Coinbase sends a heartbeat per
    /// product every second, so a few seconds of silence means the connection is dead.
    pub stale_after_secs: u64,
    /// 1m candles fetched per product at start so charts and indicators are warm at once
    /// (0 turns the warm-up off).
    pub backfill_candles: usize,
    /// Keep a local order book per product (the public `level2_batch` channel: a snapshot of
    /// the whole book, then changes), for the ladder (`B`) and the liquidity alert rules.
    pub depth: bool,
    /// Levels of each side the ladder and the rules get from each book.
    pub depth_levels: usize,
    /// One REST request, from connecting to the last byte of the answer, fails after this long.
    pub rest_timeout_secs: u64,
    /// First reconnect delay; it doubles on each failed attempt (with jitter).
    pub backoff_initial_ms: u64,
    /// Longest reconnect delay.
    pub backoff_max_ms: u64,
}

impl Default for CoinbaseConfig {
    fn default() -> Self {
        CoinbaseConfig {
            ws_url: "wss://ws-feed.exchange.coinbase.com".into(),
            rest_url: "https://api.exchange.coinbase.com".into(),
            products: vec!["BTC-USD".into(), "ETH-USD".into()],
            stale_after_secs: 10,
            backfill_candles: 300,
            depth: false,
            depth_levels: 100,
            rest_timeout_secs: 10,
            backoff_initial_ms: 125,
            backoff_max_ms: 60_000,
        }
    }
}

impl CoinbaseConfig {
    /// Checks every field; the message names the field and says what is allowed.
    pub fn validate(&self) -> Result<(), String> {
        if !(self.ws_url.starts_with("ws://") || self.ws_url.starts_with("wss://")) {
            return Err(format!(
                "[coinbase].ws_url {:?} must start with ws:// or wss:// (e.g. wss://ws-feed.exchange.coinbase.com)",
                self.ws_url
            ));
        }
        if self.ws_url.contains("advanced-trade") {
            return Err(format!(
                "[coinbase].ws_url {:?} is the Coinbase Advanced Trade feed, which tickwatch does not speak; use the Exchange feed wss://ws-feed.exchange.coinbase.com",
                self.ws_url
            ));
        }
        if !(self.rest_url.starts_with("http://") || self.rest_url.starts_with("https://")) {
            return Err(format!(
                "[coinbase].rest_url {:?} must start with http:// or https:// (e.g. https://api.exchange.coinbase.com)",
                self.rest_url
            ));
        }
        self.parsed_symbols()?;
        if self.backfill_candles > MAX_BACKFILL_CANDLES {
            return Err(format!(
                "[coinbase].backfill_candles is {}; at most {MAX_BACKFILL_CANDLES} are fetched at start",
                self.backfill_candles
            ));
        }
        crate::sources::live::config::check_depth_levels(
            "coinbase",
            self.depth_levels,
            MAX_DEPTH_LEVELS,
        )?;
        crate::sources::live::config::check_timings(
            "coinbase",
            self.stale_after_secs,
            self.rest_timeout_secs,
            self.backoff_initial_ms,
            self.backoff_max_ms,
        )?;
        Ok(())
    }

    /// The total time one REST request may take.
    pub fn rest_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.rest_timeout_secs)
    }

    /// The products, upper-cased and de-duplicated, in the order given.
    pub fn parsed_symbols(&self) -> Result<Vec<Symbol>, String> {
        if self.products.is_empty() {
            return Err(
                "[coinbase].products is empty; add at least one, e.g. [\"BTC-USD\"]".into(),
            );
        }
        let mut out: Vec<Symbol> = Vec::new();
        for p in &self.products {
            let sym = Symbol::new(p).map_err(|e| format!("[coinbase].products: {e}"))?;
            let ok = sym.as_str().split('-').count() == 2
                && sym.as_str().split('-').all(|part| {
                    !part.is_empty() && part.bytes().all(|b| b.is_ascii_alphanumeric())
                });
            if !ok {
                return Err(format!(
                    "[coinbase].products: {:?} is not a Coinbase product id (base and quote joined by '-', e.g. BTC-USD)",
                    sym.as_str()
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
        assert_eq!(CoinbaseConfig::default().validate(), Ok(()));
        let cfg: CoinbaseConfig = toml::from_str("products = [\"btc-usd\", \"BTC-USD\"]").unwrap();
        assert_eq!(cfg.stale_after_secs, 10);
        assert_eq!(cfg.backfill_candles, 300);
        let syms = cfg.parsed_symbols().unwrap();
        assert_eq!(syms.len(), 1);
        assert_eq!(syms[0].as_str(), "BTC-USD");
        let err = toml::from_str::<CoinbaseConfig>("product = [\"BTC-USD\"]").unwrap_err();
        assert!(err.to_string().contains("product"), "{err}");
    }

    #[test]
    fn validation_names_the_field() {
        let bad = |f: fn(&mut CoinbaseConfig)| {
            let mut c = CoinbaseConfig::default();
            f(&mut c);
            c.validate().unwrap_err()
        };
        assert!(bad(|c| c.ws_url = "https://x".into()).contains("ws_url"));
        assert!(
            bad(|c| c.ws_url = "wss://advanced-trade-ws.coinbase.com".into())
                .contains("Advanced Trade")
        );
        assert!(bad(|c| c.rest_url = "ftp://x".into()).contains("rest_url"));
        assert!(bad(|c| c.products.clear()).contains("products"));
        assert!(bad(|c| c.products = vec!["BTCUSD".into()]).contains("BTCUSD"));
        assert!(bad(|c| c.products = vec!["BTC-".into()]).contains("BTC-"));
        assert!(bad(|c| c.products = vec!["BTC/USD".into()]).contains("BTC/USD"));
        assert!(bad(|c| c.stale_after_secs = 0).contains("stale_after_secs"));
        assert!(bad(|c| c.depth_levels = 0).contains("depth_levels"));
        assert!(bad(|c| c.backfill_candles = 20_000).contains("backfill_candles"));
        assert!(bad(|c| c.backoff_initial_ms = 0).contains("backoff_initial_ms"));
        assert!(bad(|c| c.backoff_max_ms = 10).contains("backoff_initial_ms"));
        assert!(bad(|c| c.rest_timeout_secs = 0).contains("rest_timeout_secs"));
        assert!(bad(|c| c.rest_timeout_secs = 301).contains("rest_timeout_secs"));
        assert_eq!(
            CoinbaseConfig::default().rest_timeout(),
            std::time::Duration::from_secs(10)
        );
    }
}
