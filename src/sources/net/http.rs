//! HTTP plumbing shared by the REST clients: the client builder (every request has a connect
//! and a total timeout), bodies read in chunks up to a cap, base-URL checking, the wording of
//! network errors and a gate that holds requests back after a 429.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use super::{describe_error, parse_retry_after};
use crate::domain::{TsMs, now_ms};

/// The most a REST answer with market data may hold. A page of 1000 klines or trades is about
/// 150 KB; 16 MiB leaves room for anything honest and stops a broken or hostile server (one
/// announcing 10 GB took the process to 4 GB before bodies were capped).
pub const MAX_REST_BODY: usize = 16 * 1024 * 1024;

/// The default total time for one REST request of market data (connect, send, whole answer).
pub const DEFAULT_REST_TIMEOUT: Duration = Duration::from_secs(10);

/// The longest a connection may take to open, whatever the request's total timeout.
const MAX_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A reqwest client with our User-Agent (Coinbase refuses requests without one), `timeout` per
/// request (from connecting to the last byte of the answer) and at most 10 s to connect,
/// following redirects only within the host asked ([`same_host_redirects`]) and sending no
/// Referer.
pub fn http_client(timeout: Duration) -> anyhow::Result<reqwest::Client> {
    http_client_with(timeout, same_host_redirects())
}

/// As [`http_client`], with another redirect policy (Yahoo reads its redirects instead of
/// following them: `reqwest::redirect::Policy::none()`).
pub fn http_client_with(
    timeout: Duration,
    redirect: reqwest::redirect::Policy,
) -> anyhow::Result<reqwest::Client> {
    reqwest::Client::builder()
        .redirect(redirect)
        .referer(false)
        .timeout(timeout)
        .connect_timeout(MAX_CONNECT_TIMEOUT.min(timeout))
        .user_agent(concat!("tickwatch/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| anyhow::anyhow!("could not set up the HTTP client: {e}"))
}

/// An answer larger than the most we read. Reading stopped there (or never began, when the
/// answer announced its size).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the answer from {endpoint} is over the {limit} tickwatch reads{announced}: reading stopped there; check that the URL points at the right server",
    limit = format_bytes(*cap as u64),
    announced = announced.map(|n| format!(" (it announced {})", format_bytes(n))).unwrap_or_default()
)]
pub struct TooLarge {
    /// What was asked (no secret in it: callers pass the URL without its query).
    pub endpoint: String,
    pub cap: usize,
    /// The size the answer announced (`Content-Length`), when it did.
    pub announced: Option<u64>,
}

/// Why a body could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    #[error(transparent)]
    TooLarge(#[from] TooLarge),
    /// The connection failed or the request's timeout ran out while the body came in.
    #[error(transparent)]
    Network(reqwest::Error),
}

/// Reads the whole body of `resp` chunk by chunk, failing with [`TooLarge`] as soon as it
/// announces or brings more than `cap` bytes: memory never grows past the cap, whatever the
/// server sends. `endpoint` names the request in the error.
pub async fn read_capped(
    mut resp: reqwest::Response,
    endpoint: &str,
    cap: usize,
) -> Result<Vec<u8>, BodyError> {
    let too_large = |announced| TooLarge {
        endpoint: endpoint.to_string(),
        cap,
        announced,
    };
    let announced = resp.content_length();
    if let Some(n) = announced
        && n > cap as u64
    {
        return Err(too_large(Some(n)).into());
    }
    // trust an announced size only as far as the cap
    let mut body = Vec::with_capacity(announced.map_or(0, |n| n as usize).min(cap));
    while let Some(chunk) = resp.chunk().await.map_err(BodyError::Network)? {
        if chunk.len() > cap - body.len() {
            return Err(too_large(None).into());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The first `cap` bytes of the body of `resp`, the rest left unread: what an error answer
/// says about itself is at its start, and a huge one must not be read whole to find out.
pub async fn read_prefix(
    mut resp: reqwest::Response,
    cap: usize,
) -> Result<Vec<u8>, reqwest::Error> {
    let mut body = Vec::new();
    while body.len() < cap {
        let Some(chunk) = resp.chunk().await? else {
            break;
        };
        let take = chunk.len().min(cap - body.len());
        body.extend_from_slice(&chunk[..take]);
    }
    Ok(body)
}

/// The most of an error answer read to say what went wrong.
pub const ERROR_BODY_PREFIX: usize = 64 * 1024;

/// `12 MiB`, `64 KiB`, `10 GiB`, `512 bytes`.
pub fn format_bytes(n: u64) -> String {
    const UNITS: [(&str, u64); 3] = [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)];
    for (unit, size) in UNITS {
        if n >= size {
            let v = n as f64 / size as f64;
            return if n.is_multiple_of(size) {
                format!("{} {unit}", n / size)
            } else {
                format!("{v:.1} {unit}")
            };
        }
    }
    format!("{n} bytes")
}

/// `10 s`, `1.5 s`, `250 ms`: a timeout as a person reads it.
pub fn format_timeout(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1_000 {
        format!("{ms} ms")
    } else if ms.is_multiple_of(1_000) {
        format!("{} s", ms / 1_000)
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

/// The most redirects one request follows.
const MAX_REDIRECTS: usize = 5;

/// A redirect policy for every client of tickwatch: a URL may carry a secret (an API key in the
/// query, a token in a webhook's path, a header) and a POST carries an alert, so a redirect is
/// followed only to the same host and port (http may move up to https, https never down to
/// http), at most [`MAX_REDIRECTS`] times; any other redirect ends the request with an error
/// that names it. Pair it with `.referer(false)`: a Referer would repeat the URL to the target.
pub fn same_host_redirects() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        match redirect_refusal(attempt.status().as_u16(), attempt.url(), attempt.previous()) {
            None => attempt.follow(),
            Some(why) => attempt.error(why),
        }
    })
}

/// Why a redirect (HTTP `status`) to `next` after `previous` (the first is the URL asked for)
/// is not followed, or None when it is.
pub fn redirect_refusal(
    status: u16,
    next: &reqwest::Url,
    previous: &[reqwest::Url],
) -> Option<String> {
    let first = previous.first()?;
    let shown = crate::format::visible(&format!(
        "{}://{}{}",
        next.scheme(),
        next.host_str().unwrap_or(""),
        next.port().map(|p| format!(":{p}")).unwrap_or_default()
    ));
    let refuse = |why: &str| {
        Some(format!(
            "HTTP {status} redirect to {shown}{} not followed: {why}; point the URL at where the service now is",
            crate::format::visible(next.path())
        ))
    };
    if previous.len() > MAX_REDIRECTS {
        return refuse(&format!("more than {MAX_REDIRECTS} redirects"));
    }
    let last = previous.last().unwrap_or(first);
    if last.scheme() == "https" && next.scheme() != "https" {
        return refuse("it leaves https for plain http");
    }
    let same_host = next.host_str() == first.host_str();
    let same_port = next.port_or_known_default() == first.port_or_known_default()
        || (first.scheme() == "http" && next.scheme() == "https" && next.port().is_none());
    if !(same_host && same_port) {
        return refuse(&format!(
            "tickwatch follows redirects only within {} (the URL, a key or token in it, and a posted alert go nowhere else)",
            first.host_str().unwrap_or("the same host")
        ));
    }
    None
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

/// A short human reason for a failed request with `timeout` in all.
pub fn network_reason(e: &reqwest::Error, timeout: Duration) -> String {
    if e.is_timeout() {
        timed_out(timeout)
    } else {
        describe_error(e)
    }
}

/// The reason for a request that ran out of time.
pub fn timed_out(timeout: Duration) -> String {
    format!(
        "request timed out: no complete answer within {}",
        format_timeout(timeout)
    )
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
    fn sizes_and_timeouts_read_as_a_person_says_them() {
        assert_eq!(format_bytes(MAX_REST_BODY as u64), "16 MiB");
        assert_eq!(format_bytes(64 * 1024), "64 KiB");
        assert_eq!(format_bytes(10_000_000_000), "9.3 GiB");
        assert_eq!(format_bytes(512), "512 bytes");
        assert_eq!(format_timeout(DEFAULT_REST_TIMEOUT), "10 s");
        assert_eq!(format_timeout(Duration::from_millis(250)), "250 ms");
        assert_eq!(format_timeout(Duration::from_millis(1_500)), "1.5 s");
        let e = TooLarge {
            endpoint: "http://127.0.0.1:9/api/v3/klines".into(),
            cap: MAX_REST_BODY,
            announced: Some(10 << 30),
        };
        assert_eq!(
            e.to_string(),
            "the answer from http://127.0.0.1:9/api/v3/klines is over the 16 MiB tickwatch reads (it announced 10 GiB): reading stopped there; check that the URL points at the right server"
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

    #[test]
    fn redirects_stay_on_the_host_asked_and_never_leave_https() {
        let url = |s: &str| reqwest::Url::parse(s).unwrap();
        let asked = [url("http://127.0.0.1:8080/query?apikey=K")];
        assert_eq!(
            redirect_refusal(302, &url("http://127.0.0.1:8080/v2"), &asked),
            None
        );
        assert_eq!(
            redirect_refusal(301, &url("https://127.0.0.1/v2"), &asked),
            None
        );
        let other = redirect_refusal(307, &url("http://localhost:8080/x?y=1"), &asked).unwrap();
        assert!(
            other.starts_with("HTTP 307 redirect to http://localhost:8080/x not followed"),
            "{other}"
        );
        assert!(
            !other.contains("apikey") && !other.contains("y=1"),
            "{other}"
        );
        assert!(redirect_refusal(302, &url("http://127.0.0.1:9/"), &asked).is_some());
        let tls = [url("https://hooks.test/t/SECRET")];
        let down = redirect_refusal(302, &url("http://hooks.test/t"), &tls).unwrap();
        assert!(down.contains("leaves https"), "{down}");
        let many: Vec<_> = (0..6).map(|i| url(&format!("http://a.test/{i}"))).collect();
        assert!(redirect_refusal(302, &url("http://a.test/7"), &many).is_some());
    }
}
