//! OKX public REST for refill and warm-up: URL builders and pure parsers of the answers (the
//! shared live-feed engine does the fetching).
//!
//! - `/api/v5/market/history-trades?instId=..&type=1&after=<tradeId>`: up to 100 trades,
//!   newest first. With `type=1` the cursors are trade ids: `after` gives the trades just
//!   *older* than an id, `before` newer ones. A hole is refilled exactly by walking down from
//!   its top: `after` = the first id the socket delivered after the hole, then `after` = the
//!   oldest id of each page, until the page reaches the bottom of the hole.
//! - `/api/v5/market/candles?instId=..&bar=1m&after=<ms>`: up to 300 candles older than
//!   `after`, newest first; only the last 1,440 are served. `confirm` "0" marks the running one.
//!
//! Errors come as `{"code":"51001","msg":"Instrument ID does not exist","data":[]}`.

use serde::Deserialize;

use super::wire::{candle_row, positive, taker_side, whole};
use super::{CANDLES_PER_PAGE, TRADES_PER_PAGE};
use crate::domain::{Candle, Symbol, TradeTick, TsMs};

/// Why an answer could not be used. Callers branch on `UnknownSymbol` (drop the instrument,
/// keep the rest) and `RateLimited` (wait, then ask again).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RestError {
    #[error(
        "OKX does not know instrument {symbol} (code {code}: {message}): remove it from [okx].symbols"
    )]
    UnknownSymbol {
        symbol: Symbol,
        code: String,
        message: String,
    },
    #[error("OKX rate-limited the request (code {code}: {message}): wait before asking again")]
    RateLimited { code: String, message: String },
    #[error("OKX refused the request (code {code}): {message}")]
    Api { code: String, message: String },
    #[error("unexpected answer from OKX: {reason}")]
    Decode { reason: String },
}

fn decode(reason: impl Into<String>) -> RestError {
    RestError::Decode {
        reason: reason.into(),
    }
}

/// Where a page of trades starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TradeCursor {
    /// The newest trades.
    Latest,
    /// Trades with ids below this one (OKX's `after`).
    OlderThan(u64),
    /// Trades with ids above this one (OKX's `before`).
    NewerThan(u64),
}

/// `GET /api/v5/market/history-trades` for `symbol`, paged by trade id (`type=1`).
pub fn trades_url(base: &str, symbol: Symbol, cursor: TradeCursor) -> String {
    let base = base.trim_end_matches('/');
    let mut url = format!(
        "{base}/api/v5/market/history-trades?instId={symbol}&type=1&limit={TRADES_PER_PAGE}"
    );
    match cursor {
        TradeCursor::Latest => {}
        TradeCursor::OlderThan(id) => url.push_str(&format!("&after={id}")),
        TradeCursor::NewerThan(id) => url.push_str(&format!("&before={id}")),
    }
    url
}

/// `GET /api/v5/market/candles` (1m) for `symbol`: the newest, or those opened before
/// `older_than_ms`.
pub fn candles_url(base: &str, symbol: Symbol, older_than_ms: Option<TsMs>) -> String {
    let base = base.trim_end_matches('/');
    let mut url =
        format!("{base}/api/v5/market/candles?instId={symbol}&bar=1m&limit={CANDLES_PER_PAGE}");
    if let Some(ms) = older_than_ms {
        url.push_str(&format!("&after={ms}"));
    }
    url
}

#[derive(Debug, Deserialize)]
struct Envelope<T> {
    code: String,
    #[serde(default)]
    msg: String,
    data: Option<T>,
}

/// Checks `code` ("0" is success) and returns `data`.
fn open<'a, T: Deserialize<'a>>(body: &'a [u8], symbol: Symbol) -> Result<T, RestError> {
    let env: Envelope<T> = serde_json::from_slice(body).map_err(|e| decode(e.to_string()))?;
    let (code, message) = (env.code, env.msg);
    match code.as_str() {
        "0" => env
            .data
            .ok_or_else(|| decode("no \"data\" in a successful answer")),
        // 51001 "Instrument ID does not exist", 51000 "Parameter instId error"
        "51001" | "51000" => Err(RestError::UnknownSymbol {
            symbol,
            code,
            message,
        }),
        "50011" | "50061" => Err(RestError::RateLimited { code, message }),
        _ => Err(RestError::Api { code, message }),
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TradeRow<'a> {
    trade_id: &'a str,
    px: &'a str,
    sz: &'a str,
    side: &'a str,
    ts: &'a str,
}

/// One page of trades.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TradesPage {
    /// (trade time, trade), in id order (oldest first).
    pub trades: Vec<(TsMs, TradeTick)>,
    /// The lowest id: `TradeCursor::OlderThan(oldest)` asks for the page below.
    pub oldest: Option<u64>,
    /// The highest id.
    pub newest: Option<u64>,
    /// Rows skipped because a price or size was not a positive number.
    pub rejected: usize,
}

/// Parses a `history-trades` (or `trades`) answer.
pub fn parse_trades(body: &[u8], symbol: Symbol) -> Result<TradesPage, RestError> {
    let rows: Vec<TradeRow<'_>> = open(body, symbol)?;
    let bad = |e: super::wire::WireError| decode(e.to_string());
    let mut page = TradesPage::default();
    for r in rows {
        let trade_id: u64 = whole("tradeId", r.trade_id).map_err(bad)?;
        page.oldest = Some(page.oldest.map_or(trade_id, |o| o.min(trade_id)));
        page.newest = Some(page.newest.map_or(trade_id, |n| n.max(trade_id)));
        let (price, qty) = match (positive("px", r.px), positive("sz", r.sz)) {
            (Ok(p), Ok(q)) => (p, q),
            (Err(e), _) | (_, Err(e)) if e.is_rejection() => {
                page.rejected += 1;
                continue;
            }
            (Err(e), _) | (_, Err(e)) => return Err(bad(e)),
        };
        let ts: TsMs = whole("ts", r.ts).map_err(bad)?;
        let tick = TradeTick {
            trade_id,
            price,
            qty,
            side: taker_side(r.side),
        };
        page.trades.push((ts, tick));
    }
    page.trades.sort_by_key(|(_, t)| t.trade_id);
    Ok(page)
}

/// One `candles` answer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CandlesPage {
    /// Closed 1m candles, oldest first.
    pub candles: Vec<Candle>,
    /// The running candle (`confirm` "0" and the newest of the answer).
    pub running: Option<Candle>,
    /// The oldest open time: pass it as `older_than_ms` for the page before.
    pub oldest: Option<TsMs>,
}

/// Parses a `candles` (or `history-candles`) answer. A candle is closed when `confirm` is "1",
/// or when a newer candle is in the same answer (2021-era rows say "0" for finished minutes).
pub fn parse_candles(body: &[u8], symbol: Symbol) -> Result<CandlesPage, RestError> {
    let rows: Vec<Vec<&str>> = open(body, symbol)?;
    let mut all = Vec::with_capacity(rows.len());
    for r in &rows {
        all.push(candle_row(r).map_err(|e| decode(e.to_string()))?);
    }
    all.sort_by_key(|(c, _)| c.open_ms);
    all.dedup_by_key(|(c, _)| c.open_ms);
    let mut page = CandlesPage {
        oldest: all.first().map(|(c, _)| c.open_ms),
        ..CandlesPage::default()
    };
    let newest = all.len().checked_sub(1);
    for (i, (c, confirmed)) in all.into_iter().enumerate() {
        if confirmed || Some(i) != newest {
            page.candles.push(c);
        } else {
            page.running = Some(c);
        }
    }
    Ok(page)
}
