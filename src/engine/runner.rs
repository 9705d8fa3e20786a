//! The engine thread: drains the ring, applies events, hands batches to the storage thread,
//! fired alerts to the notifiers, and publishes a view snapshot at most once per frame.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::Engine;
use crate::domain::{AlertRecord, OutputBatch};
use crate::domain::{Interval, VenueSymbol, now_ms};
use crate::pipeline::{Ingest, PipelineStats, RingBudget, StopClock};
use crate::store::StoreSender;
use crate::view::{EngineCtl, SnapshotSlot};

/// What to do when the storage thread cannot keep up. Neither policy drops what must be
/// stored: when the storage thread is behind, the engine waits for it, stops taking from the
/// ring, and the loss (if any) happens at the ring, where each source knows what it lost: a
/// source that can pause (replay, simulator) waits, a live feed drops and counts, and refills
/// trades from the venue where it has trade ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorePolicy {
    /// Hand every batch over at once, waiting for room (replay: the database is always a
    /// gap-free prefix of the input).
    Block,
    /// Keep up to `max_rows` rows queued in memory while the storage thread is busy, so that a
    /// short disk stall does not hold the engine (and the screen); beyond that, wait.
    Spill { max_rows: u64 },
}

/// Where the engine's output goes.
pub struct Outputs {
    pub store: Option<(StoreSender, StorePolicy)>,
    pub view: Option<SnapshotSlot>,
    pub alerts: Option<flume::Sender<AlertRecord>>,
    /// The NATS publisher (`record --publish`): what the engine applied, closed and fired.
    /// Never waited on: a batch that finds its channel full is counted as dropped.
    pub publish: Option<(
        flume::Sender<crate::fanout::publisher::FanoutBatch>,
        std::sync::Arc<crate::fanout::publisher::FanoutStats>,
    )>,
}

/// How the run ended.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunSummary {
    pub events: u64,
    pub rejected: u64,
    pub candles_closed: u64,
    pub alerts: u64,
    /// Alerts evaluated elsewhere (read from NATS) taken in: shown and stored, not fired here.
    pub remote_alerts: u64,
    /// The first few rejection messages, for the user.
    pub rejections: Vec<String>,
    /// Events still in the ring when the stop's deadline passed (never processed).
    pub unprocessed: u64,
}

pub struct Runner {
    pub engine: Engine,
    pub ingest: flume::Receiver<Ingest>,
    pub ctl: flume::Receiver<EngineCtl>,
    pub outputs: Outputs,
    /// Snapshot period (the UI's frame cap).
    pub frame: Duration,
    /// Stop once this many sources have reported `Finished` (None: run until the ring closes).
    pub stop_after_finished: Option<usize>,
    /// Set when the command stops: the engine drains the ring within its share, then ends.
    pub stop: StopClock,
    /// The ring's event budget, given back as batches are processed (None: unbounded).
    pub budget: Option<RingBudget>,
}

/// Closes the ring's budget when dropped.
struct CloseOnExit(Option<RingBudget>);

impl Drop for CloseOnExit {
    fn drop(&mut self) {
        if let Some(b) = &self.0 {
            b.close();
        }
    }
}

enum Got {
    Ingest(Result<Ingest, flume::RecvError>),
    Ctl(Result<EngineCtl, flume::RecvError>),
}

const FLUSH_ROWS: u64 = 8_192;
const FLUSH_EVERY: Duration = Duration::from_millis(25);
/// How often the engine's clock ticks: stale-feed rules, snoozes and expiries that end.
const CLOCK_EVERY: Duration = Duration::from_secs(1);

impl Runner {
    /// Runs until every source is done or gone. Returns a summary.
    pub fn run(mut self) -> RunSummary {
        // however the engine ends (a panic included), sources waiting for room learn it
        let _close = CloseOnExit(self.budget.clone());
        let stats = self.engine.stats().clone();
        let mut summary = RunSummary::default();
        let mut batch = OutputBatch::default();
        let mut spill: VecDeque<OutputBatch> = VecDeque::new();
        let mut focus: Option<VenueSymbol> = None;
        let mut interval = Interval::M1;
        let mut since: Option<crate::domain::TsMs> = None;
        let mut version = 0u64;
        let mut dirty = true;
        let mut next_frame = Instant::now();
        let mut last_flush = Instant::now();
        let mut finished = 0usize;
        let mut ctl_open = true;
        let mut next_clock = Instant::now();

        loop {
            // Wait for input; when the view is dirty, only until the next frame is due.
            let mut sel = flume::Selector::new().recv(&self.ingest, Got::Ingest);
            if ctl_open {
                sel = sel.recv(&self.ctl, Got::Ctl);
            }
            let due_flush = !batch.is_empty() || !spill.is_empty();
            let wake = match (dirty && self.outputs.view.is_some(), due_flush) {
                (true, _) => next_frame.min(last_flush + FLUSH_EVERY),
                (false, true) => last_flush + FLUSH_EVERY,
                (false, false) => next_clock,
            }
            .min(next_clock);
            // while stopping, look again soon: the ring may be empty for good
            let wake = if self.stop.stopping() {
                wake.min(Instant::now() + Duration::from_millis(20))
            } else {
                wake
            };
            let got = sel.wait_deadline(wake).ok();
            let mut closed = false;
            // the batch lives across iterations until it is flushed: count and forward only
            // what this iteration adds
            let (candles_before, alerts_before) = (batch.candles.len(), batch.alerts.len());
            let publishing = self.outputs.publish.is_some();
            let mut applied: Vec<crate::domain::MarketEvent> = Vec::new();
            let mut handle =
                |msg: Ingest, batch: &mut OutputBatch, summary: &mut RunSummary| match msg {
                    Ingest::Events(events) => {
                        for ev in &events {
                            let r = self.engine.apply(ev, batch);
                            if publishing && r.is_ok() {
                                applied.push(*ev);
                            }
                            if let Err(e) = r {
                                summary.rejected += 1;
                                if summary.rejections.len() < 20 {
                                    summary.rejections.push(e.to_string());
                                }
                                if summary.rejected <= 5 || summary.rejected.is_power_of_two() {
                                    tracing::warn!("{e} ({} rejected so far)", summary.rejected);
                                }
                            }
                        }
                        summary.events += events.len() as u64;
                        PipelineStats::add(&stats.events_processed, events.len() as u64);
                        if let Some(b) = &self.budget {
                            b.give_back(events.len());
                        }
                        false
                    }
                    Ingest::Books(books) => {
                        for b in &books {
                            self.engine.apply_book(b, batch);
                        }
                        false
                    }
                    Ingest::RemoteAlerts(alerts) => {
                        for a in alerts {
                            summary.remote_alerts += u64::from(self.engine.remote_alert(a, batch));
                        }
                        false
                    }
                    Ingest::Finished(name) => {
                        tracing::info!(source = %name, "source finished");
                        true
                    }
                };
            match got {
                Some(Got::Ingest(Ok(msg))) => {
                    finished += usize::from(handle(msg, &mut batch, &mut summary));
                    // Drain what is already queued before doing anything else (bounded, so
                    // flushing and frames still happen under a flood).
                    for _ in 0..64 {
                        match self.ingest.try_recv() {
                            Ok(msg) => {
                                finished += usize::from(handle(msg, &mut batch, &mut summary))
                            }
                            Err(_) => break,
                        }
                        if batch.rows() >= FLUSH_ROWS {
                            break;
                        }
                    }
                    dirty = true;
                }
                Some(Got::Ingest(Err(_))) => closed = true,
                Some(Got::Ctl(Ok(EngineCtl::Focus {
                    key,
                    interval: iv,
                    since_ms,
                }))) => {
                    focus = key;
                    interval = iv;
                    since = since_ms;
                    dirty = true;
                    next_frame = Instant::now();
                }
                Some(Got::Ctl(Ok(ctl))) => {
                    if let Err(e) = self.engine.control(&ctl, now_ms(), &mut batch) {
                        tracing::warn!("alert rule change refused: {e}");
                    }
                    dirty = true;
                    next_frame = Instant::now();
                }
                Some(Got::Ctl(Err(_))) => ctl_open = false,
                None => {}
            }
            if Instant::now() >= next_clock {
                dirty |= self.engine.on_clock(now_ms(), &mut batch);
                next_clock = Instant::now() + CLOCK_EVERY;
            }
            summary.candles_closed += (batch.candles.len() - candles_before) as u64;
            let fresh = &batch.alerts[alerts_before..];
            summary.alerts += fresh.iter().filter(|a| !a.is_remote()).count() as u64;
            if let Some(tx) = &self.outputs.alerts {
                let now = now_ms();
                for a in fresh {
                    // an alert from elsewhere was delivered where it fired; here it is shown
                    // and stored, and goes to this process's sinks only when the config asks
                    if a.is_remote() && !self.engine.notifies_remote(a, now) {
                        continue;
                    }
                    // Waits for room rather than lose the alert's outcomes: the notifier never
                    // waits on a sink (a full sink queue is a stored skip), only on the store,
                    // which always drains, so a wait here is short and rare.
                    if tx.send(a.clone()).is_err() {
                        PipelineStats::add(&stats.deliveries_failed, 1);
                        tracing::warn!(
                            "the notifier has stopped: alert {} not delivered",
                            a.alert_id
                        );
                    }
                }
            }
            if let Some((tx, fstats)) = &self.outputs.publish {
                let out = crate::fanout::publisher::FanoutBatch {
                    events: applied,
                    candles: batch.candles[candles_before..].to_vec(),
                    // published where they fired: sending them on would echo them
                    alerts: fresh.iter().filter(|a| !a.is_remote()).cloned().collect(),
                };
                if !out.is_empty() {
                    let n = out.len() as u64;
                    // Never wait on the network (storage, which must not lose anything, is
                    // what the engine waits for): the publisher holds 500k messages while NATS
                    // is away; what does not fit even here is counted, shown, and makes
                    // `record` exit 1.
                    if tx.try_send(out).is_err() {
                        PipelineStats::add(&fstats.dropped, n);
                        tracing::warn!("NATS publisher behind or gone: {n} events not published");
                    }
                }
            }
            // the sources are stopped and everything they sent is processed
            closed |= self.stop.no_more_input() && self.ingest.is_empty();
            let out_of_time = self.stop.passed(StopClock::ENGINE);
            if out_of_time && !closed {
                summary.unprocessed += self.discard_ring(&stats);
            }
            let done =
                closed || out_of_time || self.stop_after_finished.is_some_and(|n| finished >= n);
            if (!batch.is_empty() || !spill.is_empty())
                && (done || batch.rows() >= FLUSH_ROWS || last_flush.elapsed() >= FLUSH_EVERY)
            {
                self.flush(&mut batch, &mut spill, &stats);
                last_flush = Instant::now();
            }
            if let Some(slot) = &self.outputs.view
                && dirty
                && (done || Instant::now() >= next_frame)
            {
                version += 1;
                slot.publish(self.engine.snapshot(focus, interval, since, version));
                dirty = false;
                next_frame = Instant::now() + self.frame;
            }
            if done {
                // Hand over whatever is still spilled; at the end waiting is right (within
                // the stop's deadline).
                if let Some((tx, _)) = &self.outputs.store {
                    while let Some(b) = spill.pop_front() {
                        self.send_waiting(tx, b, &stats);
                    }
                }
                break;
            }
        }
        summary
    }

    fn flush(
        &self,
        batch: &mut OutputBatch,
        spill: &mut VecDeque<OutputBatch>,
        stats: &PipelineStats,
    ) {
        let b = std::mem::take(batch);
        let Some((tx, policy)) = &self.outputs.store else {
            return;
        };
        spill.push_back(b);
        while let Some(front) = spill.pop_front() {
            if let Err(back) = tx.try_send(front) {
                spill.push_front(back);
                break;
            }
        }
        let max_rows = match *policy {
            StorePolicy::Block => 0,
            StorePolicy::Spill { max_rows } => max_rows,
        };
        let mut queued: u64 = spill.iter().map(OutputBatch::rows).sum();
        // Over the bound: wait for the storage thread instead of dropping. The ring fills
        // meanwhile, and each source deals with that as it can (see `StorePolicy`).
        while queued > max_rows {
            let Some(front) = spill.pop_front() else {
                break;
            };
            queued -= front.rows();
            self.send_waiting(tx, front, stats);
        }
    }

    /// Hands `batch` to the storage thread, waiting for room; gives up (and counts its rows)
    /// only when the writer is gone or the stop's deadline for storage has passed.
    fn send_waiting(&self, tx: &StoreSender, batch: OutputBatch, stats: &PipelineStats) {
        let rows = batch.rows();
        let mut batch = batch;
        loop {
            match tx.send_timeout(batch, Duration::from_millis(100)) {
                Ok(()) => return,
                Err((back, gone)) => {
                    if gone || self.stop.passed(StopClock::STORE) {
                        PipelineStats::add(&stats.store_dropped, rows);
                        tracing::error!(
                            "{rows} rows not stored: {}",
                            if gone {
                                "the storage thread has stopped"
                            } else {
                                "the stop's deadline passed before the database caught up"
                            }
                        );
                        return;
                    }
                    batch = back;
                }
            }
        }
    }

    /// At the stop's deadline: empties the ring without processing it; returns the events.
    fn discard_ring(&self, stats: &PipelineStats) -> u64 {
        let mut left = 0u64;
        while let Ok(msg) = self.ingest.try_recv() {
            match msg {
                Ingest::Events(events) => {
                    left += events.len() as u64;
                    if let Some(b) = &self.budget {
                        b.give_back(events.len());
                    }
                }
                // still in the stream: a later run with `start = "all"` reads them again
                Ingest::RemoteAlerts(alerts) => left += alerts.len() as u64,
                Ingest::Finished(_) | Ingest::Books(_) => {}
            }
        }
        if left > 0 {
            PipelineStats::add(&stats.unprocessed_at_stop, left);
            tracing::error!(
                "stopped with {left} events still queued for the engine: not processed"
            );
        }
        left
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::alerts::rules::{RuleConfig, RuleKind};
    use crate::domain::{EventKind, MarketEvent, Side, Symbol, TradeTick, Venue};
    use crate::engine::EngineConfig;

    fn trade(id: u64, ts: i64, price: f64) -> MarketEvent {
        MarketEvent {
            venue: Venue::Sim,
            symbol: Symbol::new("X").unwrap(),
            exch_ms: ts,
            recv_ms: ts,
            kind: EventKind::Trade(TradeTick {
                trade_id: id,
                price,
                qty: 1.0,
                side: Side::Buy,
            }),
        }
    }

    #[test]
    fn each_alert_and_candle_is_counted_and_forwarded_once() {
        let rules = vec![
            RuleConfig {
                name: Some("above".into()),
                cooldown_secs: Some(0),
                ..RuleConfig::new(RuleKind::PriceAbove, 105.0)
            }
            .build()
            .unwrap(),
        ];
        let stats = Arc::new(PipelineStats::default());
        let engine = Engine::new(
            EngineConfig {
                rules,
                ..EngineConfig::default()
            },
            stats,
        )
        .unwrap();
        let (tx, rx) = crate::pipeline::ring(64);
        let (ctl_tx, ctl_rx) = flume::unbounded();
        let (alert_tx, alert_rx) = flume::unbounded();
        let t0 = 1_700_000_040_000;
        // the alert fires in the first message; the batch holding it then lives through
        // several more loop iterations (control messages, a second event message)
        tx.send(Ingest::Events(vec![
            trade(1, t0, 100.0),
            trade(2, t0 + 1_000, 110.0),
        ]))
        .unwrap();
        for _ in 0..5 {
            ctl_tx
                .send(EngineCtl::Focus {
                    key: None,
                    interval: Interval::S1,
                    since_ms: None,
                })
                .unwrap();
        }
        tx.send(Ingest::Events(vec![trade(3, t0 + 2_000, 111.0)]))
            .unwrap();
        drop(tx);
        let runner = Runner {
            engine,
            ingest: rx,
            ctl: ctl_rx,
            outputs: Outputs {
                store: None,
                view: Some(SnapshotSlot::default()),
                alerts: Some(alert_tx),
                publish: None,
            },
            frame: Duration::from_millis(1),
            stop_after_finished: None,
            stop: StopClock::default(),
            budget: None,
        };
        let summary = runner.run();
        drop(ctl_tx);
        assert_eq!(alert_rx.try_iter().count(), 1, "forwarded once");
        assert_eq!(summary.alerts, 1);
        // two 1s candles closed (t0 and t0+1s), nothing longer
        assert_eq!(summary.candles_closed, 2);
        assert_eq!(summary.events, 3);
    }
}
