//! Delivers fired alerts off the hot path. Each sink runs in its own task behind a bounded
//! queue, so a slow or hanging sink delays nobody: not the engine (a full queue drops the
//! alert for that sink, counted and stored), not the other sinks.
//!
//! Per sink, in order: dedupe and rate limit ([`crate::alerts::sinks::gate`]), then delivery
//! with retries for transient failures (`attempts`, waiting `backoff`, then 4 times longer each
//! time). Every outcome is stored as a [`DeliveryRecord`] with the alert (sink names
//! "desktop", "terminal", "webhook:NAME", "email", "command:NAME"); a failure is counted in
//! `deliveries_failed` and shown on the health board under the sink's name until the next
//! success. Alerts the dedupe skips are stored as "skipped: ..." (not counted as failures);
//! alerts the rate limit holds go out together as one summary and share its outcome.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::alerts::sinks::gate::{Admit, Gate};
use crate::alerts::sinks::terminal::TerminalOut;
use crate::alerts::sinks::{Notice, Sink, SinkSpec};
use crate::pipeline::{HealthBoard, PipelineStats, SourceState};
use crate::store::{AlertRecord, DeliveryRecord, StoreBatch, StoreSender};

/// Retry, dedupe, rate limit and queue size, shared by every sink.
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
    /// Alerts waiting per sink before new ones are dropped.
    pub queue: usize,
}

impl Default for DeliveryPolicy {
    fn default() -> Self {
        DeliveryPolicy {
            attempts: 3,
            backoff: Duration::from_secs(1),
            dedupe: Duration::from_secs(15),
            per_minute: 10,
            queue: 64,
        }
    }
}

/// The sinks to deliver to and how.
#[derive(Debug, Clone, Default)]
pub struct NotifyConfig {
    pub sinks: Vec<SinkSpec>,
    pub policy: DeliveryPolicy,
}

/// Alerts the rate limit may hold per sink before more are dropped (counted and stored).
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

/// What happened to alerts at one sink.
enum Outcome<'a> {
    Delivered,
    Failed(&'a str),
    /// Not delivered on purpose (dedupe): stored, not counted as a failure.
    Skipped(&'a str),
}

impl Reporter {
    fn record(&self, sink: &str, shown: &AtomicBool, ids: &[&str], outcome: Outcome<'_>) {
        let result = match outcome {
            Outcome::Delivered => {
                if shown.swap(false, Ordering::Relaxed) {
                    self.health.set(sink, SourceState::Live);
                }
                Ok(())
            }
            Outcome::Failed(reason) => {
                PipelineStats::add(&self.stats.deliveries_failed, ids.len() as u64);
                tracing::warn!(
                    sink,
                    alerts = ids.len(),
                    "alert not delivered: {reason} ({})",
                    ids.first().copied().unwrap_or_default()
                );
                shown.store(true, Ordering::Relaxed);
                self.health
                    .set(sink, SourceState::Failed(reason.to_string()));
                Err(reason.to_string())
            }
            Outcome::Skipped(reason) => {
                tracing::debug!(sink, "alert skipped: {reason}");
                Err(reason.to_string())
            }
        };
        let Some(tx) = &self.store else { return };
        let batch = StoreBatch {
            deliveries: ids
                .iter()
                .map(|id| DeliveryRecord {
                    alert_id: id.to_string(),
                    sink: sink.to_string(),
                    result: result.clone(),
                })
                .collect(),
            ..Default::default()
        };
        if tx.try_send(batch).is_err() {
            PipelineStats::add(&self.stats.store_dropped, ids.len() as u64);
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

/// Runs until the alert channel closes (the engine stopped), then lets each sink finish what
/// it has queued.
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
    let lanes: Vec<Lane> = cfg
        .sinks
        .iter()
        .map(|spec| {
            let sink = Arc::new(Sink::build(spec));
            let (tx, lane_rx) = flume::bounded(cfg.policy.queue.max(1));
            let shown = Arc::new(AtomicBool::new(false));
            let task = tokio::spawn(lane(
                sink.clone(),
                lane_rx,
                cfg.policy.clone(),
                report.clone(),
                shown.clone(),
            ));
            Lane {
                sink,
                tx,
                shown,
                task,
            }
        })
        .collect();
    while let Ok(alert) = rx.recv_async().await {
        for l in &lanes {
            if !l.sink.wants(alert.severity) {
                continue;
            }
            let id = alert.alert_id.clone();
            if l.tx.try_send(alert.clone()).is_err() {
                let reason = format!(
                    "dropped: {} alerts already waiting for this sink",
                    cfg.policy.queue
                );
                report.record(l.sink.name(), &l.shown, &[&id], Outcome::Failed(&reason));
            }
        }
    }
    let mut tasks = Vec::new();
    for l in lanes {
        drop(l.tx);
        tasks.push(l.task);
    }
    for t in tasks {
        let _ = t.await;
    }
}

/// The dedupe key: rule, venue and symbol.
fn dedupe_key(a: &AlertRecord) -> String {
    format!("{}\u{1f}{}\u{1f}{}", a.rule, a.key.venue, a.key.symbol)
}

/// One sink: gate, deliver with retries, record.
async fn lane(
    sink: Arc<Sink>,
    rx: flume::Receiver<AlertRecord>,
    policy: DeliveryPolicy,
    report: Reporter,
    shown: Arc<AtomicBool>,
) {
    let mut gate: Gate<AlertRecord> = Gate::new(policy.dedupe, policy.per_minute, MAX_HELD);
    let name = sink.name().to_string();
    loop {
        let now = tokio::time::Instant::now();
        let due = gate.due(now.into_std()).map(tokio::time::Instant::from_std);
        let next = tokio::select! {
            m = rx.recv_async() => m.ok(),
            () = sleep_until(due), if due.is_some() => {
                let now = tokio::time::Instant::now().into_std();
                if let Some(held) = gate.release(now) {
                    deliver_batch(&sink, held, &policy, &report, &shown).await;
                }
                continue;
            }
        };
        let Some(alert) = next else { break };
        let now = tokio::time::Instant::now().into_std();
        match gate.offer(&dedupe_key(&alert), alert, now) {
            Admit::Send(a) => deliver_batch(&sink, vec![a], &policy, &report, &shown).await,
            Admit::Duplicate { item, since } => {
                let reason = format!(
                    "skipped: the same rule on {} was delivered {} s ago (dedupe_secs = {})",
                    item.key.symbol,
                    since.as_secs(),
                    policy.dedupe.as_secs()
                );
                report.record(&name, &shown, &[&item.alert_id], Outcome::Skipped(&reason));
            }
            Admit::Held => {}
            Admit::Overflow(a) => {
                let reason = format!(
                    "dropped: the rate limit ({} per minute) is holding {MAX_HELD} alerts already",
                    policy.per_minute
                );
                report.record(&name, &shown, &[&a.alert_id], Outcome::Failed(&reason));
            }
        }
    }
    // The engine stopped: whatever the rate limit still holds goes out now if the window
    // allows, else it is recorded as not sent.
    let now = tokio::time::Instant::now().into_std();
    if let Some(held) = gate.release(now) {
        deliver_batch(&sink, held, &policy, &report, &shown).await;
    }
    let left = gate.take_held();
    if !left.is_empty() {
        let ids: Vec<&str> = left.iter().map(|a| a.alert_id.as_str()).collect();
        report.record(
            &name,
            &shown,
            &ids,
            Outcome::Failed("not sent: tickwatch stopped while the rate limit held it"),
        );
    }
}

async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(t) => tokio::time::sleep_until(t).await,
        None => std::future::pending().await,
    }
}

/// Delivers `alerts` as one notice (a summary when there are several) and records the
/// outcome for each of them.
async fn deliver_batch(
    sink: &Sink,
    alerts: Vec<AlertRecord>,
    policy: &DeliveryPolicy,
    report: &Reporter,
    shown: &AtomicBool,
) {
    let notice = match alerts.as_slice() {
        [one] => Notice::of(one.clone()),
        many => match Notice::summary(many, policy.per_minute) {
            Some(n) => n,
            None => return,
        },
    };
    let result = deliver_with_retry(sink, &notice, policy).await;
    let ids: Vec<&str> = alerts.iter().map(|a| a.alert_id.as_str()).collect();
    match result {
        Ok(()) => report.record(sink.name(), shown, &ids, Outcome::Delivered),
        Err(e) => report.record(sink.name(), shown, &ids, Outcome::Failed(&e)),
    }
}

/// Delivers with up to `policy.attempts` tries for transient failures, waiting `backoff`,
/// then 4 times longer before each further try.
pub async fn deliver_with_retry(
    sink: &Sink,
    notice: &Notice,
    policy: &DeliveryPolicy,
) -> Result<(), String> {
    let attempts = policy.attempts.max(1);
    let mut wait = policy.backoff;
    let mut attempt = 1;
    loop {
        match sink.deliver(notice).await {
            Ok(()) => return Ok(()),
            Err(e) if e.transient && attempt < attempts => {
                tracing::debug!(
                    sink = sink.name(),
                    attempt,
                    "delivery failed, retrying in {wait:?}: {e}"
                );
                tokio::time::sleep(wait).await;
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
