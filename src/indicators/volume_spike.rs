//! Volume spike: this volume as a multiple of the usual (EW mean) volume.

use super::error::{IndicatorError, check_period};

/// `volume / EW mean of the previous volumes`, alpha = 2/(span+1): 3.2 reads "3.2x normal".
/// The mean is taken before this volume is folded in, so a spike does not dilute itself.
#[derive(Debug, Clone)]
pub struct VolumeSpike {
    alpha: f64,
    warmup: usize,
    count: usize,
    mean: f64,
    value: Option<f64>,
}

impl VolumeSpike {
    /// `span >= 1`; `warmup` = volumes that must be folded in before a ratio is produced.
    pub fn new(span: usize, warmup: usize) -> Result<VolumeSpike, IndicatorError> {
        let span = check_period("volume spike", "span", span, 1)?;
        let warmup = check_period("volume spike", "warm-up", warmup, 0)?;
        Ok(VolumeSpike {
            alpha: 2.0 / (span as f64 + 1.0),
            warmup,
            count: 0,
            mean: 0.0,
            value: None,
        })
    }

    /// The ratio for `volume`, then folds it in. `None` during warm-up (fewer than
    /// `max(warmup, 1)` volumes folded), when the mean is 0 (nothing traded lately), and for
    /// a negative or non-finite volume (ignored: state kept).
    pub fn update(&mut self, volume: f64) -> Option<f64> {
        if !(volume.is_finite() && volume >= 0.0) {
            return None;
        }
        self.value = (self.initialized() && self.mean > 0.0).then(|| volume / self.mean);
        if self.count == 0 {
            self.mean = volume;
        } else {
            self.mean += self.alpha * (volume - self.mean);
        }
        self.count = self.count.saturating_add(1);
        self.value
    }

    pub fn value(&self) -> Option<f64> {
        self.value
    }

    pub fn initialized(&self) -> bool {
        self.count >= self.warmup.max(1)
    }

    /// EW mean of the volumes folded so far.
    pub fn mean(&self) -> Option<f64> {
        (self.count > 0).then_some(self.mean)
    }

    pub fn reset(&mut self) {
        self.count = 0;
        self.mean = 0.0;
        self.value = None;
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::indicators::test_support::{close_opt, ew_two_pass, positive_series};

    #[test]
    fn hand_computed() {
        // span 3 (a = 0.5), warm-up 2: mean after 10, 20 is 15; 45 is 3x.
        let mut v = VolumeSpike::new(3, 2).unwrap();
        assert_eq!(v.update(10.0), None);
        assert_eq!(v.update(20.0), None);
        assert_eq!(v.update(45.0), Some(3.0));
        assert_eq!(v.mean(), Some(30.0));
    }

    #[test]
    fn zero_mean_and_bad_input() {
        let mut v = VolumeSpike::new(3, 1).unwrap();
        assert_eq!(v.update(0.0), None);
        assert_eq!(v.update(5.0), None);
        assert_eq!(v.update(-1.0), None);
        assert_eq!(v.update(f64::NAN), None);
        assert_eq!(v.update(2.5), Some(1.0));
        v.reset();
        assert!(!v.initialized());
        assert!(VolumeSpike::new(0, 1).is_err());
    }

    proptest! {
        #[test]
        fn incremental_equals_batch(xs in positive_series(), span in 1usize..60, warmup in 0usize..30) {
            let mut v = VolumeSpike::new(span, warmup).unwrap();
            let alpha = 2.0 / (span as f64 + 1.0);
            for (i, &x) in xs.iter().enumerate() {
                let got = v.update(x);
                let want = (i >= warmup.max(1)).then(|| x / ew_two_pass(&xs[..i], alpha).0);
                prop_assert!(close_opt(got, want, 1e-9), "[{}] {:?} vs {:?}", i, got, want);
            }
        }
    }
}
