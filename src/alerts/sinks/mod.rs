//! The places an alert is delivered to a person: the desktop, the terminal (OSC sequences),
//! webhooks, email, command hooks, SMS through Twilio and Telegram. Each sink delivers one [`Notice`] per call and says
//! whether a failure is worth retrying; the notifier ([`crate::alerts::notifier`]) owns the
//! queues, retries, dedupe and rate limit around them.

pub mod command;
pub mod config;
pub mod email;
pub mod fit;
pub mod gate;
pub mod http;
pub mod secret;
pub mod telegram;
pub mod terminal;
pub mod twilio;
pub mod webhook;

use std::time::Duration;

pub use config::{NotifyConfigError, NotifySection};

use crate::alerts::Severity;
use crate::domain::AlertRecord;

/// What a sink delivers: the alert and its one-line title ("tickwatch: BTCUSDT anomaly", or
/// "tickwatch: 5 more alerts" for a rate-limit summary).
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    pub alert: AlertRecord,
    pub title: String,
}

/// The `rule` of a summary notice that stands for alerts held back by the rate limit.
pub const SUMMARY_RULE: &str = "summary";

impl Notice {
    /// The notice for one alert.
    pub fn of(alert: AlertRecord) -> Notice {
        let title = format!("tickwatch: {} {}", alert.key.symbol, alert.rule);
        Notice { alert, title }
    }

    /// One notice for alerts the rate limit held back: rule "summary", value = how many,
    /// the symbol and time of the latest, the highest severity, and a message listing them.
    /// `held` must not be empty (None if it is).
    pub fn summary(held: &[AlertRecord], per_minute: u32) -> Option<Notice> {
        let last = held.last()?;
        let n = held.len();
        const LISTED: usize = 10;
        let mut lines: Vec<String> = held
            .iter()
            .take(LISTED)
            .map(|a| a.message.clone())
            .collect();
        if n > LISTED {
            lines.push(format!("and {} more", n - LISTED));
        }
        let severity = held.iter().map(|a| a.severity).max().unwrap_or_default();
        Some(Notice {
            title: format!("tickwatch: {n} more alerts"),
            alert: AlertRecord {
                alert_id: format!("summary-{}", last.alert_id),
                ts_ms: last.ts_ms,
                key: last.key,
                rule: SUMMARY_RULE.into(),
                value: n as f64,
                message: format!(
                    "{n} alerts held back by the rate limit ({per_minute} per minute): {}",
                    lines.join("; ")
                ),
                delivered: String::new(),
                severity,
            },
        })
    }
}

/// The JSON object a webhook receives by default and a command hook reads on stdin:
///
/// ```json
/// {"alert_id": "1700000000000-binance-BTCUSDT-anomaly", "time": "2023-11-14T22:13:20.000Z",
///  "ts_ms": 1700000000000, "venue": "binance", "symbol": "BTCUSDT", "rule": "anomaly",
///  "severity": "warning", "value": 7.5, "message": "BTCUSDT anomaly: return z-score +7.5 (|z| >= 6)",
///  "title": "tickwatch: BTCUSDT anomaly"}
/// ```
///
/// `time` is RFC 3339 in UTC; `value` is the number the rule tested (null if not finite). For a
/// rate-limit summary `rule` is "summary", `value` the number of alerts it stands for, and
/// `message` lists them.
pub fn payload(n: &Notice) -> serde_json::Value {
    let a = &n.alert;
    serde_json::json!({
        "alert_id": a.alert_id,
        "time": crate::domain::iso8601(a.ts_ms),
        "ts_ms": a.ts_ms,
        "venue": a.key.venue.as_str(),
        "symbol": a.key.symbol.as_str(),
        "rule": a.rule,
        "severity": a.severity.as_str(),
        "value": if a.value.is_finite() { serde_json::json!(a.value) } else { serde_json::Value::Null },
        "message": a.message,
        "title": n.title,
    })
}

/// Why a delivery failed, and whether trying again may help.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SinkError {
    pub message: String,
    /// A network error, a timeout, HTTP 5xx/408/429, SMTP 4xx: worth a retry.
    pub transient: bool,
    /// How long the server asked to be left alone (HTTP `Retry-After`, Telegram's
    /// `retry_after`): the next attempt waits at least this long.
    pub retry_after: Option<Duration>,
}

/// A sink's message quotes its server (a webhook's answer, an SMTP reply, a command's
/// output): made safe to print and to store where it is made.
impl SinkError {
    pub fn transient(message: impl Into<String>) -> SinkError {
        SinkError {
            message: crate::format::visible(&message.into()),
            transient: true,
            retry_after: None,
        }
    }
    pub fn permanent(message: impl Into<String>) -> SinkError {
        SinkError {
            message: crate::format::visible(&message.into()),
            transient: false,
            retry_after: None,
        }
    }
    /// The same error, with the wait the server asked for before the next attempt.
    pub fn after(self, wait: Option<Duration>) -> SinkError {
        SinkError {
            retry_after: wait,
            ..self
        }
    }
}

impl std::fmt::Display for SinkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// A configured sink, before it is built (what [`config::NotifySection::resolve`] produces).
#[derive(Debug, Clone)]
pub enum SinkSpec {
    Desktop { timeout: Duration },
    Terminal(terminal::TerminalSpec),
    Webhook(config::WebhookConfig),
    Email(email::EmailSpec),
    Command(config::CommandConfig),
    Twilio(twilio::TwilioSpec),
    Telegram(telegram::TelegramSpec),
}

impl SinkSpec {
    /// "desktop", "terminal", "webhook:NAME", "email", "command:NAME", "twilio:NAME" or
    /// "telegram:NAME": the name in the status bar, in the stored deliveries and for
    /// `alerts test --sink`.
    pub fn name(&self) -> String {
        match self {
            SinkSpec::Desktop { .. } => "desktop".into(),
            SinkSpec::Terminal(_) => "terminal".into(),
            SinkSpec::Webhook(w) => format!("webhook:{}", w.name),
            SinkSpec::Email(_) => "email".into(),
            SinkSpec::Command(c) => format!("command:{}", c.name),
            SinkSpec::Twilio(t) => format!("twilio:{}", t.config.name),
            SinkSpec::Telegram(t) => format!("telegram:{}", t.config.name),
        }
    }

    /// Why this sink cannot work at all (a secret missing from the environment): a reason to
    /// refuse to start rather than to fail every alert.
    pub fn setup_error(&self) -> Option<String> {
        let e = match self {
            SinkSpec::Twilio(t) => t.setup_error(),
            SinkSpec::Telegram(t) => t.setup_error(),
            _ => None,
        }?;
        Some(format!("{}: {e}", self.name()))
    }

    fn min_severity(&self) -> Severity {
        match self {
            SinkSpec::Desktop { .. } | SinkSpec::Terminal(_) => Severity::Info,
            SinkSpec::Webhook(w) => w.min_severity.unwrap_or(Severity::Info),
            SinkSpec::Email(e) => e.config.min_severity.unwrap_or(Severity::Info),
            SinkSpec::Command(c) => c.min_severity.unwrap_or(Severity::Info),
            SinkSpec::Twilio(t) => t.config.min_severity.unwrap_or(Severity::Info),
            SinkSpec::Telegram(t) => t.config.min_severity.unwrap_or(Severity::Info),
        }
    }
}

/// A sink ready to deliver.
pub struct Sink {
    name: String,
    min_severity: Severity,
    kind: Kind,
}

enum Kind {
    Desktop(Duration),
    Terminal(terminal::TerminalSink),
    Webhook(webhook::WebhookSink),
    Email(email::EmailSink),
    Command(command::CommandSink),
    Twilio(twilio::TwilioSink),
    Telegram(telegram::TelegramSink),
    /// It could not be set up (e.g. no TLS for the SMTP host): every delivery fails with this,
    /// so the reason is shown and stored instead of the sink silently missing.
    Broken(String),
}

impl Sink {
    /// Sets the sink up (HTTP client, SMTP transport). A sink that cannot be set up still
    /// exists and fails each delivery with the reason.
    pub fn build(spec: &SinkSpec) -> Sink {
        let kind = match spec {
            SinkSpec::Desktop { timeout } => Kind::Desktop(*timeout),
            SinkSpec::Terminal(t) => Kind::Terminal(terminal::TerminalSink::new(t.clone())),
            SinkSpec::Webhook(w) => match webhook::WebhookSink::new(w.clone()) {
                Ok(s) => Kind::Webhook(s),
                Err(e) => Kind::Broken(e),
            },
            SinkSpec::Email(e) => match email::EmailSink::new(e) {
                Ok(s) => Kind::Email(s),
                Err(e) => Kind::Broken(e),
            },
            SinkSpec::Command(c) => Kind::Command(command::CommandSink::new(c.clone())),
            SinkSpec::Twilio(t) => match twilio::TwilioSink::new(t) {
                Ok(s) => Kind::Twilio(s),
                Err(e) => Kind::Broken(e),
            },
            SinkSpec::Telegram(t) => match telegram::TelegramSink::new(t) {
                Ok(s) => Kind::Telegram(s),
                Err(e) => Kind::Broken(e),
            },
        };
        Sink {
            name: spec.name(),
            min_severity: spec.min_severity(),
            kind,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether alerts of `severity` go to this sink (its `min_severity`).
    pub fn wants(&self, severity: Severity) -> bool {
        severity >= self.min_severity
    }

    /// Delivers one notice, once (the notifier retries). Every sink bounds its own time: none
    /// of these can hang.
    pub async fn deliver(&self, notice: &Notice) -> Result<(), SinkError> {
        match &self.kind {
            Kind::Desktop(timeout) => crate::alerts::desktop::notify(notice, *timeout).await,
            Kind::Terminal(t) => t.deliver(notice).await,
            Kind::Webhook(w) => w.deliver(notice).await,
            Kind::Email(e) => e.deliver(notice).await,
            Kind::Command(c) => c.deliver(notice).await,
            Kind::Twilio(t) => t.deliver(notice).await,
            Kind::Telegram(t) => t.deliver(notice).await,
            Kind::Broken(reason) => Err(SinkError::permanent(reason.clone())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Symbol, Venue, VenueSymbol};

    pub(super) fn alert(i: i64, symbol: &str, severity: Severity) -> AlertRecord {
        AlertRecord {
            alert_id: format!("a{i}"),
            ts_ms: 1_700_000_000_000 + i,
            key: VenueSymbol::new(Venue::Binance, Symbol::new(symbol).unwrap()),
            rule: "anomaly".into(),
            value: 7.25,
            message: format!("{symbol} anomaly {i}"),
            delivered: "tui".into(),
            severity,
        }
    }

    #[test]
    fn the_payload_has_every_documented_field() {
        let n = Notice::of(alert(0, "BTCUSDT", Severity::Critical));
        assert_eq!(n.title, "tickwatch: BTCUSDT anomaly");
        assert_eq!(
            payload(&n),
            serde_json::json!({
                "alert_id": "a0", "time": "2023-11-14T22:13:20.000Z", "ts_ms": 1_700_000_000_000i64,
                "venue": "binance", "symbol": "BTCUSDT", "rule": "anomaly", "severity": "critical",
                "value": 7.25, "message": "BTCUSDT anomaly 0", "title": "tickwatch: BTCUSDT anomaly"
            })
        );
    }

    #[test]
    fn a_summary_stands_for_every_held_alert() {
        let held: Vec<_> = (0..12)
            .map(|i| {
                let sev = if i == 3 {
                    Severity::Critical
                } else {
                    Severity::Info
                };
                alert(i, if i % 2 == 0 { "BTCUSDT" } else { "ETHUSDT" }, sev)
            })
            .collect();
        let s = Notice::summary(&held, 10).unwrap();
        assert_eq!(s.title, "tickwatch: 12 more alerts");
        assert_eq!(s.alert.rule, SUMMARY_RULE);
        assert_eq!(s.alert.value, 12.0);
        assert_eq!(s.alert.severity, Severity::Critical);
        assert_eq!(s.alert.key.symbol.as_str(), "ETHUSDT");
        assert!(
            s.alert.message.starts_with(
                "12 alerts held back by the rate limit (10 per minute): BTCUSDT anomaly 0; ETHUSDT anomaly 1;"
            ),
            "{}",
            s.alert.message
        );
        assert!(
            s.alert.message.ends_with("; and 2 more"),
            "{}",
            s.alert.message
        );
        assert!(Notice::summary(&[], 10).is_none());
    }
}
