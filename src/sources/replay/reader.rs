//! Reading one dump file: a thread per open file parses its rows into events and hands them, in
//! small batches over a bounded channel, to the merge.

use std::path::PathBuf;

use anyhow::anyhow;

use super::file::{DumpInfo, Lines, with_reader};
use super::layout::{RowParser, clip, is_header, strip_bom};
use super::report::ReplayReport;
use crate::domain::{MarketEvent, Symbol, now_ms};

/// Events per message from a file's reader to the merge.
const FEED_BATCH: usize = 512;

/// One file, checked and ready to read.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub path: PathBuf,
    pub info: DumpInfo,
    pub symbol: Symbol,
}

/// From a file's reader to the merge, in row order.
#[derive(Debug)]
pub(crate) enum Feed {
    Events(Vec<MarketEvent>),
    /// Every row has been read.
    Done,
    /// Reading stopped; every event before it was sent first.
    Failed(anyhow::Error),
}

/// The merge has gone: stop reading.
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

/// Reads `plan` to the end, or until it fails (after sending `Failed`) or the merge is gone.
pub(crate) fn read_file(
    plan: &Plan,
    skip_bad: bool,
    report: &ReplayReport,
    tx: &flume::Sender<Feed>,
) {
    let mut out = Out {
        tx,
        batch: Vec::with_capacity(FEED_BATCH),
    };
    let result = with_reader(&plan.path, |r, entry| {
        Ok(read_rows(plan, entry, r, skip_bad, report, &mut out))
    });
    let end = match result {
        Ok(Ok(())) => Feed::Done,
        Ok(Err(Fail::Stopped)) => return,
        Ok(Err(Fail::Error(e))) | Err(e) => Feed::Failed(e),
    };
    // If the merge has gone there is no one left to tell.
    let _ = out.flush().and_then(|()| tx.send(end).map_err(|_| Stopped));
}

/// The batch being filled.
struct Out<'a> {
    tx: &'a flume::Sender<Feed>,
    batch: Vec<MarketEvent>,
}

impl Out<'_> {
    fn flush(&mut self) -> Result<(), Stopped> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let full = std::mem::replace(&mut self.batch, Vec::with_capacity(FEED_BATCH));
        self.tx.send(Feed::Events(full)).map_err(|_| Stopped)
    }
}

fn read_rows(
    plan: &Plan,
    entry: Option<&str>,
    r: &mut dyn std::io::BufRead,
    skip_bad: bool,
    report: &ReplayReport,
    out: &mut Out<'_>,
) -> Result<(), Fail> {
    // an entry's name comes from inside the archive: outside text
    let place = crate::format::visible(&match entry {
        Some(e) => format!("{}, {e}", plan.path.display()),
        None => plan.path.display().to_string(),
    });
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
            Err(bad) => Err((bad.describe(), String::new())),
        };
        match parsed {
            Ok(ev) => {
                out.batch.push(ev);
                if out.batch.len() >= FEED_BATCH {
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
