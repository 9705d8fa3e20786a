//! `[yahoo]` in config.toml: every field optional, typos are errors.

use serde::Deserialize;

use crate::domain::Symbol;

/// The most 1m candles the warm-up keeps: five days of a 24-hour market.
pub const MAX_WARM_CANDLES: usize = 5 * 1440;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct YahooConfig {
    /// The streamer, query included.
    pub ws_url: String,
    /// The chart and crumb API base, without a path.
    pub rest_url: String,
    /// Any page of Yahoo's that sets the anonymous session cookies the crumb needs (fetched
    /// first; its status does not matter, only its `Set-Cookie`).
    pub cookie_url: String,
    /// Yahoo symbols: stocks (AAPL), indices (^GSPC), FX (EURUSD=X), futures (ES=F), crypto
    /// (BTC-USD), other exchanges with a suffix (WSU.DE).
    pub symbols: Vec<String>,
    /// Ask the chart API for pre- and post-market bars too.
    pub include_pre_post: bool,
    /// Reconnect when nothing arrived for this long. Yahoo sends only on a change, so a quiet
    /// symbol can be silent for minutes in regular hours.
    pub stale_after_secs: u64,
    /// One REST request, from connecting to the last byte of the answer, fails after this long.
    pub rest_timeout_secs: u64,
    /// 1m candles kept per symbol at start, from the last five days (a US session is 390; 0
    /// turns the warm-up off).
    pub backfill_candles: usize,
    /// How often each symbol's closed 1m candles are fetched from the chart API (the streamer
    /// sends prices, not candles).
    pub candle_poll_secs: u64,
    /// First reconnect delay; it doubles on each failed attempt (with jitter).
    pub backoff_initial_ms: u64,
    /// Longest reconnect delay.
    pub backoff_max_ms: u64,
}

impl Default for YahooConfig {
    fn default() -> Self {
        YahooConfig {
            ws_url: "wss://streamer.finance.yahoo.com/?version=2".into(),
            rest_url: "https://query1.finance.yahoo.com".into(),
            cookie_url: "https://fc.yahoo.com".into(),
            symbols: ["AAPL", "^GSPC", "EURUSD=X", "ES=F"]
                .map(String::from)
                .to_vec(),
            include_pre_post: true,
            stale_after_secs: 300,
            rest_timeout_secs: 10,
            backfill_candles: 390,
            candle_poll_secs: 60,
            backoff_initial_ms: 500,
            backoff_max_ms: 60_000,
        }
    }
}

impl YahooConfig {
    /// Checks every field; the message names the field and says what is allowed.
    pub fn validate(&self) -> Result<(), String> {
        use crate::sources::live::config::{check_rest_url, check_timings, check_ws_url};
        check_ws_url(
            "yahoo",
            &self.ws_url,
            "wss://streamer.finance.yahoo.com/?version=2",
        )?;
        check_rest_url("yahoo", &self.rest_url, "https://query1.finance.yahoo.com")?;
        if !(self.cookie_url.starts_with("http://") || self.cookie_url.starts_with("https://")) {
            return Err(format!(
                "[yahoo].cookie_url {:?} must start with http:// or https:// (e.g. https://fc.yahoo.com)",
                self.cookie_url
            ));
        }
        self.parsed_symbols()?;
        if self.stale_after_secs < 10 {
            return Err(format!(
                "[yahoo].stale_after_secs is {}; use at least 10 (Yahoo sends only when a price changes)",
                self.stale_after_secs
            ));
        }
        check_timings(
            "yahoo",
            self.stale_after_secs,
            self.rest_timeout_secs,
            self.backoff_initial_ms,
            self.backoff_max_ms,
        )?;
        if self.backfill_candles > MAX_WARM_CANDLES {
            return Err(format!(
                "[yahoo].backfill_candles is {}; at most {MAX_WARM_CANDLES} (five days of 1m candles, all the chart API serves in one answer)",
                self.backfill_candles
            ));
        }
        if !(10..=3600).contains(&self.candle_poll_secs) {
            return Err(format!(
                "[yahoo].candle_poll_secs is {}; it must be between 10 and 3600 (each poll is one request per symbol, and Yahoo limits requests per IP)",
                self.candle_poll_secs
            ));
        }
        Ok(())
    }

    /// The symbols, upper-cased and de-duplicated, in the order given.
    pub fn parsed_symbols(&self) -> Result<Vec<Symbol>, String> {
        if self.symbols.is_empty() {
            return Err(
                "[yahoo].symbols is empty; add at least one, e.g. [\"AAPL\", \"^GSPC\"]".into(),
            );
        }
        let mut out: Vec<Symbol> = Vec::new();
        for s in &self.symbols {
            let sym = Symbol::new(s).map_err(|e| {
                format!("[yahoo].symbols: {e} (Yahoo symbols look like AAPL, ^GSPC, EURUSD=X, ES=F, BTC-USD, WSU.DE)")
            })?;
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
    fn defaults_are_the_real_endpoints_and_yahoo_symbols_parse() {
        let c = YahooConfig::default();
        assert_eq!(c.validate(), Ok(()));
        assert_eq!(c.ws_url, "wss://streamer.finance.yahoo.com/?version=2");
        assert_eq!(c.rest_url, "https://query1.finance.yahoo.com");
        let names: Vec<String> = c
            .parsed_symbols()
            .unwrap()
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(names, ["AAPL", "^GSPC", "EURUSD=X", "ES=F"]);
        let err = toml::from_str::<YahooConfig>("symbol = [\"AAPL\"]").unwrap_err();
        assert!(err.to_string().contains("symbol"), "{err}");
    }

    #[test]
    fn validation_names_the_field_and_the_fix() {
        let bad = |f: fn(&mut YahooConfig)| {
            let mut c = YahooConfig::default();
            f(&mut c);
            c.validate().unwrap_err()
        };
        assert!(bad(|c| c.ws_url = "https://x".into()).contains("ws_url"));
        assert!(bad(|c| c.rest_url = "x".into()).contains("rest_url"));
        assert!(bad(|c| c.symbols.clear()).contains("symbols"));
        let e = bad(|c| c.symbols = vec!["AAPL US".into()]);
        assert!(e.contains("^GSPC"), "{e}");
        assert!(bad(|c| c.stale_after_secs = 5).contains("stale_after_secs"));
        assert!(bad(|c| c.rest_timeout_secs = 0).contains("rest_timeout_secs"));
        assert!(bad(|c| c.cookie_url = "fc.yahoo.com".into()).contains("cookie_url"));
        assert!(bad(|c| c.backfill_candles = 10_000).contains("backfill_candles"));
        assert!(bad(|c| c.candle_poll_secs = 1).contains("candle_poll_secs"));
        assert!(bad(|c| c.backoff_initial_ms = 0).contains("backoff_initial_ms"));
    }
}
