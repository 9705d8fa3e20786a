//! Where a venue's local order books go: the [`BookBoard`] (the ladder draws from it) and the
//! engine (liquidity alert rules, stored top-of-book snapshots). Every venue's book task
//! publishes through one [`BookOut`], so a book that is not in sync reaches neither as if it
//! were, whichever venue kept it.

use std::time::Duration;

use tokio::time::Instant;

use crate::book::{BookMachine, BookState, Level as _, Side};
use crate::domain::{BookSnapshot, BookSync, Level, Venue, VenueSymbol, now_ms};
use crate::pipeline::{EngineGone, EventSink};
use crate::view::BookBoard;

/// A book is published at most this often while it changes (the screen draws at 30 fps).
pub(crate) const PUBLISH_EVERY: Duration = Duration::from_millis(100);

/// One book a task keeps, with when it was last published and last heard of: every venue's
/// book task throttles and marks stale books the same way.
pub(crate) struct Kept<M> {
    pub machine: M,
    published: Option<Instant>,
    /// A change was held back by the throttle: published on the next tick at the latest, so
    /// that a book that goes quiet still shows its last state.
    held: bool,
    last_seen: Instant,
    /// Nothing came for this book for the feed's `stale_after`.
    pub stale: bool,
}

impl<M: BookMachine> Kept<M> {
    pub fn new(machine: M) -> Self {
        Kept {
            machine,
            published: None,
            held: false,
            last_seen: Instant::now(),
            stale: false,
        }
    }

    /// A message for this book arrived; true when it was stale until now (publish at once).
    pub fn seen(&mut self) -> bool {
        self.last_seen = Instant::now();
        std::mem::replace(&mut self.stale, false)
    }

    /// True when the book has just gone stale (nothing for `after`): publish it so.
    pub fn went_stale(&mut self, after: Duration) -> bool {
        if self.stale || self.last_seen.elapsed() <= after {
            return false;
        }
        self.stale = true;
        true
    }

    /// Whether a change was held back by the throttle (publish it on the next tick).
    pub fn held(&self) -> bool {
        self.held
    }

    /// Publishes the book (its top levels and state), at most every [`PUBLISH_EVERY`] unless
    /// `now` (its state changed). A book that is not in sync is published without levels.
    pub async fn publish(
        &mut self,
        key: VenueSymbol,
        out: &BookOut,
        now: bool,
    ) -> Result<(), EngineGone> {
        if !now && self.published.is_some_and(|t| t.elapsed() < PUBLISH_EVERY) {
            self.held = true;
            return Ok(());
        }
        self.held = false;
        self.published = Some(Instant::now());
        let snap = out.snapshot(key, &self.machine, self.stale);
        out.publish(snap).await
    }
}

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
