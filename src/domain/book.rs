//! An order book as the screen and the alert rules see it: the top levels of each side, whether
//! the local book is in sync with the venue, and the figures a trader reads off a book (spread,
//! mid, microprice, imbalance). The local book itself, and how each venue
//! keeps it in sync, is [`crate::book`]'s; this is the copy it publishes.

use super::{TsMs, VenueSymbol};

/// The header of a book file: what `tickwatch export --book` writes and `tickwatch replay`
/// recognises. One row per level.
pub const BOOK_CSV_HEADER: &str = "ts_ms,time,venue,symbol,side,level,price,qty";

/// One price level.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Level {
    pub price: f64,
    pub qty: f64,
}

/// Whether a local book matches the venue's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BookSync {
    /// Every update applied in order and every checksum matched.
    Synced,
    /// Waiting for a snapshot (at start, or after a gap or a checksum mismatch): `why` says
    /// which. Its levels are not the venue's and must not be shown as if they were.
    Resyncing { why: String },
    /// The feed carrying it went quiet or away.
    Stale,
}

/// A published copy of one local book.
#[derive(Debug, Clone, PartialEq)]
pub struct BookSnapshot {
    pub key: VenueSymbol,
    /// Best first: highest bid first, lowest ask first.
    pub bids: Vec<Level>,
    pub asks: Vec<Level>,
    /// Whether the local book holds bids (asks) beyond those published: a figure over a
    /// price band wider than the published levels would then be too low, and is not given.
    pub more_bids: bool,
    pub more_asks: bool,
    pub sync: BookSync,
    /// When the last update was applied (local time).
    pub updated_ms: TsMs,
    /// Sequence gaps seen, checksum mismatches, and resyncs done since start.
    pub gaps: u64,
    pub checksum_failures: u64,
    pub resyncs: u64,
}

impl BookSnapshot {
    pub fn is_synced(&self) -> bool {
        self.sync == BookSync::Synced
    }

    pub fn best_bid(&self) -> Option<Level> {
        self.bids.first().copied()
    }

    pub fn best_ask(&self) -> Option<Level> {
        self.asks.first().copied()
    }

    /// Best ask − best bid.
    pub fn spread(&self) -> Option<f64> {
        Some(self.best_ask()?.price - self.best_bid()?.price)
    }

    /// (best bid + best ask) / 2.
    pub fn mid(&self) -> Option<f64> {
        Some((self.best_ask()?.price + self.best_bid()?.price) / 2.0)
    }

    /// The spread in basis points of the mid.
    pub fn spread_bps(&self) -> Option<f64> {
        let mid = self.mid()?;
        (mid > 0.0).then(|| self.spread().unwrap_or(0.0) / mid * 1e4)
    }

    /// The mid weighted by the opposite side's size at the top: `(bid·ask_qty + ask·bid_qty) /
    /// (bid_qty + ask_qty)`, nearer the side that is about to be taken out.
    pub fn microprice(&self) -> Option<f64> {
        let (b, a) = (self.best_bid()?, self.best_ask()?);
        let q = b.qty + a.qty;
        (q > 0.0).then(|| (b.price * a.qty + a.price * b.qty) / q)
    }

    /// `(bid size − ask size) / (bid size + ask size)` over the top `n` levels of each side:
    /// +1 all bids, −1 all asks.
    pub fn imbalance(&self, n: usize) -> Option<f64> {
        let sum = |side: &[Level]| side.iter().take(n).map(|l| l.qty).sum::<f64>();
        let (b, a) = (sum(&self.bids), sum(&self.asks));
        (b + a > 0.0).then(|| (b - a) / (b + a))
    }
}

impl BookSnapshot {
    /// The quote-currency value (price × size) resting within `pct` % of the mid, both sides.
    /// None without a mid, or when the band reaches past the last published level of a side
    /// while the book holds more (the figure would be too low).
    pub fn depth_within(&self, pct: f64) -> Option<f64> {
        let mid = self.mid()?;
        let (lo, hi) = (mid * (1.0 - pct / 100.0), mid * (1.0 + pct / 100.0));
        let side = |levels: &[Level], more: bool, inside: &dyn Fn(f64) -> bool| -> Option<f64> {
            if more && levels.last().is_none_or(|l| inside(l.price)) {
                return None;
            }
            Some(
                levels
                    .iter()
                    .take_while(|l| inside(l.price))
                    .map(|l| l.price * l.qty)
                    .sum(),
            )
        };
        Some(
            side(&self.bids, self.more_bids, &|p| p >= lo)?
                + side(&self.asks, self.more_asks, &|p| p <= hi)?,
        )
    }
}

/// Levels merged into buckets of `tick` (bids down, asks up to the bucket's edge), best first.
/// `tick` ≤ 0 leaves them as they are.
pub fn group_levels(levels: &[Level], tick: f64, bids: bool) -> Vec<Level> {
    if tick <= 0.0 || !tick.is_finite() {
        return levels.to_vec();
    }
    let mut out: Vec<Level> = Vec::new();
    for l in levels {
        // a tiny epsilon keeps 100.0/0.1 from landing in the bucket below by rounding
        let k = l.price / tick;
        let k = if bids {
            (k + 1e-9).floor()
        } else {
            (k - 1e-9).ceil()
        };
        // a decimal tick (0.1) divides exactly (3 / 10 = 0.3, where 3 × 0.1 = 0.30000000000000004)
        let per_unit = 1.0 / tick;
        let edge = if (per_unit - per_unit.round()).abs() < 1e-9 {
            k / per_unit.round()
        } else {
            k * tick
        };
        match out.last_mut() {
            Some(last) if (last.price - edge).abs() < tick * 1e-6 => last.qty += l.qty,
            _ => out.push(Level {
                price: edge,
                qty: l.qty,
            }),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Symbol, Venue};

    fn lv(price: f64, qty: f64) -> Level {
        Level { price, qty }
    }

    fn book() -> BookSnapshot {
        BookSnapshot {
            key: VenueSymbol::new(Venue::Binance, Symbol::new("BTCUSDT").unwrap()),
            bids: vec![lv(100.0, 3.0), lv(99.5, 1.0), lv(99.0, 4.0)],
            more_bids: false,
            more_asks: false,
            asks: vec![lv(100.5, 1.0), lv(101.0, 2.0), lv(103.0, 5.0)],
            sync: BookSync::Synced,
            updated_ms: 0,
            gaps: 0,
            checksum_failures: 0,
            resyncs: 0,
        }
    }

    #[test]
    fn the_figures_a_trader_reads_off_the_top_of_the_book() {
        let b = book();
        assert_eq!(b.spread(), Some(0.5));
        assert_eq!(b.mid(), Some(100.25));
        assert!((b.spread_bps().unwrap() - 0.5 / 100.25 * 1e4).abs() < 1e-9);
        // (100·1 + 100.5·3) / 4: nearer the ask, the thin side
        assert!((b.microprice().unwrap() - 100.375).abs() < 1e-12);
        assert!((b.imbalance(1).unwrap() - 0.5).abs() < 1e-12);
        assert!((b.imbalance(3).unwrap() - (8.0 - 8.0) / 16.0).abs() < 1e-12);
        let mut empty = book();
        empty.asks.clear();
        assert_eq!((empty.mid(), empty.microprice()), (None, None));
    }

    #[test]
    fn levels_group_into_coarser_ticks_toward_the_far_side() {
        let b = book();
        assert_eq!(
            group_levels(&b.bids, 1.0, true),
            vec![lv(100.0, 3.0), lv(99.0, 5.0)]
        );
        assert_eq!(
            group_levels(&b.asks, 1.0, false),
            vec![lv(101.0, 3.0), lv(103.0, 5.0)]
        );
        assert_eq!(group_levels(&b.asks, 0.0, false), b.asks);
        let fine = [lv(0.3, 1.0), lv(0.2, 1.0), lv(0.1, 1.0)];
        assert_eq!(
            group_levels(&fine, 0.1, true),
            fine.to_vec(),
            "0.3/0.1 stays in its own bucket despite rounding"
        );
    }
}
