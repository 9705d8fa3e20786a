//! `[okx]` in config.toml: every field optional, typos are errors.

use serde::Deserialize;

use super::MAX_RECENT_CANDLES;
use crate::domain::Symbol;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OkxConfig {
    /// The public WebSocket endpoint (trades, tickers), used as given.
    pub ws_url: String,
    /// The REST base, without a path (trade refill and warm-up candles).
    pub rest_url: String,
    /// Spot instrument ids, base and quote joined by '-' (`BTC-USDT`).
    pub symbols: Vec<String>,
    /// 1m candles fetched per instrument at start (OKX serves the last 1,440; 0 turns the
    /// warm-up off).
    pub backfill_candles: usize,
    /// Keep a local order book per instrument (the `books` channel, checksummed), for the
    /// ladder (`B`) and the liquidity alert rules.
    pub depth: bool,
    /// Levels of each side the ladder and the rules get from each book (OKX keeps 400).
    pub depth_levels: usize,
    /// Reconnect when nothing at all arrived for this long.
    pub stale_after_secs: u64,
    /// One REST request, from connecting to the last byte of the answer, fails after this long.
    pub rest_timeout_secs: u64,
    /// First reconnect delay; it doubles on each failed attempt (with jitter).
    pub backoff_initial_ms: u64,
    /// Longest reconnect delay.
    pub backoff_max_ms: u64,
}

impl Default for OkxConfig {
    fn default() -> Self {
        OkxConfig {
            ws_url: "wss://ws.okx.com:8443/ws/v5/public".into(),
            rest_url: "https://www.okx.com".into(),
            symbols: vec!["BTC-USDT".into(), "ETH-USDT".into()],
            backfill_candles: 300,
            depth: false,
            depth_levels: 100,
            stale_after_secs: 30,
            rest_timeout_secs: 10,
            backoff_initial_ms: 125,
            backoff_max_ms: 60_000,
        }
    }
}

impl OkxConfig {
    /// Checks every field; the message names the field and says what is allowed.
    pub fn validate(&self) -> Result<(), String> {
        use crate::sources::live::config::{
            check_depth_levels, check_rest_url, check_timings, check_ws_url,
        };
        check_ws_url("okx", &self.ws_url, "wss://ws.okx.com:8443/ws/v5/public")?;
        check_rest_url("okx", &self.rest_url, "https://www.okx.com")?;
        self.parsed_symbols()?;
        check_depth_levels("okx", self.depth_levels, super::BOOK_LEVELS)?;
        check_timings(
            "okx",
            self.stale_after_secs,
            self.rest_timeout_secs,
            self.backoff_initial_ms,
            self.backoff_max_ms,
        )?;
        if self.backfill_candles > MAX_RECENT_CANDLES {
            return Err(format!(
                "[okx].backfill_candles is {}; OKX serves at most the last {MAX_RECENT_CANDLES} 1m candles",
                self.backfill_candles
            ));
        }
        Ok(())
    }

    /// The instrument ids, upper-cased and de-duplicated, in the order given.
    pub fn parsed_symbols(&self) -> Result<Vec<Symbol>, String> {
        if self.symbols.is_empty() {
            return Err("[okx].symbols is empty; add at least one, e.g. [\"BTC-USDT\"]".into());
        }
        let mut out: Vec<Symbol> = Vec::new();
        for s in &self.symbols {
            let sym = Symbol::new(s).map_err(|e| format!("[okx].symbols: {e}"))?;
            let text = sym.as_str();
            let parts: Vec<&str> = text.split('-').collect();
            let ok = parts.len() == 2
                && parts
                    .iter()
                    .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric()));
            if !ok {
                return Err(format!(
                    "[okx].symbols: {text:?} is not an OKX spot instrument id (base and quote joined by '-', e.g. BTC-USDT; swaps and futures such as BTC-USDT-SWAP are not supported)"
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
        assert_eq!(OkxConfig::default().validate(), Ok(()));
        let cfg: OkxConfig = toml::from_str("symbols = [\"eth-usdc\", \"ETH-USDC\"]").unwrap();
        assert_eq!(
            cfg.parsed_symbols().unwrap(),
            vec![Symbol::new("ETH-USDC").unwrap()]
        );
        let err = toml::from_str::<OkxConfig>("ws = \"wss://x\"").unwrap_err();
        assert!(err.to_string().contains("ws"), "{err}");
    }

    #[test]
    fn validation_says_what_is_wrong_and_what_to_write() {
        let bad = |f: fn(&mut OkxConfig)| {
            let mut c = OkxConfig::default();
            f(&mut c);
            c.validate().unwrap_err()
        };
        assert!(bad(|c| c.ws_url = "https://ws.okx.com".into()).contains("ws_url"));
        assert!(bad(|c| c.rest_url = "www.okx.com".into()).contains("rest_url"));
        assert!(bad(|c| c.symbols.clear()).contains("BTC-USDT"));
        assert!(bad(|c| c.backfill_candles = 1441).contains("1440"));
        for wrong in ["BTCUSDT", "BTC/USDT", "BTC-USDT-SWAP", "-USDT"] {
            let c = OkxConfig {
                symbols: vec![wrong.into()],
                ..OkxConfig::default()
            };
            let e = c.validate().unwrap_err();
            assert!(e.contains("joined by '-'"), "{wrong}: {e}");
        }
    }
}
