//! The vertical price scale: from the lowest low to the highest high of the visible candles
//! (overlays never widen it), linear or logarithmic, and the labels of its axis.

use crate::format;
use crate::view::ChartCandle;

/// Widest axis label, in characters ("0.00002853").
pub const LABEL_WIDTH: usize = 10;

/// The vertical scale of a plot.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PriceScale {
    pub lo: f64,
    pub hi: f64,
    /// Positions by ln(price) (only when every price on the scale is positive).
    pub log: bool,
}

impl PriceScale {
    /// The scale of the candles' prices; None when no candle has a finite price. `log` is
    /// honoured only when the lowest price is positive.
    pub fn of(candles: &[ChartCandle], log: bool) -> Option<PriceScale> {
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for c in candles {
            let c = &c.candle;
            for v in [c.low, c.high, c.open, c.close] {
                if v.is_finite() {
                    lo = lo.min(v);
                    hi = hi.max(v);
                }
            }
        }
        PriceScale::spanning(lo, hi, log)
    }

    /// A scale from `lo` to `hi`, padded when flat so that it is never empty.
    pub fn spanning(lo: f64, hi: f64, log: bool) -> Option<PriceScale> {
        if !(lo.is_finite() && hi.is_finite()) || lo > hi {
            return None;
        }
        // Keep hi - lo finite.
        let (mut lo, mut hi) = (lo.max(-f64::MAX / 4.0), hi.min(f64::MAX / 4.0));
        let log = log && lo > 0.0;
        if hi <= lo {
            // A flat market still needs a non-empty scale; centre the line.
            if log {
                lo *= 1.0 - 1e-3;
                hi *= 1.0 + 1e-3;
            } else {
                let pad = (lo.abs() * 1e-3).max(1e-12);
                lo -= pad;
                hi += pad;
            }
        }
        Some(PriceScale { lo, hi, log })
    }

    /// Where `v` sits: 0 at `lo`, 1 at `hi` (outside for values off the scale); NaN for a value
    /// that has no place (not finite, or not positive on a log scale).
    pub fn frac(&self, v: f64) -> f64 {
        if !v.is_finite() {
            return f64::NAN;
        }
        if self.log {
            if v <= 0.0 {
                return f64::NAN;
            }
            let (a, b) = (self.lo.ln(), self.hi.ln());
            (v.ln() - a) / (b - a)
        } else {
            (v - self.lo) / (self.hi - self.lo)
        }
    }

    /// The price at fraction `f` of the scale.
    pub fn value(&self, f: f64) -> f64 {
        if self.log {
            (self.lo.ln() + (self.hi.ln() - self.lo.ln()) * f).exp()
        } else {
            self.lo + (self.hi - self.lo) * f
        }
    }

    /// The row (0 at the top) of `rows` whose band holds `v`; None off the scale.
    pub fn row_of(&self, v: f64, rows: u16) -> Option<u16> {
        row_of_frac(self.frac(v), rows)
    }

    /// The half row (0 at the bottom, `2 * rows - 1` at the top) that holds `v`, clamped to the
    /// plot; None when `v` has no place.
    pub fn half_of(&self, v: f64, rows: u16) -> Option<u16> {
        let f = self.frac(v);
        if f.is_nan() || rows == 0 {
            return None;
        }
        let halves = 2.0 * f64::from(rows);
        Some((f * halves).floor().clamp(0.0, halves - 1.0) as u16)
    }

    /// Axis labels for a plot of `rows`: the highest high on the top row, the lowest low on the
    /// bottom row, and between them round values (1-2-5 steps on a wide log scale) about every
    /// three rows, never on neighbouring rows.
    pub fn labels(&self, rows: u16) -> Vec<(u16, String)> {
        let ticks = self.ticks(rows);
        let step = ticks
            .windows(2)
            .map(|w| (w[0].1 - w[1].1).abs())
            .fold(f64::INFINITY, f64::min);
        let mut d = format::axis_decimals(self.lo, self.hi);
        if step.is_finite() && step > 0.0 && step < 1.0 {
            d = d.max((-step.log10()).ceil() as usize);
        }
        let d = d.min(12);
        ticks
            .into_iter()
            .map(|(row, v)| (row, fit_label(v, d, LABEL_WIDTH)))
            .collect()
    }

    /// (row, value) of every label, top to bottom.
    fn ticks(&self, rows: u16) -> Vec<(u16, f64)> {
        match rows {
            0 => return Vec::new(),
            1 => return vec![(0, self.hi)],
            _ => {}
        }
        let mut out = vec![(0, self.hi), (rows - 1, self.lo)];
        let wanted = usize::from(rows - 2) / 3;
        if wanted == 0 {
            return out;
        }
        let candidates = if self.log && self.hi / self.lo >= 4.0 {
            log_candidates(self.lo, self.hi, wanted)
        } else {
            linear_candidates(self.lo, self.hi, wanted)
        };
        for v in candidates {
            let Some(row) = self.row_of(v, rows) else {
                continue;
            };
            if out.iter().all(|&(r, _)| r.abs_diff(row) >= 2) {
                out.push((row, v));
            }
        }
        out.sort_by_key(|&(r, _)| r);
        out
    }
}

/// The row (0 at the top) of `rows` for fraction `f` of the height; None off the plot.
pub fn row_of_frac(f: f64, rows: u16) -> Option<u16> {
    if !(0.0..=1.0).contains(&f) || rows == 0 {
        return None;
    }
    let from_bottom = (f * f64::from(rows)).floor().min(f64::from(rows) - 1.0) as u16;
    Some(rows - 1 - from_bottom)
}

/// The smallest of 1, 2, 2.5, 5 times a power of ten that is at least `x`.
pub fn nice_step(x: f64) -> f64 {
    if !(x.is_finite() && x > 0.0) {
        return 1.0;
    }
    let p = 10f64.powf(x.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .map(|m| m * p)
        .find(|s| *s >= x * (1.0 - 1e-9))
        .unwrap_or(10.0 * p)
}

/// Round values strictly inside `(lo, hi)` at a step that gives about `wanted` of them.
fn linear_candidates(lo: f64, hi: f64, wanted: usize) -> Vec<f64> {
    let step = nice_step((hi - lo) / (wanted as f64 + 1.0));
    let start = (lo / step).ceil() * step;
    // Bounded: at a magnitude where adding the step changes nothing, the loop still ends.
    (0..wanted + 3)
        .map(|i| start + step * i as f64)
        .filter(|v| *v > lo && *v < hi)
        .collect()
}

/// 1, 2-5 or 1..9 times powers of ten inside `(lo, hi)`: the densest set that gives no more
/// than about `wanted` of them.
fn log_candidates(lo: f64, hi: f64, wanted: usize) -> Vec<f64> {
    const SETS: [&[f64]; 3] = [
        &[1.0],
        &[1.0, 2.0, 5.0],
        &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0],
    ];
    let (e0, e1) = (lo.log10().floor() as i32, hi.log10().ceil() as i32);
    let of = |set: &[f64]| -> Vec<f64> {
        (e0..=e1)
            .flat_map(|e| set.iter().map(move |m| m * 10f64.powi(e)))
            .filter(|v| *v > lo && *v < hi)
            .collect()
    };
    let mut best = of(SETS[0]);
    for set in &SETS[1..] {
        let more = of(set);
        if more.len() > wanted + 1 {
            break;
        }
        best = more;
    }
    best
}

/// `v` with `decimals`, in at most `width` characters: fewer decimals for large values, then
/// the compact form (12.3M); scientific notation for tiny ones.
pub fn fit_label(v: f64, decimals: usize, width: usize) -> String {
    let s = format::price_with(v, decimals);
    if s.chars().count() <= width {
        return s;
    }
    if v.abs() >= 1.0 {
        for d in (0..decimals).rev() {
            let s = format::price_with(v, d);
            if s.len() <= width {
                return s;
            }
        }
        let s = format::compact(v);
        if s.len() <= width {
            return s;
        }
    }
    let s = format!("{v:.2e}");
    s.chars().take(width).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flat_markets_get_a_padded_scale() {
        let s = PriceScale::spanning(100.0, 100.0, false).unwrap();
        assert!(s.lo < 100.0 && s.hi > 100.0);
        let s = PriceScale::spanning(0.0, 0.0, false).unwrap();
        assert!(s.lo < 0.0 && s.hi > 0.0);
        let s = PriceScale::spanning(5.0, 5.0, true).unwrap();
        assert!(s.log && s.lo < 5.0 && s.hi > 5.0);
        assert_eq!(PriceScale::spanning(f64::NAN, 1.0, false), None);
        // Log needs positive prices.
        assert!(!PriceScale::spanning(-1.0, 5.0, true).unwrap().log);
    }

    #[test]
    fn rows_and_halves() {
        let s = PriceScale::spanning(0.0, 100.0, false).unwrap();
        assert_eq!(s.row_of(100.0, 10), Some(0));
        assert_eq!(s.row_of(0.0, 10), Some(9));
        assert_eq!(s.row_of(55.0, 10), Some(4));
        assert_eq!(s.row_of(101.0, 10), None);
        assert_eq!(s.half_of(100.0, 10), Some(19));
        assert_eq!(s.half_of(0.0, 10), Some(0));
        assert_eq!(s.half_of(-50.0, 10), Some(0));
        assert_eq!(s.half_of(f64::NAN, 10), None);
    }

    #[test]
    fn linear_labels_keep_the_extremes_and_add_round_values() {
        let s = PriceScale::spanning(42_995.0, 43_300.0, false).unwrap();
        let labels = s.labels(12);
        assert_eq!(labels.first(), Some(&(0, "43300.00".to_string())));
        assert_eq!(labels.last(), Some(&(11, "42995.00".to_string())));
        assert!(labels.len() >= 3, "{labels:?}");
        for (_, l) in &labels[1..labels.len() - 1] {
            assert!(l.ends_with("00.00") || l.ends_with("50.00"), "{labels:?}");
        }
        for w in labels.windows(2) {
            assert!(w[1].0 >= w[0].0 + 2, "{labels:?}");
        }
    }

    #[test]
    fn log_labels_are_round_and_placed_by_log() {
        let s = PriceScale::spanning(10.0, 1000.0, true).unwrap();
        let labels = s.labels(21);
        let row_100 = labels.iter().find(|(_, l)| l == "100.00").map(|(r, _)| *r);
        // 100 is halfway between 10 and 1000 on a log scale.
        assert_eq!(row_100, Some(10), "{labels:?}");
        let lin = PriceScale::spanning(10.0, 1000.0, false).unwrap();
        assert_eq!(lin.row_of(100.0, 21), Some(19));
    }

    #[test]
    fn labels_fit_the_axis() {
        assert_eq!(fit_label(0.00002838, 8, 10), "0.00002838");
        assert_eq!(fit_label(123_456_789.123, 2, 10), "123456789");
        assert_eq!(fit_label(12_345_678_901.0, 2, 10), "12.3B");
        assert_eq!(fit_label(1.5e-15, 12, 10), "1.50e-15");
        assert!(fit_label(-1.5e-300, 12, 10).chars().count() <= 10);
        assert_eq!(nice_step(0.3), 0.5);
        assert_eq!(nice_step(22.0), 25.0);
        assert_eq!(nice_step(0.0), 1.0);
    }
}
