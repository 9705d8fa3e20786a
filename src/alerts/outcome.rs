//! What happened to one alert at one sink. Every alert gets exactly one outcome per sink that
//! wants its severity: sent, failed (the sink could not take it) or skipped (not sent on
//! purpose or for lack of time: dedupe, rate limit, a full queue, shutdown). A skip is not a
//! failure of the sink: it is stored and shown as a skip and not counted in `deliveries_failed`.

use std::fmt;

/// The outcome of one alert at one sink.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// The sink took it.
    Sent,
    /// The sink could not take it: why.
    Failed(String),
    /// It was not sent: why.
    Skipped(String),
}

impl DeliveryOutcome {
    /// `sent`, `failed` or `skipped`: the `status` column of `alert_deliveries`.
    pub fn status(&self) -> &'static str {
        match self {
            DeliveryOutcome::Sent => "sent",
            DeliveryOutcome::Failed(_) => "failed",
            DeliveryOutcome::Skipped(_) => "skipped",
        }
    }

    /// Why it failed or was skipped; None when sent.
    pub fn reason(&self) -> Option<&str> {
        match self {
            DeliveryOutcome::Sent => None,
            DeliveryOutcome::Failed(r) | DeliveryOutcome::Skipped(r) => Some(r),
        }
    }

    pub fn is_sent(&self) -> bool {
        matches!(self, DeliveryOutcome::Sent)
    }

    /// The outcome from its stored `status` and reason. A status this version does not know
    /// (written by hand) reads as a failure that names it, so it is never shown as sent.
    pub fn from_stored(status: &str, reason: Option<String>) -> DeliveryOutcome {
        let reason_or = |fallback: &str| reason.clone().unwrap_or_else(|| fallback.to_string());
        match status {
            "sent" => DeliveryOutcome::Sent,
            "skipped" => DeliveryOutcome::Skipped(reason_or("no reason stored")),
            "failed" => DeliveryOutcome::Failed(reason_or("no reason stored")),
            other => DeliveryOutcome::Failed(format!(
                "unknown status {other:?}: {}",
                reason_or("no reason stored")
            )),
        }
    }
}

/// `sent`, `failed: reason` or `skipped: reason`.
impl fmt::Display for DeliveryOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.reason() {
            None => f.write_str(self.status()),
            Some(r) => write!(f, "{}: {r}", self.status()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::DeliveryOutcome::{self, *};

    #[test]
    fn stored_form_round_trips() {
        for o in [
            Sent,
            Failed("HTTP 500".into()),
            Skipped("tickwatch stopped before it was sent".into()),
        ] {
            let back = DeliveryOutcome::from_stored(o.status(), o.reason().map(str::to_string));
            assert_eq!(back, o);
        }
        assert_eq!(
            DeliveryOutcome::from_stored("deferred", Some("later".into())),
            Failed("unknown status \"deferred\": later".into())
        );
        assert_eq!(Skipped("dedupe".into()).to_string(), "skipped: dedupe");
        assert_eq!(Failed("HTTP 500".into()).to_string(), "failed: HTTP 500");
        assert_eq!(Sent.to_string(), "sent");
    }
}
