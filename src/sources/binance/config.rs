//! `[binance]` in config.toml: every field optional, typos are errors.

use serde::Deserialize;

use crate::domain::Symbol;

/// Which trade stream to subscribe to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
pub enum TradeStream {
    /// `@aggTrade`: ids are aggregate ids, which `GET /api/v3/aggTrades?fromId=` can replay, so
    /// holes after a reconnect are filled exactly.
    #[default]
    #[serde(rename = "aggTrade")]
    AggTrade,
    /// `@trade`: every fill; holes can only be filled with candles.
    #[serde(rename = "trade")]
    Trade,
}

impl TradeStream {
    pub fn suffix(self) -> &'static str {
        match self {
            TradeStream::AggTrade => "aggTrade",
            TradeStream::Trade => "trade",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BinanceConfig {
    /// WebSocket base, without a path (`/ws` is appended).
    pub ws_url: String,
    /// REST base, without a path.
    pub rest_url: String,
    pub symbols: Vec<String>,
    pub trade_stream: TradeStream,
    /// Subscribe to `@kline_1m`.
    pub klines: bool,
    /// Subscribe to `@miniTicker` (24h statistics).
    pub mini_ticker: bool,
    /// Subscribe to `@bookTicker` (best bid/ask).
    pub book_ticker: bool,
    /// Keep a local order book per symbol (`@depth@100ms` diffs against a REST snapshot), for
    /// the ladder (`B`).
    pub depth: bool,
    /// Levels of each side the ladder gets from each book.
    pub depth_levels: usize,
    /// Reconnect when no data arrived for this long.
    pub stale_after_secs: u64,
    /// 1m candles fetched per symbol at start so charts and indicators are warm at once.
    pub backfill_candles: usize,
    /// One REST request, from connecting to the last byte of the answer, fails after this long.
    pub rest_timeout_secs: u64,
    /// Binance allows 1024 streams per connection; beyond that symbols are spread over several.
    pub max_streams_per_connection: usize,
    /// Binance ends connections after 24 h; a fresh one is opened before that.
    pub rollover_hours: f64,
    pub backoff_initial_ms: u64,
    pub backoff_max_ms: u64,
}

impl Default for BinanceConfig {
    fn default() -> Self {
        BinanceConfig {
            ws_url: "wss://stream.binance.com:9443".into(),
            rest_url: "https://api.binance.com".into(),
            // the shipped config.toml's (and the README's) pairs
            symbols: [
                "BTCUSDT", "ETHUSDT", "SOLUSDT", "BNBUSDT", "XRPUSDT", "DOGEUSDT",
            ]
            .map(String::from)
            .to_vec(),
            trade_stream: TradeStream::AggTrade,
            klines: true,
            mini_ticker: true,
            book_ticker: false,
            depth: false,
            depth_levels: 100,
            stale_after_secs: 30,
            backfill_candles: 1000,
            rest_timeout_secs: 10,
            max_streams_per_connection: 1024,
            rollover_hours: 23.5,
            backoff_initial_ms: 125,
            backoff_max_ms: 60_000,
        }
    }
}

impl BinanceConfig {
    /// Checks every field; the message names the field and says what is allowed.
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=1000).contains(&self.depth_levels) {
            return Err(format!(
                "[binance].depth_levels is {}; it must be between 1 and 1000 (levels of each side the ladder shows)",
                self.depth_levels
            ));
        }
        if !(self.ws_url.starts_with("ws://") || self.ws_url.starts_with("wss://")) {
            return Err(format!(
                "[binance].ws_url {:?} must start with ws:// or wss:// (e.g. wss://stream.binance.com:9443)",
                self.ws_url
            ));
        }
        if !(self.rest_url.starts_with("http://") || self.rest_url.starts_with("https://")) {
            return Err(format!(
                "[binance].rest_url {:?} must start with http:// or https:// (e.g. https://api.binance.com)",
                self.rest_url
            ));
        }
        self.parsed_symbols()?;
        if self.stale_after_secs == 0 {
            return Err("[binance].stale_after_secs must be at least 1".into());
        }
        if !(1..=300).contains(&self.rest_timeout_secs) {
            return Err(format!(
                "[binance].rest_timeout_secs is {}; it must be between 1 and 300 (seconds for one REST request)",
                self.rest_timeout_secs
            ));
        }
        if !(1..=1024).contains(&self.max_streams_per_connection) {
            return Err(format!(
                "[binance].max_streams_per_connection is {}; Binance allows 1 to 1024",
                self.max_streams_per_connection
            ));
        }
        if !(self.rollover_hours > 0.0 && self.rollover_hours < 24.0) {
            return Err(format!(
                "[binance].rollover_hours is {}; it must be above 0 and below 24 (Binance closes connections after 24 h)",
                self.rollover_hours
            ));
        }
        if self.backoff_initial_ms == 0 || self.backoff_initial_ms > self.backoff_max_ms {
            return Err(format!(
                "[binance].backoff_initial_ms ({}) must be at least 1 and at most backoff_max_ms ({})",
                self.backoff_initial_ms, self.backoff_max_ms
            ));
        }
        Ok(())
    }

    /// The total time one REST request may take.
    pub fn rest_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.rest_timeout_secs)
    }

    /// The symbols, upper-cased and de-duplicated.
    pub fn parsed_symbols(&self) -> Result<Vec<Symbol>, String> {
        if self.symbols.is_empty() {
            return Err("[binance].symbols is empty; add at least one, e.g. [\"BTCUSDT\"]".into());
        }
        let mut out: Vec<Symbol> = Vec::new();
        for s in &self.symbols {
            let sym = Symbol::new(s).map_err(|e| format!("[binance].symbols: {e}"))?;
            if !sym.as_str().bytes().all(|b| b.is_ascii_alphanumeric()) {
                return Err(format!(
                    "[binance].symbols: \"{sym}\" is not a Binance symbol (letters and digits only, e.g. BTCUSDT)"
                ));
            }
            if !out.contains(&sym) {
                out.push(sym);
            }
        }
        Ok(out)
    }

    /// Streams per symbol with this configuration.
    pub fn streams_per_symbol(&self) -> usize {
        1 + usize::from(self.klines)
            + usize::from(self.mini_ticker)
            + usize::from(self.book_ticker)
            + usize::from(self.depth)
    }

    /// Stream names for `symbols` (lower-case symbol, as Binance requires).
    pub fn streams(&self, symbols: &[Symbol]) -> Vec<String> {
        let mut out = Vec::with_capacity(symbols.len() * self.streams_per_symbol());
        for s in symbols {
            let lower = s.as_str().to_ascii_lowercase();
            out.push(format!("{lower}@{}", self.trade_stream.suffix()));
            if self.klines {
                out.push(format!("{lower}@kline_1m"));
            }
            if self.mini_ticker {
                out.push(format!("{lower}@miniTicker"));
            }
            if self.book_ticker {
                out.push(format!("{lower}@bookTicker"));
            }
            if self.depth {
                out.push(format!("{lower}@depth@100ms"));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_typos_are_refused() {
        assert_eq!(BinanceConfig::default().validate(), Ok(()));
        let cfg: BinanceConfig =
            toml::from_str("symbols = [\"btcusdt\"]\ntrade_stream = \"trade\"").unwrap();
        assert_eq!(cfg.trade_stream, TradeStream::Trade);
        assert_eq!(cfg.stale_after_secs, 30);
        let err = toml::from_str::<BinanceConfig>("simbols = [\"BTCUSDT\"]").unwrap_err();
        assert!(err.to_string().contains("simbols"), "{err}");
        assert!(toml::from_str::<BinanceConfig>("trade_stream = \"agg\"").is_err());
    }

    #[test]
    fn validation_names_the_field() {
        let bad = |f: fn(&mut BinanceConfig)| {
            let mut c = BinanceConfig::default();
            f(&mut c);
            c.validate().unwrap_err()
        };
        assert!(bad(|c| c.ws_url = "http://x".into()).contains("ws_url"));
        assert!(bad(|c| c.rest_url = "ftp://x".into()).contains("rest_url"));
        assert!(bad(|c| c.symbols.clear()).contains("symbols"));
        assert!(bad(|c| c.symbols = vec!["BTC-USD".into()]).contains("BTC-USD"));
        assert!(bad(|c| c.max_streams_per_connection = 2000).contains("1024"));
        assert!(bad(|c| c.rollover_hours = 24.0).contains("rollover_hours"));
        assert!(bad(|c| c.backoff_initial_ms = 0).contains("backoff_initial_ms"));
        assert!(bad(|c| c.stale_after_secs = 0).contains("stale_after_secs"));
        assert!(bad(|c| c.rest_timeout_secs = 0).contains("rest_timeout_secs"));
        assert!(bad(|c| c.rest_timeout_secs = 301).contains("rest_timeout_secs"));
        assert_eq!(
            BinanceConfig::default().rest_timeout(),
            std::time::Duration::from_secs(10)
        );
    }

    #[test]
    fn streams_are_lower_case_per_symbol() {
        let c = BinanceConfig::default();
        let s = c.streams(&[Symbol::new("BTCUSDT").unwrap()]);
        assert_eq!(
            s,
            vec!["btcusdt@aggTrade", "btcusdt@kline_1m", "btcusdt@miniTicker"]
        );
    }
}
