//! `[alphavantage]` in config.toml: every field optional, typos are errors. The API key is a
//! secret: it is never printed, logged or shown (its `Debug` is redacted).

use std::fmt;

use serde::Deserialize;

use crate::domain::{Interval, Symbol};

/// The environment variable that holds the key; it wins over `[alphavantage].api_key`.
pub const API_KEY_ENV: &str = "ALPHAVANTAGE_API_KEY";

/// What a missing key says.
pub const MISSING_KEY: &str = "Alpha Vantage needs an API key: set ALPHAVANTAGE_API_KEY or [alphavantage].api_key (free key at https://www.alphavantage.co/support/#api-key)";

/// An Alpha Vantage API key. Shown as `[redacted]` by `Debug`; read it with [`ApiKey::expose`].
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct ApiKey(String);

impl ApiKey {
    pub fn new(key: impl Into<String>) -> Self {
        ApiKey(key.into())
    }

    /// The key itself, for the request only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Replaces every occurrence of the key in `text` (error bodies, URLs, venue messages such as
    /// "We have detected your API key as ...") by `[redacted]`.
    pub fn redact(&self, text: &str) -> String {
        let key = self.0.trim();
        if key.is_empty() {
            text.to_string()
        } else {
            text.replace(key, "[redacted]")
        }
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey([redacted])")
    }
}

impl From<&str> for ApiKey {
    fn from(s: &str) -> Self {
        ApiKey::new(s)
    }
}

/// Which Alpha Vantage functions the polls call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
pub enum Mode {
    /// TIME_SERIES_INTRADAY once per symbol at start (charts and indicators warm at once), then
    /// GLOBAL_QUOTE, with every `candles_every`-th poll of a symbol fetching
    /// TIME_SERIES_INTRADAY instead to keep the candles current.
    #[default]
    #[serde(rename = "quote_and_candles")]
    QuoteAndCandles,
    /// GLOBAL_QUOTE only: price, day range, volume and change; no candles.
    #[serde(rename = "quote")]
    Quote,
    /// TIME_SERIES_INTRADAY only: candles; the price is the newest candle's close.
    #[serde(rename = "candles")]
    Candles,
}

#[derive(Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AlphaVantageConfig {
    /// API base, without a path: requests go to `{base_url}/query?function=...`. Point it at a
    /// proxy or a local server to test.
    pub base_url: String,
    /// The API key. The environment variable ALPHAVANTAGE_API_KEY, when set and not empty,
    /// overrides it (so the key can stay out of the file).
    pub api_key: Option<ApiKey>,
    /// US tickers as Alpha Vantage spells them (`IBM`, `AAPL`, `BRK.B`).
    pub symbols: Vec<String>,
    /// Candle interval of TIME_SERIES_INTRADAY: "1min", "5min", "15min" or "60min".
    pub interval: String,
    /// Requests per day the key allows (free keys: 25). Polls are spread evenly over what is
    /// left of the day; the count resets at midnight US/Eastern.
    pub requests_per_day: u32,
    /// Requests per minute the key allows (free keys: 5). Requests are spaced at least
    /// 60 s / requests_per_minute apart, so no minute ever holds more.
    pub requests_per_minute: u32,
    /// Which functions the polls call: "quote_and_candles", "quote" or "candles".
    pub mode: Mode,
    /// In "quote_and_candles" mode, every Nth poll of a symbol fetches candles instead of the
    /// quote (1: every poll).
    pub candles_every: u32,
    /// A request that has not been answered in this long is abandoned and retried later.
    pub request_timeout_ms: u64,
    /// First wait after a failed request (network, HTTP error); doubles on each failure.
    pub backoff_initial_ms: u64,
    /// Longest wait after failed requests.
    pub backoff_max_ms: u64,
}

impl fmt::Debug for AlphaVantageConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AlphaVantageConfig")
            .field("base_url", &self.base_url)
            .field("api_key", &self.api_key.as_ref().map(|_| "[redacted]"))
            .field("symbols", &self.symbols)
            .field("interval", &self.interval)
            .field("requests_per_day", &self.requests_per_day)
            .field("requests_per_minute", &self.requests_per_minute)
            .field("mode", &self.mode)
            .field("candles_every", &self.candles_every)
            .field("request_timeout_ms", &self.request_timeout_ms)
            .field("backoff_initial_ms", &self.backoff_initial_ms)
            .field("backoff_max_ms", &self.backoff_max_ms)
            .finish()
    }
}

impl Default for AlphaVantageConfig {
    fn default() -> Self {
        AlphaVantageConfig {
            base_url: "https://www.alphavantage.co".into(),
            api_key: None,
            symbols: vec!["IBM".into(), "AAPL".into(), "MSFT".into()],
            interval: "5min".into(),
            requests_per_day: 25,
            requests_per_minute: 5,
            mode: Mode::QuoteAndCandles,
            candles_every: 2,
            request_timeout_ms: 30_000,
            backoff_initial_ms: 2_000,
            backoff_max_ms: 300_000,
        }
    }
}

/// The intervals of TIME_SERIES_INTRADAY that tickwatch has candles for.
const INTERVALS: [(&str, Interval); 4] = [
    ("1min", Interval::M1),
    ("5min", Interval::M5),
    ("15min", Interval::M15),
    ("60min", Interval::H1),
];

impl AlphaVantageConfig {
    /// Checks every field; the message names the field and says what is allowed. The key is
    /// checked by [`resolve_key`](Self::resolve_key), since it may come from the environment.
    pub fn validate(&self) -> Result<(), String> {
        let url = self.base_url.trim();
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(format!(
                "[alphavantage].base_url {:?} must start with http:// or https:// (e.g. https://www.alphavantage.co)",
                self.base_url
            ));
        }
        let symbols = self.parsed_symbols()?;
        self.candle_interval()?;
        if self.requests_per_day == 0 {
            return Err(
                "[alphavantage].requests_per_day must be at least 1 (free keys allow 25)".into(),
            );
        }
        if (self.requests_per_day as usize) < symbols.len() {
            return Err(format!(
                "[alphavantage].requests_per_day ({}) is below the number of symbols ({}): each symbol needs at least one request a day; list fewer symbols or raise the budget (free keys allow 25)",
                self.requests_per_day,
                symbols.len()
            ));
        }
        if self.requests_per_minute == 0 {
            return Err(
                "[alphavantage].requests_per_minute must be at least 1 (free keys allow 5)".into(),
            );
        }
        if self.candles_every == 0 {
            return Err(
                "[alphavantage].candles_every must be at least 1 (1: every poll fetches candles)"
                    .into(),
            );
        }
        if self.request_timeout_ms == 0 {
            return Err("[alphavantage].request_timeout_ms must be at least 1".into());
        }
        if self.backoff_initial_ms == 0 || self.backoff_initial_ms > self.backoff_max_ms {
            return Err(format!(
                "[alphavantage].backoff_initial_ms ({}) must be at least 1 and at most backoff_max_ms ({})",
                self.backoff_initial_ms, self.backoff_max_ms
            ));
        }
        Ok(())
    }

    /// The symbols, upper-cased and de-duplicated.
    pub fn parsed_symbols(&self) -> Result<Vec<Symbol>, String> {
        if self.symbols.is_empty() {
            return Err(
                "[alphavantage].symbols is empty; add at least one, e.g. [\"IBM\", \"AAPL\"]"
                    .into(),
            );
        }
        let mut out: Vec<Symbol> = Vec::new();
        for s in &self.symbols {
            let sym = Symbol::new(s).map_err(|e| format!("[alphavantage].symbols: {e}"))?;
            if !out.contains(&sym) {
                out.push(sym);
            }
        }
        Ok(out)
    }

    /// The candle interval for `interval` (60min is tickwatch's 1h).
    pub fn candle_interval(&self) -> Result<Interval, String> {
        let wanted = self.interval.trim();
        if let Some((_, iv)) = INTERVALS.iter().find(|(name, _)| *name == wanted) {
            return Ok(*iv);
        }
        let hint = if wanted == "30min" {
            " (tickwatch has no 30-minute candles; use 15min or 60min)"
        } else {
            ""
        };
        Err(format!(
            "[alphavantage].interval {:?} is not supported{hint}; use one of 1min, 5min, 15min, 60min",
            self.interval
        ))
    }

    /// Alpha Vantage's name for the configured interval ("5min").
    pub fn interval_name(&self) -> &str {
        self.interval.trim()
    }

    /// The key to use: `env` (the value of ALPHAVANTAGE_API_KEY) when set and not blank, else
    /// `api_key`; neither is an error that says where to put one.
    pub fn resolve_key(&self, env: Option<String>) -> Result<ApiKey, String> {
        let env = env.map(|k| k.trim().to_string()).filter(|k| !k.is_empty());
        if let Some(k) = env {
            return Ok(ApiKey(k));
        }
        match &self.api_key {
            Some(k) if !k.0.trim().is_empty() => Ok(ApiKey(k.0.trim().to_string())),
            _ => Err(MISSING_KEY.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_free_tier_and_valid() {
        let c = AlphaVantageConfig::default();
        assert_eq!(c.validate(), Ok(()));
        assert_eq!((c.requests_per_day, c.requests_per_minute), (25, 5));
        assert_eq!(c.candle_interval(), Ok(Interval::M5));
        let toml: AlphaVantageConfig = toml::from_str("").unwrap();
        assert_eq!(toml, c);
    }

    #[test]
    fn toml_fields_and_typos() {
        let c: AlphaVantageConfig = toml::from_str(
            "symbols = [\"ibm\", \"IBM\", \"brk.b\"]\ninterval = \"60min\"\nmode = \"quote\"\napi_key = \"K1\"\n",
        )
        .unwrap();
        assert_eq!(c.parsed_symbols().unwrap().len(), 2);
        assert_eq!(c.candle_interval(), Ok(Interval::H1));
        assert_eq!(c.mode, Mode::Quote);
        assert_eq!(c.api_key.as_ref().map(ApiKey::expose), Some("K1"));
        let err = toml::from_str::<AlphaVantageConfig>("symbol = [\"IBM\"]\n").unwrap_err();
        assert!(err.to_string().contains("unknown field"), "{err}");
        let err = toml::from_str::<AlphaVantageConfig>("mode = \"both\"\n").unwrap_err();
        assert!(err.to_string().contains("quote_and_candles"), "{err}");
    }

    #[test]
    fn validation_names_the_field_and_the_fix() {
        let bad = |f: fn(&mut AlphaVantageConfig)| {
            let mut c = AlphaVantageConfig::default();
            f(&mut c);
            c.validate().unwrap_err()
        };
        assert!(bad(|c| c.base_url = "www.alphavantage.co".into()).contains("base_url"));
        assert!(bad(|c| c.symbols.clear()).contains("symbols is empty"));
        assert!(bad(|c| c.symbols = vec!["IB M".into()]).contains("symbols"));
        let e = bad(|c| c.interval = "30min".into());
        assert!(e.contains("15min or 60min"), "{e}");
        assert!(bad(|c| c.interval = "1h".into()).contains("1min, 5min, 15min, 60min"));
        assert!(bad(|c| c.requests_per_day = 0).contains("requests_per_day"));
        let e = bad(|c| c.requests_per_day = 2);
        assert!(e.contains("number of symbols (3)"), "{e}");
        assert!(bad(|c| c.requests_per_minute = 0).contains("requests_per_minute"));
        assert!(bad(|c| c.candles_every = 0).contains("candles_every"));
        assert!(bad(|c| c.request_timeout_ms = 0).contains("request_timeout_ms"));
        assert!(bad(|c| c.backoff_initial_ms = 400_000).contains("backoff_max_ms"));
    }

    #[test]
    fn the_environment_wins_and_a_missing_key_says_where_to_put_one() {
        let mut c = AlphaVantageConfig::default();
        assert_eq!(c.resolve_key(None).unwrap_err(), MISSING_KEY);
        assert_eq!(c.resolve_key(Some("  ".into())).unwrap_err(), MISSING_KEY);
        c.api_key = Some("".into());
        assert_eq!(c.resolve_key(None).unwrap_err(), MISSING_KEY);
        c.api_key = Some("FROMFILE".into());
        assert_eq!(c.resolve_key(None).unwrap().expose(), "FROMFILE");
        assert_eq!(
            c.resolve_key(Some("FROMENV".into())).unwrap().expose(),
            "FROMENV"
        );
        assert_eq!(c.resolve_key(Some("".into())).unwrap().expose(), "FROMFILE");
    }

    #[test]
    fn the_key_never_shows_in_debug_or_redacted_text() {
        let c = AlphaVantageConfig {
            api_key: Some("SECRETKEY42".into()),
            ..AlphaVantageConfig::default()
        };
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("SECRETKEY42"), "{dbg}");
        assert!(dbg.contains("[redacted]"), "{dbg}");
        let k = ApiKey::new("SECRETKEY42");
        assert!(!format!("{k:?}").contains("SECRETKEY42"));
        assert_eq!(
            k.redact("We have detected your API key as SECRETKEY42 and ..."),
            "We have detected your API key as [redacted] and ..."
        );
        assert_eq!(ApiKey::new("").redact("abc"), "abc");
    }
}
