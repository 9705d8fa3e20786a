//! Chart history older than the engine's in-memory rings, read from SQLite on its own thread
//! (never the UI's), merged into time buckets so a month of 1m candles arrives as one point per
//! chart column.

mod bucket;
mod loader;
mod query;
mod reader;

pub use bucket::{bucket_ms_for, bucketize};
pub use loader::{HistoryLoader, HistoryReply, HistoryRequest, HistorySlice, StoredClose};
pub use reader::HistoryReader;
