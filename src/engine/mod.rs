//! The engine: the single owner of market state. Plain synchronous Rust: it takes normalized
//! events, aggregates candles for every interval, updates indicators and anomaly scores,
//! evaluates alert rules, and hands what must be persisted to the caller in a [`OutputBatch`].

mod liquidity;
mod portfolio;
mod remote;
mod ring;
mod rule_index;
mod rulebook;
pub mod runner;
mod series;
mod symbol;

use std::collections::HashMap;
use std::sync::Arc;

pub use ring::Ring;
pub use rulebook::RuleBook;
pub use series::ClosedBar;
use symbol::{Shared, SymbolState, Templates};

use crate::alerts::AlertRule;
use crate::alerts::rules::Trigger;
use crate::domain::{EventKind, Interval, MarketEvent, TsMs, VenueSymbol};
use crate::domain::{OutputBatch, RuleRecord};
use crate::indicators::{IndicatorError, IndicatorSet, IndicatorSpec, ReturnZScore, VolumeSpike};
use crate::pipeline::PipelineStats;
use crate::view::{ChartCandle, ChartView, EngineCtl, ViewSnapshot, WatchRow};

/// Sizes and parameters of the engine. Every ring is fixed-capacity: memory is bounded.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub indicators: Vec<IndicatorSpec>,
    /// Closed candles kept in memory per symbol and interval.
    pub candle_capacity: usize,
    /// Recent trades kept in memory per symbol.
    pub tick_capacity: usize,
    /// Empty periods longer than this many candles are not filled with flat candles.
    pub max_gap_fill: usize,
    /// EW span and warm-up of the per-trade return z-score.
    pub tick_z_span: usize,
    pub tick_z_warmup: usize,
    /// EW span and warm-up of the per-candle volume-spike score.
    pub volume_span: usize,
    pub volume_warmup: usize,
    /// Persist every trade (off: only candles, indicators and alerts are written).
    pub persist_trades: bool,
    /// Persist closed candles and their indicator values (off for a monitor that watches a
    /// recorder through NATS: the recorder stores them, computed from the whole history, and a
    /// monitor's first candles, built from the trades since it started, must not replace them).
    pub persist_candles: bool,
    /// The config's alert rules.
    pub rules: Vec<AlertRule>,
    /// Rules and rule states stored in the database: rules made in the monitor, and the state
    /// (snoozed, triggered) of config rules whose definition did not change.
    pub saved_rules: Vec<RuleRecord>,
    /// Symbols to show first, in this order (the rest follow as they appear).
    pub watchlist: Vec<VenueSymbol>,
    /// Symbols whose candles come from the venue's klines from the start, with the shortest
    /// kline interval: from it up candles are the venue's (rolled up), and trades build only the
    /// shorter ones, so that no trade is counted twice. A replay given klines sets it; a live feed
    /// learns it from its in-progress klines.
    pub kline_bases: Vec<(VenueSymbol, Interval)>,
    /// Closed candles sent to the chart in each snapshot.
    pub chart_candles: usize,
    /// Where a fired alert counts as delivered the moment it fires ("tui" when a screen shows
    /// it, empty when headless).
    pub alert_delivered: String,
    /// Alerts are not raised for data that arrived this much later than it happened (history
    /// played at start, REST backfill): a person is told about now, not about an hour ago.
    /// None: always raise (replays).
    pub alert_max_lag_ms: Option<crate::domain::TsMs>,
    /// Alerts evaluated elsewhere (read from NATS) also go to this process's own sinks
    /// (`[nats] notify`); off, they are shown and stored only.
    pub notify_remote_alerts: bool,
    /// Store the top levels of each local order book this often (`[storage]
    /// book_snapshot_secs`; None: books are not stored).
    pub book_snapshots: Option<BookSnapshots>,
    /// The portfolio its rules (`portfolio_*`, `position_weight_above`) are evaluated on,
    /// valued every clock tick at the last prices here.
    pub portfolio: Option<Arc<crate::portfolio::Portfolio>>,
}

/// Which order book snapshots are stored: every `every_ms` per book, its top `levels` levels
/// of each side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BookSnapshots {
    pub every_ms: TsMs,
    pub levels: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            indicators: IndicatorSpec::default_set(),
            candle_capacity: 1_000,
            tick_capacity: 1_024,
            max_gap_fill: 1_440,
            tick_z_span: 200,
            tick_z_warmup: 50,
            volume_span: 50,
            volume_warmup: 20,
            persist_trades: true,
            persist_candles: true,
            rules: Vec::new(),
            saved_rules: Vec::new(),
            watchlist: Vec::new(),
            kline_bases: Vec::new(),
            chart_candles: 600,
            alert_delivered: String::new(),
            alert_max_lag_ms: None,
            notify_remote_alerts: false,
            book_snapshots: None,
            portfolio: None,
        }
    }
}

/// Closes per watchlist row: the sparkline and the overview grid's small charts.
pub const SPARK_POINTS: usize = 120;
/// Trades the detail pane lists.
pub const DETAIL_TRADES: usize = 40;

/// Why an event was not applied.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{key}: rejected event: {reason}")]
pub struct Rejected {
    pub key: VenueSymbol,
    pub reason: String,
}

pub struct Engine {
    cfg: EngineConfig,
    template: Templates,
    symbols: Vec<SymbolState>,
    index: HashMap<VenueSymbol, usize>,
    last_hit: Option<(VenueSymbol, usize)>,
    stats: Arc<PipelineStats>,
    alerts: Ring<crate::domain::AlertRecord>,
    /// Ids of the latest alerts, fired here or taken from elsewhere: each is shown once.
    seen: remote::SeenIds,
    rules: RuleBook,
    /// The latest time seen, from the data or the clock: what rule states are shown for.
    now_ms: TsMs,
    /// The first clock tick: symbols that never sent anything are silent since then.
    clock_start_ms: Option<TsMs>,
    /// Symbols unsubscribed in the monitor: events of theirs still queued are dropped instead
    /// of bringing them back.
    removed: std::collections::HashSet<VenueSymbol>,
    /// The last synced book of each key (levels appearing or pulled are found against it).
    books: HashMap<VenueSymbol, crate::domain::BookSnapshot>,
    /// When each book was last stored.
    books_stored: HashMap<VenueSymbol, TsMs>,
    /// What the portfolio's rules need between ticks (its high-water mark).
    folio: portfolio::Watch,
}

impl Engine {
    pub fn new(mut cfg: EngineConfig, stats: Arc<PipelineStats>) -> Result<Engine, IndicatorError> {
        let template = Templates {
            indicators: IndicatorSet::new(&cfg.indicators)?,
            volume: VolumeSpike::new(cfg.volume_span, cfg.volume_warmup)?,
            tick_z: ReturnZScore::new(cfg.tick_z_span, cfg.tick_z_warmup)?,
        };
        let rules = RuleBook::new(
            cfg.rules.clone(),
            std::mem::take(&mut cfg.saved_rules),
            crate::domain::now_ms(),
        );
        let mut engine = Engine {
            rules,
            now_ms: TsMs::MIN,
            clock_start_ms: None,
            books: HashMap::new(),
            books_stored: HashMap::new(),
            folio: Default::default(),
            removed: Default::default(),
            template,
            symbols: Vec::new(),
            index: HashMap::new(),
            last_hit: None,
            stats,
            alerts: Ring::new(crate::view::ViewSnapshot::MAX_ALERTS),
            seen: Default::default(),
            cfg,
        };
        for key in engine.cfg.watchlist.clone() {
            engine.slot(key);
        }
        Ok(engine)
    }

    pub fn columns(&self) -> Arc<[String]> {
        self.template.indicators.columns()
    }

    pub fn stats(&self) -> &Arc<PipelineStats> {
        &self.stats
    }

    fn slot(&mut self, key: VenueSymbol) -> usize {
        if let Some((k, i)) = self.last_hit
            && k == key
        {
            return i;
        }
        let i = match self.index.get(&key) {
            Some(&i) => i,
            None => {
                self.symbols
                    .push(SymbolState::new(key, &self.cfg, &self.template));
                self.index.insert(key, self.symbols.len() - 1);
                self.symbols.len() - 1
            }
        };
        self.last_hit = Some((key, i));
        i
    }

    /// Drops a symbol and all its in-memory state (it was unsubscribed).
    fn forget(&mut self, key: VenueSymbol) {
        let Some(i) = self.index.remove(&key) else {
            return;
        };
        self.symbols.remove(i);
        for (k, j) in self.index.iter_mut() {
            if *j > i {
                *j -= 1;
            }
            debug_assert!(self.symbols[*j].key == *k);
        }
        self.last_hit = None;
    }

    /// Applies one event. Invalid events are rejected (and counted), never folded in.
    pub fn apply(&mut self, ev: &MarketEvent, out: &mut OutputBatch) -> Result<(), Rejected> {
        if let Err(reason) = ev.validate() {
            PipelineStats::add(&self.stats.rejected, 1);
            return Err(Rejected {
                key: ev.key(),
                reason,
            });
        }
        if !self.removed.is_empty() && self.removed.contains(&ev.key()) {
            // queued before the unsubscribe took effect: the person asked not to see it
            return Ok(());
        }
        let i = self.slot(ev.key());
        let state = &mut self.symbols[i];
        let fired_before = out.alerts.len();
        let candles_before = out.candles.len();
        let mut sh = Shared {
            cfg: &self.cfg,
            rules: &mut self.rules,
        };
        let effects = match ev.kind {
            EventKind::Trade(t) => state.on_trade(ev.exch_ms, ev.recv_ms, t, &mut sh, out),
            EventKind::Candle {
                interval,
                candle,
                closed,
            } => state.on_candle(ev.recv_ms, interval, candle, closed, &mut sh, out),
            EventKind::Quote(q) => {
                state.on_quote(ev.exch_ms, ev.recv_ms, q);
                Default::default()
            }
            EventKind::Stats24h(s) => {
                state.on_stats(ev.exch_ms, ev.recv_ms, s);
                Default::default()
            }
        };
        if !self.cfg.persist_candles {
            out.candles.truncate(candles_before);
        }
        if effects.late > 0 {
            PipelineStats::add(&self.stats.late_trades, effects.late);
        }
        if effects.gaps > 0 {
            PipelineStats::add(&self.stats.candle_gaps, effects.gaps);
        }
        self.now_ms = self.now_ms.max(ev.exch_ms);
        if self.rules.needs_flush() {
            self.rules.flush(self.now_ms, out);
        }
        self.fired_since(fired_before, out);
        Ok(())
    }

    /// A local order book was published: evaluates the liquidity rules on it (only while it is
    /// in sync: a book that lost updates says nothing about the market) and stores its top
    /// levels when snapshots are due.
    pub fn apply_book(&mut self, book: &crate::domain::BookSnapshot, out: &mut OutputBatch) {
        if !self.removed.is_empty() && self.removed.contains(&book.key) {
            return;
        }
        if !book.is_synced() {
            // the next synced book is compared with nothing: what changed meanwhile is unknown
            self.books.remove(&book.key);
            return;
        }
        let now = book.updated_ms;
        self.now_ms = self.now_ms.max(now);
        if let Some(cfg) = self.cfg.book_snapshots {
            let due = self
                .books_stored
                .get(&book.key)
                .is_none_or(|&t| now - t >= cfg.every_ms || now < t);
            if due {
                self.books_stored.insert(book.key, now);
                out.books.push(crate::domain::BookRecord {
                    key: book.key,
                    ts_ms: now,
                    bids: book.bids.iter().take(cfg.levels).copied().collect(),
                    asks: book.asks.iter().take(cfg.levels).copied().collect(),
                });
            }
        }
        if self.rules.has_book_rules() {
            let fired_before = out.alerts.len();
            let prev = self.books.get(&book.key);
            self.rules.on(Trigger::Book).evaluate_detailed(
                book.key,
                now,
                false,
                &self.cfg.alert_delivered,
                out,
                |rule| liquidity::value(rule, book, prev),
            );
            if self.rules.needs_flush() {
                self.rules.flush(self.now_ms, out);
            }
            self.fired_since(fired_before, out);
            self.books.insert(book.key, book.clone());
        }
    }

    /// Keeps the alerts fired into `out` from `before` on for the view, and counts them.
    fn fired_since(&mut self, before: usize, out: &OutputBatch) {
        for a in &out.alerts[before..] {
            self.seen.insert(&a.alert_id);
            self.alerts.push(a.clone());
            PipelineStats::add(&self.stats.alerts_fired, 1);
        }
    }

    /// Applies a rule command from the monitor or the config watcher at `now`. Changes to
    /// store go to `out`. `Focus` is the runner's business and changes nothing here.
    pub fn control(
        &mut self,
        ctl: &EngineCtl,
        now: TsMs,
        out: &mut OutputBatch,
    ) -> Result<(), String> {
        self.now_ms = self.now_ms.max(now);
        let r = match ctl {
            EngineCtl::Focus { .. } => Ok(()),
            EngineCtl::Watch { key } => {
                self.removed.remove(key);
                self.slot(*key);
                Ok(())
            }
            EngineCtl::Unwatch { key } => {
                self.forget(*key);
                self.removed.insert(*key);
                Ok(())
            }
            EngineCtl::RecordWatchlistEdit { list, key, added } => {
                out.watchlist.push(crate::domain::WatchlistEdit {
                    list: list.clone(),
                    key: *key,
                    added: *added,
                    ts_ms: now,
                });
                Ok(())
            }
            EngineCtl::AddRule(spec) => self.rules.add(spec, now),
            EngineCtl::ReplaceRule { old_name, rule } => self.rules.replace(old_name, rule, now),
            EngineCtl::DeleteRule { name } => self.rules.delete(name),
            EngineCtl::Snooze { name, until_ms } => self.rules.snooze(name, *until_ms),
            EngineCtl::Acknowledge { name } => self.rules.acknowledge(name),
            EngineCtl::SetConfigRules(specs) => self.rules.set_config(specs, now),
            EngineCtl::PortfolioStored(s) => {
                if let Some(p) = &self.cfg.portfolio
                    && Arc::ptr_eq(p, &s.portfolio)
                {
                    self.folio.stored(s);
                }
                Ok(())
            }
            EngineCtl::EditPortfolio { change, portfolio } => {
                // the high and the costs were the old ledger's
                self.folio = Default::default();
                self.cfg.portfolio = portfolio.clone();
                out.portfolio.push(change.clone());
                Ok(())
            }
        };
        self.rules.flush(self.now_ms, out);
        r
    }

    /// The clock moved to `now` (wall time, the same clock as receive times): evaluates the
    /// stale-feed rules and stores rules whose state changed with time (a snooze or an expiry
    /// that ended). Returns true when anything visible changed.
    pub fn on_clock(&mut self, now: TsMs, out: &mut OutputBatch) -> bool {
        self.now_ms = self.now_ms.max(now);
        let start = *self.clock_start_ms.get_or_insert(now);
        let fired_before = out.alerts.len();
        if self.rules.has_clock_rules() {
            for s in &self.symbols {
                let silent = s.silent_secs(now, start);
                self.rules.on(Trigger::Clock).evaluate(
                    s.key,
                    now,
                    false,
                    &self.cfg.alert_delivered,
                    out,
                    |rule| (rule.trigger == Trigger::Clock).then_some(silent),
                );
            }
        }
        if self.rules.has_portfolio_rules() && self.cfg.portfolio.is_none() {
            self.folio.absent();
        }
        if self.rules.has_portfolio_rules()
            && let Some(p) = self.cfg.portfolio.clone()
        {
            let last = self
                .symbols
                .iter()
                .filter_map(|s| s.last_price.map(|l| (s.key, l)));
            self.folio.evaluate(
                &p,
                last,
                now,
                &mut self.rules,
                &self.cfg.alert_delivered,
                out,
            );
        }
        let changed = self.rules.flush(self.now_ms, out);
        self.fired_since(fired_before, out);
        changed || out.alerts.len() > fired_before
    }

    /// Keys of every symbol seen, in watchlist order.
    pub fn keys(&self) -> Vec<VenueSymbol> {
        self.symbols.iter().map(|s| s.key).collect()
    }

    /// Closed candles of one series, oldest first (tests, export of in-memory data).
    pub fn closed(&self, key: VenueSymbol, interval: Interval) -> Option<&Ring<ClosedBar>> {
        self.index
            .get(&key)
            .map(|&i| &self.symbols[i].series[interval.index()].closed)
    }

    /// The in-progress candle of one series.
    pub fn current(&self, key: VenueSymbol, interval: Interval) -> Option<crate::domain::Candle> {
        self.index
            .get(&key)
            .and_then(|&i| self.symbols[i].series[interval.index()].current)
    }

    /// Last trade z-score and price of a symbol.
    pub fn last(&self, key: VenueSymbol) -> Option<(Option<f64>, Option<f64>)> {
        self.index
            .get(&key)
            .map(|&i| (self.symbols[i].last_price, self.symbols[i].last_z))
    }

    /// Builds what the screen shows for `interval`, with the chart of `focus` (or the first symbol).
    pub fn snapshot(
        &self,
        focus: Option<VenueSymbol>,
        interval: Interval,
        since_ms: Option<TsMs>,
        version: u64,
    ) -> ViewSnapshot {
        let columns = self.template.indicators.columns();
        let rsi_col = columns.iter().position(|c| c.starts_with("rsi"));
        let rows = self
            .symbols
            .iter()
            .map(|s| {
                let series = &s.series[interval.index()];
                let rsi = rsi_col.and_then(|c| series.closed.last().and_then(|b| b.values[c]));
                let (change_pct, volume) = s.change_and_volume();
                WatchRow {
                    key: s.key,
                    last: s.last_price,
                    change_pct,
                    volume,
                    rsi,
                    z: s.last_z,
                    spark: series
                        .closed
                        .tail(SPARK_POINTS)
                        .map(|b| b.candle.close)
                        .collect(),
                    last_recv_ms: s.last_recv_ms,
                    last_exch_ms: s.last_exch_ms,
                }
            })
            .collect();
        let focus = focus
            .filter(|k| self.index.contains_key(k))
            .or_else(|| self.symbols.first().map(|s| s.key));
        let chart = focus.and_then(|key| self.index.get(&key)).map(|&i| {
            let s = &self.symbols[i];
            let series = &s.series[interval.index()];
            let count = match since_ms {
                // every closed candle in memory from `since` on
                Some(t) => {
                    series.closed.len() - series.closed.partition_point(|b| b.candle.open_ms < t)
                }
                None => self.cfg.chart_candles,
            };
            let mut candles: Vec<ChartCandle> = series
                .closed
                .tail(count.max(1))
                .map(|b| ChartCandle {
                    candle: b.candle,
                    values: b.values.clone(),
                    closed: true,
                })
                .collect();
            if let Some(c) = series.current {
                candles.push(ChartCandle {
                    candle: c,
                    values: vec![None; columns.len()].into_boxed_slice(),
                    closed: false,
                });
            }
            ChartView {
                key: s.key,
                interval,
                columns: columns.clone(),
                candles,
            }
        });
        ViewSnapshot {
            version,
            rows,
            chart,
            interval: Some(interval),
            alerts: self.alerts.iter().rev().cloned().collect(),
            rules: self.rules.views(self.now_ms),
            detail: focus
                .and_then(|key| self.index.get(&key))
                .map(|&i| self.symbols[i].detail(DETAIL_TRADES)),
        }
    }
}

#[cfg(test)]
mod cover_tests;
#[cfg(test)]
mod portfolio_tests;
#[cfg(test)]
mod rule_tests;
#[cfg(test)]
mod tests;
