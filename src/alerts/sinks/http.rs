//! What the HTTP sinks (webhooks, Twilio, Telegram) share: sending one request with the URL
//! kept out of every message (it may hold a secret: a Slack URL, a Telegram bot token, a Twilio
//! account SID), and reading an error answer: its status, its `Retry-After`, and the start of
//! its body for the reason. 5xx, 408 and 429 are worth a retry; any other answer is not.

use std::time::Duration;

use super::SinkError;
use crate::sources::net::http::{http_client, read_prefix, retry_after};

/// The most of an error answer read: what it says about itself is at its start.
const ANSWER_PREFIX: usize = 4 * 1024;

/// The longest `Retry-After` waited for: a sink that asks for more fails now instead of
/// holding every alert behind it for minutes.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

/// Where a sink's requests go: the client, and the host, which is all of the URL ever shown.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub client: reqwest::Client,
    pub host: String,
    pub timeout_secs: u64,
}

impl Endpoint {
    /// A client for `url` that gives up after `timeout_secs` in all (at most 10 s of it to
    /// connect); `sink` names it in the error when `url` has no host.
    pub fn new(sink: &str, url: &str, timeout_secs: u64) -> Result<Endpoint, String> {
        let host = reqwest::Url::parse(url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_string))
            .ok_or_else(|| format!("{sink}: the url is not valid"))?;
        let client = http_client(Duration::from_secs(timeout_secs.max(1)))
            .map_err(|e| format!("{sink}: {e}"))?;
        Ok(Endpoint {
            client,
            host,
            timeout_secs,
        })
    }

    /// Sends `req`: a 2xx answer is Ok(None), an error answer Ok(Some), and a request that got
    /// no answer a [`SinkError`] naming only the host.
    pub async fn send(&self, req: reqwest::RequestBuilder) -> Result<Option<Failure>, SinkError> {
        let resp = req.send().await.map_err(|e| self.network(&e))?;
        if resp.status().is_success() {
            return Ok(None);
        }
        Ok(Some(Failure::read(resp).await))
    }

    fn network(&self, e: &reqwest::Error) -> SinkError {
        let host = &self.host;
        if e.is_timeout() {
            SinkError::transient(format!(
                "no answer from {host} within {} s",
                self.timeout_secs
            ))
        } else if e.is_connect() {
            SinkError::transient(format!("cannot connect to {host}: {}", root_cause(e)))
        } else if e.is_redirect() {
            // a redirect elsewhere: trying again leads to the same place
            SinkError::permanent(format!("{host}: {}", root_cause(e)))
        } else if e.is_builder() {
            SinkError::permanent(format!("cannot build the request to {host}"))
        } else {
            SinkError::transient(format!("request to {host} failed: {}", root_cause(e)))
        }
    }
}

/// An error answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub status: u16,
    /// Its `Retry-After` in seconds, when it has one.
    pub retry_after: Option<Duration>,
    /// The start of its body (at most 4 KiB, read for at most 2 s), as text.
    pub body: String,
}

impl Failure {
    async fn read(resp: reqwest::Response) -> Failure {
        let status = resp.status().as_u16();
        let retry_after = retry_after(&resp);
        // only the start is read, however much the server sends
        let body = tokio::time::timeout(Duration::from_secs(2), read_prefix(resp, ANSWER_PREFIX))
            .await
            .ok()
            .and_then(Result::ok)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        Failure {
            status,
            retry_after,
            body,
        }
    }

    /// 5xx, 408 (timeout) and 429 (too many requests) may pass; any other answer will not.
    pub fn transient(&self) -> bool {
        self.status >= 500 || self.status == 408 || self.status == 429
    }

    /// The body's first line, trimmed, at most 160 characters.
    pub fn first_line(&self) -> String {
        let line: String = self
            .body
            .lines()
            .next()
            .unwrap_or("")
            .chars()
            .take(160)
            .collect();
        line.trim().to_string()
    }

    /// The error for this answer, saying `message`: retried after `wait` (the answer's own
    /// `Retry-After` when None) if the status is worth a retry. A wait over
    /// [`MAX_RETRY_AFTER`] is not waited for: the delivery fails now and says so.
    pub fn error(&self, message: String, wait: Option<Duration>) -> SinkError {
        if !self.transient() {
            return SinkError::permanent(message);
        }
        match wait.or(self.retry_after) {
            Some(w) if w > MAX_RETRY_AFTER => SinkError::permanent(format!(
                "{message} (the server asks to wait {} s, more than the {} s tickwatch waits: not retried)",
                w.as_secs(),
                MAX_RETRY_AFTER.as_secs()
            )),
            w => SinkError::transient(message).after(w),
        }
    }
}

/// The innermost error's text ("Connection refused (os error 111)"): reqwest's own message
/// holds the URL, which may hold a secret.
fn root_cause(e: &reqwest::Error) -> String {
    let Some(mut cur) = std::error::Error::source(e) else {
        return "no detail".into();
    };
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failure(status: u16, retry_after: Option<u64>) -> Failure {
        Failure {
            status,
            retry_after: retry_after.map(Duration::from_secs),
            body: "  first line \nsecond".into(),
        }
    }

    #[test]
    fn only_5xx_408_and_429_are_retried_and_retry_after_is_kept() {
        for (status, transient) in [(500, true), (503, true), (408, true), (429, true)] {
            assert_eq!(failure(status, None).transient(), transient, "{status}");
        }
        for status in [400, 401, 403, 404, 410] {
            assert!(!failure(status, Some(3)).transient(), "{status}");
            assert_eq!(
                failure(status, Some(3)).error("x".into(), None).retry_after,
                None
            );
        }
        let e = failure(429, Some(3)).error("slow down".into(), None);
        assert!(e.transient);
        assert_eq!(e.retry_after, Some(Duration::from_secs(3)));
        // the body's own figure wins over the header
        let e = failure(429, Some(3)).error("slow down".into(), Some(Duration::from_secs(7)));
        assert_eq!(e.retry_after, Some(Duration::from_secs(7)));
        let e = failure(429, Some(3600)).error("slow down".into(), None);
        assert!(!e.transient);
        assert!(e.message.contains("wait 3600 s"), "{}", e.message);
        assert_eq!(failure(500, None).first_line(), "first line");
    }

    #[test]
    fn endpoints_show_only_the_host() {
        let e = Endpoint::new("t", "https://api.telegram.org/bot123:SECRET/sendMessage", 5);
        assert_eq!(e.unwrap().host, "api.telegram.org");
        let e = Endpoint::new("telegram \"x\"", "not a url", 5).unwrap_err();
        assert_eq!(e, "telegram \"x\": the url is not valid");
    }
}
