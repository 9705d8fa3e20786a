//! SQLite storage: schema and migrations, the writer thread, and read queries.
//! The database is a public interface; [`schema::SCHEMA_DOC`] documents every table.

mod error;
mod open;
pub mod queries;
pub mod schema;
pub mod watchlists;
mod write_batch;
mod writer;

pub use error::StoreError;
pub use open::{
    BUSY_TIMEOUT, default_db_path, demo_db_path, open, open_readonly, open_with_flags,
    replay_db_path,
};
pub use queries::CandleWithIndicators;
pub use schema::{MIGRATIONS, SCHEMA_DOC, SCHEMA_VERSION};
pub use write_batch::{WriteCounts, write_batches};
pub use writer::{Failure, HEALTH_NAME, StoreSender, StoreSummary, StoreWriter, WriterConfig};
