//! What a scrape shows: the pipeline's counters and the health board, as Prometheus families.
//! Label sets are bounded: sources and sinks are the configured ones, states a fixed list.

use std::sync::Arc;
use std::time::Duration;

use super::text::{Exposition, Kind};
use crate::domain::TsMs;
use crate::pipeline::{HealthBoard, PipelineStats, SourceState, effective_state};

/// Why the process is not healthy (None: it is).
pub type Readiness = Arc<dyn Fn() -> Option<String> + Send + Sync>;

/// Where the figures come from.
#[derive(Clone)]
pub struct Figures {
    pub stats: Arc<PipelineStats>,
    pub health: HealthBoard,
    /// A live source quiet for this long is reported stale, as on the screen.
    pub stale_after: Duration,
    /// For `/healthz`.
    pub readiness: Readiness,
}

/// Every state a source or component can report, as the `state` label spells it.
pub const STATES: [&str; 8] = [
    "connecting",
    "live",
    "reconnecting",
    "rate_limited",
    "stale",
    "dropping",
    "finished",
    "failed",
];

/// The `state` label of a state.
pub fn state_label(s: &SourceState) -> &'static str {
    match s {
        SourceState::Connecting => "connecting",
        SourceState::Live => "live",
        SourceState::Reconnecting { .. } => "reconnecting",
        SourceState::RateLimited { .. } => "rate_limited",
        SourceState::Stale { .. } => "stale",
        SourceState::Dropping { .. } => "dropping",
        SourceState::Finished => "finished",
        SourceState::Failed(_) => "failed",
    }
}

/// The pipeline-wide counters: (name, kind, help, field).
type Global = (&'static str, Kind, &'static str, fn(&PipelineStats) -> u64);

const GLOBALS: [Global; 12] = [
    (
        "tickwatch_events_in_total",
        Kind::Counter,
        "Events the sources put into the ring.",
        |s| PipelineStats::get(&s.events_in),
    ),
    (
        "tickwatch_events_processed_total",
        Kind::Counter,
        "Events the engine has processed.",
        |s| PipelineStats::get(&s.events_processed),
    ),
    (
        "tickwatch_ring_dropped_events_total",
        Kind::Counter,
        "Events dropped because the ring to the engine was full (trades with ids are refilled from the venue).",
        |s| PipelineStats::get(&s.dropped_ring),
    ),
    (
        "tickwatch_trades_lost_total",
        Kind::Counter,
        "Trades missed for good: dropped or missed and not refillable from the venue.",
        |s| PipelineStats::get(&s.trades_lost),
    ),
    (
        "tickwatch_events_rejected_total",
        Kind::Counter,
        "Events the engine rejected as invalid.",
        |s| PipelineStats::get(&s.rejected),
    ),
    (
        "tickwatch_late_trades_total",
        Kind::Counter,
        "Trades that arrived after their candle had closed (stored, not in the candle).",
        |s| PipelineStats::get(&s.late_trades),
    ),
    (
        "tickwatch_candle_gaps_total",
        Kind::Counter,
        "Candle gaps too long to fill with flat candles.",
        |s| PipelineStats::get(&s.candle_gaps),
    ),
    (
        "tickwatch_store_rows_written_total",
        Kind::Counter,
        "Rows committed to the database.",
        |s| PipelineStats::get(&s.store_written),
    ),
    (
        "tickwatch_store_rows_pending",
        Kind::Gauge,
        "Storage lag: rows handed to the storage writer and not yet committed.",
        |s| PipelineStats::get(&s.store_pending),
    ),
    (
        "tickwatch_store_rows_dropped_total",
        Kind::Counter,
        "Rows that could not be stored (the database failed, or a stop's deadline passed).",
        |s| PipelineStats::get(&s.store_dropped),
    ),
    (
        "tickwatch_alerts_fired_total",
        Kind::Counter,
        "Alerts fired by the rules.",
        |s| PipelineStats::get(&s.alerts_fired),
    ),
    (
        "tickwatch_alerts_remote_total",
        Kind::Counter,
        "Alerts evaluated on a recorder and read from NATS (each alert_id once).",
        |s| PipelineStats::get(&s.alerts_remote),
    ),
];

impl Figures {
    /// One scrape's text at `now`.
    pub fn render(&self, now: TsMs) -> String {
        let stats = &self.stats;
        let board = self.health.snapshot();
        let stale_ms = self.stale_after.as_millis() as i64;
        let mut e = Exposition::default();
        e.family(
            "tickwatch_build_info",
            Kind::Gauge,
            "The running tickwatch version (always 1).",
        )
        .sample(&[("version", env!("CARGO_PKG_VERSION"))], 1u64);

        // per source: every source on the board, with the events counted for it (0 before any)
        let counted = stats.events_by_source.snapshot();
        let sources: Vec<_> = board.iter().filter(|h| h.is_source).collect();
        e.family(
            "tickwatch_source_events_total",
            Kind::Counter,
            "Events a source put into the ring.",
        );
        for h in &sources {
            let n = counted
                .iter()
                .find(|(k, _)| *k == h.name)
                .map_or(0, |(_, n)| *n);
            e.sample(&[("source", &h.name)], n);
        }
        e.family(
            "tickwatch_source_dropped_events_total",
            Kind::Counter,
            "Events of a source dropped at a full ring.",
        );
        for h in &sources {
            e.sample(&[("source", &h.name)], h.dropped);
        }
        e.family(
            "tickwatch_source_state",
            Kind::Gauge,
            "A source's state as the status bar shows it: 1 for the current state, 0 for the others.",
        );
        for h in &sources {
            let now_state = state_label(&effective_state(h, now, stale_ms));
            for st in STATES {
                e.sample(
                    &[("source", &h.name), ("state", st)],
                    u64::from(st == now_state),
                );
            }
        }
        e.family(
            "tickwatch_source_last_event_timestamp_seconds",
            Kind::Gauge,
            "When a source last sent data (Unix time).",
        );
        for h in &sources {
            if let Some(t) = h.last_event_ms {
                e.sample(&[("source", &h.name)], t as f64 / 1000.0);
            }
        }
        e.family(
            "tickwatch_component_state",
            Kind::Gauge,
            "The state of a part that is not a market source (db, an alert sink after a failure): 1 for the current state.",
        );
        for h in board.iter().filter(|h| !h.is_source) {
            let now_state = state_label(&h.state);
            for st in STATES {
                e.sample(
                    &[("component", &h.name), ("state", st)],
                    u64::from(st == now_state),
                );
            }
        }

        for (name, kind, help, get) in GLOBALS {
            e.family(name, kind, help).sample(&[], get(stats));
        }
        let queued = PipelineStats::get(&stats.events_in)
            .saturating_sub(PipelineStats::get(&stats.events_processed));
        e.family(
            "tickwatch_ring_queued_events",
            Kind::Gauge,
            "Events in the ring waiting for the engine.",
        )
        .sample(&[], queued);
        e.family(
            "tickwatch_alert_deliveries_total",
            Kind::Counter,
            "Alert delivery outcomes per sink: sent, failed or skipped.",
        );
        for ((sink, outcome), n) in stats.deliveries.snapshot() {
            e.sample(&[("sink", &sink), ("outcome", outcome)], n);
        }
        e.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figures() -> Figures {
        Figures {
            stats: Arc::new(PipelineStats::default()),
            health: HealthBoard::default(),
            stale_after: Duration::from_secs(10),
            readiness: Arc::new(|| None),
        }
    }

    #[test]
    fn sources_states_and_deliveries_are_labelled() {
        let f = figures();
        let now = crate::domain::now_ms();
        f.health.register_source("sim");
        f.health.set("sim", SourceState::Live);
        f.health.touch("sim", now);
        f.health.register_source("bin\"ance");
        f.health
            .set("bin\"ance", SourceState::Failed("refused".into()));
        f.health.set("db", SourceState::Live);
        f.stats.events_by_source.add_named("sim", 7);
        f.stats.deliveries.add(("webhook:ops".into(), "sent"), 2);
        f.stats.deliveries.add(("webhook:ops".into(), "failed"), 1);
        PipelineStats::add(&f.stats.store_written, 5);
        let text = f.render(now);
        for want in [
            "tickwatch_source_events_total{source=\"sim\"} 7\n",
            "tickwatch_source_events_total{source=\"bin\\\"ance\"} 0\n",
            "tickwatch_source_state{source=\"sim\",state=\"live\"} 1\n",
            "tickwatch_source_state{source=\"sim\",state=\"stale\"} 0\n",
            "tickwatch_source_state{source=\"bin\\\"ance\",state=\"failed\"} 1\n",
            "tickwatch_component_state{component=\"db\",state=\"live\"} 1\n",
            "tickwatch_store_rows_written_total 5\n",
            "tickwatch_alert_deliveries_total{sink=\"webhook:ops\",outcome=\"failed\"} 1\n",
            "tickwatch_alert_deliveries_total{sink=\"webhook:ops\",outcome=\"sent\"} 2\n",
        ] {
            assert!(text.contains(want), "{want} missing in\n{text}");
        }
        // a quiet live source is stale, as on the screen
        let later = f.render(now + 11_000);
        assert!(
            later.contains("tickwatch_source_state{source=\"sim\",state=\"stale\"} 1\n"),
            "{later}"
        );
    }

    #[test]
    fn every_family_is_declared_once_and_counters_end_in_total() {
        let text = figures().render(0);
        let mut seen = std::collections::HashSet::new();
        for line in text.lines().filter(|l| l.starts_with("# TYPE ")) {
            let mut parts = line.split(' ').skip(2);
            let (name, kind) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
            assert!(seen.insert(name.to_string()), "{name} declared twice");
            assert_eq!(kind == "counter", name.ends_with("_total"), "{line}");
        }
    }
}
