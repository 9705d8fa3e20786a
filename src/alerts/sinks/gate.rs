//! Dedupe and rate limit for one sink, as plain state driven by the caller's clock (so tests
//! run on made-up instants).
//!
//! - Dedupe: an alert with the same key (rule, venue, symbol) as one admitted less than
//!   `dedupe` ago is not delivered; the window counts from the first one, so a rule that flaps
//!   every few seconds still gets through once per window.
//! - Rate limit: at most `per_minute` deliveries in any 60 s. Alerts beyond it are held, and
//!   [`Gate::release`] hands all of them over as one batch (one delivery: a summary) as soon as
//!   the window has room. While alerts are held, new ones join them, so order is kept. At most
//!   `max_held` are held; more are refused ([`Admit::Overflow`]) and the caller counts them.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

const WINDOW: Duration = Duration::from_secs(60);

/// What to do with an offered alert.
#[derive(Debug, PartialEq)]
pub enum Admit<T> {
    /// Deliver it now.
    Send(T),
    /// The same key was admitted `since` ago: do not deliver it.
    Duplicate { item: T, since: Duration },
    /// Kept for the next [`Gate::release`].
    Held,
    /// The rate limit is holding `max_held` alerts already: this one is refused.
    Overflow(T),
}

/// Dedupe and rate-limit state of one sink.
#[derive(Debug)]
pub struct Gate<T> {
    dedupe: Duration,
    per_minute: u32,
    max_held: usize,
    seen: HashMap<String, Instant>,
    sent: VecDeque<Instant>,
    held: Vec<T>,
}

impl<T> Gate<T> {
    /// `dedupe` zero turns dedupe off; `per_minute` zero turns the rate limit off.
    pub fn new(dedupe: Duration, per_minute: u32, max_held: usize) -> Gate<T> {
        Gate {
            dedupe,
            per_minute,
            max_held: max_held.max(1),
            seen: HashMap::new(),
            sent: VecDeque::new(),
            held: Vec::new(),
        }
    }

    fn prune(&mut self, now: Instant) {
        while self
            .sent
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= WINDOW)
        {
            self.sent.pop_front();
        }
        let dedupe = self.dedupe;
        self.seen
            .retain(|_, t| now.saturating_duration_since(*t) < dedupe);
    }

    fn has_room(&self) -> bool {
        self.per_minute == 0 || self.sent.len() < self.per_minute as usize
    }

    /// Offers `item` with its dedupe `key` at `now`.
    pub fn offer(&mut self, key: &str, item: T, now: Instant) -> Admit<T> {
        self.prune(now);
        if !self.dedupe.is_zero() {
            if let Some(t) = self.seen.get(key) {
                return Admit::Duplicate {
                    item,
                    since: now.saturating_duration_since(*t),
                };
            }
            self.seen.insert(key.to_string(), now);
        }
        if self.held.is_empty() && self.has_room() {
            self.sent.push_back(now);
            return Admit::Send(item);
        }
        if self.held.len() >= self.max_held {
            return Admit::Overflow(item);
        }
        self.held.push(item);
        Admit::Held
    }

    /// When held alerts may go (`now` if the window has room already); None when nothing is
    /// held.
    pub fn due(&self, now: Instant) -> Option<Instant> {
        if self.held.is_empty() {
            return None;
        }
        let full = self.per_minute > 0 && self.sent.len() >= self.per_minute as usize;
        match self.sent.front() {
            Some(oldest) if full => Some(*oldest + WINDOW),
            _ => Some(now),
        }
    }

    /// Everything held, as one delivery, when the window has room at `now`.
    pub fn release(&mut self, now: Instant) -> Option<Vec<T>> {
        self.prune(now);
        if self.held.is_empty() || !self.has_room() {
            return None;
        }
        self.sent.push_back(now);
        Some(std::mem::take(&mut self.held))
    }

    /// Takes what is held without delivering it (the sink is shutting down).
    pub fn take_held(&mut self) -> Vec<T> {
        std::mem::take(&mut self.held)
    }

    pub fn held(&self) -> usize {
        self.held.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(secs: u64) -> Duration {
        Duration::from_secs(secs)
    }

    #[test]
    fn the_same_rule_and_symbol_goes_once_per_window() {
        let t0 = Instant::now();
        let mut g = Gate::new(s(15), 0, 10);
        assert_eq!(g.offer("anomaly/sim/BTC", 1, t0), Admit::Send(1));
        assert_eq!(g.offer("anomaly/sim/ETH", 2, t0), Admit::Send(2));
        assert_eq!(
            g.offer("anomaly/sim/BTC", 3, t0 + s(5)),
            Admit::Duplicate {
                item: 3,
                since: s(5)
            }
        );
        // the window counts from the first delivery, not from the duplicates
        assert_eq!(
            g.offer("anomaly/sim/BTC", 4, t0 + s(14)),
            Admit::Duplicate {
                item: 4,
                since: s(14)
            }
        );
        assert_eq!(g.offer("anomaly/sim/BTC", 5, t0 + s(15)), Admit::Send(5));
        let mut off = Gate::new(Duration::ZERO, 0, 10);
        assert_eq!(off.offer("k", 1, t0), Admit::Send(1));
        assert_eq!(off.offer("k", 2, t0), Admit::Send(2));
    }

    #[test]
    fn beyond_the_rate_alerts_are_held_and_released_together() {
        let t0 = Instant::now();
        let mut g = Gate::new(Duration::ZERO, 3, 100);
        for i in 0..3 {
            assert_eq!(g.offer("k", i, t0 + s(i)), Admit::Send(i));
        }
        assert_eq!(g.due(t0), None);
        assert_eq!(g.offer("k", 3, t0 + s(10)), Admit::Held);
        assert_eq!(g.offer("k", 4, t0 + s(11)), Admit::Held);
        // the window frees its first slot 60 s after the first delivery
        assert_eq!(g.due(t0 + s(11)), Some(t0 + s(60)));
        assert_eq!(g.release(t0 + s(59)), None);
        assert_eq!(g.release(t0 + s(60)), Some(vec![3, 4]));
        assert_eq!(g.held(), 0);
        // the summary used the freed slot: the window is full again until t0 + 61 s
        assert_eq!(g.offer("k", 5, t0 + s(60)), Admit::Held);
        assert_eq!(g.due(t0 + s(60)), Some(t0 + s(61)));
        assert_eq!(g.release(t0 + s(61)), Some(vec![5]));
    }

    #[test]
    fn while_alerts_are_held_new_ones_wait_behind_them() {
        let t0 = Instant::now();
        let mut g = Gate::new(Duration::ZERO, 1, 100);
        assert_eq!(g.offer("k", 0, t0), Admit::Send(0));
        assert_eq!(g.offer("k", 1, t0 + s(1)), Admit::Held);
        // the window has room again, but 1 is waiting: 2 joins it instead of overtaking it
        assert_eq!(g.offer("k", 2, t0 + s(61)), Admit::Held);
        assert_eq!(g.release(t0 + s(61)), Some(vec![1, 2]));
    }

    #[test]
    fn the_backlog_is_bounded() {
        let t0 = Instant::now();
        let mut g = Gate::new(Duration::ZERO, 1, 2);
        assert_eq!(g.offer("k", 0, t0), Admit::Send(0));
        assert_eq!(g.offer("k", 1, t0), Admit::Held);
        assert_eq!(g.offer("k", 2, t0), Admit::Held);
        assert_eq!(g.offer("k", 3, t0), Admit::Overflow(3));
        assert_eq!(g.take_held(), vec![1, 2]);
    }

    #[test]
    fn duplicates_are_caught_even_while_held() {
        let t0 = Instant::now();
        let mut g = Gate::new(s(30), 1, 10);
        assert_eq!(g.offer("a", 0, t0), Admit::Send(0));
        assert_eq!(g.offer("b", 1, t0 + s(1)), Admit::Held);
        assert_eq!(
            g.offer("b", 2, t0 + s(2)),
            Admit::Duplicate {
                item: 2,
                since: s(1)
            }
        );
    }
}
