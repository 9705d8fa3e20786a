//! OKX formats for tests: public v5 frames in the shapes OKX sends, the subscribe handshake,
//! and an in-memory market that answers `history-trades` (newest first, `after` = ids below)
//! and `candles`, with 51001 for unknown instruments and queued 429s.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use super::http::{Handler, Request, Response};
use super::ws::ServerConn;

pub struct Market {
    pub instruments: Vec<String>,
    /// Highest trade id that exists (ids start at 1), the same for every instrument.
    pub last_trade: Mutex<u64>,
    pub t0: i64,
    /// Seconds of Retry-After for queued 429s.
    pub faults: Mutex<VecDeque<u64>>,
}

impl Market {
    pub fn new(instruments: &[&str]) -> Arc<Market> {
        Arc::new(Market {
            instruments: instruments.iter().map(|s| s.to_string()).collect(),
            last_trade: Mutex::new(0),
            t0: tickwatch::domain::now_ms() - 60_000,
            faults: Mutex::default(),
        })
    }

    fn row(&self, inst: &str, id: u64) -> String {
        format!(
            r#"{{"instId":"{inst}","tradeId":"{id}","px":"{}.5","sz":"0.25","side":"{}","ts":"{}"}}"#,
            100 + id % 7,
            if id.is_multiple_of(2) { "buy" } else { "sell" },
            self.t0 + id as i64 * 100
        )
    }

    /// A `trades` push with trade `id` of `inst`.
    pub fn trade(&self, inst: &str, id: u64) -> String {
        format!(
            r#"{{"arg":{{"channel":"trades","instId":"{inst}"}},"data":[{}]}}"#,
            self.row(inst, id)
        )
    }

    pub fn handler(self: &Arc<Self>) -> Handler {
        let m = self.clone();
        Arc::new(move |req: &Request| m.answer(req))
    }

    fn answer(&self, req: &Request) -> Response {
        if let Some(secs) = self.faults.lock().unwrap().pop_front() {
            return Response::json(429, r#"{"code":"50011","msg":"Too Many Requests"}"#)
                .header("Retry-After", secs);
        }
        let inst = req.query.get("instId").cloned().unwrap_or_default();
        if !self.instruments.contains(&inst) {
            return Response::json(
                200,
                r#"{"code":"51001","msg":"Instrument ID does not exist","data":[]}"#,
            );
        }
        match req.path.as_str() {
            "/api/v5/market/history-trades" => {
                let after: u64 = req
                    .query
                    .get("after")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(u64::MAX);
                let last = *self.last_trade.lock().unwrap();
                let rows: Vec<String> = (1..=last)
                    .rev()
                    .filter(|id| *id < after)
                    .take(100)
                    .map(|id| self.row(&inst, id))
                    .collect();
                Response::json(
                    200,
                    format!(r#"{{"code":"0","msg":"","data":[{}]}}"#, rows.join(",")),
                )
            }
            "/api/v5/market/candles" => Response::json(200, r#"{"code":"0","msg":"","data":[]}"#),
            _ => Response::json(404, r#"{"code":"404","msg":"Not Found"}"#),
        }
    }
}

/// Reads the client's first subscribe and answers each (channel, instrument) it names.
pub async fn expect_subscribe(conn: &mut ServerConn) -> Vec<String> {
    let text = conn.recv_text().await;
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["op"], "subscribe", "{text}");
    let mut insts = Vec::new();
    for arg in v["args"].as_array().unwrap() {
        conn.send(format!(
            r#"{{"event":"subscribe","arg":{arg},"connId":"a4d3ae55"}}"#
        ))
        .await;
        let inst = arg["instId"].as_str().unwrap().to_string();
        if !insts.contains(&inst) {
            insts.push(inst);
        }
    }
    insts
}
