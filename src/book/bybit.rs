//! Bybit v5 `orderbook.{depth}.{symbol}`: a snapshot, then deltas. Every snapshot resets the
//! book (Bybit re-sends one when something went wrong on its side, and one with `u` = 1 after
//! a service restart). Deltas carry the update id `u`, one more than the previous message's;
//! anything else means lost updates: resubscribe. Size "0" deletes a level. Bybit sends the
//! deletes for levels leaving the subscribed depth itself, so no truncation is needed.

use serde::Deserialize;

use super::{
    Book, BookError, BookMachine, Need, Outcome, Price, Reason, Side, Status, json, level,
};

const VENUE: &str = "Bybit";

/// One `orderbook` push.
#[derive(Clone, Debug, PartialEq)]
pub struct BookMsg {
    pub snapshot: bool,
    pub symbol: String,
    pub bids: Vec<(Price, f64)>,
    pub asks: Vec<(Price, f64)>,
    /// `u`: the update id.
    pub update_id: u64,
    /// `seq`: the cross-sequence (comparable across depths; not used for sync).
    pub seq: Option<u64>,
}

#[derive(Deserialize)]
struct RawData<'a> {
    s: String,
    #[serde(borrow, default)]
    b: Vec<(&'a str, &'a str)>,
    #[serde(borrow, default)]
    a: Vec<(&'a str, &'a str)>,
    u: u64,
    seq: Option<u64>,
}

#[derive(Deserialize)]
struct RawFrame<'a> {
    #[serde(default)]
    topic: &'a str,
    #[serde(rename = "type", default)]
    kind: &'a str,
    #[serde(borrow)]
    data: Option<RawData<'a>>,
}

fn levels(raw: &[(&str, &str)]) -> Result<Vec<(Price, f64)>, BookError> {
    raw.iter().map(|(p, q)| level(VENUE, p, q)).collect()
}

/// Parses an `orderbook.*` push; acks and other topics are [`BookError::NotBook`].
pub fn parse(text: &str) -> Result<BookMsg, BookError> {
    let raw: RawFrame = json(VENUE, text)?;
    let data = match raw.data {
        Some(d) if raw.topic.starts_with("orderbook.") => d,
        _ => {
            return Err(BookError::NotBook {
                venue: VENUE,
                what: "topic is not orderbook.*",
            });
        }
    };
    Ok(BookMsg {
        snapshot: raw.kind == "snapshot",
        symbol: data.s,
        bids: levels(&data.b)?,
        asks: levels(&data.a)?,
        update_id: data.u,
        seq: data.seq,
    })
}

/// One symbol's book.
#[derive(Debug, Default)]
pub struct BybitBook {
    book: Book,
    update_id: u64,
    status: Status,
}

impl BybitBook {
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies a snapshot (always a reset) or a delta (which must follow by `u`).
    pub fn on_message(&mut self, msg: &BookMsg) -> Outcome {
        if msg.snapshot {
            if msg.update_id == 1 && self.status.counters.snapshots > 0 {
                self.status.counters.restarts += 1;
            }
            self.book.clear();
            self.status.snapshot();
        } else if !self.status.is_synced() {
            self.status.counters.unsynced += 1;
            return Outcome::Unsynced;
        } else if msg.update_id <= self.update_id {
            self.status.counters.stale += 1;
            return Outcome::Stale;
        } else if msg.update_id != self.update_id + 1 {
            let reason = Reason::Gap {
                expected: self.update_id + 1,
                got: msg.update_id,
            };
            self.status.fail(reason);
            self.book.clear();
            return Outcome::Resync {
                reason,
                need: Need::Resubscribe,
            };
        }
        for &(p, q) in &msg.bids {
            self.book.apply(Side::Bid, p, q);
        }
        for &(p, q) in &msg.asks {
            self.book.apply(Side::Ask, p, q);
        }
        self.update_id = msg.update_id;
        if msg.snapshot {
            Outcome::Synced
        } else {
            self.status.counters.applied += 1;
            Outcome::Applied
        }
    }

    /// Throws the book away for `reason` (the connection dropped, a frame was lost): it is
    /// not the venue's any more; the next snapshot brings it back.
    pub fn discard(&mut self, reason: Reason) {
        self.status.discard(reason);
        self.book.clear();
    }

    pub fn update_id(&self) -> u64 {
        self.update_id
    }
}

impl BookMachine for BybitBook {
    type Level = f64;
    const NEED: Need = Need::Resubscribe;

    fn book(&self) -> &Book<f64> {
        &self.book
    }

    fn status(&self) -> Status {
        self.status
    }
}
