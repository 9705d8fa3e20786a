//! The SQLite backend (the embedded default): one file in WAL mode, the schema documented in
//! [`schema::SCHEMA_DOC`].

pub mod open;
pub mod portfolio;
pub mod queries;
pub mod schema;
pub mod watchlists;
pub mod write_batch;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rusqlite::Connection;

use super::backend::{BatchStore, FailureKind, ReadStore, WriteFailure};
use super::error::describe_write_error;
use super::{StoreError, WriteCounts};
use crate::domain::{
    AlertRecord, Interval, OutputBatch, RuleRecord, Symbol, TsMs, Venue, WatchlistEdit,
};
use queries::{CandleWithIndicators, StoredDelivery};

/// The storage thread's connection to an SQLite file.
pub struct SqliteBatches {
    conn: Connection,
}

impl SqliteBatches {
    pub fn open(path: &Path) -> Result<SqliteBatches, StoreError> {
        Ok(SqliteBatches {
            conn: open::open(path)?,
        })
    }
}

/// Errors that no retry fixes: the disk is full, the file became read-only or unreadable.
fn unwritable(err: &rusqlite::Error) -> bool {
    use rusqlite::ErrorCode as C;
    matches!(
        err.sqlite_error_code(),
        Some(
            C::DiskFull
                | C::ReadOnly
                | C::PermissionDenied
                | C::SystemIoFailure
                | C::DatabaseCorrupt
                | C::NotADatabase
                | C::CannotOpen
        )
    )
}

impl BatchStore for SqliteBatches {
    fn write(&mut self, batches: &[OutputBatch]) -> Result<WriteCounts, WriteFailure> {
        write_batch::write_batches(&mut self.conn, batches).map_err(|e| WriteFailure {
            kind: if unwritable(&e) {
                FailureKind::Unwritable
            } else {
                FailureKind::Retry
            },
            reason: describe_write_error(&e),
        })
    }

    fn add_portfolio_entries(
        &mut self,
        entries: &[crate::portfolio::Entry],
    ) -> Result<u64, StoreError> {
        portfolio::add(&mut self.conn, entries)
    }
}

/// A read-only connection to an SQLite file.
pub struct SqliteReader {
    conn: Connection,
    path: PathBuf,
}

impl SqliteReader {
    pub fn open(path: &Path) -> Result<SqliteReader, StoreError> {
        Ok(SqliteReader {
            conn: open::open_readonly(path)?,
            path: path.to_path_buf(),
        })
    }
}

impl ReadStore for SqliteReader {
    fn describe(&self) -> String {
        self.path.display().to_string()
    }

    fn candles(
        &mut self,
        venue: Option<Venue>,
        symbol: Symbol,
        interval: Interval,
        from_ms: Option<TsMs>,
        to_ms: Option<TsMs>,
        limit: Option<usize>,
    ) -> Result<Vec<(Venue, CandleWithIndicators)>, StoreError> {
        queries::candles(&self.conn, venue, symbol, interval, from_ms, to_ms, limit)
    }

    fn venues_for(&mut self, symbol: Symbol) -> Result<Vec<Venue>, StoreError> {
        queries::venues_for(&self.conn, symbol)
    }

    fn symbols(&mut self) -> Result<Vec<(Venue, Symbol, u64)>, StoreError> {
        queries::symbols(&self.conn)
    }

    fn alerts(
        &mut self,
        since_ms: Option<TsMs>,
        limit: Option<usize>,
    ) -> Result<Vec<AlertRecord>, StoreError> {
        queries::alerts(&self.conn, since_ms, limit)
    }

    fn deliveries(
        &mut self,
        since_ms: Option<TsMs>,
    ) -> Result<HashMap<String, Vec<StoredDelivery>>, StoreError> {
        queries::deliveries(&self.conn, since_ms)
    }

    fn rules(&mut self) -> Result<Vec<RuleRecord>, StoreError> {
        queries::rules(&self.conn)
    }

    fn watchlist_edits(&mut self) -> Result<Vec<WatchlistEdit>, StoreError> {
        watchlists::edits(&self.conn)
    }

    fn trade_count(&mut self, venue: Venue, symbol: Symbol) -> Result<u64, StoreError> {
        queries::trade_count(&self.conn, venue, symbol)
    }

    fn candle_ranges(&mut self) -> Result<Vec<queries::StoredRange>, StoreError> {
        queries::candle_ranges(&self.conn)
    }

    fn trades_page(
        &mut self,
        key: crate::domain::VenueSymbol,
        from_ms: TsMs,
        to_ms: TsMs,
        after: Option<(TsMs, u64)>,
        limit: usize,
    ) -> Result<Vec<(TsMs, crate::domain::TradeTick)>, StoreError> {
        queries::trades_page(&self.conn, key, from_ms, to_ms, after, limit)
    }

    fn portfolio_entries(&mut self) -> Result<Vec<crate::portfolio::Entry>, StoreError> {
        portfolio::entries(&self.conn)
    }

    fn book_snapshots(
        &mut self,
        venue: Option<Venue>,
        symbol: Symbol,
        from_ms: Option<TsMs>,
        to_ms: Option<TsMs>,
    ) -> Result<Vec<crate::domain::BookRecord>, StoreError> {
        queries::book_snapshots(&self.conn, venue, symbol, from_ms, to_ms)
    }
}
