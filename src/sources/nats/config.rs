//! `[nats]`: where the fan-out stream is (for `sources = ["nats"]` and `record --publish`).

use std::time::Duration;

use serde::Deserialize;

use crate::domain::{Symbol, Venue, parse_watch_symbol};

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NatsConfig {
    /// The NATS server: nats://host:4222, optionally with user:password@ or token@ (never shown).
    pub url: String,
    /// The JetStream stream a recorder publishes to.
    pub stream: String,
    /// Only these symbols ("BTCUSDT" at any venue, or "venue:SYMBOL"); empty: every symbol.
    pub symbols: Vec<String>,
    /// Where a monitor starts reading: "new" (what is published from now on) or "all" (what
    /// the stream still holds, then live).
    pub start: String,
    /// How long the stream keeps messages (set when `record --publish` creates it).
    pub retention_hours: u64,
    /// Alerts read from the stream also go to this process's own sinks (desktop, terminal,
    /// webhooks, email, commands). Off: they are shown in the alerts pane and stored only,
    /// since the recorder that evaluated them has delivered them already.
    pub notify: bool,
    /// How `record --publish` writes messages of trades: "protobuf" (compact, the default) or
    /// "json" (JSON lines, like every other message). Readers take either.
    pub trade_format: String,
}

impl Default for NatsConfig {
    fn default() -> Self {
        NatsConfig {
            url: "nats://127.0.0.1:4222".into(),
            stream: crate::fanout::DEFAULT_STREAM.into(),
            symbols: Vec::new(),
            start: "new".into(),
            retention_hours: 24,
            notify: false,
            trade_format: "protobuf".into(),
        }
    }
}

/// A symbol filter entry: a symbol at one venue, or at any.
pub type SymbolFilter = (Option<Venue>, Symbol);

impl NatsConfig {
    /// Checks every field; messages name the key as "[nats].key".
    pub fn validate(&self) -> Result<(), String> {
        crate::fanout::url::check(&self.url).map_err(|e| format!("[nats].url: {e}"))?;
        if self.stream.is_empty()
            || !self
                .stream
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(format!(
                "[nats].stream {:?}: a stream name is letters, digits, '-' and '_' (e.g. \"TICKWATCH\")",
                crate::format::visible(&self.stream)
            ));
        }
        self.parsed_symbols()?;
        if !matches!(self.start.as_str(), "new" | "all") {
            return Err(format!(
                "[nats].start {:?}: write \"new\" (from now on) or \"all\" (what the stream holds)",
                crate::format::visible(&self.start)
            ));
        }
        if !(1..=24 * 365).contains(&self.retention_hours) {
            return Err(format!(
                "[nats].retention_hours = {}: give 1 to 8760 (a year)",
                self.retention_hours
            ));
        }
        self.trade_format()?;
        Ok(())
    }

    pub fn trade_format(&self) -> Result<crate::fanout::publisher::TradeFormat, String> {
        self.trade_format
            .parse()
            .map_err(|e| format!("[nats].trade_format: {e}"))
    }

    pub fn parsed_symbols(&self) -> Result<Vec<SymbolFilter>, String> {
        self.symbols
            .iter()
            .map(|s| parse_watch_symbol(s).map_err(|e| format!("[nats].symbols: {e}")))
            .collect()
    }

    pub fn max_age(&self) -> Duration {
        Duration::from_secs(self.retention_hours.saturating_mul(3600))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_valid_and_mistakes_are_named() {
        assert_eq!(NatsConfig::default().validate(), Ok(()));
        let bad = |f: &dyn Fn(&mut NatsConfig)| {
            let mut c = NatsConfig::default();
            f(&mut c);
            c.validate().unwrap_err()
        };
        assert!(bad(&|c| c.url = "http://x".into()).starts_with("[nats].url"));
        let e = bad(&|c| c.url = "https://u:pw1234@x".into());
        assert!(!e.contains("pw1234"), "{e}");
        assert!(bad(&|c| c.stream = "a.b".into()).starts_with("[nats].stream"));
        assert!(bad(&|c| c.symbols = vec!["bad sym".into()]).starts_with("[nats].symbols"));
        assert!(bad(&|c| c.start = "old".into()).starts_with("[nats].start"));
        assert!(bad(&|c| c.retention_hours = 0).starts_with("[nats].retention_hours"));
        let e = bad(&|c| c.trade_format = "xml".into());
        assert!(
            e.starts_with("[nats].trade_format") && e.contains("\"json\""),
            "{e}"
        );
    }
}
