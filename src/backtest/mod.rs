//! Backtesting alert rules: how often would a rule have fired, and what did the price do next.
//!
//! The stored candles (and trades, where a rule is evaluated on every trade) are fed in time
//! order through a fresh [`Engine`] holding only the rules under test: the same evaluation,
//! lifecycle, hysteresis, cooldown and expiry as live. Its alerts are collected; nothing is
//! delivered and nothing is written (the store is opened read-only by the caller).

mod feed;
pub mod report;

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::alerts::AlertRule;
use crate::alerts::rules::{Condition, Trigger};
use crate::domain::{Interval, OutputBatch, Symbol, TsMs, VenueSymbol, iso8601};
use crate::engine::{Engine, EngineConfig};
use crate::indicators::IndicatorSpec;
use crate::pipeline::PipelineStats;
use crate::store::ReadStore;
use crate::store::queries::StoredRange;

pub use feed::Feed;

const MIN: TsMs = 60_000;
const HOUR: TsMs = 3_600_000;
const DAY: TsMs = 86_400_000;

/// The moves reported after each fire: 5 minutes, 1 hour, 1 day.
pub const HORIZONS: [(&str, TsMs); 3] = [("5m", 5 * MIN), ("1h", HOUR), ("1d", DAY)];

/// The longest warm-up fed before the window (indicators, the return z-score, the price a
/// percent change is measured from).
const MAX_WARMUP: TsMs = 30 * DAY;

/// What to backtest.
#[derive(Debug, Clone)]
pub struct Request {
    pub rules: Vec<AlertRule>,
    /// The window: fires at `from_ms <= t <= to_ms` are reported.
    pub from_ms: TsMs,
    pub to_ms: TsMs,
    /// Only this symbol (at any venue).
    pub symbol: Option<Symbol>,
    /// The indicators of the config (what RSI rules read).
    pub indicators: Vec<IndicatorSpec>,
}

/// One time a rule would have fired.
#[derive(Debug, Clone, PartialEq)]
pub struct Fire {
    pub rule: String,
    pub key: VenueSymbol,
    pub ts_ms: TsMs,
    /// The value the rule fired on (a price, an RSI, a z-score, a percent change).
    pub value: f64,
    /// The last price when it fired.
    pub price: Option<f64>,
    /// Percent move of the price after each of [`HORIZONS`]; None when the stored data end
    /// before.
    pub moves: [Option<f64>; 3],
}

/// A rule evaluated on one instrument: a row of the summary (also when it never fired).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Pair {
    pub rule: String,
    pub key: VenueSymbol,
}

/// One instrument fed to the engine, and the part of the window its stored data cover.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fed {
    pub key: VenueSymbol,
    pub feed: Feed,
    pub from_ms: TsMs,
    pub to_ms: TsMs,
}

/// What a backtest found.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The window covered by stored data: the request's, narrowed to where data exist.
    pub from_ms: TsMs,
    pub to_ms: TsMs,
    pub fires: Vec<Fire>,
    /// Every (rule, instrument) evaluated, in rule order.
    pub pairs: Vec<Pair>,
    /// What each instrument was fed (its trades, or its candles of one interval) and the part
    /// of the window its data cover: what its fires per day and quiet spells are measured over.
    pub fed: Vec<Fed>,
    /// What could not be backtested, or was backtested differently from live, and why.
    pub notes: Vec<String>,
    /// Stored events fed to the engine (warm-up included).
    pub events: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum BacktestError {
    /// No stored data for the request; the message names what is stored.
    #[error("{0}")]
    NoData(String),
    /// None of the rules can be backtested; the message says why.
    #[error("{0}")]
    NoRules(String),
    #[error("invalid indicator settings: {0}")]
    Indicators(String),
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// `2024-12-01 00:05:00` (UTC), for tables and messages.
pub fn short_time(ts: TsMs) -> String {
    let t = iso8601(ts);
    t.get(..19).map_or(t.clone(), |s| s.replace('T', " "))
}

/// Why a rule cannot be backtested at all (None: it can).
fn not_backtestable(rule: &AlertRule) -> Option<&'static str> {
    match rule.trigger {
        Trigger::Clock => {
            Some("a stale-feed rule is evaluated on the clock against live arrival times")
        }
        Trigger::Book => Some(
            "a liquidity rule is evaluated on the live order book, which is not stored in full",
        ),
        Trigger::Portfolio => {
            Some("a portfolio rule is evaluated on the portfolio valued at live prices")
        }
        Trigger::Tick | Trigger::Close(_) => None,
    }
}

/// What is stored, for the message when the request finds nothing: per instrument, its finest
/// series and range.
pub fn describe_stored(ranges: &[StoredRange]) -> String {
    let mut finest: BTreeMap<VenueSymbol, &StoredRange> = BTreeMap::new();
    for r in ranges {
        let e = finest.entry(r.key).or_insert(r);
        if r.interval < e.interval {
            *e = r;
        }
    }
    if finest.is_empty() {
        return "the database holds no candles (record, replay or backfill first)".into();
    }
    let list: Vec<String> = finest
        .values()
        .take(20)
        .map(|r| {
            format!(
                "{} {} candles from {} to {}",
                r.key,
                r.interval,
                short_time(r.first_ms),
                short_time(r.end_ms())
            )
        })
        .collect();
    let more = finest.len().saturating_sub(20);
    let mut text = format!("it holds {}", list.join("; "));
    if more > 0 {
        text.push_str(&format!(" and {more} more"));
    }
    text
}

/// The warm-up fed (alerts held back) before the window, so that indicators and scores are
/// warm and a rule's state is known when the window begins.
fn warmup(rules: &[AlertRule]) -> TsMs {
    rules
        .iter()
        .map(|r| {
            let base = match r.trigger {
                Trigger::Close(iv) => iv.ms() * 60,
                _ => HOUR,
            };
            let window = match r.condition {
                Condition::PctChange { window_ms, .. } => window_ms + HOUR,
                _ => 0,
            };
            base.max(window)
        })
        .max()
        .unwrap_or(HOUR)
        .min(MAX_WARMUP)
}

/// Runs the rules of `req` over the data stored in `reader`.
pub fn run(reader: &mut dyn ReadStore, req: &Request) -> Result<Outcome, BacktestError> {
    let (from, to) = (req.from_ms, req.to_ms);
    let ranges: Vec<StoredRange> = reader
        .candle_ranges()?
        .into_iter()
        .filter(|r| req.symbol.is_none_or(|s| s == r.key.symbol))
        .collect();
    let mut notes = Vec::new();
    let mut usable: Vec<AlertRule> = Vec::new();
    for r in &req.rules {
        match not_backtestable(r) {
            Some(why) => notes.push(format!("{:?} is not backtested: {why}", r.name)),
            None => usable.push(r.clone()),
        }
    }
    if usable.is_empty() {
        return Err(BacktestError::NoRules(format!(
            "none of the rules can be backtested: {}",
            notes.join("; ")
        )));
    }
    // the instruments with candles in the window, by their finest series there
    let mut finest: BTreeMap<VenueSymbol, StoredRange> = BTreeMap::new();
    for r in ranges
        .iter()
        .filter(|r| r.first_ms <= to && r.end_ms() > from)
        .filter(|r| usable.iter().any(|u| u.symbols.matches(r.key.symbol)))
    {
        let e = finest.entry(r.key).or_insert(*r);
        if r.interval < e.interval {
            *e = *r;
        }
    }
    if finest.is_empty() {
        let what = match req.symbol {
            Some(s) => format!("{s}"),
            None => "the rules' symbols".into(),
        };
        let all = if req.symbol.is_some() {
            reader.candle_ranges()?
        } else {
            ranges.clone()
        };
        return Err(BacktestError::NoData(format!(
            "no stored candles of {what} between {} and {}; {}",
            short_time(from),
            short_time(to),
            describe_stored(&all)
        )));
    }
    let warm = warmup(&usable);
    let start = from.saturating_sub(warm);
    let covered_from = from.max(finest.values().map(|r| r.first_ms).min().unwrap_or(from));
    let covered_to = to.min(finest.values().map(|r| r.end_ms()).max().unwrap_or(to));

    // Trades for the instruments a rule watches trade by trade, when they are stored;
    // candles of the finest stored interval otherwise.
    let mut fed: Vec<(VenueSymbol, Feed)> = Vec::new();
    let mut covers: Vec<Fed> = Vec::new();
    for (key, r) in &finest {
        let ticks = usable
            .iter()
            .any(|u| u.trigger == Trigger::Tick && u.symbols.matches(key.symbol));
        // trades only when they cover the window from its start: trades kept for less time
        // than candles would leave most of the window without events
        let first_trade = if ticks {
            reader
                .trades_page(*key, start, to, None, 1)?
                .first()
                .map(|(t, _)| *t)
        } else {
            None
        };
        let feed = match first_trade {
            Some(t) if t <= from.max(r.first_ms) + r.interval.ms() => Feed::Trades,
            Some(t) => {
                notes.push(format!(
                    "{key}: trades are stored only from {}: evaluated on {} candles instead",
                    short_time(t),
                    r.interval
                ));
                Feed::Candles(r.interval)
            }
            None => Feed::Candles(r.interval),
        };
        fed.push((*key, feed));
        covers.push(Fed {
            key: *key,
            feed,
            from_ms: from.max(r.first_ms),
            to_ms: to.min(r.end_ms()),
        });
    }

    // Rules on every trade where some of their instruments have only candles: price and
    // percent-change rules are evaluated on candle closes instead (said so); an anomaly score
    // of trade returns cannot be, for those instruments.
    let mut skip: Vec<Pair> = Vec::new();
    for rule in usable.iter_mut() {
        if rule.trigger != Trigger::Tick {
            continue;
        }
        let without: Vec<(VenueSymbol, Interval)> = fed
            .iter()
            .filter(|(k, _)| rule.symbols.matches(k.symbol))
            .filter_map(|(k, f)| match f {
                Feed::Candles(iv) => Some((*k, *iv)),
                Feed::Trades => None,
            })
            .collect();
        if without.is_empty() {
            continue;
        }
        let names: Vec<String> = without.iter().map(|(k, _)| k.to_string()).collect();
        if matches!(rule.condition, Condition::AbsZAtLeast(_)) {
            notes.push(format!(
                "{:?} is not backtested for {}: its z-score is of trade-to-trade returns and no trades are stored there in the range",
                rule.name,
                names.join(", ")
            ));
            skip.extend(without.iter().map(|(k, _)| Pair {
                rule: rule.name.clone(),
                key: *k,
            }));
            continue;
        }
        let iv = without
            .iter()
            .map(|(_, iv)| *iv)
            .min()
            .unwrap_or(Interval::M1);
        notes.push(format!(
            "{:?} is evaluated on every trade live, but no trades are stored for {} in the range: it is evaluated on {iv} candle closes instead",
            rule.name,
            names.join(", ")
        ));
        rule.trigger = Trigger::Close(iv);
    }
    let mut pairs: Vec<Pair> = Vec::new();
    for rule in &usable {
        for (key, f) in &fed {
            if !rule.symbols.matches(key.symbol) {
                continue;
            }
            let pair = Pair {
                rule: rule.name.clone(),
                key: *key,
            };
            if skip.contains(&pair) {
                continue;
            }
            if let (Trigger::Close(iv), Feed::Candles(base)) = (rule.trigger, f)
                && iv < *base
            {
                notes.push(format!(
                    "{:?} is not backtested for {key}: it is evaluated on {iv} closes and the finest stored candles there are {base}",
                    rule.name
                ));
                continue;
            }
            pairs.push(pair);
        }
    }

    let cfg = EngineConfig {
        indicators: req.indicators.clone(),
        rules: usable,
        persist_trades: false,
        persist_candles: false,
        watchlist: fed.iter().map(|(k, _)| *k).collect(),
        kline_bases: fed
            .iter()
            .filter_map(|(k, f)| match f {
                Feed::Candles(iv) => Some((*k, *iv)),
                Feed::Trades => None,
            })
            .collect(),
        alert_delivered: String::new(),
        alert_max_lag_ms: Some(feed::HISTORY_LAG),
        ..EngineConfig::default()
    };
    let mut engine = Engine::new(cfg, Arc::new(PipelineStats::default()))
        .map_err(|e| BacktestError::Indicators(e.to_string()))?;
    let mut merge = feed::Merge::new(&fed, start, covered_to.max(start), from);
    let mut out = OutputBatch::default();
    let mut fires: Vec<Fire> = Vec::new();
    let (mut events, mut rejected) = (0u64, 0u64);
    while let Some(ev) = merge.next(reader)? {
        events += 1;
        if engine.apply(&ev, &mut out).is_err() {
            rejected += 1;
        }
        for a in out.alerts.drain(..) {
            if a.ts_ms < from || a.ts_ms > to {
                continue;
            }
            let price = engine.last(a.key).and_then(|(p, _)| p);
            fires.push(Fire {
                rule: a.rule,
                key: a.key,
                ts_ms: a.ts_ms,
                value: a.value,
                price,
                moves: [None; 3],
            });
        }
        out = OutputBatch::default();
    }
    if rejected > 0 {
        notes.push(format!(
            "{rejected} stored event(s) had invalid values and were not evaluated"
        ));
    }
    let mut movers: BTreeMap<VenueSymbol, StoredRange> = BTreeMap::new();
    for key in finest.keys() {
        if let Some(r) = move_series(&ranges, *key) {
            movers.insert(*key, r);
        }
    }
    for f in fires.iter_mut() {
        let (Some(base), Some(series)) = (f.price, movers.get(&f.key)) else {
            continue;
        };
        for (i, (_, after)) in HORIZONS.iter().enumerate() {
            f.moves[i] = price_at(reader, series, f.ts_ms + after)?
                .filter(|_| base > 0.0)
                .map(|p| (p / base - 1.0) * 100.0);
        }
    }
    Ok(Outcome {
        from_ms: covered_from,
        to_ms: covered_to,
        fires,
        pairs,
        fed: covers,
        notes,
        events,
    })
}

/// The series the moves after a fire are read from: 1m candles, else the next coarser, else
/// whatever is finest.
fn move_series(ranges: &[StoredRange], key: VenueSymbol) -> Option<StoredRange> {
    let mine = ranges.iter().filter(|r| r.key == key);
    mine.clone()
        .filter(|r| r.interval >= Interval::M1)
        .min_by_key(|r| r.interval)
        .or_else(|| mine.min_by_key(|r| r.interval))
        .copied()
}

/// The price at `t`: the close of the last candle that ended by then (within a day), None when
/// the stored series ends before `t`.
fn price_at(
    reader: &mut dyn ReadStore,
    series: &StoredRange,
    t: TsMs,
) -> Result<Option<f64>, BacktestError> {
    if t > series.end_ms() {
        return Ok(None);
    }
    let iv = series.interval.ms();
    let rows = reader.candles(
        Some(series.key.venue),
        series.key.symbol,
        series.interval,
        Some(t - iv - DAY),
        Some(t - iv),
        Some(1),
    )?;
    Ok(rows.last().map(|(_, c)| c.candle.close))
}
