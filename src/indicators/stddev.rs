//! Population standard deviation over the last `period` values.

use super::error::{IndicatorError, check_period};
use super::rolling_moments::RollingMoments;

/// Rolling population standard deviation (divides by N, as TA-Lib STDDEV with nbdev 1),
/// `None` until the window is full.
///
/// Not a wrapper of `ta`'s `StandardDeviation`: it matches TA-Lib on the reference table, but
/// its replace recurrence is never re-anchored, so it drifts at large price offsets (measured:
/// 2e-3 relative error against a two-pass computation for a window of 2 near 1e9 within 200
/// values, 8e-4 for a window of 20 after 200k values). `RollingMoments` recomputes exactly once
/// per window instead.
#[derive(Debug, Clone)]
pub struct StdDev {
    moments: RollingMoments,
    period: usize,
    value: Option<f64>,
}

impl StdDev {
    pub fn new(period: usize) -> Result<StdDev, IndicatorError> {
        let period = check_period("StdDev", "period", period, 1)?;
        Ok(StdDev {
            moments: RollingMoments::new(period),
            period,
            value: None,
        })
    }

    /// Folds in `x`; `None` until `period` values have been seen. A non-finite `x` is ignored
    /// and the current value is returned.
    pub fn update(&mut self, x: f64) -> Option<f64> {
        if !x.is_finite() {
            return self.value;
        }
        self.moments.push(x);
        if self.moments.is_full() {
            self.value = Some(self.moments.var_pop().sqrt());
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
    use crate::indicators::test_support::{Table, assert_series, close_opt, series, two_pass};

    fn run(period: usize, xs: &[f64]) -> Vec<Option<f64>> {
        let mut sd = StdDev::new(period).unwrap();
        xs.iter().map(|&x| sd.update(x)).collect()
    }

    fn batch(period: usize, xs: &[f64]) -> Vec<Option<f64>> {
        (0..xs.len())
            .map(|i| (i + 1 >= period).then(|| two_pass(&xs[i + 1 - period..=i]).1.sqrt()))
            .collect()
    }

    #[test]
    fn hand_computed() {
        // {2, 4, 4, 4, 5, 5, 7, 9}: population sd 2.
        let got = run(8, &[2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]);
        assert!(got[..7].iter().all(Option::is_none));
        assert!((got[7].unwrap() - 2.0).abs() < 1e-12);
        assert_eq!(run(1, &[3.0, 5.0]), vec![Some(0.0), Some(0.0)]);
        assert!(StdDev::new(0).is_err());
    }

    #[test]
    fn talib_stddev10() {
        let Some(t) = Table::vectors("generated_stddev10_bbands10_talib.csv") else {
            return;
        };
        let got = run(10, &t.values("close"));
        assert_series(
            "stddev10",
            &got,
            &t.column("talib_stddev10_population"),
            1e-6,
        );
    }

    #[test]
    fn variance_stability_cases() {
        let Some(t) = Table::vectors("variance_stability_wikipedia.csv") else {
            return;
        };
        let want = t.values("expected_population_variance");
        for (case, (values, want)) in t.text("case").iter().zip(t.text("values").iter().zip(want)) {
            let xs: Vec<f64> = values.split(';').map(|v| v.parse().unwrap()).collect();
            let sd = run(xs.len(), &xs).pop().flatten().unwrap();
            assert!(
                (sd * sd - want).abs() <= 1e-6,
                "{case}: variance {} want {want}",
                sd * sd
            );
        }
    }

    #[test]
    fn long_run_at_large_offset_does_not_drift() {
        // 200k updates of a random walk near 1e9 (where `ta` drifts by 8e-4): the result must
        // stay close to a fresh two-pass computation of the final window.
        let mut sd = StdDev::new(20).unwrap();
        let mut x = 1e9;
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut xs = Vec::new();
        for _ in 0..200_000 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            x += (state % 2001) as f64 / 1000.0 - 1.0;
            xs.push(x);
            sd.update(x);
        }
        let want = two_pass(&xs[xs.len() - 20..]).1.sqrt();
        let got = sd.value().unwrap();
        assert!(
            (got - want).abs() <= 1e-9 * want.max(1.0),
            "got {got}, want {want}"
        );
    }

    #[test]
    fn quiet_window_after_a_volatile_stretch() {
        // Swings of ±40 around 1e8, then a window whose spread is 0.005: downdating the big
        // swings must not leave their rounding error in the small variance.
        let mut xs: Vec<f64> = (0..30)
            .map(|i| 1e8 + if i % 2 == 0 { 40.0 } else { -40.0 })
            .collect();
        xs.extend((0..10).map(|i| 1e8 + 0.001 * i as f64));
        let got = run(10, &xs).pop().flatten().unwrap();
        let want = two_pass(&xs[xs.len() - 10..]).1.sqrt();
        assert!((got - want).abs() <= 1e-6 * want, "got {got}, want {want}");
    }

    proptest! {
        #[test]
        fn incremental_equals_batch(xs in series(), period in 1usize..30) {
            let got = run(period, &xs);
            let want = batch(period, &xs);
            for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                prop_assert!(close_opt(*g, *w, 1e-6), "[{}] {:?} vs {:?}", i, g, w);
            }
        }
    }
}
