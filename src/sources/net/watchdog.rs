//! Notices a feed that has gone quiet: fed on every data frame, it yields the instant at which
//! the silence becomes too long.

use std::time::Duration;

use tokio::time::Instant;

#[derive(Debug, Clone)]
pub struct Watchdog {
    limit: Duration,
    last: Instant,
}

impl Watchdog {
    pub fn new(limit: Duration) -> Self {
        Watchdog {
            limit,
            last: Instant::now(),
        }
    }

    /// Data arrived.
    pub fn feed(&mut self) {
        self.last = Instant::now();
    }

    /// When the feed counts as stale unless fed before.
    pub fn deadline(&self) -> Instant {
        self.last + self.limit
    }

    pub fn limit(&self) -> Duration {
        self.limit
    }

    /// How long nothing has arrived.
    pub fn silent_for(&self) -> Duration {
        Instant::now().saturating_duration_since(self.last)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn deadline_moves_with_each_feed() {
        let mut w = Watchdog::new(Duration::from_secs(30));
        let first = w.deadline();
        tokio::time::advance(Duration::from_secs(10)).await;
        assert_eq!(w.silent_for(), Duration::from_secs(10));
        w.feed();
        assert_eq!(w.deadline() - first, Duration::from_secs(10));
        assert_eq!(w.silent_for(), Duration::ZERO);
    }
}
