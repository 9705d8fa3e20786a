//! The frame shape of venues whose control answers are "subscribed / unsubscribed / refused
//! (channel, symbol, maybe a request id)" (Kraken, OKX), and what the engine does with it, so
//! that such a venue only parses its frames into a [`Frame`].

use std::sync::atomic::Ordering;

use super::changes::Kind;
use super::session::{End, LiveVenue, Session};
use super::source::LiveStats;
use crate::domain::{MarketEvent, Symbol};
use crate::pipeline::EventSink;

/// One text frame, understood.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    /// Market data: a frame can carry several trades, candles or tickers.
    Events(Vec<MarketEvent>),
    /// A subscription is live: one per channel and symbol, with the request's id when the venue
    /// numbers requests.
    Subscribed {
        req_id: Option<u64>,
        channel: String,
        symbol: Option<Symbol>,
    },
    /// A subscription ended at our request.
    Unsubscribed {
        req_id: Option<u64>,
        channel: String,
        symbol: Option<Symbol>,
    },
    /// The venue refused a request: an unknown symbol, a rate limit, a bad field. `symbol` is
    /// the venue's text, unchecked.
    Refused {
        req_id: Option<u64>,
        code: Option<String>,
        symbol: Option<String>,
        message: String,
    },
    /// The connection is alive: the answer to our ping, or a heartbeat.
    Pong { req_id: Option<u64> },
    /// The venue is going away or degraded (a maintenance notice).
    Notice { message: String },
    /// A well-formed frame tickwatch does not use.
    Unsupported { kind: String },
}

/// How a venue names itself in what the engine shows.
pub(crate) struct Words {
    /// "Kraken"
    pub title: &'static str,
    /// "pair", "instrument"
    pub unit: &'static str,
    /// "[kraken].symbols"
    pub key: &'static str,
    /// The channel whose answer completes a subscribe when the venue sends no request id.
    pub main_channel: &'static str,
}

/// Acts on one frame (or counts and shows why it could not be read); returns why the
/// connection is over, if it is.
pub(crate) fn handle<V: LiveVenue, E: std::fmt::Display>(
    frame: Result<Frame, (E, bool)>,
    text: &str,
    words: &Words,
    stats: &LiveStats,
    sink: &EventSink,
    s: &mut Session<'_, V>,
) -> Option<End> {
    let answer = |s: &mut Session<'_, V>, req_id: Option<u64>, channel: &str, symbol, kind| {
        s.alive();
        match (req_id, symbol) {
            (Some(id), _) => s.acked(id),
            (None, Some(p)) if channel == words.main_channel => {
                s.confirm_where(|c| c.symbol == p && c.kind == kind)
            }
            _ => {}
        }
    };
    match frame {
        Ok(Frame::Events(evs)) => evs.into_iter().for_each(|ev| s.event(ev)),
        Ok(Frame::Subscribed {
            req_id,
            channel,
            symbol,
        }) => answer(s, req_id, &channel, symbol, Kind::Subscribe),
        Ok(Frame::Unsubscribed {
            req_id,
            channel,
            symbol,
        }) => answer(s, req_id, &channel, symbol, Kind::Unsubscribe),
        Ok(Frame::Refused {
            req_id,
            code,
            symbol,
            message,
        }) => {
            s.alive();
            let (title, unit, key) = (words.title, words.unit, words.key);
            // the venue's words: shown, never obeyed by a terminal
            let why = crate::format::visible(&match code {
                Some(c) => format!("{message} (code {c})"),
                None => message,
            });
            if req_id.is_some_and(|id| s.refused(id, &why)) {
                return None;
            }
            let named = symbol.as_deref().and_then(|t| Symbol::new(t).ok());
            if let Some(p) = named
                && let Some(c) = s.take_subscribe(p)
            {
                let msg = format!("{title} refused to subscribe {p}: {why}");
                s.forget(p, false);
                stats.record_error(sink, msg.clone());
                c.answer(Err(msg));
                return None;
            }
            // a configured symbol the venue refuses: dropped, the others go on
            match named.filter(|p| s.symbols().contains(p)) {
                Some(p) => {
                    stats.record_error(
                        sink,
                        format!("{title} refused {unit} {p}: {why}; remove it from {key}"),
                    );
                    return s.forget(p, true);
                }
                None => stats.record_error(sink, format!("{title} refused a request: {why}")),
            }
        }
        Ok(Frame::Pong { .. }) => s.alive(),
        Ok(Frame::Notice { message }) => {
            s.alive();
            let msg = format!("{}: {}", words.title, crate::format::visible(&message));
            stats.record_error(sink, msg);
        }
        Ok(Frame::Unsupported { kind }) => {
            s.alive();
            stats.ignored.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(source = sink.name(), "ignored {kind} frame");
        }
        Err((e, rejection)) => stats.skipped(sink, rejection, e.to_string(), text),
    }
    None
}
