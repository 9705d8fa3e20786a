//! Anomaly score over a fixed window: z of a value against the previous `window` values.

use super::error::{IndicatorError, check_period};
use super::ew_zscore::guarded_z_dev;
use super::rolling_moments::RollingMoments;

/// z of each value against the mean and population variance of the `window` values before
/// it, kept numerically stable by `RollingMoments` (Welford add/replace plus a periodic exact
/// recompute on shifted values; never a naive sum of squares).
#[derive(Debug, Clone)]
pub struct RollingZScore {
    moments: RollingMoments,
    value: Option<f64>,
}

impl RollingZScore {
    pub fn new(window: usize) -> Result<RollingZScore, IndicatorError> {
        let window = check_period("rolling z-score", "window", window, 1)?;
        Ok(RollingZScore {
            moments: RollingMoments::new(window),
            value: None,
        })
    }

    /// Scores `x` against the previous `window` values, then slides it in. `None` until the
    /// window is full, when its variance is ~0 (`guarded_z`), and for a non-finite `x` (which
    /// is not added).
    pub fn update(&mut self, x: f64) -> Option<f64> {
        if !x.is_finite() {
            return None;
        }
        let m = &self.moments;
        self.value = if m.is_full() {
            guarded_z_dev(m.deviation(x), m.mean(), m.var_pop())
        } else {
            None
        };
        self.moments.push(x);
        self.value
    }

    /// The z produced by the last `update`.
    pub fn value(&self) -> Option<f64> {
        self.value
    }

    /// True when the window is full (the next value will be scored).
    pub fn initialized(&self) -> bool {
        self.moments.is_full()
    }

    /// Mean of the current window (which includes the last value), once full.
    pub fn mean(&self) -> Option<f64> {
        self.initialized().then(|| self.moments.mean())
    }

    /// Population variance (divides by N) of the current window, once full.
    pub fn variance(&self) -> Option<f64> {
        self.initialized().then(|| self.moments.var_pop())
    }

    /// Sample variance (divides by N - 1) of the current window, once full; `None` for a
    /// window of 1.
    pub fn sample_variance(&self) -> Option<f64> {
        if self.initialized() {
            self.moments.var_sample()
        } else {
            None
        }
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
    use crate::indicators::ew_zscore::guarded_z;
    use crate::indicators::test_support::{Table, close_opt, series, two_pass};

    fn run(window: usize, xs: &[f64]) -> (RollingZScore, Vec<Option<f64>>) {
        let mut z = RollingZScore::new(window).unwrap();
        let out = xs.iter().map(|&x| z.update(x)).collect();
        (z, out)
    }

    #[test]
    fn hand_computed() {
        // Window 4 over 4, 7, 13, 16: mean 10, population var 22.5, sample var 30.
        let (z, got) = run(4, &[4.0, 7.0, 13.0, 16.0]);
        assert!(got.iter().all(Option::is_none));
        assert_eq!(z.mean(), Some(10.0));
        assert_eq!(z.variance(), Some(22.5));
        assert_eq!(z.sample_variance(), Some(30.0));
        let (_, got) = run(4, &[4.0, 7.0, 13.0, 16.0, 10.0 + 22.5f64.sqrt() * 2.0]);
        assert!((got[4].unwrap() - 2.0).abs() < 1e-12);
        let (z, _) = run(1, &[3.0]);
        assert_eq!((z.variance(), z.sample_variance()), (Some(0.0), None));
    }

    #[test]
    fn variance_stability_cases() {
        let Some(t) = Table::vectors("variance_stability_wikipedia.csv") else {
            return;
        };
        let pop = t.values("expected_population_variance");
        let sample = t.values("expected_sample_variance");
        for (i, (case, values)) in t.text("case").iter().zip(t.text("values")).enumerate() {
            let xs: Vec<f64> = values.split(';').map(|v| v.parse().unwrap()).collect();
            // Slide the case through a window of its own size after unrelated values, so the
            // replace path is exercised as well as the add path.
            for prefix in [&[][..], &[1e9 - 3.0, 17.0, 4.5, 1e8][..]] {
                let mut all = prefix.to_vec();
                all.extend(&xs);
                let (z, _) = run(xs.len(), &all);
                let v = z.variance().unwrap();
                let s = z.sample_variance().unwrap();
                assert!(
                    (v - pop[i]).abs() <= 1e-6,
                    "{case}: population {v}, want {}",
                    pop[i]
                );
                assert!(
                    (s - sample[i]).abs() <= 1e-6,
                    "{case}: sample {s}, want {}",
                    sample[i]
                );
            }
        }
    }

    #[test]
    fn zero_variance_guard_and_nan() {
        let (mut z, got) = run(4, &[5.0; 10]);
        assert!(got.iter().all(Option::is_none));
        assert_eq!(z.update(6.0), None);
        assert_eq!(z.update(f64::NAN), None);
        assert_eq!(z.variance(), Some(0.1875));
        z.reset();
        assert!(!z.initialized() && z.variance().is_none());
        assert!(RollingZScore::new(0).is_err());
    }

    proptest! {
        #[test]
        fn incremental_equals_batch(xs in series(), window in 1usize..30) {
            let mut z = RollingZScore::new(window).unwrap();
            for (i, &x) in xs.iter().enumerate() {
                let got = z.update(x);
                let want = (i >= window).then(|| {
                    let (m, v) = two_pass(&xs[i - window..i]);
                    guarded_z(x, m, v)
                }).flatten();
                prop_assert!(close_opt(got, want, 1e-6), "[{}] {:?} vs {:?}", i, got, want);
                let want_var = (i + 1 >= window).then(|| two_pass(&xs[i + 1 - window..=i]).1);
                prop_assert!(close_opt(z.variance(), want_var, 1e-6), "[{}] var {:?} vs {:?}", i, z.variance(), want_var);
            }
        }
    }
}
