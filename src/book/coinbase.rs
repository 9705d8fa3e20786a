//! Coinbase Exchange `level2` (and the public `level2_batch`, same messages): a `snapshot`
//! of the whole book, then `l2update` changes `[side, price, size]`, size "0" deleting.
//!
//! The public channel carries no sequence number and no checksum, so lost updates cannot be
//! detected directly; the only check left is that the book never crosses (best bid below best
//! ask). A crossed book is discarded and the session must resubscribe for a new snapshot. A
//! reconnect must also resubscribe: nothing in the stream would show what was missed.

use serde::Deserialize;

use super::{
    Book, BookError, BookMachine, Need, Outcome, Price, Reason, Side, Status, json, level,
};

const VENUE: &str = "Coinbase";

/// One `snapshot` or `l2update` message.
#[derive(Clone, Debug, PartialEq)]
pub struct BookMsg {
    pub snapshot: bool,
    pub product_id: String,
    pub changes: Vec<(Side, Price, f64)>,
}

#[derive(Deserialize)]
struct RawFrame<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    #[serde(default)]
    product_id: String,
    #[serde(borrow, default)]
    bids: Vec<(&'a str, &'a str)>,
    #[serde(borrow, default)]
    asks: Vec<(&'a str, &'a str)>,
    #[serde(borrow, default)]
    changes: Vec<(&'a str, &'a str, &'a str)>,
}

/// Parses a `snapshot` or `l2update`; other types are [`BookError::NotBook`].
pub fn parse(text: &str) -> Result<BookMsg, BookError> {
    let raw: RawFrame = json(VENUE, text)?;
    let mut changes = Vec::new();
    let snapshot = match raw.kind {
        "snapshot" => {
            for (side, list) in [(Side::Bid, &raw.bids), (Side::Ask, &raw.asks)] {
                for (p, q) in list {
                    let (p, q) = level(VENUE, p, q)?;
                    changes.push((side, p, q));
                }
            }
            true
        }
        "l2update" => {
            for (side, p, q) in &raw.changes {
                let side = match *side {
                    "buy" => Side::Bid,
                    "sell" => Side::Ask,
                    _ => {
                        return Err(BookError::NotBook {
                            venue: VENUE,
                            what: "a change whose side is neither buy nor sell",
                        });
                    }
                };
                let (p, q) = level(VENUE, p, q)?;
                changes.push((side, p, q));
            }
            false
        }
        _ => {
            return Err(BookError::NotBook {
                venue: VENUE,
                what: "type is not snapshot or l2update",
            });
        }
    };
    Ok(BookMsg {
        snapshot,
        product_id: raw.product_id,
        changes,
    })
}

/// One product's book.
#[derive(Debug, Default)]
pub struct CoinbaseBook {
    book: Book,
    status: Status,
}

impl CoinbaseBook {
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies a snapshot or an update; a crossed result discards the book.
    pub fn on_message(&mut self, msg: &BookMsg) -> Outcome {
        if msg.snapshot {
            self.book.clear();
            self.status.snapshot();
        } else if !self.status.is_synced() {
            self.status.counters.unsynced += 1;
            return Outcome::Unsynced;
        }
        for &(side, p, q) in &msg.changes {
            self.book.apply(side, p, q);
        }
        if self.book.is_crossed() {
            self.status.fail(Reason::Crossed);
            self.book.clear();
            return Outcome::Resync {
                reason: Reason::Crossed,
                need: Need::Resubscribe,
            };
        }
        if msg.snapshot {
            Outcome::Synced
        } else {
            self.status.counters.applied += 1;
            Outcome::Applied
        }
    }

    /// Call when the connection dropped: the book can no longer be trusted, and without
    /// sequence numbers the only remedy is a new snapshot.
    pub fn on_disconnect(&mut self) {
        self.discard(Reason::Disconnected);
    }

    /// Throws the book away for `reason` (the connection dropped, a frame was lost): it is
    /// not the venue's any more; the next snapshot brings it back.
    pub fn discard(&mut self, reason: Reason) {
        self.status.discard(reason);
        self.book.clear();
    }
}

impl BookMachine for CoinbaseBook {
    type Level = f64;
    const NEED: Need = Need::Resubscribe;

    fn book(&self) -> &Book<f64> {
        &self.book
    }

    fn status(&self) -> Status {
        self.status
    }
}
