//! The book itself: two ordered maps from an exact [`Price`] to a level. It knows nothing of
//! any venue's sequence numbers or checksums; the per-venue sync machines own one and decide
//! when it may be trusted.

use std::collections::BTreeMap;

use super::price::Price;

/// Which side of the book a level is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Side {
    Bid,
    Ask,
}

/// What a book keeps per price. Plain `f64` sizes suffice unless a checksum needs the venue's
/// exact size text (OKX), which [`TextLevel`] keeps.
pub trait Level: Clone {
    /// The size at this price; 0 means "remove the level".
    fn qty(&self) -> f64;
}

impl Level for f64 {
    fn qty(&self) -> f64 {
        *self
    }
}

/// A level that also keeps the venue's exact text of it, for checksums over text (OKX:
/// `"price:size"` as sent, since "0.10" and "0.1" checksum differently).
#[derive(Clone, Debug, PartialEq)]
pub struct TextLevel {
    pub qty: f64,
    pub text: Box<str>,
}

impl Level for TextLevel {
    fn qty(&self) -> f64 {
        self.qty
    }
}

/// A price-ordered book. Bids and asks are both stored ascending; bids are read from the top.
#[derive(Clone, Debug)]
pub struct Book<L = f64> {
    bids: BTreeMap<Price, L>,
    asks: BTreeMap<Price, L>,
}

impl<L: Level> Default for Book<L> {
    fn default() -> Self {
        Self::new()
    }
}

impl<L: Level> Book<L> {
    pub fn new() -> Self {
        Book {
            bids: BTreeMap::new(),
            asks: BTreeMap::new(),
        }
    }

    /// Sets the level at `price` to `level`; a size of 0 removes it (removing a level the book
    /// does not hold is normal on every venue). Returns whether the book changed.
    pub fn apply(&mut self, side: Side, price: Price, level: L) -> bool {
        let map = self.side_mut(side);
        if level.qty() == 0.0 {
            map.remove(&price).is_some()
        } else {
            map.insert(price, level);
            true
        }
    }

    /// Empties both sides (a snapshot replaces the book; a failed book must not linger).
    pub fn clear(&mut self) {
        self.bids.clear();
        self.asks.clear();
    }

    /// Keeps only the best `depth` levels of each side (Kraken: levels pushed out of the
    /// subscribed depth are not deleted by the venue, the client must drop them).
    pub fn truncate(&mut self, depth: usize) {
        while self.bids.len() > depth {
            self.bids.pop_first();
        }
        while self.asks.len() > depth {
            self.asks.pop_last();
        }
    }

    /// Bids from the best (highest) down.
    pub fn bids(&self) -> impl Iterator<Item = (Price, &L)> + '_ {
        self.bids.iter().rev().map(|(p, l)| (*p, l))
    }

    /// Asks from the best (lowest) up.
    pub fn asks(&self) -> impl Iterator<Item = (Price, &L)> + '_ {
        self.asks.iter().map(|(p, l)| (*p, l))
    }

    /// The best `n` levels of one side, best first.
    pub fn top(&self, side: Side, n: usize) -> Vec<(Price, &L)> {
        match side {
            Side::Bid => self.bids().take(n).collect(),
            Side::Ask => self.asks().take(n).collect(),
        }
    }

    pub fn best_bid(&self) -> Option<(Price, &L)> {
        self.bids().next()
    }

    pub fn best_ask(&self) -> Option<(Price, &L)> {
        self.asks().next()
    }

    /// Number of levels on one side.
    pub fn len(&self, side: Side) -> usize {
        match side {
            Side::Bid => self.bids.len(),
            Side::Ask => self.asks.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.bids.is_empty() && self.asks.is_empty()
    }

    /// Best bid at or above best ask: impossible in a correct book, so a sign of lost updates.
    pub fn is_crossed(&self) -> bool {
        matches!((self.best_bid(), self.best_ask()), (Some((b, _)), Some((a, _))) if b >= a)
    }

    fn side_mut(&mut self, side: Side) -> &mut BTreeMap<Price, L> {
        match side {
            Side::Bid => &mut self.bids,
            Side::Ask => &mut self.asks,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Price {
        Price::parse(s).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn apply_sets_replaces_deletes_and_orders_each_side() {
        let mut b: Book = Book::new();
        assert!(b.apply(Side::Bid, p("10.0"), 1.0));
        assert!(b.apply(Side::Bid, p("10.5"), 2.0));
        assert!(b.apply(Side::Bid, p("10.50"), 3.0)); // same level, replaced
        assert!(b.apply(Side::Ask, p("11"), 1.0));
        assert!(b.apply(Side::Ask, p("12"), 1.0));
        assert!(!b.apply(Side::Ask, p("13"), 0.0)); // deleting an absent level is fine
        assert_eq!(b.best_bid(), Some((p("10.5"), &3.0)));
        assert_eq!(b.best_ask(), Some((p("11"), &1.0)));
        assert_eq!(b.top(Side::Bid, 5).len(), 2);
        assert!(b.apply(Side::Bid, p("10.5"), 0.0));
        assert_eq!(b.best_bid(), Some((p("10"), &1.0)));
        b.apply(Side::Bid, p("11.5"), 1.0);
        assert!(b.is_crossed());
        b.truncate(1);
        assert_eq!(b.top(Side::Bid, 9), vec![(p("11.5"), &1.0)]);
        assert_eq!(b.top(Side::Ask, 9), vec![(p("11"), &1.0)]);
    }
}
