//! Everything the engine knows about one symbol at one venue.

use super::EngineConfig;
use super::ring::Ring;
use super::series::{ClosedBar, Fold, Series};
use crate::alerts::{AlertRule, Condition, RuleState};
use crate::domain::{Candle, Interval, Quote, Side, Stats24h, TradeTick, TsMs, VenueSymbol};
use crate::indicators::{IndicatorSet, ReturnZScore, VolumeSpike};
use crate::store::{AlertRecord, ClosedCandle, StoreBatch, TradeRow};

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
    pub stats24: Option<Stats24h>,
    /// The shortest interval the venue sends candles for: from it up, candles come from the
    /// venue (rolled up to longer intervals); below it, from trades.
    kline_base: Option<Interval>,
    tick_z: ReturnZScore,
    rules: Vec<RuleState>,
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
            stats24: None,
            kline_base: None,
            tick_z: t.tick_z.clone(),
            rules: vec![RuleState::default(); cfg.rules.len()],
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
        cfg: &EngineConfig,
        out: &mut StoreBatch,
    ) -> Effects {
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
            out.trades.push(TradeRow {
                key: self.key,
                ts_ms: ts,
                tick: t,
            });
        }
        let mut fx = Effects::default();
        let key = self.key;
        let mut late = false;
        for s in self.series.iter_mut() {
            if self.kline_base.is_some_and(|b| s.interval >= b) {
                break;
            }
            let interval = s.interval;
            let cols = s.columns();
            let (fold, gaps) = s.add_trade(ts, t.price, t.qty, &mut |bar| {
                emit_candle(key, interval, &cols, bar, out);
            });
            late |= fold == Fold::Late;
            fx.gaps += gaps;
        }
        if late {
            fx.late += 1;
        }
        self.evaluate_tick_rules(ts, recv, t.price, cfg, out);
        fx
    }

    pub fn on_candle(
        &mut self,
        recv: TsMs,
        interval: Interval,
        candle: Candle,
        closed: bool,
        cfg: &EngineConfig,
        out: &mut StoreBatch,
    ) -> Effects {
        self.seen(candle.open_ms, recv);
        if self.kline_base.is_none_or(|b| interval < b) {
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
            // roll the venue's closed candle up into every longer interval
            for s in self.series[idx + 1..].iter_mut() {
                let iv = s.interval;
                let (_, gaps) =
                    s.add_candle(&candle, &mut |bar| closed_here.push((iv, bar.clone())));
                fx.gaps += gaps;
            }
        }
        let cols = self.series[idx].columns();
        for (iv, bar) in &closed_here {
            emit_candle(key, *iv, &cols, bar, out);
            self.evaluate_candle_rules(*iv, bar, recv, cfg, out);
        }
        fx
    }

    pub fn on_quote(&mut self, exch: TsMs, recv: TsMs, q: Quote) {
        self.seen(exch, recv);
        self.quote = Some(q);
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

    fn evaluate_tick_rules(
        &mut self,
        ts: TsMs,
        recv: TsMs,
        price: f64,
        cfg: &EngineConfig,
        out: &mut StoreBatch,
    ) {
        let live = cfg.alert_max_lag_ms.is_none_or(|lag| recv - ts <= lag);
        for (i, rule) in cfg.rules.iter().enumerate() {
            if !rule.symbols.matches(self.key.symbol) {
                continue;
            }
            let value = match rule.condition {
                Condition::PriceAbove(_) | Condition::PriceBelow(_) => price,
                Condition::AbsZAtLeast(_) => match self.last_z {
                    Some(z) => z,
                    None => continue,
                },
                _ => continue,
            };
            if self.rules[i].evaluate(rule, value, ts) && live {
                out.alerts
                    .push(fire(self.key, rule, value, ts, &cfg.alert_delivered));
            }
        }
    }

    fn evaluate_candle_rules(
        &mut self,
        iv: Interval,
        bar: &ClosedBar,
        recv: TsMs,
        cfg: &EngineConfig,
        out: &mut StoreBatch,
    ) {
        for (i, rule) in cfg.rules.iter().enumerate() {
            let (Condition::RsiAbove { interval, .. } | Condition::RsiBelow { interval, .. }) =
                rule.condition
            else {
                continue;
            };
            if interval != iv || !rule.symbols.matches(self.key.symbol) {
                continue;
            }
            let Some(rsi) = self.series[iv.index()]
                .columns()
                .iter()
                .position(|c| c.starts_with("rsi"))
                .and_then(|c| bar.values[c])
            else {
                continue;
            };
            let ts = bar.candle.open_ms + iv.ms();
            let live = cfg.alert_max_lag_ms.is_none_or(|lag| recv - ts <= lag);
            if self.rules[i].evaluate(rule, rsi, ts) && live {
                out.alerts
                    .push(fire(self.key, rule, rsi, ts, &cfg.alert_delivered));
            }
        }
    }
}

fn emit_candle(
    key: VenueSymbol,
    interval: Interval,
    columns: &std::sync::Arc<[String]>,
    bar: &ClosedBar,
    out: &mut StoreBatch,
) {
    out.candles.push(ClosedCandle {
        key,
        interval,
        candle: bar.candle,
        columns: columns.clone(),
        values: bar.values.clone(),
    });
}

fn fire(key: VenueSymbol, rule: &AlertRule, value: f64, ts: TsMs, delivered: &str) -> AlertRecord {
    AlertRecord {
        alert_id: format!("{ts}-{}-{}-{}", key.venue, key.symbol, rule.name),
        ts_ms: ts,
        key,
        rule: rule.name.clone(),
        value,
        message: rule.message(key, value),
        delivered: delivered.into(),
        severity: rule.severity,
    }
}
