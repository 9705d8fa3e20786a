//! Coinbase Exchange WebSocket frames (`wss://ws-feed.exchange.coinbase.com`): one flat serde
//! struct that borrows the numbers-as-strings out of the frame, and [`parse_frame`], which turns
//! one text frame into a [`Frame`].
//!
//! Every frame of the Exchange feed has a `"type"`. Unknown types and unknown fields are ignored
//! (Coinbase adds both without notice). Frames of the Advanced Trade API
//! (`wss://advanced-trade-ws.coinbase.com`) have a `"channel"` and no `"type"`; tickwatch does
//! not speak that protocol, and such frames are reported as [`Frame::AdvancedTrade`] rather than
//! misread.

use std::borrow::Cow;

use serde::Deserialize;
use serde::de::{self, Visitor};

use crate::domain::{
    EventKind, MarketEvent, Quote, Side, Stats24h, Symbol, SymbolError, TradeTick, TsMs, Venue,
};

/// One text frame, understood.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    /// A trade: `match`, or `last_match` (the latest trade before the subscription, sent once
    /// per product right after subscribing).
    Trade {
        event: MarketEvent,
        last_match: bool,
    },
    /// `ticker`: best bid/ask (when the frame carries them) and the rolling 24 h statistics.
    Ticker {
        quote: Option<MarketEvent>,
        stats: MarketEvent,
    },
    /// `heartbeat`, once a second per product: the latest trade id tells whether a match was
    /// missed.
    Heartbeat {
        product: Symbol,
        last_trade_id: u64,
        sequence: u64,
    },
    /// `subscriptions`: the answer to a subscribe, listing each channel and its products.
    Subscriptions {
        channels: Vec<(String, Vec<String>)>,
    },
    /// `error`: Coinbase refused something (an unknown product, a bad subscribe...).
    Error {
        message: String,
        reason: Option<String>,
    },
    /// A frame of the Coinbase Advanced Trade API (another endpoint and protocol).
    AdvancedTrade { channel: String },
    /// A well-formed frame of a type tickwatch does not use (l2update, snapshot, status...).
    Unsupported { kind: String },
}

/// Why a frame could not be used. Every one is counted and the frame skipped.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    #[error("not a Coinbase JSON frame: {0}")]
    Json(#[from] serde_json::Error),
    #[error("frame has neither \"type\" nor \"channel\"")]
    NoType,
    #[error("{kind} frame without the {field:?} field")]
    Missing {
        kind: &'static str,
        field: &'static str,
    },
    #[error("{field:?} is {value:?}, which is not a number")]
    Number { field: &'static str, value: String },
    #[error("{field:?} is {value}, which is not a positive finite number")]
    Rejected { field: &'static str, value: String },
    #[error("{field:?} is {value:?}, which is not an ISO-8601 time")]
    Time { field: &'static str, value: String },
    #[error("bad product id: {0}")]
    Symbol(#[from] SymbolError),
}

impl ParseError {
    /// The frame was well-formed but carried a value that must never reach the engine (NaN,
    /// zero or negative price or size).
    pub fn is_rejection(&self) -> bool {
        matches!(self, ParseError::Rejected { .. })
    }
}

/// A string field, borrowed from the frame unless it had escapes (serde cannot borrow through
/// an `Option<Cow<str>>` by itself).
#[derive(Debug, Clone, PartialEq)]
struct Text<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Text<'a> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Text<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v.to_string())))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V(std::marker::PhantomData))
    }
}

impl Text<'_> {
    fn as_str(&self) -> &str {
        &self.0
    }
}

/// `subscriptions` lists channels as objects; older servers and our own sends use bare names.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum SubChannel {
    Named {
        name: String,
        #[serde(default)]
        product_ids: Vec<String>,
    },
    Bare(String),
}

/// Every field of every frame we read, flat: one pass, no buffering of the big frames.
#[derive(Debug, Default, Deserialize)]
struct Payload<'a> {
    #[serde(rename = "type", borrow)]
    kind: Option<Text<'a>>,
    #[serde(borrow)]
    product_id: Option<Text<'a>>,
    trade_id: Option<u64>,
    #[serde(borrow)]
    side: Option<Text<'a>>,
    #[serde(borrow)]
    price: Option<Text<'a>>,
    #[serde(borrow)]
    size: Option<Text<'a>>,
    #[serde(borrow)]
    time: Option<Text<'a>>,
    sequence: Option<u64>,
    #[serde(borrow)]
    best_bid: Option<Text<'a>>,
    #[serde(borrow)]
    best_ask: Option<Text<'a>>,
    #[serde(borrow)]
    best_bid_size: Option<Text<'a>>,
    #[serde(borrow)]
    best_ask_size: Option<Text<'a>>,
    #[serde(borrow)]
    open_24h: Option<Text<'a>>,
    #[serde(borrow)]
    high_24h: Option<Text<'a>>,
    #[serde(borrow)]
    low_24h: Option<Text<'a>>,
    #[serde(borrow)]
    volume_24h: Option<Text<'a>>,
    last_trade_id: Option<u64>,
    message: Option<String>,
    reason: Option<String>,
    channels: Option<Vec<SubChannel>>,
    /// Advanced Trade frames carry this instead of `type`.
    #[serde(borrow)]
    channel: Option<Text<'a>>,
}

/// Parses a decimal string.
pub(crate) fn num(field: &'static str, s: &str) -> Result<f64, ParseError> {
    s.trim().parse::<f64>().map_err(|_| ParseError::Number {
        field,
        value: s.to_string(),
    })
}

/// Parses a price or a trade size: NaN, infinite, zero and negative values are rejected.
pub(crate) fn positive(field: &'static str, s: &str) -> Result<f64, ParseError> {
    let v = num(field, s)?;
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        Err(ParseError::Rejected {
            field,
            value: s.to_string(),
        })
    }
}

/// Parses a volume or a book size: finite and not negative.
pub(crate) fn amount(field: &'static str, s: &str) -> Result<f64, ParseError> {
    let v = num(field, s)?;
    if v.is_finite() && v >= 0.0 {
        Ok(v)
    } else {
        Err(ParseError::Rejected {
            field,
            value: s.to_string(),
        })
    }
}

/// Coinbase's `side` on a trade is the MAKER's side (the resting order). The taker, who caused
/// the trade, was on the other side: a maker "buy" means the taker sold (a down-tick).
pub fn taker_side(maker_side: &str) -> Side {
    match maker_side {
        "buy" => Side::Sell,
        "sell" => Side::Buy,
        _ => Side::Unknown,
    }
}

/// Parses an ISO-8601 UTC time as Coinbase writes it (`2021-04-17T16:43:30.244075Z`) into ms.
/// Other offsets and shapes go through chrono.
pub fn parse_time(s: &str) -> Option<TsMs> {
    fast_time(s.as_bytes()).or_else(|| {
        chrono::DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|t| t.timestamp_millis())
    })
}

fn fast_time(b: &[u8]) -> Option<TsMs> {
    fn digits(b: &[u8]) -> Option<i64> {
        let mut v = 0i64;
        for &c in b {
            if !c.is_ascii_digit() {
                return None;
            }
            v = v * 10 + i64::from(c - b'0');
        }
        Some(v)
    }
    if b.len() < 20
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
        || b[b.len() - 1] != b'Z'
    {
        return None;
    }
    let (y, mo, d) = (digits(&b[0..4])?, digits(&b[5..7])?, digits(&b[8..10])?);
    let (h, mi, sec) = (
        digits(&b[11..13])?,
        digits(&b[14..16])?,
        digits(&b[17..19])?,
    );
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let frac = &b[19..b.len() - 1];
    let ms = match frac.split_first() {
        None => 0,
        Some((b'.', f)) if !f.is_empty() => {
            digits(f)?;
            // first three digits, zero-padded: ".5" is 500 ms, ".244075" is 244 ms
            let mut ms = 0;
            for i in 0..3 {
                ms = ms * 10 + f.get(i).map_or(0, |c| i64::from(c - b'0'));
            }
            ms
        }
        _ => return None,
    };
    // days from the civil date (Howard Hinnant's algorithm)
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 24 + h) * 60 + mi) * 60_000 + sec * 1000 + ms)
}

type NumParser = fn(&'static str, &str) -> Result<f64, ParseError>;

fn opt(
    field: &'static str,
    v: Option<&Text<'_>>,
    parse: NumParser,
) -> Result<Option<f64>, ParseError> {
    v.map(|t| parse(field, t.as_str())).transpose()
}

fn need<T>(v: Option<T>, kind: &'static str, field: &'static str) -> Result<T, ParseError> {
    v.ok_or(ParseError::Missing { kind, field })
}

fn time_field(v: Option<&Text<'_>>, kind: &'static str) -> Result<TsMs, ParseError> {
    let t = need(v, kind, "time")?;
    parse_time(t.as_str()).ok_or_else(|| ParseError::Time {
        field: "time",
        value: t.as_str().to_string(),
    })
}

/// Parses one text frame of the Coinbase Exchange feed. `recv_ms` is the local receive time
/// stamped on any event it yields.
pub fn parse_frame(text: &str, recv_ms: TsMs) -> Result<Frame, ParseError> {
    let p: Payload<'_> = serde_json::from_str(text)?;
    let kind = match &p.kind {
        Some(k) => k.as_str(),
        None => {
            return match p.channel {
                Some(c) => Ok(Frame::AdvancedTrade {
                    channel: c.0.into_owned(),
                }),
                None => Err(ParseError::NoType),
            };
        }
    };
    match kind {
        "match" | "last_match" => {
            let last_match = kind == "last_match";
            let k = if last_match { "last_match" } else { "match" };
            let tick = TradeTick {
                trade_id: need(p.trade_id, k, "trade_id")?,
                price: positive("price", need(p.price.as_ref(), k, "price")?.as_str())?,
                qty: positive("size", need(p.size.as_ref(), k, "size")?.as_str())?,
                side: taker_side(need(p.side.as_ref(), k, "side")?.as_str()),
            };
            let event = MarketEvent {
                venue: Venue::Coinbase,
                symbol: Symbol::new(need(p.product_id.as_ref(), k, "product_id")?.as_str())?,
                exch_ms: time_field(p.time.as_ref(), k)?,
                recv_ms,
                kind: EventKind::Trade(tick),
            };
            Ok(Frame::Trade { event, last_match })
        }
        "ticker" => ticker(&p, recv_ms),
        "heartbeat" => Ok(Frame::Heartbeat {
            product: Symbol::new(need(p.product_id.as_ref(), "heartbeat", "product_id")?.as_str())?,
            last_trade_id: p.last_trade_id.unwrap_or(0),
            sequence: p.sequence.unwrap_or(0),
        }),
        "subscriptions" => Ok(Frame::Subscriptions {
            channels: p
                .channels
                .unwrap_or_default()
                .into_iter()
                .map(|c| match c {
                    SubChannel::Named { name, product_ids } => (name, product_ids),
                    SubChannel::Bare(name) => (name, Vec::new()),
                })
                .collect(),
        }),
        "error" => Ok(Frame::Error {
            message: p.message.unwrap_or_default(),
            reason: p.reason,
        }),
        other => Ok(Frame::Unsupported {
            kind: other.to_string(),
        }),
    }
}

fn ticker(p: &Payload<'_>, recv_ms: TsMs) -> Result<Frame, ParseError> {
    let k = "ticker";
    let symbol = Symbol::new(need(p.product_id.as_ref(), k, "product_id")?.as_str())?;
    // the first ticker after subscribing can lack a time; the receive time is the best we have
    let exch_ms = match p.time.as_ref() {
        Some(_) => time_field(p.time.as_ref(), k)?,
        None => recv_ms,
    };
    let stats = Stats24h {
        open: positive(
            "open_24h",
            need(p.open_24h.as_ref(), k, "open_24h")?.as_str(),
        )?,
        high: positive(
            "high_24h",
            need(p.high_24h.as_ref(), k, "high_24h")?.as_str(),
        )?,
        low: positive("low_24h", need(p.low_24h.as_ref(), k, "low_24h")?.as_str())?,
        last: positive("price", need(p.price.as_ref(), k, "price")?.as_str())?,
        volume: amount(
            "volume_24h",
            need(p.volume_24h.as_ref(), k, "volume_24h")?.as_str(),
        )?,
    };
    let bid = opt("best_bid", p.best_bid.as_ref(), positive)?;
    let ask = opt("best_ask", p.best_ask.as_ref(), positive)?;
    let bid_qty = opt("best_bid_size", p.best_bid_size.as_ref(), amount)?;
    let ask_qty = opt("best_ask_size", p.best_ask_size.as_ref(), amount)?;
    let event = |kind| MarketEvent {
        venue: Venue::Coinbase,
        symbol,
        exch_ms,
        recv_ms,
        kind,
    };
    let quote = match (bid, ask) {
        (Some(bid), Some(ask)) => Some(event(EventKind::Quote(Quote {
            bid,
            // sizes came with the ticker in 2022; older frames have none
            bid_qty: bid_qty.unwrap_or(0.0),
            ask,
            ask_qty: ask_qty.unwrap_or(0.0),
        }))),
        _ => None,
    };
    Ok(Frame::Ticker {
        quote,
        stats: event(EventKind::Stats24h(stats)),
    })
}
