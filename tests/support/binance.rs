//! Binance spot formats for tests: WebSocket frames in the exact shapes Binance sends, and an
//! in-memory market that answers `/api/v3/klines` and `/api/v3/aggTrades` (with paging, weight
//! headers, -1121 for unknown symbols and queued faults: 429/418 with Retry-After, slow answers).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::http::{Handler, Request, Response};

/// Trade `id` happens at `T0 + id * 100 ms`; candle `i` opens at `T0 + i minutes`.
pub const T0: i64 = 1_700_000_040_000; // a minute boundary

/// A venue's book as of diff id `u`: the JSON arrays of bids and of asks (`[["price","size"],..]`).
pub type BookAt = fn(u64) -> (String, String);

/// A `depthUpdate` frame for ids `first..=last`, carrying the book as of `last`.
pub fn depth_diff(book: BookAt, first: u64, last: u64) -> String {
    let (b, a) = book(last);
    format!(
        r#"{{"e":"depthUpdate","E":{},"s":"BTCUSDT","U":{first},"u":{last},"b":{b},"a":{a}}}"#,
        tickwatch::domain::now_ms()
    )
}

/// `market`'s handler, plus `GET /api/v3/depth` answering the book as of the last diff id
/// sent (`last_u`); every snapshot served is noted in `served` (its id).
pub fn depth_handler(
    market: &Arc<Market>,
    book: BookAt,
    last_u: Arc<std::sync::atomic::AtomicU64>,
    served: Arc<Mutex<Vec<u64>>>,
) -> Handler {
    let m = market.handler();
    Arc::new(move |req: &Request| {
        if req.path == "/api/v3/depth" {
            let id = last_u.load(std::sync::atomic::Ordering::SeqCst);
            served.lock().unwrap().push(id);
            let (b, a) = book(id);
            return Response::json(
                200,
                format!(r#"{{"lastUpdateId":{id},"bids":{b},"asks":{a}}}"#),
            );
        }
        m(req)
    })
}

pub fn trade_time(id: u64) -> i64 {
    T0 + id as i64 * 100
}

pub fn agg_trade(symbol: &str, id: u64) -> String {
    agg_trade_at(symbol, id, trade_time(id))
}

/// An aggTrade frame for trade `id` at time `t`.
pub fn agg_trade_at(symbol: &str, id: u64, t: i64) -> String {
    format!(
        r#"{{"e":"aggTrade","E":{t},"s":"{symbol}","a":{id},"p":"{}.5","q":"1.25","f":{id},"l":{id},"T":{t},"m":false,"M":true}}"#,
        100 + id % 7
    )
}

pub fn kline(symbol: &str, open_ms: i64, closed: bool) -> String {
    format!(
        r#"{{"e":"kline","E":{open_ms},"s":"{symbol}","k":{{"t":{open_ms},"T":{},"s":"{symbol}","i":"1m","f":1,"L":2,"o":"100.0","c":"101.0","h":"102.0","l":"99.0","v":"10.0","n":2,"x":{closed},"q":"1000.0","V":"5.0","Q":"500.0","B":"0"}}}}"#,
        open_ms + 59_999
    )
}

pub fn mini_ticker(symbol: &str, t: i64) -> String {
    format!(
        r#"{{"e":"24hrMiniTicker","E":{t},"s":"{symbol}","c":"101.0","o":"100.0","h":"103.0","l":"98.0","v":"12345.0","q":"1234567.0"}}"#
    )
}

pub fn error_frame(id: u64) -> String {
    format!(r#"{{"error":{{"code":2,"msg":"Invalid request: unknown variant"}},"id":{id}}}"#)
}

pub const SERVER_SHUTDOWN: &str = r#"{"e":"serverShutdown","E":1770123456789}"#;

/// A fault applied to the next REST request, in queue order.
#[derive(Debug, Clone)]
pub enum Fault {
    TooMany { retry_after_s: u64 },
    Banned { retry_after_s: u64 },
    Slow(Duration),
}

pub struct Market {
    pub symbols: Vec<String>,
    /// Highest aggregate trade id that exists (ids start at 1).
    pub last_trade: Mutex<u64>,
    /// Candles that exist per symbol, one a minute from `candle_t0`.
    pub candles: usize,
    /// Open time of the first candle (T0 unless moved, e.g. to end at the current minute).
    pub candle_t0: Mutex<i64>,
    pub faults: Mutex<VecDeque<Fault>>,
    pub weight: Mutex<u32>,
    /// Time of trade 0 (trade `id` happens `id * 100 ms` later); T0 unless moved near now.
    pub trade_t0: Mutex<i64>,
    /// REQUEST_WEIGHT per minute announced by `/api/v3/exchangeInfo`.
    pub weight_limit: Mutex<u32>,
    /// Requests answered, by path.
    pub served: Mutex<Vec<String>>,
    /// When each queued 429/418 was answered.
    pub refused_at: Mutex<Vec<std::time::Instant>>,
}

impl Market {
    pub fn new(symbols: &[&str], last_trade: u64, candles: usize) -> Arc<Market> {
        Arc::new(Market {
            symbols: symbols.iter().map(|s| s.to_string()).collect(),
            last_trade: Mutex::new(last_trade),
            candles,
            candle_t0: Mutex::new(T0),
            faults: Mutex::default(),
            weight: Mutex::new(0),
            trade_t0: Mutex::new(T0),
            weight_limit: Mutex::new(6000),
            served: Mutex::default(),
            refused_at: Mutex::default(),
        })
    }

    pub fn trade_time(&self, id: u64) -> i64 {
        *self.trade_t0.lock().unwrap() + id as i64 * 100
    }

    /// An aggTrade frame for trade `id` at this market's time.
    pub fn agg_trade(&self, symbol: &str, id: u64) -> String {
        agg_trade_at(symbol, id, self.trade_time(id))
    }

    pub fn fault(&self, f: Fault) {
        self.faults.lock().unwrap().push_back(f);
    }

    pub fn handler(self: &Arc<Self>) -> Handler {
        let m = self.clone();
        Arc::new(move |req: &Request| m.answer(req))
    }

    /// Like [`handler`](Self::handler), but `/api/v3/exchangeInfo?symbol=X` answers as Binance
    /// does for a symbol it does not list: HTTP 400 with code -1121.
    pub fn strict_handler(self: &Arc<Self>) -> Handler {
        let m = self.clone();
        Arc::new(move |req: &Request| {
            if req.path == "/api/v3/exchangeInfo"
                && let Some(sym) = req.query.get("symbol")
                && !m.symbols.contains(sym)
            {
                m.served.lock().unwrap().push(req.path.clone());
                return Response::json(400, r#"{"code":-1121,"msg":"Invalid symbol."}"#);
            }
            m.answer(req)
        })
    }

    fn answer(&self, req: &Request) -> Response {
        self.served.lock().unwrap().push(req.path.clone());
        let mut delay = Duration::ZERO;
        match self.faults.lock().unwrap().pop_front() {
            Some(Fault::TooMany { retry_after_s }) => {
                self.refused_at
                    .lock()
                    .unwrap()
                    .push(std::time::Instant::now());
                return Response::json(429, r#"{"code":-1003,"msg":"Too many requests."}"#)
                    .header("Retry-After", retry_after_s);
            }
            Some(Fault::Banned { retry_after_s }) => {
                self.refused_at
                    .lock()
                    .unwrap()
                    .push(std::time::Instant::now());
                return Response::json(
                    418,
                    r#"{"code":-1003,"msg":"Way too many requests; IP banned."}"#,
                )
                .header("Retry-After", retry_after_s);
            }
            Some(Fault::Slow(d)) => delay = d,
            None => {}
        }
        let weight = {
            let mut w = self.weight.lock().unwrap();
            *w += 2;
            *w
        };
        if req.path == "/api/v3/exchangeInfo" {
            return Response::json(
                200,
                exchange_info(*self.weight_limit.lock().unwrap(), &self.symbols),
            )
            .header("X-MBX-USED-WEIGHT-1M", weight)
            .delayed(delay);
        }
        let symbol = req.query.get("symbol").cloned().unwrap_or_default();
        if !self.symbols.contains(&symbol) {
            return Response::json(400, r#"{"code":-1121,"msg":"Invalid symbol."}"#);
        }
        let limit: usize = req
            .query
            .get("limit")
            .and_then(|l| l.parse().ok())
            .unwrap_or(500);
        let body = match req.path.as_str() {
            "/api/v3/aggTrades" => {
                let from: u64 = req
                    .query
                    .get("fromId")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(1);
                let last = *self.last_trade.lock().unwrap();
                let rows: Vec<String> = (from.max(1)..=last)
                    .take(limit)
                    .map(|id| {
                        format!(
                            r#"{{"a":{id},"p":"{}.5","q":"1.25","f":{id},"l":{id},"T":{},"m":false,"M":true}}"#,
                            100 + id % 7,
                            self.trade_time(id)
                        )
                    })
                    .collect();
                format!("[{}]", rows.join(","))
            }
            "/api/v3/klines" => {
                let start: i64 = req
                    .query
                    .get("startTime")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(T0);
                let end: i64 = req
                    .query
                    .get("endTime")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(i64::MAX);
                let t0 = *self.candle_t0.lock().unwrap();
                let rows: Vec<String> = (0..self.candles)
                    .map(|i| t0 + i as i64 * 60_000)
                    .filter(|t| *t >= start && *t <= end)
                    .take(limit)
                    .map(|t| {
                        format!(r#"[{t},"100.0","102.0","99.0","101.0","10.0",{},"1000.0",7,"5.0","500.0","0"]"#, t + 59_999)
                    })
                    .collect();
                format!("[{}]", rows.join(","))
            }
            other => {
                return Response::json(404, format!(r#"{{"code":-1,"msg":"no route {other}"}}"#));
            }
        };
        Response::json(200, body)
            .header("X-MBX-USED-WEIGHT-1M", weight)
            .delayed(delay)
    }
}

/// `/api/v3/exchangeInfo` in Binance's shape (trimmed to what matters: the rate limits).
pub fn exchange_info(weight_limit: u32, symbols: &[String]) -> String {
    let syms: Vec<String> = symbols
        .iter()
        .map(|s| {
            format!(r#"{{"symbol":"{s}","status":"TRADING","baseAsset":"X","quoteAsset":"USDT"}}"#)
        })
        .collect();
    format!(
        r#"{{"timezone":"UTC","serverTime":1700000000000,"rateLimits":[{{"rateLimitType":"REQUEST_WEIGHT","interval":"MINUTE","intervalNum":1,"limit":{weight_limit}}},{{"rateLimitType":"ORDERS","interval":"SECOND","intervalNum":10,"limit":100}},{{"rateLimitType":"RAW_REQUESTS","interval":"MINUTE","intervalNum":5,"limit":61000}}],"exchangeFilters":[],"symbols":[{}]}}"#,
        syms.join(",")
    )
}

/// Writes a data.binance.vision 1m kline dump `name` into `dir`: `minutes` candles from `t0`,
/// each flat at `close(i)` (open = high = low = close), volume 1.5 of which 0.7 taker-bought.
pub fn write_kline_dump(
    dir: &std::path::Path,
    name: &str,
    t0: i64,
    minutes: i64,
    close: impl Fn(i64) -> f64,
) -> std::path::PathBuf {
    const MIN: i64 = 60_000;
    let mut text = String::new();
    for i in 0..minutes {
        let o = t0 + i * MIN;
        let c = close(i);
        text.push_str(&format!(
            "{o},{c},{c},{c},{c},1.5,{},{},10,0.7,{},0\n",
            o + MIN - 1,
            1.5 * c,
            0.7 * c
        ));
    }
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}
