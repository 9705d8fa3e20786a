//! Replay speed: parsing `--speed` and spacing batches by exchange time.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use tokio::time::Instant;

use super::merge::merge_time;
use crate::domain::{MarketEvent, TsMs};

/// How fast a replay runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Speed {
    /// As fast as the original market: one exchange second per wall second.
    RealTime,
    /// `f` exchange seconds per wall second (10x, 100x; 0.5x slows down).
    Factor(f64),
    /// No pacing: as fast as the engine takes events.
    Max,
}

impl Speed {
    /// The slowest factor accepted: a thousandth of real time (a minute of trades over 17 h).
    pub const MIN_FACTOR: f64 = 0.001;
    /// The fastest paced factor: beyond it pacing means nothing, `max` is the answer.
    pub const MAX_FACTOR: f64 = 1e6;

    /// Whether `f` is a factor a replay can be paced at.
    pub fn factor_in_range(f: f64) -> bool {
        (Self::MIN_FACTOR..=Self::MAX_FACTOR).contains(&f)
    }

    /// Exchange milliseconds per wall millisecond, or `None` for unpaced.
    pub fn factor(self) -> Option<f64> {
        match self {
            Speed::RealTime => Some(1.0),
            Speed::Factor(f) => Some(f),
            Speed::Max => None,
        }
    }
}

impl fmt::Display for Speed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Speed::RealTime => f.write_str("1x"),
            Speed::Factor(x) => write!(f, "{x}x"),
            Speed::Max => f.write_str("max"),
        }
    }
}

impl FromStr for Speed {
    type Err = String;

    /// Accepts `1`, `1x`, `realtime`, `10x`, `100`, `0.5x` and `max` (any case).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim().to_ascii_lowercase();
        let bad = || {
            format!(
                "invalid speed {s:?}: use a factor such as 1x (real time), 10x or 100, or \"max\" for as fast as possible"
            )
        };
        match t.as_str() {
            "max" => return Ok(Speed::Max),
            "realtime" | "real-time" => return Ok(Speed::RealTime),
            _ => {}
        }
        let num = t.strip_suffix('x').unwrap_or(&t);
        let f: f64 = num.parse().map_err(|_| bad())?;
        if !f.is_finite() || f <= 0.0 {
            return Err(bad());
        }
        if !Speed::factor_in_range(f) {
            return Err(format!(
                "invalid speed {s:?}: a factor must be from {}x to {}x (1x is real time); use \"max\" for as fast as possible",
                Speed::MIN_FACTOR,
                Speed::MAX_FACTOR
            ));
        }
        if f == 1.0 {
            Ok(Speed::RealTime)
        } else {
            Ok(Speed::Factor(f))
        }
    }
}

/// Wall time covered by one send: events due within this window go out together, so a paced
/// replay sleeps at most about 100 times a second however dense the trades are.
const WINDOW: Duration = Duration::from_millis(10);

/// The longest wait between two sends of a paced replay, whatever the gap in the data.
const MAX_WAIT: Duration = Duration::from_secs(30 * 86_400);

/// Maps exchange time to wall time for one paced replay.
#[derive(Debug)]
pub(crate) struct Pacer {
    factor: f64,
    /// Wall instant and exchange time of the event that started the current stretch.
    anchor: Option<(Instant, TsMs)>,
    last_exch: TsMs,
}

impl Pacer {
    pub(crate) fn new(factor: f64) -> Pacer {
        Pacer {
            factor,
            anchor: None,
            last_exch: TsMs::MIN,
        }
    }

    fn due(&self, anchor: (Instant, TsMs), exch: TsMs) -> Instant {
        let ahead_ms = exch.saturating_sub(anchor.1).max(0) as f64 / self.factor;
        // a gap of years at a slow factor must not overflow: wait at most MAX_WAIT
        let wait = Duration::try_from_secs_f64(ahead_ms / 1000.0)
            .unwrap_or(MAX_WAIT)
            .min(MAX_WAIT);
        anchor.0.checked_add(wait).unwrap_or(anchor.0)
    }

    /// Exchange-time width of [`WINDOW`] at this factor.
    fn window_ms(&self) -> TsMs {
        ((WINDOW.as_secs_f64() * 1000.0 * self.factor) as TsMs).max(0)
    }

    /// Length of the run of events at the start of `events` that is due together, and the wall
    /// instant at which to send it. Events are spaced by their merge time (a kline goes out when
    /// it closes, as on a live feed). Time going backwards (it cannot in a merged replay) starts
    /// a new stretch instead of sending everything at once.
    pub(crate) fn next_chunk(&mut self, events: &[MarketEvent]) -> (usize, Instant) {
        let Some(first) = events.first() else {
            return (0, Instant::now());
        };
        let start = merge_time(first);
        let anchor = match self.anchor {
            Some(a) if start >= self.last_exch => a,
            _ => {
                let a = (Instant::now(), start);
                self.anchor = Some(a);
                a
            }
        };
        let limit = start.saturating_add(self.window_ms());
        let n = events
            .iter()
            .map(merge_time)
            .position(|t| t > limit || t < start)
            .unwrap_or(events.len());
        self.last_exch = merge_time(&events[n - 1]);
        (n, self.due(anchor, start))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn speeds_parse() {
        assert_eq!("1".parse::<Speed>(), Ok(Speed::RealTime));
        assert_eq!("1x".parse::<Speed>(), Ok(Speed::RealTime));
        assert_eq!("10x".parse::<Speed>(), Ok(Speed::Factor(10.0)));
        assert_eq!("100".parse::<Speed>(), Ok(Speed::Factor(100.0)));
        assert_eq!(" MAX ".parse::<Speed>(), Ok(Speed::Max));
        assert_eq!("0.5x".parse::<Speed>(), Ok(Speed::Factor(0.5)));
        for bad in ["", "x", "0", "-2x", "fast", "nanx", "inf", "10xx"] {
            let err = bad.parse::<Speed>().unwrap_err();
            assert!(err.contains("max"), "{bad}: {err}");
        }
        assert_eq!("0.001x".parse::<Speed>(), Ok(Speed::Factor(0.001)));
        assert_eq!("1e6x".parse::<Speed>(), Ok(Speed::Factor(1e6)));
        for absurd in ["1e-300x", "0.0009x", "1e7", "1e300x"] {
            let err = absurd.parse::<Speed>().unwrap_err();
            assert!(err.contains("from 0.001x to 1000000x"), "{absurd}: {err}");
        }
    }

    #[test]
    fn a_huge_gap_at_a_slow_factor_waits_at_most_the_cap() {
        let p = Pacer::new(Speed::MIN_FACTOR);
        let now = Instant::now();
        let due = p.due((now, 0), TsMs::MAX);
        assert_eq!(due - now, MAX_WAIT);
        let p = Pacer::new(1e-300);
        assert_eq!(p.due((now, 0), 1_000) - now, MAX_WAIT);
    }
}
