//! A venue's public REST API, paced and patient, for every live venue that needs no more than
//! GET: our own pace of requests a second, a 429 waited out (its `Retry-After`, else a growing
//! backoff) and shown as rate-limited, answers read up to a cap, and errors that name the
//! endpoint. The venue turns a body into its types and its error JSON into its error.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use crate::domain::TsMs;
use crate::sources::net::http::{
    BodyError, ERROR_BODY_PREFIX, MAX_REST_BODY, RateGate, TooLarge, check_base_url, http_client,
    network_reason, read_capped, read_prefix, retry_after, wait_turn,
};
use crate::sources::net::{Backoff, MessageLimiter};

/// 429s in a row before a request gives up.
const MAX_RATE_LIMIT_RETRIES: u32 = 5;

/// Why a GET failed before the venue could read an answer.
#[derive(Debug, Clone, thiserror::Error)]
pub enum HttpError {
    #[error("{url}: {reason}")]
    Network { url: String, reason: String },
    #[error("rate-limited until {until_ms} (HTTP 429 {MAX_RATE_LIMIT_RETRIES} times in a row)")]
    RateLimited { until_ms: TsMs },
    #[error("{0}")]
    TooLarge(TooLarge),
    /// A non-2xx answer: its status and the start of its body (made safe to show).
    #[error("HTTP {status} from {url}: {body}")]
    Status {
        status: u16,
        url: String,
        body: String,
    },
}

impl HttpError {
    /// Worth another try (the network, a server error), as opposed to a refusal.
    pub fn is_retryable(&self) -> bool {
        match self {
            HttpError::Network { .. } => true,
            HttpError::Status { status, .. } => *status >= 500,
            _ => false,
        }
    }
}

/// One venue's REST base with its pace and rate-limit gate. Clones share both.
#[derive(Debug, Clone)]
pub struct Rest {
    http: reqwest::Client,
    base: String,
    timeout: Duration,
    pace: Arc<Mutex<MessageLimiter>>,
    gate: RateGate,
    /// "Kraken": for the log.
    title: &'static str,
}

impl Rest {
    /// A client for `base_url` sending at most `per_sec` requests a second, each failing after
    /// `timeout` in all.
    pub fn new(
        title: &'static str,
        base_url: &str,
        per_sec: usize,
        timeout: Duration,
    ) -> anyhow::Result<Rest> {
        Rest::with_client(title, base_url, per_sec, timeout, http_client(timeout)?)
    }

    /// As [`new`](Self::new), with a client of the caller's (a venue that must see redirects
    /// instead of following them).
    pub fn with_client(
        title: &'static str,
        base_url: &str,
        per_sec: usize,
        timeout: Duration,
        http: reqwest::Client,
    ) -> anyhow::Result<Rest> {
        Ok(Rest {
            http,
            base: check_base_url("REST URL", base_url)?,
            timeout,
            pace: Arc::new(Mutex::new(MessageLimiter::new(
                per_sec.max(1),
                Duration::from_secs(1),
            ))),
            gate: RateGate::default(),
            title,
        })
    }

    /// Until when requests are held back by a 429 (0 or past: not held).
    pub fn rate_limited_until(&self) -> TsMs {
        self.gate.blocked_until()
    }

    /// Waits out a 429, then for a slot under our own pace.
    async fn wait_turn(&self, on_rate_limit: &(dyn Fn(TsMs) + Send + Sync)) {
        wait_turn(|| self.rate_limited_until(), on_rate_limit).await;
        let slot = {
            let mut l = match self.pace.lock() {
                Ok(g) => g,
                Err(p) => p.into_inner(),
            };
            let slot = l.next_slot(Instant::now());
            l.record(slot);
            slot
        };
        tokio::time::sleep_until(slot).await;
    }

    /// [`get`](Self::get), tried again (up to 4 times in all, with a growing pause) while the
    /// network or the server fails.
    pub async fn get_retrying(
        &self,
        path_and_query: &str,
        on_rate_limit: &(dyn Fn(TsMs) + Send + Sync),
    ) -> Result<Vec<u8>, HttpError> {
        let mut attempts = crate::sources::net::retry::Attempts::new(4);
        loop {
            match self.get(path_and_query, on_rate_limit).await {
                Ok(body) => return Ok(body),
                Err(e) => {
                    if !attempts.retry(e.is_retryable()).await {
                        return Err(e);
                    }
                }
            }
        }
    }

    /// GET `path_and_query` (relative to the base); the body of a 2xx answer.
    pub async fn get(
        &self,
        path_and_query: &str,
        on_rate_limit: &(dyn Fn(TsMs) + Send + Sync),
    ) -> Result<Vec<u8>, HttpError> {
        let a = self.answer(path_and_query, None, on_rate_limit).await?;
        if (200..300).contains(&a.status) {
            return Ok(a.body);
        }
        Err(HttpError::Status {
            status: a.status,
            url: a.url,
            body: crate::format::visible(&String::from_utf8_lossy(
                &a.body[..a.body.len().min(300)],
            )),
        })
    }

    /// GET `target` (relative to the base, or a whole `http(s)://` URL), with `cookie` as the
    /// `Cookie` header when given: any answer but a 429 (waited out, up to
    /// [`MAX_RATE_LIMIT_RETRIES`] times), with its status, `Set-Cookie` and `Location` headers
    /// and its body (a 2xx one up to the REST cap, another up to the error prefix). Query
    /// values that are session tokens (`crumb`, `token`, `apikey`) never reach an error or the
    /// log.
    pub async fn answer(
        &self,
        target: &str,
        cookie: Option<&str>,
        on_rate_limit: &(dyn Fn(TsMs) + Send + Sync),
    ) -> Result<Answer, HttpError> {
        let url = if target.starts_with("http://") || target.starts_with("https://") {
            target.to_string()
        } else {
            format!("{}{target}", self.base)
        };
        let shown = redact_query(&url);
        let network = |e: &reqwest::Error| HttpError::Network {
            url: shown.clone(),
            reason: redact_query(&network_reason(e, self.timeout)),
        };
        // without Retry-After: 1 s, doubling to 30 s, jittered
        let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(30));
        let mut limited = 0;
        loop {
            self.wait_turn(on_rate_limit).await;
            let mut req = self.http.get(&url);
            if let Some(c) = cookie {
                req = req.header(reqwest::header::COOKIE, c);
            }
            let resp = req.send().await.map_err(|e| network(&e))?;
            let status = resp.status().as_u16();
            if status == 429 {
                let wait = retry_after(&resp).unwrap_or_else(|| backoff.next_delay());
                let until = self.gate.block_for(wait);
                tracing::warn!(
                    url = shown,
                    wait_s = wait.as_secs_f64(),
                    "{} rate limit",
                    self.title
                );
                limited += 1;
                if limited > MAX_RATE_LIMIT_RETRIES {
                    return Err(HttpError::RateLimited { until_ms: until });
                }
                continue;
            }
            let headers = resp.headers();
            let set_cookies = headers
                .get_all(reqwest::header::SET_COOKIE)
                .iter()
                .filter_map(|v| v.to_str().ok().map(String::from))
                .collect();
            let location = headers
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .map(String::from);
            let body = if (200..300).contains(&status) {
                read_capped(resp, &shown, MAX_REST_BODY)
                    .await
                    .map_err(|e| match e {
                        BodyError::TooLarge(e) => HttpError::TooLarge(e),
                        BodyError::Network(e) => network(&e),
                    })?
            } else {
                read_prefix(resp, ERROR_BODY_PREFIX)
                    .await
                    .map_err(|e| network(&e))?
            };
            return Ok(Answer {
                status,
                url: shown,
                body,
                set_cookies,
                location,
            });
        }
    }
}

/// One answer to [`Rest::answer`].
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    /// The URL asked, session tokens in its query replaced by `***`.
    pub url: String,
    pub body: Vec<u8>,
    /// Every `Set-Cookie` header, as sent.
    pub set_cookies: Vec<String>,
    pub location: Option<String>,
}

/// Query parameters whose values are secrets.
/// Query parameters whose values are secrets, with their `=`.
const SECRET_PARAMS: [&str; 3] = ["crumb=", "token=", "apikey="];

/// `text` with the value of every secret query parameter (`crumb=..`) replaced by `***`.
pub fn redact_query(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    // each parameter starts after a '?' or '&': copy up to there, then check the name
    while let Some(sep) = rest.find(['?', '&']) {
        out.push_str(&rest[..=sep]);
        rest = &rest[sep + 1..];
        if let Some(key) = SECRET_PARAMS.iter().find(|k| rest.starts_with(**k)) {
            out.push_str(key);
            out.push_str("***");
            let value = &rest[key.len()..];
            let end = value
                .find(|c: char| matches!(c, '&' | '#' | ')' | '"') || c.is_whitespace())
                .unwrap_or(value.len());
            rest = &value[end..];
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::redact_query;

    #[test]
    fn session_tokens_in_a_query_are_redacted() {
        assert_eq!(
            redact_query("http://h/v7/finance/quote?symbols=AAPL&crumb=haT3oykhHqZ"),
            "http://h/v7/finance/quote?symbols=AAPL&crumb=***"
        );
        assert_eq!(
            redact_query("error sending request for url (http://h/x?crumb=a%2Fb&interval=1m)"),
            "error sending request for url (http://h/x?crumb=***&interval=1m)"
        );
        assert_eq!(
            redact_query("no secrets: mycrumb=1"),
            "no secrets: mycrumb=1"
        );
        assert_eq!(
            redact_query("a?apikey=K&b=1&token=T"),
            "a?apikey=***&b=1&token=***"
        );
    }
}
