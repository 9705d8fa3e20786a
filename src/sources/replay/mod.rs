//! Replay of Binance public-data dumps (data.binance.vision layouts): spot and USD-M futures
//! trades, aggTrades and klines, `.csv` or the `.zip` as downloaded.
//!
//! Files are streamed (a `.zip` entry too: never inflated into memory) and merged into one
//! stream in time order whatever order they were given in; rows replayed twice (a repeated
//! trade id, an overlapping file) are skipped and counted. Blocking threads read, parse and
//! merge; the async task paces batches by time and sends them with `Overflow::Block`, so a
//! replay never loses events, and small batches keep what waits in the ring small.
//!
//! Order book files written by `tickwatch export --book` replay with the rest: their books go
//! to the engine (liquidity rules) and the ladder between the events of their time.

mod books;
mod dedupe;
mod file;
mod layout;
mod merge;
mod pace;
mod reader;
mod report;

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use anyhow::{anyhow, bail};

pub use file::{DumpInfo, ReplayOverrides, detect, detect_with};
pub use layout::{DumpKind, RowParser};
pub use merge::BATCH;
pub use pace::Speed;
pub use report::ReplayReport;

use self::merge::Msg;
use self::pace::Pacer;
use self::reader::Plan;
use super::{Source, SourceFuture};
use crate::domain::{BookRecord, MarketEvent, Symbol, TsMs, now_ms};
use crate::pipeline::{EngineGone, EventSink, Overflow, SourceState};

/// What to replay and how.
#[derive(Debug, Clone)]
pub struct ReplayConfig {
    /// Dump files, in any order: their rows are merged by time.
    pub files: Vec<PathBuf>,
    /// Overrides the symbol taken from each file name.
    pub symbol: Option<Symbol>,
    pub speed: Speed,
    /// Skip and count malformed rows instead of stopping at the first.
    pub skip_bad: bool,
}

/// A replay of dump files, checked and ready to run.
#[derive(Debug)]
pub struct ReplaySource {
    plans: Vec<Plan>,
    /// The books of the book files, by time, and how many files they came from.
    books: Vec<BookRecord>,
    book_files: usize,
    factor: Option<f64>,
    skip_bad: bool,
    report: Arc<ReplayReport>,
}

impl ReplaySource {
    /// Checks that every file exists, is readable, and is in a known layout with a known symbol,
    /// before anything runs. The error lists every file that is not.
    pub fn new(cfg: ReplayConfig) -> anyhow::Result<ReplaySource> {
        Self::with_overrides(cfg, ReplayOverrides::default())
    }

    /// [`new`](Self::new), with the user's `--kind` / `--venue` applied to every file.
    pub fn with_overrides(cfg: ReplayConfig, ov: ReplayOverrides) -> anyhow::Result<ReplaySource> {
        if cfg.files.is_empty() {
            bail!("no files to replay: give one or more Binance dump files (.csv or .zip)");
        }
        let factor = cfg.speed.factor();
        if factor.is_some_and(|f| !Speed::factor_in_range(f)) {
            bail!(
                "replay speed {} is not a factor from {}x to {}x: use 1x, 10x, 100x or max",
                cfg.speed,
                Speed::MIN_FACTOR,
                Speed::MAX_FACTOR
            );
        }
        let mut plans = Vec::with_capacity(cfg.files.len());
        let mut problems = Vec::new();
        let report = Arc::new(ReplayReport::default());
        let (mut books, mut book_files) = (Vec::new(), 0);
        for path in &cfg.files {
            if books::is_book_file(path) {
                match books::read(path, cfg.skip_bad, &report) {
                    Ok(b) => {
                        books.extend(b);
                        book_files += 1;
                    }
                    Err(e) => problems.push(format!("{e:#}")),
                }
                continue;
            }
            let info = match detect_with(path, &ov) {
                Ok(info) => info,
                Err(e) => {
                    problems.push(format!("{e:#}"));
                    continue;
                }
            };
            match cfg.symbol.or(info.symbol) {
                Some(symbol) => plans.push(Plan {
                    path: path.clone(),
                    info,
                    symbol,
                }),
                None => problems.push(format!(
                    "cannot tell the symbol of {} from its name: rename it like BTCUSDT-trades-2025-03-01.csv or pass --symbol",
                    path.display()
                )),
            }
        }
        problems.extend(same_trades_twice(&plans));
        if !problems.is_empty() {
            return Err(anyhow!(problems.join("\n")));
        }
        books.sort_by_key(|b| b.ts_ms);
        Ok(ReplaySource {
            plans,
            books,
            book_files,
            factor,
            skip_bad: cfg.skip_bad,
            report,
        })
    }

    /// Counters, readable while the replay runs and after it ends.
    pub fn report(&self) -> Arc<ReplayReport> {
        self.report.clone()
    }

    /// The books' instruments, in the order they first appear.
    pub fn book_keys(&self) -> Vec<crate::domain::VenueSymbol> {
        let mut keys: Vec<crate::domain::VenueSymbol> = Vec::new();
        for b in &self.books {
            if !keys.contains(&b.key) {
                keys.push(b.key);
            }
        }
        keys
    }

    /// What was detected for each file, in the order given.
    pub fn files(&self) -> Vec<(PathBuf, DumpInfo, Symbol)> {
        self.plans
            .iter()
            .map(|p| (p.path.clone(), p.info, p.symbol))
            .collect()
    }

    async fn replay(self, sink: &EventSink) -> anyhow::Result<()> {
        // Two batches in flight keep the merge ahead.
        let (tx, rx) = flume::bounded::<Msg>(2);
        let plans = self.plans;
        let total = plans.len();
        let skip_bad = self.skip_bad;
        let report = self.report.clone();
        // Plain threads, not spawn_blocking: file reads must not hold a runtime worker, and a
        // blocking task would stop tokio's paused test clock from advancing.
        std::thread::Builder::new()
            .name("tickwatch-replay".into())
            .spawn(move || merge::run(&plans, skip_bad, &report, &tx))
            .map_err(|e| anyhow!("cannot start the replay reader thread: {e}"))?;
        let mut pacer = self.factor.map(Pacer::new);
        let mut books = BookFeed {
            left: self.books.into(),
            factor: self.factor,
            start: None,
        };
        let mut outcome = Ok(());
        let mut files_done = 0;
        let mut engine_gone = false;
        sink.health()
            .set_detail(sink.name(), Some(progress(0, total)));
        while let Ok(msg) = rx.recv_async().await {
            match msg {
                Msg::Batch(batch) => {
                    if deliver(sink, pacer.as_mut(), batch, &mut books)
                        .await
                        .is_err()
                    {
                        tracing::info!("replay stopped: the engine has stopped");
                        engine_gone = true;
                        break;
                    }
                }
                Msg::FileDone(n) => {
                    files_done += 1;
                    self.report.files_done.fetch_add(1, Ordering::Relaxed);
                    tracing::debug!(file = n, "replay file read to the end");
                    sink.health()
                        .set_detail(sink.name(), Some(progress(files_done, total)));
                }
                Msg::Failed(e) => {
                    outcome = Err(e);
                    break;
                }
            }
        }
        // Dropping the receiver stops a reader that is still going (engine gone).
        drop(rx);
        // the books after the last event (all of them when only books were given)
        if outcome.is_ok() && !engine_gone {
            if books.send_until(sink, TsMs::MAX).await.is_err() {
                engine_gone = true;
            } else {
                self.report
                    .files_done
                    .fetch_add(self.book_files as u64, Ordering::Relaxed);
                files_done += self.book_files;
            }
        }
        let total = total + self.book_files;
        if outcome.is_ok() && !engine_gone && files_done < total {
            outcome = Err(anyhow!(
                "the replay reader stopped unexpectedly after {files_done} of {total} file(s); see the log"
            ));
        }
        let summary = self.report.summary();
        let bad = self.report.bad_rows.load(Ordering::Relaxed);
        if bad > 0 {
            tracing::warn!("{summary}");
        } else {
            tracing::info!("{summary}");
        }
        sink.health().set_detail(sink.name(), Some(summary));
        outcome
    }
}

fn progress(done: usize, total: usize) -> String {
    format!("{done} of {total} file(s) read")
}

/// Trades and aggTrades dumps of one symbol hold the same trades (aggregated or not), with ids
/// from different sequences: replaying both would count every trade twice.
fn same_trades_twice(plans: &[Plan]) -> Vec<String> {
    let mut problems = Vec::new();
    for p in plans.iter().filter(|p| p.info.kind == DumpKind::Trades) {
        let agg = plans.iter().find(|q| {
            q.info.kind == DumpKind::AggTrades
                && (q.info.venue, q.symbol) == (p.info.venue, p.symbol)
        });
        if let Some(q) = agg {
            problems.push(format!(
                "{} (trades) and {} (aggTrades) hold the same {} trades twice, aggregated and not: replay one kind of trade dump per symbol",
                p.path.display(),
                q.path.display(),
                p.symbol
            ));
        }
    }
    problems
}

/// The books of the book files still to play, sent between the events of their time.
struct BookFeed {
    left: VecDeque<BookRecord>,
    /// The replay's speed (None: as fast as possible).
    factor: Option<f64>,
    /// The first book sent on its own pace: (its time, the wall time it went out).
    start: Option<(TsMs, tokio::time::Instant)>,
}

impl BookFeed {
    /// Sends (to the ladder and the engine) every book up to `until`. Books after the last
    /// event keep the replay's pace among themselves.
    async fn send_until(&mut self, sink: &EventSink, until: TsMs) -> Result<(), EngineGone> {
        while let Some(b) = self.left.front() {
            if b.ts_ms > until {
                break;
            }
            if until == TsMs::MAX
                && let Some(f) = self.factor
            {
                let (t0, w0) = *self
                    .start
                    .get_or_insert((b.ts_ms, tokio::time::Instant::now()));
                let after =
                    std::time::Duration::from_secs_f64((b.ts_ms - t0).max(0) as f64 / 1000.0 / f);
                tokio::time::sleep_until(w0 + after).await;
            }
            let snap = books::snapshot(b);
            if let Some(board) = sink.books() {
                board.publish(snap.clone());
            }
            sink.send_books(vec![snap]).await?;
            self.left.pop_front();
        }
        Ok(())
    }
}

/// Sends one batch, unpaced or spaced by exchange time, each part after the books of its time.
/// Paced events are stamped with the wall time they go out, which is when the engine would
/// have seen them live.
async fn deliver(
    sink: &EventSink,
    pacer: Option<&mut Pacer>,
    batch: Vec<MarketEvent>,
    books: &mut BookFeed,
) -> Result<(), EngineGone> {
    let Some(pacer) = pacer else {
        if let Some(last) = batch.last() {
            books.send_until(sink, last.exch_ms).await?;
        }
        sink.send(batch).await?;
        return Ok(());
    };
    let mut rest = &batch[..];
    while !rest.is_empty() {
        let (n, due) = pacer.next_chunk(rest);
        if due > tokio::time::Instant::now() {
            tokio::time::sleep_until(due).await;
        }
        books.send_until(sink, rest[n - 1].exch_ms).await?;
        let now = now_ms();
        let mut chunk = rest[..n].to_vec();
        for e in &mut chunk {
            e.recv_ms = now;
        }
        sink.send(chunk).await?;
        rest = &rest[n..];
    }
    Ok(())
}

impl Source for ReplaySource {
    fn name(&self) -> String {
        "replay".into()
    }

    fn overflow(&self) -> Overflow {
        Overflow::Block
    }

    fn run(self: Box<Self>, sink: EventSink) -> SourceFuture {
        Box::pin(async move {
            sink.set_state(SourceState::Live);
            let result = self.replay(&sink).await;
            match &result {
                Ok(()) => sink.set_state(SourceState::Finished),
                Err(e) => sink.set_state(SourceState::Failed(format!("{e:#}"))),
            }
            sink.finish().await;
            result
        })
    }
}
