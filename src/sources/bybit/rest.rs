//! Bybit v5 market REST (`https://api.bybit.com`): URL builders and pure parsers for the two
//! requests a live feed needs, `recent-trade` (gap refill) and `kline` (warm-up and candle
//! holes). Fetching is the live engine's; nothing here touches the network.
//!
//! # What `recent-trade` can and cannot recover
//! `GET /v5/market/recent-trade?category=spot` returns only the newest trades of a symbol, at
//! most [`RECENT_TRADE_MAX_SPOT`] (60) on spot. It has no `fromId`, no cursor and no time
//! range, so a hole cannot be fetched id by id as on Binance or Coinbase. Because spot trade ids
//! go up by one per trade, a hole's size is still known exactly (first new id − last seen id −
//! 1), and one request made right after the hole recovers it whole only when the hole and
//! every trade since lie within the newest 60. Anything older is lost for good: the gap tracker
//! must count and show those ids as missing (never hide them), and the 1m candles from
//! [`kline_url`] restore the price history of the hole, not its trades. On a busy symbol 60
//! trades can be less than a second, so treat `recent-trade` as a best effort for short
//! blips, not a refill. (Assumed, not seen in a capture: REST `execId` and WebSocket `i` are
//! the same id; the docs show both as numeric strings of the same form.)

use serde::Deserialize;

use super::wire::{WireError, amount, positive, taker_side, trade_id};
use crate::domain::{Candle, Symbol, TradeTick, TsMs};

/// Most trades `recent-trade` returns on spot (docs: `limit` [1,60], default 60; 1000 for
/// derivatives).
pub const RECENT_TRADE_MAX_SPOT: u32 = 60;
/// Most candles one `kline` request returns (docs: `limit` [1,1000], default 200).
pub const KLINE_MAX: u32 = 1000;
/// Bybit's HTTP limit per IP: 600 requests in any 5 s window, across all endpoints. Beyond it
/// Bybit answers 403 "access too frequent" and blocks the IP for at least 10 minutes.
pub const IP_REQUESTS_PER_5S: u32 = 600;
/// How long an IP stays blocked after a 403 for too many requests.
pub const IP_BAN: std::time::Duration = std::time::Duration::from_secs(600);

/// Why a REST answer could not be used.
#[derive(Debug, thiserror::Error)]
pub enum RestError {
    #[error("not a Bybit REST answer: {0}")]
    Json(#[from] serde_json::Error),
    #[error(
        "Bybit does not know the symbol {symbol} on spot ({msg}); check [bybit].symbols against https://www.bybit.com/en/trade/spot (names like BTCUSDT)"
    )]
    UnknownSymbol { symbol: String, msg: String },
    #[error("Bybit says too many requests ({code}: {msg}); wait before asking again")]
    RateLimited { code: i64, msg: String },
    #[error("Bybit refused the request ({code}: {msg})")]
    Api { code: i64, msg: String },
    #[error("Bybit answered without a result list")]
    NoResult,
    #[error("bad value in a Bybit answer: {0}")]
    Wire(#[from] WireError),
}

/// `/v5/market/recent-trade` for a spot symbol; `limit` is clamped to 1..=60.
pub fn recent_trade_url(rest_url: &str, symbol: &Symbol, limit: u32) -> String {
    format!(
        "{}/v5/market/recent-trade?category=spot&symbol={symbol}&limit={}",
        rest_url.trim_end_matches('/'),
        limit.clamp(1, RECENT_TRADE_MAX_SPOT)
    )
}

/// `/v5/market/kline` 1m candles of a spot symbol from `start_ms` on; `limit` is clamped to
/// 1..=1000.
pub fn kline_url(rest_url: &str, symbol: &Symbol, start_ms: TsMs, limit: u32) -> String {
    format!(
        "{}/v5/market/kline?category=spot&symbol={symbol}&interval=1&start={start_ms}&limit={}",
        rest_url.trim_end_matches('/'),
        limit.clamp(1, KLINE_MAX)
    )
}

#[derive(Debug, Deserialize)]
struct Answer<T> {
    #[serde(rename = "retCode")]
    code: i64,
    #[serde(rename = "retMsg", default)]
    msg: String,
    result: Option<ListResult<T>>,
}

#[derive(Debug, Deserialize)]
struct ListResult<T> {
    list: Option<Vec<T>>,
}

#[derive(Debug, Deserialize)]
struct TradeRow {
    #[serde(rename = "execId")]
    id: String,
    price: String,
    size: String,
    side: String,
    time: String,
}

/// Reads the envelope; a non-zero `retCode` becomes the typed error.
fn list<T: for<'de> Deserialize<'de>>(body: &str, symbol: &Symbol) -> Result<Vec<T>, RestError> {
    let a: Answer<T> = serde_json::from_str(body)?;
    match a.code {
        0 => a.result.and_then(|r| r.list).ok_or(RestError::NoResult),
        // 10001 is "params error"; Bybit words an unknown symbol as "symbol invalid" or
        // "Not supported symbols"
        10001 if a.msg.to_ascii_lowercase().contains("symbol") => Err(RestError::UnknownSymbol {
            symbol: symbol.to_string(),
            msg: a.msg,
        }),
        10006 | 10018 => Err(RestError::RateLimited {
            code: a.code,
            msg: a.msg,
        }),
        code => Err(RestError::Api { code, msg: a.msg }),
    }
}

/// The trades of a `recent-trade` answer as (trade time, trade), oldest first.
pub fn parse_recent_trades(
    body: &str,
    symbol: &Symbol,
) -> Result<Vec<(TsMs, TradeTick)>, RestError> {
    let rows: Vec<TradeRow> = list(body, symbol)?;
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let time = r.time.parse::<TsMs>().map_err(|_| WireError::Number {
            field: "time",
            value: r.time.clone(),
        })?;
        let tick = TradeTick {
            trade_id: trade_id(&r.id)?,
            price: positive("price", &r.price)?,
            qty: positive("size", &r.size)?,
            side: taker_side(&r.side),
        };
        out.push((time, tick));
    }
    out.sort_by_key(|(_, t)| t.trade_id);
    Ok(out)
}

/// The candles of a `kline` answer, oldest first (Bybit lists newest first). Rows are
/// `[start, open, high, low, close, volume, turnover]`; the newest may still be open.
pub fn parse_klines(body: &str, symbol: &Symbol) -> Result<Vec<Candle>, RestError> {
    let rows: Vec<Vec<String>> = list(body, symbol)?;
    let mut out = Vec::with_capacity(rows.len());
    for r in &rows {
        let [start, open, high, low, close, volume, ..] = r.as_slice() else {
            return Err(WireError::Missing {
                kind: "kline row",
                field: "volume",
            }
            .into());
        };
        out.push(Candle {
            open_ms: start.parse::<TsMs>().map_err(|_| WireError::Number {
                field: "start",
                value: start.clone(),
            })?,
            open: positive("open", open)?,
            high: positive("high", high)?,
            low: positive("low", low)?,
            close: positive("close", close)?,
            volume: amount("volume", volume)?,
            trades: 0,
        });
    }
    out.sort_by_key(|c| c.open_ms);
    Ok(out)
}
