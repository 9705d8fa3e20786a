//! The blocking half of a replay: reads the files in order and hands batches of events to the
//! async half, which paces them and sends them to the engine.

use std::path::PathBuf;
use std::sync::atomic::Ordering;

use anyhow::anyhow;

use super::file::{DumpInfo, Lines, with_reader};
use super::layout::{RowParser, clip, is_header, strip_bom};
use super::report::ReplayReport;
use crate::domain::{MarketEvent, Symbol, now_ms};

/// Events per message to the engine.
pub const BATCH: usize = 4096;

/// One file, checked and ready to read.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub path: PathBuf,
    pub info: DumpInfo,
    pub symbol: Symbol,
}

/// From the reader to the pacer, in file order.
#[derive(Debug)]
pub(crate) enum Msg {
    Batch(Vec<MarketEvent>),
    /// Every event of file `n` (0-based) has been handed over.
    FileDone(usize),
    /// Reading stopped; everything before it was handed over first.
    Failed(anyhow::Error),
}

/// The receiver has gone: stop reading.
struct Stopped;

/// Reads every file; returns when done, failed (after sending `Failed`) or no longer wanted.
pub(crate) fn read_all(
    plans: &[Plan],
    skip_bad: bool,
    report: &ReplayReport,
    tx: &flume::Sender<Msg>,
) {
    for (n, plan) in plans.iter().enumerate() {
        let mut out = Out {
            tx,
            batch: Vec::with_capacity(BATCH),
            report,
        };
        let result = with_reader(&plan.path, |r, entry| {
            Ok(read_one(plan, entry, r, skip_bad, report, &mut out))
        });
        match result {
            Ok(Ok(())) => {
                if out
                    .flush()
                    .and_then(|()| send(tx, Msg::FileDone(n)))
                    .is_err()
                {
                    return;
                }
            }
            Ok(Err(Fail::Stopped)) => return,
            Ok(Err(Fail::Error(e))) | Err(e) => {
                // Deliver what was read before the failure, then the failure; if the pacer has
                // gone there is no one left to tell.
                let _ = out.flush().and_then(|()| send(tx, Msg::Failed(e)));
                return;
            }
        }
    }
}

enum Fail {
    Stopped,
    Error(anyhow::Error),
}

impl From<Stopped> for Fail {
    fn from(_: Stopped) -> Self {
        Fail::Stopped
    }
}

fn send(tx: &flume::Sender<Msg>, msg: Msg) -> Result<(), Stopped> {
    tx.send(msg).map_err(|_| Stopped)
}

/// The batch being filled.
struct Out<'a> {
    tx: &'a flume::Sender<Msg>,
    batch: Vec<MarketEvent>,
    report: &'a ReplayReport,
}

impl Out<'_> {
    fn flush(&mut self) -> Result<(), Stopped> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let full = std::mem::replace(&mut self.batch, Vec::with_capacity(BATCH));
        self.report
            .rows
            .fetch_add(full.len() as u64, Ordering::Relaxed);
        send(self.tx, Msg::Batch(full))
    }
}

fn read_one(
    plan: &Plan,
    entry: Option<&str>,
    r: &mut dyn std::io::BufRead,
    skip_bad: bool,
    report: &ReplayReport,
    out: &mut Out<'_>,
) -> Result<(), Fail> {
    let place = match entry {
        Some(e) => format!("{}, {e}", plan.path.display()),
        None => plan.path.display().to_string(),
    };
    let mut parser = RowParser::new(
        plan.info.kind,
        plan.info.venue,
        plan.symbol,
        plan.info.columns,
    );
    let mut lines = Lines::new(r);
    let mut recv_ms = now_ms();
    loop {
        let (line_no, line) = match lines.next_line() {
            Ok(Some(next)) => next,
            Ok(None) => return Ok(()),
            Err(e) => {
                return Err(Fail::Error(anyhow!(
                    "reading {place} failed after line {}: {e}; check the file (a partial download?)",
                    lines.line_no
                )));
            }
        };
        let parsed = match line {
            Ok(text) => {
                let text = if line_no == 1 { strip_bom(text) } else { text };
                if text.is_empty() || (line_no == 1 && plan.info.header && is_header(text)) {
                    continue;
                }
                parser.parse(text, recv_ms).map_err(|why| (why, clip(text)))
            }
            Err(_) => Err(("the line is not UTF-8 text".to_string(), String::new())),
        };
        match parsed {
            Ok(ev) => {
                out.batch.push(ev);
                if out.batch.len() >= BATCH {
                    out.flush()?;
                    recv_ms = now_ms();
                }
            }
            Err((why, row)) => {
                let msg = if row.is_empty() {
                    format!("{place}:{line_no}: {why}")
                } else {
                    format!("{place}:{line_no}: {why} (row `{row}`)")
                };
                if !skip_bad {
                    return Err(Fail::Error(anyhow!(
                        "{msg}; fix or delete that row, or pass --skip-bad to skip bad rows and count them"
                    )));
                }
                report.note_bad(msg);
            }
        }
    }
}
