//! The storage thread: owns the connection, takes batches from a bounded channel, merges what is
//! queued into one transaction and commits strictly in arrival order, so the database always
//! holds a prefix of what was sent.
//!
//! The thread writes through the store interface ([`BatchStore`]), so it serves SQLite and
//! PostgreSQL alike. Failures, by kind: a locked database is retried with backoff, then the
//! batch is dropped and counted. A server that went away (PostgreSQL stopped or restarted) is
//! an outage, not a failure: the batch is kept, the thread reconnects with backoff and writes
//! it then, and meanwhile the engine waits behind the bounded queue (so a live feed drops at the
//! ring, counted, and refills by trade id once storage resumes). A database that cannot be written at all (disk full, read-only, I/O error, damaged
//! file) is not retried batch by batch: a headless command (`fail_fast`) stops storing at once
//! and reports it (the command then ends with an error); the monitor carries on in memory,
//! counts what it does not store, and tries the database again every `probe_every`. At a stop,
//! writing ends at the [`StopClock`]'s storage deadline and what is left is counted.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::Context;

use super::backend::{BatchStore, FailureKind, WriteFailure, open_batch_store};
use super::{Location, StoreError, WriteCounts};
use crate::domain::OutputBatch;
use crate::domain::now_ms;
use crate::pipeline::{HealthBoard, PipelineStats, SourceState, StopClock};

/// The name of the storage entry on the health board (status bar).
pub const HEALTH_NAME: &str = "db";

/// Tuning of the writer; [`WriterConfig::default`] is what the commands use.
#[derive(Debug, Clone)]
pub struct WriterConfig {
    /// Capacity of the channel, in batches. When full, `try_send` hands the batch back.
    pub channel_batches: usize,
    /// A transaction takes queued batches until it holds this many rows...
    pub max_txn_rows: u64,
    /// ...or this long has passed since its first batch arrived.
    pub max_txn_delay: Duration,
    /// Attempts at one batch before it is dropped and counted.
    pub max_attempts: u32,
    /// Wait after the first failed attempt; doubles up to `backoff_max`.
    pub backoff_start: Duration,
    pub backoff_max: Duration,
    /// A database that cannot be written ends storing for good (headless commands); otherwise
    /// the writer runs on without it and probes it again every `probe_every`.
    pub fail_fast: bool,
    pub probe_every: Duration,
}

impl Default for WriterConfig {
    fn default() -> Self {
        WriterConfig {
            channel_batches: 8,
            max_txn_rows: 50_000,
            max_txn_delay: Duration::from_millis(50),
            max_attempts: 5,
            backoff_start: Duration::from_millis(250),
            backoff_max: Duration::from_secs(5),
            fail_fast: false,
            probe_every: Duration::from_secs(30),
        }
    }
}

/// What the writer did over its life, returned by [`StoreWriter::close`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreSummary {
    /// Trade rows committed (including ones already in the database, see `duplicate_trades`).
    pub trades: u64,
    /// Trades that were already stored (a replay of the same data) and left as they were.
    pub duplicate_trades: u64,
    pub candles: u64,
    pub indicator_values: u64,
    pub alerts: u64,
    pub deliveries: u64,
    pub transactions: u64,
    /// Rows given up on after `max_attempts` failed writes (also in `store_dropped`).
    pub dropped_rows: u64,
    /// Failed write attempts, including ones that succeeded on retry.
    pub failed_attempts: u64,
    /// Times the server went away (PostgreSQL), and how long the outages lasted in all.
    pub outages: u64,
    pub outage_ms: u64,
    /// Rows still queued when the stop's storage deadline passed (also in `dropped_rows`).
    pub unwritten_at_stop: u64,
    /// The error that made the writer drop rows, if any: a headless command exits non-zero
    /// when this is `Some`.
    pub last_error: Option<String>,
}

enum Msg {
    Batch(OutputBatch),
    /// Flush what is queued and stop.
    Close,
}

/// The handle of the storage thread. Dropping it without [`close`](Self::close) still flushes.
pub struct StoreWriter {
    tx: flume::Sender<Msg>,
    stats: Arc<PipelineStats>,
    handle: Option<JoinHandle<StoreSummary>>,
    shown: String,
    failure: Failure,
}

/// A cloneable sending end of the storage channel.
#[derive(Clone)]
pub struct StoreSender {
    tx: flume::Sender<Msg>,
    stats: Arc<PipelineStats>,
}

/// Why a database cannot be written any more, once it is known (shared with the commands, so
/// that a headless one stops promptly instead of dropping its input).
pub type Failure = Arc<std::sync::OnceLock<String>>;

impl StoreSender {
    /// Queues a batch without waiting. When the channel is full or the writer has stopped, the
    /// batch comes back: the caller keeps it for later or drops and counts it.
    // The batch itself comes back (to spill and retry): boxing it would cost an allocation
    // per send on the hot path to shrink an error that is rare.
    #[allow(clippy::result_large_err)]
    pub fn try_send(&self, batch: OutputBatch) -> Result<(), OutputBatch> {
        let rows = batch.rows();
        // Counted before the send so that the writer never subtracts rows not yet added.
        PipelineStats::add(&self.stats.store_pending, rows);
        self.tx.try_send(Msg::Batch(batch)).map_err(|e| {
            PipelineStats::sub(&self.stats.store_pending, rows);
            unwrap_batch(e.into_inner())
        })
    }

    /// Queues a batch, waiting for room (replay and simulator, which can pause). Fails only
    /// when the writer has stopped.
    #[allow(clippy::result_large_err)]
    pub fn send_blocking(&self, batch: OutputBatch) -> Result<(), OutputBatch> {
        let rows = batch.rows();
        PipelineStats::add(&self.stats.store_pending, rows);
        self.tx.send(Msg::Batch(batch)).map_err(|e| {
            PipelineStats::sub(&self.stats.store_pending, rows);
            unwrap_batch(e.into_inner())
        })
    }

    /// Queues a batch, waiting at most `wait` for room. On failure the batch comes back with
    /// whether the writer is gone (true) or only busy (false).
    #[allow(clippy::result_large_err)]
    pub fn send_timeout(
        &self,
        batch: OutputBatch,
        wait: Duration,
    ) -> Result<(), (OutputBatch, bool)> {
        let rows = batch.rows();
        PipelineStats::add(&self.stats.store_pending, rows);
        self.tx.send_timeout(Msg::Batch(batch), wait).map_err(|e| {
            PipelineStats::sub(&self.stats.store_pending, rows);
            match e {
                flume::SendTimeoutError::Timeout(m) => (unwrap_batch(m), false),
                flume::SendTimeoutError::Disconnected(m) => (unwrap_batch(m), true),
            }
        })
    }

    /// Queues a batch from async code, waiting for room without holding up a thread: for what
    /// must never be dropped (delivery outcomes). The writer always drains, so the wait is
    /// bounded by its transactions. Fails only when the writer has stopped.
    #[allow(clippy::result_large_err)]
    pub async fn send_async(&self, batch: OutputBatch) -> Result<(), OutputBatch> {
        let rows = batch.rows();
        PipelineStats::add(&self.stats.store_pending, rows);
        self.tx.send_async(Msg::Batch(batch)).await.map_err(|e| {
            PipelineStats::sub(&self.stats.store_pending, rows);
            unwrap_batch(e.into_inner())
        })
    }

    /// Batches queued and not yet taken by the writer.
    pub fn pending_batches(&self) -> usize {
        self.tx.len()
    }
}

fn unwrap_batch(msg: Msg) -> OutputBatch {
    match msg {
        Msg::Batch(b) => b,
        Msg::Close => OutputBatch::default(),
    }
}

impl StoreWriter {
    /// Opens and migrates the database now (so that read-only, locked or newer-schema files are
    /// reported to the caller), then starts the storage thread.
    pub fn spawn(
        path: &Path,
        stats: Arc<PipelineStats>,
        health: HealthBoard,
    ) -> Result<StoreWriter, StoreError> {
        Self::spawn_with(
            path,
            stats,
            health,
            WriterConfig::default(),
            StopClock::default(),
        )
    }

    /// [`spawn_at`](Self::spawn_at) for an SQLite file.
    pub fn spawn_with(
        path: &Path,
        stats: Arc<PipelineStats>,
        health: HealthBoard,
        config: WriterConfig,
        stop: StopClock,
    ) -> Result<StoreWriter, StoreError> {
        Self::spawn_at(
            &Location::Sqlite(path.to_path_buf()),
            stats,
            health,
            config,
            stop,
        )
    }

    /// Opens and migrates the database at `at` (a file or a PostgreSQL server) now, so that
    /// what is wrong with it is reported to the caller, then starts the storage thread.
    pub fn spawn_at(
        at: &Location,
        stats: Arc<PipelineStats>,
        health: HealthBoard,
        config: WriterConfig,
        stop: StopClock,
    ) -> Result<StoreWriter, StoreError> {
        let store = match open_batch_store(at) {
            Ok(c) => c,
            Err(e) => {
                health.set(HEALTH_NAME, SourceState::Failed(e.to_string()));
                return Err(e);
            }
        };
        let shown = at.describe();
        health.set_detail(HEALTH_NAME, Some(shown.clone()));
        health.set(HEALTH_NAME, SourceState::Live);
        let (tx, rx) = flume::bounded(config.channel_batches.max(1));
        let failure = Failure::default();
        let mut worker = Worker {
            store,
            rx,
            stats: stats.clone(),
            health,
            config,
            summary: StoreSummary::default(),
            failure: failure.clone(),
            stop: stop.clone(),
            unwritable: None,
            maintained: Instant::now(),
        };
        let handle = std::thread::Builder::new()
            .name("tickwatch-store".into())
            .spawn(move || {
                worker.run();
                worker.summary
            })
            .map_err(|source| StoreError::Io {
                path: PathBuf::from(&shown),
                source,
            })?;
        Ok(StoreWriter {
            tx,
            stats,
            handle: Some(handle),
            shown,
            failure,
        })
    }

    /// Why the database cannot be written, once a write found it so (with `fail_fast`, the
    /// writer has stopped storing then).
    pub fn failure(&self) -> Failure {
        self.failure.clone()
    }

    pub fn sender(&self) -> StoreSender {
        StoreSender {
            tx: self.tx.clone(),
            stats: self.stats.clone(),
        }
    }

    /// The database's path or URL (without password), for messages.
    pub fn shown(&self) -> &str {
        &self.shown
    }

    /// Commits everything queued before this call and stops the thread. Batches sent by other
    /// senders afterwards come back to them as refused.
    pub fn close(mut self) -> anyhow::Result<StoreSummary> {
        self.finish()
            .with_context(|| format!("closing database {}", self.shown))
    }

    fn finish(&mut self) -> anyhow::Result<StoreSummary> {
        let Some(handle) = self.handle.take() else {
            anyhow::bail!("the storage writer was already closed");
        };
        // A send error means the thread is gone already; join says why. The writer empties
        // its queue meanwhile (writing, or counting at the stop's deadline), so this wait ends.
        let _ = self.tx.send(Msg::Close);
        handle
            .join()
            .map_err(|_| anyhow::anyhow!("the storage thread panicked; see the log file"))
    }
}

impl Drop for StoreWriter {
    fn drop(&mut self) {
        if self.handle.is_some()
            && let Err(e) = self.finish()
        {
            tracing::error!("storage writer: {e:#}");
        }
    }
}

/// Why rows were counted as not written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Lost {
    Stopped,
    Unwritable,
}

/// How often the storage thread does its backend's upkeep (partitions, retention).
const MAINTAIN_EVERY: Duration = Duration::from_secs(60);

struct Worker {
    store: Box<dyn BatchStore>,
    rx: flume::Receiver<Msg>,
    stats: Arc<PipelineStats>,
    health: HealthBoard,
    config: WriterConfig,
    summary: StoreSummary,
    failure: Failure,
    stop: StopClock,
    /// The database cannot be written: why, and when to try it again (never with fail_fast).
    unwritable: Option<(String, Option<Instant>)>,
    /// When the backend's upkeep last ran.
    maintained: Instant,
}

impl Worker {
    fn run(&mut self) {
        let mut closing = false;
        loop {
            let first = if closing {
                self.rx.try_recv().ok()
            } else {
                self.rx.recv().ok()
            };
            let Some(first) = first else { break };
            if self.maintained.elapsed() >= MAINTAIN_EVERY {
                self.store.maintain();
                self.maintained = Instant::now();
            }
            let mut group = Vec::new();
            let mut rows = 0;
            match first {
                Msg::Batch(b) => {
                    rows += b.rows();
                    group.push(b);
                }
                Msg::Close => {
                    closing = true;
                    continue;
                }
            }
            let deadline = Instant::now() + self.config.max_txn_delay;
            while rows < self.config.max_txn_rows {
                let next = if closing {
                    self.rx.try_recv().ok()
                } else {
                    self.rx.recv_deadline(deadline).ok()
                };
                match next {
                    Some(Msg::Batch(b)) => {
                        rows += b.rows();
                        group.push(b);
                    }
                    Some(Msg::Close) => closing = true,
                    None => break,
                }
            }
            self.commit_group(group);
        }
        if self.summary.unwritten_at_stop > 0 {
            let msg = format!(
                "{} rows not written: the stop's deadline ({} s) passed before the database caught up",
                self.summary.unwritten_at_stop,
                StopClock::STORE.as_secs()
            );
            tracing::error!("storage: {msg}");
            self.summary.last_error = Some(msg);
        }
        // Returning drops the receiver: senders that outlive the writer get their batches back.
    }

    /// Commits the group in one transaction; if that fails, commits its batches one by one so
    /// that one bad batch neither blocks nor takes down the others, and order is kept.
    fn commit_group(&mut self, group: Vec<OutputBatch>) {
        if self.stop.passed(StopClock::STORE) {
            return self.not_written(&group, Lost::Stopped);
        }
        if let Some((_, probe)) = &self.unwritable
            && probe.is_none_or(|t| Instant::now() < t)
        {
            return self.not_written(&group, Lost::Unwritable);
        }
        match self.store.write(&group) {
            Ok(counts) => return self.committed(&group, counts),
            Err(f) if f.kind == FailureKind::Unwritable => {
                return self.became_unwritable(&f.reason, &group);
            }
            Err(f) if f.kind == FailureKind::Disconnected => return self.outage(group, f),
            Err(f) => {
                self.summary.failed_attempts += 1;
                tracing::warn!(
                    "storage: transaction of {} batches failed: {}",
                    group.len(),
                    f.reason
                );
            }
        }
        for batch in group {
            self.commit_with_retry(batch);
        }
    }

    fn commit_with_retry(&mut self, batch: OutputBatch) {
        let group = [batch];
        // a batch before it found the database unwritable: a headless command stores nothing
        // more (the database stays a prefix of the input); the monitor waits for its probe
        if let Some((_, probe)) = &self.unwritable
            && probe.is_none_or(|t| Instant::now() < t)
        {
            return self.not_written(&group, Lost::Unwritable);
        }
        let mut backoff = self.config.backoff_start;
        let max = self.config.max_attempts.max(1);
        for attempt in 1..=max {
            if self.stop.passed(StopClock::STORE) {
                return self.not_written(&group, Lost::Stopped);
            }
            match self.store.write(&group) {
                Ok(counts) => return self.committed(&group, counts),
                Err(f) if f.kind == FailureKind::Unwritable => {
                    return self.became_unwritable(&f.reason, &group);
                }
                Err(f) if f.kind == FailureKind::Disconnected => {
                    let [batch] = group;
                    return self.outage(vec![batch], f);
                }
                Err(f) => {
                    self.summary.failed_attempts += 1;
                    let reason = f.reason;
                    if attempt == max {
                        return self.dropped(&group[0], reason);
                    }
                    self.health.set(
                        HEALTH_NAME,
                        SourceState::Failed(format!(
                            "{reason}; retrying in {} ms (attempt {attempt} of {max})",
                            backoff.as_millis(),
                        )),
                    );
                    // never sleep past the stop's deadline
                    let wait = match self.stop.deadline(StopClock::STORE) {
                        Some(d) => backoff.min(d.saturating_duration_since(Instant::now())),
                        None => backoff,
                    };
                    std::thread::sleep(wait);
                    backoff = (backoff * 2).min(self.config.backoff_max);
                }
            }
        }
    }

    /// A write found the database unwritable (disk full, read-only, damaged): no retries.
    fn became_unwritable(&mut self, reason: &str, group: &[OutputBatch]) {
        self.summary.failed_attempts += 1;
        let reason = reason.to_string();
        let first = self.unwritable.is_none();
        if self.config.fail_fast {
            let _ = self.failure.set(reason.clone());
            self.unwritable = Some((reason.clone(), None));
            if first {
                self.health.set(
                    HEALTH_NAME,
                    SourceState::Failed(format!("{reason}: nothing more is stored")),
                );
            }
        } else {
            let every = self.config.probe_every;
            self.unwritable = Some((reason.clone(), Some(Instant::now() + every)));
            if first {
                self.health.set(
                    HEALTH_NAME,
                    SourceState::Failed(format!(
                        "{reason}: running in memory, nothing is stored; trying again every {} s",
                        every.as_secs()
                    )),
                );
            }
        }
        if first {
            tracing::error!("storage: {reason}; the database cannot be written");
        }
        self.summary.last_error = Some(reason);
        self.not_written(group, Lost::Unwritable);
    }

    /// The server went away: keeps `group`, reconnects with backoff and writes it once the server
    /// is back. Nothing is dropped here; the queue behind stays bounded because the engine waits
    /// for it. Ends (counting the rows as unwritten) only at the stop's storage deadline.
    fn outage(&mut self, group: Vec<OutputBatch>, first: WriteFailure) {
        let began = Instant::now();
        let rows: u64 = group.iter().map(OutputBatch::rows).sum();
        let mut reason = first.reason;
        let mut backoff = self.config.backoff_start;
        let mut attempt: u32 = 0;
        self.summary.failed_attempts += 1;
        self.summary.outages += 1;
        tracing::warn!(
            "storage: {reason}; holding {rows} rows (and the engine behind them) and reconnecting"
        );
        loop {
            if self.stop.passed(StopClock::STORE) {
                tracing::error!(
                    "storage: still unreachable at the stop ({reason}); {rows} rows not written"
                );
                self.summary.last_error = Some(reason);
                return self.not_written(&group, Lost::Stopped);
            }
            attempt += 1;
            let waiting = PipelineStats::get(&self.stats.store_pending);
            self.health.set(
                HEALTH_NAME,
                SourceState::Reconnecting {
                    at_ms: now_ms() + i64::try_from(backoff.as_millis()).unwrap_or(0),
                    attempt,
                    reason: format!(
                        "{reason}; {waiting} rows waiting, down {} s",
                        began.elapsed().as_secs()
                    ),
                },
            );
            let wait = match self.stop.deadline(StopClock::STORE) {
                Some(d) => backoff.min(d.saturating_duration_since(Instant::now())),
                None => backoff,
            };
            std::thread::sleep(wait);
            backoff = (backoff * 2).min(self.config.backoff_max);
            if let Err(f) = self.store.reconnect() {
                reason = f.reason;
                continue;
            }
            match self.store.write(&group) {
                Ok(counts) => {
                    tracing::warn!(
                        "storage: reconnected after {:.1} s; the {rows} rows held were written",
                        began.elapsed().as_secs_f64()
                    );
                    self.summary.outage_ms +=
                        u64::try_from(began.elapsed().as_millis()).unwrap_or(0);
                    return self.committed(&group, counts);
                }
                Err(f) if f.kind == FailureKind::Disconnected => reason = f.reason,
                Err(f) if f.kind == FailureKind::Unwritable => {
                    return self.became_unwritable(&f.reason, &group);
                }
                Err(f) => {
                    tracing::warn!("storage: after reconnecting: {}", f.reason);
                    for batch in group {
                        self.commit_with_retry(batch);
                    }
                    return;
                }
            }
        }
    }

    /// Counts rows that were not written, without trying.
    fn not_written(&mut self, group: &[OutputBatch], why: Lost) {
        let rows: u64 = group.iter().map(OutputBatch::rows).sum();
        PipelineStats::sub(&self.stats.store_pending, rows);
        PipelineStats::add(&self.stats.store_dropped, rows);
        self.summary.dropped_rows += rows;
        if why == Lost::Stopped {
            self.summary.unwritten_at_stop += rows;
        }
    }

    fn committed(&mut self, group: &[OutputBatch], counts: WriteCounts) {
        let rows: u64 = group.iter().map(OutputBatch::rows).sum();
        let s = &mut self.summary;
        s.transactions += 1;
        s.trades += counts.trades - counts.skipped_trades;
        s.duplicate_trades += counts.duplicate_trades;
        s.candles += counts.candles;
        s.indicator_values += counts.indicator_values;
        s.alerts += counts.alerts;
        s.deliveries += counts.deliveries;
        PipelineStats::sub(&self.stats.store_pending, rows);
        PipelineStats::add(&self.stats.store_written, rows - counts.skipped_trades);
        if counts.skipped_trades > 0 {
            let reason = format!(
                "{} trades skipped: trade id above {} does not fit the database",
                counts.skipped_trades,
                i64::MAX
            );
            PipelineStats::add(&self.stats.store_dropped, counts.skipped_trades);
            s.dropped_rows += counts.skipped_trades;
            self.health.record_error(HEALTH_NAME, reason.clone());
            s.last_error = Some(reason);
        }
        if let Some((reason, _)) = self.unwritable.take() {
            tracing::warn!(
                "storage: the database can be written again ({reason} before); {} rows were not stored meanwhile",
                s.dropped_rows
            );
        }
        self.health.set(HEALTH_NAME, SourceState::Live);
        self.health.touch(HEALTH_NAME, now_ms());
    }

    fn dropped(&mut self, batch: &OutputBatch, reason: String) {
        let rows = batch.rows();
        let msg = format!(
            "{reason}; gave up after {} attempts and dropped {rows} rows",
            self.config.max_attempts
        );
        tracing::error!("storage: {msg}");
        PipelineStats::sub(&self.stats.store_pending, rows);
        PipelineStats::add(&self.stats.store_dropped, rows);
        self.summary.dropped_rows += rows;
        self.summary.last_error = Some(msg.clone());
        self.health.set(HEALTH_NAME, SourceState::Failed(msg));
    }
}
