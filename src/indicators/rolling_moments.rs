//! Mean and variance of the last N values, numerically stable, O(1) amortised per value.

/// Rolling mean and sum of squared deviations (`m2`) of the last `window` values.
///
/// Two guards against rounding:
/// - Values are shifted by `shift` (a recent mean) before Welford's add and replace
///   recurrences, so the running quantities are spreads, not prices. A naive running sum and
///   sum of squares cancels catastrophically at large offsets (the offset-1e9 case in
///   variance_stability_wikipedia.csv comes out negative), and even unshifted Welford loses
///   `|x - old| * ulp(price)` of `m2` on every replace, which dominates once a volatile stretch
///   leaves a quiet window (a std of 0.005 at 1e8 came out 8e-4 wrong in the property test).
/// - The replace recurrence alone still lets error pile up over an unbounded run (that is what
///   `ta` 0.5's `StandardDeviation` does: 8e-4 relative error after 200k values near 1e9, and a
///   std of 3e-6 instead of 0 for a window of 1), so once every `window` replacements the
///   moments are recomputed exactly from the ring with a fresh shift: O(1) amortised.
#[derive(Debug, Clone)]
pub(crate) struct RollingMoments {
    ring: Box<[f64]>,
    /// Next slot to write; once full, also the oldest value.
    head: usize,
    len: usize,
    shift: f64,
    /// Mean of `x - shift` over the window.
    mean_d: f64,
    m2: f64,
    since_recompute: usize,
}

impl RollingMoments {
    /// `window >= 1`, checked by the callers.
    pub(crate) fn new(window: usize) -> RollingMoments {
        RollingMoments {
            ring: vec![0.0; window.max(1)].into_boxed_slice(),
            head: 0,
            len: 0,
            shift: 0.0,
            mean_d: 0.0,
            m2: 0.0,
            since_recompute: 0,
        }
    }

    /// Adds `x`, dropping the oldest value once the window is full.
    pub(crate) fn push(&mut self, x: f64) {
        let window = self.ring.len();
        if self.len == 0 {
            self.shift = x;
        }
        let d = x - self.shift;
        if self.len < window {
            self.len += 1;
            let delta = d - self.mean_d;
            self.mean_d += delta / self.len as f64;
            self.m2 += delta * (d - self.mean_d);
        } else {
            // Same subtraction as when `old` was added: the shift only changes in `recompute`.
            let old_d = self.ring[self.head] - self.shift;
            let old_mean = self.mean_d;
            let delta = d - old_d;
            self.mean_d += delta / window as f64;
            self.m2 += delta * (d - self.mean_d + old_d - old_mean);
            self.since_recompute += 1;
        }
        self.ring[self.head] = x;
        self.head = if self.head + 1 == window {
            0
        } else {
            self.head + 1
        };
        if self.since_recompute >= window {
            self.recompute();
        }
    }

    fn recompute(&mut self) {
        let values = &self.ring[..self.len];
        let n = self.len as f64;
        self.shift += self.mean_d;
        let shift = self.shift;
        self.mean_d = values.iter().map(|v| v - shift).sum::<f64>() / n;
        let mean_d = self.mean_d;
        self.m2 = values
            .iter()
            .map(|v| (v - shift - mean_d) * (v - shift - mean_d))
            .sum();
        self.since_recompute = 0;
    }

    pub(crate) fn is_full(&self) -> bool {
        self.len == self.ring.len()
    }

    pub(crate) fn mean(&self) -> f64 {
        self.shift + self.mean_d
    }

    /// `x - mean()`, without rounding the mean to the scale of `x` first.
    pub(crate) fn deviation(&self, x: f64) -> f64 {
        (x - self.shift) - self.mean_d
    }

    /// Population variance (divides by N); 0 when empty.
    pub(crate) fn var_pop(&self) -> f64 {
        if self.len == 0 {
            0.0
        } else {
            (self.m2 / self.len as f64).max(0.0)
        }
    }

    /// Sample variance (divides by N - 1); `None` below two values.
    pub(crate) fn var_sample(&self) -> Option<f64> {
        (self.len > 1).then(|| (self.m2 / (self.len - 1) as f64).max(0.0))
    }

    pub(crate) fn reset(&mut self) {
        self.head = 0;
        self.len = 0;
        self.shift = 0.0;
        self.mean_d = 0.0;
        self.m2 = 0.0;
        self.since_recompute = 0;
    }
}
