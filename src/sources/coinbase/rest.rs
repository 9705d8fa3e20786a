//! Coinbase Exchange public REST client for backfill: trades paged backwards with the `after`
//! cursor (`CB-AFTER`), 1m candles 300 per request. Paces itself under the public limit (about
//! 10 requests a second), waits out 429 for `Retry-After` (or backs off when it is absent) and
//! turns 404 `NotFound` into an error that names the product. Every request has a total
//! timeout and every answer is read up to [`MAX_REST_BODY`].

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Deserialize;
use tokio::time::Instant;

use super::wire::{num, parse_time, positive, taker_side};
use crate::domain::{Candle, Interval, Symbol, TradeTick, TsMs, iso8601};
use crate::sources::net::http::{
    BodyError, DEFAULT_REST_TIMEOUT, ERROR_BODY_PREFIX, MAX_REST_BODY, RateGate, TooLarge,
    check_base_url, http_client, network_reason, read_capped, read_prefix, retry_after, wait_turn,
};
use crate::sources::net::{Backoff, MessageLimiter};

/// Trades per page: the most Coinbase serves.
pub const TRADES_PAGE: usize = 1000;
/// Candles per request: the most Coinbase serves.
pub const CANDLES_PER_REQUEST: usize = 300;
/// Requests per second we allow ourselves; Coinbase's public limit is about 10.
const REQUESTS_PER_SEC: usize = 8;
/// 429 answers in a row before giving up on one request.
const MAX_RATE_LIMIT_RETRIES: u32 = 5;

/// Why a REST request failed. Callers branch on `UnknownProduct` (drop it, keep the rest) and
/// on [`RestError::is_retryable`].
#[derive(Debug, Clone, thiserror::Error)]
pub enum RestError {
    #[error(
        "Coinbase does not know product {product} (HTTP 404 NotFound): remove it from [coinbase].products"
    )]
    UnknownProduct { product: Symbol },
    #[error("Coinbase rejected the request (HTTP {status}): {message}")]
    Api { status: u16, message: String },
    #[error("HTTP {status} from {url}: {body}")]
    Status {
        status: u16,
        url: String,
        body: String,
    },
    #[error(
        "still rate-limited after {MAX_RATE_LIMIT_RETRIES} waits (HTTP 429); next try after {}",
        iso8601(*until_ms)
    )]
    RateLimited { until_ms: TsMs },
    #[error("{reason} ({url})")]
    Network { url: String, reason: String },
    #[error("unexpected response from {url}: {reason}")]
    Decode { url: String, reason: String },
    /// The same server would send the same again: not retried.
    #[error(transparent)]
    TooLarge(#[from] TooLarge),
}

impl RestError {
    /// Worth trying again later (network trouble, server errors, rate limits).
    pub fn is_retryable(&self) -> bool {
        match self {
            RestError::Network { .. } | RestError::RateLimited { .. } => true,
            RestError::Status { status, .. } => *status >= 500,
            RestError::UnknownProduct { .. }
            | RestError::Api { .. }
            | RestError::Decode { .. }
            | RestError::TooLarge(_) => false,
        }
    }
}

#[derive(Debug, Deserialize)]
struct ApiError {
    message: String,
}

#[derive(Debug, Deserialize)]
struct TradeRow<'a> {
    time: &'a str,
    trade_id: u64,
    price: &'a str,
    size: &'a str,
    side: &'a str,
}

/// One page of trades, oldest first.
#[derive(Debug, Clone, Default)]
pub struct TradesPage {
    /// (trade time, trade), sorted by trade id ascending.
    pub trades: Vec<(TsMs, TradeTick)>,
    /// The `CB-AFTER` cursor: pass it as `after` to get the next older page.
    pub next_after: Option<u64>,
    /// Rows skipped because a price or size was not a positive number.
    pub rejected: usize,
}

/// Parses a `/products/{id}/trades` body (newest first) into (time, trade) sorted by trade id.
/// Rows with a price or size that is not a positive number are skipped and counted.
pub fn parse_trades(body: &[u8]) -> Result<(Vec<(TsMs, TradeTick)>, usize), String> {
    let rows: Vec<TradeRow<'_>> = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let mut out = Vec::with_capacity(rows.len());
    let mut rejected = 0;
    for r in rows {
        let time = parse_time(r.time).ok_or_else(|| format!("bad trade time {:?}", r.time))?;
        let (price, qty) = match (positive("price", r.price), positive("size", r.size)) {
            (Ok(p), Ok(q)) => (p, q),
            (Err(e), _) | (_, Err(e)) if e.is_rejection() => {
                rejected += 1;
                continue;
            }
            (Err(e), _) | (_, Err(e)) => return Err(e.to_string()),
        };
        out.push((
            time,
            TradeTick {
                trade_id: r.trade_id,
                price,
                qty,
                side: taker_side(r.side),
            },
        ));
    }
    out.sort_by_key(|(_, t)| t.trade_id);
    Ok((out, rejected))
}

/// Parses a `/products/{id}/candles` body: rows `[time_secs, low, high, open, close, volume]`,
/// newest first. Returns the candles oldest first.
pub fn parse_candles(body: &[u8]) -> Result<Vec<Candle>, String> {
    let rows: Vec<Vec<serde_json::Value>> =
        serde_json::from_slice(body).map_err(|e| e.to_string())?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        if row.len() < 6 {
            return Err(format!("candle row with {} fields, expected 6", row.len()));
        }
        let field = |i: usize, name: &'static str| -> Result<f64, String> {
            match &row[i] {
                serde_json::Value::Number(n) => n.as_f64().ok_or_else(|| format!("bad {name}")),
                serde_json::Value::String(s) => num(name, s).map_err(|e| e.to_string()),
                other => Err(format!("{name} is {other}, not a number")),
            }
        };
        let secs = field(0, "time")?;
        out.push(Candle {
            open_ms: (secs * 1000.0) as TsMs,
            low: field(1, "low")?,
            high: field(2, "high")?,
            open: field(3, "open")?,
            close: field(4, "close")?,
            volume: field(5, "volume")?,
            trades: 0,
        });
    }
    out.sort_by_key(|c| c.open_ms);
    out.dedup_by_key(|c| c.open_ms);
    Ok(out)
}

#[derive(Debug, Deserialize)]
struct ProductRow {
    #[serde(rename = "id")]
    _id: String,
    #[serde(default)]
    status: String,
}

/// The `status` of a `/products/{id}` body (`online`, `offline`, `internal`, `delisted`).
pub fn parse_product_status(body: &[u8]) -> Result<String, String> {
    let row: ProductRow = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    Ok(row.status)
}

/// A Coinbase Exchange REST client. Clones share the pacing and the rate-limit wait.
#[derive(Debug, Clone)]
pub struct RestClient {
    http: reqwest::Client,
    base: String,
    /// Total time for one request, from connecting to the last byte of the answer.
    timeout: Duration,
    pace: Arc<Mutex<MessageLimiter>>,
    /// No request goes out before this wall-clock time (set by 429).
    gate: RateGate,
}

impl RestClient {
    /// A client for `base_url` (e.g. `https://api.exchange.coinbase.com`) with the default
    /// request timeout (10 s).
    pub fn new(base_url: &str) -> anyhow::Result<Self> {
        Self::with_timeout(base_url, DEFAULT_REST_TIMEOUT)
    }

    /// A client for the config's `rest_url` whose requests fail after `rest_timeout_secs`.
    pub fn from_config(cfg: &super::CoinbaseConfig) -> anyhow::Result<Self> {
        Self::with_timeout(&cfg.rest_url, cfg.rest_timeout())
    }

    /// A client for `base_url` whose requests fail after `timeout` in all.
    pub fn with_timeout(base_url: &str, timeout: Duration) -> anyhow::Result<Self> {
        let base = check_base_url("REST URL", base_url)?;
        // Coinbase refuses requests without a User-Agent; the shared client sends one.
        let http = http_client(timeout)?;
        Ok(RestClient {
            http,
            base,
            timeout,
            pace: Arc::new(Mutex::new(MessageLimiter::new(
                REQUESTS_PER_SEC,
                Duration::from_secs(1),
            ))),
            gate: RateGate::default(),
        })
    }

    /// Until when requests are held back by a 429 (0 or past: not held).
    pub fn rate_limited_until(&self) -> TsMs {
        self.gate.blocked_until()
    }

    fn network(&self, url: &str, e: &reqwest::Error) -> RestError {
        RestError::Network {
            url: url.to_string(),
            reason: network_reason(e, self.timeout),
        }
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

    /// GET `path` with `query`; returns the body of a 2xx answer and its `CB-AFTER` header.
    async fn get(
        &self,
        path: &str,
        query: &[(&str, String)],
        product: Symbol,
        on_rate_limit: &(dyn Fn(TsMs) + Send + Sync),
    ) -> Result<(Vec<u8>, Option<String>), RestError> {
        let url = format!("{}{}", self.base, path);
        // without Retry-After: 1 s, doubling to 30 s, jittered
        let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(30));
        let mut limited = 0;
        loop {
            self.wait_turn(on_rate_limit).await;
            let resp = self
                .http
                .get(&url)
                .query(query)
                .send()
                .await
                .map_err(|e| self.network(&url, &e))?;
            let status = resp.status().as_u16();
            if status == 429 {
                let wait = retry_after(&resp).unwrap_or_else(|| backoff.next_delay());
                let until = self.gate.block_for(wait);
                tracing::warn!(url, wait_s = wait.as_secs_f64(), "Coinbase rate limit");
                limited += 1;
                if limited > MAX_RATE_LIMIT_RETRIES {
                    return Err(RestError::RateLimited { until_ms: until });
                }
                continue;
            }
            let after = resp
                .headers()
                .get("cb-after")
                .and_then(|v| v.to_str().ok())
                .map(|v| v.trim().to_string());
            if (200..300).contains(&status) {
                let body = read_capped(resp, &url, MAX_REST_BODY)
                    .await
                    .map_err(|e| match e {
                        BodyError::TooLarge(e) => RestError::TooLarge(e),
                        BodyError::Network(e) => self.network(&url, &e),
                    })?;
                return Ok((body, after));
            }
            let body = read_prefix(resp, ERROR_BODY_PREFIX)
                .await
                .map_err(|e| self.network(&url, &e))?;
            return Err(match serde_json::from_slice::<ApiError>(&body) {
                Ok(e) if status == 404 && e.message.eq_ignore_ascii_case("NotFound") => {
                    RestError::UnknownProduct { product }
                }
                Ok(e) => RestError::Api {
                    status,
                    message: crate::format::visible(&e.message),
                },
                Err(_) => RestError::Status {
                    status,
                    url,
                    body: crate::format::visible(&String::from_utf8_lossy(
                        &body[..body.len().min(200)],
                    )),
                },
            });
        }
    }

    /// Asks Coinbase whether `product` exists (`GET /products/{id}`): its status (`online`,
    /// `delisted`...), or [`RestError::UnknownProduct`] on 404 NotFound.
    pub async fn product_status(
        &self,
        product: Symbol,
        on_rate_limit: impl Fn(TsMs) + Send + Sync,
    ) -> Result<String, RestError> {
        let path = format!("/products/{product}");
        let (body, _) = self.get(&path, &[], product, &on_rate_limit).await?;
        parse_product_status(&body).map_err(|reason| RestError::Decode {
            url: format!("{}{path}", self.base),
            reason,
        })
    }

    /// One page of `product`'s trades with ids below `after` (the newest page when `None`).
    pub async fn trades(
        &self,
        product: Symbol,
        after: Option<u64>,
        on_rate_limit: impl Fn(TsMs) + Send + Sync,
    ) -> Result<TradesPage, RestError> {
        let path = format!("/products/{product}/trades");
        let mut q = vec![("limit", TRADES_PAGE.to_string())];
        if let Some(a) = after {
            q.push(("after", a.to_string()));
        }
        let (body, cursor) = self.get(&path, &q, product, &on_rate_limit).await?;
        let (trades, rejected) = parse_trades(&body).map_err(|reason| RestError::Decode {
            url: format!("{}{path}", self.base),
            reason,
        })?;
        let next_after = cursor
            .and_then(|c| c.parse::<u64>().ok())
            .or_else(|| trades.first().map(|(_, t)| t.trade_id));
        Ok(TradesPage {
            trades,
            next_after,
            rejected,
        })
    }

    /// Closed-or-not 1m candles of `product` from `from_ms` to `to_ms`, oldest first, fetched
    /// 300 at a time.
    pub async fn candles_1m(
        &self,
        product: Symbol,
        from_ms: TsMs,
        to_ms: TsMs,
        on_rate_limit: impl Fn(TsMs) + Send + Sync,
    ) -> Result<Vec<Candle>, RestError> {
        let path = format!("/products/{product}/candles");
        let step = Interval::M1.ms();
        let from = Interval::M1.bucket(from_ms);
        let mut out: Vec<Candle> = Vec::new();
        let mut start = from;
        while start <= to_ms {
            let end = (start + (CANDLES_PER_REQUEST as TsMs - 1) * step).min(to_ms);
            let q = [
                ("granularity", "60".to_string()),
                ("start", iso8601(start)),
                ("end", iso8601(end)),
            ];
            let (body, _) = self.get(&path, &q, product, &on_rate_limit).await?;
            let page = parse_candles(&body).map_err(|reason| RestError::Decode {
                url: format!("{}{path}", self.base),
                reason,
            })?;
            out.extend(
                page.into_iter()
                    .filter(|c| c.open_ms >= start && c.open_ms <= end),
            );
            start = end + step;
        }
        out.sort_by_key(|c| c.open_ms);
        out.dedup_by_key(|c| c.open_ms);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Side;

    #[test]
    fn trade_rows_sort_oldest_first_and_map_the_maker_side() {
        let body = br#"[
            {"time":"2021-04-17T16:43:30.244075Z","trade_id":12,"price":"14.7775","size":"0.04","side":"sell"},
            {"time":"2021-04-17T16:43:29.1Z","trade_id":11,"price":"14.70","size":"2","side":"buy","extra":1}
        ]"#;
        let (t, rejected) = parse_trades(body).unwrap();
        assert_eq!(rejected, 0);
        assert_eq!(t[0].1.trade_id, 11);
        assert_eq!(t[0].0, 1_618_677_809_100);
        // maker sold → the taker bought
        assert_eq!(t[1].1.side, Side::Buy);
        assert_eq!(t[0].1.side, Side::Sell);
        assert_eq!(t[1].1.price, 14.7775);
    }

    #[test]
    fn trade_rows_with_bad_numbers_are_skipped_and_counted() {
        let body = br#"[
            {"time":"2021-04-17T16:43:30Z","trade_id":3,"price":"NaN","size":"1","side":"buy"},
            {"time":"2021-04-17T16:43:30Z","trade_id":2,"price":"1","size":"0","side":"buy"},
            {"time":"2021-04-17T16:43:30Z","trade_id":1,"price":"1","size":"1","side":"buy"}
        ]"#;
        let (t, rejected) = parse_trades(body).unwrap();
        assert_eq!((t.len(), rejected), (1, 2));
        assert!(
            parse_trades(br#"[{"time":"x","trade_id":1,"price":"1","size":"1","side":"buy"}]"#)
                .is_err()
        );
        assert!(parse_trades(br#"{"message":"NotFound"}"#).is_err());
    }

    #[test]
    fn candle_rows_are_low_high_open_close_and_come_back_oldest_first() {
        let body = br#"[[1618677840,14.1,14.9,14.2,14.8,120.5],[1618677780,"14.0","14.5","14.3","14.2","10"]]"#;
        let c = parse_candles(body).unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].open_ms, 1_618_677_780_000);
        let d = c[1];
        assert_eq!(
            (d.open, d.high, d.low, d.close, d.volume),
            (14.2, 14.9, 14.1, 14.8, 120.5)
        );
        assert!(parse_candles(br#"[[1618677840,14.1,14.9]]"#).is_err());
        assert!(parse_candles(br#"[[1618677840,"x",1,1,1,1]]"#).is_err());
    }

    #[test]
    fn a_product_status_is_read() {
        let body = br#"{"id":"BTC-USD","base_currency":"BTC","quote_currency":"USD","status":"online","trading_disabled":false}"#;
        assert_eq!(parse_product_status(body), Ok("online".to_string()));
        assert!(parse_product_status(b"[]").is_err());
        assert!(parse_product_status(br#"{"message":"NotFound"}"#).is_err());
    }

    #[test]
    fn only_transient_errors_are_retryable_and_unknown_products_are_named() {
        let p = Symbol::new("FOO-USD").unwrap();
        let e = RestError::UnknownProduct { product: p };
        assert!(!e.is_retryable());
        assert!(e.to_string().contains("FOO-USD"), "{e}");
        assert!(e.to_string().contains("[coinbase].products"), "{e}");
        assert!(RestError::RateLimited { until_ms: 0 }.is_retryable());
        assert!(
            RestError::Status {
                status: 502,
                url: "u".into(),
                body: String::new()
            }
            .is_retryable()
        );
        assert!(
            !RestError::Api {
                status: 400,
                message: "bad".into()
            }
            .is_retryable()
        );
    }
}
