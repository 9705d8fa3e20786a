//! Kraken WebSocket v2 `book`: a snapshot, then updates, each carrying a CRC32 of the top ten
//! levels. After every message the client applies the levels (qty 0 = delete), drops levels
//! beyond the subscribed depth (Kraken does not send deletes for them), and compares its
//! checksum with Kraken's; a mismatch means the book is wrong and the session must
//! resubscribe for a fresh snapshot (docs.kraken.com, "Spot WebSocket book v2" guide).
//!
//! Prices and sizes arrive as JSON numbers, so the checksum text is rebuilt from the pair's
//! `price_precision` and `qty_precision` (from Kraken's `instrument` channel): each value is
//! written with exactly that many decimals, the '.' removed and leading zeros stripped; asks
//! (lowest first) then bids (highest first); CRC32 (IEEE) as an unsigned 32-bit number.

use serde::Deserialize;

use super::{Book, BookError, BookMachine, Need, Outcome, Price, Reason, Side, Status, json};

const VENUE: &str = "Kraken";

/// Levels per side that Kraken's checksum covers.
pub const CHECKSUM_LEVELS: usize = 10;

/// One symbol's part of a `book` frame, with prices already exact.
#[derive(Clone, Debug, PartialEq)]
pub struct BookMsg {
    pub snapshot: bool,
    pub symbol: String,
    pub bids: Vec<(Price, f64)>,
    pub asks: Vec<(Price, f64)>,
    pub checksum: u32,
}

#[derive(Deserialize)]
struct RawLevel {
    price: f64,
    qty: f64,
}

#[derive(Deserialize)]
struct RawData {
    symbol: String,
    #[serde(default)]
    bids: Vec<RawLevel>,
    #[serde(default)]
    asks: Vec<RawLevel>,
    checksum: u32,
}

#[derive(Deserialize)]
struct RawFrame {
    channel: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    data: Vec<RawData>,
}

/// Parses a v2 `book` frame (one entry per symbol) with the pair's price precision.
pub fn parse(text: &str, price_precision: u32) -> Result<Vec<BookMsg>, BookError> {
    match parse_by(text, |_| Some(price_precision))? {
        Ok(msgs) => Ok(msgs),
        // the closure answers every symbol
        Err(_) => Ok(Vec::new()),
    }
}

/// Parses a v2 `book` frame whose symbols may have different price precisions: `precision`
/// gives a symbol's, or None when it is not known yet; then the inner `Err` names that symbol
/// and nothing of the frame is read (a price rounded to a guessed precision would be wrong).
pub fn parse_by(
    text: &str,
    precision: impl Fn(&str) -> Option<u32>,
) -> Result<Result<Vec<BookMsg>, String>, BookError> {
    let raw: RawFrame = json(VENUE, text)?;
    if raw.channel != "book" {
        return Err(BookError::NotBook {
            venue: VENUE,
            what: "channel is not book",
        });
    }
    let snapshot = raw.kind == "snapshot";
    let mut precisions = Vec::with_capacity(raw.data.len());
    for d in &raw.data {
        match precision(&d.symbol) {
            Some(p) => precisions.push(p),
            None => return Ok(Err(d.symbol.clone())),
        }
    }
    let levels =
        |raw: Vec<RawLevel>, price_precision: u32| -> Result<Vec<(Price, f64)>, BookError> {
            raw.into_iter()
                .map(|l| {
                    let price =
                        Price::from_f64(l.price, price_precision).ok_or(BookError::PriceRange {
                            venue: VENUE,
                            value: l.price,
                        })?;
                    if !(l.qty.is_finite() && l.qty >= 0.0) {
                        return Err(BookError::Qty {
                            venue: VENUE,
                            text: l.qty.to_string(),
                        });
                    }
                    Ok((price, l.qty))
                })
                .collect()
        };
    let msgs = raw
        .data
        .into_iter()
        .zip(precisions)
        .map(|(d, p)| {
            Ok(BookMsg {
                snapshot,
                symbol: d.symbol,
                bids: levels(d.bids, p)?,
                asks: levels(d.asks, p)?,
                checksum: d.checksum,
            })
        })
        .collect::<Result<Vec<_>, BookError>>()?;
    Ok(Ok(msgs))
}

fn digits(text: &str, out: &mut String) {
    out.extend(text.chars().filter(|c| *c != '.').skip_while(|c| *c == '0'));
}

/// The text Kraken's checksum is taken over (exposed so a test can compare it with the
/// documented string character for character).
pub fn checksum_input(book: &Book, price_precision: u32, qty_precision: u32) -> String {
    let mut s = String::with_capacity(4 * CHECKSUM_LEVELS * 12);
    let q = qty_precision as usize;
    for (p, qty) in book
        .asks()
        .take(CHECKSUM_LEVELS)
        .chain(book.bids().take(CHECKSUM_LEVELS))
    {
        digits(&p.fixed(price_precision), &mut s);
        digits(&format!("{qty:.q$}"), &mut s);
    }
    s
}

/// Kraken's checksum of the book's top ten levels.
pub fn checksum(book: &Book, price_precision: u32, qty_precision: u32) -> u32 {
    crc32fast::hash(checksum_input(book, price_precision, qty_precision).as_bytes())
}

/// One symbol's book at a subscribed depth.
#[derive(Debug)]
pub struct KrakenBook {
    book: Book,
    depth: usize,
    price_precision: u32,
    qty_precision: u32,
    status: Status,
}

impl KrakenBook {
    /// `depth` is the subscribed depth (10, 25, 100, 500 or 1000); the precisions are the
    /// pair's, from the `instrument` channel (BTC/USD: 1 and 8).
    pub fn new(depth: usize, price_precision: u32, qty_precision: u32) -> Self {
        KrakenBook {
            book: Book::new(),
            depth,
            price_precision,
            qty_precision,
            status: Status::default(),
        }
    }

    /// The pair's (price, qty) precisions the checksum is computed with.
    pub fn precisions(&self) -> (u32, u32) {
        (self.price_precision, self.qty_precision)
    }

    /// Takes the pair's precisions as Kraken now lists them (its `instrument` channel can
    /// change them); the levels are exact prices, so only the checksum text changes.
    pub fn set_precisions(&mut self, price_precision: u32, qty_precision: u32) {
        self.price_precision = price_precision;
        self.qty_precision = qty_precision;
    }

    /// Applies a snapshot or update and verifies its checksum.
    pub fn on_message(&mut self, msg: &BookMsg) -> Outcome {
        if msg.snapshot {
            self.book.clear();
            self.status.snapshot();
        } else if !self.status.is_synced() {
            self.status.counters.unsynced += 1;
            return Outcome::Unsynced;
        }
        for &(p, q) in &msg.bids {
            self.book.apply(Side::Bid, p, q);
        }
        for &(p, q) in &msg.asks {
            self.book.apply(Side::Ask, p, q);
        }
        self.book.truncate(self.depth);
        let computed = checksum(&self.book, self.price_precision, self.qty_precision);
        if computed != msg.checksum {
            let reason = Reason::Checksum {
                expected: msg.checksum,
                computed,
            };
            self.status.fail(reason);
            self.book.clear();
            return Outcome::Resync {
                reason,
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

    /// Throws the book away for `reason` (the connection dropped, a frame was lost): it is
    /// not the venue's any more; the next snapshot brings it back.
    pub fn discard(&mut self, reason: Reason) {
        self.status.discard(reason);
        self.book.clear();
    }
}

impl BookMachine for KrakenBook {
    type Level = f64;
    const NEED: Need = Need::Resubscribe;

    fn book(&self) -> &Book<f64> {
        &self.book
    }

    fn status(&self) -> Status {
        self.status
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const FRAME: &str = r#"{"channel":"book","type":"update","data":[{"symbol":"BTC/USD","bids":[{"price":29430.25,"qty":0.5}],"asks":[],"checksum":1}]}"#;

    #[test]
    fn a_frame_is_read_with_its_pairs_precision_or_not_at_all() {
        // price precision 1: 29430.25 is rounded as Kraken writes it
        let msgs = parse_by(FRAME, |s| (s == "BTC/USD").then_some(1))
            .unwrap()
            .unwrap();
        assert_eq!(msgs[0].bids[0].0, Price::parse("29430.3").unwrap());
        let msgs = parse_by(FRAME, |_| Some(2)).unwrap().unwrap();
        assert_eq!(msgs[0].bids[0].0, Price::parse("29430.25").unwrap());
        // no precision: the symbol is named and nothing is read
        assert_eq!(
            parse_by(FRAME, |_| None).unwrap(),
            Err("BTC/USD".to_string())
        );
        assert!(parse_by("{}", |_| Some(1)).is_err());
    }
}
