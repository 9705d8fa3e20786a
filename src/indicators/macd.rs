//! MACD: fast EMA - slow EMA, its signal EMA and the histogram, TA-Lib classic.

use super::ema::Ema;
use super::error::{IndicatorError, check_period};

/// One MACD reading; `signal` and `hist` stay `None` until the signal EMA is seeded.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MacdValue {
    pub macd: f64,
    pub signal: Option<f64>,
    pub hist: Option<f64>,
}

/// MACD(fast, slow, signal) exactly as TA-Lib TA_MACD (classic compatibility):
/// - the slow EMA is seeded with the SMA of values 0..slow-1;
/// - the fast EMA is seeded with the SMA of the last `fast` values of that same window
///   (values slow-fast..slow-1), so both are defined from index slow-1, where MACD starts;
/// - the signal EMA is seeded with the SMA of the first `signal` MACD values, so signal and
///   histogram start at index slow+signal-2.
///
/// TradingView and StockCharts seed the fast EMA at index fast-1 instead; the two agree to
/// 1e-6 once the seed difference has decayed by (1 - 2/(fast+1))^k, about 100 values later
/// for fast = 12.
#[derive(Debug, Clone)]
pub struct Macd {
    fast_period: usize,
    slow_period: usize,
    fast: Ema,
    slow: Ema,
    signal: Ema,
    /// Values seen, saturating at `slow_period - fast_period` (when the fast EMA starts).
    seen: usize,
    value: Option<MacdValue>,
}

impl Macd {
    pub fn new(fast: usize, slow: usize, signal: usize) -> Result<Macd, IndicatorError> {
        let fast = check_period("MACD", "fast period", fast, 1)?;
        let slow = check_period("MACD", "slow period", slow, 1)?;
        let signal = check_period("MACD", "signal period", signal, 1)?;
        if fast >= slow {
            return Err(IndicatorError::FastNotBelowSlow { fast, slow });
        }
        Ok(Macd {
            fast_period: fast,
            slow_period: slow,
            fast: Ema::new(fast)?,
            slow: Ema::new(slow)?,
            signal: Ema::new(signal)?,
            seen: 0,
            value: None,
        })
    }

    /// Folds in `x`; `None` before index slow-1. A non-finite `x` is ignored and the current
    /// value is returned.
    pub fn update(&mut self, x: f64) -> Option<MacdValue> {
        if !x.is_finite() {
            return self.value;
        }
        let slow = self.slow.update(x);
        // The fast EMA skips the first slow-fast values so that its SMA seed covers the tail of
        // the slow window, as TA-Lib does.
        let fast = if self.seen < self.slow_period - self.fast_period {
            self.seen += 1;
            None
        } else {
            self.fast.update(x)
        };
        let (Some(fast), Some(slow)) = (fast, slow) else {
            return None;
        };
        let macd = fast - slow;
        let signal = self.signal.update(macd);
        self.value = Some(MacdValue {
            macd,
            signal,
            hist: signal.map(|s| macd - s),
        });
        self.value
    }

    pub fn value(&self) -> Option<MacdValue> {
        self.value
    }

    /// True once the MACD line is defined (the signal may still be warming up).
    pub fn initialized(&self) -> bool {
        self.value.is_some()
    }

    pub fn reset(&mut self) {
        self.fast.reset();
        self.slow.reset();
        self.signal.reset();
        self.seen = 0;
        self.value = None;
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::indicators::test_support::series;

    fn run(f: usize, s: usize, g: usize, xs: &[f64]) -> Vec<Option<MacdValue>> {
        let mut m = Macd::new(f, s, g).unwrap();
        xs.iter().map(|&x| m.update(x)).collect()
    }

    /// Whole-series EMA with SMA seed: index i of the result is the EMA at `start + i`.
    fn ema_series(xs: &[f64], period: usize) -> Vec<Option<f64>> {
        let mut out = vec![None; xs.len()];
        if xs.len() < period {
            return out;
        }
        let a = 2.0 / (period as f64 + 1.0);
        let mut e = xs[..period].iter().sum::<f64>() / period as f64;
        out[period - 1] = Some(e);
        for i in period..xs.len() {
            e = a * xs[i] + (1.0 - a) * e;
            out[i] = Some(e);
        }
        out
    }

    /// TA-Lib's definition written as batch passes: slow EMA over the series, fast EMA over the
    /// series from index slow-fast, signal EMA over the MACD line from index slow-1.
    fn batch(f: usize, s: usize, g: usize, xs: &[f64]) -> Vec<Option<MacdValue>> {
        let mut out = vec![None; xs.len()];
        if xs.len() < s {
            return out;
        }
        let slow = ema_series(xs, s);
        let fast = ema_series(&xs[s - f..], f);
        let line: Vec<f64> = (s - 1..xs.len())
            .map(|i| fast[i - (s - f)].unwrap() - slow[i].unwrap())
            .collect();
        let signal = ema_series(&line, g);
        for (j, &macd) in line.iter().enumerate() {
            out[s - 1 + j] = Some(MacdValue {
                macd,
                signal: signal[j],
                hist: signal[j].map(|v| macd - v),
            });
        }
        out
    }

    #[test]
    fn hand_computed_timing_and_seeds() {
        // fast 2, slow 3, signal 2 on 1, 2, 3, 4, 5, 6:
        // slow seed at i=2: (1+2+3)/3 = 2; fast seed at i=2 from values 1..2: (2+3)/2 = 2.5.
        let got = run(2, 3, 2, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        assert_eq!(&got[..2], &[None, None]);
        assert_eq!(
            got[2],
            Some(MacdValue {
                macd: 0.5,
                signal: None,
                hist: None
            })
        );
        // i=3: fast 2.5 + (4-2.5)*2/3 = 3.5; slow 2 + (4-2)*0.5 = 3; macd 0.5; signal seed 0.5.
        let v = got[3].unwrap();
        assert!((v.macd - 0.5).abs() < 1e-12);
        assert!((v.signal.unwrap() - 0.5).abs() < 1e-12 && v.hist.unwrap().abs() < 1e-12);
        // Default parameters: MACD from index 25, signal from index 33.
        let xs: Vec<f64> = (0..40).map(|i| 100.0 + (i as f64 * 0.7).sin()).collect();
        let got = run(12, 26, 9, &xs);
        assert!(got[24].is_none() && got[25].is_some());
        assert!(got[32].unwrap().signal.is_none() && got[33].unwrap().signal.is_some());
    }

    #[test]
    fn rejects_bad_periods_and_resets() {
        assert!(matches!(
            Macd::new(26, 12, 9),
            Err(IndicatorError::FastNotBelowSlow { .. })
        ));
        assert!(matches!(
            Macd::new(12, 12, 9),
            Err(IndicatorError::FastNotBelowSlow { .. })
        ));
        assert!(Macd::new(0, 26, 9).is_err() && Macd::new(12, 26, 0).is_err());
        let mut m = Macd::new(1, 2, 1).unwrap();
        assert_eq!(m.update(1.0), None);
        assert_eq!(m.update(f64::NAN), None);
        assert!(m.update(3.0).is_some());
        assert!(m.initialized());
        m.reset();
        assert!(!m.initialized());
        assert_eq!(m.update(1.0), None);
    }

    proptest! {
        #[test]
        fn incremental_equals_batch(xs in series(), f in 1usize..10, extra in 1usize..15, g in 1usize..10) {
            let s = f + extra;
            let got = run(f, s, g, &xs);
            let want = batch(f, s, g, &xs);
            for (i, (a, b)) in got.iter().zip(&want).enumerate() {
                prop_assert_eq!(a.is_some(), b.is_some(), "[{}]", i);
                if let (Some(a), Some(b)) = (a, b) {
                    // The MACD line is a difference of two ~offset-sized EMAs: compare it at the
                    // scale of the data (1e-12 of the offset), not of the difference.
                    let scale = 1e-12 * xs[i].abs().max(1.0);
                    prop_assert!((a.macd - b.macd).abs() <= scale, "[{}] {:?} vs {:?}", i, a, b);
                    prop_assert_eq!(a.signal.is_some(), b.signal.is_some());
                    prop_assert!(a.signal.zip(b.signal).is_none_or(|(x, y)| (x - y).abs() <= scale), "[{}] {:?} vs {:?}", i, a, b);
                    prop_assert!(a.hist.zip(b.hist).is_none_or(|(x, y)| (x - y).abs() <= 2.0 * scale), "[{}] {:?} vs {:?}", i, a, b);
                }
            }
        }
    }
}
