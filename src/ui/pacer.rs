//! When to wake and when to draw: at most one frame per period, at least one per clock tick so
//! ages and the clock move, and nothing in between when nothing changed.

use std::time::{Duration, Instant};

/// Frame rates outside this range are clamped: below 1 the keys would feel dead, above 240 no
/// terminal keeps up.
const FPS_RANGE: (f64, f64) = (1.0, 240.0);
const CLOCK_TICK: Duration = Duration::from_secs(1);

/// The frame period for a frame rate (30 fps → 33.3 ms). Converted once, here.
pub fn frame_period(fps: f64) -> anyhow::Result<Duration> {
    if !fps.is_finite() || fps <= 0.0 {
        anyhow::bail!("ui frame rate must be a positive number of frames per second, got {fps}");
    }
    Ok(Duration::from_secs_f64(
        1.0 / fps.clamp(FPS_RANGE.0, FPS_RANGE.1),
    ))
}

#[derive(Debug)]
pub struct Pacer {
    period: Duration,
    last_draw: Option<Instant>,
    next_tick: Instant,
}

impl Pacer {
    pub fn new(period: Duration, now: Instant) -> Pacer {
        Pacer {
            period,
            last_draw: None,
            next_tick: now + CLOCK_TICK,
        }
    }

    /// How long to wait for input. When dirty, until the frame cap allows drawing; otherwise one
    /// period (to look at the snapshot version), but never past the clock tick.
    pub fn timeout(&self, now: Instant, dirty: bool) -> Duration {
        let frame_at = match (dirty, self.last_draw) {
            (true, Some(t)) => t + self.period,
            (true, None) => now,
            (false, _) => now + self.period,
        };
        frame_at.min(self.next_tick).saturating_duration_since(now)
    }

    /// True once per clock tick; the caller refreshes the status and redraws.
    pub fn tick_due(&mut self, now: Instant) -> bool {
        if now < self.next_tick {
            return false;
        }
        self.next_tick += CLOCK_TICK;
        if self.next_tick <= now {
            // After a stall, do not fire a burst of catch-up ticks.
            self.next_tick = now + CLOCK_TICK;
        }
        true
    }

    /// Whether the frame cap allows a draw now.
    pub fn may_draw(&self, now: Instant) -> bool {
        self.last_draw
            .is_none_or(|t| now.saturating_duration_since(t) >= self.period)
    }

    pub fn drew(&mut self, now: Instant) {
        self.last_draw = Some(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn period_is_the_inverse_of_the_rate() {
        let p = frame_period(30.0).unwrap_or_default();
        assert!((p.as_secs_f64() - 1.0 / 30.0).abs() < 1e-9);
        assert_eq!(
            frame_period(1000.0).ok(),
            Some(Duration::from_secs_f64(1.0 / 240.0))
        );
        assert!(frame_period(0.0).is_err());
        assert!(frame_period(f64::NAN).is_err());
    }

    #[test]
    fn frames_are_capped_and_idle_waits_for_the_tick() {
        let t0 = Instant::now();
        let period = Duration::from_millis(100);
        let mut p = Pacer::new(period, t0);
        assert!(p.may_draw(t0));
        assert_eq!(p.timeout(t0, true), Duration::ZERO);
        p.drew(t0);
        let t1 = t0 + Duration::from_millis(30);
        assert!(!p.may_draw(t1));
        assert_eq!(p.timeout(t1, true), Duration::from_millis(70));
        assert_eq!(p.timeout(t1, false), period);
        let t2 = t0 + Duration::from_millis(950);
        assert_eq!(p.timeout(t2, false), Duration::from_millis(50));
        assert!(!p.tick_due(t2));
        assert!(p.tick_due(t0 + Duration::from_secs(1)));
        assert!(!p.tick_due(t0 + Duration::from_millis(1500)));
        // A long stall yields one tick, not a burst.
        assert!(p.tick_due(t0 + Duration::from_secs(10)));
        assert!(!p.tick_due(t0 + Duration::from_millis(10_500)));
    }
}
