//! The history thread: owns a read-only SQLite connection, answers range requests for the
//! chart, newest request first.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::domain::{Interval, TsMs, VenueSymbol};
use crate::view::ChartCandle;

/// Candles of one symbol and interval with `from_ms <= open_ms < to_ms`, merged into buckets of
/// `bucket_ms`.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryRequest {
    /// Echoed in the reply, so the asker can drop answers to questions it no longer asks.
    pub id: u64,
    pub key: VenueSymbol,
    pub interval: Interval,
    pub from_ms: TsMs,
    pub to_ms: TsMs,
    /// A multiple of `interval.ms()` (see [`super::bucket_ms_for`]).
    pub bucket_ms: TsMs,
    /// Indicator columns in the order the reply's `values` use (the engine's columns).
    pub columns: Arc<[String]>,
}

/// What the database held for a request.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HistorySlice {
    /// Merged candles, ascending.
    pub candles: Vec<ChartCandle>,
    /// How many stored candles went into them.
    pub source_candles: usize,
    /// The oldest stored candle of this symbol and interval, to say where history begins.
    pub first_stored_ms: Option<TsMs>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct HistoryReply {
    pub request: HistoryRequest,
    /// The reason in words when the database could not be read (missing, locked, corrupt).
    pub result: Result<HistorySlice, String>,
    pub elapsed: Duration,
}

/// Handle to the history thread. Dropping it ends the thread.
pub struct HistoryLoader {
    tx: flume::Sender<HistoryRequest>,
    rx: flume::Receiver<HistoryReply>,
}

impl HistoryLoader {
    /// Starts the thread for the database at `db` (which may not exist yet: each request then
    /// answers with an empty slice).
    pub fn spawn(db: PathBuf) -> std::io::Result<HistoryLoader> {
        let (tx, req_rx) = flume::unbounded::<HistoryRequest>();
        let (reply_tx, rx) = flume::unbounded();
        std::thread::Builder::new()
            .name("tickwatch-history".into())
            .spawn(move || {
                while let Ok(mut req) = req_rx.recv() {
                    // only the newest question matters: a pan or zoom supersedes the rest
                    while let Ok(newer) = req_rx.try_recv() {
                        req = newer;
                    }
                    let t0 = Instant::now();
                    let result = load(&db, &req);
                    let reply = HistoryReply {
                        request: req,
                        result,
                        elapsed: t0.elapsed(),
                    };
                    if reply_tx.send(reply).is_err() {
                        break;
                    }
                }
            })?;
        Ok(HistoryLoader { tx, rx })
    }

    /// Queues a request; never blocks.
    pub fn request(&self, req: HistoryRequest) {
        let _ = self.tx.send(req);
    }

    /// A finished reply, if one is waiting.
    pub fn try_recv(&self) -> Option<HistoryReply> {
        self.rx.try_recv().ok()
    }
}

fn load(db: &std::path::Path, req: &HistoryRequest) -> Result<HistorySlice, String> {
    if !db.exists() {
        return Ok(HistorySlice::default());
    }
    let conn = crate::store::open_readonly(db).map_err(|e| e.to_string())?;
    let rows = crate::store::queries::candles(
        &conn,
        Some(req.key.venue),
        req.key.symbol,
        req.interval,
        Some(req.from_ms),
        Some(req.to_ms - 1),
        None,
    )
    .map_err(|e| e.to_string())?;
    let n = rows.len();
    let candles = rows.into_iter().map(|(_, c)| ChartCandle {
        values: req
            .columns
            .iter()
            .map(|col| c.values.get(col).copied())
            .collect(),
        candle: c.candle,
        closed: true,
    });
    Ok(HistorySlice {
        candles: super::bucketize(candles, req.bucket_ms),
        source_candles: n,
        first_stored_ms: None,
    })
}
