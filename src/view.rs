//! What the engine publishes for the screen: an immutable snapshot, swapped in at most once per
//! frame, and the control messages the UI sends back. The UI never touches engine state.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::alerts::Severity;
use crate::alerts::rules::{Mode, Origin, RuleConfig, Status};
use crate::domain::AlertRecord;
use crate::domain::{Candle, Interval, TsMs, VenueSymbol};

/// One line of the watchlist.
#[derive(Debug, Clone, PartialEq)]
pub struct WatchRow {
    pub key: VenueSymbol,
    pub last: Option<f64>,
    /// Percent change over 24 h when the venue publishes it, else since the current UTC day opened.
    pub change_pct: Option<f64>,
    /// Base-asset volume over the same window as `change_pct`.
    pub volume: f64,
    /// RSI of the focused interval's last closed candle.
    pub rsi: Option<f64>,
    /// Anomaly z-score of the latest trade's log return.
    pub z: Option<f64>,
    /// Last closes of the focused interval, oldest first (for the sparkline).
    pub spark: Vec<f64>,
    /// Local receive time of the last event for this symbol (data age = now - this).
    pub last_recv_ms: Option<TsMs>,
    /// Exchange time of the last event.
    pub last_exch_ms: Option<TsMs>,
}

/// One candle on the chart with its indicator values (`values[i]` is `ChartView::columns[i]`).
#[derive(Debug, Clone, PartialEq)]
pub struct ChartCandle {
    pub candle: Candle,
    pub values: Box<[Option<f64>]>,
    /// False for the in-progress candle at the live edge.
    pub closed: bool,
}

/// The price chart of the focused symbol and interval, oldest candle first.
#[derive(Debug, Clone, PartialEq)]
pub struct ChartView {
    pub key: VenueSymbol,
    pub interval: Interval,
    pub columns: Arc<[String]>,
    pub candles: Vec<ChartCandle>,
}

impl ChartView {
    /// Values of one indicator column across the chart (None where undefined).
    pub fn series(&self, column: &str) -> Option<Vec<Option<f64>>> {
        let i = self.columns.iter().position(|c| c == column)?;
        Some(
            self.candles
                .iter()
                .map(|c| c.values.get(i).copied().flatten())
                .collect(),
        )
    }
}

/// Everything the screen shows that comes from the engine.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ViewSnapshot {
    /// Increases with every publication.
    pub version: u64,
    /// Watchlist rows in the order of the configuration (then first seen).
    pub rows: Vec<WatchRow>,
    /// The chart of the focused symbol, if it has any data.
    pub chart: Option<ChartView>,
    /// The focused interval the rows and chart were computed for.
    pub interval: Option<Interval>,
    /// Fired alerts, newest first (at most [`ViewSnapshot::MAX_ALERTS`]).
    pub alerts: Vec<AlertRecord>,
    /// Every alert rule with its state: config rules in file order, then monitor rules in the
    /// order they were made.
    pub rules: Vec<RuleView>,
    /// The focused symbol's 24 h figures, last trades and best bid/ask.
    pub detail: Option<SymbolDetail>,
}

/// What the detail pane shows for one symbol.
#[derive(Debug, Clone, PartialEq)]
pub struct SymbolDetail {
    pub key: VenueSymbol,
    pub last: Option<f64>,
    /// 24 h high, low, base volume and change: the venue's own figures when it publishes them
    /// (`from_venue`), else computed from the 1h candles in memory.
    pub high_24h: Option<f64>,
    pub low_24h: Option<f64>,
    pub volume_24h: Option<f64>,
    pub change_pct: Option<f64>,
    pub from_venue: bool,
    /// Newest first.
    pub trades: Vec<RecentTrade>,
    /// Best bid and ask, when the venue sends a book ticker, and when it was received.
    pub quote: Option<(crate::domain::Quote, TsMs)>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RecentTrade {
    pub ts_ms: TsMs,
    pub price: f64,
    pub qty: f64,
    pub side: crate::domain::Side,
}

/// One alert rule as the alerts view shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleView {
    pub name: String,
    pub origin: Origin,
    pub status: Status,
    /// "all" or the symbols, comma-separated.
    pub scope: String,
    /// The condition in words ("price above 70000").
    pub condition: String,
    pub mode: Mode,
    pub severity: Severity,
    pub last_fired_ms: Option<TsMs>,
    pub snoozed_until_ms: Option<TsMs>,
    pub expires_ms: Option<TsMs>,
    /// The rule as written, to edit it.
    pub spec: RuleConfig,
}

impl ViewSnapshot {
    pub const MAX_ALERTS: usize = 200;
}

/// What the UI asks of the engine.
#[derive(Debug, Clone, PartialEq)]
pub enum EngineCtl {
    /// Compute rows for `interval` and the chart for `key` (None: the first symbol), with every
    /// closed candle in memory that opened at or after `since_ms` (None: the default count).
    Focus {
        key: Option<VenueSymbol>,
        interval: Interval,
        since_ms: Option<TsMs>,
    },
    /// Show `key` in the watchlist now (a symbol just subscribed), before its first data.
    Watch { key: VenueSymbol },
    /// Forget `key` (unsubscribed): its row and in-memory state go.
    Unwatch { key: VenueSymbol },
    /// Record that the person added `key` to (or removed it from) watchlist `list`, so that the
    /// next start shows the same lists.
    RecordWatchlistEdit {
        list: String,
        key: VenueSymbol,
        added: bool,
    },
    /// A new rule made in the monitor (its name must be free).
    AddRule(RuleConfig),
    /// Replace the monitor rule `old_name` by `rule` (which may rename it); its state starts
    /// afresh.
    ReplaceRule { old_name: String, rule: RuleConfig },
    /// Delete a monitor rule.
    DeleteRule { name: String },
    /// Keep a rule quiet until `until_ms` (None: end the snooze).
    Snooze {
        name: String,
        until_ms: Option<TsMs>,
    },
    /// The person has seen a triggered rule: arm it again.
    Acknowledge { name: String },
    /// The `[[alerts]]` of a re-loaded config file (already validated).
    SetConfigRules(Vec<RuleConfig>),
    /// What stored history says of the portfolio (computed off the engine's thread at start):
    /// its highest value, which drawdown rules measure from, and its ledger costed at the
    /// prices of each entry's time. Ignored when the portfolio was edited meanwhile.
    PortfolioStored(Box<crate::portfolio::StoredBasis>),
    /// An entry added, edited or deleted in the monitor: stored, and the portfolio the rules
    /// value replaced by the one after it (None: no entries left).
    EditPortfolio {
        change: crate::portfolio::EntryChange,
        portfolio: Option<std::sync::Arc<crate::portfolio::Portfolio>>,
    },
}

/// Where the engine puts the latest snapshot and the UI picks it up. The lock is held only to
/// swap or clone an `Arc`.
#[derive(Debug, Clone, Default)]
pub struct SnapshotSlot {
    latest: Arc<Mutex<Arc<ViewSnapshot>>>,
    version: Arc<AtomicU64>,
}

impl SnapshotSlot {
    pub fn publish(&self, snap: ViewSnapshot) {
        let v = snap.version;
        let mut g = match self.latest.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        *g = Arc::new(snap);
        self.version.store(v, Ordering::Release);
    }

    /// The version of the latest snapshot: cheap, for the UI's dirty check.
    pub fn version(&self) -> u64 {
        self.version.load(Ordering::Acquire)
    }

    pub fn latest(&self) -> Arc<ViewSnapshot> {
        match self.latest.lock() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }
}

/// Where the sources that keep local order books publish them and the screen picks up the one
/// it shows. A book is replaced whole (an `Arc` swap under a short lock); `version` moves with
/// every publish, for the screen's dirty check.
#[derive(Debug, Clone, Default)]
pub struct BookBoard {
    books: Arc<Mutex<std::collections::HashMap<VenueSymbol, Arc<crate::domain::BookSnapshot>>>>,
    version: Arc<AtomicU64>,
}

impl BookBoard {
    pub fn publish(&self, book: crate::domain::BookSnapshot) {
        let mut g = match self.books.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        g.insert(book.key, Arc::new(book));
        self.version.fetch_add(1, Ordering::Release);
    }

    /// Marks every book of `venue` as not in sync (its feed went away): kept, never shown live.
    pub fn mark(&self, venue: crate::domain::Venue, sync: crate::domain::BookSync) {
        let mut g = match self.books.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        for b in g.values_mut().filter(|b| b.key.venue == venue) {
            let mut copy = (**b).clone();
            copy.sync = sync.clone();
            *b = Arc::new(copy);
        }
        self.version.fetch_add(1, Ordering::Release);
    }

    pub fn version(&self) -> u64 {
        self.version.load(Ordering::Acquire)
    }

    pub fn get(&self, key: VenueSymbol) -> Option<Arc<crate::domain::BookSnapshot>> {
        let g = match self.books.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        g.get(&key).cloned()
    }
}
