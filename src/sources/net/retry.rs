//! The attempt budget of a backfill: the requests of one fill share it, and each retry waits
//! twice as long as the one before.

use std::time::Duration;

/// Attempts left for one job's requests, shared across all of them.
#[derive(Debug, Clone)]
pub struct Attempts {
    retried: u32,
    max: u32,
}

impl Attempts {
    /// At most `max` attempts in all (the first try included).
    pub fn new(max: u32) -> Self {
        Attempts { retried: 0, max }
    }

    /// After a failure: when it is `retryable` and attempts remain, waits (1 s, 2 s, 4 s, ...)
    /// and returns true (try again); otherwise returns false at once (give up).
    pub async fn retry(&mut self, retryable: bool) -> bool {
        if !retryable || self.retried + 1 >= self.max {
            return false;
        }
        self.retried += 1;
        tokio::time::sleep(Duration::from_millis(500 << self.retried)).await;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn attempts_are_shared_and_only_retryable_failures_retry() {
        let mut a = Attempts::new(3);
        assert!(!a.retry(false).await);
        assert!(a.retry(true).await);
        assert!(a.retry(true).await);
        assert!(!a.retry(true).await);
    }
}
