//! Exponential backoff with jitter for reconnects: 125 ms doubling to 60 s by default, each delay
//! drawn from [base/2, base] so that many clients cut off together do not return together.

use std::time::Duration;

use rand::Rng;

#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    attempt: u32,
}

impl Backoff {
    pub fn new(initial: Duration, max: Duration) -> Self {
        let initial = initial.max(Duration::from_millis(1));
        Backoff {
            initial,
            max: max.max(initial),
            attempt: 0,
        }
    }

    /// How many delays were handed out since the last reset.
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// Starts over after a connection proved healthy.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }

    /// The un-jittered delay for the coming attempt.
    pub fn base(&self) -> Duration {
        let factor = 1u32.checked_shl(self.attempt.min(31)).unwrap_or(u32::MAX);
        self.initial.saturating_mul(factor).min(self.max)
    }

    /// The delay before the next attempt (jittered) and counts the attempt.
    pub fn next_delay(&mut self) -> Duration {
        let base = self.base();
        self.attempt = self.attempt.saturating_add(1);
        let half = base / 2;
        let spread = (base - half).as_millis() as u64;
        let jitter = if spread == 0 {
            0
        } else {
            rand::rng().random_range(0..=spread)
        };
        half + Duration::from_millis(jitter)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_to_the_cap_with_bounded_jitter_and_resets() {
        let mut b = Backoff::new(Duration::from_millis(125), Duration::from_secs(60));
        let mut bases = Vec::new();
        for _ in 0..12 {
            let base = b.base();
            let d = b.next_delay();
            assert!(
                d >= base / 2 && d <= base,
                "{d:?} outside [{:?}, {base:?}]",
                base / 2
            );
            bases.push(base.as_millis());
        }
        assert_eq!(&bases[..4], &[125, 250, 500, 1000]);
        assert_eq!(*bases.last().unwrap(), 60_000);
        assert_eq!(b.attempt(), 12);
        b.reset();
        assert_eq!(b.base(), Duration::from_millis(125));
        // far past the shift width, still capped and no overflow
        for _ in 0..100 {
            b.next_delay();
        }
        assert_eq!(b.base(), Duration::from_secs(60));
    }
}
