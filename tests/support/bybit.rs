//! Bybit spot formats for tests: v5 public frames in the shapes Bybit sends, the subscribe
//! handshake, and an in-memory market that answers `recent-trade` (the newest 60, newest first,
//! as Bybit serves spot) and `kline`, with 10001 for unknown symbols and queued 429s.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use super::http::{Handler, Request, Response};
use super::ws::ServerConn;

pub struct Market {
    pub symbols: Vec<String>,
    /// Highest trade id that exists (ids start at 1), the same for every symbol.
    pub last_trade: Mutex<u64>,
    pub t0: i64,
    /// Seconds of Retry-After for queued 429s.
    pub faults: Mutex<VecDeque<u64>>,
}

impl Market {
    pub fn new(symbols: &[&str]) -> Arc<Market> {
        Arc::new(Market {
            symbols: symbols.iter().map(|s| s.to_string()).collect(),
            last_trade: Mutex::new(0),
            t0: tickwatch::domain::now_ms() - 60_000,
            faults: Mutex::default(),
        })
    }

    fn time(&self, id: u64) -> i64 {
        self.t0 + id as i64 * 100
    }

    fn side(id: u64) -> &'static str {
        if id.is_multiple_of(2) { "Buy" } else { "Sell" }
    }

    /// A `publicTrade` push with trade `id` of `symbol`.
    pub fn trade(&self, symbol: &str, id: u64) -> String {
        format!(
            r#"{{"topic":"publicTrade.{symbol}","ts":{t},"type":"snapshot","data":[{{"i":"{id}","T":{t},"p":"{}.5","v":"0.25","S":"{}","s":"{symbol}","BT":false}}]}}"#,
            100 + id % 7,
            Self::side(id),
            t = self.time(id)
        )
    }

    pub fn handler(self: &Arc<Self>) -> Handler {
        let m = self.clone();
        Arc::new(move |req: &Request| m.answer(req))
    }

    fn answer(&self, req: &Request) -> Response {
        if let Some(secs) = self.faults.lock().unwrap().pop_front() {
            return Response::json(429, r#"{"retCode":10006,"retMsg":"Too many visits!"}"#)
                .header("Retry-After", secs);
        }
        let symbol = req.query.get("symbol").cloned().unwrap_or_default();
        if !self.symbols.contains(&symbol) {
            return Response::json(
                200,
                r#"{"retCode":10001,"retMsg":"params error: symbol invalid","result":{},"time":1}"#,
            );
        }
        let list = match req.path.as_str() {
            "/v5/market/recent-trade" => {
                let last = *self.last_trade.lock().unwrap();
                let limit: u64 = req
                    .query
                    .get("limit")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(60)
                    .min(60);
                let rows: Vec<String> = (1..=last)
                    .rev()
                    .take(limit as usize)
                    .map(|id| {
                        format!(
                            r#"{{"execId":"{id}","symbol":"{symbol}","price":"{}.5","size":"0.25","side":"{}","time":"{}","isBlockTrade":false}}"#,
                            100 + id % 7,
                            Self::side(id),
                            self.time(id)
                        )
                    })
                    .collect();
                rows.join(",")
            }
            "/v5/market/kline" => String::new(),
            _ => return Response::json(404, r#"{"retCode":404,"retMsg":"Not Found"}"#),
        };
        Response::json(
            200,
            format!(
                r#"{{"retCode":0,"retMsg":"OK","result":{{"category":"spot","symbol":"{symbol}","list":[{list}]}},"time":1}}"#
            ),
        )
    }
}

/// Reads the client's subscribe requests until every symbol's `publicTrade` topic came, and
/// acknowledges each request with its `req_id`.
pub async fn expect_subscribe(conn: &mut ServerConn, symbols: &[String]) {
    let mut seen: Vec<String> = Vec::new();
    while !symbols.iter().all(|s| seen.contains(s)) {
        let text = conn.recv_text().await;
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["op"], "subscribe", "{text}");
        for t in v["args"].as_array().unwrap() {
            if let Some(s) = t.as_str().unwrap().strip_prefix("publicTrade.") {
                seen.push(s.to_string());
            }
        }
        conn.send(format!(
            r#"{{"success":true,"ret_msg":"subscribe","conn_id":"c","req_id":{},"op":"subscribe"}}"#,
            v["req_id"]
        ))
        .await;
    }
}
