//! The portfolio's value over time for the `P` view's chart, computed on a thread of its own
//! (never the UI's) from stored candles: the ledger replayed up to each step and valued at
//! the prices then ([`crate::portfolio::series`]).

use std::sync::Arc;

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

/// The series, or why it could not be read.
pub type FolioReply = super::worker::Reply<Vec<FolioPoint>>;

/// Handle to the thread. Dropping it ends the thread.
pub type FolioLoader = super::worker::Worker<FolioRequest, Vec<FolioPoint>>;

impl super::worker::Question for FolioRequest {
    fn id(&self) -> u64 {
        self.id
    }
}

impl FolioLoader {
    /// Starts the thread for the database at `db` (which may not exist yet: nothing stored,
    /// an empty series).
    pub fn spawn_at(db: Location) -> std::io::Result<FolioLoader> {
        Self::spawn("tickwatch-folio", db, answer)
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
