//! Everything the engine knows about one symbol at one venue.

use super::EngineConfig;
use super::ring::Ring;
use super::rulebook::RuleBook;
use super::series::{ClosedBar, Fold, Series};
use crate::alerts::Condition;
use crate::alerts::rules::Trigger;
use crate::domain::{Candle, Interval, Quote, Side, Stats24h, TradeTick, TsMs, VenueSymbol};
use crate::domain::{ClosedCandle, OutputBatch, TradeRecord};
use crate::indicators::{IndicatorSet, ReturnZScore, VolumeSpike};

/// A recent trade, kept for the detail view.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TickPoint {
    pub ts_ms: TsMs,
    pub price: f64,
    pub qty: f64,
    pub side: Side,
}

/// Fresh indicator states, validated once and cloned for every new symbol.
#[derive(Debug, Clone)]
pub struct Templates {
    pub indicators: IndicatorSet,
    pub volume: VolumeSpike,
    pub tick_z: ReturnZScore,
}

/// What every symbol's events are evaluated against: the engine's settings and its rules.
pub struct Shared<'a> {
    pub cfg: &'a EngineConfig,
    pub rules: &'a mut RuleBook,
}

/// Counters an event produced, folded into the pipeline stats by the engine.
#[derive(Debug, Default, Clone, Copy)]
pub struct Effects {
    pub late: u64,
    pub gaps: u64,
}

pub struct SymbolState {
    pub key: VenueSymbol,
    pub last_price: Option<f64>,
    pub last_exch_ms: Option<TsMs>,
    pub last_recv_ms: Option<TsMs>,
    pub last_z: Option<f64>,
    pub ticks: Ring<TickPoint>,
    pub series: Vec<Series>,
    pub quote: Option<Quote>,
    /// Receive time of `quote`.
    pub quote_recv_ms: Option<TsMs>,
    pub stats24: Option<Stats24h>,
    /// The shortest interval the venue sends candles for: from it up, candles come from the
    /// venue (rolled up to longer intervals); below it, from trades. Learnt from a live feed's
    /// in-progress candles, or set from the start (`EngineConfig::kline_bases`: a replay given
    /// klines and trades of a symbol).
    kline_base: Option<Interval>,
    tick_z: ReturnZScore,
}

impl SymbolState {
    pub fn new(key: VenueSymbol, cfg: &EngineConfig, t: &Templates) -> Self {
        let series = Interval::ALL
            .iter()
            .map(|&iv| {
                Series::new(
                    iv,
                    cfg.candle_capacity,
                    t.indicators.clone(),
                    t.volume.clone(),
                    cfg.max_gap_fill,
                )
            })
            .collect();
        SymbolState {
            key,
            last_price: None,
            last_exch_ms: None,
            last_recv_ms: None,
            last_z: None,
            ticks: Ring::new(cfg.tick_capacity),
            series,
            quote: None,
            quote_recv_ms: None,
            stats24: None,
            kline_base: cfg
                .kline_bases
                .iter()
                .filter(|(k, _)| *k == key)
                .map(|(_, iv)| *iv)
                .min(),
            tick_z: t.tick_z.clone(),
        }
    }

    fn seen(&mut self, exch: TsMs, recv: TsMs) {
        self.last_exch_ms = Some(self.last_exch_ms.map_or(exch, |t| t.max(exch)));
        self.last_recv_ms = Some(recv);
    }

    pub fn on_trade(
        &mut self,
        ts: TsMs,
        recv: TsMs,
        t: TradeTick,
        sh: &mut Shared,
        out: &mut OutputBatch,
    ) -> Effects {
        let cfg = sh.cfg;
        self.seen(ts, recv);
        self.last_price = Some(t.price);
        self.ticks.push(TickPoint {
            ts_ms: ts,
            price: t.price,
            qty: t.qty,
            side: t.side,
        });
        // The z of the latest trade; None while warming up (or on a flat tape) so that an old
        // score is never shown as current.
        self.last_z = self.tick_z.update(t.price);
        if cfg.persist_trades {
            out.trades.push(TradeRecord {
                key: self.key,
                ts_ms: ts,
                tick: t,
            });
        }
        let mut fx = Effects::default();
        let key = self.key;
        let mut late = false;
        // candles closed by this trade, for the rules evaluated on close
        let mut closed_here: Vec<(Interval, ClosedBar)> = Vec::new();
        let keep = sh.rules.watches(key.symbol);
        for s in self.series.iter_mut() {
            if self.kline_base.is_some_and(|b| s.interval >= b) {
                break;
            }
            let interval = s.interval;
            let cols = s.columns();
            let (fold, gaps) = s.add_trade(ts, t.price, t.qty, &mut |bar| {
                emit_candle(key, interval, &cols, bar, out);
                if keep {
                    closed_here.push((interval, bar.clone()));
                }
            });
            late |= fold == Fold::Late;
            fx.gaps += gaps;
        }
        if late {
            fx.late += 1;
        }
        if keep {
            for (iv, bar) in &closed_here {
                self.evaluate_candle_rules(*iv, bar, recv, sh, out);
            }
            self.evaluate_tick_rules(ts, recv, t.price, sh, out);
        }
        fx
    }

    pub fn on_candle(
        &mut self,
        recv: TsMs,
        interval: Interval,
        candle: Candle,
        closed: bool,
        sh: &mut Shared,
        out: &mut OutputBatch,
    ) -> Effects {
        self.seen(candle.open_ms, recv);
        // Only a venue that streams in-progress candles builds this interval from now on;
        // closed candles alone (REST warm-up, gap fills, dumps) leave trades building the live
        // candle, or a feed without a candle stream (Coinbase) would freeze after its warm-up.
        if !closed && self.kline_base.is_none_or(|b| interval < b) {
            self.kline_base = Some(interval);
        }
        let mut fx = Effects::default();
        if self.kline_base != Some(interval) && !closed {
            // an in-progress candle of a longer interval than the venue's base: the rolled-up
            // candle from the base interval is already shown
            return fx;
        }
        // No trades for this symbol: the candle's close is the last price.
        if self.ticks.is_empty() || self.last_exch_ms.is_some_and(|t| candle.open_ms >= t) {
            self.last_price = Some(candle.close);
        }
        let key = self.key;
        let mut closed_here: Vec<(Interval, ClosedBar)> = Vec::new();
        let idx = interval.index();
        let (fold, gaps) = self.series[idx].set_candle(candle, closed, &mut |bar| {
            closed_here.push((interval, bar.clone()));
        });
        fx.gaps += gaps;
        if fold == Fold::Late {
            return fx;
        }
        if closed {
            // Roll the venue's closed candle up into every longer interval. A longer candle that
            // ends where this one ends is complete and closes now, not when the next one begins
            // (which, at the end of a dump, is never).
            let end = interval.bucket(candle.open_ms) + interval.ms();
            for s in self.series[idx + 1..].iter_mut() {
                let iv = s.interval;
                let mut keep = |bar: &ClosedBar| closed_here.push((iv, bar.clone()));
                let (fold, gaps) = s.add_candle(&candle, &mut keep);
                fx.gaps += gaps;
                if fold != Fold::Late {
                    s.close_covered(end, &mut keep);
                }
            }
        }
        let cols = self.series[idx].columns();
        for (iv, bar) in &closed_here {
            emit_candle(key, *iv, &cols, bar, out);
            self.evaluate_candle_rules(*iv, bar, recv, sh, out);
        }
        fx
    }

    pub fn on_quote(&mut self, exch: TsMs, recv: TsMs, q: Quote) {
        self.seen(exch, recv);
        self.quote = Some(q);
        self.quote_recv_ms = Some(recv);
    }

    /// The detail pane's figures: the venue's 24 h statistics when it sends them, else the
    /// last 24 h of 1h candles in memory (with the running one); the newest `trades` trades.
    pub fn detail(&self, trades: usize) -> crate::view::SymbolDetail {
        let (change_pct, _) = self.change_and_volume();
        let (high, low, volume, from_venue) = match self.stats24 {
            Some(s) => (Some(s.high), Some(s.low), Some(s.volume), true),
            None => {
                let hours = &self.series[Interval::H1.index()];
                let end = hours
                    .current
                    .map(|c| c.open_ms)
                    .or_else(|| hours.closed.last().map(|b| b.candle.open_ms));
                let mut acc: Option<(f64, f64, f64)> = None;
                if let Some(end) = end {
                    let from = end - 23 * Interval::H1.ms();
                    let recent = hours
                        .closed
                        .iter()
                        .map(|b| b.candle)
                        .chain(hours.current)
                        .filter(|c| c.open_ms >= from);
                    for c in recent {
                        acc = Some(match acc {
                            None => (c.high, c.low, c.volume),
                            Some((h, l, v)) => (h.max(c.high), l.min(c.low), v + c.volume),
                        });
                    }
                }
                (acc.map(|a| a.0), acc.map(|a| a.1), acc.map(|a| a.2), false)
            }
        };
        crate::view::SymbolDetail {
            key: self.key,
            last: self.last_price,
            high_24h: high,
            low_24h: low,
            volume_24h: volume,
            change_pct,
            from_venue,
            trades: self
                .ticks
                .iter()
                .rev()
                .take(trades)
                .map(|t| crate::view::RecentTrade {
                    ts_ms: t.ts_ms,
                    price: t.price,
                    qty: t.qty,
                    side: t.side,
                })
                .collect(),
            quote: self.quote.zip(self.quote_recv_ms),
        }
    }

    pub fn on_stats(&mut self, exch: TsMs, recv: TsMs, s: Stats24h) {
        self.seen(exch, recv);
        if self.ticks.is_empty() {
            self.last_price = Some(s.last);
        }
        self.stats24 = Some(s);
    }

    /// Percent change and volume: over 24 h when the venue publishes them, else since the
    /// current UTC day opened.
    pub fn change_and_volume(&self) -> (Option<f64>, f64) {
        if let Some(s) = self.stats24 {
            let last = self.last_price.unwrap_or(s.last);
            let chg = (s.open > 0.0).then(|| (last / s.open - 1.0) * 100.0);
            return (chg, s.volume);
        }
        let day = &self.series[Interval::D1.index()];
        match (day.current, self.last_price) {
            (Some(c), Some(last)) if c.open > 0.0 => {
                (Some((last / c.open - 1.0) * 100.0), c.volume)
            }
            (Some(c), None) => (None, c.volume),
            _ => (None, 0.0),
        }
    }

    /// The price at `t`: the close of the last candle that ended by then, from the finest
    /// interval whose in-memory candles reach back that far. None until they do.
    pub fn price_at(&self, t: TsMs) -> Option<f64> {
        for s in &self.series {
            let iv = s.interval.ms();
            match s.closed.get(0) {
                Some(first) if first.candle.open_ms + iv <= t => {}
                _ => continue,
            }
            let n = s.closed.partition_point(|b| b.candle.open_ms + iv <= t);
            return s.closed.get(n.saturating_sub(1)).map(|b| b.candle.close);
        }
        None
    }

    /// Percent change from the price `window_ms` before `ts` to `price`.
    fn change_pct(&self, price: f64, ts: TsMs, window_ms: TsMs) -> Option<f64> {
        let then = self.price_at(ts - window_ms)?;
        (then > 0.0).then(|| (price / then - 1.0) * 100.0)
    }

    /// Seconds since data last arrived (or since `start` when none ever did), for stale rules.
    pub fn silent_secs(&self, now: TsMs, start: TsMs) -> f64 {
        (now - self.last_recv_ms.unwrap_or(start)).max(0) as f64 / 1000.0
    }

    fn evaluate_tick_rules(
        &self,
        ts: TsMs,
        recv: TsMs,
        price: f64,
        sh: &mut Shared,
        out: &mut OutputBatch,
    ) {
        let cfg = sh.cfg;
        let history = cfg.alert_max_lag_ms.is_some_and(|lag| recv - ts > lag);
        sh.rules.on(Trigger::Tick).evaluate(
            self.key,
            ts,
            history,
            &cfg.alert_delivered,
            out,
            |rule| {
                if rule.trigger != Trigger::Tick {
                    return None;
                }
                match rule.condition {
                    Condition::PriceAbove(_)
                    | Condition::PriceBelow(_)
                    | Condition::PriceCross { .. } => Some(price),
                    Condition::PctChange { window_ms, .. } => self.change_pct(price, ts, window_ms),
                    Condition::AbsZAtLeast(_) => self.last_z,
                    _ => None,
                }
            },
        );
    }

    fn evaluate_candle_rules(
        &self,
        iv: Interval,
        bar: &ClosedBar,
        recv: TsMs,
        sh: &mut Shared,
        out: &mut OutputBatch,
    ) {
        let cfg = sh.cfg;
        let ts = bar.candle.open_ms + iv.ms();
        let history = cfg.alert_max_lag_ms.is_some_and(|lag| recv - ts > lag);
        let series = &self.series[iv.index()];
        let rsi = series
            .columns()
            .iter()
            .position(|c| c.starts_with("rsi"))
            .and_then(|c| bar.values.get(c).copied().flatten());
        let close = bar.candle.close;
        sh.rules.on(Trigger::Close(iv)).evaluate(
            self.key,
            ts,
            history,
            &cfg.alert_delivered,
            out,
            |rule| {
                if rule.trigger != Trigger::Close(iv) {
                    return None;
                }
                match rule.condition {
                    Condition::PriceAbove(_)
                    | Condition::PriceBelow(_)
                    | Condition::PriceCross { .. } => Some(close),
                    Condition::PctChange { window_ms, .. } => self.change_pct(close, ts, window_ms),
                    Condition::RsiAbove { .. }
                    | Condition::RsiBelow { .. }
                    | Condition::RsiCross { .. } => rsi,
                    Condition::VolumeSpike { .. } => bar.vol_spike,
                    _ => None,
                }
            },
        );
    }
}

fn emit_candle(
    key: VenueSymbol,
    interval: Interval,
    columns: &std::sync::Arc<[String]>,
    bar: &ClosedBar,
    out: &mut OutputBatch,
) {
    out.candles.push(ClosedCandle {
        key,
        interval,
        candle: bar.candle,
        columns: columns.clone(),
        values: bar.values.clone(),
    });
}
