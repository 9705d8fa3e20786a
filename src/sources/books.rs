//! Where a venue's local order books go: the [`BookBoard`] (the ladder draws from it) and the
//! engine (liquidity alert rules, stored top-of-book snapshots). Every venue's book task
//! publishes through one [`BookOut`], so a book that is not in sync reaches neither as if it
//! were, whichever venue kept it.

use crate::book::{BookMachine, BookState, Level as _, Side};
use crate::domain::{BookSnapshot, BookSync, Level, Venue, VenueSymbol, now_ms};
use crate::pipeline::{EngineGone, EventSink};
use crate::view::BookBoard;

/// The two ends of a book task.
#[derive(Clone)]
pub(crate) struct BookOut {
    board: BookBoard,
    sink: EventSink,
    /// Levels of each side published.
    pub levels: usize,
}

impl BookOut {
    pub fn new(board: BookBoard, sink: EventSink, levels: usize) -> BookOut {
        BookOut {
            board,
            sink,
            levels,
        }
    }

    /// The published form of `machine`'s book: its top levels while it is synced, none while
    /// it is not (or while its feed is `stale`), with its state and counters.
    pub fn snapshot<M: BookMachine>(
        &self,
        key: VenueSymbol,
        machine: &M,
        stale: bool,
    ) -> BookSnapshot {
        let status = machine.status();
        let sync = match status.state {
            _ if stale => BookSync::Stale,
            BookState::Synced => BookSync::Synced,
            BookState::AwaitingSnapshot => BookSync::Resyncing {
                why: "waiting for the first snapshot".into(),
            },
            BookState::Resyncing(reason) => BookSync::Resyncing {
                why: reason.to_string(),
            },
        };
        let book = machine.book();
        let side = |s: Side| -> (Vec<Level>, bool) {
            if sync != BookSync::Synced {
                return (Vec::new(), false);
            }
            let top = book
                .top(s, self.levels)
                .into_iter()
                .map(|(p, l)| Level {
                    price: p.to_f64(),
                    qty: l.qty(),
                })
                .collect::<Vec<_>>();
            let more = book.len(s) > top.len();
            (top, more)
        };
        let (bids, more_bids) = side(Side::Bid);
        let (asks, more_asks) = side(Side::Ask);
        let c = status.counters;
        BookSnapshot {
            key,
            bids,
            asks,
            more_bids,
            more_asks,
            sync,
            updated_ms: now_ms(),
            gaps: c.gaps,
            checksum_failures: c.checksum_failures,
            resyncs: c.resyncs,
        }
    }

    /// Shows `snap` on the board and hands it to the engine, waiting for room there (a book task
    /// that falls behind meanwhile drops frames, which is counted and resyncs the book).
    pub async fn publish(&self, snap: BookSnapshot) -> Result<(), EngineGone> {
        self.board.publish(snap.clone());
        self.sink.send_books(vec![snap]).await
    }

    /// Every book of `venue` is no longer the venue's (its source stopped or went quiet).
    pub fn mark(&self, venue: Venue, sync: BookSync) {
        self.board.mark(venue, sync);
    }
}
