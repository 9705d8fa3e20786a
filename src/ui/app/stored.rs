//! Stored last prices for the watchlist: a symbol with no live data yet (a replayed database, a
//! feed still connecting) shows its newest stored close, with that close's age (so the row reads
//! as stale, never as live), until live data arrive.

use std::collections::{HashMap, HashSet};

use super::App;
use crate::domain::VenueSymbol;
use crate::history::StoredClose;
use crate::ui::effect::Effect;

/// What the watchlist knows of stored closes.
#[derive(Debug, Default)]
pub struct StoredLast {
    closes: HashMap<VenueSymbol, StoredClose>,
    /// Symbols already asked for (asked once: what is stored does not change under a row
    /// that has no live data).
    asked: HashSet<VenueSymbol>,
}

impl App {
    /// Fills the rows without a live price with their stored close, and asks the history
    /// thread for the closes of rows it has not asked about yet.
    pub(super) fn fill_stored_last(&mut self) {
        let mut ask = Vec::new();
        for row in self.all_rows.iter_mut().filter(|r| r.last.is_none()) {
            match self.stored_last.closes.get(&row.key) {
                Some(c) => {
                    row.last = Some(c.close);
                    // the age of the stored close: the row is stale (dimmed, its age shown)
                    row.last_recv_ms = Some(c.end_ms);
                    row.last_exch_ms = Some(c.end_ms);
                }
                None => {
                    if self.history && self.stored_last.asked.insert(row.key) {
                        ask.push(row.key);
                    }
                }
            }
        }
        if !ask.is_empty() {
            self.effects.push(Effect::LastCloses(ask));
        }
    }

    /// Takes in stored closes from the history thread; true when the rows changed.
    pub fn on_last_closes(&mut self, closes: Vec<StoredClose>) -> bool {
        let mut changed = false;
        for c in closes {
            self.stored_last.closes.insert(c.key, c);
            changed = true;
        }
        if changed {
            self.fill_stored_last();
            self.rebuild_rows();
        }
        changed
    }
}
