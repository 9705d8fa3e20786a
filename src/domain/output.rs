//! What the engine emits: trades, closed candles with their indicator values, alerts, delivery
//! outcomes, rule changes and watchlist edits. Owned by the domain; each store turns them into
//! its own rows.

use std::sync::Arc;

use crate::domain::{Candle, Interval, TradeTick, TsMs, VenueSymbol};

/// A trade to persist.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TradeRecord {
    pub key: VenueSymbol,
    pub ts_ms: TsMs,
    pub tick: TradeTick,
}

/// A closed candle with the indicator values computed at its close. `values[i]` belongs to
/// `columns[i]`; `None` while the indicator is still warming up.
#[derive(Debug, Clone, PartialEq)]
pub struct ClosedCandle {
    pub key: VenueSymbol,
    pub interval: Interval,
    pub candle: Candle,
    pub columns: Arc<[String]>,
    pub values: Box<[Option<f64>]>,
}

impl ClosedCandle {
    pub fn value(&self, column: &str) -> Option<f64> {
        self.columns
            .iter()
            .position(|c| c == column)
            .and_then(|i| self.values[i])
    }
}

/// A fired alert. `alert_id` is unique and stable (time, venue, symbol, rule) so that delivery
/// results can be attached to it later.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertRecord {
    pub alert_id: String,
    pub ts_ms: TsMs,
    pub key: VenueSymbol,
    pub rule: String,
    pub value: f64,
    pub message: String,
    /// Where it was delivered so far, e.g. "tui" or "tui,desktop".
    pub delivered: String,
    pub severity: crate::alerts::Severity,
}

impl AlertRecord {
    /// The `delivered` entry of an alert evaluated elsewhere (a recorder) and read from NATS.
    pub const REMOTE: &'static str = "remote";

    /// Evaluated elsewhere and read from NATS, not fired by this process's own rules.
    pub fn is_remote(&self) -> bool {
        self.delivered.split(',').any(|d| d == Self::REMOTE)
    }
}

/// The outcome of an alert at one sink, attached to the alert (stored before or after it).
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryRecord {
    pub alert_id: String,
    /// "desktop", "webhook:NAME", ...
    pub sink: String,
    pub outcome: crate::alerts::DeliveryOutcome,
}

/// The top levels of a local order book at one time, as stored in `book_snapshots`.
#[derive(Debug, Clone, PartialEq)]
pub struct BookRecord {
    pub key: VenueSymbol,
    /// When the book was published (local time).
    pub ts_ms: TsMs,
    /// Best first.
    pub bids: Vec<crate::domain::Level>,
    pub asks: Vec<crate::domain::Level>,
}

impl BookRecord {
    /// One row per level.
    pub fn rows(&self) -> usize {
        self.bids.len() + self.asks.len()
    }
}

/// An alert rule with its lifecycle state, as stored in `alert_rules`.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleRecord {
    /// The rule's name.
    pub rule_id: String,
    pub origin: crate::alerts::rules::Origin,
    /// The rule as written in the config (stored as JSON).
    pub spec: crate::alerts::rules::RuleConfig,
    pub state: crate::alerts::rules::Status,
    pub snoozed_until_ms: Option<TsMs>,
    pub created_ms: TsMs,
    pub updated_ms: TsMs,
    /// When it last fired (read from `alerts`; not written).
    pub last_fired_ms: Option<TsMs>,
}

/// A change to the stored rules, applied in order.
#[derive(Debug, Clone, PartialEq)]
pub enum RuleChange {
    /// Insert, or replace everything but `created_ms`.
    Upsert(Box<RuleRecord>),
    /// Remove the rule of this name.
    Delete(String),
}

/// A symbol added to (or removed from) a watchlist in the monitor.
#[derive(Debug, Clone, PartialEq)]
pub struct WatchlistEdit {
    pub list: String,
    pub key: VenueSymbol,
    pub added: bool,
    pub ts_ms: TsMs,
}

/// One unit of work for the writer: everything in it is committed in one transaction, in order
/// (trades, then candles, then alerts, then deliveries, then rule changes).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct OutputBatch {
    pub trades: Vec<TradeRecord>,
    pub candles: Vec<ClosedCandle>,
    pub alerts: Vec<AlertRecord>,
    pub deliveries: Vec<DeliveryRecord>,
    pub rules: Vec<RuleChange>,
    pub watchlist: Vec<WatchlistEdit>,
    /// Order book snapshots (`[storage] book_snapshot_secs`).
    pub books: Vec<BookRecord>,
    /// Portfolio entries added, edited or deleted in the monitor.
    pub portfolio: Vec<crate::portfolio::EntryChange>,
}

impl OutputBatch {
    pub fn is_empty(&self) -> bool {
        self.trades.is_empty()
            && self.candles.is_empty()
            && self.alerts.is_empty()
            && self.deliveries.is_empty()
            && self.rules.is_empty()
            && self.watchlist.is_empty()
            && self.books.is_empty()
            && self.portfolio.is_empty()
    }

    /// Rows in the batch, for the pending and dropped counters.
    pub fn rows(&self) -> u64 {
        (self.trades.len()
            + self.candles.len()
            + self.alerts.len()
            + self.deliveries.len()
            + self.rules.len()
            + self.watchlist.len()
            + self.portfolio.len()
            + self.books.iter().map(BookRecord::rows).sum::<usize>()) as u64
    }
}
