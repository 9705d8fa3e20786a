//! Yahoo Finance streamer (`wss://streamer.finance.yahoo.com/?version=2`): each text frame is
//! `{"type":"pricing","message":"<base64>"}` (the legacy stream without `version` sent the bare
//! base64), the base64 a protobuf [`PricingData`]. [`parse_frame`] turns one into a [`Frame`].
//!
//! Yahoo sends no trades and no trade ids: a pricing message is the latest price with the
//! day's statistics, so it becomes a `Stats24h` event (nothing here is gap-trackable; a missed
//! message is simply superseded by the next one). As in the Alpha Vantage source, `open` is the
//! previous close, so the watchlist's change is the day's change that Yahoo shows.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use prost::Message;
use serde::Deserialize;

use super::proto::PricingData;
use crate::domain::{EventKind, MarketEvent, Quote, Stats24h, Symbol, SymbolError, TsMs, Venue};

/// Which session a price belongs to (`market_hours` in the stream; for chart bars, the trading
/// period they fall in).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MarketHours {
    /// Pre-market (US 04:00-09:30 ET). Also what an absent `market_hours` decodes to: proto3
    /// writes no field for its zero value.
    Pre,
    Regular,
    /// Post-market (US 16:00-20:00 ET).
    Post,
    /// `EXTENDED_HOURS_MARKET` (3): overnight trading.
    Extended,
    /// Outside every trading period (chart bars only; the streamer is silent then).
    Closed,
    /// A value Yahoo added after this was written.
    Other(i32),
}

impl MarketHours {
    /// The stream's `market_hours` (Yahoo's `MarketHoursType` enum).
    pub fn from_stream(v: i32) -> MarketHours {
        match v {
            0 => MarketHours::Pre,
            1 => MarketHours::Regular,
            2 => MarketHours::Post,
            3 => MarketHours::Extended,
            other => MarketHours::Other(other),
        }
    }
}

/// One pricing message, understood.
#[derive(Debug, Clone, PartialEq)]
pub struct Pricing {
    /// `Stats24h`: last = price, open = previous close, the day's high, low and volume.
    pub event: MarketEvent,
    /// Best bid and ask, when the message carries both.
    pub quote: Option<MarketEvent>,
    pub hours: MarketHours,
    /// Change since the previous close, in the price's unit and in percent.
    pub change: f64,
    pub change_percent: f64,
    pub currency: String,
    pub exchange: String,
}

/// One text frame, understood.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    Price(Box<Pricing>),
    /// A well-formed frame of another `type`, or a heartbeat message.
    Unsupported {
        kind: String,
    },
}

/// Why a frame could not be used. Every one is counted and the frame skipped.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    #[error("not a Yahoo streamer frame: {0}")]
    Json(#[from] serde_json::Error),
    #[error("pricing frame without a \"message\"")]
    NoMessage,
    #[error("the pricing message is not base64 ({0}); Yahoo may have changed its stream format")]
    Base64(#[from] base64::DecodeError),
    #[error(
        "the pricing message is not a PricingData protobuf ({0}); Yahoo may have changed its stream format"
    )]
    Proto(#[from] prost::DecodeError),
    #[error("{field} is {value}, which is not a positive finite number")]
    Rejected { field: &'static str, value: f64 },
    #[error("bad symbol: {0}")]
    Symbol(#[from] SymbolError),
}

impl WireError {
    /// The frame was well-formed but carried a value that must never reach the engine.
    pub fn is_rejection(&self) -> bool {
        matches!(self, WireError::Rejected { .. })
    }
}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(rename = "type", borrow)]
    kind: Option<&'a str>,
    #[serde(borrow)]
    message: Option<&'a str>,
}

/// `quote_type` of the messages Yahoo sends to keep a quiet connection open.
const HEARTBEAT: i32 = 7;

/// Decodes the base64 protobuf of one pricing message.
pub fn decode(b64: &str) -> Result<PricingData, WireError> {
    let bytes = STANDARD.decode(b64.trim())?;
    Ok(PricingData::decode(bytes.as_slice())?)
}

/// Parses one text frame of the streamer (JSON envelope or bare base64). `recv_ms` is the local
/// receive time, stamped on the events (and their time when the message has none).
pub fn parse_frame(text: &str, recv_ms: TsMs) -> Result<Frame, WireError> {
    let text = text.trim();
    let b64 = if text.starts_with('{') {
        let env: Envelope<'_> = serde_json::from_str(text)?;
        match env.kind {
            Some("pricing") | None => env.message.ok_or(WireError::NoMessage)?,
            Some(other) => {
                return Ok(Frame::Unsupported {
                    kind: other.to_string(),
                });
            }
        }
    } else {
        text
    };
    let p = decode(b64)?;
    if p.quote_type == HEARTBEAT {
        return Ok(Frame::Unsupported {
            kind: "heartbeat".into(),
        });
    }
    pricing(p, recv_ms).map(|p| Frame::Price(Box::new(p)))
}

fn positive(field: &'static str, v: f32) -> Result<f64, WireError> {
    let v = f64::from(v);
    if v.is_finite() && v > 0.0 {
        Ok(v)
    } else {
        Err(WireError::Rejected { field, value: v })
    }
}

/// A field proto3 may leave out: zero means "not sent".
fn given(v: f32) -> Option<f64> {
    let v = f64::from(v);
    (v.is_finite() && v > 0.0).then_some(v)
}

/// The message as events. Absent fields (zero in proto3) fall back: the previous close to
/// price − change, the day's high and low to the price, so no 0 is ever shown as a price.
pub fn pricing(p: PricingData, recv_ms: TsMs) -> Result<Pricing, WireError> {
    let symbol = Symbol::new(&p.id)?;
    let last = positive("price", p.price)?;
    let change = f64::from(p.change);
    let prev = given(p.previous_close).or_else(|| given((last - change) as f32));
    let stats = Stats24h {
        open: prev.unwrap_or(0.0),
        high: given(p.day_high).unwrap_or(last),
        low: given(p.day_low).unwrap_or(last),
        last,
        // FX and indices have no volume; a negative one is nonsense and dropped the same way
        volume: p.day_volume.max(0) as f64,
    };
    let exch_ms = if p.time > 0 { p.time } else { recv_ms };
    let event = |kind| MarketEvent {
        venue: Venue::Yahoo,
        symbol,
        exch_ms,
        recv_ms,
        kind,
    };
    let quote = match (given(p.bid), given(p.ask)) {
        (Some(bid), Some(ask)) => Some(event(EventKind::Quote(Quote {
            bid,
            bid_qty: p.bid_size.max(0) as f64,
            ask,
            ask_qty: p.ask_size.max(0) as f64,
        }))),
        _ => None,
    };
    Ok(Pricing {
        event: event(EventKind::Stats24h(stats)),
        quote,
        hours: MarketHours::from_stream(p.market_hours),
        change,
        change_percent: f64::from(p.change_percent),
        currency: p.currency,
        exchange: p.exchange,
    })
}

/// The message that subscribes to (or with `subscribe` false, unsubscribes from) `symbols`.
/// Yahoo names no limit; it answers nothing either, so a subscription shows itself only by
/// prices arriving.
pub fn subscription(symbols: &[Symbol], subscribe: bool) -> String {
    let names: Vec<&str> = symbols.iter().map(|s| s.as_str()).collect();
    let key = if subscribe {
        "subscribe"
    } else {
        "unsubscribe"
    };
    serde_json::json!({ key: names }).to_string()
}
