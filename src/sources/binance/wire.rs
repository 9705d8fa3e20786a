//! Binance spot WebSocket frames: serde structs that borrow the numbers-as-strings straight out of
//! the frame, and [`parse_frame`], which turns one text frame into a [`Frame`].
//!
//! Handles both shapes Binance sends: raw payloads (`/ws`) and the combined-stream wrapper
//! `{"stream":..,"data":..}` (`/stream`). Unknown fields are always ignored: trade frames before
//! 2024-06 carried `b`/`a` order ids, and Binance adds fields without notice.

use serde::Deserialize;
use serde::de::{self, IgnoredAny, Visitor};

use crate::domain::{
    Candle, EventKind, Interval, MarketEvent, Quote, Side, Stats24h, Symbol, SymbolError,
    TradeTick, TsMs, Venue,
};

/// One text frame, understood.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    /// Market data.
    Event(MarketEvent),
    /// A reply to a request we sent (`{"result":null,"id":1}`).
    Ack { id: u64 },
    /// A reply reporting that a request failed (`{"error":{"code":2,"msg":".."},"id":1}`).
    Error {
        code: i64,
        msg: String,
        id: Option<u64>,
    },
    /// The server is about to go away: reconnect now.
    ServerShutdown { at_ms: Option<TsMs> },
    /// A well-formed frame of a kind tickwatch does not use (depth, 24hrTicker, avgPrice...).
    Unsupported { kind: String },
}

/// Why a frame could not be understood.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("not a Binance JSON frame: {0}")]
    Json(#[from] serde_json::Error),
    #[error("{event} frame without the {field:?} field")]
    Missing {
        event: &'static str,
        field: &'static str,
    },
    #[error("{field:?} is {value:?}, which is not a number")]
    Number { field: &'static str, value: String },
    #[error("bad symbol: {0}")]
    Symbol(#[from] SymbolError),
}

/// A field whose JSON type differs between event kinds (`"a"` is the aggregate trade id in
/// `aggTrade` but the ask price in `bookTicker`; `"b"` is an array in `depthUpdate`).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Loose<'a> {
    Int(u64),
    Str(&'a str),
    Other,
}

impl<'de: 'a, 'a> Deserialize<'de> for Loose<'a> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Loose<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
                Ok(Loose::Int(v))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
                Ok(Loose::Other)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
                Ok(Loose::Other)
            }
            fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
                Ok(Loose::Other)
            }
            fn visit_unit<E>(self) -> Result<Self::Value, E> {
                Ok(Loose::Other)
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Loose::Str(v))
            }
            // An escaped string cannot be borrowed; no field we read ever has escapes.
            fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
                Ok(Loose::Other)
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut s: A) -> Result<Self::Value, A::Error> {
                while s.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Loose::Other)
            }
            fn visit_map<A: de::MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
                while m.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Loose::Other)
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// Every field of every payload we read, flat: one pass, no buffering, no allocation.
#[derive(Debug, Default, Deserialize)]
struct Payload<'a> {
    #[serde(rename = "e", borrow)]
    event: Option<&'a str>,
    #[serde(rename = "E")]
    event_ms: Option<TsMs>,
    #[serde(rename = "s", borrow)]
    symbol: Option<&'a str>,
    #[serde(rename = "t")]
    trade_id: Option<u64>,
    #[serde(rename = "T")]
    trade_ms: Option<TsMs>,
    #[serde(rename = "p", borrow)]
    price: Option<&'a str>,
    #[serde(rename = "q", borrow)]
    qty: Option<&'a str>,
    #[serde(rename = "m")]
    buyer_maker: Option<bool>,
    /// aggTrade: aggregate id. bookTicker: best ask price.
    #[serde(rename = "a", borrow)]
    a: Option<Loose<'a>>,
    /// bookTicker: best bid price. Old trade frames: buyer order id.
    #[serde(rename = "b", borrow)]
    b: Option<Loose<'a>>,
    #[serde(rename = "A", borrow)]
    ask_qty: Option<&'a str>,
    #[serde(rename = "B", borrow)]
    bid_qty: Option<&'a str>,
    #[serde(rename = "u")]
    update_id: Option<u64>,
    #[serde(rename = "o", borrow)]
    open: Option<&'a str>,
    #[serde(rename = "h", borrow)]
    high: Option<&'a str>,
    /// miniTicker: low price. aggTrade: last trade id.
    #[serde(rename = "l", borrow)]
    l: Option<Loose<'a>>,
    #[serde(rename = "c", borrow)]
    close: Option<&'a str>,
    #[serde(rename = "v", borrow)]
    volume: Option<&'a str>,
    #[serde(rename = "k", borrow)]
    kline: Option<KlinePayload<'a>>,
    #[serde(rename = "x")]
    _x: Option<IgnoredAny>,
    result: Option<IgnoredAny>,
    id: Option<u64>,
    error: Option<WsError>,
    #[serde(rename = "lastUpdateId")]
    last_update_id: Option<u64>,
    /// The combined-stream payload when `"stream"` did not come first (never seen from Binance,
    /// but JSON does not promise key order).
    #[serde(borrow)]
    data: Option<Box<Payload<'a>>>,
}

#[derive(Debug, Deserialize)]
struct WsError {
    code: i64,
    msg: String,
}

#[derive(Debug, Deserialize)]
struct KlinePayload<'a> {
    #[serde(rename = "t")]
    open_ms: TsMs,
    #[serde(rename = "i", borrow)]
    interval: &'a str,
    #[serde(rename = "o", borrow)]
    open: &'a str,
    #[serde(rename = "h", borrow)]
    high: &'a str,
    #[serde(rename = "l", borrow)]
    low: &'a str,
    #[serde(rename = "c", borrow)]
    close: &'a str,
    #[serde(rename = "v", borrow)]
    volume: &'a str,
    #[serde(rename = "n", default)]
    trades: u64,
    #[serde(rename = "x")]
    closed: bool,
}

#[derive(Debug, Deserialize)]
struct Combined<'a> {
    #[serde(borrow)]
    data: Payload<'a>,
}

/// Parses one decimal string field.
pub(crate) fn num(field: &'static str, s: &str) -> Result<f64, ParseError> {
    s.parse::<f64>().map_err(|_| ParseError::Number {
        field,
        value: s.to_string(),
    })
}

fn need<T>(v: Option<T>, event: &'static str, field: &'static str) -> Result<T, ParseError> {
    v.ok_or(ParseError::Missing { event, field })
}

fn loose_str<'a>(
    v: Option<Loose<'a>>,
    event: &'static str,
    field: &'static str,
) -> Result<&'a str, ParseError> {
    match v {
        Some(Loose::Str(s)) => Ok(s),
        _ => Err(ParseError::Missing { event, field }),
    }
}

/// Parses one text frame from a Binance spot WebSocket (raw or combined). `recv_ms` is the local
/// receive time stamped on any event it yields.
pub fn parse_frame(text: &str, recv_ms: TsMs) -> Result<Frame, ParseError> {
    // Binance always writes "stream" first in combined frames, so a prefix check picks the shape
    // without parsing twice.
    let combined = text
        .trim_start()
        .strip_prefix('{')
        .is_some_and(|rest| rest.trim_start().starts_with("\"stream\""));
    let p: Payload<'_> = if combined {
        serde_json::from_str::<Combined<'_>>(text)?.data
    } else {
        serde_json::from_str(text)?
    };
    match p.data {
        Some(inner) => payload_to_frame(*inner, recv_ms),
        None => payload_to_frame(p, recv_ms),
    }
}

fn payload_to_frame(p: Payload<'_>, recv_ms: TsMs) -> Result<Frame, ParseError> {
    if let Some(err) = p.error {
        return Ok(Frame::Error {
            code: err.code,
            msg: err.msg,
            id: p.id,
        });
    }
    let event = match p.event {
        Some(e) => e,
        None => {
            if p.update_id.is_some() && matches!(p.b, Some(Loose::Str(_))) {
                return quote(p, recv_ms);
            }
            if let Some(id) = p.id {
                return Ok(Frame::Ack { id });
            }
            if p.last_update_id.is_some() {
                return Ok(Frame::Unsupported {
                    kind: "partial depth".into(),
                });
            }
            let _ = p.result;
            return Ok(Frame::Unsupported {
                kind: "frame without an event type".into(),
            });
        }
    };
    match event {
        "aggTrade" => {
            let ev = "aggTrade";
            let id = match p.a {
                Some(Loose::Int(id)) => id,
                _ => {
                    return Err(ParseError::Missing {
                        event: ev,
                        field: "a",
                    });
                }
            };
            trade(&p, id, ev, recv_ms)
        }
        "trade" => {
            let id = need(p.trade_id, "trade", "t")?;
            trade(&p, id, "trade", recv_ms)
        }
        "kline" => {
            let k = need(p.kline, "kline", "k")?;
            let interval = match k.interval.parse::<Interval>() {
                Ok(i) => i,
                Err(_) => {
                    return Ok(Frame::Unsupported {
                        kind: format!("kline_{}", k.interval),
                    });
                }
            };
            let candle = Candle {
                open_ms: k.open_ms,
                open: num("o", k.open)?,
                high: num("h", k.high)?,
                low: num("l", k.low)?,
                close: num("c", k.close)?,
                volume: num("v", k.volume)?,
                trades: k.trades,
            };
            Ok(Frame::Event(MarketEvent {
                venue: Venue::Binance,
                symbol: Symbol::new(need(p.symbol, "kline", "s")?)?,
                exch_ms: k.open_ms,
                recv_ms,
                kind: EventKind::Candle {
                    interval,
                    candle,
                    closed: k.closed,
                },
            }))
        }
        "24hrMiniTicker" | "miniTicker" => {
            let ev = "24hrMiniTicker";
            let stats = Stats24h {
                open: num("o", need(p.open, ev, "o")?)?,
                high: num("h", need(p.high, ev, "h")?)?,
                low: num("l", loose_str(p.l, ev, "l")?)?,
                last: num("c", need(p.close, ev, "c")?)?,
                volume: num("v", need(p.volume, ev, "v")?)?,
            };
            Ok(Frame::Event(MarketEvent {
                venue: Venue::Binance,
                symbol: Symbol::new(need(p.symbol, ev, "s")?)?,
                exch_ms: p.event_ms.unwrap_or(recv_ms),
                recv_ms,
                kind: EventKind::Stats24h(stats),
            }))
        }
        "bookTicker" => quote(p, recv_ms),
        "serverShutdown" => Ok(Frame::ServerShutdown { at_ms: p.event_ms }),
        other => Ok(Frame::Unsupported {
            kind: other.to_string(),
        }),
    }
}

fn trade(
    p: &Payload<'_>,
    trade_id: u64,
    ev: &'static str,
    recv_ms: TsMs,
) -> Result<Frame, ParseError> {
    let tick = TradeTick {
        trade_id,
        price: num("p", need(p.price, ev, "p")?)?,
        qty: num("q", need(p.qty, ev, "q")?)?,
        side: p.buyer_maker.map_or(Side::Unknown, Side::from_buyer_maker),
    };
    Ok(Frame::Event(MarketEvent {
        venue: Venue::Binance,
        symbol: Symbol::new(need(p.symbol, ev, "s")?)?,
        exch_ms: need(p.trade_ms.or(p.event_ms), ev, "T")?,
        recv_ms,
        kind: EventKind::Trade(tick),
    }))
}

fn quote(p: Payload<'_>, recv_ms: TsMs) -> Result<Frame, ParseError> {
    let ev = "bookTicker";
    let q = Quote {
        bid: num("b", loose_str(p.b, ev, "b")?)?,
        bid_qty: num("B", need(p.bid_qty, ev, "B")?)?,
        ask: num("a", loose_str(p.a, ev, "a")?)?,
        ask_qty: num("A", need(p.ask_qty, ev, "A")?)?,
    };
    Ok(Frame::Event(MarketEvent {
        venue: Venue::Binance,
        symbol: Symbol::new(need(p.symbol, ev, "s")?)?,
        // bookTicker carries no time on spot; the receive time is the best we have.
        exch_ms: p.event_ms.unwrap_or(recv_ms),
        recv_ms,
        kind: EventKind::Quote(q),
    }))
}
