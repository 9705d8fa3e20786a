//! Small value types shared by every stage: venues, symbols, intervals and the normalized
//! market event that sources emit and the engine consumes.

mod book;
mod event;
mod interval;
mod output;
mod pair;
mod symbol;
mod text;

pub use book::{BOOK_CSV_HEADER, BookSnapshot, BookSync, Level, group_levels};
pub use event::{
    Candle, EventKind, MAX_PRICE, MIN_PRICE, MarketEvent, Quote, Side, Stats24h, TradeTick,
};
pub use interval::Interval;
pub use output::{
    AlertRecord, BookRecord, ClosedCandle, DeliveryRecord, OutputBatch, RuleChange, RuleRecord,
    TradeRecord, WatchlistEdit,
};
pub use pair::{Pair, display_name, native_symbol, pair};
pub use symbol::{Symbol, SymbolError, Venue, VenueSymbol, parse_watch_symbol};
pub use text::{describe_char, unsafe_name_char};

/// Milliseconds since the Unix epoch, UTC. Exchange and receive times both use it.
pub type TsMs = i64;

/// The wall clock in milliseconds since the epoch.
pub fn now_ms() -> TsMs {
    chrono::Utc::now().timestamp_millis()
}

/// Earliest and latest timestamps tickwatch accepts (2009-01-01 .. 2100-01-01): anything outside
/// is a unit mistake (seconds for milliseconds, microseconds for milliseconds) or corruption.
pub const MIN_TS_MS: TsMs = 1_230_768_000_000;
pub const MAX_TS_MS: TsMs = 4_102_444_800_000;

/// Formats a timestamp as ISO 8601 UTC with millisecond precision, e.g. `2021-11-27T00:00:00.000Z`.
pub fn iso8601(ts: TsMs) -> String {
    match chrono::DateTime::<chrono::Utc>::from_timestamp_millis(ts) {
        Some(t) => t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        None => format!("{ts}ms"),
    }
}
