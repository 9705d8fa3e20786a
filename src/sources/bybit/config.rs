//! `[bybit]` in config.toml: every field optional, typos are errors.

use serde::Deserialize;

use super::wire::{MAX_ARGS_CHARS_PER_CONNECTION, args_chars, topics};
use crate::domain::Symbol;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BybitConfig {
    /// The public spot stream, path included.
    pub ws_url: String,
    /// REST base, without a path.
    pub rest_url: String,
    /// Spot symbols as Bybit writes them: BTCUSDT.
    pub symbols: Vec<String>,
    /// Reconnect when no data arrived for this long.
    pub stale_after_secs: u64,
    /// 1m candles fetched per symbol at start (one `kline` request takes 1000).
    pub backfill_candles: usize,
    /// Keep a local order book per symbol (the `orderbook.50` topic, chained by `u`), for the
    /// ladder (`B`) and the liquidity alert rules.
    pub depth: bool,
    /// Levels of each side the ladder and the rules get from each book (Bybit sends 50).
    pub depth_levels: usize,
    /// One REST request, from connecting to the last byte of the answer, fails after this long.
    pub rest_timeout_secs: u64,
    pub backoff_initial_ms: u64,
    pub backoff_max_ms: u64,
}

impl Default for BybitConfig {
    fn default() -> Self {
        BybitConfig {
            ws_url: "wss://stream.bybit.com/v5/public/spot".into(),
            rest_url: "https://api.bybit.com".into(),
            symbols: ["BTCUSDT", "ETHUSDT"].map(String::from).to_vec(),
            stale_after_secs: 30,
            backfill_candles: 1000,
            depth: false,
            depth_levels: super::wire::BOOK_LEVELS,
            rest_timeout_secs: 10,
            // Bybit flags IPs that reconnect often (500 connections per 5 min at most)
            backoff_initial_ms: 500,
            backoff_max_ms: 60_000,
        }
    }
}

impl BybitConfig {
    /// Checks every field; the message names the field and says what is allowed.
    pub fn validate(&self) -> Result<(), String> {
        use crate::sources::live::config::{
            check_depth_levels, check_rest_url, check_timings, check_ws_url,
        };
        check_ws_url(
            "bybit",
            &self.ws_url,
            "wss://stream.bybit.com/v5/public/spot",
        )?;
        if self.ws_url.contains("/linear") || self.ws_url.contains("/inverse") {
            return Err(format!(
                "[bybit].ws_url {:?} is a derivatives stream; tickwatch reads spot: use wss://stream.bybit.com/v5/public/spot",
                self.ws_url
            ));
        }
        check_rest_url("bybit", &self.rest_url, "https://api.bybit.com")?;
        let symbols = self.parsed_symbols()?;
        let chars: usize = symbols
            .iter()
            .map(|s| args_chars(&topics(s, self.depth)))
            .sum();
        if chars > MAX_ARGS_CHARS_PER_CONNECTION {
            return Err(format!(
                "[bybit].symbols: {} symbols need {chars} characters of topics, more than the {MAX_ARGS_CHARS_PER_CONNECTION} Bybit allows on one connection; list fewer",
                symbols.len()
            ));
        }
        check_depth_levels("bybit", self.depth_levels, super::wire::BOOK_LEVELS)?;
        check_timings(
            "bybit",
            self.stale_after_secs,
            self.rest_timeout_secs,
            self.backoff_initial_ms,
            self.backoff_max_ms,
        )?;
        Ok(())
    }

    /// The symbols, upper-cased and de-duplicated, in the order given.
    pub fn parsed_symbols(&self) -> Result<Vec<Symbol>, String> {
        if self.symbols.is_empty() {
            return Err("[bybit].symbols is empty; add at least one, e.g. [\"BTCUSDT\"]".into());
        }
        let mut out: Vec<Symbol> = Vec::new();
        for s in &self.symbols {
            let sym = Symbol::new(s).map_err(|e| format!("[bybit].symbols: {e}"))?;
            if !sym.as_str().bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(format!(
                    "[bybit].symbols: \"{sym}\" is not a Bybit spot symbol (letters and digits only, e.g. BTCUSDT, not BTC-USDT or BTC/USDT)"
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
    fn defaults_are_the_real_endpoints_and_typos_are_refused() {
        let c = BybitConfig::default();
        assert_eq!(c.validate(), Ok(()));
        assert_eq!(c.ws_url, "wss://stream.bybit.com/v5/public/spot");
        assert_eq!(c.rest_url, "https://api.bybit.com");
        let cfg: BybitConfig = toml::from_str("symbols = [\"solusdt\", \"SOLUSDT\"]").unwrap();
        assert_eq!(cfg.parsed_symbols().unwrap().len(), 1);
        let err = toml::from_str::<BybitConfig>("simbols = [\"BTCUSDT\"]").unwrap_err();
        assert!(err.to_string().contains("simbols"), "{err}");
    }

    #[test]
    fn validation_names_the_field_and_the_fix() {
        let bad = |f: fn(&mut BybitConfig)| {
            let mut c = BybitConfig::default();
            f(&mut c);
            c.validate().unwrap_err()
        };
        assert!(bad(|c| c.ws_url = "https://x".into()).contains("ws_url"));
        let e = bad(|c| c.ws_url = "wss://stream.bybit.com/v5/public/linear".into());
        assert!(e.contains("derivatives") && e.contains("/spot"), "{e}");
        assert!(bad(|c| c.rest_url = "ftp://x".into()).contains("rest_url"));
        assert!(bad(|c| c.symbols.clear()).contains("symbols"));
        assert!(bad(|c| c.symbols = vec!["BTC-USDT".into()]).contains("BTCUSDT"));
        let e = bad(|c| c.symbols = (0..400).map(|i| format!("COIN{i}USDT")).collect());
        assert!(e.contains("21000"), "{e}");
        assert!(bad(|c| c.depth_levels = 51).contains("between 1 and 50"));
        assert!(bad(|c| c.stale_after_secs = 0).contains("stale_after_secs"));
        assert!(bad(|c| c.rest_timeout_secs = 301).contains("rest_timeout_secs"));
        assert!(bad(|c| c.backoff_initial_ms = 0).contains("backoff_initial_ms"));
    }
}
