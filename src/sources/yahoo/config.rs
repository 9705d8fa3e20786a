//! `[yahoo]` in config.toml: every field optional, typos are errors.

use serde::Deserialize;

use crate::domain::Symbol;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct YahooConfig {
    /// The streamer, query included.
    pub ws_url: String,
    /// The chart and crumb API base, without a path.
    pub rest_url: String,
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
}

impl Default for YahooConfig {
    fn default() -> Self {
        YahooConfig {
            ws_url: "wss://streamer.finance.yahoo.com/?version=2".into(),
            rest_url: "https://query1.finance.yahoo.com".into(),
            symbols: ["AAPL", "^GSPC", "EURUSD=X", "ES=F"]
                .map(String::from)
                .to_vec(),
            include_pre_post: true,
            stale_after_secs: 300,
            rest_timeout_secs: 10,
        }
    }
}

impl YahooConfig {
    /// Checks every field; the message names the field and says what is allowed.
    pub fn validate(&self) -> Result<(), String> {
        if !(self.ws_url.starts_with("ws://") || self.ws_url.starts_with("wss://")) {
            return Err(format!(
                "[yahoo].ws_url {:?} must start with ws:// or wss:// (e.g. wss://streamer.finance.yahoo.com/?version=2)",
                self.ws_url
            ));
        }
        if !(self.rest_url.starts_with("http://") || self.rest_url.starts_with("https://")) {
            return Err(format!(
                "[yahoo].rest_url {:?} must start with http:// or https:// (e.g. https://query1.finance.yahoo.com)",
                self.rest_url
            ));
        }
        self.parsed_symbols()?;
        if self.stale_after_secs < 10 {
            return Err(format!(
                "[yahoo].stale_after_secs is {}; use at least 10 (Yahoo sends only when a price changes)",
                self.stale_after_secs
            ));
        }
        if !(1..=300).contains(&self.rest_timeout_secs) {
            return Err(format!(
                "[yahoo].rest_timeout_secs is {}; it must be between 1 and 300 (seconds for one REST request)",
                self.rest_timeout_secs
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
    }
}
