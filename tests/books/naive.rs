//! The brute-force book the real one is checked against: a hash map per side keyed by the
//! price text with trailing zeros trimmed, sorted only when compared. Nothing shared with
//! the code under test except the `Book` read-out.

use std::collections::HashMap;

use tickwatch::book::{Book, Level, Side};

#[derive(Clone, Default, Debug)]
pub struct Naive {
    bids: HashMap<String, (f64, String)>,
    asks: HashMap<String, (f64, String)>,
}

/// "65114.20" -> "65114.2", "30261.0" -> "30261", "0.00577300" -> "0.005773".
pub fn canon(px: &str) -> String {
    if px.contains('.') {
        px.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        px.to_string()
    }
}

impl Naive {
    pub fn clear(&mut self) {
        self.bids.clear();
        self.asks.clear();
    }

    /// Sets a level by its texts; a size that reads as 0 deletes it.
    pub fn set(&mut self, side: Side, px: &str, sz: &str) {
        let q: f64 = sz.parse().unwrap_or_else(|e| panic!("{sz}: {e}"));
        let map = match side {
            Side::Bid => &mut self.bids,
            Side::Ask => &mut self.asks,
        };
        if q == 0.0 {
            map.remove(&canon(px));
        } else {
            map.insert(canon(px), (q, sz.to_string()));
        }
    }

    /// Best first: bids descending, asks ascending, as (price text, size, size text).
    pub fn sorted(&self, side: Side) -> Vec<(String, f64, String)> {
        let map = match side {
            Side::Bid => &self.bids,
            Side::Ask => &self.asks,
        };
        let mut v: Vec<_> = map
            .iter()
            .map(|(p, (q, t))| (p.clone(), *q, t.clone()))
            .collect();
        let key = |p: &String| p.parse::<f64>().unwrap_or_else(|e| panic!("{p}: {e}"));
        v.sort_by(|a, b| key(&a.0).total_cmp(&key(&b.0)));
        if side == Side::Bid {
            v.reverse();
        }
        v
    }

    /// Drops all but the best `depth` levels of each side (Kraken's rule, done the slow way).
    pub fn truncate(&mut self, depth: usize) {
        for side in [Side::Bid, Side::Ask] {
            let keep: Vec<String> = self
                .sorted(side)
                .into_iter()
                .take(depth)
                .map(|l| l.0)
                .collect();
            let map = match side {
                Side::Bid => &mut self.bids,
                Side::Ask => &mut self.asks,
            };
            map.retain(|p, _| keep.contains(p));
        }
    }

    /// Panics unless `book` holds exactly these levels, in this order, with these sizes.
    pub fn assert_eq<L: Level>(&self, book: &Book<L>, what: &str) {
        for side in [Side::Bid, Side::Ask] {
            let want: Vec<(String, f64)> = self
                .sorted(side)
                .into_iter()
                .map(|(p, q, _)| (p, q))
                .collect();
            let got: Vec<(String, f64)> = match side {
                Side::Bid => book.bids().map(|(p, l)| (p.to_string(), l.qty())).collect(),
                Side::Ask => book.asks().map(|(p, l)| (p.to_string(), l.qty())).collect(),
            };
            assert!(
                want == got,
                "{what}: {side:?} side differs from the brute-force rebuild \
                 ({} levels vs {}; first difference {:?})",
                got.len(),
                want.len(),
                want.iter().zip(&got).find(|(a, b)| a != b)
            );
        }
    }
}
