//! Storage behind one interface ([`backend`]): SQLite (the embedded default, [`sqlite`]) and
//! PostgreSQL ([`postgres`]); the storage thread ([`StoreWriter`]) writes through it. The
//! database is a public interface: [`SCHEMA_DOC`] and [`postgres::SCHEMA_DOC`] document every
//! table.

pub mod backend;
mod error;
mod location;
pub mod postgres;
pub mod sqlite;
mod writer;

pub use backend::{
    BatchStore, FailureKind, ReadStore, WriteFailure, open_batch_store, open_reader,
};
pub use error::StoreError;
pub use location::{
    ClientCert, Location, PgTarget, RootCerts, TlsMode, is_postgres_url, pgpass_lookup, redact_url,
};
pub use sqlite::open::{
    BUSY_TIMEOUT, default_db_path, demo_db_path, open, open_readonly, open_with_flags,
    replay_db_path,
};
pub use sqlite::queries::{self, CandleWithIndicators, StoredDelivery};
pub use sqlite::schema::{self, MIGRATIONS, SCHEMA_DOC, SCHEMA_VERSION};
pub use sqlite::watchlists;
pub use sqlite::write_batch::{WriteCounts, write_batches};
pub use writer::{Failure, HEALTH_NAME, StoreSender, StoreSummary, StoreWriter, WriterConfig};
