//! Binance spot REST client for backfill: klines paged by `startTime`, aggregate trades paged by
//! `fromId`. Tracks `X-MBX-USED-WEIGHT-1M` and pauses before the limit, waits out 429/418 for
//! exactly `Retry-After`, and turns `-1121` into an error that names the symbol. Every request
//! has a total timeout and every answer is read up to [`MAX_REST_BODY`].

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, IgnoredAny, SeqAccess, Visitor};

use super::wire::num;
use crate::domain::{Candle, Interval, Side, Symbol, TradeTick, TsMs, now_ms};
use crate::sources::net::WeightBudget;
use crate::sources::net::http::{
    BodyError, DEFAULT_REST_TIMEOUT, ERROR_BODY_PREFIX, MAX_REST_BODY, RateGate, TooLarge,
    check_base_url, http_client, network_reason, read_capped, read_prefix, retry_after, wait_turn,
};

/// Binance's spot request-weight limit per minute (docs, 2024-): 6000.
const WEIGHT_LIMIT_1M: u32 = 6000;
/// Rows per page: the maximum Binance serves for klines and aggTrades.
pub const PAGE: usize = 1000;
/// 429/418 answers in a row before giving up on one request.
const MAX_RATE_LIMIT_RETRIES: u32 = 5;

/// Why a REST request failed. Callers branch on `InvalidSymbol` (drop it, keep the rest) and on
/// [`RestError::is_retryable`].
#[derive(Debug, Clone, thiserror::Error)]
pub enum RestError {
    #[error("invalid symbol {symbol} (Binance -1121): remove it from [binance].symbols")]
    InvalidSymbol { symbol: Symbol },
    #[error("Binance rejected the request (HTTP {status}, code {code}): {msg}")]
    Api { status: u16, code: i64, msg: String },
    #[error("HTTP {status} from {url}: {body}")]
    Status {
        status: u16,
        url: String,
        body: String,
    },
    #[error(
        "still rate-limited after {MAX_RATE_LIMIT_RETRIES} waits (HTTP {status}); next try after {until_ms}"
    )]
    RateLimited { status: u16, until_ms: TsMs },
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
            RestError::InvalidSymbol { .. }
            | RestError::Api { .. }
            | RestError::Decode { .. }
            | RestError::TooLarge(_) => false,
        }
    }
}

#[derive(Debug, Deserialize)]
struct ApiError {
    code: i64,
    msg: String,
}

/// One `/api/v3/klines` row: `[open_ms, "o", "h", "l", "c", "v", close_ms, "quote", n, ...]`.
struct KlineRow(Candle);

impl<'de> Deserialize<'de> for KlineRow {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = KlineRow;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a kline array [open time, open, high, low, close, volume, ...]")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<KlineRow, A::Error> {
                let missing = |i: usize| de::Error::invalid_length(i, &"at least 9 kline fields");
                let open_ms: TsMs = s.next_element()?.ok_or_else(|| missing(0))?;
                let mut px = [0.0f64; 5];
                for (i, slot) in px.iter_mut().enumerate() {
                    let text: &str = s.next_element()?.ok_or_else(|| missing(i + 1))?;
                    *slot = num("kline field", text).map_err(de::Error::custom)?;
                }
                let _close_ms: IgnoredAny = s.next_element()?.ok_or_else(|| missing(6))?;
                let _quote: IgnoredAny = s.next_element()?.ok_or_else(|| missing(7))?;
                let trades: u64 = s.next_element()?.ok_or_else(|| missing(8))?;
                // Binance may append fields; never refuse them.
                while s.next_element::<IgnoredAny>()?.is_some() {}
                Ok(KlineRow(Candle {
                    open_ms,
                    open: px[0],
                    high: px[1],
                    low: px[2],
                    close: px[3],
                    volume: px[4],
                    trades,
                }))
            }
        }
        d.deserialize_seq(V)
    }
}

#[derive(Debug, Deserialize)]
struct AggTradeRow<'a> {
    a: u64,
    p: &'a str,
    q: &'a str,
    #[serde(rename = "T")]
    time: TsMs,
    m: bool,
}

/// Parses a `/api/v3/klines` body.
pub fn parse_klines(body: &[u8]) -> Result<Vec<Candle>, serde_json::Error> {
    let rows: Vec<KlineRow> = serde_json::from_slice(body)?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

/// Parses a `/api/v3/aggTrades` body into (trade time, trade).
pub fn parse_agg_trades(body: &[u8]) -> Result<Vec<(TsMs, TradeTick)>, String> {
    let rows: Vec<AggTradeRow<'_>> = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    rows.into_iter()
        .map(|r| {
            Ok((
                r.time,
                TradeTick {
                    trade_id: r.a,
                    price: num("p", r.p).map_err(|e| e.to_string())?,
                    qty: num("q", r.q).map_err(|e| e.to_string())?,
                    side: Side::from_buyer_maker(r.m),
                },
            ))
        })
        .collect()
}

#[derive(Deserialize)]
struct ExchangeInfo {
    #[serde(rename = "rateLimits")]
    rate_limits: Vec<RateLimit>,
}

#[derive(Deserialize)]
struct RateLimit {
    #[serde(rename = "rateLimitType")]
    kind: String,
    interval: String,
    #[serde(rename = "intervalNum")]
    interval_num: u32,
    limit: u32,
}

/// The REQUEST_WEIGHT limit per minute from an exchangeInfo body (other windows are scaled to
/// a minute, rounding down).
pub fn parse_weight_limit(body: &[u8]) -> Result<u32, String> {
    let info: ExchangeInfo = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    info.rate_limits
        .iter()
        .filter(|r| r.kind == "REQUEST_WEIGHT" && r.interval_num > 0)
        .filter_map(|r| {
            let secs = match r.interval.as_str() {
                "SECOND" => 1,
                "MINUTE" => 60,
                "HOUR" => 3_600,
                "DAY" => 86_400,
                _ => return None,
            } * u64::from(r.interval_num);
            Some((u64::from(r.limit) * 60 / secs) as u32)
        })
        .min()
        .filter(|l| *l > 0)
        .ok_or_else(|| "no REQUEST_WEIGHT limit in rateLimits".to_string())
}

#[derive(Deserialize)]
struct SymbolsInfo {
    #[serde(default)]
    symbols: Vec<SymbolInfo>,
}

#[derive(Deserialize)]
struct SymbolInfo {
    symbol: String,
    #[serde(default)]
    status: String,
}

/// The status (`TRADING`, `BREAK`, ...) of `symbol` in an exchangeInfo body; `None` when the
/// body does not list it.
pub fn parse_symbol_status(body: &[u8], symbol: Symbol) -> Result<Option<String>, String> {
    let info: SymbolsInfo = serde_json::from_slice(body).map_err(|e| e.to_string())?;
    Ok(info
        .symbols
        .into_iter()
        .find(|s| s.symbol.eq_ignore_ascii_case(symbol.as_str()))
        .map(|s| s.status))
}

/// A Binance spot REST client. Clones share the rate-limit state, so one wait holds them all.
#[derive(Debug, Clone)]
pub struct RestClient {
    http: reqwest::Client,
    base: String,
    /// Total time for one request, from connecting to the last byte of the answer.
    timeout: Duration,
    weight: Arc<Mutex<WeightBudget>>,
    /// No request goes out before this wall-clock time (set by 429/418 Retry-After).
    gate: RateGate,
}

impl RestClient {
    /// A client for `base_url` (e.g. `https://api.binance.com`) with the default request
    /// timeout (10 s).
    pub fn new(base_url: &str) -> anyhow::Result<Self> {
        Self::with_timeout(base_url, DEFAULT_REST_TIMEOUT)
    }

    /// A client for the config's `rest_url` whose requests fail after `rest_timeout_secs`.
    pub fn from_config(cfg: &super::BinanceConfig) -> anyhow::Result<Self> {
        Self::with_timeout(&cfg.rest_url, cfg.rest_timeout())
    }

    /// A client for `base_url` whose requests fail after `timeout` in all.
    pub fn with_timeout(base_url: &str, timeout: Duration) -> anyhow::Result<Self> {
        let base = check_base_url("REST URL", base_url)?;
        let http = http_client(timeout)?;
        Ok(RestClient {
            http,
            base,
            timeout,
            weight: Arc::new(Mutex::new(WeightBudget::new(WEIGHT_LIMIT_1M))),
            gate: RateGate::default(),
        })
    }

    /// Until when requests are held back by the venue's rate limit (0 or past: not held).
    pub fn rate_limited_until(&self) -> TsMs {
        let blocked = self.gate.blocked_until();
        let now = now_ms();
        let weight = self
            .with_weight(|w| w.delay(now))
            .map_or(0, |d| now + d.as_millis() as TsMs);
        blocked.max(weight)
    }

    /// The request-weight limit per minute in use (6000 until [`load_limits`](Self::load_limits)
    /// reads Binance's own figure).
    pub fn weight_limit(&self) -> u32 {
        self.with_weight(|w| w.limit())
    }

    /// Reads the REQUEST_WEIGHT limit from `GET /api/v3/exchangeInfo?symbol=` (Binance has
    /// changed it over the years: 1200, then 6000 a minute) and uses it from now on. Returns
    /// the limit read.
    pub async fn load_limits(
        &self,
        symbol: Symbol,
        on_rate_limit: impl Fn(TsMs) + Send + Sync,
    ) -> Result<u32, RestError> {
        let body = self
            .get(
                "/api/v3/exchangeInfo",
                &[("symbol", symbol.to_string())],
                symbol,
                &on_rate_limit,
            )
            .await?;
        let limit = parse_weight_limit(&body).map_err(|reason| RestError::Decode {
            url: format!("{}/api/v3/exchangeInfo", self.base),
            reason,
        })?;
        self.with_weight(|w| w.set_limit(limit));
        Ok(limit)
    }

    /// Asks Binance whether `symbol` is a spot symbol (`GET /api/v3/exchangeInfo?symbol=`):
    /// its status (`TRADING`, `BREAK`...), or [`RestError::InvalidSymbol`] when Binance does
    /// not list it (`-1121`). The weight limit the answer announces is used from now on.
    pub async fn symbol_status(
        &self,
        symbol: Symbol,
        on_rate_limit: impl Fn(TsMs) + Send + Sync,
    ) -> Result<String, RestError> {
        let body = self
            .get(
                "/api/v3/exchangeInfo",
                &[("symbol", symbol.to_string())],
                symbol,
                &on_rate_limit,
            )
            .await?;
        if let Ok(limit) = parse_weight_limit(&body) {
            self.with_weight(|w| w.set_limit(limit));
        }
        match parse_symbol_status(&body, symbol) {
            Ok(Some(status)) => Ok(status),
            Ok(None) => Err(RestError::InvalidSymbol { symbol }),
            Err(reason) => Err(RestError::Decode {
                url: format!("{}/api/v3/exchangeInfo", self.base),
                reason,
            }),
        }
    }

    /// Weight used in the current minute, as Binance last reported it.
    pub fn used_weight(&self) -> u32 {
        self.with_weight(|w| w.used(now_ms()))
    }

    fn with_weight<R>(&self, f: impl FnOnce(&mut WeightBudget) -> R) -> R {
        let mut g = match self.weight.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        f(&mut g)
    }

    fn network(&self, url: &str, e: &reqwest::Error) -> RestError {
        RestError::Network {
            url: url.to_string(),
            reason: network_reason(e, self.timeout),
        }
    }

    /// Sleeps while a Retry-After or the weight budget says to wait.
    async fn wait_turn(&self, on_rate_limit: &(dyn Fn(TsMs) + Send + Sync)) {
        wait_turn(|| self.rate_limited_until(), on_rate_limit).await;
    }

    /// GET `path` with `query`; returns the body of a 2xx answer.
    async fn get(
        &self,
        path: &str,
        query: &[(&str, String)],
        symbol: Symbol,
        on_rate_limit: &(dyn Fn(TsMs) + Send + Sync),
    ) -> Result<Vec<u8>, RestError> {
        let url = format!("{}{}", self.base, path);
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
            if let Some(used) = resp
                .headers()
                .get("x-mbx-used-weight-1m")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u32>().ok())
            {
                self.with_weight(|w| w.observe(used, now_ms()));
            }
            if status == 429 || status == 418 {
                let wait = retry_after(&resp)
                    // Without the header, wait a full weight window (Binance's unit).
                    .unwrap_or(Duration::from_secs(60));
                let until = self.gate.block_for(wait);
                tracing::warn!(
                    url,
                    status,
                    wait_s = wait.as_secs_f64(),
                    "Binance rate limit"
                );
                limited += 1;
                if limited > MAX_RATE_LIMIT_RETRIES {
                    return Err(RestError::RateLimited {
                        status,
                        until_ms: until,
                    });
                }
                continue;
            }
            if (200..300).contains(&status) {
                return read_capped(resp, &url, MAX_REST_BODY)
                    .await
                    .map_err(|e| match e {
                        BodyError::TooLarge(e) => RestError::TooLarge(e),
                        BodyError::Network(e) => self.network(&url, &e),
                    });
            }
            let body = read_prefix(resp, ERROR_BODY_PREFIX)
                .await
                .map_err(|e| self.network(&url, &e))?;
            return Err(match serde_json::from_slice::<ApiError>(&body) {
                Ok(e) if e.code == -1121 => RestError::InvalidSymbol { symbol },
                Ok(e) => RestError::Api {
                    status,
                    code: e.code,
                    msg: crate::format::visible(&e.msg),
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

    /// Candles of `symbol` from `from_ms` (the candle containing it) to `to_ms` (or now), paged
    /// 1000 at a time. The last one may still be open: compare its end with the clock.
    pub async fn klines(
        &self,
        symbol: Symbol,
        interval: Interval,
        from_ms: TsMs,
        to_ms: Option<TsMs>,
        on_rate_limit: impl Fn(TsMs) + Send + Sync,
    ) -> Result<Vec<Candle>, RestError> {
        self.klines_with_progress(symbol, interval, from_ms, to_ms, on_rate_limit, |_| {})
            .await
    }

    /// [`klines`](Self::klines), calling `on_page` with the number of candles fetched so far
    /// after each page (a long backfill shows its progress).
    pub async fn klines_with_progress(
        &self,
        symbol: Symbol,
        interval: Interval,
        from_ms: TsMs,
        to_ms: Option<TsMs>,
        on_rate_limit: impl Fn(TsMs) + Send + Sync,
        on_page: impl Fn(usize) + Send + Sync,
    ) -> Result<Vec<Candle>, RestError> {
        let mut out: Vec<Candle> = Vec::new();
        let mut start = interval.bucket(from_ms);
        loop {
            let mut q = vec![
                ("symbol", symbol.to_string()),
                ("interval", interval.as_str().to_string()),
                ("startTime", start.to_string()),
                ("limit", PAGE.to_string()),
            ];
            if let Some(to) = to_ms {
                q.push(("endTime", to.to_string()));
            }
            let body = self
                .get("/api/v3/klines", &q, symbol, &on_rate_limit)
                .await?;
            let page = parse_klines(&body).map_err(|e| RestError::Decode {
                url: format!("{}/api/v3/klines", self.base),
                reason: e.to_string(),
            })?;
            let n = page.len();
            // Guard against a server that ignores startTime: only keep what moves forward.
            let before = out.len();
            out.extend(
                page.into_iter()
                    .filter(|c| c.open_ms >= start && to_ms.is_none_or(|t| c.open_ms <= t)),
            );
            on_page(out.len());
            let Some(last) = out.last() else { break };
            if n < PAGE || out.len() == before {
                break;
            }
            start = last.open_ms + interval.ms();
            if to_ms.is_some_and(|t| start > t) {
                break;
            }
        }
        Ok(out)
    }

    /// Up to `limit` (max 1000) aggregate trades of `symbol` starting at id `from_id`.
    pub async fn agg_trades_from(
        &self,
        symbol: Symbol,
        from_id: u64,
        limit: usize,
        on_rate_limit: impl Fn(TsMs) + Send + Sync,
    ) -> Result<Vec<(TsMs, TradeTick)>, RestError> {
        let q = [
            ("symbol", symbol.to_string()),
            ("fromId", from_id.to_string()),
            ("limit", limit.clamp(1, PAGE).to_string()),
        ];
        let body = self
            .get("/api/v3/aggTrades", &q, symbol, &on_rate_limit)
            .await?;
        parse_agg_trades(&body).map_err(|reason| RestError::Decode {
            url: format!("{}/api/v3/aggTrades", self.base),
            reason,
        })
    }

    /// `GET /api/v3/depth`: the top `limit` levels of each side of `symbol`'s book with its
    /// `lastUpdateId` (weight 50 at 1000 levels).
    pub async fn depth(
        &self,
        symbol: Symbol,
        limit: u32,
        on_rate_limit: &(dyn Fn(TsMs) + Send + Sync),
    ) -> Result<Vec<u8>, RestError> {
        let q = [
            ("symbol", symbol.to_string()),
            ("limit", limit.clamp(1, 5000).to_string()),
        ];
        self.get("/api/v3/depth", &q, symbol, on_rate_limit).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kline_rows_tolerate_extra_fields_and_reject_short_ones() {
        let body = br#"[[1634943780000,"60685.22","60729.84","60670.90","60719.27","21.63",1634943839999,"1313200.0",617,"12.2","745719.4","0","new"]]"#;
        let c = parse_klines(body).unwrap();
        assert_eq!(c.len(), 1);
        assert_eq!(
            (c[0].open_ms, c[0].close, c[0].trades),
            (1634943780000, 60719.27, 617)
        );
        assert!(parse_klines(br#"[[1634943780000,"1","2"]]"#).is_err());
        assert!(parse_klines(br#"[[1634943780000,"x","2","1","1","1",1,"1",1]]"#).is_err());
    }

    #[test]
    fn weight_limit_is_read_from_exchange_info() {
        let body = br#"{"timezone":"UTC","rateLimits":[{"rateLimitType":"REQUEST_WEIGHT","interval":"MINUTE","intervalNum":1,"limit":6000},{"rateLimitType":"ORDERS","interval":"SECOND","intervalNum":10,"limit":100}],"symbols":[]}"#;
        assert_eq!(parse_weight_limit(body), Ok(6000));
        let hourly = br#"{"rateLimits":[{"rateLimitType":"REQUEST_WEIGHT","interval":"HOUR","intervalNum":1,"limit":60000}]}"#;
        assert_eq!(parse_weight_limit(hourly), Ok(1000));
        assert!(parse_weight_limit(br#"{"rateLimits":[]}"#).is_err());
        assert!(parse_weight_limit(b"<html>").is_err());
        if let Some(dir) = crate::testdata::fixtures() {
            // the 2021 capture still says 1200 a minute
            let old = std::fs::read(dir.join("binance_rest/exchangeInfo_2021-08-14.trimmed.json"))
                .unwrap();
            assert_eq!(parse_weight_limit(&old), Ok(1200));
            let nautilus = std::fs::read(
                dir.join("binance_rest/nautilus_http_spot_market_exchange_info.json"),
            )
            .unwrap();
            assert!(parse_weight_limit(&nautilus).is_ok());
        }
    }

    #[test]
    fn symbol_status_is_read_from_exchange_info() {
        let body = br#"{"rateLimits":[],"symbols":[{"symbol":"BTCUSDT","status":"TRADING","baseAsset":"BTC"},{"symbol":"LUNAUSDT","status":"BREAK"}]}"#;
        let sym = |s: &str| Symbol::new(s).unwrap();
        assert_eq!(
            parse_symbol_status(body, sym("BTCUSDT")),
            Ok(Some("TRADING".into()))
        );
        assert_eq!(
            parse_symbol_status(body, sym("LUNAUSDT")),
            Ok(Some("BREAK".into()))
        );
        assert_eq!(parse_symbol_status(body, sym("FOOUSDT")), Ok(None));
        assert!(parse_symbol_status(b"<html>", sym("BTCUSDT")).is_err());
    }

    #[test]
    fn agg_trade_rows_map_buyer_maker_to_side() {
        let body =
            br#"[{"a":5,"p":"1.5","q":"2","f":1,"l":2,"T":1634944096633,"m":true,"M":true}]"#;
        let t = parse_agg_trades(body).unwrap();
        assert_eq!(t[0].0, 1634944096633);
        assert_eq!(
            (t[0].1.trade_id, t[0].1.price, t[0].1.side),
            (5, 1.5, Side::Sell)
        );
    }

    #[test]
    fn only_transient_errors_are_retryable() {
        let sym = Symbol::new("FOOUSDT").unwrap();
        let e = RestError::InvalidSymbol { symbol: sym };
        assert!(!e.is_retryable());
        assert!(e.to_string().contains("FOOUSDT"), "{e}");
        assert!(
            RestError::Network {
                url: "u".into(),
                reason: "r".into()
            }
            .is_retryable()
        );
        assert!(
            RestError::Status {
                status: 503,
                url: "u".into(),
                body: String::new()
            }
            .is_retryable()
        );
        assert!(
            !RestError::Status {
                status: 404,
                url: "u".into(),
                body: String::new()
            }
            .is_retryable()
        );
    }
}
