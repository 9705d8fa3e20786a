//! Wiring of threads, tasks and channels for each command. The flow is always the same:
//! sources (tokio tasks) → bounded ring → engine thread → storage thread / snapshot slot /
//! notifier task.

mod alerts_cmd;
mod alerts_list;
mod backfill;
mod backtest;
mod config_watch;
pub mod export;
mod init;
mod logging;
mod metrics;
mod monitor;
mod portfolio;
mod record;
mod replay;
mod watchlists;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::Context;

pub use logging::{Echo, init_logging, init_logging_with};

use crate::alerts::notifier::{self, NotifyConfig};
use crate::cli::{Cli, Command};
use crate::config::{self, ConfigError, Settings};
use crate::engine::runner::{Outputs, RunSummary, Runner, StorePolicy};
use crate::engine::{Engine, EngineConfig};
use crate::pipeline::{EventSink, HealthBoard, Ingest, PipelineStats, SourceState, StopClock};
use crate::sources::{Source, SourceControls};
use crate::store::{StoreSummary, StoreWriter, WriterConfig};
use crate::view::{EngineCtl, SnapshotSlot};

/// An error that is the user's to fix in how the command was called or configured: exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// Exit code for an error returned by [`run`].
pub fn exit_code(err: &anyhow::Error) -> u8 {
    if err.downcast_ref::<UsageError>().is_some() || err.downcast_ref::<ConfigError>().is_some() {
        2
    } else {
        1
    }
}

/// An error and its causes on one line, each said once: an error whose message already
/// includes its cause's (`database X: No such file` over `No such file`) does not repeat it.
pub fn error_text(err: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if text.is_empty() || out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

/// Runs the command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match &cli.command {
        Some(Command::CheckConfig { path }) => {
            check_config(path.as_deref().or(cli.config.as_deref()))
        }
        Some(Command::Export(args)) => export::run(args, cli.db.as_deref(), cli.config.as_deref()),
        Some(Command::Replay(args)) => replay::run(args, &cli),
        Some(Command::Record(args)) => record::run(args, &cli),
        Some(Command::Backfill(args)) => backfill::run(args, &cli),
        Some(Command::Portfolio(args)) => portfolio::run(args, &cli),
        Some(Command::Alerts { command }) => alerts_cmd::run(command, &cli),
        Some(Command::Init { force, path }) => init::run(path.as_deref(), *force),
        Some(Command::Healthcheck { addr, timeout }) => metrics::healthcheck(addr, *timeout),
        None => monitor::run(&cli),
    }
}

fn check_config(path: Option<&Path>) -> anyhow::Result<()> {
    let Some(found) = config::find(path) else {
        let d = config::Config::defaults();
        println!(
            "no config file found (./config.toml or {}): built-in defaults apply ({} source(s): {}; symbols {}); `tickwatch init` writes a commented config to start from",
            init::default_path().map_or("the platform config directory".into(), |p| p
                .display()
                .to_string()),
            d.config.sources.len(),
            d.config.sources.join(", "),
            d.config.binance.symbols.join(", ")
        );
        return Ok(());
    };
    if !found.is_file() {
        return Err(UsageError(format!("no config file at {}", found.display())).into());
    }
    let s = config::load(Some(&found))?;
    config_watch::check_rule_names(&s)?;
    println!(
        "{}: ok ({} source(s): {}; {} indicator(s); {} alert rule(s))",
        found.display(),
        s.config.sources.len(),
        s.config.sources.join(", "),
        s.engine.indicators.len(),
        s.engine.rules.len()
    );
    Ok(())
}

/// Loads the config for commands that use one.
fn settings(cli: &Cli) -> anyhow::Result<Settings> {
    Ok(config::load(cli.config.as_deref())?)
}

/// For commands that work without a config: the config when one is found, else the built-in
/// defaults.
fn settings_or_defaults(cli: &Cli) -> anyhow::Result<Settings> {
    Ok(match config::find(cli.config.as_deref()) {
        Some(_) => config::load(cli.config.as_deref())?,
        None => config::Config::default().into_settings(Path::new("<defaults>"))?,
    })
}

/// The database for a command: `--db`, else the config's, else `fallback`; a path or a
/// `postgres://` URL (refused with a clear message when it carries a password).
fn db_path(
    cli: &Cli,
    settings: Option<&Settings>,
    fallback: PathBuf,
) -> anyhow::Result<crate::store::Location> {
    let named = cli
        .db
        .clone()
        .or_else(|| settings.and_then(|s| s.config.storage.db.clone()))
        .unwrap_or(fallback);
    located(&named, settings)
}

/// `value` as a database location, with the config's storage settings applied.
fn located(
    value: &std::path::Path,
    settings: Option<&Settings>,
) -> anyhow::Result<crate::store::Location> {
    let mut at = crate::store::Location::parse(value).map_err(|e| UsageError(e.to_string()))?;
    if let (crate::store::Location::Postgres(t), Some(s)) = (&mut at, settings) {
        t.retention_days = s.config.storage.retention_days;
    }
    Ok(at)
}

/// The running pipeline of one command.
pub(crate) struct Pipeline {
    pub stats: Arc<PipelineStats>,
    pub health: HealthBoard,
    pub slot: SnapshotSlot,
    pub ctl: flume::Sender<EngineCtl>,
    ring_tx: Option<flume::Sender<Ingest>>,
    budget: crate::pipeline::RingBudget,
    engine: Option<JoinHandle<RunSummary>>,
    store: Option<StoreWriter>,
    runtime: Option<tokio::runtime::Runtime>,
    /// Source tasks, stopped first at shutdown so the engine can drain and end.
    sources: std::sync::Mutex<Vec<tokio::task::AbortHandle>>,
    /// Control channels of the sources whose symbols can change while they run.
    pub controls: SourceControls,
    /// The local order books the sources keep, for the ladder and the liquidity rules.
    pub books: crate::view::BookBoard,
    /// Delivers the alerts the engine sends; it ends when the engine has.
    notifier: Option<tokio::task::JoinHandle<()>>,
    /// Started by [`shutdown`](Self::shutdown): every stage finishes within its share of it.
    stop: StopClock,
    /// Set by the storage thread when the database cannot be written.
    store_failure: Option<crate::store::Failure>,
    publisher: Option<Publisher>,
}

pub(crate) struct PipelineOptions {
    pub engine: EngineConfig,
    pub ring_capacity: usize,
    /// The ring's bound in events (see `[engine] ring_events`).
    pub ring_events: usize,
    pub db: Option<crate::store::Location>,
    /// A headless command: fail (instead of running in memory) when the database cannot be
    /// opened, and stop storing at once when it cannot be written (the command then ends).
    pub require_db: bool,
    pub store_policy: StorePolicy,
    pub view: bool,
    pub frame: Duration,
    pub notify: Option<NotifyConfig>,
    pub stop_after_finished: Option<usize>,
    /// `record --publish`: fan the engine's output out to NATS JetStream.
    pub publish: Option<crate::fanout::publisher::PublishConfig>,
}

/// The running NATS publisher of a pipeline.
struct Publisher {
    stats: Arc<crate::fanout::publisher::FanoutStats>,
    task: tokio::task::JoinHandle<()>,
    /// Set at the stop: the publisher gives up (and counts) what is not acknowledged by then.
    deadline: Arc<std::sync::OnceLock<tokio::time::Instant>>,
}

/// How long a stop waits for NATS to acknowledge what is still queued.
const PUBLISH_STOP_WAIT: Duration = Duration::from_secs(5);

/// The storage channel for a pipeline. A producer that waits for the disk (`Block`: replays)
/// gains nothing from a deep queue: a few batches keep the writer's transactions full, and
/// memory stays small however long the input is. Nor does its writer wait for a transaction to
/// fill: the queue refills while a transaction is written, and waiting would only leave the
/// database idle at the start. Live data (`Spill`) keeps the default depth to ride out a slow
/// disk, and the default wait to gather trickling batches into fewer transactions.
/// `fail_fast`: a headless command stops storing at once when the database cannot be written.
fn writer_config(policy: StorePolicy, fail_fast: bool) -> WriterConfig {
    let base = WriterConfig {
        fail_fast,
        ..WriterConfig::default()
    };
    match policy {
        StorePolicy::Block => WriterConfig {
            channel_batches: 4,
            max_txn_delay: Duration::ZERO,
            ..base
        },
        StorePolicy::Spill { .. } => base,
    }
}

impl Pipeline {
    pub fn start(opts: PipelineOptions) -> anyhow::Result<Pipeline> {
        let stats = Arc::new(PipelineStats::default());
        let health = HealthBoard::default();
        let slot = SnapshotSlot::default();
        let (ring_tx, ring_rx) = crate::pipeline::ring(opts.ring_capacity);
        let budget = crate::pipeline::RingBudget::new(opts.ring_events);
        let (ctl_tx, ctl_rx) = flume::unbounded();
        let stop = StopClock::default();

        // PostgreSQL: the stored rules are read while the writer connects and migrates (a
        // replay's first rows wait for both). On a database the writer has just created or
        // migrated that early read fails, and is made again below.
        let (opened, early_rules) = std::thread::scope(|scope| {
            let early = match &opts.db {
                Some(at @ crate::store::Location::Postgres(_)) => Some(
                    scope.spawn(move || crate::store::open_reader(at).and_then(|mut r| r.rules())),
                ),
                _ => None,
            };
            let opened = opts.db.as_ref().map(|at| {
                StoreWriter::spawn_at(
                    at,
                    stats.clone(),
                    health.clone(),
                    writer_config(opts.store_policy, opts.require_db),
                    stop.clone(),
                )
            });
            (opened, early.and_then(|h| h.join().ok()))
        });
        let store = match (&opts.db, opened) {
            (Some(at), Some(opened)) => match opened {
                Ok(w) => {
                    health.set("db", SourceState::Live);
                    Some(w)
                }
                Err(e) if opts.require_db => {
                    return Err(anyhow::Error::new(e)
                        .context(format!("cannot use the database {}", at.describe())));
                }
                Err(e) => {
                    tracing::error!(
                        "database {} unusable, running in memory: {e}",
                        at.describe()
                    );
                    health.set(
                        "db",
                        SourceState::Failed(format!("running in memory, nothing is stored: {e}")),
                    );
                    None
                }
            },
            _ => None,
        };
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .thread_name("tickwatch-io")
            .build()
            .context("cannot start the async runtime")?;

        let (alert_tx, alert_rx) = flume::bounded(1_024);
        let notifier = opts.notify.clone().map(|ncfg| {
            runtime.spawn(notifier::run(
                ncfg,
                alert_rx,
                store.as_ref().map(StoreWriter::sender),
                health.clone(),
                stats.clone(),
            ))
        });
        // only the engine holds the sender: the publisher ends when the engine has
        let (publish_tx, publisher) = match opts.publish.clone() {
            None => (None, None),
            Some(cfg) => {
                let (tx, rx) = flume::bounded(crate::fanout::publisher::CHANNEL_BATCHES);
                let stats = Arc::new(crate::fanout::publisher::FanoutStats::default());
                let deadline = Arc::new(std::sync::OnceLock::new());
                let task = runtime.spawn(crate::fanout::publisher::run(
                    cfg,
                    rx,
                    health.clone(),
                    stats.clone(),
                    deadline.clone(),
                ));
                (
                    Some((tx, stats.clone())),
                    Some(Publisher {
                        stats,
                        task,
                        deadline,
                    }),
                )
            }
        };
        let mut engine_cfg = opts.engine;
        if let (Some(at), Some(_)) = (&opts.db, &store) {
            // rules made in the monitor, and the state of the config's rules
            let read = match early_rules {
                Some(Ok(rows)) => Ok(rows),
                _ => crate::store::open_reader(at).and_then(|mut r| r.rules()),
            };
            match read {
                Ok(rows) => engine_cfg.saved_rules = rows,
                Err(e) => tracing::error!("stored alert rules not loaded: {e}"),
            }
        }
        let engine =
            Engine::new(engine_cfg, stats.clone()).context("invalid indicator settings")?;
        let runner = Runner {
            engine,
            ingest: ring_rx,
            ctl: ctl_rx,
            outputs: Outputs {
                store: store.as_ref().map(|s| (s.sender(), opts.store_policy)),
                view: opts.view.then(|| slot.clone()),
                alerts: opts.notify.is_some().then_some(alert_tx),
                publish: publish_tx,
            },
            frame: opts.frame,
            stop_after_finished: opts.stop_after_finished,
            stop: stop.clone(),
            budget: Some(budget.clone()),
        };
        let engine = std::thread::Builder::new()
            .name("tickwatch-engine".into())
            .spawn(move || runner.run())
            .context("cannot start the engine thread")?;
        Ok(Pipeline {
            stats,
            health,
            slot,
            ctl: ctl_tx,
            ring_tx: Some(ring_tx),
            budget,
            engine: Some(engine),
            runtime: Some(runtime),
            sources: std::sync::Mutex::new(Vec::new()),
            controls: SourceControls::default(),
            books: Default::default(),
            notifier,
            store_failure: store.as_ref().map(StoreWriter::failure),
            store,
            stop,
            publisher,
        })
    }

    /// Why the database cannot be written, once the storage thread found it so (headless
    /// commands stop then).
    pub fn store_failure(&self) -> Option<String> {
        self.store_failure.as_ref().and_then(|f| f.get().cloned())
    }

    /// Starts a source on the runtime. Its failure is shown on the health board and logged.
    pub fn spawn_source(
        &self,
        mut source: Box<dyn Source>,
    ) -> anyhow::Result<tokio::task::JoinHandle<anyhow::Result<()>>> {
        let (Some(rt), Some(tx)) = (&self.runtime, &self.ring_tx) else {
            anyhow::bail!("the pipeline is shutting down");
        };
        let name = source.name();
        if let (Some(venue), Some(tx)) = (source.venue(), source.control()) {
            self.controls.register(venue, tx);
        }
        let sink = EventSink::new(
            name.clone(),
            tx.clone(),
            source.overflow(),
            self.stats.clone(),
            self.health.clone(),
        )
        .with_budget(self.budget.clone())
        .with_books(self.books.clone());
        self.health.set(&name, SourceState::Connecting);
        let health = self.health.clone();
        let task = rt.spawn(async move {
            let r = source.run(sink).await;
            if let Err(e) = &r {
                health.set(&name, SourceState::Failed(format!("{e:#}")));
            }
            r
        });
        match self.sources.lock() {
            Ok(mut v) => v.push(task.abort_handle()),
            Err(p) => p.into_inner().push(task.abort_handle()),
        }
        Ok(task)
    }

    /// The NATS publisher's counters (`record --publish`).
    pub fn fanout_stats(&self) -> Option<Arc<crate::fanout::publisher::FanoutStats>> {
        self.publisher.as_ref().map(|p| p.stats.clone())
    }

    pub fn runtime(&self) -> Option<&tokio::runtime::Runtime> {
        self.runtime.as_ref()
    }

    /// Waits up to `up_to` for a source's task: its result once it ended (the moment it
    /// ends, not at the next poll), None while it runs.
    pub fn wait_source(
        &self,
        task: &mut tokio::task::JoinHandle<anyhow::Result<()>>,
        up_to: std::time::Duration,
        what: &str,
    ) -> Option<anyhow::Result<()>> {
        let Some(rt) = &self.runtime else {
            return Some(Err(anyhow::anyhow!("the pipeline stopped early")));
        };
        // the timer is made inside the runtime (it needs its reactor)
        rt.block_on(async { tokio::time::timeout(up_to, task).await })
            .ok()
            .map(|r| r.unwrap_or_else(|e| Err(anyhow::anyhow!("{what} task: {e}"))))
    }

    /// Stops the sources, lets the engine drain what is queued, flushes the database: each
    /// within its share of the [`StopClock`], so that a stop takes seconds whatever the backlog;
    /// what could not be processed or written is counted (and makes a headless command fail).
    pub fn shutdown(mut self) -> anyhow::Result<(RunSummary, Option<StoreSummary>)> {
        // 1. Stop the sources; once they are gone, what is in the ring is all there will be:
        //    the engine drains it and ends (by its deadline at the latest).
        let sources = match self.sources.lock() {
            Ok(mut v) => std::mem::take(&mut *v),
            Err(p) => std::mem::take(&mut *p.into_inner()),
        };
        for s in &sources {
            s.abort();
        }
        let gone_by = std::time::Instant::now() + Duration::from_secs(1);
        while sources.iter().any(|s| !s.is_finished()) && std::time::Instant::now() < gone_by {
            std::thread::sleep(Duration::from_millis(5));
        }
        self.stop.sources_stopped();
        self.stop.begin();
        self.ring_tx = None;
        let drained = self.engine.as_ref().is_none_or(|h| {
            // the engine ends by its own deadline; storage waits bound its hand-over
            let deadline = std::time::Instant::now() + StopClock::STORE + Duration::from_secs(1);
            while !h.is_finished() && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            h.is_finished()
        });
        // 2. The engine has sent its last alerts and closed the alert channel: each sink
        //    delivers what it has until the notifier's stop grace ends, then the notifier stores
        //    "skipped" for what is left and returns.
        if let (true, Some(rt), Some(n)) = (drained, &self.runtime, self.notifier.take()) {
            let wait = notifier::STOP_WAIT;
            if rt
                .block_on(async { tokio::time::timeout(wait, n).await })
                .is_err()
            {
                tracing::error!(
                    "the notifier did not finish within {} s: the last alerts may have no stored delivery outcome",
                    wait.as_secs()
                );
            }
        }
        // 2b. The publisher sends what the engine handed it, until NATS acknowledged it all or
        //     its share of the stop is over (what is left is counted).
        if let (Some(rt), Some(p)) = (&self.runtime, self.publisher.as_mut()) {
            let _ = p
                .deadline
                .set(tokio::time::Instant::now() + PUBLISH_STOP_WAIT);
            let task = &mut p.task;
            if rt
                .block_on(async {
                    tokio::time::timeout(PUBLISH_STOP_WAIT + Duration::from_secs(1), task).await
                })
                .is_err()
            {
                tracing::error!("the NATS publisher did not stop in time");
            }
        }
        // 3. Whatever still runs (helper tasks of a source) stops with the runtime.
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_timeout(Duration::from_secs(1));
        }
        let summary = match self.engine.take() {
            Some(h) if h.is_finished() => h
                .join()
                .map_err(|_| anyhow::anyhow!("the engine thread panicked"))?,
            Some(_) => {
                anyhow::bail!("the engine did not stop within its deadline; see the log file")
            }
            None => RunSummary::default(),
        };
        let store = match self.store.take() {
            Some(w) => Some(w.close().context("flushing the database")?),
            None => None,
        };
        Ok((summary, store))
    }

    /// Waits for the engine to end by itself (every source finished).
    pub fn wait_engine(&mut self) -> anyhow::Result<RunSummary> {
        self.ring_tx = None;
        match self.engine.take() {
            Some(h) => h
                .join()
                .map_err(|_| anyhow::anyhow!("the engine thread panicked")),
            None => Ok(RunSummary::default()),
        }
    }
}

/// Sets `flag` on SIGINT or SIGTERM.
pub(crate) fn on_signal(pipeline: &Pipeline, flag: Arc<AtomicBool>) {
    let Some(rt) = pipeline.runtime() else { return };
    rt.spawn(async move {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let (Ok(mut term), Ok(mut int)) = (
                signal(SignalKind::terminate()),
                signal(SignalKind::interrupt()),
            ) else {
                tracing::error!("cannot install signal handlers");
                return;
            };
            tokio::select! {
                _ = term.recv() => tracing::info!("SIGTERM received"),
                _ = int.recv() => tracing::info!("SIGINT received"),
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
        flag.store(true, Ordering::SeqCst);
    });
}

/// The database the monitor and `record` use. Simulated data never land in the live history:
/// the demo, and any run with the `sim` source and no database named (`--db`, `[storage] db`),
/// use the demo database (and say so in the log; `record` echoes it to stderr).
pub(crate) fn live_or_demo_db(
    cli: &Cli,
    settings: &Settings,
    demo: bool,
) -> anyhow::Result<crate::store::Location> {
    located(&live_or_demo_path(cli, settings, demo), Some(settings))
}

fn live_or_demo_path(cli: &Cli, settings: &Settings, demo: bool) -> PathBuf {
    if demo {
        return cli.db.clone().unwrap_or_else(crate::store::demo_db_path);
    }
    let named = cli
        .db
        .clone()
        .or_else(|| settings.config.storage.db.clone());
    match named {
        Some(db) => db,
        None if settings.config.sources.iter().any(|s| s == "sim") => {
            let demo = crate::store::demo_db_path();
            tracing::warn!(
                "the simulator is among the sources: this session writes to the demo database {}, never the live history (name a database with --db or [storage] db to choose another)",
                demo.display()
            );
            demo
        }
        None => crate::store::default_db_path(),
    }
}

/// Sources named in the config.
pub(crate) fn configured_sources(settings: &Settings) -> anyhow::Result<Vec<Box<dyn Source>>> {
    let mut out: Vec<Box<dyn Source>> = Vec::new();
    for name in &settings.config.sources {
        match name.as_str() {
            "sim" => out.push(Box::new(
                crate::sources::sim::SimSource::new(settings.config.sim.clone())
                    .map_err(UsageError)?,
            )),
            "binance" => out.push(Box::new(
                crate::sources::binance::BinanceSource::new(settings.config.binance.clone())
                    .map_err(|e| UsageError(format!("[binance]: {e:#}")))?,
            )),
            "alphavantage" => out.push(Box::new(
                crate::sources::alphavantage::AlphaVantageSource::new(
                    settings.config.alphavantage.clone(),
                )
                .map_err(|e| UsageError(format!("[alphavantage]: {e:#}")))?,
            )),
            "coinbase" => out.push(Box::new(
                crate::sources::coinbase::CoinbaseSource::new(settings.config.coinbase.clone())
                    .map_err(|e| UsageError(format!("[coinbase]: {e:#}")))?,
            )),
            "kraken" => out.push(Box::new(
                crate::sources::kraken::KrakenSource::new(settings.config.kraken.clone())
                    .map_err(|e| UsageError(format!("[kraken]: {e:#}")))?,
            )),
            "okx" => out.push(Box::new(
                crate::sources::okx::OkxSource::new(settings.config.okx.clone())
                    .map_err(|e| UsageError(format!("[okx]: {e:#}")))?,
            )),
            "bybit" => out.push(Box::new(
                crate::sources::bybit::BybitSource::new(settings.config.bybit.clone())
                    .map_err(|e| UsageError(format!("[bybit]: {e:#}")))?,
            )),
            "yahoo" => out.push(Box::new(
                crate::sources::yahoo::YahooSource::new(settings.config.yahoo.clone())
                    .map_err(|e| UsageError(format!("[yahoo]: {e:#}")))?,
            )),
            "nats" => out.push(Box::new(
                crate::sources::nats::NatsSource::new(settings.config.nats.clone())
                    .map_err(|e| UsageError(format!("{e:#}")))?,
            )),
            other => {
                return Err(UsageError(format!(
                    "unknown source {other:?}; known: {}",
                    crate::config::KNOWN_SOURCES.join(", ")
                ))
                .into());
            }
        }
    }
    if out.is_empty() {
        return Err(UsageError(
            "no sources configured: set `sources = [\"binance\"]` in the config, or run `tickwatch --demo` for the simulator".into(),
        )
        .into());
    }
    Ok(out)
}

/// The alert sinks and delivery policy from `[notify]`, with the environment of this process
/// (ssh detection, terminal type, SMTP credentials, Twilio and Telegram secrets). A sink whose
/// secret is missing is a usage error naming the variable.
pub(crate) fn notify_config(settings: &Settings) -> Result<NotifyConfig, UsageError> {
    let cfg = settings.config.notify.resolve(&|k| std::env::var(k).ok());
    let errors = cfg.setup_errors();
    if errors.is_empty() {
        return Ok(cfg);
    }
    Err(UsageError(format!(
        "{} (or remove that sink from [notify] in the config)",
        errors.join("; ")
    )))
}

/// Watchlist keys from the config: the symbols of each configured source, in order.
pub(crate) fn watchlist(settings: &Settings) -> Vec<crate::domain::VenueSymbol> {
    use crate::domain::{Symbol, Venue, VenueSymbol};
    let mut keys = Vec::new();
    for name in &settings.config.sources {
        if name == "sim" {
            for s in &settings.config.sim.symbols {
                if let Ok(sym) = Symbol::new(s) {
                    keys.push(VenueSymbol::new(Venue::Sim, sym));
                }
            }
        }
        if name == "alphavantage"
            && let Ok(symbols) = settings.config.alphavantage.parsed_symbols()
        {
            keys.extend(
                symbols
                    .into_iter()
                    .map(|s| VenueSymbol::new(Venue::AlphaVantage, s)),
            );
        }
        if name == "coinbase"
            && let Ok(symbols) = settings.config.coinbase.parsed_symbols()
        {
            keys.extend(
                symbols
                    .into_iter()
                    .map(|s| VenueSymbol::new(Venue::Coinbase, s)),
            );
        }
        if name == "nats"
            && let Ok(symbols) = settings.config.nats.parsed_symbols()
        {
            // only "venue:SYMBOL" entries name a key; bare symbols filter at every venue
            keys.extend(
                symbols
                    .into_iter()
                    .filter_map(|(v, s)| v.map(|v| VenueSymbol::new(v, s))),
            );
        }
        if name == "binance"
            && let Ok(symbols) = settings.config.binance.parsed_symbols()
        {
            keys.extend(
                symbols
                    .into_iter()
                    .map(|s| VenueSymbol::new(Venue::Binance, s)),
            );
        }
    }
    keys
}
