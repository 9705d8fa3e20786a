//! Binance spot WebSocket frames: serde structs that borrow the numbers-as-strings straight out of
//! the frame, and [`parse_frame`], which turns one text frame into a [`Frame`].
//!
//! Handles both shapes Binance sends: raw payloads (`/ws`) and the combined-stream wrapper
//! `{"stream":..,"data":..}` (`/stream`). Unknown fields are always ignored: trade frames before
//! 2024-06 carried `b`/`a` order ids, and Binance adds fields without notice.
//!
//! Two paths, one behaviour. The hot frames (trade, aggTrade, kline, miniTicker) are recognised
//! by their first bytes (`{"stream":"<sym>@<kind>"` or `{"e":"<kind>"`) and read into a small
//! struct of their own (module `fast`). Everything else, and any hot frame that does not read
//! cleanly that way, goes through the general `Payload`, which knows every field of every
//! kind. Both paths build events with the same functions, so they give the same `Frame` or error.

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
///
/// Adding a field here? Add its key to every struct in `fast` too (read alike, or as `Fallback`).
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
    match fast::parse::<fast::SerdeJson>(text, recv_ms) {
        Some(frame) => frame,
        None => parse_general(text, recv_ms),
    }
}

/// The general path: any frame, through the catch-all [`Payload`].
fn parse_general(text: &str, recv_ms: TsMs) -> Result<Frame, ParseError> {
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
        "aggTrade" => trade(p.trade_parts("aggTrade"), agg_trade_id(p.a)?, recv_ms),
        "trade" => trade(
            p.trade_parts("trade"),
            need(p.trade_id, "trade", "t")?,
            recv_ms,
        ),
        "kline" => kline(p.kline, p.symbol, recv_ms),
        "24hrMiniTicker" | "miniTicker" => mini_ticker(
            StatsParts {
                symbol: p.symbol,
                event_ms: p.event_ms,
                open: p.open,
                high: p.high,
                low: p.l,
                close: p.close,
                volume: p.volume,
            },
            recv_ms,
        ),
        "bookTicker" => quote(p, recv_ms),
        "serverShutdown" => Ok(Frame::ServerShutdown { at_ms: p.event_ms }),
        other => Ok(Frame::Unsupported {
            kind: other.to_string(),
        }),
    }
}

impl<'a> Payload<'a> {
    fn trade_parts(&self, ev: &'static str) -> TradeParts<'a> {
        TradeParts {
            ev,
            symbol: self.symbol,
            price: self.price,
            qty: self.qty,
            buyer_maker: self.buyer_maker,
            trade_ms: self.trade_ms,
            event_ms: self.event_ms,
        }
    }
}

/// The fields a trade or aggTrade event is built from, whichever struct read them.
struct TradeParts<'a> {
    ev: &'static str,
    symbol: Option<&'a str>,
    price: Option<&'a str>,
    qty: Option<&'a str>,
    buyer_maker: Option<bool>,
    trade_ms: Option<TsMs>,
    event_ms: Option<TsMs>,
}

/// The fields a miniTicker event is built from (`low` is `"l"`, which aggTrade uses for an id).
struct StatsParts<'a> {
    symbol: Option<&'a str>,
    event_ms: Option<TsMs>,
    open: Option<&'a str>,
    high: Option<&'a str>,
    low: Option<Loose<'a>>,
    close: Option<&'a str>,
    volume: Option<&'a str>,
}

fn agg_trade_id(a: Option<Loose<'_>>) -> Result<u64, ParseError> {
    match a {
        Some(Loose::Int(id)) => Ok(id),
        _ => Err(ParseError::Missing {
            event: "aggTrade",
            field: "a",
        }),
    }
}

fn trade(t: TradeParts<'_>, trade_id: u64, recv_ms: TsMs) -> Result<Frame, ParseError> {
    let ev = t.ev;
    let tick = TradeTick {
        trade_id,
        price: num("p", need(t.price, ev, "p")?)?,
        qty: num("q", need(t.qty, ev, "q")?)?,
        side: t.buyer_maker.map_or(Side::Unknown, Side::from_buyer_maker),
    };
    Ok(Frame::Event(MarketEvent {
        venue: Venue::Binance,
        symbol: Symbol::new(need(t.symbol, ev, "s")?)?,
        exch_ms: need(t.trade_ms.or(t.event_ms), ev, "T")?,
        recv_ms,
        kind: EventKind::Trade(tick),
    }))
}

fn kline(
    k: Option<KlinePayload<'_>>,
    symbol: Option<&str>,
    recv_ms: TsMs,
) -> Result<Frame, ParseError> {
    let k = need(k, "kline", "k")?;
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
        symbol: Symbol::new(need(symbol, "kline", "s")?)?,
        exch_ms: k.open_ms,
        recv_ms,
        kind: EventKind::Candle {
            interval,
            candle,
            closed: k.closed,
        },
    }))
}

fn mini_ticker(s: StatsParts<'_>, recv_ms: TsMs) -> Result<Frame, ParseError> {
    let ev = "24hrMiniTicker";
    let stats = Stats24h {
        open: num("o", need(s.open, ev, "o")?)?,
        high: num("h", need(s.high, ev, "h")?)?,
        low: num("l", loose_str(s.low, ev, "l")?)?,
        last: num("c", need(s.close, ev, "c")?)?,
        volume: num("v", need(s.volume, ev, "v")?)?,
    };
    Ok(Frame::Event(MarketEvent {
        venue: Venue::Binance,
        symbol: Symbol::new(need(s.symbol, ev, "s")?)?,
        exch_ms: s.event_ms.unwrap_or(recv_ms),
        recv_ms,
        kind: EventKind::Stats24h(stats),
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

/// The fast path for the hot frames.
///
/// Why it gives the general path's answer: each struct here declares every key [`Payload`]
/// declares, either with Payload's own type (so it reads the same value, fails on the same
/// value, and rejects the same duplicates) or as [`Fallback`], which aborts the fast read. Keys
/// Payload does not know are ignored by both. So whenever a fast read succeeds, the general read
/// would have succeeded with the same values, and the same builder turns them into the frame.
/// Any failure (a missing or mistyped field, a fallback key, an event type other than the one
/// the prefix named) returns `None`, and [`parse_frame`] runs the general path, errors included.
mod fast {
    use super::*;

    /// A JSON deserializer the fast path can run on: serde_json in the product; the
    /// `json_backends` bench plugs in others. `None` sends the frame to the general path.
    pub trait JsonBackend {
        fn from_str<'a, T: Deserialize<'a>>(text: &'a str) -> Option<T>;
    }

    /// serde_json: what [`parse_frame`] runs on.
    pub struct SerdeJson;

    impl JsonBackend for SerdeJson {
        fn from_str<'a, T: Deserialize<'a>>(text: &'a str) -> Option<T> {
            serde_json::from_str(text).ok()
        }
    }

    /// A key the general path reads and this kind does not use (an `"error"` or a nested
    /// `"data"` even changes what the general path returns): present and not null, it fails the
    /// fast read.
    #[derive(Debug)]
    struct Fallback;

    impl<'de> Deserialize<'de> for Fallback {
        fn deserialize<D: de::Deserializer<'de>>(_: D) -> Result<Self, D::Error> {
            Err(de::Error::custom("left to the general path"))
        }
    }

    /// A struct for one hot kind: its own fields, then the rest of [`Payload`]'s keys as
    /// [`Fallback`].
    macro_rules! hot_struct {
        (
            $(#[$meta:meta])*
            struct $name:ident<$lt:lifetime> {
                $($(#[$fmeta:meta])* $field:ident: $ty:ty,)*
            }
            fallback { $($key:literal => $fallback:ident,)* }
        ) => {
            $(#[$meta])*
            #[derive(Debug, Deserialize)]
            struct $name<$lt> {
                $($(#[$fmeta])* $field: $ty,)*
                $(#[serde(rename = $key)] $fallback: Option<Fallback>,)*
            }
        };
    }

    hot_struct! {
        /// `trade`.
        struct TradeFields<'a> {
            #[serde(rename = "e")]
            event: &'a str,
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
            /// Buyer and seller order ids in frames before 2024-06, unused; read as Payload does.
            #[serde(rename = "a", borrow)]
            _a: Option<Loose<'a>>,
            #[serde(rename = "b", borrow)]
            _b: Option<Loose<'a>>,
        }
        fallback {
            "A" => _ask_qty, "B" => _bid_qty, "u" => _update_id, "o" => _open, "h" => _high,
            "l" => _l, "c" => _close, "v" => _volume, "k" => _kline, "x" => _x,
            "result" => _result, "id" => _id, "error" => _error,
            "lastUpdateId" => _last_update_id, "data" => _data,
        }
    }

    hot_struct! {
        /// `aggTrade`.
        struct AggTradeFields<'a> {
            #[serde(rename = "e")]
            event: &'a str,
            #[serde(rename = "E")]
            event_ms: Option<TsMs>,
            #[serde(rename = "s", borrow)]
            symbol: Option<&'a str>,
            #[serde(rename = "a", borrow)]
            agg_id: Option<Loose<'a>>,
            #[serde(rename = "T")]
            trade_ms: Option<TsMs>,
            #[serde(rename = "p", borrow)]
            price: Option<&'a str>,
            #[serde(rename = "q", borrow)]
            qty: Option<&'a str>,
            #[serde(rename = "m")]
            buyer_maker: Option<bool>,
            /// The last trade id, unused; read as Payload does.
            #[serde(rename = "l", borrow)]
            _l: Option<Loose<'a>>,
        }
        fallback {
            "t" => _trade_id, "b" => _b, "A" => _ask_qty, "B" => _bid_qty, "u" => _update_id,
            "o" => _open, "h" => _high, "c" => _close, "v" => _volume, "k" => _kline, "x" => _x,
            "result" => _result, "id" => _id, "error" => _error,
            "lastUpdateId" => _last_update_id, "data" => _data,
        }
    }

    hot_struct! {
        /// `kline`.
        struct KlineFields<'a> {
            #[serde(rename = "e")]
            event: &'a str,
            #[serde(rename = "E")]
            _event_ms: Option<TsMs>,
            #[serde(rename = "s", borrow)]
            symbol: Option<&'a str>,
            #[serde(rename = "k", borrow)]
            kline: Option<KlinePayload<'a>>,
        }
        fallback {
            "t" => _trade_id, "T" => _trade_ms, "p" => _price, "q" => _qty, "m" => _buyer_maker,
            "a" => _a, "b" => _b, "A" => _ask_qty, "B" => _bid_qty, "u" => _update_id,
            "o" => _open, "h" => _high, "l" => _l, "c" => _close, "v" => _volume, "x" => _x,
            "result" => _result, "id" => _id, "error" => _error,
            "lastUpdateId" => _last_update_id, "data" => _data,
        }
    }

    hot_struct! {
        /// `24hrMiniTicker`.
        struct MiniTickerFields<'a> {
            #[serde(rename = "e")]
            event: &'a str,
            #[serde(rename = "E")]
            event_ms: Option<TsMs>,
            #[serde(rename = "s", borrow)]
            symbol: Option<&'a str>,
            #[serde(rename = "o", borrow)]
            open: Option<&'a str>,
            #[serde(rename = "h", borrow)]
            high: Option<&'a str>,
            #[serde(rename = "l", borrow)]
            low: Option<Loose<'a>>,
            #[serde(rename = "c", borrow)]
            close: Option<&'a str>,
            #[serde(rename = "v", borrow)]
            volume: Option<&'a str>,
            /// The quote volume, unused; read as Payload does.
            #[serde(rename = "q", borrow)]
            _qty: Option<&'a str>,
        }
        fallback {
            "t" => _trade_id, "T" => _trade_ms, "p" => _price, "m" => _buyer_maker, "a" => _a,
            "b" => _b, "A" => _ask_qty, "B" => _bid_qty, "u" => _update_id, "k" => _kline,
            "x" => _x, "result" => _result, "id" => _id, "error" => _error,
            "lastUpdateId" => _last_update_id, "data" => _data,
        }
    }

    #[derive(Clone, Copy)]
    enum Hot {
        Trade,
        AggTrade,
        Kline,
        MiniTicker,
    }

    /// Names the hot kind from the frame's first bytes and returns the payload's text: the whole
    /// frame (`/ws`), or the `data` object of a combined frame laid out exactly as Binance writes
    /// it, `{"stream":"<name>","data":<payload>}` with a plain name and nothing after the payload
    /// (then reading the payload alone is reading the frame as [`Combined`] does). Anything else,
    /// whitespace between the parts included, is not hot: the general path takes it.
    fn hot_payload(text: &str) -> Option<(Hot, &str)> {
        if let Some(rest) = text.strip_prefix(r#"{"stream":""#) {
            // a name of these bytes is a whole JSON string: no escapes, no control bytes
            let end = rest.bytes().position(|b| {
                !(b.is_ascii_alphanumeric()
                    || matches!(b, b'@' | b'_' | b'!' | b'-' | b'.' | b':' | b'+'))
            })?;
            let (name, rest) = rest.split_at(end);
            let payload = rest.strip_prefix(r#"","data":"#)?.strip_suffix('}')?;
            let kind = &name[name.bytes().position(|b| b == b'@')? + 1..];
            let hot = match kind {
                "trade" => Hot::Trade,
                "aggTrade" => Hot::AggTrade,
                "miniTicker" => Hot::MiniTicker,
                k if k.starts_with("kline_") => Hot::Kline,
                _ => return None,
            };
            Some((hot, payload))
        } else {
            let rest = text.strip_prefix(r#"{"e":""#)?;
            let end = rest.bytes().position(|b| b == b'"')?;
            let hot = match &rest[..end] {
                "trade" => Hot::Trade,
                "aggTrade" => Hot::AggTrade,
                "kline" => Hot::Kline,
                "24hrMiniTicker" => Hot::MiniTicker,
                _ => return None,
            };
            Some((hot, text))
        }
    }

    /// The frame, or `None` when this frame is for the general path.
    pub fn parse<B: JsonBackend>(text: &str, recv_ms: TsMs) -> Option<Result<Frame, ParseError>> {
        let (hot, payload) = hot_payload(text)?;
        Some(match hot {
            Hot::Trade => {
                let f: TradeFields<'_> = B::from_str(payload)?;
                if f.event != "trade" {
                    return None;
                }
                let parts = TradeParts {
                    ev: "trade",
                    symbol: f.symbol,
                    price: f.price,
                    qty: f.qty,
                    buyer_maker: f.buyer_maker,
                    trade_ms: f.trade_ms,
                    event_ms: f.event_ms,
                };
                need(f.trade_id, "trade", "t").and_then(|id| trade(parts, id, recv_ms))
            }
            Hot::AggTrade => {
                let f: AggTradeFields<'_> = B::from_str(payload)?;
                if f.event != "aggTrade" {
                    return None;
                }
                let parts = TradeParts {
                    ev: "aggTrade",
                    symbol: f.symbol,
                    price: f.price,
                    qty: f.qty,
                    buyer_maker: f.buyer_maker,
                    trade_ms: f.trade_ms,
                    event_ms: f.event_ms,
                };
                agg_trade_id(f.agg_id).and_then(|id| trade(parts, id, recv_ms))
            }
            Hot::Kline => {
                let f: KlineFields<'_> = B::from_str(payload)?;
                if f.event != "kline" {
                    return None;
                }
                kline(f.kline, f.symbol, recv_ms)
            }
            Hot::MiniTicker => {
                let f: MiniTickerFields<'_> = B::from_str(payload)?;
                if !matches!(f.event, "24hrMiniTicker" | "miniTicker") {
                    return None;
                }
                mini_ticker(
                    StatsParts {
                        symbol: f.symbol,
                        event_ms: f.event_ms,
                        open: f.open,
                        high: f.high,
                        low: f.low,
                        close: f.close,
                        volume: f.volume,
                    },
                    recv_ms,
                )
            }
        })
    }
}

/// The two parse paths, one at a time, for the `json_backends` bench and the tests that prove
/// they agree. Not an API: [`parse_frame`] is.
#[doc(hidden)]
pub mod bench_support {
    pub use super::fast::{JsonBackend, SerdeJson};
    use super::{Frame, ParseError, TsMs};

    /// The general path alone.
    pub fn parse_general(text: &str, recv_ms: TsMs) -> Result<Frame, ParseError> {
        super::parse_general(text, recv_ms)
    }

    /// The fast path alone, on serde_json; `None` for a frame it leaves to the general path.
    pub fn parse_fast_serde_json(text: &str, recv_ms: TsMs) -> Option<Result<Frame, ParseError>> {
        super::fast::parse::<SerdeJson>(text, recv_ms)
    }

    /// The fast path alone, on any backend (the bench plugs in sonic-rs).
    pub fn parse_fast<B: JsonBackend>(
        text: &str,
        recv_ms: TsMs,
    ) -> Option<Result<Frame, ParseError>> {
        super::fast::parse::<B>(text, recv_ms)
    }
}
