//! Kraken WebSocket v2 frames: one flat serde struct read in a single pass (string fields
//! borrowed from the frame), [`parse_frame`], which turns a text frame into a [`Frame`], and the
//! control messages tickwatch sends.
//!
//! Data frames are `{"channel":..,"type":"snapshot"|"update","data":[..]}`; answers to our
//! requests are `{"method":..,"success":..,"result":{..},"req_id":..}`. Unknown fields and
//! channels are ignored (Kraken adds both), numbers are JSON numbers, times RFC 3339.

use serde::Deserialize;
use serde::de::{self, IgnoredAny, Visitor};
use serde_json::json;

use super::{BOOK_CHANNEL, CHANNELS, INSTRUMENT_CHANNEL, MAX_SYMBOLS_PER_MESSAGE};
use crate::domain::{
    Candle, EventKind, Interval, MarketEvent, Quote, Side, Stats24h, Symbol, SymbolError,
    TradeTick, TsMs, Venue,
};
use crate::sources::coinbase::wire::parse_time;

pub use crate::sources::live::frame::Frame;

/// Why a frame could not be used. Every one is counted and the frame skipped.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("not a Kraken v2 JSON frame: {0}")]
    Json(#[from] serde_json::Error),
    #[error("{kind} frame without the {field:?} field")]
    Missing {
        kind: &'static str,
        field: &'static str,
    },
    #[error("{field:?} is {value}, which is not a positive finite number")]
    Rejected { field: &'static str, value: String },
    #[error("{field:?} is {value:?}, which is not an RFC 3339 time")]
    Time { field: &'static str, value: String },
    #[error("bad symbol: {0}")]
    Symbol(#[from] SymbolError),
}

impl WireError {
    /// Well-formed, but with a value that must never reach the engine (zero, negative price).
    pub fn is_rejection(&self) -> bool {
        matches!(self, WireError::Rejected { .. })
    }
}

/// Every field of every frame we read, flat.
#[derive(Debug, Deserialize)]
struct Msg<'a> {
    channel: Option<&'a str>,
    #[serde(rename = "type")]
    kind: Option<&'a str>,
    #[serde(borrow, default)]
    data: Items<'a>,
    method: Option<&'a str>,
    success: Option<bool>,
    result: Option<Ack>,
    error: Option<String>,
    symbol: Option<String>,
    req_id: Option<u64>,
}

#[derive(Debug, Deserialize)]
struct Ack {
    channel: Option<String>,
    symbol: Option<String>,
}

/// One element of `data` (a trade, a candle, a ticker, a status...).
#[derive(Debug, Default, Deserialize)]
struct Item<'a> {
    symbol: Option<&'a str>,
    side: Option<&'a str>,
    price: Option<f64>,
    qty: Option<f64>,
    trade_id: Option<u64>,
    timestamp: Option<&'a str>,
    bid: Option<f64>,
    bid_qty: Option<f64>,
    ask: Option<f64>,
    ask_qty: Option<f64>,
    last: Option<f64>,
    volume: Option<f64>,
    low: Option<f64>,
    high: Option<f64>,
    change: Option<f64>,
    open: Option<f64>,
    close: Option<f64>,
    trades: Option<f64>,
    interval_begin: Option<&'a str>,
    interval: Option<u32>,
    system: Option<&'a str>,
}

/// `data` when it is a list; other shapes (the `instrument` channel's object) are skipped.
#[derive(Debug, Default)]
struct Items<'a>(Vec<Item<'a>>);

impl<'de: 'a, 'a> Deserialize<'de> for Items<'a> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Items<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a list of objects")
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut s: A) -> Result<Self::Value, A::Error> {
                let mut v = Vec::with_capacity(s.size_hint().unwrap_or(1));
                while let Some(item) = s.next_element()? {
                    v.push(item);
                }
                Ok(Items(v))
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
                while m.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Items(Vec::new()))
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(Items(Vec::new()))
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

fn need<T>(v: Option<T>, kind: &'static str, field: &'static str) -> Result<T, WireError> {
    v.ok_or(WireError::Missing { kind, field })
}

/// A price or trade size: NaN, infinite, zero and negative values are rejected.
fn positive(field: &'static str, v: f64) -> Result<f64, WireError> {
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        Err(WireError::Rejected {
            field,
            value: v.to_string(),
        })
    }
}

/// A volume or book size: finite and not negative.
fn amount(field: &'static str, v: f64) -> Result<f64, WireError> {
    if v.is_finite() && v >= 0.0 {
        Ok(v)
    } else {
        Err(WireError::Rejected {
            field,
            value: v.to_string(),
        })
    }
}

fn time(field: &'static str, s: &str) -> Result<TsMs, WireError> {
    parse_time(s).ok_or_else(|| WireError::Time {
        field,
        value: s.to_string(),
    })
}

fn event(symbol: Symbol, exch_ms: TsMs, recv_ms: TsMs, kind: EventKind) -> MarketEvent {
    MarketEvent {
        venue: Venue::Kraken,
        symbol,
        exch_ms,
        recv_ms,
        kind,
    }
}

/// A symbol Kraken echoed in an acknowledgement (it is one we sent, so it parses).
fn ack_symbol(s: Option<&str>) -> Option<Symbol> {
    s.and_then(|s| Symbol::new(s).ok())
}

/// Parses one text frame of Kraken's WebSocket v2. `recv_ms` is stamped on every event.
pub fn parse_frame(text: &str, recv_ms: TsMs) -> Result<Frame, WireError> {
    let m: Msg<'_> = serde_json::from_str(text)?;
    if let Some(method) = m.method {
        return Ok(answer(method, m));
    }
    let Some(channel) = m.channel else {
        return Ok(match m.error {
            Some(message) => Frame::Refused {
                req_id: m.req_id,
                code: None,
                symbol: m.symbol,
                message,
            },
            None => Frame::Unsupported {
                kind: "frame without channel or method".into(),
            },
        });
    };
    let items = m.data.0;
    let events = match channel {
        "heartbeat" => return Ok(Frame::Pong { req_id: None }),
        "trade" => items
            .iter()
            .map(|i| trade(i, recv_ms))
            .collect::<Result<Vec<_>, _>>()?,
        "ohlc" => return ohlc(&items, m.kind == Some("snapshot"), recv_ms),
        "ticker" => {
            let mut out = Vec::with_capacity(2 * items.len());
            for i in &items {
                ticker(i, recv_ms, &mut out)?;
            }
            out
        }
        "status" => {
            return Ok(match items.iter().find_map(|i| i.system) {
                Some(s) if s != "online" => Frame::Notice {
                    message: format!("Kraken system status: {s}"),
                },
                _ => Frame::Unsupported {
                    kind: "status".into(),
                },
            });
        }
        other => {
            return Ok(Frame::Unsupported {
                kind: other.to_string(),
            });
        }
    };
    Ok(Frame::Events(events))
}

/// An answer to one of our requests.
fn answer(method: &str, m: Msg<'_>) -> Frame {
    let (channel, symbol) = match m.result {
        Some(r) => (r.channel, r.symbol.or(m.symbol)),
        None => (None, m.symbol),
    };
    if m.success == Some(false) || m.error.is_some() {
        return Frame::Refused {
            req_id: m.req_id,
            code: None,
            symbol,
            message: m
                .error
                .unwrap_or_else(|| format!("{method} refused without a message")),
        };
    }
    let channel = channel.unwrap_or_default();
    match method {
        "pong" => Frame::Pong { req_id: m.req_id },
        "subscribe" => Frame::Subscribed {
            req_id: m.req_id,
            channel,
            symbol: ack_symbol(symbol.as_deref()),
        },
        "unsubscribe" => Frame::Unsubscribed {
            req_id: m.req_id,
            channel,
            symbol: ack_symbol(symbol.as_deref()),
        },
        other => Frame::Unsupported {
            kind: other.to_string(),
        },
    }
}

fn trade(i: &Item<'_>, recv_ms: TsMs) -> Result<MarketEvent, WireError> {
    let k = "trade";
    let tick = TradeTick {
        trade_id: need(i.trade_id, k, "trade_id")?,
        price: positive("price", need(i.price, k, "price")?)?,
        qty: positive("qty", need(i.qty, k, "qty")?)?,
        // Kraken's side is the taker's
        side: match need(i.side, k, "side")? {
            "buy" => Side::Buy,
            "sell" => Side::Sell,
            _ => Side::Unknown,
        },
    };
    let symbol = Symbol::new(need(i.symbol, k, "symbol")?)?;
    let exch_ms = time("timestamp", need(i.timestamp, k, "timestamp")?)?;
    Ok(event(symbol, exch_ms, recv_ms, EventKind::Trade(tick)))
}

/// `ohlc` frames. Updates are the running candle (`closed: false`). A snapshot lists recent
/// candles: all but each symbol's newest have ended, so they are closed.
fn ohlc(items: &[Item<'_>], snapshot: bool, recv_ms: TsMs) -> Result<Frame, WireError> {
    let k = "ohlc";
    let mut out = Vec::with_capacity(items.len());
    for i in items {
        let minutes = need(i.interval, k, "interval")?;
        if minutes != 1 {
            return Ok(Frame::Unsupported {
                kind: format!("ohlc interval {minutes}"),
            });
        }
        let open_ms = time(
            "interval_begin",
            need(i.interval_begin, k, "interval_begin")?,
        )?;
        let candle = Candle {
            open_ms,
            open: positive("open", need(i.open, k, "open")?)?,
            high: positive("high", need(i.high, k, "high")?)?,
            low: positive("low", need(i.low, k, "low")?)?,
            close: positive("close", need(i.close, k, "close")?)?,
            volume: amount("volume", need(i.volume, k, "volume")?)?,
            trades: amount("trades", i.trades.unwrap_or(0.0))? as u64,
        };
        let symbol = Symbol::new(need(i.symbol, k, "symbol")?)?;
        out.push(event(
            symbol,
            open_ms,
            recv_ms,
            EventKind::Candle {
                interval: Interval::M1,
                candle,
                closed: false,
            },
        ));
    }
    if snapshot {
        let newest = |s: Symbol| {
            out.iter()
                .filter(|e| e.symbol == s)
                .map(|e| e.exch_ms)
                .max()
        };
        let ends: Vec<Option<TsMs>> = out.iter().map(|e| newest(e.symbol)).collect();
        for (e, newest) in out.iter_mut().zip(ends) {
            if let EventKind::Candle { closed, .. } = &mut e.kind {
                *closed = Some(e.exch_ms) < newest;
            }
        }
    }
    Ok(Frame::Events(out))
}

/// `ticker`: the best bid/ask as a quote, and the rolling 24 h statistics (Kraken gives the 24 h
/// `change`, so the open is `last - change`).
fn ticker(i: &Item<'_>, recv_ms: TsMs, out: &mut Vec<MarketEvent>) -> Result<(), WireError> {
    let k = "ticker";
    let symbol = Symbol::new(need(i.symbol, k, "symbol")?)?;
    // older frames carry no time; the receive time is the best we have
    let exch_ms = match i.timestamp {
        Some(t) => time("timestamp", t)?,
        None => recv_ms,
    };
    let before = out.len();
    if let (Some(bid), Some(ask)) = (i.bid, i.ask) {
        let q = Quote {
            bid: positive("bid", bid)?,
            bid_qty: amount("bid_qty", i.bid_qty.unwrap_or(0.0))?,
            ask: positive("ask", ask)?,
            ask_qty: amount("ask_qty", i.ask_qty.unwrap_or(0.0))?,
        };
        out.push(event(symbol, exch_ms, recv_ms, EventKind::Quote(q)));
    }
    if let (Some(last), Some(high), Some(low), Some(volume)) = (i.last, i.high, i.low, i.volume) {
        let last = positive("last", last)?;
        let s = Stats24h {
            open: positive("change", last - i.change.unwrap_or(0.0))?,
            high: positive("high", high)?,
            low: positive("low", low)?,
            last,
            volume: amount("volume", volume)?,
        };
        out.push(event(symbol, exch_ms, recv_ms, EventKind::Stats24h(s)));
    }
    if out.len() == before {
        return Err(WireError::Missing {
            kind: k,
            field: "bid/ask or last",
        });
    }
    Ok(())
}

/// The subscribe messages for `symbols`: one per channel of [`CHANNELS`] (and `book` at
/// `book_depth` when given) and batch of [`MAX_SYMBOLS_PER_MESSAGE`] symbols; message `i`
/// carries `req_id + i`. Snapshots are asked for: the trade snapshot (the last 50 trades)
/// bridges a short reconnect, the ohlc one brings recent closed candles, the ticker one a quote
/// at once, the book one the book to keep.
pub fn subscribe(symbols: &[Symbol], req_id: u64, book_depth: Option<usize>) -> Vec<String> {
    control("subscribe", symbols, req_id, book_depth)
}

/// The unsubscribe messages for `symbols`, laid out as [`subscribe`]'s.
pub fn unsubscribe(symbols: &[Symbol], req_id: u64, book_depth: Option<usize>) -> Vec<String> {
    control("unsubscribe", symbols, req_id, book_depth)
}

/// How many messages [`subscribe`] (or [`unsubscribe`]) makes for `n` symbols, so that their
/// `req_id`s can be reserved first.
pub fn message_count(n: usize, book: bool) -> usize {
    n.div_ceil(MAX_SYMBOLS_PER_MESSAGE) * (CHANNELS.len() + usize::from(book))
}

/// An application-level ping; Kraken answers `{"method":"pong","req_id":..}`.
pub fn ping(req_id: u64) -> String {
    json!({"method": "ping", "req_id": req_id}).to_string()
}

/// Unsubscribes `symbol`'s `book` and subscribes it again (ids `req_id` and `req_id + 1`):
/// Kraken then sends a fresh snapshot.
pub fn book_resubscribe(symbol: Symbol, req_id: u64, depth: usize) -> Vec<String> {
    let mut out = vec![book_control(
        "unsubscribe",
        &[symbol.as_str()],
        req_id,
        depth,
    )];
    out.push(book_control(
        "subscribe",
        &[symbol.as_str()],
        req_id + 1,
        depth,
    ));
    out
}

/// Subscribes the `instrument` channel (every pair's precisions), with a snapshot.
pub fn instrument_subscribe(req_id: u64) -> String {
    json!({"method": "subscribe", "params": {"channel": INSTRUMENT_CHANNEL, "snapshot": true}, "req_id": req_id})
        .to_string()
}

/// Unsubscribes the `instrument` channel (before subscribing it again for a fresh snapshot).
pub fn instrument_unsubscribe(req_id: u64) -> String {
    json!({"method": "unsubscribe", "params": {"channel": INSTRUMENT_CHANNEL}, "req_id": req_id})
        .to_string()
}

/// Whether `text` is a `book` snapshot or update (for the book task), as opposed to an answer
/// about the channel, which carries a `method`.
pub fn is_book(text: &str) -> bool {
    text.contains(r#""channel":"book""#) && !text.contains(r#""method""#)
}

/// Whether `text` is an `instrument` snapshot or update (not an answer about the channel).
pub fn is_instrument(text: &str) -> bool {
    text.contains(r#""channel":"instrument""#) && !text.contains(r#""method""#)
}

fn book_control(method: &str, names: &[&str], req_id: u64, depth: usize) -> String {
    let mut params = json!({"channel": BOOK_CHANNEL, "symbol": names, "depth": depth});
    if method == "subscribe" {
        params["snapshot"] = json!(true);
    }
    json!({"method": method, "params": params, "req_id": req_id}).to_string()
}

fn control(
    method: &str,
    symbols: &[Symbol],
    req_id: u64,
    book_depth: Option<usize>,
) -> Vec<String> {
    let mut out = Vec::new();
    let mut id = req_id;
    for batch in symbols.chunks(MAX_SYMBOLS_PER_MESSAGE) {
        let names: Vec<&str> = batch.iter().map(|s| s.as_str()).collect();
        for channel in CHANNELS {
            let mut params = json!({"channel": channel, "symbol": names});
            if channel == "ohlc" {
                params["interval"] = json!(1);
            }
            if method == "subscribe" {
                params["snapshot"] = json!(true);
            }
            out.push(json!({"method": method, "params": params, "req_id": id}).to_string());
            id += 1;
        }
        if let Some(depth) = book_depth {
            out.push(book_control(method, &names, id, depth));
            id += 1;
        }
    }
    out
}
