//! Chart history older than the engine's in-memory rings, read from the store (SQLite or PostgreSQL) on its own thread
//! (never the UI's), merged into time buckets so a month of 1m candles arrives as one point per
//! chart column.

mod bucket;
mod folio;
mod loader;
mod pg;
mod preview;
mod query;
mod reader;
mod worker;

pub use bucket::{bucket_ms_for, bucketize};
pub use folio::{FolioLoader, FolioPoint, FolioReply, FolioRequest};
pub use loader::{HistoryLoader, HistoryReply, HistoryRequest, HistorySlice, StoredClose};
pub use pg::PgHistory;
pub use preview::{
    PREVIEW_SPAN_MS, Preview, PreviewLoader, PreviewReply, PreviewRequest, answer as preview_answer,
};
pub use reader::HistoryReader;

/// Where the history thread reads the chart's history: an SQLite file ([`HistoryReader`]) or
/// PostgreSQL ([`PgHistory`]). Nothing stored yet is an empty answer, not an error; an error is
/// one sentence naming the database and what to do.
pub trait HistorySource: Send {
    fn load(&mut self, req: &HistoryRequest) -> Result<HistorySlice, String>;
    fn last_closes(
        &mut self,
        keys: &[crate::domain::VenueSymbol],
    ) -> Result<Vec<StoredClose>, String>;
}

impl HistorySource for HistoryReader {
    fn load(&mut self, req: &HistoryRequest) -> Result<HistorySlice, String> {
        HistoryReader::load(self, req)
    }

    fn last_closes(
        &mut self,
        keys: &[crate::domain::VenueSymbol],
    ) -> Result<Vec<StoredClose>, String> {
        HistoryReader::last_closes(self, keys)
    }
}
