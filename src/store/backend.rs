//! The store interface. The engine hands over domain types ([`OutputBatch`]); a backend turns
//! them into its own rows. Two backends implement it: SQLite (the embedded default) and
//! PostgreSQL. Writing happens on the storage thread through [`BatchStore`]; every read a
//! command needs (export, `alerts list`, stored rules and watchlist edits) goes through
//! [`ReadStore`]; the chart's history reads through `history::HistorySource`.

use std::collections::HashMap;

use super::queries::{CandleWithIndicators, StoredDelivery, StoredRange};
use super::{Location, StoreError, WriteCounts};
use crate::domain::{
    AlertRecord, Interval, OutputBatch, RuleRecord, Symbol, TradeTick, TsMs, Venue, VenueSymbol,
    WatchlistEdit,
};

/// How a failed write is handled by the storage thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// Worth retrying this batch a few times (locked, a conflict), then it is dropped and
    /// counted.
    Retry,
    /// No retry helps (disk full, read-only, damaged, no permission): stop storing (headless)
    /// or probe again later (monitor).
    Unwritable,
    /// The server went away: keep the batch, reconnect with backoff and write it then. Nothing
    /// is dropped; the engine waits behind the storage thread and the loss (if the outage
    /// outlasts its buffers) happens at the ring, where sources refill by trade id.
    Disconnected,
}

/// A failed write: its kind and a short reason for the status bar and log (no secrets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteFailure {
    pub kind: FailureKind,
    pub reason: String,
}

/// The write side of a backend, owned by the storage thread.
pub trait BatchStore: Send {
    /// Writes `batches` in order in one transaction: all of it or nothing. Idempotent: trades
    /// and alerts already stored are left alone, candles and values replaced by the same.
    fn write(&mut self, batches: &[OutputBatch]) -> Result<WriteCounts, WriteFailure>;

    /// Opens a new connection after [`FailureKind::Disconnected`].
    fn reconnect(&mut self) -> Result<(), WriteFailure> {
        Ok(())
    }

    /// Periodic upkeep (PostgreSQL: partitions ahead of time, retention); called about once a
    /// minute from the storage thread.
    fn maintain(&mut self) {}

    /// Adds portfolio entries in one transaction, leaving an id already stored as it is;
    /// returns how many were new.
    fn add_portfolio_entries(
        &mut self,
        entries: &[crate::portfolio::Entry],
    ) -> Result<u64, StoreError>;
}

/// The read side of a backend: what the commands ask of stored history.
pub trait ReadStore {
    /// The path or the URL (without password), for messages.
    fn describe(&self) -> String;

    /// Candles of `symbol` at `interval` (one venue, or all that have it) with
    /// `from_ms <= open_ms <= to_ms`, ascending, with their indicator values; with `limit`, the
    /// latest `limit` of the range.
    fn candles(
        &mut self,
        venue: Option<Venue>,
        symbol: Symbol,
        interval: Interval,
        from_ms: Option<TsMs>,
        to_ms: Option<TsMs>,
        limit: Option<usize>,
    ) -> Result<Vec<(Venue, CandleWithIndicators)>, StoreError>;

    /// Venues that hold candles or trades of `symbol`.
    fn venues_for(&mut self, symbol: Symbol) -> Result<Vec<Venue>, StoreError>;

    /// Every (venue, symbol) stored, with its number of candles.
    fn symbols(&mut self) -> Result<Vec<(Venue, Symbol, u64)>, StoreError>;

    /// Stored alerts, newest first.
    fn alerts(
        &mut self,
        since_ms: Option<TsMs>,
        limit: Option<usize>,
    ) -> Result<Vec<AlertRecord>, StoreError>;

    /// Delivery outcomes of the alerts fired at or after `since_ms`, by alert id.
    fn deliveries(
        &mut self,
        since_ms: Option<TsMs>,
    ) -> Result<HashMap<String, Vec<StoredDelivery>>, StoreError>;

    /// Stored alert rules, oldest first.
    fn rules(&mut self) -> Result<Vec<RuleRecord>, StoreError>;

    /// The latest watchlist edit per (list, venue, symbol), in time order.
    fn watchlist_edits(&mut self) -> Result<Vec<WatchlistEdit>, StoreError>;

    /// Number of stored trades of one instrument.
    fn trade_count(&mut self, venue: Venue, symbol: Symbol) -> Result<u64, StoreError>;

    /// Every stored candle series with its first and last open time and count.
    fn candle_ranges(&mut self) -> Result<Vec<StoredRange>, StoreError>;

    /// Stored trades of `key` with `from_ms <= ts_ms <= to_ms`, by time then id, after the
    /// (time, trade id) where the previous page ended; at most `limit` (read page by page).
    fn trades_page(
        &mut self,
        key: VenueSymbol,
        from_ms: TsMs,
        to_ms: TsMs,
        after: Option<(TsMs, u64)>,
        limit: usize,
    ) -> Result<Vec<(TsMs, TradeTick)>, StoreError>;

    /// The stored portfolio entries, by time.
    fn portfolio_entries(&mut self) -> Result<Vec<crate::portfolio::Entry>, StoreError>;

    /// Stored order book snapshots of `symbol` (one venue, or all that have it) with
    /// `from_ms <= ts_ms <= to_ms`, by time.
    fn book_snapshots(
        &mut self,
        venue: Option<Venue>,
        symbol: Symbol,
        from_ms: Option<TsMs>,
        to_ms: Option<TsMs>,
    ) -> Result<Vec<crate::domain::BookRecord>, StoreError>;
}

/// Opens the write side (creating and migrating the database), for the storage thread.
pub fn open_batch_store(at: &Location) -> Result<Box<dyn BatchStore>, StoreError> {
    match at {
        Location::Sqlite(path) => Ok(Box::new(super::sqlite::SqliteBatches::open(path)?)),
        Location::Postgres(t) => Ok(Box::new(super::postgres::PgBatches::open(t)?)),
    }
}

/// Opens the read side without writing anything (a missing SQLite file is `NotFound`; a
/// PostgreSQL connection is read-only).
pub fn open_reader(at: &Location) -> Result<Box<dyn ReadStore>, StoreError> {
    match at {
        Location::Sqlite(path) => Ok(Box::new(super::sqlite::SqliteReader::open(path)?)),
        Location::Postgres(t) => Ok(Box::new(super::postgres::PgReader::open(t)?)),
    }
}
