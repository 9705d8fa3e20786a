//! OKX v5 public WebSocket frames: one serde pass with string fields borrowed from the frame,
//! [`parse_frame`], which turns a text frame into a [`Frame`], and the control messages
//! tickwatch sends.
//!
//! Data frames are `{"arg":{"channel":..,"instId":..},"data":[..]}` with every number as a
//! string; `data` holds objects (trades, tickers) or arrays of strings (candles). Answers are
//! `{"event":"subscribe"|"unsubscribe","arg":{..}}` (no request id: the `arg` names what was
//! subscribed) or `{"event":"error","code":..,"msg":..}` (no `arg` at all). Keepalive is the
//! bare text `ping`, answered by the bare text `pong`.

use serde::Deserialize;
use serde::de::value::MapAccessDeserializer;
use serde::de::{self, IgnoredAny, Visitor};

use super::{BOOK_CHANNEL, CANDLE_CHANNEL, MAX_SUBSCRIBE_BYTES, PUBLIC_CHANNELS};
use crate::domain::{
    Candle, EventKind, Interval, MarketEvent, Quote, Side, Stats24h, Symbol, SymbolError,
    TradeTick, TsMs, Venue,
};

pub use crate::sources::live::frame::Frame;

/// Why a frame could not be used. Every one is counted and the frame skipped.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("not an OKX JSON frame: {0}")]
    Json(#[from] serde_json::Error),
    #[error("{kind} frame without the {field:?} field")]
    Missing {
        kind: &'static str,
        field: &'static str,
    },
    #[error("{field:?} is {value:?}, which is not a number")]
    Number { field: &'static str, value: String },
    #[error("{field:?} is {value}, which is not a positive finite number")]
    Rejected { field: &'static str, value: String },
    #[error("bad instrument id: {0}")]
    Symbol(#[from] SymbolError),
}

impl WireError {
    /// Well-formed, but with a value that must never reach the engine (zero, negative price).
    pub fn is_rejection(&self) -> bool {
        matches!(self, WireError::Rejected { .. })
    }
}

#[derive(Debug, Deserialize)]
struct Msg<'a> {
    event: Option<&'a str>,
    #[serde(borrow)]
    arg: Option<Arg<'a>>,
    #[serde(borrow, default)]
    data: Items<'a>,
    code: Option<String>,
    msg: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Arg<'a> {
    channel: Option<&'a str>,
    #[serde(rename = "instId")]
    inst_id: Option<&'a str>,
}

/// A trade or ticker object.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Obj<'a> {
    inst_id: Option<&'a str>,
    inst_type: Option<&'a str>,
    trade_id: Option<&'a str>,
    px: Option<&'a str>,
    sz: Option<&'a str>,
    side: Option<&'a str>,
    ts: Option<&'a str>,
    last: Option<&'a str>,
    ask_px: Option<&'a str>,
    ask_sz: Option<&'a str>,
    bid_px: Option<&'a str>,
    bid_sz: Option<&'a str>,
    #[serde(rename = "open24h")]
    open_24h: Option<&'a str>,
    #[serde(rename = "high24h")]
    high_24h: Option<&'a str>,
    #[serde(rename = "low24h")]
    low_24h: Option<&'a str>,
    #[serde(rename = "vol24h")]
    vol_24h: Option<&'a str>,
    #[serde(rename = "volCcy24h")]
    vol_ccy_24h: Option<&'a str>,
}

/// One element of `data`: an object, or a candle's array of strings.
// A frame holds a few of these for a moment; boxing the object would cost an allocation each.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
enum Item<'a> {
    Obj(Obj<'a>),
    Row(Vec<&'a str>),
}

impl<'de: 'a, 'a> Deserialize<'de> for Item<'a> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Item<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object or a list of strings")
            }
            fn visit_map<A: de::MapAccess<'de>>(self, m: A) -> Result<Self::Value, A::Error> {
                Obj::deserialize(MapAccessDeserializer::new(m)).map(Item::Obj)
            }
            fn visit_seq<A: de::SeqAccess<'de>>(self, mut s: A) -> Result<Self::Value, A::Error> {
                let mut row = Vec::with_capacity(9);
                while let Some(v) = s.next_element()? {
                    row.push(v);
                }
                Ok(Item::Row(row))
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

/// `data` when it is a list; other shapes are skipped.
#[derive(Debug, Default)]
struct Items<'a>(Vec<Item<'a>>);

impl<'de: 'a, 'a> Deserialize<'de> for Items<'a> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Items<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a list")
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

/// Parses a decimal string.
pub(crate) fn num(field: &'static str, s: &str) -> Result<f64, WireError> {
    s.parse::<f64>().map_err(|_| WireError::Number {
        field,
        value: s.to_string(),
    })
}

/// A price or trade size: NaN, infinite, zero and negative values are rejected.
pub(crate) fn positive(field: &'static str, s: &str) -> Result<f64, WireError> {
    let v = num(field, s)?;
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        Err(WireError::Rejected {
            field,
            value: s.to_string(),
        })
    }
}

/// A volume or book size: finite and not negative.
fn amount(field: &'static str, s: &str) -> Result<f64, WireError> {
    let v = num(field, s)?;
    if v.is_finite() && v >= 0.0 {
        Ok(v)
    } else {
        Err(WireError::Rejected {
            field,
            value: s.to_string(),
        })
    }
}

/// A whole number in a string (`tradeId`, `ts`).
pub(crate) fn whole<T: std::str::FromStr>(field: &'static str, s: &str) -> Result<T, WireError> {
    s.parse::<T>().map_err(|_| WireError::Number {
        field,
        value: s.to_string(),
    })
}

/// OKX's `side` on a trade is the taker's.
pub(crate) fn taker_side(s: &str) -> Side {
    match s {
        "buy" => Side::Buy,
        "sell" => Side::Sell,
        _ => Side::Unknown,
    }
}

/// The instrument an error message names (`...,instId:BTC-XXX doesn't exist...`).
fn inst_in_message(msg: &str) -> Option<String> {
    let rest = &msg[msg.find("instId:")? + "instId:".len()..];
    let end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .unwrap_or(rest.len());
    (end > 0).then(|| rest[..end].to_string())
}

fn event(symbol: Symbol, exch_ms: TsMs, recv_ms: TsMs, kind: EventKind) -> MarketEvent {
    MarketEvent {
        venue: Venue::Okx,
        symbol,
        exch_ms,
        recv_ms,
        kind,
    }
}

/// Parses one text frame of OKX's v5 public (or business) WebSocket. `recv_ms` is stamped on
/// every event.
pub fn parse_frame(text: &str, recv_ms: TsMs) -> Result<Frame, WireError> {
    if text.trim() == "pong" {
        return Ok(Frame::Pong { req_id: None });
    }
    let m: Msg<'_> = serde_json::from_str(text)?;
    let (channel, inst) = match &m.arg {
        Some(a) => (a.channel, a.inst_id),
        None => (None, None),
    };
    if let Some(ev) = m.event {
        let ack_symbol = inst.and_then(|s| Symbol::new(s).ok());
        let channel = channel.unwrap_or_default().to_string();
        return Ok(match ev {
            "subscribe" => Frame::Subscribed {
                req_id: None,
                channel,
                symbol: ack_symbol,
            },
            "unsubscribe" => Frame::Unsubscribed {
                req_id: None,
                channel,
                symbol: ack_symbol,
            },
            "error" => {
                let message = m.msg.unwrap_or_default();
                Frame::Refused {
                    req_id: None,
                    code: m.code,
                    symbol: inst
                        .map(str::to_string)
                        .or_else(|| inst_in_message(&message)),
                    message,
                }
            }
            "notice" => Frame::Notice {
                message: format!(
                    "OKX notice {}: {}",
                    m.code.unwrap_or_default(),
                    m.msg.unwrap_or_default()
                ),
            },
            other => Frame::Unsupported {
                kind: other.to_string(),
            },
        });
    }
    let Some(channel) = channel else {
        return Ok(Frame::Unsupported {
            kind: "frame without event or arg".into(),
        });
    };
    let items = m.data.0;
    let mut out = Vec::with_capacity(items.len());
    match channel {
        "trades" | "trades-all" => {
            for i in &items {
                out.push(trade(obj(i, "trades")?, inst, recv_ms)?);
            }
        }
        "tickers" => {
            for i in &items {
                ticker(obj(i, "tickers")?, inst, recv_ms, &mut out)?;
            }
        }
        c if c == CANDLE_CHANNEL => {
            let symbol = Symbol::new(need(inst, "candle1m", "instId")?)?;
            for i in &items {
                match i {
                    Item::Row(r) => out.push(candle(r, symbol, recv_ms)?),
                    Item::Obj(_) => {
                        return Err(WireError::Missing {
                            kind: "candle1m",
                            field: "data row",
                        });
                    }
                }
            }
        }
        other => {
            return Ok(Frame::Unsupported {
                kind: other.to_string(),
            });
        }
    }
    Ok(Frame::Events(out))
}

fn obj<'i, 'a>(i: &'i Item<'a>, kind: &'static str) -> Result<&'i Obj<'a>, WireError> {
    match i {
        Item::Obj(o) => Ok(o),
        Item::Row(_) => Err(WireError::Missing {
            kind,
            field: "data object",
        }),
    }
}

fn symbol_of(o: &Obj<'_>, arg: Option<&str>, kind: &'static str) -> Result<Symbol, WireError> {
    Ok(Symbol::new(need(o.inst_id.or(arg), kind, "instId")?)?)
}

fn trade(o: &Obj<'_>, arg: Option<&str>, recv_ms: TsMs) -> Result<MarketEvent, WireError> {
    let k = "trades";
    let tick = TradeTick {
        trade_id: whole("tradeId", need(o.trade_id, k, "tradeId")?)?,
        price: positive("px", need(o.px, k, "px")?)?,
        qty: positive("sz", need(o.sz, k, "sz")?)?,
        side: taker_side(need(o.side, k, "side")?),
    };
    let exch_ms = whole("ts", need(o.ts, k, "ts")?)?;
    Ok(event(
        symbol_of(o, arg, k)?,
        exch_ms,
        recv_ms,
        EventKind::Trade(tick),
    ))
}

/// `tickers`: best bid/ask (when the book has both sides) and the rolling 24 h statistics.
/// The base-asset volume is `vol24h` on spot, `volCcy24h` on derivatives (where `vol24h`
/// counts contracts).
/// A field OKX may send as "" (an empty book side).
fn given(v: Option<&str>) -> Option<&str> {
    v.filter(|s| !s.is_empty())
}

fn ticker(
    o: &Obj<'_>,
    arg: Option<&str>,
    recv_ms: TsMs,
    out: &mut Vec<MarketEvent>,
) -> Result<(), WireError> {
    let k = "tickers";
    let symbol = symbol_of(o, arg, k)?;
    let exch_ms = match o.ts {
        Some(ts) => whole("ts", ts)?,
        None => recv_ms,
    };
    if let (Some(bid), Some(ask)) = (given(o.bid_px), given(o.ask_px)) {
        let q = Quote {
            bid: positive("bidPx", bid)?,
            bid_qty: amount("bidSz", given(o.bid_sz).unwrap_or("0"))?,
            ask: positive("askPx", ask)?,
            ask_qty: amount("askSz", given(o.ask_sz).unwrap_or("0"))?,
        };
        out.push(event(symbol, exch_ms, recv_ms, EventKind::Quote(q)));
    }
    let volume = match o.inst_type {
        Some("SPOT" | "MARGIN") | None => ("vol24h", o.vol_24h),
        Some(_) => ("volCcy24h", o.vol_ccy_24h),
    };
    let s = Stats24h {
        open: positive("open24h", need(o.open_24h, k, "open24h")?)?,
        high: positive("high24h", need(o.high_24h, k, "high24h")?)?,
        low: positive("low24h", need(o.low_24h, k, "low24h")?)?,
        last: positive("last", need(o.last, k, "last")?)?,
        volume: amount(volume.0, need(volume.1, k, volume.0)?)?,
    };
    out.push(event(symbol, exch_ms, recv_ms, EventKind::Stats24h(s)));
    Ok(())
}

/// A `candle1m` row `[ts, o, h, l, c, vol, volCcy, volCcyQuote, confirm]`; `confirm` "1" marks
/// the closed candle (OKX pushes it once, then the next minute's). `vol` is the base volume on
/// spot (contracts on derivatives).
pub(crate) fn candle_row(r: &[&str]) -> Result<(Candle, bool), WireError> {
    let k = "candle1m";
    let field = |i: usize, name: &'static str| need(r.get(i).copied(), k, name);
    let c = Candle {
        open_ms: whole("ts", field(0, "ts")?)?,
        open: positive("o", field(1, "o")?)?,
        high: positive("h", field(2, "h")?)?,
        low: positive("l", field(3, "l")?)?,
        close: positive("c", field(4, "c")?)?,
        volume: amount("vol", field(5, "vol")?)?,
        trades: 0,
    };
    Ok((c, r.get(8) == Some(&"1")))
}

fn candle(r: &[&str], symbol: Symbol, recv_ms: TsMs) -> Result<MarketEvent, WireError> {
    let (candle, closed) = candle_row(r)?;
    Ok(event(
        symbol,
        candle.open_ms,
        recv_ms,
        EventKind::Candle {
            interval: Interval::M1,
            candle,
            closed,
        },
    ))
}

/// The text OKX answers with `pong` (send it after [`super::PING_AFTER`] of silence).
pub const PING: &str = "ping";

/// Subscribe messages for `trades` and `tickers` of `symbols` (public endpoint), and `books`
/// with `depth`, as few as fit under [`MAX_SUBSCRIBE_BYTES`] each. OKX answers each (channel,
/// instrument) separately, echoing it as `arg`: that pair, not an id, matches an answer to its
/// request.
pub fn subscribe(symbols: &[Symbol], depth: bool) -> Vec<String> {
    control("subscribe", &channels(depth), symbols)
}

/// Unsubscribe messages, laid out as [`subscribe`]'s.
pub fn unsubscribe(symbols: &[Symbol], depth: bool) -> Vec<String> {
    control("unsubscribe", &channels(depth), symbols)
}

/// Unsubscribes `symbol`'s `books` and subscribes it again: OKX then sends a fresh snapshot.
pub fn book_resubscribe(symbol: Symbol) -> Vec<String> {
    let mut out = control("unsubscribe", &[BOOK_CHANNEL], &[symbol]);
    out.extend(control("subscribe", &[BOOK_CHANNEL], &[symbol]));
    out
}

fn channels(depth: bool) -> Vec<&'static str> {
    let mut c = PUBLIC_CHANNELS.to_vec();
    if depth {
        c.push(BOOK_CHANNEL);
    }
    c
}

/// Whether `text` is a `books` push (a snapshot or update for the book task), as opposed to an
/// answer about the channel, which carries an `event`.
pub fn is_book(text: &str) -> bool {
    text.contains(r#""channel":"books""#) && !text.contains(r#""event""#)
}

fn control(op: &str, channels: &[&str], symbols: &[Symbol]) -> Vec<String> {
    let head = format!(r#"{{"op":"{op}","args":["#);
    let close = |body: &str| format!("{head}{body}]}}");
    let mut out = Vec::new();
    let mut body = String::new();
    for s in symbols {
        for ch in channels {
            // symbols are checked ASCII ([A-Z0-9./_-]): nothing to escape
            let arg = format!(r#"{{"channel":"{ch}","instId":"{}"}}"#, s.as_str());
            if !body.is_empty() && head.len() + body.len() + 1 + arg.len() + 2 > MAX_SUBSCRIBE_BYTES
            {
                out.push(close(&body));
                body.clear();
            }
            if !body.is_empty() {
                body.push(',');
            }
            body.push_str(&arg);
        }
    }
    if !body.is_empty() {
        out.push(close(&body));
    }
    out
}
