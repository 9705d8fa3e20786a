//! What a gap fill asks a venue's REST API for, and what it brings back. The venue's own
//! client fetches (`run_fill` in its folder); the [`GapTracker`](super::gaps::GapTracker) decides
//! what to ask and merges the answer into the live stream.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use crate::domain::{Candle, EventKind, Interval, MarketEvent, Symbol, TradeTick, TsMs, Venue};

/// What one gap needs.
#[derive(Debug, Clone)]
pub(crate) struct FillRequest {
    pub symbol: Symbol,
    /// Fetch trades from this id on.
    pub trades_from: Option<u64>,
    /// The exchange time of the trade before `trades_from`, when known (for a venue that pages
    /// trades by time, e.g. Kraken's `since`).
    pub after_ms: Option<TsMs>,
    /// Fetch 1m candles from this time on (start-up warm-up, or the candles a reconnect
    /// missed).
    pub candles_from: Option<TsMs>,
    /// No closed candle of the symbol is known yet: the candle fetch is its warm-up (a venue
    /// may then ask for a wider span, as Yahoo does for a market that is closed now).
    pub warm: bool,
    /// The first trade id REST need not fetch: the first one the socket delivered since the
    /// gap, or the venue's "latest id" + 1; 0 until known.
    pub stop_at: Arc<AtomicU64>,
    /// Wait this long before asking: REST may lag the stream by a moment, so a fill that found
    /// nothing yet is tried again a little later (see [`crate::sources::net::handout::refill_delay`]).
    pub delay: std::time::Duration,
}

/// What a fill brought back; `E` is the venue's REST error.
#[derive(Debug)]
pub(crate) struct FillDone<E> {
    pub symbol: Symbol,
    /// (trade time, trade), in any order.
    pub trades: Vec<(TsMs, TradeTick)>,
    /// 1m candles, oldest first (a running last one is dropped: the stream or the trades make
    /// it).
    pub candles: Vec<Candle>,
    /// Other events the answer brought (a venue's price snapshot), handed on after the candles.
    pub events: Vec<MarketEvent>,
    pub error: Option<E>,
    /// Whether the top of the hole was known when the fill started (if not, a live trade may
    /// show a hole above what REST had, which is worth one more fill).
    pub bounded: bool,
}

impl<E> FillDone<E> {
    /// An empty answer to `req`, once its delay has passed; bounded when the top of the hole
    /// (the first live trade after it) was known when the fill started.
    pub async fn begin(req: &FillRequest) -> FillDone<E> {
        let bounded = req.stop_at.load(std::sync::atomic::Ordering::Relaxed) > 0;
        if !req.delay.is_zero() {
            tokio::time::sleep(req.delay).await;
        }
        FillDone {
            symbol: req.symbol,
            trades: Vec::new(),
            candles: Vec::new(),
            events: Vec::new(),
            error: None,
            bounded,
        }
    }
}

/// What a finished fill produced.
#[derive(Debug, Default)]
pub(crate) struct FillOutcome {
    /// Another fill is needed (the hole was larger than one fill fetches).
    pub next: Option<FillRequest>,
    /// Trades that are lost for good (REST failed or had nothing), with the reason.
    pub lost: Option<String>,
}

/// A candle fetched from REST as an event; closed when its interval has ended by `now`.
pub(crate) fn candle_event(
    venue: Venue,
    symbol: Symbol,
    interval: Interval,
    c: Candle,
    now: TsMs,
) -> MarketEvent {
    MarketEvent {
        venue,
        symbol,
        exch_ms: c.open_ms,
        recv_ms: now,
        kind: EventKind::Candle {
            interval,
            candle: c,
            closed: c.open_ms + interval.ms() <= now,
        },
    }
}

/// A trade fetched from REST as an event.
pub(crate) fn trade_event(
    venue: Venue,
    symbol: Symbol,
    time: TsMs,
    t: TradeTick,
    now: TsMs,
) -> MarketEvent {
    MarketEvent {
        venue,
        symbol,
        exch_ms: time,
        recv_ms: now,
        kind: EventKind::Trade(t),
    }
}
