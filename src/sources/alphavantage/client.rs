//! The HTTP side: `GET {base_url}/query?function=...&symbol=...&apikey=...`, with a total timeout
//! and the answer read up to [`MAX_REST_BODY`], and failures worded for a user with the key
//! taken out of every text (reqwest puts the URL, key included, into its errors; Alpha Vantage
//! quotes the key back in its daily-limit message).

use std::time::Duration;

use super::config::ApiKey;
use super::schedule::Function;
use super::wire::{GlobalQuote, Intraday, Reply, parse_global_quote, parse_intraday};
use crate::domain::Symbol;
use crate::sources::net::describe_error;
use crate::sources::net::http::{
    BodyError, ERROR_BODY_PREFIX, MAX_REST_BODY, TooLarge, check_base_url, format_timeout,
    http_client, read_capped, read_prefix,
};

/// Why a request brought no answer to read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    /// No answer: DNS, refused, reset, timeout. `counted` is false when the request cannot have
    /// reached Alpha Vantage (the connection was never made), so it costs no quota.
    #[error("{reason}")]
    Network { reason: String, counted: bool },
    #[error("HTTP {status} from Alpha Vantage: {body}")]
    Status { status: u16, body: String },
    #[error("unexpected answer to {function} for {symbol}: {reason}")]
    Decode {
        function: &'static str,
        symbol: Symbol,
        reason: String,
    },
    /// An answer over the size cap (names `{base_url}/query`, never the key).
    #[error(transparent)]
    TooLarge(#[from] TooLarge),
}

impl Failure {
    /// Whether the request may have counted against the quota.
    pub fn counted(&self) -> bool {
        match self {
            Failure::Network { counted, .. } => *counted,
            Failure::Status { .. } | Failure::Decode { .. } | Failure::TooLarge(_) => true,
        }
    }
}

/// An Alpha Vantage client for one key and one candle interval.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    url: String,
    key: ApiKey,
    interval: String,
    /// Total time for one request, from connecting to the last byte of the answer.
    timeout: Duration,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("url", &self.url)
            .field("interval", &self.interval)
            .finish_non_exhaustive()
    }
}

impl Client {
    pub fn new(
        base_url: &str,
        key: ApiKey,
        interval: &str,
        timeout: Duration,
    ) -> anyhow::Result<Self> {
        let base = check_base_url("Alpha Vantage URL", base_url)?;
        let http = http_client(timeout)?;
        Ok(Client {
            http,
            url: format!("{base}/query"),
            key,
            interval: interval.to_string(),
            timeout,
        })
    }

    /// `text` (from the server or about a request) without the key, and safe to print.
    pub fn redact(&self, text: &str) -> String {
        crate::format::visible(&self.key.redact(text))
    }

    pub async fn global_quote(&self, symbol: Symbol) -> Result<Reply<GlobalQuote>, Failure> {
        let body = self
            .get(&[
                ("function", Function::Quote.name()),
                ("symbol", symbol.as_str()),
            ])
            .await?;
        parse_global_quote(&body).map_err(|reason| self.decode(Function::Quote, symbol, &reason))
    }

    /// The latest 100 bars (`outputsize=compact`).
    pub async fn intraday(&self, symbol: Symbol) -> Result<Reply<Intraday>, Failure> {
        let body = self
            .get(&[
                ("function", Function::Intraday.name()),
                ("symbol", symbol.as_str()),
                ("interval", self.interval.as_str()),
                ("outputsize", "compact"),
            ])
            .await?;
        parse_intraday(&body, &self.interval)
            .map_err(|reason| self.decode(Function::Intraday, symbol, &reason))
    }

    fn decode(&self, function: Function, symbol: Symbol, reason: &str) -> Failure {
        Failure::Decode {
            function: function.name(),
            symbol,
            reason: self.redact(reason),
        }
    }

    async fn get(&self, params: &[(&str, &str)]) -> Result<Vec<u8>, Failure> {
        let mut query: Vec<(&str, &str)> = params.to_vec();
        query.push(("apikey", self.key.expose()));
        let resp = self
            .http
            .get(&self.url)
            .query(&query)
            .send()
            .await
            .map_err(|e| self.network(e))?;
        let status = resp.status().as_u16();
        if status == 200 {
            // the endpoint without its query: the query holds the key
            return read_capped(resp, &self.url, MAX_REST_BODY)
                .await
                .map_err(|e| match e {
                    BodyError::TooLarge(e) => Failure::TooLarge(e),
                    BodyError::Network(e) => self.network(e),
                });
        }
        let body = read_prefix(resp, ERROR_BODY_PREFIX)
            .await
            .map_err(|e| self.network(e))?;
        let text = String::from_utf8_lossy(&body[..body.len().min(200)]);
        Err(Failure::Status {
            status,
            body: self.redact(text.trim()),
        })
    }

    fn network(&self, e: reqwest::Error) -> Failure {
        let counted = !e.is_connect() && !e.is_builder();
        let is_timeout = e.is_timeout();
        // the URL carries the key: drop it before the error is put into words
        let e = e.without_url();
        let reason = if is_timeout {
            // `url` is the endpoint without its query (the key)
            format!(
                "request timed out: no complete answer from {} within {}",
                self.url,
                format_timeout(self.timeout)
            )
        } else {
            describe_error(&e)
        };
        Failure::Network {
            reason: self.redact(&reason),
            counted,
        }
    }
}
