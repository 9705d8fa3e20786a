//! The history thread: owns a read-only SQLite connection, answers range requests for the
//! chart, newest request first.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::HistoryReader;
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
    /// The newest stored candle of this symbol and interval: where stored data end, so that a
    /// range over stored data (a replayed database, no live data yet) fits them.
    pub last_stored_ms: Option<TsMs>,
}

/// The newest stored close of a symbol, for the watchlist while no live data have come.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StoredClose {
    pub key: VenueSymbol,
    pub close: f64,
    /// When the candle it closes ended (the data's age is measured from here).
    pub end_ms: TsMs,
}

#[derive(Debug, Clone, PartialEq)]
pub struct HistoryReply {
    pub request: HistoryRequest,
    /// The reason in words, naming the file and what to do, when the database could not be
    /// read (not a database or damaged, a newer schema, unreadable). A database that does not
    /// exist yet is not an error: nothing is stored yet, so the slice is empty.
    pub result: Result<HistorySlice, String>,
    /// Time spent answering (opening, reading, merging).
    pub elapsed: Duration,
}

/// Handle to the history thread. Dropping it ends the thread.
pub struct HistoryLoader {
    tx: flume::Sender<HistoryRequest>,
    rx: flume::Receiver<HistoryReply>,
    last_tx: flume::Sender<Vec<VenueSymbol>>,
    last_rx: flume::Receiver<Vec<StoredClose>>,
}

/// What the history thread was asked.
enum Ask {
    Range(HistoryRequest),
    LastCloses(Vec<VenueSymbol>),
}

impl HistoryLoader {
    /// Starts the thread for the database at `db` (which may not exist yet: each request then
    /// answers with an empty slice). The thread keeps one read-only connection open across
    /// requests (see [`HistoryReader`]).
    pub fn spawn(db: PathBuf) -> std::io::Result<HistoryLoader> {
        Self::spawn_at(crate::store::Location::Sqlite(db))
    }

    /// [`spawn`](Self::spawn) for any backend: an SQLite file or a PostgreSQL database.
    pub fn spawn_at(db: crate::store::Location) -> std::io::Result<HistoryLoader> {
        let (tx, req_rx) = flume::unbounded::<HistoryRequest>();
        let (reply_tx, rx) = flume::unbounded();
        let (last_tx, last_req_rx) = flume::unbounded::<Vec<VenueSymbol>>();
        let (last_reply_tx, last_rx) = flume::unbounded();
        std::thread::Builder::new()
            .name("tickwatch-history".into())
            .spawn(move || {
                let mut reader: Box<dyn super::HistorySource> = match db {
                    crate::store::Location::Sqlite(path) => Box::new(HistoryReader::new(path)),
                    crate::store::Location::Postgres(t) => Box::new(super::pg::PgHistory::new(*t)),
                };
                loop {
                    let ask = flume::Selector::new()
                        .recv(&req_rx, |r| r.map(Ask::Range))
                        .recv(&last_req_rx, |r| r.map(Ask::LastCloses))
                        .wait();
                    let sent = match ask {
                        // both senders gone: the loader was dropped
                        Err(_) => break,
                        Ok(Ask::Range(first)) => {
                            let req = newest(first, &req_rx);
                            let t0 = Instant::now();
                            let result = reader.load(&req);
                            let reply = HistoryReply {
                                request: req,
                                result,
                                elapsed: t0.elapsed(),
                            };
                            reply_tx.send(reply).is_ok()
                        }
                        Ok(Ask::LastCloses(keys)) => match reader.last_closes(&keys) {
                            Ok(closes) => last_reply_tx.send(closes).is_ok(),
                            Err(e) => {
                                tracing::warn!("stored last prices: {e}");
                                true
                            }
                        },
                    };
                    if !sent {
                        break;
                    }
                }
            })?;
        Ok(HistoryLoader {
            tx,
            rx,
            last_tx,
            last_rx,
        })
    }

    /// Queues a request; never blocks. Requests still queued when the thread gets to them are
    /// superseded by the newest: only that one is answered.
    pub fn request(&self, req: HistoryRequest) {
        let _ = self.tx.send(req);
    }

    /// Asks for the newest stored close of each of `keys`; never blocks.
    pub fn request_last_closes(&self, keys: Vec<VenueSymbol>) {
        let _ = self.last_tx.send(keys);
    }

    /// Stored closes that arrived, if any (symbols with nothing stored are left out).
    pub fn try_recv_last_closes(&self) -> Option<Vec<StoredClose>> {
        self.last_rx.try_recv().ok()
    }

    /// A finished reply, if one is waiting.
    pub fn try_recv(&self) -> Option<HistoryReply> {
        self.rx.try_recv().ok()
    }

    /// Waits up to `timeout` for a reply: for callers with nothing else to do (tests,
    /// benchmarks, headless tools). The UI polls [`HistoryLoader::try_recv`] instead.
    pub fn recv_timeout(&self, timeout: Duration) -> Option<HistoryReply> {
        self.rx.recv_timeout(timeout).ok()
    }
}

/// The newest of `first` and every request already queued behind it: a pan or zoom supersedes
/// the questions before it.
fn newest(first: HistoryRequest, queued: &flume::Receiver<HistoryRequest>) -> HistoryRequest {
    queued.try_iter().last().unwrap_or(first)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Symbol, Venue};

    fn req(id: u64) -> HistoryRequest {
        HistoryRequest {
            id,
            key: VenueSymbol::new(Venue::Sim, Symbol::new("A").unwrap()),
            interval: Interval::M1,
            from_ms: 0,
            to_ms: 60_000 * id as i64,
            bucket_ms: 60_000,
            columns: Arc::from(Vec::<String>::new()),
        }
    }

    #[test]
    fn the_newest_queued_request_wins() {
        let (tx, rx) = flume::unbounded();
        assert_eq!(newest(req(1), &rx), req(1));
        for id in 2..=5 {
            tx.send(req(id)).unwrap();
        }
        assert_eq!(newest(req(1), &rx), req(5));
        assert!(rx.is_empty());
    }
}
