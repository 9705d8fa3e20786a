//! Bollinger bands: SMA(n) ± k population standard deviations.

use super::error::{IndicatorError, check_period};
use super::rolling_moments::RollingMoments;

/// One reading of the bands.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BollingerValue {
    pub upper: f64,
    pub mid: f64,
    pub lower: f64,
}

/// Bollinger(n, k), as TA-Lib BBANDS(n, k, k, SMA): mid = SMA(n), bands = mid ± k × population
/// std, `None` until the window is full. Not `ta`'s `BollingerBands`, which is built on its
/// drifting `StandardDeviation` (see `StdDev`); this uses the same stable `RollingMoments`.
#[derive(Debug, Clone)]
pub struct Bollinger {
    moments: RollingMoments,
    period: usize,
    k: f64,
    value: Option<BollingerValue>,
}

impl Bollinger {
    pub fn new(period: usize, k: f64) -> Result<Bollinger, IndicatorError> {
        let period = check_period("Bollinger", "period", period, 1)?;
        if !(k.is_finite() && k > 0.0) {
            return Err(IndicatorError::InvalidMultiplier { k });
        }
        Ok(Bollinger {
            moments: RollingMoments::new(period),
            period,
            k,
            value: None,
        })
    }

    /// Folds in `x`; `None` until `period` values have been seen. A non-finite `x` is ignored
    /// and the current value is returned.
    pub fn update(&mut self, x: f64) -> Option<BollingerValue> {
        if !x.is_finite() {
            return self.value;
        }
        self.moments.push(x);
        if self.moments.is_full() {
            let mid = self.moments.mean();
            let width = self.k * self.moments.var_pop().sqrt();
            self.value = Some(BollingerValue {
                upper: mid + width,
                mid,
                lower: mid - width,
            });
        }
        self.value
    }

    pub fn value(&self) -> Option<BollingerValue> {
        self.value
    }

    pub fn initialized(&self) -> bool {
        self.value.is_some()
    }

    pub fn period(&self) -> usize {
        self.period
    }

    pub fn k(&self) -> f64 {
        self.k
    }

    pub fn reset(&mut self) {
        self.moments.reset();
        self.value = None;
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::indicators::test_support::{Table, assert_series, close_opt, series, two_pass};

    fn run(period: usize, k: f64, xs: &[f64]) -> Vec<Option<BollingerValue>> {
        let mut bb = Bollinger::new(period, k).unwrap();
        xs.iter().map(|&x| bb.update(x)).collect()
    }

    fn part(v: &[Option<BollingerValue>], f: fn(&BollingerValue) -> f64) -> Vec<Option<f64>> {
        v.iter().map(|b| b.as_ref().map(f)).collect()
    }

    #[test]
    fn hand_computed() {
        let got = run(8, 2.0, &[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]);
        assert!(got[..7].iter().all(Option::is_none));
        let b = got[7].unwrap();
        assert!(
            (b.mid - 5.0).abs() < 1e-12
                && (b.upper - 9.0).abs() < 1e-12
                && (b.lower - 1.0).abs() < 1e-12
        );
    }

    #[test]
    fn rejects_bad_k() {
        for k in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert!(
                matches!(
                    Bollinger::new(20, k),
                    Err(IndicatorError::InvalidMultiplier { .. })
                ),
                "{k}"
            );
        }
        assert!(Bollinger::new(0, 2.0).is_err());
        let mut bb = Bollinger::new(1, 2.0).unwrap();
        assert_eq!(bb.update(f64::NAN), None);
        assert_eq!(
            bb.update(3.0),
            Some(BollingerValue {
                upper: 3.0,
                mid: 3.0,
                lower: 3.0
            })
        );
        bb.reset();
        assert!(!bb.initialized());
    }

    #[test]
    fn talib_bbands10() {
        let Some(t) = Table::vectors("generated_stddev10_bbands10_talib.csv") else {
            return;
        };
        let got = run(10, 2.0, &t.values("close"));
        assert_series(
            "upper",
            &part(&got, |b| b.upper),
            &t.column("talib_bbands10_2_upper"),
            1e-6,
        );
        assert_series(
            "mid",
            &part(&got, |b| b.mid),
            &t.column("talib_bbands10_2_middle"),
            1e-6,
        );
        assert_series(
            "lower",
            &part(&got, |b| b.lower),
            &t.column("talib_bbands10_2_lower"),
            1e-6,
        );
    }

    proptest! {
        #[test]
        fn incremental_equals_batch(xs in series(), period in 1usize..30, k in 0.5f64..3.0) {
            let got = run(period, k, &xs);
            for (i, g) in got.iter().enumerate() {
                let want = (i + 1 >= period).then(|| {
                    let (m, v) = two_pass(&xs[i + 1 - period..=i]);
                    BollingerValue { upper: m + k * v.sqrt(), mid: m, lower: m - k * v.sqrt() }
                });
                // Mid to 1e-12 relative; the half-widths to 1e-6, so that the bands are checked
                // at the scale of the spread and not of a 1e9 offset.
                prop_assert!(close_opt(g.map(|b| b.mid), want.map(|b| b.mid), 1e-12), "[{}] {:?} vs {:?}", i, g, want);
                let up = |b: Option<BollingerValue>| b.map(|b| b.upper - b.mid);
                let down = |b: Option<BollingerValue>| b.map(|b| b.mid - b.lower);
                prop_assert!(close_opt(up(*g), up(want), 1e-6), "[{}] {:?} vs {:?}", i, g, want);
                prop_assert!(close_opt(down(*g), down(want), 1e-6), "[{}] {:?} vs {:?}", i, g, want);
            }
        }
    }
}
