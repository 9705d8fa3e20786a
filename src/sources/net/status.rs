//! Pieces of a live source's status line: the events/s figure and the list of refused symbols.

use std::sync::Mutex;

use tokio::time::Instant;

use crate::domain::Symbol;

/// Events per second between two reads of a running total.
#[derive(Debug)]
pub struct EventRate {
    last: u64,
    last_at: Instant,
}

impl EventRate {
    pub fn new() -> Self {
        EventRate {
            last: 0,
            last_at: Instant::now(),
        }
    }

    /// The rate since the previous call (or since [`new`](Self::new)), given the total now.
    pub fn per_sec(&mut self, total: u64) -> f64 {
        let secs = self.last_at.elapsed().as_secs_f64().max(0.001);
        let rate = (total - self.last) as f64 / secs;
        self.last = total;
        self.last_at = Instant::now();
        rate
    }
}

impl Default for EventRate {
    fn default() -> Self {
        Self::new()
    }
}

/// The symbols in `list`, comma-separated (empty when the lock is poisoned).
pub fn symbol_list(list: &Mutex<Vec<Symbol>>) -> String {
    match list.lock() {
        Ok(v) => v
            .iter()
            .map(|s| s.as_str().to_string())
            .collect::<Vec<_>>()
            .join(", "),
        Err(_) => String::new(),
    }
}
