//! Coinbase Exchange formats for tests: WebSocket frames in the shapes the Exchange feed sends,
//! the subscribe handshake, and an in-memory market that answers `/products/{id}/trades`
//! (newest first, `after` cursor, `CB-AFTER` header) and `/products/{id}/candles` (at most 300
//! per request), with 404 `NotFound` for unknown products and queued 429 faults.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use super::http::{Handler, Request, Response};
use super::ws::ServerConn;

/// Trade `id` happens at `T0 + id * 100 ms`.
pub const T0: i64 = 1_700_000_040_000;

pub fn trade_time(id: u64) -> i64 {
    T0 + id as i64 * 100
}

/// ISO-8601 with microseconds, as Coinbase writes times.
pub fn iso(ms: i64) -> String {
    tickwatch::domain::iso8601(ms).replace('Z', "000Z")
}

pub fn price(id: u64) -> String {
    format!("{}.5", 100 + id % 7)
}

/// The maker's side (what Coinbase puts in `side`): even ids rested as bids.
pub fn maker_side(id: u64) -> &'static str {
    if id.is_multiple_of(2) { "buy" } else { "sell" }
}

fn trade_frame(kind: &str, product: &str, id: u64) -> String {
    format!(
        r#"{{"type":"{kind}","trade_id":{id},"maker_order_id":"m-{id}","taker_order_id":"t-{id}","side":"{}","size":"0.25","price":"{}","product_id":"{product}","sequence":{},"time":"{}"}}"#,
        maker_side(id),
        price(id),
        1000 + id,
        iso(trade_time(id))
    )
}

pub fn match_frame(product: &str, id: u64) -> String {
    trade_frame("match", product, id)
}

pub fn matches(product: &str, ids: std::ops::RangeInclusive<u64>) -> Vec<String> {
    ids.map(|id| match_frame(product, id)).collect()
}

pub fn last_match(product: &str, id: u64) -> String {
    trade_frame("last_match", product, id)
}

pub fn heartbeat(product: &str, last_trade_id: u64) -> String {
    format!(
        r#"{{"type":"heartbeat","last_trade_id":{last_trade_id},"product_id":"{product}","sequence":{},"time":"{}"}}"#,
        5000 + last_trade_id,
        iso(trade_time(last_trade_id))
    )
}

pub fn ticker(product: &str, id: u64) -> String {
    format!(
        r#"{{"type":"ticker","sequence":{},"product_id":"{product}","price":"{}","open_24h":"99.0","volume_24h":"1234.5","low_24h":"98.0","high_24h":"107.0","volume_30d":"99999","best_bid":"100.00","best_bid_size":"0.75","best_ask":"101.00","best_ask_size":"2.5","side":"buy","time":"{}","trade_id":{id},"last_size":"0.25"}}"#,
        1000 + id,
        price(id),
        iso(trade_time(id))
    )
}

pub fn subscriptions(products: &[String]) -> String {
    let ids = serde_json::to_string(products).unwrap();
    format!(
        r#"{{"type":"subscriptions","channels":[{{"name":"matches","product_ids":{ids}}},{{"name":"ticker","product_ids":{ids}}},{{"name":"heartbeat","product_ids":{ids}}}]}}"#
    )
}

/// What Coinbase answers a subscribe that names a product it does not list.
pub fn unknown_product_error(product: &str) -> String {
    format!(
        r#"{{"type":"error","message":"Failed to subscribe","reason":"{product} is not a valid product"}}"#
    )
}

/// A control message the client sent.
#[derive(Debug, Clone, PartialEq)]
pub struct Control {
    pub kind: String,
    pub product_ids: Vec<String>,
    pub channels: Vec<String>,
}

/// Reads the next text message from the client as a subscribe/unsubscribe.
pub async fn expect_control(conn: &mut ServerConn) -> Control {
    let text = conn.recv_text().await;
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let strings = |k: &str| -> Vec<String> {
        v[k].as_array()
            .unwrap_or_else(|| panic!("{k} is not an array: {text}"))
            .iter()
            .map(|s| s.as_str().unwrap().to_string())
            .collect()
    };
    Control {
        kind: v["type"].as_str().unwrap_or_default().to_string(),
        product_ids: strings("product_ids"),
        channels: strings("channels"),
    }
}

/// Reads a subscribe, checks it, and acknowledges it with `subscriptions`.
pub async fn expect_subscribe(conn: &mut ServerConn) -> Control {
    let c = expect_control(conn).await;
    assert_eq!(c.kind, "subscribe", "{c:?}");
    conn.send(subscriptions(&c.product_ids)).await;
    c
}

/// A fault applied to the next REST request, in queue order.
#[derive(Debug, Clone)]
pub enum Fault {
    TooMany { retry_after_s: Option<u64> },
}

pub struct Market {
    pub products: Vec<String>,
    /// Highest trade id that exists (ids start at 1), the same for every product.
    pub last_trade: Mutex<u64>,
    pub faults: Mutex<VecDeque<Fault>>,
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

fn time_param(req: &Request, k: &str) -> Option<i64> {
    let v = decode(req.query.get(k)?);
    chrono::DateTime::parse_from_rfc3339(&v)
        .ok()
        .map(|t| t.timestamp_millis())
}

impl Market {
    pub fn new(products: &[&str], last_trade: u64) -> Arc<Market> {
        Arc::new(Market {
            products: products.iter().map(|s| s.to_string()).collect(),
            last_trade: Mutex::new(last_trade),
            faults: Mutex::default(),
        })
    }

    pub fn happened(&self, last: u64) {
        *self.last_trade.lock().unwrap() = last;
    }

    pub fn fault(&self, f: Fault) {
        self.faults.lock().unwrap().push_back(f);
    }

    /// `GET /products/{id}`: the product in Coinbase's shape, or 404 NotFound.
    fn product(&self, product: &str) -> Response {
        if !self.products.iter().any(|p| p == product) {
            return Response::json(404, r#"{"message":"NotFound"}"#);
        }
        let (base, quote) = product.split_once('-').unwrap_or((product, ""));
        Response::json(
            200,
            format!(
                r#"{{"id":"{product}","base_currency":"{base}","quote_currency":"{quote}","quote_increment":"0.01","base_increment":"0.00000001","display_name":"{base}/{quote}","min_market_funds":"1","margin_enabled":false,"post_only":false,"limit_only":false,"cancel_only":false,"status":"online","status_message":"","trading_disabled":false,"fx_stablecoin":false,"auction_mode":false}}"#
            ),
        )
    }

    pub fn handler(self: &Arc<Self>) -> Handler {
        let m = self.clone();
        Arc::new(move |req: &Request| m.answer(req))
    }

    fn answer(&self, req: &Request) -> Response {
        if let Some(Fault::TooMany { retry_after_s }) = self.faults.lock().unwrap().pop_front() {
            let r = Response::json(429, r#"{"message":"Public rate limit exceeded"}"#);
            return match retry_after_s {
                Some(s) => r.header("Retry-After", s),
                None => r,
            };
        }
        let parts: Vec<&str> = req.path.trim_matches('/').split('/').collect();
        if let ["products", p] = parts.as_slice() {
            return self.product(p);
        }
        let (product, what) = match parts.as_slice() {
            ["products", p, w] => (p.to_string(), *w),
            _ => return Response::json(404, r#"{"message":"NotFound"}"#),
        };
        if !self.products.contains(&product) {
            return Response::json(404, r#"{"message":"NotFound"}"#);
        }
        match what {
            "trades" => {
                let limit: usize = req
                    .query
                    .get("limit")
                    .and_then(|l| l.parse().ok())
                    .unwrap_or(1000);
                let after: u64 = req
                    .query
                    .get("after")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(u64::MAX);
                let last = *self.last_trade.lock().unwrap();
                let ids: Vec<u64> = (1..=last)
                    .rev()
                    .filter(|id| *id < after)
                    .take(limit)
                    .collect();
                let rows: Vec<String> = ids
                    .iter()
                    .map(|&id| {
                        format!(
                            r#"{{"time":"{}","trade_id":{id},"price":"{}","size":"0.25","side":"{}"}}"#,
                            iso(trade_time(id)),
                            price(id),
                            maker_side(id)
                        )
                    })
                    .collect();
                let mut r = Response::json(200, format!("[{}]", rows.join(",")));
                if let (Some(newest), Some(oldest)) = (ids.first(), ids.last()) {
                    r = r.header("CB-BEFORE", newest).header("CB-AFTER", oldest);
                }
                r
            }
            "candles" => {
                if req.query.get("granularity").map(String::as_str) != Some("60") {
                    return Response::json(400, r#"{"message":"Unsupported granularity"}"#);
                }
                let (Some(start), Some(end)) = (time_param(req, "start"), time_param(req, "end"))
                else {
                    return Response::json(400, r#"{"message":"start and end must be ISO 8601"}"#);
                };
                let first = start - start.rem_euclid(60_000);
                let count = (end - first) / 60_000 + 1;
                if count > 300 {
                    return Response::json(
                        400,
                        r#"{"message":"granularity too small for the requested time range. Count of aggregations requested exceeds 300"}"#,
                    );
                }
                let now = tickwatch::domain::now_ms();
                let rows: Vec<String> = (0..count)
                    .map(|i| first + i * 60_000)
                    .filter(|t| *t <= now)
                    .rev()
                    .map(|t| format!("[{},99.5,102.0,100.0,101.0,10.5]", t / 1000))
                    .collect();
                Response::json(200, format!("[{}]", rows.join(",")))
            }
            _ => Response::json(404, r#"{"message":"NotFound"}"#),
        }
    }
}
