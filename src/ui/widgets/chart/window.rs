//! The x axis is time: the visible window `[from, to)` cut into buckets of equal width, one slot
//! per bucket, each slot spread over one or more plot columns; and the candles of the window
//! merged into those buckets.

use std::borrow::Cow;

use crate::domain::TsMs;
use crate::history::bucketize;
use crate::view::ChartCandle;

/// Where time lands on the plot: slot `s` is the bucket opening at `origin + s * bucket_ms`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct XMap {
    /// Open time of the bucket in slot 0 (a multiple of `bucket_ms`).
    pub origin: TsMs,
    pub bucket_ms: TsMs,
    /// At least one and at most `cols`.
    pub slots: usize,
    /// Plot columns, at least one.
    pub cols: u16,
}

fn floor_to(t: i128, step: i128) -> i128 {
    t - t.rem_euclid(step)
}

impl XMap {
    /// The slots of `[from, to)` in buckets of `bucket_ms` over `cols` columns. A window that
    /// touches more buckets than there are columns (a bucket boundary inside the first column)
    /// loses its oldest, partial buckets.
    pub fn new(from: TsMs, to: TsMs, bucket_ms: TsMs, cols: u16) -> XMap {
        let b = i128::from(bucket_ms.max(1));
        let cols = cols.max(1);
        let first = floor_to(i128::from(from), b);
        let last = floor_to(i128::from(to.max(from.saturating_add(1))) - 1, b);
        let touched = (last - first) / b + 1;
        let slots = touched.clamp(1, i128::from(cols));
        let origin = first + (touched - slots) * b;
        XMap {
            origin: TsMs::try_from(origin).unwrap_or(from),
            bucket_ms: bucket_ms.max(1),
            slots: usize::try_from(slots).unwrap_or(1),
            cols,
        }
    }

    /// The slot of the bucket holding time `t`, if it is in the window.
    pub fn slot(&self, t: TsMs) -> Option<usize> {
        let d = i128::from(t) - i128::from(self.origin);
        if d < 0 {
            return None;
        }
        let s = usize::try_from(d / i128::from(self.bucket_ms)).ok()?;
        (s < self.slots).then_some(s)
    }

    /// Open time of the bucket in `slot`.
    pub fn time_of(&self, slot: usize) -> TsMs {
        let t = i128::from(self.origin) + i128::from(self.bucket_ms) * slot as i128;
        TsMs::try_from(t).unwrap_or(TsMs::MAX)
    }

    /// One past the last millisecond of the last slot.
    pub fn end(&self) -> TsMs {
        self.time_of(self.slots)
    }

    /// Columns of every slot: all slots are equally wide, so candles are evenly spaced; the
    /// columns left over stay empty at the left (oldest) edge.
    pub fn slot_width(&self) -> u16 {
        let n = u16::try_from(self.slots.max(1)).unwrap_or(u16::MAX);
        (self.cols / n).max(1)
    }

    /// Empty columns left of slot 0.
    fn offset(&self) -> u16 {
        let used = u64::from(self.slot_width()) * self.slots as u64;
        u16::try_from(u64::from(self.cols).saturating_sub(used)).unwrap_or(0)
    }

    /// Columns `[start, end)` of `slot`, relative to the plot's left edge.
    pub fn cols_of(&self, slot: usize) -> (u16, u16) {
        let w = u64::from(self.slot_width());
        let c = u64::from(self.cols);
        let a = (u64::from(self.offset()) + slot as u64 * w).min(c);
        let b = (a + w).min(c);
        (a as u16, b as u16)
    }

    /// The column a point of `slot` is drawn at (the middle of its columns).
    pub fn center(&self, slot: usize) -> u16 {
        let (a, b) = self.cols_of(slot);
        (a + b.saturating_sub(1).max(a)) / 2
    }

    /// Columns of a candle body in `slot`: `(start, width)`, an odd width so the wick sits in the
    /// middle, leaving a gap to the next candle when slots are three or more columns wide.
    pub fn body(&self, slot: usize) -> (u16, u16) {
        let (a, _) = self.cols_of(slot);
        let w = self.slot_width();
        if w < 3 {
            return (self.center(slot), 1);
        }
        let bw = if (w - 1) % 2 == 1 { w - 1 } else { w - 2 };
        (a + (w - bw) / 2, bw)
    }
}

/// The candles of the window, merged into the map's buckets, and the slot of each.
#[derive(Debug, Clone)]
pub struct Visible<'a> {
    pub candles: Cow<'a, [ChartCandle]>,
    pub slots: Vec<usize>,
}

/// True when every candle already is one bucket of `bucket_ms` (merged by the app): then no
/// copy is made.
fn already_bucketed(candles: &[ChartCandle], bucket_ms: TsMs) -> bool {
    candles
        .iter()
        .all(|c| c.candle.open_ms.rem_euclid(bucket_ms) == 0)
        && candles
            .windows(2)
            .all(|w| w[0].candle.open_ms < w[1].candle.open_ms)
}

/// Merges the candles of `all` (ascending by open time) that fall in the window of `x`.
pub fn visible<'a>(all: &'a [ChartCandle], x: &XMap) -> Visible<'a> {
    let (start, end) = (x.origin, x.end());
    let lo = all.partition_point(|c| c.candle.open_ms < start);
    let hi = all.partition_point(|c| c.candle.open_ms < end).max(lo);
    let part = &all[lo..hi];
    let candles: Cow<'a, [ChartCandle]> = if already_bucketed(part, x.bucket_ms) {
        Cow::Borrowed(part)
    } else {
        Cow::Owned(bucketize(part.iter().cloned(), x.bucket_ms))
    };
    let slots: Vec<Option<usize>> = candles.iter().map(|c| x.slot(c.candle.open_ms)).collect();
    if slots.iter().all(Option::is_some) {
        let slots = slots.into_iter().flatten().collect();
        return Visible { candles, slots };
    }
    // Input out of order: keep what has a place on the axis.
    let (candles, slots) = candles
        .iter()
        .zip(slots)
        .filter_map(|(c, s)| Some((c.clone(), s?)))
        .unzip();
    Visible {
        candles: Cow::Owned(candles),
        slots,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Candle;

    const M: TsMs = 60_000;

    fn cc(open_ms: TsMs) -> ChartCandle {
        ChartCandle {
            candle: Candle {
                open_ms,
                open: 1.0,
                high: 2.0,
                low: 0.5,
                close: 1.5,
                volume: 1.0,
                trades: 1,
            },
            values: Box::new([]),
            closed: true,
        }
    }

    #[test]
    fn one_slot_per_bucket_and_columns_cover_the_plot() {
        let x = XMap::new(0, 60 * M, M, 60);
        assert_eq!((x.origin, x.slots), (0, 60));
        assert_eq!(x.cols_of(0), (0, 1));
        assert_eq!(x.cols_of(59), (59, 60));
        assert_eq!(x.slot(59 * M + 5), Some(59));
        assert_eq!(x.slot(60 * M), None);
        assert_eq!(x.slot(-1), None);
        // Fewer buckets than columns: equal, wider slots, odd bodies with a gap; the columns
        // left over stay empty on the left.
        let x = XMap::new(0, 10 * M, M, 63);
        assert_eq!((x.slots, x.slot_width()), (10, 6));
        assert_eq!(x.cols_of(0), (3, 9));
        assert_eq!(x.cols_of(9), (57, 63));
        assert_eq!(x.body(1), (9, 5));
        assert_eq!(x.center(1), 11);
        for s in 1..10 {
            assert_eq!(x.cols_of(s).0, x.cols_of(s - 1).1);
        }
        // 60 buckets over 63 columns: one column each, not a few doubled at random.
        let x = XMap::new(0, 60 * M, M, 63);
        assert_eq!(
            (x.slot_width(), x.cols_of(0), x.cols_of(59)),
            (1, (3, 4), (62, 63))
        );
    }

    #[test]
    fn a_misaligned_window_drops_the_partial_oldest_bucket() {
        // 10 buckets of 3m fit 30 minutes, but starting at minute 1 the window touches 11.
        let x = XMap::new(M, 31 * M, 3 * M, 10);
        assert_eq!(x.slots, 10);
        assert_eq!(x.origin, 3 * M);
        assert_eq!(x.slot(M), None);
        assert_eq!(x.slot(30 * M), Some(9));
    }

    #[test]
    fn absurd_windows_do_not_overflow() {
        for (from, to) in [(TsMs::MIN, TsMs::MAX), (TsMs::MAX, TsMs::MIN), (5, 5)] {
            let x = XMap::new(from, to, M, 80);
            assert!(x.slots >= 1 && x.slots <= 80);
            let _ = (x.end(), x.cols_of(x.slots), x.slot(0));
        }
    }

    #[test]
    fn visible_candles_merge_into_buckets_and_borrow_when_merged() {
        let all: Vec<ChartCandle> = (0..30).map(|i| cc(i * M)).collect();
        let x = XMap::new(0, 30 * M, 3 * M, 10);
        let v = visible(&all, &x);
        assert!(matches!(v.candles, Cow::Owned(_)));
        assert_eq!(v.candles.len(), 10);
        assert_eq!(v.slots, (0..10).collect::<Vec<_>>());
        let merged = v.candles.into_owned();
        let again = visible(&merged, &x);
        assert!(matches!(again.candles, Cow::Borrowed(_)));
        // Candles outside the window are left out.
        let x = XMap::new(10 * M, 20 * M, M, 10);
        let v = visible(&all, &x);
        assert_eq!(v.candles.first().map(|c| c.candle.open_ms), Some(10 * M));
        assert_eq!(v.candles.len(), 10);
    }
}
