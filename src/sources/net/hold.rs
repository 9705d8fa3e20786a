//! Live events held behind a gap fill, and what happens when the fill takes too long: the held
//! events go on, and the trades the fill brings later are handed on if they belong to the hole.
//! Shared by the venues' gap trackers.

use crate::domain::{EventKind, MarketEvent, Symbol, TradeTick, TsMs};

/// Live events are held behind a gap fill for at most this long: a slow or hung REST server
/// must not stop live data. After that they go on; what the fill brings later is handed on if
/// it still fits (the trades of the hole: stored once, late for their candles), else it is
/// dropped and said (start-up candles older than the live candle).
pub const MAX_HOLD_MS: TsMs = 10_000;

/// The trade ids a fill may still bring after its held events went on without it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Released {
    /// First and last id of the hole (empty when `to < from`).
    pub from: u64,
    pub to: u64,
}

impl Released {
    /// The hole between the fill's first id (or what was accepted + 1) and the first held
    /// trade. Returns it with the id accepted from now on, so that the held trades continue the
    /// stream right after the hole (None: leave it as it is).
    pub fn of(
        trades_from: Option<u64>,
        accepted: Option<u64>,
        held: &[MarketEvent],
    ) -> (Released, Option<u64>) {
        let first_held = held.iter().find_map(|e| match e.kind {
            EventKind::Trade(t) => Some(t.trade_id),
            _ => None,
        });
        // from what was accepted when that is lower (a batch dropped at the ring meanwhile
        // reopened trades below the fill's first id)
        let from = match (trades_from, accepted.map(|a| a + 1)) {
            (Some(f), Some(a)) => f.min(a),
            (f, a) => f.or(a).unwrap_or(u64::MAX),
        };
        let to = first_held.map_or(0, |id| id.saturating_sub(1));
        let hole = Released { from, to };
        let accept_from = first_held.filter(|_| to >= from).map(|first| first - 1);
        (hole, accept_from)
    }

    /// Hands on (in id order, each once) the late fill's trades that belong to the hole.
    /// Returns how many of the hole's ids it did not bring.
    pub fn take_late(
        &self,
        mut trades: Vec<(TsMs, TradeTick)>,
        mut emit: impl FnMut(TsMs, TradeTick),
    ) -> u64 {
        trades.sort_by_key(|(_, t)| t.trade_id);
        let mut next = self.from;
        for (time, t) in trades {
            if t.trade_id < next || t.trade_id > self.to {
                continue;
            }
            next = t.trade_id + 1;
            emit(time, t);
        }
        if self.to >= self.from && next <= self.to {
            self.to - next + 1
        } else {
            0
        }
    }
}

/// When batches were dropped at the ring while a fill ran, trades below what the fill fetched
/// were reopened: the id to fill from again (the fill's own trades wait behind that fill).
pub fn reopened_below(trades_from: Option<u64>, accepted: Option<u64>) -> Option<u64> {
    match (trades_from, accepted) {
        (Some(from), Some(a)) if a + 1 < from => Some(a + 1),
        _ => None,
    }
}

/// What waits behind a new fill: a fill's trades in id order (as events), then the events
/// that were held behind it.
pub fn waiting(
    mut trades: Vec<(TsMs, TradeTick)>,
    held: Vec<MarketEvent>,
    to_event: impl Fn(TsMs, TradeTick) -> MarketEvent,
) -> Vec<MarketEvent> {
    trades.sort_by_key(|(_, t)| t.trade_id);
    let mut wait: Vec<MarketEvent> = trades
        .into_iter()
        .map(|(time, t)| to_event(time, t))
        .collect();
    wait.extend(held);
    wait
}

/// What to say about a fill that came back late: `missing` ids of its hole not brought,
/// `candles` start-up candles not used, and its error. None when there is nothing to say.
pub fn late_note(
    symbol: Symbol,
    missing: u64,
    candles: usize,
    error: Option<String>,
) -> Option<String> {
    let mut lost = Vec::new();
    if missing > 0 {
        lost.push(format!("{missing} trades could not be backfilled"));
    }
    if candles > 0 {
        lost.push(format!(
            "{candles} start-up candles arrived after live data had begun and were not used"
        ));
    }
    let why = error.map(|e| format!(" ({e})")).unwrap_or_default();
    (!lost.is_empty()).then(|| {
        format!(
            "{symbol}: REST answered after {} s: {}{why}",
            MAX_HOLD_MS / 1000,
            lost.join("; ")
        )
    })
}

/// The status line for fills that kept live data waiting too long, when there are any.
pub fn overdue_note(late: &[Symbol]) -> Option<String> {
    (!late.is_empty()).then(|| {
        let names: Vec<String> = late.iter().map(ToString::to_string).collect();
        format!(
            "REST has not answered within {} s: live data for {} go on without the backfill",
            MAX_HOLD_MS / 1000,
            names.join(", ")
        )
    })
}
