//! SQLite storage: schema and migrations, the writer thread, and read queries.

mod types;

pub use types::{AlertRecord, ClosedCandle, DeliveryRecord, StoreBatch, TradeRow};
