//! Kraken public REST for refill and warm-up: URL builders and pure parsers of the answers
//! (the shared live-feed engine does the fetching).
//!
//! - `/0/public/Trades?pair=..&since=..`: up to 1000 trades after `since`, oldest first. The
//!   cursor is a nanosecond timestamp (`last` in the answer), not a trade id: Kraken cannot be
//!   asked for trades *by id*. Recent API versions add the trade id as the 7th field of each
//!   row (the fixture from 2025-11 has it; the ids are the v2 WebSocket `trade_id`s and
//!   consecutive), so a hole in the ids is refilled exactly: ask `since` the time of the last
//!   trade before the hole ([`since_ns`]), page on with `last`, keep the ids inside the hole.
//!   A row without an id is refused (such an answer cannot fill a hole by id).
//! - `/0/public/OHLC?pair=..&interval=1&since=..`: at most the last 720 candles; the last row
//!   is the running candle (its time is after `last`).
//!
//! Errors come as `{"error":["EQuery:Unknown asset pair"],...}` with HTTP 200.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::Value;

use crate::domain::{Candle, Side, Symbol, TradeTick, TsMs};

/// Why an answer could not be used. Callers branch on `UnknownSymbol` (drop the symbol, keep
/// the rest) and `RateLimited` (wait, then ask again).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RestError {
    #[error("Kraken does not know pair {symbol} ({message}): remove it from [kraken].symbols")]
    UnknownSymbol { symbol: Symbol, message: String },
    #[error("Kraken rate-limited the request ({message}): wait before asking again")]
    RateLimited { message: String },
    #[error("Kraken refused the request: {message}")]
    Api { message: String },
    #[error("unexpected answer from Kraken: {reason}")]
    Decode { reason: String },
}

fn decode(reason: impl Into<String>) -> RestError {
    RestError::Decode {
        reason: reason.into(),
    }
}

/// The pair name REST understands for a v2 symbol: `BTC/USD` -> `XBTUSD`. REST still uses
/// Kraken's old asset codes for the two assets renamed in v2 (BTC is XBT, DOGE is XDG).
pub fn rest_pair(symbol: Symbol) -> String {
    let (base, quote) = symbol
        .as_str()
        .split_once('/')
        .unwrap_or((symbol.as_str(), ""));
    let base = match base {
        "BTC" => "XBT",
        "DOGE" => "XDG",
        b => b,
    };
    let quote = if quote == "BTC" { "XBT" } else { quote };
    format!("{base}{quote}")
}

/// The `since` cursor (nanoseconds) that starts at trade time `ms` (inclusive).
pub fn since_ns(ms: TsMs) -> String {
    (i128::from(ms) * 1_000_000).to_string()
}

/// `GET /0/public/Trades` for `symbol`, from `since` (a nanosecond cursor: [`since_ns`] or a
/// previous answer's `last`), 1000 rows.
pub fn trades_url(base: &str, symbol: Symbol, since: Option<&str>) -> String {
    let base = base.trim_end_matches('/');
    let mut url = format!(
        "{base}/0/public/Trades?pair={}&count={}",
        rest_pair(symbol),
        super::TRADES_PER_PAGE
    );
    if let Some(s) = since {
        url.push_str("&since=");
        url.push_str(s);
    }
    url
}

/// `GET /0/public/OHLC` (1m) for `symbol`, candles after `since_secs`.
pub fn ohlc_url(base: &str, symbol: Symbol, since_secs: Option<i64>) -> String {
    let base = base.trim_end_matches('/');
    let mut url = format!("{base}/0/public/OHLC?pair={}&interval=1", rest_pair(symbol));
    if let Some(s) = since_secs {
        url.push_str(&format!("&since={s}"));
    }
    url
}

#[derive(Debug, Deserialize)]
struct Envelope {
    #[serde(default)]
    error: Vec<String>,
    #[serde(default)]
    result: BTreeMap<String, Value>,
}

/// Checks `error` and returns the rows (under the one key that is not `last`: Kraken names it
/// after its own pair name, `XXBTZUSD` for `XBTUSD`) and `last`.
fn open(body: &[u8], symbol: Symbol) -> Result<(Vec<Value>, Value), RestError> {
    let env: Envelope = serde_json::from_slice(body).map_err(|e| decode(e.to_string()))?;
    if !env.error.is_empty() {
        let message = env.error.join("; ");
        return Err(if message.contains("Unknown asset pair") {
            RestError::UnknownSymbol { symbol, message }
        } else if message.contains("Too many requests") || message.contains("Rate limit") {
            RestError::RateLimited { message }
        } else {
            RestError::Api { message }
        });
    }
    let mut result = env.result;
    let last = result
        .remove("last")
        .ok_or_else(|| decode("no \"last\" cursor"))?;
    let rows = match result.into_values().next() {
        Some(Value::Array(rows)) => rows,
        _ => return Err(decode("no list of rows in \"result\"")),
    };
    Ok((rows, last))
}

fn text_num(v: &Value, field: &str) -> Result<f64, RestError> {
    let n = match v {
        Value::String(s) => s.parse::<f64>().ok(),
        Value::Number(n) => n.as_f64(),
        _ => None,
    };
    n.ok_or_else(|| decode(format!("{field} is {v}, not a number")))
}

/// One page of trades, oldest first.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TradesPage {
    /// (trade time, trade), in id order.
    pub trades: Vec<(TsMs, TradeTick)>,
    /// The cursor for the next page (`since=`), in nanoseconds.
    pub last: String,
    /// Rows skipped because a price or volume was not a positive number.
    pub rejected: usize,
}

/// Parses a `/0/public/Trades` answer. Rows are
/// `[price, volume, time (float s), "b"|"s" (taker), "m"|"l", misc, trade_id]`.
pub fn parse_trades(body: &[u8], symbol: Symbol) -> Result<TradesPage, RestError> {
    let (rows, last) = open(body, symbol)?;
    let last = match last {
        Value::String(s) => s,
        Value::Number(n) => n.to_string(),
        other => return Err(decode(format!("\"last\" is {other}, not a cursor"))),
    };
    let mut page = TradesPage {
        trades: Vec::with_capacity(rows.len()),
        last,
        rejected: 0,
    };
    for row in rows {
        let Value::Array(f) = row else {
            return Err(decode("a trade row that is not a list"));
        };
        if f.len() < 7 {
            return Err(decode(format!(
                "a trade row with {} fields has no trade id (7th field); refill by id needs it",
                f.len()
            )));
        }
        let trade_id = f[6]
            .as_u64()
            .ok_or_else(|| decode(format!("trade id {} is not a whole number", f[6])))?;
        let (price, qty) = (text_num(&f[0], "price")?, text_num(&f[1], "volume")?);
        if !(price.is_finite() && price > 0.0 && qty.is_finite() && qty > 0.0) {
            page.rejected += 1;
            continue;
        }
        let secs = text_num(&f[2], "time")?;
        let side = match f[3].as_str() {
            Some("b") => Side::Buy,
            Some("s") => Side::Sell,
            _ => Side::Unknown,
        };
        let tick = TradeTick {
            trade_id,
            price,
            qty,
            side,
        };
        page.trades.push(((secs * 1000.0).floor() as TsMs, tick));
    }
    page.trades.sort_by_key(|(_, t)| t.trade_id);
    Ok(page)
}

/// One `/0/public/OHLC` answer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OhlcPage {
    /// Committed (closed) 1m candles, oldest first.
    pub candles: Vec<Candle>,
    /// The running candle, not closed yet.
    pub running: Option<Candle>,
    /// The cursor (seconds) for the next request's `since`.
    pub last: i64,
}

/// Parses a `/0/public/OHLC` answer. Rows are
/// `[time (s), open, high, low, close, vwap, volume, count]`; a minute without trades repeats
/// the previous close with volume 0 (kept: the venue's own flat candle).
pub fn parse_ohlc(body: &[u8], symbol: Symbol) -> Result<OhlcPage, RestError> {
    let (rows, last) = open(body, symbol)?;
    let last = last
        .as_i64()
        .ok_or_else(|| decode(format!("\"last\" is {last}, not seconds")))?;
    let mut page = OhlcPage {
        candles: Vec::with_capacity(rows.len()),
        running: None,
        last,
    };
    for row in rows {
        let Value::Array(f) = row else {
            return Err(decode("a candle row that is not a list"));
        };
        if f.len() < 8 {
            return Err(decode(format!(
                "a candle row with {} fields, expected 8",
                f.len()
            )));
        }
        let secs = f[0]
            .as_i64()
            .ok_or_else(|| decode(format!("candle time {} is not whole seconds", f[0])))?;
        let c = Candle {
            open_ms: secs * 1000,
            open: text_num(&f[1], "open")?,
            high: text_num(&f[2], "high")?,
            low: text_num(&f[3], "low")?,
            close: text_num(&f[4], "close")?,
            volume: text_num(&f[6], "volume")?,
            trades: f[7].as_u64().unwrap_or(0),
        };
        if ![c.open, c.high, c.low, c.close]
            .iter()
            .all(|p| p.is_finite() && *p > 0.0)
        {
            return Err(decode(format!(
                "a candle at {secs} with a price that is not positive"
            )));
        }
        if secs <= last {
            page.candles.push(c);
        } else {
            page.running = Some(c);
        }
    }
    page.candles.sort_by_key(|c| c.open_ms);
    Ok(page)
}
