//! The portfolio's value over time for the `P` view's chart, computed on a thread of its own
//! (never the UI's) from stored candles: the ledger replayed up to each step and valued at
//! the prices then ([`crate::portfolio::series`]).

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::domain::TsMs;
use crate::portfolio::Portfolio;
use crate::portfolio::prices::{Conversions, StoredPrices};
use crate::store::{Location, StoreError};

/// The portfolio valued every `step_ms` from `from_ms` to `to_ms`.
#[derive(Debug, Clone)]
pub struct FolioRequest {
    /// Echoed in the reply: answers to questions no longer asked are dropped.
    pub id: u64,
    pub portfolio: Arc<Portfolio>,
    pub from_ms: TsMs,
    pub to_ms: TsMs,
    pub step_ms: TsMs,
}

/// One step of the series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FolioPoint {
    pub ts_ms: TsMs,
    pub value: f64,
    pub pnl: f64,
    /// Every holding had a price then (a value without one is too low: drawn apart).
    pub whole: bool,
}

#[derive(Debug, Clone)]
pub struct FolioReply {
    pub id: u64,
    /// The reason in words when the database could not be read or the ledger does not add up.
    pub result: Result<Vec<FolioPoint>, String>,
    pub elapsed: Duration,
}

/// Handle to the thread. Dropping it ends the thread.
pub struct FolioLoader {
    tx: flume::Sender<FolioRequest>,
    rx: flume::Receiver<FolioReply>,
}

impl FolioLoader {
    /// Starts the thread for the database at `db` (which may not exist yet: nothing stored,
    /// an empty series).
    pub fn spawn_at(db: Location) -> std::io::Result<FolioLoader> {
        let (tx, req_rx) = flume::unbounded::<FolioRequest>();
        let (reply_tx, rx) = flume::unbounded();
        std::thread::Builder::new()
            .name("tickwatch-folio".into())
            .spawn(move || {
                while let Ok(first) = req_rx.recv() {
                    // a newer question supersedes the ones queued before it
                    let req = req_rx.try_iter().last().unwrap_or(first);
                    let t0 = Instant::now();
                    let result = answer(&db, &req);
                    let reply = FolioReply {
                        id: req.id,
                        result,
                        elapsed: t0.elapsed(),
                    };
                    if reply_tx.send(reply).is_err() {
                        break;
                    }
                }
            })?;
        Ok(FolioLoader { tx, rx })
    }

    /// Queues a request; never blocks.
    pub fn request(&self, req: FolioRequest) {
        let _ = self.tx.send(req);
    }

    /// A finished reply, if one is waiting.
    pub fn try_recv(&self) -> Option<FolioReply> {
        self.rx.try_recv().ok()
    }

    /// Waits up to `timeout` for a reply (tests).
    pub fn recv_timeout(&self, timeout: Duration) -> Option<FolioReply> {
        self.rx.recv_timeout(timeout).ok()
    }
}

fn answer(db: &Location, req: &FolioRequest) -> Result<Vec<FolioPoint>, String> {
    let reader = match crate::store::open_reader(db) {
        Ok(r) => r,
        Err(StoreError::NotFound { .. }) => return Ok(Vec::new()),
        Err(e) => return Err(e.to_string()),
    };
    let p = &req.portfolio;
    let rates = Conversions {
        markets: &p.markets,
        prices: StoredPrices::new(reader),
        basis: &p.basis,
    };
    let points = crate::portfolio::series::series(p, &rates, req.from_ms, req.to_ms, req.step_ms)
        .map_err(|e| e.to_string())?;
    Ok(points
        .into_iter()
        .map(|pt| FolioPoint {
            ts_ms: pt.ts_ms,
            value: pt.valuation.value,
            pnl: pt.valuation.pnl(),
            whole: pt.valuation.value_whole(),
        })
        .collect())
}
