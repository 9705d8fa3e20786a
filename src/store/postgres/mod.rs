//! The PostgreSQL backend: the same tables as SQLite plus `ts timestamptz` columns, trades
//! partitioned by day, binary COPY on the write path, a read-only session on the read path.
//! The synchronous `postgres` client (tokio-postgres under its own small runtime) fits the
//! storage and history threads, which are plain threads.

pub mod connect;
mod copy;
mod portfolio;
mod read;
pub mod schema;
mod tls;
mod write;

pub use connect::connect;
pub use read::PgReader;
pub use schema::{MIGRATIONS, SCHEMA_DOC, SCHEMA_VERSION};
pub use write::{PgBatches, partition_name, ts};
