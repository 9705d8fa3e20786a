//! Rate limits a live source must respect: a cap on outgoing control messages per time window
//! (Binance: 5 per second per connection, pings and pongs included), a request-weight budget per
//! minute read back from response headers, and `Retry-After`.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

use crate::domain::TsMs;

/// At most `max` messages in any `window`.
#[derive(Debug, Clone)]
pub struct MessageLimiter {
    max: usize,
    window: Duration,
    sent: VecDeque<Instant>,
}

impl MessageLimiter {
    pub fn new(max: usize, window: Duration) -> Self {
        MessageLimiter {
            max: max.max(1),
            window,
            sent: VecDeque::new(),
        }
    }

    fn prune(&mut self, now: Instant) {
        while let Some(&t) = self.sent.front() {
            if now.saturating_duration_since(t) >= self.window {
                self.sent.pop_front();
            } else {
                break;
            }
        }
    }

    /// The earliest instant at which one more message may go out.
    pub fn next_slot(&mut self, now: Instant) -> Instant {
        self.prune(now);
        if self.sent.len() < self.max {
            now
        } else {
            self.sent.front().map_or(now, |&t| t + self.window)
        }
    }

    /// Notes that a message went out at `now`.
    pub fn record(&mut self, now: Instant) {
        self.prune(now);
        self.sent.push_back(now);
    }
}

/// Request weight used in the current minute, as the venue reports it (Binance
/// `X-MBX-USED-WEIGHT-1M`); tells callers to pause before the limit rather than at it.
#[derive(Debug, Clone)]
pub struct WeightBudget {
    limit: u32,
    /// Fraction of the limit at which to stop until the next minute.
    slow_at: f64,
    used: u32,
    minute: TsMs,
}

impl WeightBudget {
    pub fn new(limit_per_minute: u32) -> Self {
        WeightBudget {
            limit: limit_per_minute.max(1),
            slow_at: 0.8,
            used: 0,
            minute: 0,
        }
    }

    pub fn limit(&self) -> u32 {
        self.limit
    }

    /// Replaces the limit with the one the venue announced (e.g. in Binance's exchangeInfo).
    pub fn set_limit(&mut self, limit_per_minute: u32) {
        self.limit = limit_per_minute.max(1);
    }

    /// Weight used in the minute that contains `now_ms` (0 once that minute is over).
    pub fn used(&self, now_ms: TsMs) -> u32 {
        if now_ms.div_euclid(60_000) == self.minute {
            self.used
        } else {
            0
        }
    }

    /// Records the used weight the venue reported at `now_ms`.
    pub fn observe(&mut self, used: u32, now_ms: TsMs) {
        let minute = now_ms.div_euclid(60_000);
        if minute != self.minute || used > self.used {
            self.used = used;
        }
        self.minute = minute;
    }

    /// How long to wait before the next request: until the window resets when the budget is
    /// nearly spent, otherwise nothing.
    pub fn delay(&self, now_ms: TsMs) -> Option<Duration> {
        let used = self.used(now_ms);
        if f64::from(used) < f64::from(self.limit) * self.slow_at {
            return None;
        }
        // Binance counts per clock minute; a second of margin covers clock skew.
        let next_minute = (now_ms.div_euclid(60_000) + 1) * 60_000 + 1_000;
        Some(Duration::from_millis((next_minute - now_ms).max(0) as u64))
    }
}

/// Parses a `Retry-After` header given in seconds (what Binance and most APIs send).
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    v.parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limiter_allows_max_per_window_then_waits_for_the_oldest() {
        let t0 = Instant::now();
        let mut l = MessageLimiter::new(5, Duration::from_secs(1));
        for i in 0..5 {
            let now = t0 + Duration::from_millis(i * 10);
            assert_eq!(l.next_slot(now), now);
            l.record(now);
        }
        let now = t0 + Duration::from_millis(100);
        assert_eq!(l.next_slot(now), t0 + Duration::from_secs(1));
        let later = t0 + Duration::from_millis(1_000);
        assert_eq!(l.next_slot(later), later);
    }

    #[test]
    fn weight_budget_pauses_near_the_limit_until_the_next_minute() {
        let mut w = WeightBudget::new(6000);
        let t = 1_700_000_010_000; // 10 s into a minute (1_700_000_000_000 is 20 s into one)
        w.observe(100, t);
        assert_eq!(w.delay(t), None);
        w.observe(4_900, t);
        let d = w.delay(t).unwrap();
        let minute_end = (t.div_euclid(60_000) + 1) * 60_000;
        assert_eq!(d.as_millis() as i64, minute_end + 1_000 - t);
        // a new minute starts with nothing used
        assert_eq!(w.used(minute_end), 0);
        assert_eq!(w.delay(minute_end), None);
    }

    #[test]
    fn retry_after_in_seconds() {
        assert_eq!(parse_retry_after(" 7 "), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after("0.5"), Some(Duration::from_millis(500)));
        assert_eq!(parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        assert_eq!(parse_retry_after("-1"), None);
    }
}
