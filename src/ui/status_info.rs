//! The numbers the status bar shows, collected in the update step (never while drawing).

use std::time::{Duration, Instant};

use crate::domain::TsMs;
use crate::pipeline::{HealthBoard, PipelineStats, SourceHealth};

/// Everything the status bar draws, as plain values.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StatusInfo {
    pub sources: Vec<SourceHealth>,
    pub events_per_sec: f64,
    /// Events lost before the engine: ring overflow + rejected + rows the store could not keep.
    pub dropped: u64,
    /// Rows handed to the storage thread and not yet committed.
    pub store_lag: u64,
    /// Trades that arrived after their candle closed.
    pub late: u64,
    /// Candle gaps too long to fill with flat candles.
    pub gaps: u64,
    pub deliveries_failed: u64,
    /// The wall clock the screen shows and ages are measured against.
    pub now_ms: TsMs,
    /// How this user starts the offline demo ([`demo_command`]; empty: `tickwatch --demo`).
    pub demo_command: &'static str,
}

/// The command that starts the offline demo for whoever runs this binary: from a checkout (the
/// binary sits in a cargo `target/debug` or `target/release`), `cargo run --release -- --demo`;
/// otherwise (installed) `tickwatch --demo`.
pub fn demo_command(exe: Option<&std::path::Path>) -> &'static str {
    let from_checkout = exe.is_some_and(|p| {
        let dirs: Vec<&std::ffi::OsStr> = p
            .parent()
            .map(|d| d.components().map(|c| c.as_os_str()).collect())
            .unwrap_or_default();
        dirs.windows(2)
            .any(|w| w[0] == "target" && (w[1] == "debug" || w[1] == "release"))
    });
    if from_checkout {
        "cargo run --release -- --demo"
    } else {
        "tickwatch --demo"
    }
}

/// Turns the ever-growing `events_processed` counter into a rate over about one second.
#[derive(Debug)]
pub struct RateMeter {
    window: Duration,
    last_count: u64,
    last_at: Instant,
    rate: f64,
}

impl RateMeter {
    pub fn new(count: u64, now: Instant) -> RateMeter {
        RateMeter {
            window: Duration::from_secs(1),
            last_count: count,
            last_at: now,
            rate: 0.0,
        }
    }

    /// Feeds the counter's current value; the rate changes once per window.
    pub fn observe(&mut self, count: u64, now: Instant) -> f64 {
        let elapsed = now.saturating_duration_since(self.last_at);
        if elapsed >= self.window {
            self.rate = count.saturating_sub(self.last_count) as f64 / elapsed.as_secs_f64();
            self.last_count = count;
            self.last_at = now;
        }
        self.rate
    }
}

impl StatusInfo {
    /// Reads the shared counters and the health board.
    pub fn collect(
        stats: &PipelineStats,
        health: &HealthBoard,
        meter: &mut RateMeter,
        now: Instant,
        now_ms: TsMs,
    ) -> StatusInfo {
        let get = PipelineStats::get;
        StatusInfo {
            sources: {
                // market data sources first: a long service error must not hide whether data flows
                let mut list = health.snapshot();
                list.sort_by_key(|h| !h.is_source);
                list
            },
            events_per_sec: meter.observe(get(&stats.events_processed), now),
            dropped: get(&stats.dropped_ring)
                .saturating_add(get(&stats.rejected))
                .saturating_add(get(&stats.store_dropped)),
            store_lag: get(&stats.store_pending),
            late: get(&stats.late_trades),
            gaps: get(&stats.candle_gaps),
            deliveries_failed: get(&stats.deliveries_failed),
            now_ms,
            demo_command: "",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_demo_command_fits_how_the_binary_runs() {
        use std::path::Path;
        for exe in [
            "/home/u/src/tickwatch/target/release/tickwatch",
            "/home/u/src/tickwatch/target/debug/tickwatch",
        ] {
            assert_eq!(
                demo_command(Some(Path::new(exe))),
                "cargo run --release -- --demo"
            );
        }
        for exe in ["/usr/local/bin/tickwatch", "/home/u/.cargo/bin/tickwatch"] {
            assert_eq!(demo_command(Some(Path::new(exe))), "tickwatch --demo");
        }
        assert_eq!(demo_command(None), "tickwatch --demo");
    }

    #[test]
    fn rate_is_the_delta_over_the_window() {
        let t0 = Instant::now();
        let mut m = RateMeter::new(100, t0);
        assert_eq!(m.observe(150, t0 + Duration::from_millis(500)), 0.0);
        assert_eq!(m.observe(1100, t0 + Duration::from_secs(2)), 500.0);
        // Within the next window the last rate holds.
        assert_eq!(m.observe(1200, t0 + Duration::from_millis(2500)), 500.0);
    }

    #[test]
    fn drops_add_up_every_kind_of_loss() {
        let stats = PipelineStats::default();
        PipelineStats::add(&stats.dropped_ring, 3);
        PipelineStats::add(&stats.rejected, 2);
        PipelineStats::add(&stats.store_dropped, 1);
        PipelineStats::add(&stats.store_pending, 7);
        let t = Instant::now();
        let mut m = RateMeter::new(0, t);
        let s = StatusInfo::collect(&stats, &HealthBoard::default(), &mut m, t, 0);
        assert_eq!((s.dropped, s.store_lag), (6, 7));
    }
}
