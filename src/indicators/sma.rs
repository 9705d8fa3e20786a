//! Simple moving average over the last `period` values.

use super::error::{IndicatorError, check_period};
use super::rolling_moments::RollingMoments;

/// SMA(n), equal to TA-Lib's once the window is full and `None` before. `ta`'s
/// `SimpleMovingAverage` keeps one running sum for ever: a single huge value (1e308) wiped out
/// the digits of every later price, and its SMA20 read 10.15 beside a Bollinger middle of 103
/// for the rest of the run. This uses the same `RollingMoments` as Bollinger (shifted Welford,
/// recomputed exactly from the window once every `period` values), so an error leaves with the
/// value that caused it.
#[derive(Debug, Clone)]
pub struct Sma {
    moments: RollingMoments,
    period: usize,
    value: Option<f64>,
}

impl Sma {
    pub fn new(period: usize) -> Result<Sma, IndicatorError> {
        let period = check_period("SMA", "period", period, 1)?;
        Ok(Sma {
            moments: RollingMoments::new(period),
            period,
            value: None,
        })
    }

    /// Folds in `x`; `None` until `period` values have been seen. A non-finite `x` is ignored
    /// (it would poison the window) and the current value is returned.
    pub fn update(&mut self, x: f64) -> Option<f64> {
        if !x.is_finite() {
            return self.value;
        }
        self.moments.push(x);
        if self.moments.is_full() {
            self.value = Some(self.moments.mean());
        }
        self.value
    }

    pub fn value(&self) -> Option<f64> {
        self.value
    }

    pub fn initialized(&self) -> bool {
        self.value.is_some()
    }

    pub fn period(&self) -> usize {
        self.period
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
    use crate::indicators::test_support::{Table, assert_series, close_opt, series};

    fn run(period: usize, xs: &[f64]) -> Vec<Option<f64>> {
        let mut sma = Sma::new(period).unwrap();
        xs.iter().map(|&x| sma.update(x)).collect()
    }

    fn batch(period: usize, xs: &[f64]) -> Vec<Option<f64>> {
        (0..xs.len())
            .map(|i| {
                (i + 1 >= period)
                    .then(|| xs[i + 1 - period..=i].iter().sum::<f64>() / period as f64)
            })
            .collect()
    }

    #[test]
    fn hand_computed() {
        assert_eq!(
            run(3, &[1.0, 2.0, 3.0, 4.0, 8.0]),
            vec![None, None, Some(2.0), Some(3.0), Some(5.0)]
        );
        assert_eq!(run(1, &[7.0, 9.0]), vec![Some(7.0), Some(9.0)]);
    }

    #[test]
    fn rejects_bad_period_and_ignores_nan() {
        assert!(matches!(
            Sma::new(0),
            Err(IndicatorError::OutOfRange { value: 0, .. })
        ));
        assert!(Sma::new(super::super::MAX_PERIOD + 1).is_err());
        let mut sma = Sma::new(2).unwrap();
        assert_eq!(sma.update(f64::NAN), None);
        sma.update(1.0);
        assert_eq!(sma.update(3.0), Some(2.0));
        assert_eq!(sma.update(f64::INFINITY), Some(2.0));
        assert_eq!(sma.update(5.0), Some(4.0));
        assert!(sma.initialized());
        sma.reset();
        assert!(!sma.initialized());
        assert_eq!(sma.update(10.0), None);
        assert_eq!(sma.update(20.0), Some(15.0));
    }

    #[test]
    fn stockcharts_sma10_2dp() {
        let Some(t) = Table::vectors("stockcharts_sma10.csv") else {
            return;
        };
        let got = run(10, &t.values("close"));
        assert_series("sma10", &got, &t.column("sma10_expected_2dp"), 0.005);
    }

    #[test]
    fn talib_sma10() {
        let Some(t) = Table::vectors("generated_sma_ema10_library_comparison.csv") else {
            return;
        };
        let got = run(10, &t.values("close"));
        assert_series("sma10", &got, &t.column("talib_sma10"), 1e-6);
    }

    #[test]
    fn one_huge_value_leaves_with_its_window() {
        // 1e308 then 60 ordinary prices: the SMA is the mean of the last 20 again, as the
        // Bollinger middle is (ta's running sum read 10.15 instead of about 103 for good)
        let mut xs = vec![100.0; 20];
        xs.push(1e308);
        xs.extend((0..60).map(|i| 100.0 + (i % 7) as f64));
        let got = run(20, &xs);
        let want = batch(20, &xs);
        let last = got.last().unwrap().unwrap();
        assert!(
            (last - want.last().unwrap().unwrap()).abs() < 1e-9,
            "{last}"
        );
        let mut bb = crate::indicators::bollinger::Bollinger::new(20, 2.0).unwrap();
        let mut mid = None;
        for &x in &xs {
            mid = bb.update(x).map(|b| b.mid);
        }
        assert!((last - mid.unwrap()).abs() < 1e-9, "{last} vs {mid:?}");
    }

    proptest! {
        #[test]
        fn incremental_equals_batch(xs in series(), period in 1usize..30) {
            let got = run(period, &xs);
            let want = batch(period, &xs);
            for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                prop_assert!(close_opt(*g, *w, 1e-12), "[{}] {:?} vs {:?}", i, g, w);
            }
        }
    }
}
