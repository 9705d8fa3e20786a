//! One interval of one symbol: the candle being built, the closed candles with their indicator
//! values, and the indicator state.

use std::sync::Arc;

use super::ring::Ring;
use crate::domain::{Candle, Interval, TsMs};
use crate::indicators::{IndicatorSet, VolumeSpike};

/// A closed candle as the engine keeps it in memory.
#[derive(Debug, Clone, PartialEq)]
pub struct ClosedBar {
    pub candle: Candle,
    pub values: Box<[Option<f64>]>,
    /// Volume relative to its recent average (a "3.2x normal" ratio), once warmed up.
    pub vol_spike: Option<f64>,
}

/// What happened to a candle when an update arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fold {
    /// Folded into the current candle (or opened the first one).
    Current,
    /// Closed one or more candles and opened a new one.
    Closed,
    /// Older than the current candle: not folded (a late trade or a duplicate candle).
    Late,
}

#[derive(Debug)]
pub struct Series {
    pub interval: Interval,
    pub current: Option<Candle>,
    pub closed: Ring<ClosedBar>,
    indicators: IndicatorSet,
    vol_spike: VolumeSpike,
    max_gap_fill: usize,
    /// The last candle, closed at its end because the shorter candles covered it whole, while
    /// the next one has not begun: empty periods are filled from it.
    sealed: Option<Candle>,
}

impl Series {
    pub fn new(
        interval: Interval,
        capacity: usize,
        indicators: IndicatorSet,
        vol_spike: VolumeSpike,
        max_gap_fill: usize,
    ) -> Self {
        Series {
            interval,
            current: None,
            closed: Ring::new(capacity),
            indicators,
            vol_spike,
            max_gap_fill,
            sealed: None,
        }
    }

    pub fn columns(&self) -> Arc<[String]> {
        self.indicators.columns()
    }

    /// Open time of the newest closed candle.
    pub fn last_closed_open(&self) -> Option<TsMs> {
        self.closed.last().map(|b| b.candle.open_ms)
    }

    /// Folds a trade at `ts` into the candle of its bucket. Candles that close are passed to
    /// `on_close` in time order; gaps are filled with flat candles (up to `max_gap_fill`).
    /// Returns the number of gaps too long to fill alongside the fold result.
    pub fn add_trade(
        &mut self,
        ts: TsMs,
        price: f64,
        qty: f64,
        on_close: &mut impl FnMut(&ClosedBar),
    ) -> (Fold, u64) {
        let bucket = self.interval.bucket(ts);
        if self.is_closed(bucket) {
            return (Fold::Late, 0);
        }
        match self.current {
            Some(ref mut c) if c.open_ms == bucket => {
                c.add_trade(price, qty);
                (Fold::Current, 0)
            }
            Some(c) if c.open_ms > bucket => {
                let _ = c;
                (Fold::Late, 0)
            }
            _ => {
                let gaps = self.roll_to(bucket, on_close);
                self.current = Some(Candle::from_trade(bucket, price, qty));
                (Fold::Closed, gaps)
            }
        }
    }

    /// Folds a closed candle of a shorter interval into this series' current candle.
    pub fn add_candle(
        &mut self,
        shorter: &Candle,
        on_close: &mut impl FnMut(&ClosedBar),
    ) -> (Fold, u64) {
        let bucket = self.interval.bucket(shorter.open_ms);
        if self.is_closed(bucket) {
            return (Fold::Late, 0);
        }
        match self.current {
            Some(ref mut c) if c.open_ms == bucket => {
                c.merge(shorter);
                (Fold::Current, 0)
            }
            Some(c) if c.open_ms > bucket => {
                let _ = c;
                (Fold::Late, 0)
            }
            _ => {
                let gaps = self.roll_to(bucket, on_close);
                let mut c = *shorter;
                c.open_ms = bucket;
                self.current = Some(c);
                (Fold::Closed, gaps)
            }
        }
    }

    /// Applies a candle of exactly this interval from the venue. A closed one is final: it closes
    /// the candles before it and is closed itself. An open one replaces the current candle.
    pub fn set_candle(
        &mut self,
        candle: Candle,
        closed: bool,
        on_close: &mut impl FnMut(&ClosedBar),
    ) -> (Fold, u64) {
        let bucket = self.interval.bucket(candle.open_ms);
        if self.is_closed(bucket) {
            return (Fold::Late, 0);
        }
        let mut gaps = 0;
        if self
            .current
            .or(self.sealed)
            .is_some_and(|c| c.open_ms < bucket)
        {
            gaps = self.roll_to(bucket, on_close);
        }
        let mut candle = candle;
        candle.open_ms = bucket;
        if closed {
            self.current = None;
            let bar = self.close(candle);
            on_close(&bar);
            (Fold::Closed, gaps)
        } else {
            self.current = Some(candle);
            (Fold::Current, gaps)
        }
    }

    /// True when the candle of `bucket` was closed already: nothing more folds into it.
    fn is_closed(&self, bucket: TsMs) -> bool {
        self.last_closed_open().is_some_and(|t| bucket <= t)
    }

    /// Closes the current candle if it ends at or before `covered_end`: the data up to then are
    /// all in (the shorter candle that ends its bucket has closed), so waiting for the next
    /// candle to begin would only hold a finished one back (and lose it when none follows: the
    /// last hour and day of a dump).
    pub fn close_covered(&mut self, covered_end: TsMs, on_close: &mut impl FnMut(&ClosedBar)) {
        let Some(cur) = self.current else {
            return;
        };
        if cur.open_ms + self.interval.ms() > covered_end {
            return;
        }
        self.current = None;
        let bar = self.close(cur);
        on_close(&bar);
        self.sealed = Some(cur);
    }

    /// Closes the current candle (unless it was closed when covered) and fills the flat candles
    /// up to (not including) `bucket`.
    fn roll_to(&mut self, bucket: TsMs, on_close: &mut impl FnMut(&ClosedBar)) -> u64 {
        let cur = match (self.current.take(), self.sealed.take()) {
            (Some(cur), _) => {
                let bar = self.close(cur);
                on_close(&bar);
                cur
            }
            (None, Some(sealed)) => sealed,
            (None, None) => return 0,
        };
        let step = self.interval.ms();
        let missing = ((bucket - cur.open_ms) / step - 1).max(0) as usize;
        if missing == 0 {
            return 0;
        }
        if missing > self.max_gap_fill {
            tracing::warn!(
                interval = %self.interval,
                "no data from {} to {}: {missing} empty candles not filled",
                crate::domain::iso8601(cur.open_ms + step),
                crate::domain::iso8601(bucket)
            );
            return 1;
        }
        for k in 1..=missing as i64 {
            let bar = self.close(Candle::flat(cur.open_ms + k * step, cur.close));
            on_close(&bar);
        }
        0
    }

    fn close(&mut self, candle: Candle) -> ClosedBar {
        let values = self.indicators.update(candle.close);
        let vol_spike = self.vol_spike.update(candle.volume);
        let bar = ClosedBar {
            candle,
            values,
            vol_spike,
        };
        self.closed.push(bar.clone());
        bar
    }
}
