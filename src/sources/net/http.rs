//! HTTP plumbing shared by the REST clients: the client builder, base-URL checking, the wording
//! of network errors and a gate that holds requests back after a 429.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use super::{describe_error, parse_retry_after};
use crate::domain::{TsMs, now_ms};

/// A reqwest client with our User-Agent (Coinbase refuses requests without one), `timeout` per
/// request and at most 10 s to connect.
pub fn http_client(timeout: Duration) -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(Duration::from_secs(10).min(timeout))
        .user_agent(concat!("tickwatch/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| anyhow::anyhow!("could not set up the HTTP client: {e}"))
}

/// `base_url` trimmed and without a trailing `/`; `what` names it in the error when it is not
/// an http(s) URL.
pub fn check_base_url(what: &str, base_url: &str) -> anyhow::Result<String> {
    let base = base_url.trim().trim_end_matches('/').to_string();
    if !(base.starts_with("http://") || base.starts_with("https://")) {
        anyhow::bail!("{what} {base_url:?} must start with http:// or https://");
    }
    Ok(base)
}

/// A short human reason for a failed request.
pub fn network_reason(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "request timed out".to_string()
    } else {
        describe_error(e)
    }
}

/// The `Retry-After` of an answer, when it has a readable one.
pub fn retry_after(resp: &reqwest::Response) -> Option<Duration> {
    resp.headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(parse_retry_after)
}

/// No request goes out before a wall-clock time set by the venue's rate limit. Clones share it.
#[derive(Debug, Clone, Default)]
pub struct RateGate {
    blocked_until: Arc<AtomicI64>,
}

impl RateGate {
    /// Until when requests are held back (0 or past: not held).
    pub fn blocked_until(&self) -> TsMs {
        self.blocked_until.load(Ordering::Relaxed)
    }

    /// Holds requests back for `wait` from now (never shortening an earlier hold); returns the
    /// time this wait ends.
    pub fn block_for(&self, wait: Duration) -> TsMs {
        let until = now_ms() + wait.as_millis() as TsMs;
        self.blocked_until.fetch_max(until, Ordering::Relaxed);
        until
    }
}

/// Sleeps until `until()` is past, telling `on_rate_limit` each time it has to wait.
pub async fn wait_turn(until: impl Fn() -> TsMs, on_rate_limit: &(dyn Fn(TsMs) + Send + Sync)) {
    loop {
        let until = until();
        let now = now_ms();
        if until <= now {
            return;
        }
        on_rate_limit(until);
        tokio::time::sleep(Duration::from_millis((until - now) as u64)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_are_trimmed_and_must_be_http() {
        assert_eq!(
            check_base_url("REST URL", " https://x.test/ ")
                .ok()
                .as_deref(),
            Some("https://x.test")
        );
        let err = check_base_url("REST URL", "ftp://x.test")
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some("REST URL \"ftp://x.test\" must start with http:// or https://")
        );
    }

    #[test]
    fn a_gate_never_shortens_an_earlier_hold() {
        let gate = RateGate::default();
        assert_eq!(gate.blocked_until(), 0);
        let long = gate.block_for(Duration::from_secs(60));
        gate.block_for(Duration::from_secs(1));
        assert_eq!(gate.clone().blocked_until(), long);
    }
}
