//! Delivers fired alerts off the hot path. Each sink runs in its own task behind a bounded
//! queue, so a slow or hanging sink delays nobody: not the engine, not the other sinks (a full
//! queue skips the alert for that sink, and the skip is stored).
//!
//! Per sink, in order: dedupe and rate limit ([`crate::alerts::sinks::gate`]), then delivery
//! with retries for transient failures (`attempts`, waiting `backoff`, then 4 times longer each
//! time). Every alert gets exactly one [`DeliveryOutcome`] per sink that wants its severity,
//! stored as a [`DeliveryRecord`] with the alert (sink names "desktop", "terminal",
//! "webhook:NAME", "email", "command:NAME"):
//! - sent;
//! - failed, with the reason: counted in `deliveries_failed` and shown on the health board
//!   under the sink's name until the next success;
//! - skipped, with the reason: the dedupe window, the rate limit's backlog full, the sink's
//!   queue full, or tickwatch stopped first. Not counted as a failure.
//!
//! Alerts the rate limit holds go out together as one summary and share its outcome.
//! Outcomes go to the store with backpressure (never dropped for lack of room).
//!
//! Stopping: when the alert channel closes (the engine stopped), each sink goes on delivering
//! what it has queued for at most `stop_grace`; then whatever is left (queued, held by the rate
//! limit, or in flight) is stored as "skipped: tickwatch stopped before it was sent", and
//! [`run`] returns once every outcome has been handed to the store.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::Instant;

use crate::alerts::DeliveryOutcome;
use crate::alerts::sinks::gate::{Admit, Gate};
use crate::alerts::sinks::terminal::TerminalOut;
use crate::alerts::sinks::{Notice, Sink, SinkSpec};
use crate::domain::{AlertRecord, DeliveryRecord, OutputBatch};
use crate::pipeline::{HealthBoard, PipelineStats, SourceState};
use crate::store::StoreSender;

/// How long the sinks may go on delivering once the engine has stopped (the default
/// [`DeliveryPolicy::stop_grace`]).
pub const STOP_GRACE: Duration = Duration::from_secs(3);

/// How long a caller should wait for [`run`] to return after closing the alert channel, with
/// the default policy: the grace, plus time to hand the last outcomes to the store.
pub const STOP_WAIT: Duration = Duration::from_secs(STOP_GRACE.as_secs() + 2);

/// Why an alert left at shutdown was not sent (the outcome reads "skipped: " and this).
pub const STOPPED: &str = "tickwatch stopped before it was sent";

/// Retry, dedupe, rate limit, queue size and stop grace, shared by every sink.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryPolicy {
    /// Attempts per delivery for transient failures (1 = no retry).
    pub attempts: u32,
    /// Wait before the first retry; each further one waits 4 times longer.
    pub backoff: Duration,
    /// Same rule + symbol delivered once per this window per sink (zero: off).
    pub dedupe: Duration,
    /// Deliveries per sink in any 60 s (0: unlimited); more are held for one summary.
    pub per_minute: u32,
    /// Alerts waiting per sink; more are skipped for that sink.
    pub queue: usize,
    /// Once the engine has stopped, how long each sink may go on delivering what it has.
    pub stop_grace: Duration,
}

impl Default for DeliveryPolicy {
    fn default() -> Self {
        DeliveryPolicy {
            attempts: 3,
            backoff: Duration::from_secs(1),
            dedupe: Duration::from_secs(15),
            per_minute: 10,
            queue: 64,
            stop_grace: STOP_GRACE,
        }
    }
}

/// The sinks to deliver to and how.
#[derive(Debug, Clone, Default)]
pub struct NotifyConfig {
    pub sinks: Vec<SinkSpec>,
    pub policy: DeliveryPolicy,
}

/// Alerts the rate limit may hold per sink; more are skipped (stored as such).
const MAX_HELD: usize = 1_000;
/// Byte strings the dashboard may have waiting before the terminal sink reports it full.
const UI_QUEUE: usize = 64;

impl NotifyConfig {
    /// Desktop notifications only, with the default policy.
    pub fn desktop_only(timeout: Duration) -> NotifyConfig {
        NotifyConfig {
            sinks: vec![SinkSpec::Desktop { timeout }],
            policy: DeliveryPolicy::default(),
        }
    }

    /// Every sink that cannot work at all, with why (a secret missing from the environment),
    /// one line each: tickwatch refuses to start with them rather than fail every alert.
    pub fn setup_errors(&self) -> Vec<String> {
        self.sinks
            .iter()
            .filter_map(SinkSpec::setup_error)
            .collect()
    }

    /// The configured sink names, in order.
    pub fn sink_names(&self) -> Vec<String> {
        self.sinks.iter().map(SinkSpec::name).collect()
    }

    /// For the dashboard: the terminal sink's sequences go through the returned queue, which
    /// the UI loop writes between frames, instead of straight to the terminal (which would
    /// tear a frame). None when the terminal sink is off.
    pub fn route_terminal_to_ui(&mut self) -> Option<flume::Receiver<Vec<u8>>> {
        let spec = self.sinks.iter_mut().find_map(|s| match s {
            SinkSpec::Terminal(t) => Some(t),
            _ => None,
        })?;
        let (tx, rx) = flume::bounded(UI_QUEUE);
        spec.out = TerminalOut::Ui(tx);
        Some(rx)
    }
}

/// Where outcomes go: the store, the counters and the health board.
#[derive(Clone)]
struct Reporter {
    store: Option<StoreSender>,
    health: HealthBoard,
    stats: Arc<PipelineStats>,
}

impl Reporter {
    /// Counts and shows `outcome`, then hands one row per alert to the store, waiting for room.
    async fn record(&self, sink: &str, shown: &AtomicBool, ids: &[&str], outcome: DeliveryOutcome) {
        self.stats
            .deliveries
            .add((sink.to_string(), outcome.status()), ids.len() as u64);
        match &outcome {
            DeliveryOutcome::Sent => {
                if shown.swap(false, Ordering::Relaxed) {
                    self.health.set(sink, SourceState::Live);
                }
            }
            DeliveryOutcome::Failed(reason) => {
                PipelineStats::add(&self.stats.deliveries_failed, ids.len() as u64);
                tracing::warn!(
                    sink,
                    alerts = ids.len(),
                    "alert not delivered: {reason} ({})",
                    ids.first().copied().unwrap_or_default()
                );
                shown.store(true, Ordering::Relaxed);
                self.health.set(sink, SourceState::Failed(reason.clone()));
            }
            DeliveryOutcome::Skipped(reason) => {
                tracing::debug!(sink, alerts = ids.len(), "alert skipped: {reason}");
            }
        }
        let Some(tx) = &self.store else { return };
        let batch = OutputBatch {
            deliveries: ids
                .iter()
                .map(|id| DeliveryRecord {
                    alert_id: id.to_string(),
                    sink: sink.to_string(),
                    outcome: outcome.clone(),
                })
                .collect(),
            ..Default::default()
        };
        if tx.send_async(batch).await.is_err() {
            PipelineStats::add(&self.stats.store_dropped, ids.len() as u64);
            tracing::error!(
                sink,
                alerts = ids.len(),
                "delivery outcome not stored: the database writer has already stopped"
            );
        }
    }
}

/// When the sinks must stop: unset while the engine runs; the deadline once it has stopped.
#[derive(Clone)]
struct Stop(watch::Receiver<Option<Instant>>);

impl Stop {
    fn deadline(&self) -> Option<Instant> {
        *self.0.borrow()
    }

    /// Resolves once the deadline has passed; never while the engine runs.
    async fn passed(&mut self) {
        let at = match self.0.wait_for(Option::is_some).await {
            Ok(at) => *at,
            // the notifier itself is gone: nothing will deliver, stop now
            Err(_) => None,
        };
        if let Some(at) = at {
            tokio::time::sleep_until(at).await;
        }
    }
}

/// One sink's task and its queue.
struct Lane {
    sink: Arc<Sink>,
    tx: flume::Sender<AlertRecord>,
    /// Whether a failure of this sink is on the health board.
    shown: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

/// Runs until the alert channel closes (the engine stopped), then gives each sink
/// `policy.stop_grace` to deliver what it has, stores "skipped" for the rest and returns.
pub async fn run(
    cfg: NotifyConfig,
    rx: flume::Receiver<AlertRecord>,
    store: Option<StoreSender>,
    health: HealthBoard,
    stats: Arc<PipelineStats>,
) {
    let report = Reporter {
        store,
        health,
        stats,
    };
    let (stop_tx, stop_rx) = watch::channel(None);
    let lanes: Vec<Lane> = cfg
        .sinks
        .iter()
        .map(|spec| {
            let sink = Arc::new(Sink::build(spec));
            // every outcome of every sink is a series from the start (0), so a rate over it
            // exists before the first alert
            for status in ["sent", "failed", "skipped"] {
                report
                    .stats
                    .deliveries
                    .add((sink.name().to_string(), status), 0);
            }
            let (tx, lane_rx) = flume::bounded(cfg.policy.queue.max(1));
            let shown = Arc::new(AtomicBool::new(false));
            let task = tokio::spawn(lane(
                sink.clone(),
                lane_rx,
                cfg.policy.clone(),
                report.clone(),
                shown.clone(),
                Stop(stop_rx.clone()),
            ));
            Lane {
                sink,
                tx,
                shown,
                task,
            }
        })
        .collect();
    drop(stop_rx);
    // Never waits on a sink: a full queue is a skip for that sink. It waits only for room at
    // the store, which always drains.
    while let Ok(alert) = rx.recv_async().await {
        for l in &lanes {
            if !l.sink.wants(alert.severity) {
                continue;
            }
            let outcome = match l.tx.try_send(alert.clone()) {
                Ok(()) => continue,
                Err(flume::TrySendError::Full(_)) => {
                    let reason = format!(
                        "the sink's queue is full ({} alerts already waiting)",
                        cfg.policy.queue
                    );
                    tracing::warn!(
                        sink = l.sink.name(),
                        "alert {} skipped: {reason}",
                        alert.alert_id
                    );
                    DeliveryOutcome::Skipped(reason)
                }
                Err(flume::TrySendError::Disconnected(_)) => DeliveryOutcome::Failed(
                    "the sink's delivery task has ended; see the log file".into(),
                ),
            };
            report
                .record(l.sink.name(), &l.shown, &[&alert.alert_id], outcome)
                .await;
        }
    }
    // The engine stopped: the lanes get the grace from now, then record what is left.
    stop_tx.send_replace(Some(Instant::now() + cfg.policy.stop_grace));
    let mut tasks = Vec::new();
    for l in lanes {
        drop(l.tx);
        tasks.push(l.task);
    }
    for t in tasks {
        if let Err(e) = t.await {
            tracing::error!("an alert sink's task failed: {e}");
        }
    }
}

/// The dedupe key: rule, venue and symbol.
fn dedupe_key(a: &AlertRecord) -> String {
    format!("{}\u{1f}{}\u{1f}{}", a.rule, a.key.venue, a.key.symbol)
}

/// One sink's state, shared by its task's steps.
struct LaneCtx {
    sink: Arc<Sink>,
    policy: DeliveryPolicy,
    report: Reporter,
    shown: Arc<AtomicBool>,
}

impl LaneCtx {
    async fn record(&self, ids: &[&str], outcome: DeliveryOutcome) {
        self.report
            .record(self.sink.name(), &self.shown, ids, outcome)
            .await;
    }

    /// Passes `alert` through dedupe and the rate limit, delivering it if they let it go now.
    async fn admit(&self, gate: &mut Gate<AlertRecord>, alert: AlertRecord, stop: &mut Stop) {
        let now = Instant::now().into_std();
        match gate.offer(&dedupe_key(&alert), alert, now) {
            Admit::Send(a) => self.deliver(vec![a], stop).await,
            Admit::Duplicate { item, since } => {
                let reason = format!(
                    "the same rule on {} was delivered {} s ago (dedupe_secs = {})",
                    item.key.symbol,
                    since.as_secs(),
                    self.policy.dedupe.as_secs()
                );
                self.record(&[&item.alert_id], DeliveryOutcome::Skipped(reason))
                    .await;
            }
            Admit::Held => {}
            Admit::Overflow(a) => {
                let reason = format!(
                    "the rate limit ({} per minute) is holding {MAX_HELD} alerts already",
                    self.policy.per_minute
                );
                tracing::warn!(
                    sink = self.sink.name(),
                    "alert {} skipped: {reason}",
                    a.alert_id
                );
                self.record(&[&a.alert_id], DeliveryOutcome::Skipped(reason))
                    .await;
            }
        }
    }

    /// Delivers `alerts` as one notice (a summary when there are several) and records the
    /// outcome for each of them. Cut short when the stop deadline passes: then they are
    /// skipped, with the last failed attempt's error if there was one.
    async fn deliver(&self, alerts: Vec<AlertRecord>, stop: &mut Stop) {
        let notice = match alerts.as_slice() {
            [one] => Notice::of(one.clone()),
            many => match Notice::summary(many, self.policy.per_minute) {
                Some(n) => n,
                None => return,
            },
        };
        let mut last_error = None;
        let result = tokio::select! {
            biased;
            () = stop.passed() => None,
            r = attempts(&self.sink, &notice, &self.policy, &mut last_error) => Some(r),
        };
        let outcome = match result {
            Some(Ok(())) => DeliveryOutcome::Sent,
            Some(Err(e)) => DeliveryOutcome::Failed(e),
            None => DeliveryOutcome::Skipped(match last_error {
                Some(e) => format!("{STOPPED} (the last attempt failed: {e})"),
                None => format!("{STOPPED} (no answer yet from the sink)"),
            }),
        };
        let ids: Vec<&str> = alerts.iter().map(|a| a.alert_id.as_str()).collect();
        self.record(&ids, outcome).await;
    }
}

/// What a sink's task does next.
enum Step {
    /// The stop deadline has passed.
    Stop,
    Alert(AlertRecord),
    /// The engine stopped and this sink's queue is empty.
    Closed,
    /// Alerts held by the rate limit may go.
    Due,
}

/// One sink: gate, deliver with retries, record; at shutdown, record what is left.
async fn lane(
    sink: Arc<Sink>,
    rx: flume::Receiver<AlertRecord>,
    policy: DeliveryPolicy,
    report: Reporter,
    shown: Arc<AtomicBool>,
    mut stop: Stop,
) {
    let mut gate: Gate<AlertRecord> = Gate::new(policy.dedupe, policy.per_minute, MAX_HELD);
    let ctx = LaneCtx {
        sink,
        policy,
        report,
        shown,
    };
    let mut open = true;
    loop {
        let due = gate.due(Instant::now().into_std()).map(Instant::from_std);
        if !open {
            // The engine stopped and the queue is empty: what the rate limit holds goes out
            // if its window opens before the deadline; else there is nothing to wait for.
            match (due, stop.deadline()) {
                (None, _) => break,
                (Some(at), Some(end)) if at > end => break,
                _ => {}
            }
        }
        let step = tokio::select! {
            biased;
            () = stop.passed() => Step::Stop,
            m = rx.recv_async(), if open => m.map_or(Step::Closed, Step::Alert),
            () = sleep_until(due), if due.is_some() => Step::Due,
        };
        match step {
            Step::Stop => break,
            Step::Alert(alert) => ctx.admit(&mut gate, alert, &mut stop).await,
            Step::Closed => open = false,
            Step::Due => {
                if let Some(held) = gate.release(Instant::now().into_std()) {
                    ctx.deliver(held, &mut stop).await;
                }
            }
        }
    }
    // Out of time (or nothing left): everything still queued or held is skipped.
    let queued: Vec<AlertRecord> = rx.drain().collect();
    let held = gate.take_held();
    if !queued.is_empty() {
        let ids: Vec<&str> = queued.iter().map(|a| a.alert_id.as_str()).collect();
        tracing::warn!(
            sink = ctx.sink.name(),
            "{} queued alerts not sent: tickwatch stopped",
            ids.len()
        );
        ctx.record(&ids, DeliveryOutcome::Skipped(STOPPED.into()))
            .await;
    }
    if !held.is_empty() {
        let ids: Vec<&str> = held.iter().map(|a| a.alert_id.as_str()).collect();
        tracing::warn!(
            sink = ctx.sink.name(),
            "{} alerts held by the rate limit not sent: tickwatch stopped",
            ids.len()
        );
        let reason = format!("{STOPPED} (held by the rate limit)");
        ctx.record(&ids, DeliveryOutcome::Skipped(reason)).await;
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

/// Delivers with up to `policy.attempts` tries for transient failures, waiting `backoff`,
/// then 4 times longer before each further try, or longer when the sink's server asked for a
/// longer wait (`Retry-After`).
pub async fn deliver_with_retry(
    sink: &Sink,
    notice: &Notice,
    policy: &DeliveryPolicy,
) -> Result<(), String> {
    attempts(sink, notice, policy, &mut None).await
}

/// [`deliver_with_retry`], keeping each failed attempt's error in `last_error` so that a
/// caller that cuts it short can say what had happened so far.
async fn attempts(
    sink: &Sink,
    notice: &Notice,
    policy: &DeliveryPolicy,
    last_error: &mut Option<String>,
) -> Result<(), String> {
    let attempts = policy.attempts.max(1);
    let mut wait = policy.backoff;
    let mut attempt = 1;
    loop {
        match sink.deliver(notice).await {
            Ok(()) => return Ok(()),
            Err(e) if e.transient && attempt < attempts => {
                // the server's own wait (Retry-After) when it asks for longer than ours
                let now = wait.max(e.retry_after.unwrap_or_default());
                tracing::debug!(
                    sink = sink.name(),
                    attempt,
                    "delivery failed, retrying in {now:?}: {e}"
                );
                *last_error = Some(e.message);
                tokio::time::sleep(now).await;
                wait = wait.saturating_mul(4);
                attempt += 1;
            }
            Err(e) if attempt > 1 => {
                return Err(format!("{} (after {attempt} attempts)", e.message));
            }
            Err(e) => return Err(e.message),
        }
    }
}
