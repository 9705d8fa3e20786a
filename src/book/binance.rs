//! Binance's local book: `<symbol>@depth@100ms` diffs buffered against a REST depth snapshot,
//! by "How to manage a local order book correctly" in Binance's docs.
//!
//! Spot (as corrected on 2025-11-12): drop diffs with `u` <= `lastUpdateId`; the first applied
//! diff must straddle `lastUpdateId + 1` (`U` <= id + 1 <= `u`); after it every diff's `U` must
//! be the previous `u` + 1. USD-M futures differ: drop `u` < `lastUpdateId`, the first applied
//! diff has `U` <= id <= `u`, then each diff's `pu` equals the previous `u`. Any break means
//! the book is void and a new snapshot is needed; the diff that broke the chain is kept in the
//! buffer, since the new snapshot may well precede it.

use std::collections::VecDeque;

use serde::Deserialize;

use super::{
    Book, BookError, BookMachine, Need, Outcome, Price, Reason, Side, Status, json, level,
};

const VENUE: &str = "Binance";

/// Diffs held while waiting for a snapshot: at 100 ms a diff, over six minutes' worth.
pub const DEFAULT_BUFFER: usize = 4096;

/// Which of Binance's two sync rules applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Flavor {
    Spot,
    UsdmFutures,
}

/// One parsed `depthUpdate` event.
#[derive(Clone, Debug, PartialEq)]
pub struct DepthDiff {
    pub symbol: String,
    /// `U`: first update id in the event.
    pub first: u64,
    /// `u`: final update id in the event.
    pub last: u64,
    /// `pu`: the previous event's `u` (futures only).
    pub prev: Option<u64>,
    pub bids: Vec<(Price, f64)>,
    pub asks: Vec<(Price, f64)>,
}

/// A parsed `GET /api/v3/depth` (or `/fapi/v1/depth`) body.
#[derive(Clone, Debug, PartialEq)]
pub struct DepthSnapshot {
    pub last_update_id: u64,
    pub bids: Vec<(Price, f64)>,
    pub asks: Vec<(Price, f64)>,
}

type RawLevels<'a> = Vec<(&'a str, &'a str)>;

#[derive(Deserialize)]
struct RawDiff<'a> {
    #[serde(default)]
    e: &'a str,
    #[serde(default)]
    s: String,
    #[serde(rename = "U")]
    first: u64,
    #[serde(rename = "u")]
    last: u64,
    pu: Option<u64>,
    #[serde(borrow)]
    b: RawLevels<'a>,
    #[serde(borrow)]
    a: RawLevels<'a>,
}

/// A raw stream frame is the event itself; a combined-stream frame wraps it in `data`.
#[derive(Deserialize)]
#[serde(untagged)]
enum Frame<'a> {
    Combined {
        #[serde(borrow)]
        data: RawDiff<'a>,
    },
    Raw(#[serde(borrow)] RawDiff<'a>),
}

#[derive(Deserialize)]
struct RawSnapshot<'a> {
    #[serde(rename = "lastUpdateId")]
    last_update_id: u64,
    #[serde(borrow)]
    bids: RawLevels<'a>,
    #[serde(borrow)]
    asks: RawLevels<'a>,
}

fn levels(raw: &[(&str, &str)]) -> Result<Vec<(Price, f64)>, BookError> {
    raw.iter().map(|(p, q)| level(VENUE, p, q)).collect()
}

/// Parses a `depthUpdate` frame, raw or combined-stream.
pub fn parse_diff(text: &str) -> Result<DepthDiff, BookError> {
    let raw = match json::<Frame>(VENUE, text)? {
        Frame::Combined { data } | Frame::Raw(data) => data,
    };
    if !raw.e.is_empty() && raw.e != "depthUpdate" {
        return Err(BookError::NotBook {
            venue: VENUE,
            what: "event is not depthUpdate",
        });
    }
    Ok(DepthDiff {
        symbol: raw.s,
        first: raw.first,
        last: raw.last,
        prev: raw.pu,
        bids: levels(&raw.b)?,
        asks: levels(&raw.a)?,
    })
}

/// Parses a REST depth snapshot body.
pub fn parse_snapshot(text: &str) -> Result<DepthSnapshot, BookError> {
    let raw: RawSnapshot = json(VENUE, text)?;
    Ok(DepthSnapshot {
        last_update_id: raw.last_update_id,
        bids: levels(&raw.bids)?,
        asks: levels(&raw.asks)?,
    })
}

/// One symbol's book and its sync state.
#[derive(Debug)]
pub struct BinanceBook {
    flavor: Flavor,
    book: Book,
    /// The book's update id: the snapshot's `lastUpdateId`, then each applied diff's `u`.
    id: u64,
    /// Whether a diff has been applied since the snapshot (the first one only has to
    /// straddle the snapshot id; later ones must chain exactly).
    bridged: bool,
    buffer: VecDeque<DepthDiff>,
    capacity: usize,
    status: Status,
}

enum Check {
    Apply,
    Stale,
    Gap { expected: u64, got: u64 },
}

impl BinanceBook {
    pub fn new(flavor: Flavor) -> Self {
        Self::with_buffer(flavor, DEFAULT_BUFFER)
    }

    /// A book that holds at most `capacity` diffs while waiting for a snapshot.
    pub fn with_buffer(flavor: Flavor, capacity: usize) -> Self {
        BinanceBook {
            flavor,
            book: Book::new(),
            id: 0,
            bridged: false,
            buffer: VecDeque::new(),
            capacity: capacity.max(1),
            status: Status::default(),
        }
    }

    /// Feeds one diff. Until a snapshot is loaded it is buffered; afterwards it is applied,
    /// dropped as stale, or it breaks the chain (`Outcome::Resync`, need a snapshot).
    pub fn on_diff(&mut self, diff: DepthDiff) -> Outcome {
        if !self.status.is_synced() {
            if self.buffer.len() >= self.capacity {
                self.buffer.pop_front();
                self.status.counters.overflowed += 1;
            }
            self.buffer.push_back(diff);
            self.status.counters.buffered += 1;
            return Outcome::Buffered;
        }
        self.step(diff)
    }

    /// Loads a snapshot and replays the buffered diffs over it.
    pub fn on_snapshot(&mut self, snap: DepthSnapshot) -> Outcome {
        // Spot chains from lastUpdateId + 1, futures from lastUpdateId itself.
        let from = match self.flavor {
            Flavor::Spot => snap.last_update_id.saturating_add(1),
            Flavor::UsdmFutures => snap.last_update_id,
        };
        if let Some(front) = self.buffer.front()
            && from < front.first
        {
            // Binance step 4: the snapshot predates the buffered stream, updates between
            // them are missing; fetch another. (The docs say "lastUpdateId < U"; a spot
            // snapshot at exactly U - 1 misses nothing, so it is accepted rather than
            // refetched.)
            let reason = Reason::SnapshotTooOld {
                last_update_id: snap.last_update_id,
                first_buffered: front.first,
            };
            self.status.fail(reason);
            return Outcome::Resync {
                reason,
                need: Need::Snapshot,
            };
        }
        self.book.clear();
        for (p, q) in snap.bids {
            self.book.apply(Side::Bid, p, q);
        }
        for (p, q) in snap.asks {
            self.book.apply(Side::Ask, p, q);
        }
        self.id = snap.last_update_id;
        self.bridged = false;
        self.status.snapshot();
        while let Some(diff) = self.buffer.pop_front() {
            if let out @ Outcome::Resync { .. } = self.step(diff) {
                return out;
            }
        }
        Outcome::Synced
    }

    fn check(&self, d: &DepthDiff) -> Check {
        let id = self.id;
        let gap = |expected, got| Check::Gap { expected, got };
        match (self.flavor, self.bridged) {
            (_, true) if d.last <= id => Check::Stale,
            (Flavor::Spot, false) if d.last <= id => Check::Stale,
            (Flavor::Spot, false) if d.first <= id + 1 => Check::Apply,
            (Flavor::Spot, false) => gap(id + 1, d.first),
            (Flavor::Spot, true) if d.first == id + 1 => Check::Apply,
            (Flavor::Spot, true) => gap(id + 1, d.first),
            (Flavor::UsdmFutures, false) if d.last < id => Check::Stale,
            (Flavor::UsdmFutures, false) if d.first <= id => Check::Apply,
            (Flavor::UsdmFutures, false) => gap(id, d.first),
            (Flavor::UsdmFutures, true) if d.prev == Some(id) => Check::Apply,
            (Flavor::UsdmFutures, true) => gap(id, d.prev.unwrap_or(d.first)),
        }
    }

    /// Applies one diff to the synced book, or discards the book on a break in the chain.
    fn step(&mut self, diff: DepthDiff) -> Outcome {
        match self.check(&diff) {
            Check::Stale => {
                self.status.counters.stale += 1;
                Outcome::Stale
            }
            Check::Gap { expected, got } => {
                let reason = Reason::Gap { expected, got };
                self.status.fail(reason);
                self.book.clear();
                self.bridged = false;
                // first in line for the next snapshot, ahead of any still being replayed
                self.buffer.push_front(diff);
                Outcome::Resync {
                    reason,
                    need: Need::Snapshot,
                }
            }
            Check::Apply => {
                for &(p, q) in &diff.bids {
                    self.book.apply(Side::Bid, p, q);
                }
                for &(p, q) in &diff.asks {
                    self.book.apply(Side::Ask, p, q);
                }
                self.id = diff.last;
                self.bridged = true;
                self.status.counters.applied += 1;
                Outcome::Applied
            }
        }
    }

    /// The book's update id (the last applied `u`, or the snapshot's `lastUpdateId`).
    pub fn update_id(&self) -> u64 {
        self.id
    }

    /// Diffs waiting for a snapshot.
    pub fn buffered(&self) -> usize {
        self.buffer.len()
    }
}

impl BookMachine for BinanceBook {
    type Level = f64;
    const NEED: Need = Need::Snapshot;

    fn book(&self) -> &Book<f64> {
        &self.book
    }

    fn status(&self) -> Status {
        self.status
    }
}
