//! Anomaly score: z of a value against an exponentially weighted mean and variance.

use super::error::{IndicatorError, check_period};

/// Relative size below which a standard deviation counts as zero (see [`guarded_z`]).
pub const ZERO_STD_REL: f64 = 1e-12;

/// `(x - mean) / std`, or `None` when `std <= ZERO_STD_REL * max(|mean|, 1)`.
///
/// Why this rule: a flat input gives a variance of exactly 0, and values that are equal up to
/// rounding give a std of a few ulps of the mean (~1e-16 |mean|); dividing by either turns
/// rounding noise into a huge z. The floor of 1 covers inputs near zero (log returns are
/// dimensionless), so a z is only produced when std > 1e-12 for them.
pub fn guarded_z(x: f64, mean: f64, var: f64) -> Option<f64> {
    guarded_z_dev(x - mean, mean, var)
}

/// [`guarded_z`] for a deviation `x - mean` the caller computed more precisely.
pub(crate) fn guarded_z_dev(deviation: f64, mean: f64, var: f64) -> Option<f64> {
    let std = var.max(0.0).sqrt();
    (std > ZERO_STD_REL * mean.abs().max(1.0)).then(|| deviation / std)
}

/// Exponentially weighted z-score, alpha = 2/(span+1).
///
/// `update(x)` scores `x` against the weighted mean and variance of the values before it, and
/// only then folds `x` in, so a spike cannot dampen its own score. The first value seeds the
/// mean (variance 0). Updates use West's recurrences on `x - mean` (no sums of squares):
/// `mean += a d`, `var = (1 - a)(var + a d^2)`, which is the weighted variance with weights
/// `(1-a)^k` for the first value and `a (1-a)^(k-j)` for value j.
#[derive(Debug, Clone)]
pub struct EwZScore {
    alpha: f64,
    warmup: usize,
    count: usize,
    mean: f64,
    var: f64,
    value: Option<f64>,
}

impl EwZScore {
    /// `span >= 2`; `warmup` = values that must be folded in before a z is produced.
    pub fn new(span: usize, warmup: usize) -> Result<EwZScore, IndicatorError> {
        let span = check_period("z-score", "span", span, 2)?;
        let warmup = check_period("z-score", "warm-up", warmup, 0)?;
        Ok(EwZScore {
            alpha: 2.0 / (span as f64 + 1.0),
            warmup,
            count: 0,
            mean: 0.0,
            var: 0.0,
            value: None,
        })
    }

    /// Scores `x`, then folds it in. `None` during warm-up (fewer than `max(warmup, 1)` values
    /// folded so far), when the variance is ~0 ([`guarded_z`]), and for a non-finite `x`
    /// (which is not folded in).
    pub fn update(&mut self, x: f64) -> Option<f64> {
        if !x.is_finite() {
            return None;
        }
        self.value = if self.initialized() {
            guarded_z(x, self.mean, self.var)
        } else {
            None
        };
        if self.count == 0 {
            self.mean = x;
            self.var = 0.0;
        } else {
            let d = x - self.mean;
            let incr = self.alpha * d;
            self.mean += incr;
            self.var = (1.0 - self.alpha) * (self.var + d * incr);
        }
        self.count = self.count.saturating_add(1);
        self.value
    }

    /// The z produced by the last `update`.
    pub fn value(&self) -> Option<f64> {
        self.value
    }

    /// True when the next value will be scored (warm-up is over).
    pub fn initialized(&self) -> bool {
        self.count >= self.warmup.max(1)
    }

    /// Weighted mean of the values folded so far.
    pub fn mean(&self) -> Option<f64> {
        (self.count > 0).then_some(self.mean)
    }

    /// Weighted (biased) variance of the values folded so far.
    pub fn variance(&self) -> Option<f64> {
        (self.count > 0).then_some(self.var)
    }

    pub fn reset(&mut self) {
        self.count = 0;
        self.mean = 0.0;
        self.var = 0.0;
        self.value = None;
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::indicators::test_support::{close_opt, ew_two_pass, series};

    fn run(span: usize, warmup: usize, xs: &[f64]) -> Vec<Option<f64>> {
        let mut z = EwZScore::new(span, warmup).unwrap();
        xs.iter().map(|&x| z.update(x)).collect()
    }

    fn batch(span: usize, warmup: usize, xs: &[f64]) -> Vec<Option<f64>> {
        let alpha = 2.0 / (span as f64 + 1.0);
        (0..xs.len())
            .map(|i| {
                if i < warmup.max(1) {
                    return None;
                }
                let (m, v) = ew_two_pass(&xs[..i], alpha);
                guarded_z(xs[i], m, v)
            })
            .collect()
    }

    #[test]
    fn hand_computed() {
        // span 3: a = 0.5. After 0, 2: mean 1, var 0.5 * (0 + 0.5*4) = 1. z of 4 = 3.
        let got = run(3, 2, &[0.0, 2.0, 4.0]);
        assert_eq!(got, vec![None, None, Some(3.0)]);
        // Warm-up 0 still needs one value before there is anything to compare with; after
        // one value the variance is 0, so the guard answers None too.
        assert_eq!(run(3, 0, &[5.0, 6.0]), vec![None, None]);
    }

    #[test]
    fn warmup_suppresses() {
        let xs: Vec<f64> = (0..30).map(|i| (i as f64 * 1.3).sin()).collect();
        let got = run(10, 20, &xs);
        assert!(got[..20].iter().all(Option::is_none));
        assert!(got[20..].iter().all(Option::is_some));
    }

    #[test]
    fn zero_variance_guard() {
        let mut z = EwZScore::new(10, 3).unwrap();
        for _ in 0..50 {
            assert_eq!(z.update(1e9), None);
        }
        // The first move after a flat stretch is not scored (there is no spread to compare
        // with), but it is folded in, so the next one is.
        assert_eq!(z.update(1e9 + 5.0), None);
        assert!(z.update(1e9 + 1.0).is_some_and(f64::is_finite));
        assert_eq!(guarded_z(1.0, 0.0, 1e-25), None);
        assert_eq!(guarded_z(1e9 + 1.0, 1e9, 1e-7), None);
        assert_eq!(guarded_z(2.0, 0.0, 4.0), Some(1.0));
    }

    #[test]
    fn non_finite_is_skipped_and_reset() {
        let mut z = EwZScore::new(3, 2).unwrap();
        z.update(0.0);
        z.update(2.0);
        assert_eq!(z.update(f64::NAN), None);
        assert_eq!(z.update(4.0), Some(3.0));
        z.reset();
        assert!(!z.initialized() && z.mean().is_none());
        assert!(EwZScore::new(1, 0).is_err());
    }

    proptest! {
        #[test]
        fn incremental_equals_batch(xs in series(), span in 2usize..60, warmup in 0usize..30) {
            let got = run(span, warmup, &xs);
            let want = batch(span, warmup, &xs);
            for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                prop_assert!(close_opt(*g, *w, 1e-6), "[{}] {:?} vs {:?}", i, g, w);
            }
        }
    }
}
