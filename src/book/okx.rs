//! OKX v5 `books` (400 levels): a snapshot, then incremental updates, each with a CRC32 of the
//! top 25 levels and, since 2022, `seqId`/`prevSeqId`. The checksum is taken over the venue's
//! own text: bid and ask levels interleaved as "bidPx:bidSz:askPx:askSz:..." (a side that runs
//! out simply stops contributing), CRC32 read as a signed 32-bit integer. A mismatch or a
//! `prevSeqId` that is not the last `seqId` means the book is wrong: resubscribe.
//! (A quiet book gets an empty update whose `prevSeqId` equals its `seqId`; the rule holds.)

use serde::Deserialize;

use super::{
    Book, BookError, BookMachine, Need, Outcome, Price, Reason, Side, Status, TextLevel, json, qty,
};

const VENUE: &str = "OKX";

/// Levels per side that OKX's checksum covers.
pub const CHECKSUM_LEVELS: usize = 25;

/// One instrument's `books` message.
#[derive(Clone, Debug, PartialEq)]
pub struct BookMsg {
    pub snapshot: bool,
    pub inst_id: String,
    pub bids: Vec<(Price, TextLevel)>,
    pub asks: Vec<(Price, TextLevel)>,
    pub checksum: i32,
    pub seq_id: Option<i64>,
    pub prev_seq_id: Option<i64>,
}

#[derive(Deserialize)]
struct Arg<'a> {
    channel: &'a str,
    #[serde(rename = "instId")]
    inst_id: String,
}

#[derive(Deserialize)]
struct RawData<'a> {
    #[serde(borrow, default)]
    asks: Vec<Vec<&'a str>>,
    #[serde(borrow, default)]
    bids: Vec<Vec<&'a str>>,
    checksum: i32,
    #[serde(rename = "seqId")]
    seq_id: Option<i64>,
    #[serde(rename = "prevSeqId")]
    prev_seq_id: Option<i64>,
}

#[derive(Deserialize)]
struct RawFrame<'a> {
    #[serde(borrow)]
    arg: Option<Arg<'a>>,
    #[serde(borrow)]
    action: Option<&'a str>,
    #[serde(borrow, default)]
    data: Vec<RawData<'a>>,
}

fn levels(raw: &[Vec<&str>]) -> Result<Vec<(Price, TextLevel)>, BookError> {
    raw.iter()
        .map(|l| match l.as_slice() {
            [px, sz, ..] => {
                let price = Price::parse(px).map_err(|source| BookError::Price {
                    venue: VENUE,
                    source,
                })?;
                let level = TextLevel {
                    qty: qty(VENUE, sz)?,
                    text: format!("{px}:{sz}").into(),
                };
                Ok((price, level))
            }
            _ => Err(BookError::NotBook {
                venue: VENUE,
                what: "a level without price and size",
            }),
        })
        .collect()
}

/// Parses a `books` push (snapshot or update); subscribe acks and other channels are
/// [`BookError::NotBook`].
pub fn parse(text: &str) -> Result<Vec<BookMsg>, BookError> {
    let raw: RawFrame = json(VENUE, text)?;
    let (Some(arg), Some(action)) = (raw.arg, raw.action) else {
        return Err(BookError::NotBook {
            venue: VENUE,
            what: "no arg/action (an event or another push)",
        });
    };
    if !arg.channel.starts_with("books") {
        return Err(BookError::NotBook {
            venue: VENUE,
            what: "channel is not books",
        });
    }
    raw.data
        .iter()
        .map(|d| {
            Ok(BookMsg {
                snapshot: action == "snapshot",
                inst_id: arg.inst_id.clone(),
                bids: levels(&d.bids)?,
                asks: levels(&d.asks)?,
                checksum: d.checksum,
                seq_id: d.seq_id,
                prev_seq_id: d.prev_seq_id,
            })
        })
        .collect()
}

/// OKX's checksum of the book's top 25 levels.
pub fn checksum(book: &Book<TextLevel>) -> i32 {
    let mut h = crc32fast::Hasher::new();
    let mut bids = book.bids().take(CHECKSUM_LEVELS);
    let mut asks = book.asks().take(CHECKSUM_LEVELS);
    let mut first = true;
    loop {
        let (b, a) = (bids.next(), asks.next());
        if b.is_none() && a.is_none() {
            break;
        }
        for (_, level) in b.into_iter().chain(a) {
            if !first {
                h.update(b":");
            }
            first = false;
            h.update(level.text.as_bytes());
        }
    }
    // OKX publishes the CRC32 as a signed 32-bit integer: same bits, read as i32
    i32::from_ne_bytes(h.finalize().to_ne_bytes())
}

/// One instrument's book.
#[derive(Debug, Default)]
pub struct OkxBook {
    book: Book<TextLevel>,
    seq_id: Option<i64>,
    status: Status,
}

impl OkxBook {
    pub fn new() -> Self {
        Self::default()
    }

    /// Applies a snapshot or update, checks the sequence and the checksum.
    pub fn on_message(&mut self, msg: &BookMsg) -> Outcome {
        if msg.snapshot {
            self.book.clear();
            self.status.snapshot();
        } else if !self.status.is_synced() {
            self.status.counters.unsynced += 1;
            return Outcome::Unsynced;
        } else if let (Some(last), Some(prev)) = (self.seq_id, msg.prev_seq_id)
            && prev != last
        {
            return self.fail(Reason::Gap {
                expected: u64::try_from(last).unwrap_or(0),
                got: u64::try_from(prev).unwrap_or(0),
            });
        }
        for (p, l) in &msg.bids {
            self.book.apply(Side::Bid, *p, l.clone());
        }
        for (p, l) in &msg.asks {
            self.book.apply(Side::Ask, *p, l.clone());
        }
        self.seq_id = msg.seq_id;
        let computed = checksum(&self.book);
        if computed != msg.checksum {
            // OKX's number is the CRC's bits as i32; report both as the unsigned CRC
            let bits = |v: i32| u32::from_ne_bytes(v.to_ne_bytes());
            return self.fail(Reason::Checksum {
                expected: bits(msg.checksum),
                computed: bits(computed),
            });
        }
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
        self.seq_id = None;
    }

    fn fail(&mut self, reason: Reason) -> Outcome {
        self.status.fail(reason);
        self.book.clear();
        self.seq_id = None;
        Outcome::Resync {
            reason,
            need: Need::Resubscribe,
        }
    }
}

impl BookMachine for OkxBook {
    type Level = TextLevel;
    const NEED: Need = Need::Resubscribe;

    fn book(&self) -> &Book<TextLevel> {
        &self.book
    }

    fn status(&self) -> Status {
        self.status
    }
}
