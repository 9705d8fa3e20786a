//! The bounded ring between sources and the engine, its overflow policy and the shared counters
//! and source health that the status bar and the `record` log show.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::domain::{MarketEvent, TsMs, now_ms};

/// What a source does when the ring to the engine is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overflow {
    /// Wait for room. For sources that can pause without losing anything (replay, simulator).
    Block,
    /// Drop the batch and count every event in it (`dropped` in the status bar). For live feeds,
    /// which cannot pause the exchange; the count also tells the source a gap needs filling.
    DropNewest,
}

/// A message from sources to the engine.
#[derive(Debug)]
pub enum Ingest {
    Events(Vec<MarketEvent>),
    /// Alerts evaluated elsewhere (a recorder, read from NATS): the engine shows and stores
    /// them, each once, without evaluating anything.
    RemoteAlerts(Vec<crate::domain::AlertRecord>),
    /// Local order books as a source keeps them (top levels and sync state): the engine
    /// evaluates liquidity rules on them and stores snapshots when asked to.
    Books(Vec<crate::domain::BookSnapshot>),
    /// The source has ended (file exhausted, or failed for good). Carries the source name.
    Finished(String),
}

/// Counters shared by every stage; written with relaxed atomics, read by the UI and the logs.
#[derive(Debug, Default)]
pub struct PipelineStats {
    /// Events accepted into the ring.
    pub events_in: AtomicU64,
    /// Events the engine has processed.
    pub events_processed: AtomicU64,
    /// Events dropped because the ring was full (DropNewest sources). Trades among them are
    /// refilled from the venue where it has trade ids; what cannot be is in `trades_lost`.
    pub dropped_ring: AtomicU64,
    /// Events the engine rejected as invalid (NaN or negative prices, bad timestamps...).
    pub rejected: AtomicU64,
    /// Trades that arrived for a candle that was already closed (stored, but not in candles).
    pub late_trades: AtomicU64,
    /// Candle gaps too long to fill with flat candles (each is logged with its span).
    pub candle_gaps: AtomicU64,
    /// Rows handed to the storage thread and not yet committed.
    pub store_pending: AtomicU64,
    /// Rows committed to the database.
    pub store_written: AtomicU64,
    /// Rows that could not be stored (the database failed, or a stop's deadline passed first).
    pub store_dropped: AtomicU64,
    /// Trades known to be lost for good: dropped or missed and not refillable from the venue.
    pub trades_lost: AtomicU64,
    /// Events still queued for the engine when a stop's deadline passed (never processed).
    pub unprocessed_at_stop: AtomicU64,
    /// Alerts fired.
    pub alerts_fired: AtomicU64,
    /// Alerts evaluated elsewhere (read from NATS) and taken in: shown and stored, not fired.
    pub alerts_remote: AtomicU64,
    /// Remote alerts taken in already (same alert_id) and so not shown again.
    pub alerts_remote_repeated: AtomicU64,
    /// Notifications that could not be delivered.
    pub deliveries_failed: AtomicU64,
    /// Events accepted into the ring, per source name.
    pub events_by_source: Tally<String>,
    /// Delivery outcomes per sink name and status (`sent`, `failed`, `skipped`).
    pub deliveries: Tally<(String, &'static str)>,
}

/// Counters by label (a source; a sink and an outcome) for the metrics endpoint. The labels
/// are the configured sources and sinks, so the map stays small; its mutex is held only to add
/// or copy, never across an await.
#[derive(Debug)]
pub struct Tally<K>(Mutex<std::collections::BTreeMap<K, u64>>);

impl<K> Default for Tally<K> {
    fn default() -> Self {
        Tally(Mutex::new(std::collections::BTreeMap::new()))
    }
}

impl<K: Ord + Clone> Tally<K> {
    fn with<R>(&self, f: impl FnOnce(&mut std::collections::BTreeMap<K, u64>) -> R) -> R {
        match self.0.lock() {
            Ok(mut g) => f(&mut g),
            Err(poisoned) => f(&mut poisoned.into_inner()),
        }
    }

    pub fn add(&self, key: K, n: u64) {
        self.with(|m| *m.entry(key).or_default() += n);
    }

    /// Every label with its count, in label order.
    pub fn snapshot(&self) -> Vec<(K, u64)> {
        self.with(|m| m.iter().map(|(k, v)| (k.clone(), *v)).collect())
    }
}

impl Tally<String> {
    /// Adds to `name`'s count, allocating only the first time (the ring's hot path).
    pub fn add_named(&self, name: &str, n: u64) {
        self.with(|m| match m.get_mut(name) {
            Some(v) => *v += n,
            None => {
                m.insert(name.to_string(), n);
            }
        });
    }
}

impl PipelineStats {
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
    pub fn sub(counter: &AtomicU64, n: u64) {
        counter.fetch_sub(n, Ordering::Relaxed);
    }
}

/// A source's state as the user sees it.
#[derive(Debug, Clone, PartialEq)]
pub enum SourceState {
    Connecting,
    /// Receiving data.
    Live,
    /// Waiting to reconnect.
    Reconnecting {
        at_ms: TsMs,
        attempt: u32,
        reason: String,
    },
    /// Told by the venue to wait.
    RateLimited {
        until_ms: TsMs,
    },
    /// Connected but nothing arrived for a while.
    Stale {
        since_ms: TsMs,
    },
    /// Receiving data, but dropping some at a full ring (the engine or the database is behind):
    /// shown for `DROPPING_SHOWN_MS` after the last drop. Only [`effective_state`] makes it.
    Dropping {
        dropped: u64,
    },
    /// Ended normally (a replay that reached the end of its files).
    Finished,
    /// Gave up, with the reason.
    Failed(String),
}

/// Health of one source, as shown in the status bar.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceHealth {
    pub name: String,
    pub state: SourceState,
    pub since_ms: TsMs,
    /// Time of the last event received.
    pub last_event_ms: Option<TsMs>,
    /// The last error, kept after recovery so it can still be read.
    pub last_error: Option<String>,
    pub detail: Option<String>,
    /// A market data source (subject to staleness), as opposed to a service like the database.
    pub is_source: bool,
    /// For a polled source: its next data is due by this time, so it is stale only after it
    /// (instead of after the usual quiet period).
    pub data_due_ms: Option<TsMs>,
    /// Events this source had dropped at a full ring, and when it last did (a live source that
    /// dropped lately is shown as dropping, not as live).
    pub dropped: u64,
    pub last_drop_ms: Option<TsMs>,
}

/// Health of every source. A plain mutex held only to copy or set a field, never across an await.
#[derive(Debug, Default, Clone)]
pub struct HealthBoard {
    inner: Arc<Mutex<Vec<SourceHealth>>>,
    /// Bumped on every change the status bar shows (state, detail, error), so that the screen
    /// redraws at once instead of on its next clock tick: a state that lasts under a second
    /// still reaches it.
    version: Arc<AtomicU64>,
}

impl HealthBoard {
    fn with<R>(&self, f: impl FnOnce(&mut Vec<SourceHealth>) -> R) -> R {
        let mut g = match self.inner.lock() {
            Ok(g) => g,
            Err(poisoned) => poisoned.into_inner(),
        };
        f(&mut g)
    }

    fn entry<'a>(list: &'a mut Vec<SourceHealth>, name: &str) -> &'a mut SourceHealth {
        let idx = match list.iter().position(|h| h.name == name) {
            Some(i) => i,
            None => {
                list.push(SourceHealth {
                    name: name.to_string(),
                    state: SourceState::Connecting,
                    since_ms: now_ms(),
                    last_event_ms: None,
                    last_error: None,
                    detail: None,
                    is_source: false,
                    data_due_ms: None,
                    dropped: 0,
                    last_drop_ms: None,
                });
                list.len() - 1
            }
        };
        &mut list[idx]
    }

    /// Sets a source's state (logged when it changes).
    pub fn set(&self, name: &str, state: SourceState) {
        let state = visible_state(state);
        self.with(|list| {
            let e = Self::entry(list, name);
            if e.state != state {
                match &state {
                    SourceState::Failed(r) => {
                        tracing::error!(source = name, "failed: {r}");
                        e.last_error = Some(r.clone());
                    }
                    SourceState::Reconnecting { reason, .. } => {
                        tracing::warn!(source = name, "{}", describe(&state, now_ms()));
                        e.last_error = Some(reason.clone());
                    }
                    _ => tracing::info!(source = name, "{}", describe(&state, now_ms())),
                }
                e.state = state;
                e.since_ms = now_ms();
                self.bump();
            }
        });
    }

    fn bump(&self) {
        self.version.fetch_add(1, Ordering::Release);
    }

    /// Changes so far; compare with an earlier value to see whether anything shown changed.
    pub fn version(&self) -> u64 {
        self.version.load(Ordering::Acquire)
    }

    /// Marks `name` as a market data source: when live but quiet it is shown as stale.
    pub fn register_source(&self, name: &str) {
        self.with(|list| Self::entry(list, name).is_source = true);
    }

    /// A polled source says when its next data is due (None: judge by the quiet period).
    pub fn expect_data_by(&self, name: &str, due_ms: Option<TsMs>) {
        self.with(|list| Self::entry(list, name).data_due_ms = due_ms);
    }

    pub fn set_detail(&self, name: &str, detail: Option<String>) {
        self.with(|list| {
            let e = Self::entry(list, name);
            if e.detail != detail {
                e.detail = detail;
                self.bump();
            }
        });
    }

    pub fn record_error(&self, name: &str, err: String) {
        let err = crate::format::visible(&err);
        self.with(|list| {
            let e = Self::entry(list, name);
            if e.last_error.as_ref() != Some(&err) {
                e.last_error = Some(err);
                self.bump();
            }
        });
    }

    /// Notes that `name` dropped `n` events at a full ring just now.
    pub fn note_drop(&self, name: &str, n: u64) {
        self.with(|list| {
            let e = Self::entry(list, name);
            e.dropped += n;
            e.last_drop_ms = Some(now_ms());
        });
        self.bump();
    }

    /// Notes that data arrived now.
    pub fn touch(&self, name: &str, ts: TsMs) {
        self.with(|list| Self::entry(list, name).last_event_ms = Some(ts));
    }

    pub fn snapshot(&self) -> Vec<SourceHealth> {
        self.with(|list| list.clone())
    }
}

/// `state` with its reason made safe to print: reasons quote venues (close frames, error
/// messages), and they reach the screen, the log and `record`'s stats line.
fn visible_state(state: SourceState) -> SourceState {
    match state {
        SourceState::Failed(r) => SourceState::Failed(crate::format::visible(&r)),
        SourceState::Reconnecting {
            at_ms,
            attempt,
            reason,
        } => SourceState::Reconnecting {
            at_ms,
            attempt,
            reason: crate::format::visible(&reason),
        },
        other => other,
    }
}

/// The state to show: a source that says it is live but has sent nothing for `stale_after_ms`
/// is shown as stale (a quiet feed is never shown as live).
pub fn effective_state(h: &SourceHealth, now: TsMs, stale_after_ms: TsMs) -> SourceState {
    match h.state {
        SourceState::Live if h.is_source => {
            let last = h.last_event_ms.unwrap_or(h.since_ms).max(h.since_ms);
            if let Some(due) = h.data_due_ms {
                return if now >= due {
                    SourceState::Stale { since_ms: due }
                } else {
                    SourceState::Live
                };
            }
            if now - last >= stale_after_ms {
                SourceState::Stale { since_ms: last }
            } else if h.last_drop_ms.is_some_and(|t| now - t < DROPPING_SHOWN_MS) {
                SourceState::Dropping { dropped: h.dropped }
            } else {
                SourceState::Live
            }
        }
        ref other => other.clone(),
    }
}

/// How long after its last ring drop a live source is shown as dropping.
pub const DROPPING_SHOWN_MS: TsMs = 10_000;

/// What a connected feed session is, from the facts it has (used on its first data and once a
/// second after): stale once nothing has arrived for half its watchdog limit (also before the
/// first data: a connected but silent feed is not "connecting"), rate-limited while its REST
/// client waits out a limit (its start-up fetch is not done, so it is not yet "live"), live
/// once data flow, and connecting until then.
pub fn session_state(
    seen_data: bool,
    silent: std::time::Duration,
    watchdog_limit: std::time::Duration,
    last_data_ms: TsMs,
    rate_limited_until: TsMs,
    now: TsMs,
) -> SourceState {
    if silent >= (watchdog_limit / 2).max(std::time::Duration::from_secs(1)) {
        SourceState::Stale {
            since_ms: last_data_ms,
        }
    } else if rate_limited_until > now {
        SourceState::RateLimited {
            until_ms: rate_limited_until,
        }
    } else if seen_data {
        SourceState::Live
    } else {
        SourceState::Connecting
    }
}

/// One line for a state, as the status bar and the record log show it.
pub fn describe(state: &SourceState, now: TsMs) -> String {
    let secs = |t: TsMs| ((t - now).max(0) as f64 / 1000.0).ceil() as i64;
    match state {
        SourceState::Connecting => "connecting".into(),
        SourceState::Live => "live".into(),
        SourceState::Reconnecting {
            at_ms,
            attempt,
            reason,
        } => {
            format!(
                "{reason}; reconnecting in {} s (attempt {attempt})",
                secs(*at_ms)
            )
        }
        SourceState::RateLimited { until_ms } => {
            format!(
                "rate-limited until {} ({} s)",
                crate::domain::iso8601(*until_ms),
                secs(*until_ms)
            )
        }
        SourceState::Stale { since_ms } => {
            format!("stale for {} s", ((now - since_ms).max(0) / 1000))
        }
        SourceState::Dropping { dropped } => {
            format!("live, dropping: {dropped} events dropped (storage behind; trades refilled)")
        }
        SourceState::Finished => "finished".into(),
        SourceState::Failed(r) => format!("failed: {r}"),
    }
}

/// How long a live feed's batch may wait for room in a full ring before it is dropped: a brief
/// stall of the engine or the disk costs nothing, while the socket is read again soon enough.
pub const RING_GRACE: std::time::Duration = std::time::Duration::from_millis(250);
/// Ring drops are logged at most once per this period per source (with the count since).
const DROP_LOG_EVERY_MS: TsMs = 10_000;

/// The ring's bound in events: sources take permits for what they queue, the engine gives them
/// back once it has processed it. Bounds the ring's memory whatever the batch sizes.
#[derive(Debug, Clone)]
pub struct RingBudget {
    permits: Arc<tokio::sync::Semaphore>,
    max: usize,
}

impl RingBudget {
    pub fn new(events: usize) -> RingBudget {
        let max = events.clamp(1, u32::MAX as usize);
        RingBudget {
            permits: Arc::new(tokio::sync::Semaphore::new(max)),
            max,
        }
    }

    /// Permits for a batch of `n` (a batch larger than the whole budget takes all of it).
    fn need(&self, n: usize) -> u32 {
        n.clamp(1, self.max) as u32
    }

    /// Events the ring can take now.
    pub fn room(&self) -> usize {
        self.permits.available_permits()
    }

    async fn take(&self, n: usize) -> Result<(), EngineGone> {
        match self.permits.acquire_many(self.need(n)).await {
            Ok(p) => {
                p.forget();
                Ok(())
            }
            Err(_) => Err(EngineGone),
        }
    }

    /// The engine is done with a batch of `n` events.
    pub fn give_back(&self, n: usize) {
        self.permits.add_permits(self.need(n) as usize);
    }

    /// The engine has ended: sources waiting for room learn that it is gone.
    pub fn close(&self) {
        self.permits.close();
    }
}

/// The sending end a source gets: applies the overflow policy and counts.
#[derive(Clone)]
pub struct EventSink {
    name: String,
    tx: flume::Sender<Ingest>,
    overflow: Overflow,
    stats: Arc<PipelineStats>,
    health: HealthBoard,
    drops: Arc<DropLog>,
    budget: Option<RingBudget>,
    /// Where local order books are published (sources that keep them).
    books: Option<crate::view::BookBoard>,
}

/// Ring drops of one source since they were last logged.
#[derive(Debug, Default)]
struct DropLog {
    /// Events dropped since the last log line.
    since_log: AtomicU64,
    /// When the last log line was written (0: never).
    logged_ms: std::sync::atomic::AtomicI64,
}

/// The engine has gone away; the source should stop.
#[derive(Debug, thiserror::Error)]
#[error("the engine has stopped")]
pub struct EngineGone;

impl EventSink {
    pub fn new(
        name: impl Into<String>,
        tx: flume::Sender<Ingest>,
        overflow: Overflow,
        stats: Arc<PipelineStats>,
        health: HealthBoard,
    ) -> Self {
        let name = name.into();
        // a market data source: when live but quiet it is shown as stale
        health.register_source(&name);
        EventSink {
            name,
            tx,
            overflow,
            stats,
            health,
            drops: Arc::default(),
            budget: None,
            books: None,
        }
    }

    /// Publishes the local order books this source keeps to `board`.
    pub fn with_books(mut self, board: crate::view::BookBoard) -> Self {
        self.books = Some(board);
        self
    }

    /// Where to publish local order books (None: nobody shows them).
    pub fn books(&self) -> Option<&crate::view::BookBoard> {
        self.books.as_ref()
    }

    /// Bounds what this sink queues by the ring's event budget (shared by every source).
    pub fn with_budget(mut self, budget: RingBudget) -> Self {
        self.budget = Some(budget);
        self
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn health(&self) -> &HealthBoard {
        &self.health
    }

    pub fn stats(&self) -> &Arc<PipelineStats> {
        &self.stats
    }

    /// Sets this source's state on the health board.
    pub fn set_state(&self, state: SourceState) {
        self.health.set(&self.name, state);
    }

    /// Counts trades this source knows it lost for good (missed and not refillable), and keeps
    /// the reason on the health board.
    pub fn trades_lost(&self, n: u64, reason: String) {
        if n == 0 {
            return;
        }
        PipelineStats::add(&self.stats.trades_lost, n);
        tracing::error!(source = %self.name, "{reason}");
        self.health.record_error(&self.name, reason);
    }

    /// Sends a batch under the overflow policy. Returns how many events were dropped (0 or the
    /// batch length), or `EngineGone` when the pipeline is shutting down.
    pub async fn send(&self, events: Vec<MarketEvent>) -> Result<usize, EngineGone> {
        if events.is_empty() {
            return Ok(0);
        }
        // A source that never has to wait (a simulator at full speed, a file) would otherwise
        // keep its worker thread forever, and signals and other sources would starve.
        tokio::task::consume_budget().await;
        let n = events.len();
        self.health.touch(&self.name, now_ms());
        let sent = match self.overflow {
            Overflow::Block => {
                if let Some(b) = &self.budget {
                    b.take(n).await?;
                }
                self.tx.send_async(Ingest::Events(events)).await
            }
            Overflow::DropNewest => {
                // room in the budget and in the channel, within the grace period
                let deadline = tokio::time::Instant::now() + RING_GRACE;
                if let Some(b) = &self.budget {
                    match tokio::time::timeout_at(deadline, b.take(n)).await {
                        Ok(r) => r?,
                        Err(_) => return Ok(self.note_dropped(n)),
                    }
                }
                // try_send hands the batch back when the channel is full, so a batch is either
                // in the ring or counted as dropped, never both (a timed-out send future may
                // already have delivered it)
                let mut msg = Ingest::Events(events);
                loop {
                    match self.tx.try_send(msg) {
                        Ok(()) => break Ok(()),
                        Err(flume::TrySendError::Disconnected(_)) => return Err(EngineGone),
                        Err(flume::TrySendError::Full(back)) => {
                            if tokio::time::Instant::now() >= deadline {
                                if let Some(b) = &self.budget {
                                    b.give_back(n);
                                }
                                return Ok(self.note_dropped(n));
                            }
                            msg = back;
                            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                        }
                    }
                }
            }
        };
        sent.map_err(|_| EngineGone)?;
        PipelineStats::add(&self.stats.events_in, n as u64);
        self.stats.events_by_source.add_named(&self.name, n as u64);
        Ok(0)
    }

    /// The blocking twin of [`send`](Self::send) for sources that run on a plain thread.
    pub fn send_blocking(&self, events: Vec<MarketEvent>) -> Result<usize, EngineGone> {
        if events.is_empty() {
            return Ok(0);
        }
        let n = events.len();
        self.health.touch(&self.name, now_ms());
        let sent = match self.overflow {
            Overflow::Block => self.tx.send(Ingest::Events(events)),
            Overflow::DropNewest => {
                match self.tx.send_timeout(Ingest::Events(events), RING_GRACE) {
                    Ok(()) => Ok(()),
                    Err(flume::SendTimeoutError::Timeout(_)) => return Ok(self.note_dropped(n)),
                    Err(flume::SendTimeoutError::Disconnected(_)) => return Err(EngineGone),
                }
            }
        };
        sent.map_err(|_| EngineGone)?;
        PipelineStats::add(&self.stats.events_in, n as u64);
        self.stats.events_by_source.add_named(&self.name, n as u64);
        Ok(0)
    }

    /// A full ring dropped `n` events: counted, shown, and logged once per period. Also for
    /// events a source drops itself because the ring dropped the batch before them.
    pub fn note_dropped(&self, n: usize) -> usize {
        if n == 0 {
            return 0;
        }
        PipelineStats::add(&self.stats.dropped_ring, n as u64);
        self.health.note_drop(&self.name, n as u64);
        let pending = self.drops.since_log.fetch_add(n as u64, Ordering::Relaxed) + n as u64;
        let now = now_ms();
        let last = self.drops.logged_ms.load(Ordering::Relaxed);
        if now - last >= DROP_LOG_EVERY_MS
            && self
                .drops
                .logged_ms
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            self.drops.since_log.fetch_sub(pending, Ordering::Relaxed);
            let why = format!(
                "the engine or the database is behind: dropped {pending} events at the ring \
                 (trades with ids are refilled from the venue)"
            );
            tracing::warn!(source = %self.name, "{why}");
            self.health.record_error(&self.name, why);
        }
        n
    }

    /// Hands alerts evaluated elsewhere to the engine, waiting for room (there are few, and
    /// the source they come from can pause without losing anything).
    pub async fn send_alerts(
        &self,
        alerts: Vec<crate::domain::AlertRecord>,
    ) -> Result<(), EngineGone> {
        if alerts.is_empty() {
            return Ok(());
        }
        self.tx
            .send_async(Ingest::RemoteAlerts(alerts))
            .await
            .map_err(|_| EngineGone)
    }

    /// Hands local order books to the engine, waiting for room (a few per second per book).
    pub async fn send_books(
        &self,
        books: Vec<crate::domain::BookSnapshot>,
    ) -> Result<(), EngineGone> {
        if books.is_empty() {
            return Ok(());
        }
        self.tx
            .send_async(Ingest::Books(books))
            .await
            .map_err(|_| EngineGone)
    }

    /// Tells the engine this source is done (so headless runs know when to stop). Waits for
    /// room without holding a runtime thread.
    pub async fn finish(&self) {
        let _ = self
            .tx
            .send_async(Ingest::Finished(self.name.clone()))
            .await;
    }
}

/// When a stopping command must be done with its backlog. Set once, when the stop begins; the
/// engine, the notifier and the storage thread each finish what they can within their share of
/// it and count the rest, so that a stop takes seconds whatever is queued.
#[derive(Debug, Clone, Default)]
pub struct StopClock {
    began: Arc<std::sync::OnceLock<std::time::Instant>>,
    /// The sources have been stopped: what is in the ring is all there will be (helper tasks
    /// of a source may still hold a sender, so the ring need not close).
    sources_stopped: Arc<std::sync::atomic::AtomicBool>,
}

impl StopClock {
    /// Time the engine has to drain the ring after a stop begins.
    pub const ENGINE: std::time::Duration = std::time::Duration::from_secs(5);
    /// Time from the stop's start until the storage thread stops writing.
    pub const STORE: std::time::Duration = std::time::Duration::from_secs(8);

    /// Starts the stop (the first call counts).
    pub fn begin(&self) {
        let _ = self.began.set(std::time::Instant::now());
    }

    pub fn stopping(&self) -> bool {
        self.began.get().is_some()
    }

    /// Says that the sources are stopped: the engine ends once the ring is empty.
    pub fn sources_stopped(&self) {
        self.sources_stopped.store(true, Ordering::SeqCst);
    }

    pub fn no_more_input(&self) -> bool {
        self.sources_stopped.load(Ordering::SeqCst)
    }

    /// The moment `share` after the stop began; None while not stopping.
    pub fn deadline(&self, share: std::time::Duration) -> Option<std::time::Instant> {
        self.began.get().map(|t| *t + share)
    }

    /// Whether `share` of the stop is used up.
    pub fn passed(&self, share: std::time::Duration) -> bool {
        self.deadline(share)
            .is_some_and(|d| std::time::Instant::now() >= d)
    }
}

/// Creates the ring: `capacity` is in batches (each batch is up to a few thousand events).
pub fn ring(capacity: usize) -> (flume::Sender<Ingest>, flume::Receiver<Ingest>) {
    flume::bounded(capacity.max(1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{EventKind, Side, Symbol, TradeTick, Venue};

    fn ev() -> MarketEvent {
        MarketEvent {
            venue: Venue::Sim,
            symbol: Symbol::new("X").unwrap_or_else(|e| panic!("{e}")),
            exch_ms: 1_700_000_000_000,
            recv_ms: 1_700_000_000_000,
            kind: EventKind::Trade(TradeTick {
                trade_id: 1,
                price: 1.0,
                qty: 1.0,
                side: Side::Buy,
            }),
        }
    }

    #[test]
    fn drop_newest_counts_every_dropped_event() {
        let (tx, rx) = ring(1);
        let stats = Arc::new(PipelineStats::default());
        let board = HealthBoard::default();
        let sink = EventSink::new("t", tx, Overflow::DropNewest, stats.clone(), board.clone());
        assert!(
            board.snapshot()[0].is_source,
            "a sink's owner is a market data source"
        );
        assert_eq!(sink.send_blocking(vec![ev(); 3]).ok(), Some(0));
        assert_eq!(sink.send_blocking(vec![ev(); 5]).ok(), Some(5));
        assert_eq!(PipelineStats::get(&stats.events_in), 3);
        assert_eq!(PipelineStats::get(&stats.dropped_ring), 5);
        // a live source that dropped lately is shown as dropping, then as live again
        board.set("t", SourceState::Live);
        let h = board.snapshot()[0].clone();
        let now = now_ms();
        let st = effective_state(&h, now, 60_000);
        assert_eq!(st, SourceState::Dropping { dropped: 5 });
        assert!(describe(&st, now).contains("dropping: 5 events dropped"));
        assert_eq!(
            effective_state(&h, now + DROPPING_SHOWN_MS + 1, 600_000),
            SourceState::Live
        );
        drop(rx);
        assert!(sink.send_blocking(vec![ev()]).is_err());
    }

    #[tokio::test]
    async fn a_source_waiting_for_room_learns_that_the_engine_ended() {
        let (tx, _rx) = ring(16);
        let budget = RingBudget::new(1_000);
        let sink = EventSink::new(
            "t",
            tx,
            Overflow::Block,
            Arc::new(PipelineStats::default()),
            HealthBoard::default(),
        )
        .with_budget(budget.clone());
        assert_eq!(sink.send(vec![ev(); 1_000]).await.ok(), Some(0));
        let waiting = tokio::spawn({
            let sink = sink.clone();
            async move { sink.send(vec![ev()]).await }
        });
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert!(!waiting.is_finished(), "the budget is used up: it waits");
        budget.close();
        assert!(
            waiting.await.unwrap().is_err(),
            "EngineGone, not a wait forever"
        );
    }

    #[test]
    fn health_board_tracks_state_and_errors() {
        let board = HealthBoard::default();
        board.set("binance", SourceState::Live);
        board.set("binance", SourceState::Failed("DNS lookup failed".into()));
        let snap = board.snapshot();
        assert_eq!(snap.len(), 1);
        assert!(!snap[0].is_source, "only an EventSink registers a source");
        assert_eq!(snap[0].last_error.as_deref(), Some("DNS lookup failed"));
        assert_eq!(describe(&snap[0].state, 0), "failed: DNS lookup failed");
    }

    #[test]
    fn a_session_is_live_only_with_data_and_no_rate_limit_wait() {
        use std::time::Duration;
        let limit = Duration::from_secs(10);
        let quiet = Duration::from_millis(200);
        let now = 1_000_000;
        // data flow, but the start-up fetch waits out a 429: not live yet
        assert_eq!(
            session_state(true, quiet, limit, now, now + 2_000, now),
            SourceState::RateLimited {
                until_ms: now + 2_000
            }
        );
        // the wait is over
        assert_eq!(
            session_state(true, quiet, limit, now, now - 1, now),
            SourceState::Live
        );
        // connected, nothing yet
        assert_eq!(
            session_state(false, quiet, limit, now, 0, now),
            SourceState::Connecting
        );
        // connected and silent for half the watchdog limit: stale, with or without data before
        let silent = Duration::from_secs(5);
        for seen in [false, true] {
            assert_eq!(
                session_state(seen, silent, limit, now - 5_000, now + 9_000, now),
                SourceState::Stale {
                    since_ms: now - 5_000
                }
            );
        }
    }

    #[test]
    fn every_shown_change_bumps_the_version_even_one_undone_at_once() {
        let board = HealthBoard::default();
        let v0 = board.version();
        // a state that lasts a moment: the screen must still learn that something changed
        board.set("binance", SourceState::Live);
        board.set("binance", SourceState::Connecting);
        let v1 = board.version();
        assert!(v1 > v0, "a brief state changed the version");
        board.set("binance", SourceState::Connecting);
        board.touch("binance", 5);
        assert_eq!(board.version(), v1, "nothing shown changed");
        board.set_detail("binance", Some("2/2 connections".into()));
        let v2 = board.version();
        assert!(v2 > v1);
        board.record_error("binance", "refused".into());
        assert!(board.version() > v2);
    }

    #[test]
    fn a_quiet_live_source_is_shown_stale() {
        let board = HealthBoard::default();
        board.register_source("sim");
        board.set("sim", SourceState::Live);
        board.touch("sim", now_ms() + 1_000);
        board.set("db", SourceState::Live);
        let db = board.snapshot()[1].clone();
        assert_eq!(
            effective_state(&db, now_ms() + 100_000, 10_000),
            SourceState::Live,
            "not a source"
        );
        let h = &board.snapshot()[0];
        let last = h.last_event_ms.unwrap();
        assert_eq!(effective_state(h, last + 500, 10_000), SourceState::Live);
        let st = effective_state(h, last + 12_000, 10_000);
        assert_eq!(st, SourceState::Stale { since_ms: last });
        assert_eq!(describe(&st, last + 12_000), "stale for 12 s");
        // a polled source is judged by when its next data is due
        board.expect_data_by("sim", Some(last + 3_600_000));
        let h = &board.snapshot()[0];
        assert_eq!(
            effective_state(h, last + 600_000, 10_000),
            SourceState::Live
        );
        assert_eq!(
            effective_state(h, last + 3_700_000, 10_000),
            SourceState::Stale {
                since_ms: last + 3_600_000
            }
        );
    }
}
