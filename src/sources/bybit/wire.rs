//! Bybit v5 public spot WebSocket (`wss://stream.bybit.com/v5/public/spot`): the frames
//! tickwatch reads (`publicTrade`, `kline.1`, `tickers`, request answers, pongs), turned into a
//! [`Frame`] by [`parse_frame`], and the requests it sends, within Bybit's documented limits.
//!
//! Every data frame is `{"topic":..,"type":..,"ts":..,"data":..}`; `data` is an array
//! (publicTrade, kline) or one object (tickers, orderbook). Keys come in any order and unknown
//! keys are ignored, so one flat [`Item`] reads every kind.

use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, MapAccess, SeqAccess, Visitor};

use crate::domain::{
    Candle, EventKind, Interval, MarketEvent, Quote, Side, Stats24h, Symbol, SymbolError,
    TradeTick, TsMs, Venue,
};
use crate::sources::ChangeKind;

/// Topics per subscribe or unsubscribe request on spot ("Spot can input up to 10 args for each
/// subscription request sent to one connection", docs v5/ws/connect). More are split.
pub const SPOT_MAX_ARGS_PER_REQUEST: usize = 10;
/// The `args` of one public connection, all requests together, may not exceed this many
/// characters (docs v5/ws/connect); beyond it symbols need a second connection.
pub const MAX_ARGS_CHARS_PER_CONNECTION: usize = 21_000;
/// Bybit asks for a `{"op":"ping"}` every 20 s to keep a connection alive.
pub const PING_INTERVAL: Duration = Duration::from_secs(20);
/// The keepalive message.
pub const PING: &str = r#"{"op":"ping"}"#;
/// "Do not build over 500 connections in 5 minutes" per WebSocket domain and IP; frequent
/// reconnects may be flagged, so the backoff must never go below what keeps us far under it.
pub const MAX_CONNECTS_PER_5_MIN: u32 = 500;

/// One text frame, understood.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    /// Market data: a publicTrade frame can carry several trades, a kline frame several
    /// candles, a ticker a 24 h statistic (and a quote where the frame has bid and ask).
    Events(Vec<MarketEvent>),
    /// `success:true` answer to a subscribe or unsubscribe. Spot answers carry our `req_id`
    /// only when we sent one (the requests built here always do).
    Ack { op: String, req_id: Option<String> },
    /// `success:false`: Bybit refused the request; `message` is its `ret_msg`, `topics` the
    /// topics named in it (e.g. `Invalid symbol :[publicTrade.NOPEUSDT]`).
    Refused {
        op: String,
        req_id: Option<String>,
        message: String,
        topics: Vec<String>,
    },
    /// The answer to our ping (spot: `"op":"ping","ret_msg":"pong"`; others: `"op":"pong"`).
    Pong,
    /// A well-formed frame of a kind tickwatch does not use (orderbook, kline.5, a ticker delta).
    Unsupported { kind: String },
}

/// Why a frame could not be used. Every one is counted and the frame skipped.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("not a Bybit JSON frame: {0}")]
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
    #[error(
        "trade id {0:?} is not a number: a derivatives stream (linear/inverse ids are UUIDs)? tickwatch reads Bybit spot, wss://stream.bybit.com/v5/public/spot"
    )]
    TradeId(String),
    #[error("bad symbol: {0}")]
    Symbol(#[from] SymbolError),
}

impl WireError {
    /// The frame was well-formed but carried a value that must never reach the engine.
    pub fn is_rejection(&self) -> bool {
        matches!(self, WireError::Rejected { .. })
    }
}

/// Every field of every `data` item we read, flat (their keys do not collide).
#[derive(Debug, Default, Deserialize)]
struct Item<'a> {
    // publicTrade
    #[serde(rename = "i", borrow)]
    id: Option<&'a str>,
    #[serde(rename = "T")]
    time: Option<TsMs>,
    #[serde(rename = "s", borrow)]
    sym: Option<&'a str>,
    #[serde(rename = "S", borrow)]
    side: Option<&'a str>,
    #[serde(rename = "p", borrow)]
    price: Option<&'a str>,
    #[serde(rename = "v", borrow)]
    qty: Option<&'a str>,
    // kline
    start: Option<TsMs>,
    #[serde(borrow)]
    open: Option<&'a str>,
    #[serde(borrow)]
    high: Option<&'a str>,
    #[serde(borrow)]
    low: Option<&'a str>,
    #[serde(borrow)]
    close: Option<&'a str>,
    #[serde(borrow)]
    volume: Option<&'a str>,
    confirm: Option<bool>,
    // tickers
    #[serde(borrow)]
    symbol: Option<&'a str>,
    #[serde(rename = "lastPrice", borrow)]
    last: Option<&'a str>,
    #[serde(rename = "prevPrice24h", borrow)]
    open_24h: Option<&'a str>,
    #[serde(rename = "highPrice24h", borrow)]
    high_24h: Option<&'a str>,
    #[serde(rename = "lowPrice24h", borrow)]
    low_24h: Option<&'a str>,
    #[serde(rename = "volume24h", borrow)]
    volume_24h: Option<&'a str>,
    #[serde(rename = "bid1Price", borrow)]
    bid: Option<&'a str>,
    #[serde(rename = "bid1Size", borrow)]
    bid_qty: Option<&'a str>,
    #[serde(rename = "ask1Price", borrow)]
    ask: Option<&'a str>,
    #[serde(rename = "ask1Size", borrow)]
    ask_qty: Option<&'a str>,
}

/// `data`: an array of items or a single one, read without buffering.
#[derive(Debug, Default)]
struct Items<'a>(Vec<Item<'a>>);

impl<'de: 'a, 'a> Deserialize<'de> for Items<'a> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Items<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object or an array of objects")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Self::Value, A::Error> {
                let mut v = Vec::with_capacity(s.size_hint().unwrap_or(1));
                while let Some(item) = s.next_element()? {
                    v.push(item);
                }
                Ok(Items(v))
            }
            fn visit_map<A: MapAccess<'de>>(self, m: A) -> Result<Self::Value, A::Error> {
                let item = Item::deserialize(de::value::MapAccessDeserializer::new(m))?;
                Ok(Items(vec![item]))
            }
        }
        d.deserialize_any(V(std::marker::PhantomData))
    }
}

#[derive(Debug, Default, Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    topic: Option<&'a str>,
    #[serde(rename = "type", borrow)]
    kind: Option<&'a str>,
    ts: Option<TsMs>,
    #[serde(borrow)]
    data: Option<Items<'a>>,
    success: Option<bool>,
    ret_msg: Option<String>,
    op: Option<String>,
    req_id: Option<String>,
}

fn need<T>(v: Option<T>, kind: &'static str, field: &'static str) -> Result<T, WireError> {
    v.ok_or(WireError::Missing { kind, field })
}

fn num(field: &'static str, s: &str) -> Result<f64, WireError> {
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
pub(crate) fn amount(field: &'static str, s: &str) -> Result<f64, WireError> {
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

/// A spot trade id. Spot ids are decimal strings that fit a u64 and, per symbol, go up by one
/// per trade (the capture: 2290000001189048101..111), so holes can be found by id.
pub(crate) fn trade_id(s: &str) -> Result<u64, WireError> {
    s.parse::<u64>()
        .map_err(|_| WireError::TradeId(s.to_string()))
}

/// Bybit's `S`/`side` is the taker's side.
pub(crate) fn taker_side(s: &str) -> Side {
    match s {
        "Buy" => Side::Buy,
        "Sell" => Side::Sell,
        _ => Side::Unknown,
    }
}

/// Parses one text frame of the Bybit v5 public spot stream. `recv_ms` is the local receive
/// time stamped on any event it yields.
pub fn parse_frame(text: &str, recv_ms: TsMs) -> Result<Frame, WireError> {
    let env: Envelope<'_> = serde_json::from_str(text)?;
    let Some(topic) = env.topic else {
        return Ok(answer(env));
    };
    let items = env.data.unwrap_or_default().0;
    let ts = env.ts.unwrap_or(recv_ms);
    let (channel, symbol) = topic.rsplit_once('.').unwrap_or((topic, ""));
    let event = |symbol, exch_ms, kind| MarketEvent {
        venue: Venue::Bybit,
        symbol,
        exch_ms,
        recv_ms,
        kind,
    };
    let mut out = Vec::with_capacity(items.len());
    match channel {
        "publicTrade" => {
            for t in items {
                let k = "publicTrade";
                let tick = TradeTick {
                    trade_id: trade_id(need(t.id, k, "i")?)?,
                    price: positive("p", need(t.price, k, "p")?)?,
                    qty: positive("v", need(t.qty, k, "v")?)?,
                    side: taker_side(need(t.side, k, "S")?),
                };
                let sym = Symbol::new(t.sym.unwrap_or(symbol))?;
                out.push(event(sym, need(t.time, k, "T")?, EventKind::Trade(tick)));
            }
        }
        "kline.1" => {
            let sym = Symbol::new(symbol)?;
            for c in items {
                let k = "kline";
                let candle = Candle {
                    open_ms: need(c.start, k, "start")?,
                    open: positive("open", need(c.open, k, "open")?)?,
                    high: positive("high", need(c.high, k, "high")?)?,
                    low: positive("low", need(c.low, k, "low")?)?,
                    close: positive("close", need(c.close, k, "close")?)?,
                    volume: amount("volume", need(c.volume, k, "volume")?)?,
                    // Bybit's kline has no trade count
                    trades: 0,
                };
                let kind = EventKind::Candle {
                    interval: Interval::M1,
                    candle,
                    closed: need(c.confirm, k, "confirm")?,
                };
                out.push(event(sym, candle.open_ms, kind));
            }
        }
        "tickers" if env.kind == Some("delta") => {
            // linear/inverse send only the changed fields; spot always sends snapshots
            return Ok(Frame::Unsupported {
                kind: "tickers delta".into(),
            });
        }
        "tickers" => {
            for t in items {
                let k = "tickers";
                let sym = Symbol::new(t.symbol.unwrap_or(symbol))?;
                let stats = Stats24h {
                    open: positive("prevPrice24h", need(t.open_24h, k, "prevPrice24h")?)?,
                    high: positive("highPrice24h", need(t.high_24h, k, "highPrice24h")?)?,
                    low: positive("lowPrice24h", need(t.low_24h, k, "lowPrice24h")?)?,
                    last: positive("lastPrice", need(t.last, k, "lastPrice")?)?,
                    volume: amount("volume24h", need(t.volume_24h, k, "volume24h")?)?,
                };
                out.push(event(sym, ts, EventKind::Stats24h(stats)));
                // spot tickers carry no bid/ask today; derivatives ones do ("" when empty)
                if let (Some(bid), Some(ask)) = (
                    t.bid.filter(|s| !s.is_empty()),
                    t.ask.filter(|s| !s.is_empty()),
                ) {
                    let q = Quote {
                        bid: positive("bid1Price", bid)?,
                        bid_qty: amount("bid1Size", t.bid_qty.unwrap_or("0"))?,
                        ask: positive("ask1Price", ask)?,
                        ask_qty: amount("ask1Size", t.ask_qty.unwrap_or("0"))?,
                    };
                    out.push(event(sym, ts, EventKind::Quote(q)));
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

/// A frame without a topic: an answer to one of our requests.
fn answer(env: Envelope<'_>) -> Frame {
    let op = env.op.unwrap_or_default();
    let msg = env.ret_msg.unwrap_or_default();
    if op == "pong" || (op == "ping" && msg == "pong") {
        return Frame::Pong;
    }
    match env.success {
        Some(true) => Frame::Ack {
            op,
            req_id: env.req_id.filter(|r| !r.is_empty()),
        },
        Some(false) => Frame::Refused {
            op,
            req_id: env.req_id.filter(|r| !r.is_empty()),
            topics: named_topics(&msg),
            message: msg,
        },
        None => Frame::Unsupported {
            kind: if op.is_empty() {
                "frame without topic or op".into()
            } else {
                op
            },
        },
    }
}

/// The topics a refusal names: every `channel.SYMBOL` token in it.
fn named_topics(msg: &str) -> Vec<String> {
    msg.split(|c: char| !(c.is_ascii_alphanumeric() || c == '.'))
        .filter(|t| {
            ["publicTrade.", "kline.", "tickers.", "orderbook."]
                .iter()
                .any(|p| t.starts_with(p) && t.len() > p.len())
        })
        .map(String::from)
        .collect()
}

/// The order book depth subscribed with `depth = true`: `orderbook.50` (spot also has 1, 200
/// and 1000; 50 is pushed every 20 ms, a snapshot on subscribe, then deltas chained by `u`).
pub const BOOK_LEVELS: usize = 50;

/// The order book topic of `symbol`.
pub fn book_topic(symbol: &Symbol) -> String {
    format!("orderbook.{BOOK_LEVELS}.{symbol}")
}

/// The topics tickwatch follows for one symbol; `depth` adds its order book.
pub fn topics(symbol: &Symbol, depth: bool) -> Vec<String> {
    let mut t = vec![
        format!("publicTrade.{symbol}"),
        format!("kline.1.{symbol}"),
        format!("tickers.{symbol}"),
    ];
    if depth {
        t.push(book_topic(symbol));
    }
    t
}

/// Whether `text` is an `orderbook` push (for the book task) rather than a trade, kline,
/// ticker or an answer (answers carry no `topic`).
pub fn is_book(text: &str) -> bool {
    text.contains(r#""topic":"orderbook."#)
}

/// How many characters these topics add to a connection's `args` (see
/// [`MAX_ARGS_CHARS_PER_CONNECTION`]): each topic with its quotes and comma.
pub fn args_chars(topics: &[String]) -> usize {
    topics.iter().map(|t| t.len() + 3).sum()
}

/// One request to send, with the `req_id` its answer will carry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub req_id: String,
    pub topics: Vec<String>,
    pub text: String,
}

/// The subscribe (or unsubscribe) requests for `topics`, at most
/// [`SPOT_MAX_ARGS_PER_REQUEST`] topics each; `req_id`s count up from `first_req_id`.
pub fn requests(change: ChangeKind, topics: &[String], first_req_id: u64) -> Vec<Request> {
    let op = match change {
        ChangeKind::Subscribe => "subscribe",
        ChangeKind::Unsubscribe => "unsubscribe",
    };
    topics
        .chunks(SPOT_MAX_ARGS_PER_REQUEST)
        .zip(first_req_id..)
        .map(|(chunk, id)| {
            let req_id = id.to_string();
            let text = serde_json::json!({"req_id": req_id, "op": op, "args": chunk}).to_string();
            Request {
                req_id,
                topics: chunk.to_vec(),
                text,
            }
        })
        .collect()
}
