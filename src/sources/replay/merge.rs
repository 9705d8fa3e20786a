//! The blocking half of a replay: merges every file's rows into one stream in time order,
//! whatever order the files were given in, skips rows replayed twice, and hands small batches to
//! the async half, which paces them and sends them to the engine.
//!
//! Each file is read by its own thread into a bounded channel, and a file is opened only when
//! the merge reaches the time of its first row: a year of daily files keeps one or a few open.
//! Memory is bounded by the number of files open at once, never by a file's length.

use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, VecDeque};
use std::sync::atomic::Ordering as AtomicOrdering;
use std::thread::Scope;

use anyhow::anyhow;

use super::dedupe::Dedupe;
use super::reader::{Feed, Plan, read_file};
use super::report::ReplayReport;
use crate::domain::{EventKind, MarketEvent, TsMs};

/// Events per message to the engine. Small, because the ring to the engine holds
/// `ring_capacity` messages: 1,024 of these are about 7 MB, not a file's worth.
pub const BATCH: usize = 64;

/// From the merge to the pacer, in time order.
#[derive(Debug)]
pub(crate) enum Msg {
    Batch(Vec<MarketEvent>),
    /// Every event of file `n` (0-based, in the order given) has been handed over.
    FileDone(usize),
    /// Reading stopped; everything before it was handed over first.
    Failed(anyhow::Error),
}

/// When a row's information is complete, the time the merge orders by: a trade's time, a
/// kline's close time (its last millisecond). A kline thus follows the trades it sums up, as
/// it does on a live feed.
pub(crate) fn merge_time(ev: &MarketEvent) -> TsMs {
    match ev.kind {
        EventKind::Candle {
            interval, candle, ..
        } => candle.open_ms + interval.ms() - 1,
        EventKind::Trade(_) | EventKind::Quote(_) | EventKind::Stats24h(_) => ev.exch_ms,
    }
}

/// Among rows of the same time: trades first (the kline closing then includes them), then
/// klines from the shortest interval (a 1h kline after the 1m kline that ends its hour).
fn rank(ev: &MarketEvent) -> TsMs {
    match ev.kind {
        EventKind::Candle { interval, .. } => interval.ms(),
        EventKind::Trade(_) | EventKind::Quote(_) | EventKind::Stats24h(_) => 0,
    }
}

/// The next event of one open file, ordered by (time, rank, file index).
struct Head {
    key: (TsMs, TsMs, usize),
    ev: MarketEvent,
}

impl PartialEq for Head {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}
impl Eq for Head {}
impl PartialOrd for Head {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Head {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key.cmp(&other.key)
    }
}

/// A file being read: its channel and the batch being taken apart.
struct OpenFile {
    rx: flume::Receiver<Feed>,
    batch: std::vec::IntoIter<MarketEvent>,
}

impl OpenFile {
    fn next(&mut self, plan: &Plan) -> anyhow::Result<Option<MarketEvent>> {
        loop {
            if let Some(ev) = self.batch.next() {
                return Ok(Some(ev));
            }
            match self.rx.recv() {
                Ok(Feed::Events(b)) => self.batch = b.into_iter(),
                Ok(Feed::Done) => return Ok(None),
                Ok(Feed::Failed(e)) => return Err(e),
                Err(_) => {
                    return Err(anyhow!(
                        "the reader of {} stopped unexpectedly; see the log",
                        plan.path.display()
                    ));
                }
            }
        }
    }
}

/// The pacer has gone (the engine stopped): stop quietly.
struct Stopped;

enum Fail {
    Stopped,
    Error(anyhow::Error),
}

impl From<Stopped> for Fail {
    fn from(_: Stopped) -> Self {
        Fail::Stopped
    }
}

/// Merges every file; returns when done, failed (after sending `Failed`) or no longer wanted.
pub(crate) fn run(plans: &[Plan], skip_bad: bool, report: &ReplayReport, tx: &flume::Sender<Msg>) {
    std::thread::scope(|scope| {
        let mut out = Out {
            tx,
            batch: Vec::with_capacity(BATCH),
            report,
        };
        let mut merge = Merge::new(plans, skip_bad, report);
        let result = merge.run(scope, &mut out);
        // The files' channels close here, so a reader still going stops before the scope
        // waits for it.
        drop(merge);
        if let Err(Fail::Error(e)) = result {
            let _ = out.flush().and_then(|()| send(tx, Msg::Failed(e)));
        }
    });
}

struct Merge<'a> {
    plans: &'a [Plan],
    skip_bad: bool,
    report: &'a ReplayReport,
    /// Files not opened yet, by the time of their first row.
    pending: VecDeque<usize>,
    open: Vec<Option<OpenFile>>,
    heads: BinaryHeap<Reverse<Head>>,
    dedupe: Dedupe,
}

impl<'a> Merge<'a> {
    fn new(plans: &'a [Plan], skip_bad: bool, report: &'a ReplayReport) -> Self {
        let mut pending: Vec<usize> = (0..plans.len()).collect();
        pending.sort_by_key(|&i| (plans[i].info.first_ms.unwrap_or(TsMs::MIN), i));
        Merge {
            plans,
            skip_bad,
            report,
            pending: pending.into(),
            open: (0..plans.len()).map(|_| None).collect(),
            heads: BinaryHeap::new(),
            dedupe: Dedupe::default(),
        }
    }

    fn run<'scope>(
        &mut self,
        scope: &'scope Scope<'scope, '_>,
        out: &mut Out<'_>,
    ) -> Result<(), Fail>
    where
        'a: 'scope,
    {
        loop {
            // Open every file whose first row is due no later than the next event, so that
            // nothing earlier can turn up after it.
            while let Some(&i) = self.pending.front() {
                let starts = self.plans[i].info.first_ms.unwrap_or(TsMs::MIN);
                if self.heads.peek().is_some_and(|Reverse(h)| h.key.0 < starts) {
                    break;
                }
                self.pending.pop_front();
                self.open_file(scope, i)?;
                self.advance(i, out)?;
            }
            let Some(Reverse(head)) = self.heads.pop() else {
                return Ok(());
            };
            let i = head.key.2;
            if self.dedupe.is_repeat(&head.ev) {
                self.report.duplicates.fetch_add(1, AtomicOrdering::Relaxed);
            } else {
                out.push(head.ev)?;
            }
            self.advance(i, out)?;
        }
    }

    fn open_file<'scope>(&mut self, scope: &'scope Scope<'scope, '_>, i: usize) -> Result<(), Fail>
    where
        'a: 'scope,
    {
        let (ftx, rx) = flume::bounded::<Feed>(2);
        let plan = &self.plans[i];
        let (skip_bad, report) = (self.skip_bad, self.report);
        std::thread::Builder::new()
            .name(format!("tickwatch-replay-{i}"))
            .spawn_scoped(scope, move || read_file(plan, skip_bad, report, &ftx))
            .map_err(|e| {
                Fail::Error(anyhow!(
                    "cannot start a reader thread for {}: {e}",
                    plan.path.display()
                ))
            })?;
        self.open[i] = Some(OpenFile {
            rx,
            batch: Vec::new().into_iter(),
        });
        Ok(())
    }

    /// Takes the next event of file `i` into the heap, or finishes the file.
    fn advance(&mut self, i: usize, out: &mut Out<'_>) -> Result<(), Fail> {
        let Some(file) = self.open[i].as_mut() else {
            return Ok(());
        };
        match file.next(&self.plans[i]) {
            Ok(Some(ev)) => {
                self.heads.push(Reverse(Head {
                    key: (merge_time(&ev), rank(&ev), i),
                    ev,
                }));
                Ok(())
            }
            Ok(None) => {
                self.open[i] = None;
                out.flush()?;
                send(out.tx, Msg::FileDone(i))?;
                Ok(())
            }
            Err(e) => Err(Fail::Error(e)),
        }
    }
}

fn send(tx: &flume::Sender<Msg>, msg: Msg) -> Result<(), Stopped> {
    tx.send(msg).map_err(|_| Stopped)
}

/// The batch being filled for the pacer.
struct Out<'a> {
    tx: &'a flume::Sender<Msg>,
    batch: Vec<MarketEvent>,
    report: &'a ReplayReport,
}

impl Out<'_> {
    fn push(&mut self, ev: MarketEvent) -> Result<(), Stopped> {
        self.batch.push(ev);
        if self.batch.len() >= BATCH {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), Stopped> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let full = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH));
        self.report
            .rows
            .fetch_add(full.len() as u64, AtomicOrdering::Relaxed);
        send(self.tx, Msg::Batch(full))
    }
}
