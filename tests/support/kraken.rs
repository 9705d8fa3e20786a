//! Kraken formats for tests: WebSocket v2 frames in the shapes Kraken sends, the subscribe
//! handshake, and an in-memory market that answers `/0/public/Trades` (paged by a nanosecond
//! `since`, rows carrying the trade id) and `/0/public/OHLC`, with `Unknown asset pair` for
//! unknown pairs and queued 429s.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use super::http::{Handler, Request, Response};
use super::ws::ServerConn;

/// Trade `id` happens at `T0 + id * 100 ms` (set near now by the market).
pub struct Market {
    pub pairs: Vec<String>,
    /// Highest trade id that exists (ids start at 1), the same for every pair.
    pub last_trade: Mutex<u64>,
    pub t0: i64,
    /// Seconds of Retry-After for queued 429s.
    pub faults: Mutex<VecDeque<u64>>,
}

impl Market {
    pub fn new(pairs: &[&str]) -> Arc<Market> {
        Arc::new(Market {
            pairs: pairs.iter().map(|s| s.to_string()).collect(),
            last_trade: Mutex::new(0),
            t0: tickwatch::domain::now_ms() - 60_000,
            faults: Mutex::default(),
        })
    }

    pub fn trade_time(&self, id: u64) -> i64 {
        self.t0 + id as i64 * 100
    }

    /// A v2 `trade` update with trade `id` of `pair`.
    pub fn trade(&self, pair: &str, id: u64) -> String {
        format!(
            r#"{{"channel":"trade","type":"update","data":[{{"symbol":"{pair}","side":"{}","price":{}.5,"qty":0.25,"ord_type":"market","trade_id":{id},"timestamp":"{}"}}]}}"#,
            if id.is_multiple_of(2) { "buy" } else { "sell" },
            100 + id % 7,
            tickwatch::domain::iso8601(self.trade_time(id))
        )
    }

    pub fn handler(self: &Arc<Self>) -> Handler {
        let m = self.clone();
        Arc::new(move |req: &Request| m.answer(req))
    }

    /// The REST pair name of a v2 pair (`BTC/USD` -> `XBTUSD`).
    fn rest_pair(pair: &str) -> String {
        pair.replace("BTC", "XBT").replace('/', "")
    }

    fn answer(&self, req: &Request) -> Response {
        if let Some(secs) = self.faults.lock().unwrap().pop_front() {
            return Response::json(429, r#"{"error":["EGeneral:Too many requests"]}"#)
                .header("Retry-After", secs);
        }
        let asked = req.query.get("pair").cloned().unwrap_or_default();
        let Some(pair) = self.pairs.iter().find(|p| Self::rest_pair(p) == asked) else {
            return Response::json(200, r#"{"error":["EQuery:Unknown asset pair"]}"#);
        };
        let key = format!("X{}", Self::rest_pair(pair));
        match req.path.as_str() {
            "/0/public/Trades" => {
                let since_ms: i64 = req
                    .query
                    .get("since")
                    .and_then(|s| s.parse::<i128>().ok())
                    .map_or(0, |ns| (ns / 1_000_000) as i64);
                let last = *self.last_trade.lock().unwrap();
                let rows: Vec<(u64, i64)> = (1..=last)
                    .map(|id| (id, self.trade_time(id)))
                    .filter(|(_, t)| *t >= since_ms)
                    .take(1000)
                    .collect();
                let cursor = rows.last().map_or(since_ms as i128 * 1_000_000, |(_, t)| {
                    (*t as i128 + 1) * 1_000_000
                });
                let body: Vec<String> = rows
                    .iter()
                    .map(|(id, t)| {
                        format!(
                            r#"["{}.5","0.25",{}.{:03},"{}","m","",{id}]"#,
                            100 + id % 7,
                            t / 1000,
                            t % 1000,
                            if id.is_multiple_of(2) { "b" } else { "s" }
                        )
                    })
                    .collect();
                Response::json(
                    200,
                    format!(
                        r#"{{"error":[],"result":{{"{key}":[{}],"last":"{cursor}"}}}}"#,
                        body.join(",")
                    ),
                )
            }
            "/0/public/OHLC" => Response::json(
                200,
                format!(r#"{{"error":[],"result":{{"{key}":[],"last":0}}}}"#),
            ),
            _ => Response::json(404, r#"{"error":["EGeneral:Unknown method"]}"#),
        }
    }
}

/// Reads the client's first subscribe (the `trade` channel) and acknowledges it for every pair;
/// the other channels' subscribes are left unread (the test streams trades only).
pub async fn expect_subscribe(conn: &mut ServerConn) -> Vec<String> {
    let text = conn.recv_text().await;
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["method"], "subscribe", "{text}");
    assert_eq!(v["params"]["channel"], "trade", "{text}");
    let pairs: Vec<String> = v["params"]["symbol"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect();
    for p in &pairs {
        conn.send(format!(
            r#"{{"method":"subscribe","result":{{"channel":"trade","snapshot":true,"symbol":"{p}"}},"success":true,"time_in":"2023-09-25T09:04:31.742599Z","time_out":"2023-09-25T09:04:31.742648Z","req_id":{}}}"#,
            v["req_id"]
        ))
        .await;
    }
    pairs
}
