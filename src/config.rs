//! config.toml: serde types with defaults for every field, validation, and errors that name the
//! line and column of the mistake.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::alerts::AlertRule;
use crate::alerts::rules::RuleConfig;
use crate::domain::Interval;
use crate::engine::EngineConfig;
use crate::indicators::IndicatorSpec;
use crate::sources::sim::SimConfig;
use crate::ui::keymap::Keymap;
use crate::ui::theme::{GlyphKind, ThemeName};

/// The whole file. Every field is optional; unknown keys are errors (a typo must not be ignored).
/// The defaults are those of the shipped `config.toml` (a test checks it).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Which sources the monitor and `record` run: "binance" (the default), "coinbase",
    /// "kraken", "okx", "bybit", "yahoo", "alphavantage", "sim", "nats" (a recorder's fan-out
    /// stream).
    pub sources: Vec<String>,
    pub ui: UiSection,
    pub engine: EngineSection,
    pub storage: StorageSection,
    pub sim: SimConfig,
    /// `[binance]`: the Binance spot live feed (used when "binance" is in `sources`).
    pub binance: crate::sources::binance::BinanceConfig,
    /// `[coinbase]`: the Coinbase Exchange feed (used when "coinbase" is in `sources`).
    pub coinbase: crate::sources::coinbase::CoinbaseConfig,
    /// `[kraken]`: Kraken spot over WebSocket v2 (used when "kraken" is in `sources`).
    pub kraken: crate::sources::kraken::KrakenConfig,
    /// `[okx]`: OKX spot over the public v5 WebSocket (used when "okx" is in `sources`).
    pub okx: crate::sources::okx::OkxConfig,
    /// `[bybit]`: Bybit spot over the public v5 WebSocket (used when "bybit" is in `sources`).
    pub bybit: crate::sources::bybit::BybitConfig,
    /// `[yahoo]`: Yahoo Finance stocks, indices, FX and futures (used when "yahoo" is in
    /// `sources`).
    pub yahoo: crate::sources::yahoo::YahooConfig,
    /// `[alphavantage]`: US stock quotes and intraday candles (used when "alphavantage" is in
    /// `sources`).
    pub alphavantage: crate::sources::alphavantage::AlphaVantageConfig,
    /// `[nats]`: the fan-out stream (read when "nats" is in `sources`; `record --publish`
    /// writes to its `stream`).
    pub nats: crate::sources::nats::NatsConfig,
    /// `[notify]`: alert sinks (desktop, terminal, webhooks, email, commands) and delivery policy.
    pub notify: crate::alerts::sinks::NotifySection,
    pub log: LogSection,
    /// `[metrics]`: the Prometheus endpoint of `record`.
    pub metrics: MetricsSection,
    /// `[[alerts]]` rules.
    pub alerts: Vec<RuleConfig>,
    /// `[[watchlists]]`: named groups of symbols, switched with `w` in the monitor.
    pub watchlists: Vec<WatchlistConfig>,
    /// `[keys]`: action name = key or [keys], replacing that action's default keys.
    pub keys: BTreeMap<String, KeyList>,
    /// `[portfolio]`: base currency, accounting method, prices and hand-written entries.
    pub portfolio: crate::portfolio::config::PortfolioSection,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            sources: vec!["binance".into()],
            ui: UiSection::default(),
            engine: EngineSection::default(),
            storage: StorageSection::default(),
            sim: SimConfig::default(),
            binance: Default::default(),
            coinbase: Default::default(),
            kraken: Default::default(),
            okx: Default::default(),
            bybit: Default::default(),
            yahoo: Default::default(),
            alphavantage: Default::default(),
            nats: Default::default(),
            notify: Default::default(),
            log: LogSection::default(),
            metrics: MetricsSection::default(),
            alerts: Vec::new(),
            watchlists: Vec::new(),
            keys: BTreeMap::new(),
            portfolio: Default::default(),
        }
    }
}

/// The shipped, commented `config.toml`: what `tickwatch init` writes.
pub const SHIPPED: &str = include_str!("../config.toml");

/// One named watchlist. Symbols are "BTCUSDT" (at whichever running source lists it) or
/// "venue:SYMBOL" ("coinbase:BTC-USD").
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WatchlistConfig {
    pub name: String,
    pub symbols: Vec<String>,
}

/// A key or several, in `[keys]`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(untagged)]
pub enum KeyList {
    One(String),
    Many(Vec<String>),
}

impl KeyList {
    pub fn to_vec(&self) -> Vec<String> {
        match self {
            KeyList::One(k) => vec![k.clone()],
            KeyList::Many(v) => v.clone(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UiSection {
    /// Frame-rate cap.
    pub fps: f64,
    /// A symbol or source with no data for this long is shown as stale.
    pub stale_after_secs: u64,
    /// The interval shown at start.
    pub interval: String,
    /// "dark", "light" or "mono" (no colours; also whenever NO_COLOR is set).
    pub theme: String,
    /// "unicode" (braille lines), "block" (no braille) or "ascii" (`--ascii`).
    pub glyphs: String,
}

impl Default for UiSection {
    fn default() -> Self {
        UiSection {
            fps: 30.0,
            stale_after_secs: 15,
            interval: "1m".into(),
            theme: "dark".into(),
            glyphs: "unicode".into(),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EngineSection {
    /// Indicators computed on every closed candle: sma20, ema20, rsi14, bb20 (or bb20_2.5),
    /// macd (or macd12_26_9), z (or z100).
    pub indicators: Vec<String>,
    pub candle_capacity: usize,
    pub tick_capacity: usize,
    /// Capacity of the ring between sources and engine, in batches.
    pub ring_capacity: usize,
    /// ...and in events, whichever is reached first: what bounds the ring's memory (about
    /// 100 bytes an event) whatever the sources' batch sizes.
    pub ring_events: usize,
    pub tick_z_span: usize,
    pub tick_z_warmup: usize,
}

impl Default for EngineSection {
    fn default() -> Self {
        let d = EngineConfig::default();
        EngineSection {
            indicators: IndicatorSpec::default_set()
                .iter()
                .map(IndicatorSpec::label)
                .collect(),
            candle_capacity: d.candle_capacity,
            tick_capacity: d.tick_capacity,
            ring_capacity: 1_024,
            ring_events: 262_144,
            tick_z_span: d.tick_z_span,
            tick_z_warmup: d.tick_z_warmup,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageSection {
    /// Database file; default: the platform data directory. `--db` overrides it.
    pub db: Option<PathBuf>,
    /// Store every trade (candles, indicators and alerts are always stored).
    pub persist_trades: bool,
    /// Rows the engine may queue in memory while the disk is slow before it waits for the
    /// disk (and live feeds start dropping at the ring: counted, and trades refilled).
    pub max_pending_rows: u64,
    /// PostgreSQL: drop trade partitions (days) older than this many days. Unset: keep all.
    pub retention_days: Option<u32>,
    /// Store the top levels of every local order book (`[<venue>] depth = true`) this often,
    /// in seconds, into `book_snapshots`. 0 (the default): books are not stored.
    pub book_snapshot_secs: f64,
    /// Levels of each side stored per book snapshot.
    pub book_snapshot_levels: usize,
}

/// At most this many levels of each side per stored book snapshot.
pub const MAX_BOOK_SNAPSHOT_LEVELS: usize = 1000;

impl StorageSection {
    fn validate(&self) -> Result<(), (&'static str, String)> {
        let secs = self.book_snapshot_secs;
        if !(secs == 0.0 || (secs.is_finite() && (0.1..=86_400.0).contains(&secs))) {
            return Err((
                "book_snapshot_secs",
                format!(
                    "[storage].book_snapshot_secs = {secs}: give the seconds between stored book snapshots, from 0.1 to 86400, or 0 to store none"
                ),
            ));
        }
        if !(1..=MAX_BOOK_SNAPSHOT_LEVELS).contains(&self.book_snapshot_levels) {
            return Err((
                "book_snapshot_levels",
                format!(
                    "[storage].book_snapshot_levels = {}: give the levels of each side to store, from 1 to {MAX_BOOK_SNAPSHOT_LEVELS}",
                    self.book_snapshot_levels
                ),
            ));
        }
        Ok(())
    }
}

impl Default for StorageSection {
    fn default() -> Self {
        StorageSection {
            db: None,
            persist_trades: true,
            max_pending_rows: 200_000,
            retention_days: None,
            book_snapshot_secs: 0.0,
            book_snapshot_levels: 10,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogSection {
    /// Log file; default: tickwatch.log in the platform data directory.
    pub file: Option<PathBuf>,
    /// error, warn, info, debug or trace (or a tracing filter like "tickwatch=debug").
    pub level: String,
}

impl Default for LogSection {
    fn default() -> Self {
        LogSection {
            file: None,
            level: "info".into(),
        }
    }
}

/// `[metrics]`. Read by `record` only: a monitor opened beside a recorder with the same config
/// would find the port taken (the monitor serves with `--metrics`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsSection {
    /// HOST:PORT for GET /metrics and GET /healthz (e.g. "127.0.0.1:9464"); `--metrics`
    /// overrides it. Default: no endpoint.
    pub listen: Option<String>,
}

/// A configuration mistake, with where it is.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}{}: {message}", path.display(), location.map(|(l, c)| format!(":{l}:{c}")).unwrap_or_default())]
pub struct ConfigError {
    pub path: PathBuf,
    /// 1-based line and column.
    pub location: Option<(usize, usize)>,
    pub message: String,
}

/// The validated settings every command uses.
#[derive(Debug, Clone)]
pub struct Settings {
    pub config: Config,
    /// Where it came from (None: built-in defaults).
    pub path: Option<PathBuf>,
    pub engine: EngineConfig,
    pub interval: Interval,
    pub frame: Duration,
    pub stale_after: Duration,
    pub theme: ThemeName,
    pub glyphs: GlyphKind,
    pub keymap: Keymap,
}

pub const KNOWN_SOURCES: [&str; 9] = [
    "sim",
    "binance",
    "coinbase",
    "kraken",
    "okx",
    "bybit",
    "yahoo",
    "alphavantage",
    "nats",
];

impl Config {
    /// Parses and validates `text` (read from `path`, used in messages).
    pub fn parse(text: &str, path: &Path) -> Result<Settings, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|e| ConfigError {
            path: path.to_path_buf(),
            location: e.span().map(|s| line_col(text, s.start)),
            message: plain_type_names(e.message().trim()),
        })?;
        config.validate(Some(text), path)
    }

    /// Built-in defaults (no file): Binance, like the shipped `config.toml`.
    pub fn defaults() -> Settings {
        match Config::default().validate(None, Path::new("<defaults>")) {
            Ok(s) => Settings { path: None, ..s },
            // The defaults are checked by a unit test; this cannot happen.
            Err(e) => panic!("built-in defaults are invalid: {e}"),
        }
    }

    /// Validates settings built in code (no file text to point into).
    pub fn into_settings(self, origin: &Path) -> Result<Settings, ConfigError> {
        self.validate(None, origin)
    }

    fn validate(self, text: Option<&str>, path: &Path) -> Result<Settings, ConfigError> {
        let err = |section: Option<&str>, key: &str, message: String| ConfigError {
            path: path.to_path_buf(),
            location: text.and_then(|t| locate(t, section, key)),
            message,
        };
        if self.sources.is_empty() {
            return Err(err(
                None,
                "sources",
                format!(
                    "sources is empty: list at least one, e.g. sources = [\"binance\"] (available: {}); `tickwatch --demo` runs the simulator without a config",
                    KNOWN_SOURCES.join(", ")
                ),
            ));
        }
        for s in &self.sources {
            if !KNOWN_SOURCES.contains(&s.as_str()) {
                return Err(err(
                    None,
                    "sources",
                    format!(
                        "unknown source {s:?}; available: {}",
                        KNOWN_SOURCES.join(", ")
                    ),
                ));
            }
        }
        let ui = &self.ui;
        if !(ui.fps.is_finite() && (1.0..=240.0).contains(&ui.fps)) {
            return Err(err(
                Some("ui"),
                "fps",
                format!("fps = {} must be between 1 and 240", ui.fps),
            ));
        }
        if ui.stale_after_secs == 0 {
            return Err(err(
                Some("ui"),
                "stale_after_secs",
                "stale_after_secs must be at least 1".into(),
            ));
        }
        let interval = ui
            .interval
            .parse::<Interval>()
            .map_err(|e| err(Some("ui"), "interval", e))?;
        let theme = ThemeName::parse(&ui.theme).map_err(|e| err(Some("ui"), "theme", e))?;
        let glyphs = GlyphKind::parse(&ui.glyphs).map_err(|e| err(Some("ui"), "glyphs", e))?;
        let overrides: BTreeMap<String, Vec<String>> = self
            .keys
            .iter()
            .map(|(k, v)| (k.clone(), v.to_vec()))
            .collect();
        let keymap = Keymap::with_overrides(&overrides).map_err(|e| {
            // point at the action named in the message when there is one
            let key = self
                .keys
                .keys()
                .find(|k| e.contains(&format!("{k:?}")) || e.starts_with(&format!("{k}:")))
                .map_or("", String::as_str);
            err(Some("keys"), key, format!("[keys]: {e}"))
        })?;
        let mut names: Vec<&str> = Vec::new();
        for (i, w) in self.watchlists.iter().enumerate() {
            let at_key = |key: &str, m: String| ConfigError {
                path: path.to_path_buf(),
                location: text.and_then(|t| locate_entry(t, "watchlists", i, key)),
                message: m,
            };
            let at = |m: String| at_key("symbols", m);
            if w.name.trim().is_empty() {
                return Err(at("[[watchlists]] name must not be empty".into()));
            }
            if let Some(c) = crate::domain::unsafe_name_char(&w.name) {
                return Err(at_key(
                    "name",
                    format!(
                        "[[watchlists]] name holds the invisible or control character {}: use visible characters only",
                        crate::domain::describe_char(c)
                    ),
                ));
            }
            if names.contains(&w.name.as_str()) {
                return Err(at(format!(
                    "two watchlists are named {:?}; give each its own name",
                    w.name
                )));
            }
            names.push(&w.name);
            for sym in &w.symbols {
                crate::domain::parse_watch_symbol(sym)
                    .map_err(|m| at(format!("watchlist {:?}: {m}", w.name)))?;
            }
        }
        let e = &self.engine;
        let mut indicators = Vec::new();
        for s in &e.indicators {
            indicators.push(
                IndicatorSpec::parse(s)
                    .map_err(|x| err(Some("engine"), "indicators", x.to_string()))?,
            );
        }
        for (key, v, min, max) in [
            ("candle_capacity", e.candle_capacity, 10, 1_000_000),
            ("tick_capacity", e.tick_capacity, 1, 1_000_000),
            ("ring_capacity", e.ring_capacity, 1, 1_000_000),
            ("ring_events", e.ring_events, 1_000, 100_000_000),
            ("tick_z_span", e.tick_z_span, 2, 1_000_000),
            ("tick_z_warmup", e.tick_z_warmup, 1, 1_000_000),
        ] {
            if !(min..=max).contains(&v) {
                return Err(err(
                    Some("engine"),
                    key,
                    format!("{key} = {v} must be between {min} and {max}"),
                ));
            }
        }
        if let Err(m) = self.sim.validate() {
            return Err(err(Some("sim"), first_word_key(&m), m.clone()));
        }
        if let Err(m) = self.binance.validate() {
            // messages name the key as "[binance].key"
            return Err(err(
                Some("binance"),
                section_key(&m, "[binance]."),
                m.clone(),
            ));
        }
        if let Err(m) = self.alphavantage.validate() {
            return Err(err(
                Some("alphavantage"),
                section_key(&m, "[alphavantage]."),
                m.clone(),
            ));
        }
        if let Err(m) = self.nats.validate() {
            return Err(err(Some("nats"), section_key(&m, "[nats]."), m.clone()));
        }
        if let Err(m) = self.coinbase.validate() {
            return Err(err(
                Some("coinbase"),
                section_key(&m, "[coinbase]."),
                m.clone(),
            ));
        }
        if let Err(m) = self.kraken.validate() {
            return Err(err(Some("kraken"), section_key(&m, "[kraken]."), m.clone()));
        }
        if let Err(m) = self.okx.validate() {
            return Err(err(Some("okx"), section_key(&m, "[okx]."), m.clone()));
        }
        if let Err(m) = self.bybit.validate() {
            return Err(err(Some("bybit"), section_key(&m, "[bybit]."), m.clone()));
        }
        if let Err(m) = self.portfolio.validate() {
            let key = section_key(&m, "[portfolio].");
            return Err(err(Some("portfolio"), key, m.clone()));
        }
        if let Err((key, m)) = self.storage.validate() {
            return Err(err(Some("storage"), key, m));
        }
        if let Err(m) = self.yahoo.validate() {
            return Err(err(Some("yahoo"), section_key(&m, "[yahoo]."), m.clone()));
        }
        for (section, key, value, schemes) in [
            ("yahoo", "ws_url", &self.yahoo.ws_url, WS),
            ("yahoo", "rest_url", &self.yahoo.rest_url, HTTP),
            ("yahoo", "cookie_url", &self.yahoo.cookie_url, HTTP),
            ("bybit", "ws_url", &self.bybit.ws_url, WS),
            ("bybit", "rest_url", &self.bybit.rest_url, HTTP),
            ("okx", "ws_url", &self.okx.ws_url, WS),
            ("okx", "rest_url", &self.okx.rest_url, HTTP),
            ("kraken", "ws_url", &self.kraken.ws_url, WS),
            ("kraken", "rest_url", &self.kraken.rest_url, HTTP),
            ("binance", "ws_url", &self.binance.ws_url, WS),
            ("binance", "rest_url", &self.binance.rest_url, HTTP),
            ("coinbase", "ws_url", &self.coinbase.ws_url, WS),
            ("coinbase", "rest_url", &self.coinbase.rest_url, HTTP),
            (
                "alphavantage",
                "base_url",
                &self.alphavantage.base_url,
                HTTP,
            ),
        ] {
            if let Err(m) = check_url(value, schemes) {
                return Err(err(Some(section), key, format!("[{section}].{key}: {m}")));
            }
        }
        if let Err(m) = self.notify.validate() {
            return Err(err(Some(m.section), m.key, m.message));
        }
        let mut rules: Vec<AlertRule> = Vec::new();
        for (i, r) in self.alerts.iter().enumerate() {
            rules.push(r.build().map_err(|x| ConfigError {
                path: path.to_path_buf(),
                // at the value the message is about, else at the rule
                location: text.and_then(|t| {
                    let key = rule_key(&x.reason);
                    locate_entry_value(t, "alerts", i, key)
                        .or_else(|| locate_entry(t, "alerts", i, "kind"))
                }),
                message: x.to_string(),
            })?);
        }
        let engine = EngineConfig {
            indicators,
            candle_capacity: e.candle_capacity,
            tick_capacity: e.tick_capacity,
            tick_z_span: e.tick_z_span,
            tick_z_warmup: e.tick_z_warmup,
            persist_trades: self.storage.persist_trades,
            book_snapshots: (self.storage.book_snapshot_secs > 0.0).then(|| {
                crate::engine::BookSnapshots {
                    every_ms: (self.storage.book_snapshot_secs * 1000.0).round() as i64,
                    levels: self.storage.book_snapshot_levels,
                }
            }),
            rules,
            notify_remote_alerts: self.nats.notify,
            ..EngineConfig::default()
        };
        Ok(Settings {
            frame: Duration::from_secs_f64(1.0 / ui.fps),
            stale_after: Duration::from_secs(ui.stale_after_secs),
            interval,
            theme,
            glyphs,
            keymap,
            engine,
            path: Some(path.to_path_buf()),
            config: self,
        })
    }
}

const WS: &[&str] = &["ws", "wss"];
const HTTP: &[&str] = &["http", "https"];

/// A URL with one of `schemes` and a host: `ws://` alone, or a path without a host, would only
/// fail later, at connect time, with a less helpful message.
fn check_url(value: &str, schemes: &[&str]) -> Result<(), String> {
    let example = if schemes == WS {
        "wss://stream.binance.com:9443"
    } else {
        "https://api.binance.com"
    };
    let url = reqwest::Url::parse(value.trim())
        .map_err(|e| format!("{value:?} is not a URL ({e}); write it like {example}"))?;
    if !schemes.contains(&url.scheme()) {
        return Err(format!(
            "{value:?} must start with {} (e.g. {example})",
            schemes
                .iter()
                .map(|s| format!("{s}://"))
                .collect::<Vec<_>>()
                .join(" or ")
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("{value:?} has no host; write it like {example}"));
    }
    Ok(())
}

/// serde's Rust type names (`expected f64`) in words a user knows.
fn plain_type_names(message: &str) -> String {
    const NAMES: [(&str, &str); 12] = [
        ("expected f64", "expected a number"),
        ("expected f32", "expected a number"),
        ("expected u64", "expected a whole number, 0 or more"),
        ("expected u32", "expected a whole number, 0 or more"),
        ("expected u16", "expected a whole number, 0 or more"),
        ("expected u8", "expected a whole number, 0 or more"),
        ("expected usize", "expected a whole number, 0 or more"),
        ("expected i64", "expected a whole number"),
        ("expected i32", "expected a whole number"),
        ("expected a sequence", "expected a list like [\"a\", \"b\"]"),
        ("expected a borrowed string", "expected a string in quotes"),
        ("expected a map", "expected a table"),
    ];
    let mut out = message.to_string();
    for (from, to) in NAMES {
        // whole words only: `u8` must not match inside `u8x`
        let mut at = 0;
        while let Some(i) = out[at..].find(from).map(|i| i + at) {
            let end = i + from.len();
            if out[end..].starts_with(|c: char| c.is_ascii_alphanumeric()) {
                at = end;
                continue;
            }
            out.replace_range(i..end, to);
            at = i + to.len();
        }
    }
    out
}

/// The key of an `[[alerts]]` entry that a rule error is about, so that the error points at
/// its value rather than at the rule.
fn rule_key(reason: &str) -> &'static str {
    const KEYS: [&str; 12] = [
        "interval",
        "window",
        "direction",
        "hysteresis",
        "cooldown_secs",
        "expires",
        "symbols",
        "name",
        "severity",
        "mode",
        "value",
        "on",
    ];
    // messages that start by naming a key: "`window` only applies..."
    if let Some(k) = KEYS.iter().find(|k| reason.starts_with(&format!("`{k}`"))) {
        return k;
    }
    let r = reason.to_ascii_lowercase();
    if r.contains("unknown interval") {
        "interval"
    } else if r.contains("remove `on") || r.contains("`on` applies") {
        "on"
    } else if r.contains("duration") || r.contains("needs a `window`") {
        "window"
    } else if r.contains("expiry") {
        "expires"
    } else if r.contains("hysteresis") {
        "hysteresis"
    } else if r.contains("symbol") {
        "symbols"
    } else {
        // a level out of range, a non-positive threshold, a non-finite number
        "value"
    }
}

/// The key a validation message names as `[section].key`.
fn section_key<'a>(msg: &'a str, prefix: &str) -> &'a str {
    msg.split(prefix)
        .nth(1)
        .and_then(|r| {
            r.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .next()
        })
        .unwrap_or("")
}

fn first_word_key(msg: &str) -> &str {
    // messages from SimConfig::validate start with "[sim] key ..."
    msg.strip_prefix("[sim] ")
        .and_then(|m| m.split_whitespace().next())
        .unwrap_or("")
}

/// Finds the config file: `explicit`, else ./config.toml, else the platform config directory.
pub fn find(explicit: Option<&Path>) -> Option<PathBuf> {
    if let Some(p) = explicit {
        return Some(p.to_path_buf());
    }
    let local = PathBuf::from("config.toml");
    if local.is_file() {
        return Some(local);
    }
    directories::ProjectDirs::from("", "", "tickwatch")
        .map(|d| d.config_dir().join("config.toml"))
        .filter(|p| p.is_file())
}

/// Loads the settings: the found file, or built-in defaults when there is none.
pub fn load(explicit: Option<&Path>) -> Result<Settings, ConfigError> {
    match find(explicit) {
        Some(path) => {
            let text = std::fs::read_to_string(&path).map_err(|e| ConfigError {
                path: path.clone(),
                location: None,
                message: format!("cannot read the config file: {e}"),
            })?;
            Config::parse(&text, &path)
        }
        None => Ok(Config::defaults()),
    }
}

fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// Line and column of `key = ...` in the `i`-th (0-based) `[[array]]` entry, else of that
/// entry's header: so that a mistake in the third rule points at the third rule.
fn locate_entry(text: &str, array: &str, i: usize, key: &str) -> Option<(usize, usize)> {
    let header = format!("[[{array}]]");
    let col = |l: &str| l.len() - l.trim_start().len() + 1;
    let mut lines = text.lines().enumerate();
    let (start, head) = lines
        .by_ref()
        .filter(|(_, l)| l.trim_start().starts_with(&header))
        .nth(i)?;
    for (n, line) in lines {
        let t = line.trim_start();
        if t.starts_with('[') {
            break;
        }
        if let Some(rest) = t.strip_prefix(key)
            && rest.trim_start().starts_with('=')
        {
            return Some((n + 1, col(line)));
        }
    }
    Some((start + 1, col(head)))
}

/// Line and column of the value of `key = value` in the `i`-th (0-based) `[[array]]` entry.
fn locate_entry_value(text: &str, array: &str, i: usize, key: &str) -> Option<(usize, usize)> {
    let (line, col) = locate_entry(text, array, i, key)?;
    let l = text.lines().nth(line - 1)?;
    let rest = l.get(col - 1..)?.strip_prefix(key)?.trim_start();
    let value = rest.strip_prefix('=')?.trim_start();
    Some((line, l.len() - value.len() + 1))
}

/// Line and column of `key = ...` inside `[section]` (or at the top level), for errors found
/// after parsing.
fn locate(text: &str, section: Option<&str>, key: &str) -> Option<(usize, usize)> {
    let mut current: Option<String> = None;
    for (n, line) in text.lines().enumerate() {
        let t = line.trim_start();
        if let Some(h) = t.strip_prefix('[') {
            let name = h
                .trim_start_matches('[')
                .split(']')
                .next()
                .unwrap_or("")
                .trim();
            current = Some(name.to_string());
            continue;
        }
        if current.as_deref() == section
            && let Some(rest) = t.strip_prefix(key)
            && rest.trim_start().starts_with('=')
        {
            return Some((n + 1, line.len() - t.len() + 1));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Settings, ConfigError> {
        Config::parse(text, Path::new("config.toml"))
    }

    #[test]
    fn display_keys_and_watchlists_are_checked_with_their_place() {
        let e = parse("[ui]\ntheme = \"solarized\"\n")
            .err()
            .unwrap_or_else(|| panic!());
        assert_eq!(e.location, Some((2, 1)));
        assert!(e.message.contains("dark"), "{e}");
        let e = parse("[ui]\nglyphs = \"emoji\"\n")
            .err()
            .unwrap_or_else(|| panic!());
        assert!(e.message.contains("ascii"), "{e}");
        let e = parse("[keys]\nteleport = \"t\"\n")
            .err()
            .unwrap_or_else(|| panic!());
        assert_eq!(e.location, Some((2, 1)), "{e}");
        assert!(e.message.contains("unknown action \"teleport\""), "{e}");
        let e = parse("[keys]\nquit = \"Hyper-q\"\n")
            .err()
            .unwrap_or_else(|| panic!());
        assert!(e.message.contains("unknown key"), "{e}");
        let e = parse(
            "[[watchlists]]\nname = \"a\"\nsymbols = [\"BTCUSDT\"]\n[[watchlists]]\nname = \"a\"\nsymbols = [\"nasdaq:AAPL\"]\n",
        )
        .err()
        .unwrap_or_else(|| panic!());
        assert!(e.message.contains("two watchlists are named"), "{e}");
        assert_eq!(e.location, Some((6, 1)), "{e}");
        let e = parse("[[watchlists]]\nname = \"b\"\nsymbols = [\"nasdaq:AAPL\"]\n")
            .err()
            .unwrap_or_else(|| panic!());
        assert!(e.message.contains("unknown venue \"nasdaq\""), "{e}");
        let ok = parse(
            "[ui]\ntheme = \"light\"\nglyphs = \"block\"\n[keys]\nquit = [\"Ctrl-q\"]\n[[watchlists]]\nname = \"m\"\nsymbols = [\"coinbase:btc-usd\"]\n",
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(ok.theme, ThemeName::Light);
        assert_eq!(ok.glyphs, GlyphKind::Block);
        assert_eq!(
            ok.keymap.keys_of(crate::ui::Action::Quit),
            "Ctrl-q / Ctrl-C"
        );
    }

    #[test]
    fn defaults_are_valid() {
        let s = Config::defaults();
        assert_eq!(s.interval, Interval::M1);
        assert_eq!(s.frame, Duration::from_secs_f64(1.0 / 30.0));
        assert_eq!(s.engine.indicators, IndicatorSpec::default_set());
        assert!(parse("").is_ok());
    }

    #[test]
    fn fps_is_converted_to_a_period_once() {
        let s = parse("[ui]\nfps = 10\n").unwrap();
        assert_eq!(s.frame, Duration::from_millis(100));
    }

    #[test]
    fn syntax_errors_and_unknown_keys_have_line_and_column() {
        let e = parse("[ui]\nfps = 30\nfsp = 3\n").unwrap_err();
        assert_eq!(e.location, Some((3, 1)), "{e}");
        assert!(e.message.contains("fsp"), "{e}");
        let e = parse("[ui]\nfps = \"fast\"\n").unwrap_err();
        assert_eq!(e.location.map(|l| l.0), Some(2), "{e}");
        let e = parse("sources = [\"sim\"\n").unwrap_err();
        assert!(e.location.is_some(), "{e}");
    }

    #[test]
    fn invalid_values_point_at_their_line() {
        let e = parse("[ui]\ninterval = \"1m\"\n\n[engine]\nindicators = [\"sma20\", \"wma9\"]\n")
            .unwrap_err();
        assert_eq!(e.location, Some((5, 1)), "{e}");
        assert!(e.to_string().starts_with("config.toml:5:1: "), "{e}");
        let e = parse("[ui]\n  fps = 0\n").unwrap_err();
        assert_eq!(e.location, Some((2, 3)));
        let e = parse("[ui]\ninterval = \"2m\"\n").unwrap_err();
        assert!(e.message.contains("unknown interval"), "{e}");
        let e = parse("sources = [\"bitstamp\"]\n").unwrap_err();
        assert!(e.message.contains("unknown source"), "{e}");
        let e = parse(
            "sources = [\"binance\"]\n[binance]\nsymbols = [\"BTCUSDT\"]\nstale_after_secs = 0\n",
        )
        .unwrap_err();
        assert_eq!(e.location, Some((4, 1)), "{e}");
        let e = parse("[binance]\nsymbol = [\"BTCUSDT\"]\n").unwrap_err();
        assert!(e.message.contains("symbol"), "{e}");
        let e = parse("[sim]\nrate = -5\n").unwrap_err();
        assert_eq!(e.location, Some((2, 1)), "{e}");
        let e = parse("[[alerts]]\nkind = \"rsi_above\"\nvalue = 700\n").unwrap_err();
        assert!(e.message.contains("between 0 and 100"), "{e}");
        // at the value the message is about
        assert_eq!(e.location, Some((3, 9)));
        // a mistake in the second rule points into the second rule
        let e = parse(
            "[[alerts]]\nkind = \"zscore\"\nvalue = 4\n\n[[alerts]]\nname = \"b\"\n  kind = \"rsi_above\"\nvalue = 700\n",
        )
        .unwrap_err();
        assert_eq!(e.location, Some((8, 9)), "{e}");
        // a rule mistake about no one key points at the rule's kind
        let e = parse("[[alerts]]\nkind = \"pct_change\"\nvalue = 2\n").unwrap_err();
        assert_eq!(e.location, Some((2, 1)), "{e}");
    }
}

#[cfg(test)]
mod shipped_tests {
    use super::*;

    /// With no config file tickwatch behaves as with the shipped one (what the README shows):
    /// every setting but the example rules, watchlists and key bindings is the same (and
    /// `book_ticker`, which the shipped file turns on and says so).
    #[test]
    fn built_in_defaults_are_the_shipped_config() {
        let mut shipped: Config = toml::from_str(SHIPPED).unwrap_or_else(|e| panic!("{e}"));
        assert!(shipped.binance.book_ticker);
        shipped.binance.book_ticker = false;
        let d = Config::default();
        assert_eq!(d.sources, vec!["binance".to_string()]);
        let sections = |c: &Config| {
            [
                format!("{:?}", c.sources),
                format!("{:?}", c.ui),
                format!("{:?}", c.engine),
                format!("{:?}", c.storage),
                format!("{:?}", c.sim),
                format!("{:?}", c.binance),
                format!("{:?}", c.coinbase),
                format!("{:?}", c.alphavantage),
                format!("{:?}", c.notify),
                format!("{:?}", c.log),
                format!("{:?}", c.metrics),
            ]
        };
        for (a, b) in sections(&shipped).iter().zip(sections(&d).iter()) {
            assert_eq!(
                a, b,
                "the shipped config.toml and the built-in defaults differ"
            );
        }
        let s = Config::defaults();
        assert_eq!(s.path, None);
        assert_eq!(s.config.sources, vec!["binance".to_string()]);
        // a file that leaves `sources` out gets the same default
        let p = Config::parse("[ui]\nfps = 20\n", Path::new("c.toml"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p.config.sources, vec!["binance".to_string()]);
    }
}
