//! Alpha Vantage responses for the local HTTP server: an in-memory venue that answers
//! `/query` (GLOBAL_QUOTE, TIME_SERIES_INTRADAY) in Alpha Vantage's documented shapes, refuses
//! a wrong key as Alpha Vantage does, and plays scripted answers (notices, errors, slow replies)
//! first; and a test clock that can jump.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};

use serde_json::json;
use tickwatch::domain::now_ms;
use tickwatch::sources::alphavantage::Clock;

use super::http::{Handler, Request, Response};

/// The key the venue accepts.
pub const KEY: &str = "TESTKEY0123456789";
/// 2024-01-05 10:00:00 US/Eastern (EST), 15:00 UTC: a Friday, during the session.
pub const T0: i64 = 1_704_466_800_000;
/// The end of T0's quota day: 2024-01-06 00:00 US/Eastern, 05:00 UTC.
pub const MIDNIGHT_AFTER_T0: i64 = 1_704_517_200_000;

/// The daily-limit notice (Alpha Vantage quotes the key back in it).
pub fn daily_limit(key: &str) -> String {
    json!({ "Information": format!(
        "We have detected your API key as {key} and our standard API rate limit is 25 requests per day. Please subscribe to any of the premium plans at https://www.alphavantage.co/premium/ to instantly remove all daily rate limits."
    )})
    .to_string()
}

/// The older per-minute notice.
pub fn note_per_minute() -> String {
    json!({ "Note": "Thank you for using Alpha Vantage! Our standard API call frequency is 5 calls per minute and 500 calls per day. Please visit https://www.alphavantage.co/premium/ if you would like to target a higher API call frequency." })
        .to_string()
}

pub fn invalid_call(function: &str) -> String {
    json!({ "Error Message": format!(
        "Invalid API call. Please retry or visit the documentation (https://www.alphavantage.co/documentation/) for {function}."
    )})
    .to_string()
}

pub fn invalid_key() -> String {
    json!({ "Error Message": "the parameter apikey is invalid or missing. Please claim your free API key on (https://www.alphavantage.co/support/#api-key). It should take less than 20 seconds." })
        .to_string()
}

pub fn quote_json(symbol: &str, price: f64, previous_close: f64) -> String {
    json!({ "Global Quote": {
        "01. symbol": symbol,
        "02. open": format!("{:.4}", previous_close + 0.5),
        "03. high": format!("{:.4}", price.max(previous_close) + 1.0),
        "04. low": format!("{:.4}", price.min(previous_close) - 1.0),
        "05. price": format!("{price:.4}"),
        "06. volume": "3397640",
        "07. latest trading day": "2024-01-05",
        "08. previous close": format!("{previous_close:.4}"),
        "09. change": format!("{:.4}", price - previous_close),
        "10. change percent": format!("{:.4}%", (price / previous_close - 1.0) * 100.0),
    }})
    .to_string()
}

/// A TIME_SERIES_INTRADAY body; `bars` are (US/Eastern time, close), newest first as Alpha
/// Vantage sends them.
pub fn intraday_json(symbol: &str, interval: &str, bars: &[(String, f64)]) -> String {
    let mut series = serde_json::Map::new();
    for (t, close) in bars.iter().rev() {
        series.insert(
            t.clone(),
            json!({
                "1. open": format!("{:.4}", close - 0.1),
                "2. high": format!("{:.4}", close + 0.2),
                "3. low": format!("{:.4}", close - 0.3),
                "4. close": format!("{close:.4}"),
                "5. volume": "1200",
            }),
        );
    }
    let last = bars.last().map(|b| b.0.clone()).unwrap_or_default();
    let mut body = serde_json::Map::new();
    body.insert(
        "Meta Data".into(),
        json!({
            "1. Information": format!("Intraday ({interval}) open, high, low, close prices and volume"),
            "2. Symbol": symbol,
            "3. Last Refreshed": last,
            "4. Interval": interval,
            "5. Output Size": "Compact",
            "6. Time Zone": "US/Eastern",
        }),
    );
    body.insert(format!("Time Series ({interval})"), series.into());
    serde_json::Value::Object(body).to_string()
}

#[derive(Default)]
struct State {
    /// Per symbol: (US/Eastern time, close), oldest first.
    bars: HashMap<String, Vec<(String, f64)>>,
    /// Per symbol: (price, previous close).
    quotes: HashMap<String, (f64, f64)>,
    unknown: Vec<String>,
    script: VecDeque<Response>,
}

/// The in-memory venue.
#[derive(Default)]
pub struct Av {
    state: Mutex<State>,
}

impl Av {
    pub fn new() -> Arc<Av> {
        Arc::new(Av::default())
    }

    /// Appends a bar at US/Eastern time `t` ("2024-01-05 09:30:00").
    pub fn bar(&self, symbol: &str, t: &str, close: f64) {
        let mut s = self.state.lock().unwrap();
        s.bars
            .entry(symbol.into())
            .or_default()
            .push((t.into(), close));
    }

    pub fn quote(&self, symbol: &str, price: f64, previous_close: f64) {
        let mut s = self.state.lock().unwrap();
        s.quotes.insert(symbol.into(), (price, previous_close));
    }

    /// A symbol Alpha Vantage does not know: "Invalid API call" for candles, `{}` for quotes.
    pub fn unknown(&self, symbol: &str) {
        self.state.lock().unwrap().unknown.push(symbol.into());
    }

    /// The next request gets `resp`, whatever it asks (in the order given).
    pub fn then(&self, resp: Response) {
        self.state.lock().unwrap().script.push_back(resp);
    }

    fn answer(&self, req: &Request) -> Response {
        let mut s = self.state.lock().unwrap();
        if req.path != "/query" {
            return Response::json(404, "{}");
        }
        if let Some(r) = s.script.pop_front() {
            return r;
        }
        if req.query.get("apikey").map(String::as_str) != Some(KEY) {
            return Response::json(200, invalid_key());
        }
        let symbol = req.query.get("symbol").cloned().unwrap_or_default();
        let unknown = s.unknown.contains(&symbol);
        match req.query.get("function").map(String::as_str) {
            Some("GLOBAL_QUOTE") if unknown => Response::json(200, r#"{"Global Quote": {}}"#),
            Some("GLOBAL_QUOTE") => {
                let (price, prev) = s.quotes.get(&symbol).copied().unwrap_or((100.0, 99.0));
                Response::json(200, quote_json(&symbol, price, prev))
            }
            Some(f @ "TIME_SERIES_INTRADAY") if unknown => Response::json(200, invalid_call(f)),
            Some("TIME_SERIES_INTRADAY") => {
                let interval = req.query.get("interval").cloned().unwrap_or_default();
                let bars = s.bars.entry(symbol.clone()).or_default().clone();
                Response::json(200, intraday_json(&symbol, &interval, &bars))
            }
            _ => Response::json(
                200,
                json!({ "Error Message": "This API function does not exist." }).to_string(),
            ),
        }
    }

    pub fn handler(self: &Arc<Self>) -> Handler {
        let me = self.clone();
        Arc::new(move |req: &Request| me.answer(req))
    }
}

/// A wall clock that runs at real speed from a chosen instant and can jump forward.
#[derive(Clone)]
pub struct TestClock {
    offset: Arc<AtomicI64>,
}

impl TestClock {
    /// A clock that reads `t` now.
    pub fn at(t: i64) -> TestClock {
        TestClock {
            offset: Arc::new(AtomicI64::new(t - now_ms())),
        }
    }

    pub fn clock(&self) -> Clock {
        let offset = self.offset.clone();
        Arc::new(move || now_ms() + offset.load(Ordering::SeqCst))
    }

    pub fn now(&self) -> i64 {
        now_ms() + self.offset.load(Ordering::SeqCst)
    }

    pub fn advance(&self, ms: i64) {
        self.offset.fetch_add(ms, Ordering::SeqCst);
    }

    /// Jumps to `t` (forward only).
    pub fn set(&self, t: i64) {
        let d = t - self.now();
        if d > 0 {
            self.advance(d);
        }
    }
}
