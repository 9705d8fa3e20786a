//! Recognises rows replayed twice: a trade id seen before for the same symbol (a dump with
//! repeated rows, or a daily and a monthly file that overlap), and a kline whose candle was
//! already replayed. Memory is fixed per symbol, whatever the input's length.

use std::collections::HashMap;

use crate::domain::{EventKind, Interval, MarketEvent, TsMs, VenueSymbol};

/// Trade ids remembered below the highest one seen. Binance dumps are sorted by id, and the
/// merge puts a repeat right after its original (same time), so a repeat is always this close;
/// the window only has to absorb ids that arrive slightly out of order. 8 KiB per symbol.
pub(crate) const ID_WINDOW: u64 = 1 << 16;

/// Which trade ids of one symbol were seen, in a sliding window below the highest one.
#[derive(Debug)]
struct IdWindow {
    max: u64,
    /// Bit `id % ID_WINDOW` is set when `id` (within the window) was seen.
    bits: Box<[u64]>,
}

impl IdWindow {
    fn new(first: u64) -> IdWindow {
        let mut w = IdWindow {
            max: first,
            bits: vec![0u64; (ID_WINDOW / 64) as usize].into_boxed_slice(),
        };
        w.set(first);
        w
    }

    fn slot(id: u64) -> (usize, u64) {
        let bit = id % ID_WINDOW;
        ((bit / 64) as usize, 1u64 << (bit % 64))
    }

    fn set(&mut self, id: u64) {
        let (word, mask) = Self::slot(id);
        self.bits[word] |= mask;
    }

    fn clear(&mut self, id: u64) {
        let (word, mask) = Self::slot(id);
        self.bits[word] &= !mask;
    }

    /// True the first time `id` is offered; false for a repeat. An id further below the highest
    /// than the window reaches is let through (it cannot be told apart; the store still keeps
    /// one row per id).
    fn first_time(&mut self, id: u64) -> bool {
        if id > self.max {
            // the slots of ids now entering the window held ids now leaving it
            if id - self.max >= ID_WINDOW {
                self.bits.fill(0);
            } else {
                for gone in self.max + 1..id {
                    self.clear(gone);
                }
            }
            self.clear(id);
            self.set(id);
            self.max = id;
            return true;
        }
        if self.max - id >= ID_WINDOW {
            return true;
        }
        let (word, mask) = Self::slot(id);
        let seen = self.bits[word] & mask != 0;
        self.bits[word] |= mask;
        !seen
    }
}

/// Repeats across every file of one replay.
#[derive(Debug, Default)]
pub(crate) struct Dedupe {
    trades: HashMap<VenueSymbol, IdWindow>,
    /// Open time of the last kline passed on, per symbol and interval.
    klines: HashMap<(VenueSymbol, Interval), TsMs>,
}

impl Dedupe {
    /// True when `ev` was already replayed and must be skipped. Events reach it in merge order
    /// (time order), so a kline at or before the last one of its series is a repeat.
    pub(crate) fn is_repeat(&mut self, ev: &MarketEvent) -> bool {
        match ev.kind {
            EventKind::Trade(t) => match self.trades.get_mut(&ev.key()) {
                Some(w) => !w.first_time(t.trade_id),
                None => {
                    self.trades.insert(ev.key(), IdWindow::new(t.trade_id));
                    false
                }
            },
            EventKind::Candle {
                interval, candle, ..
            } => {
                let last = self.klines.entry((ev.key(), interval)).or_insert(TsMs::MIN);
                if candle.open_ms <= *last {
                    return true;
                }
                *last = candle.open_ms;
                false
            }
            EventKind::Quote(_) | EventKind::Stats24h(_) => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeats_within_the_window_are_caught_and_old_slots_are_reused() {
        let mut w = IdWindow::new(10);
        assert!(!w.first_time(10));
        assert!(w.first_time(12));
        assert!(w.first_time(11), "out of order but new");
        assert!(!w.first_time(11));
        assert!(!w.first_time(12));
        // jump far ahead: 10..12 leave the window, and their slots hold nothing stale
        let far = 12 + ID_WINDOW;
        assert!(w.first_time(far));
        assert!(w.first_time(10 + ID_WINDOW), "slot of 10 was cleared");
        assert!(!w.first_time(10 + ID_WINDOW));
        assert!(w.first_time(11), "below the window: let through");
        // a jump of more than the window clears everything
        let mut w = IdWindow::new(5);
        assert!(w.first_time(5 + 3 * ID_WINDOW));
        assert!(w.first_time(5 + 3 * ID_WINDOW - 1));
        assert!(!w.first_time(5 + 3 * ID_WINDOW));
    }

    #[test]
    fn every_id_of_a_long_increasing_run_is_new_once() {
        let mut w = IdWindow::new(0);
        for id in 1..3 * ID_WINDOW {
            assert!(w.first_time(id), "{id}");
            assert!(!w.first_time(id), "{id} again");
            assert!(!w.first_time(id - 1), "{id} - 1 again");
        }
    }
}
