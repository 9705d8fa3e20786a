//! Anomaly score of price moves: the EW z-score of log returns.

use super::error::IndicatorError;
use super::ew_zscore::EwZScore;

/// Feeds `ln(p / prev_p)` into an [`EwZScore`]: scale-free, so one threshold fits BTC at 1e5
/// and a token at 1e-5. Warm-up counts returns, so the first z needs `warmup + 1` prices.
#[derive(Debug, Clone)]
pub struct ReturnZScore {
    inner: EwZScore,
    prev: Option<f64>,
}

impl ReturnZScore {
    pub fn new(span: usize, warmup: usize) -> Result<ReturnZScore, IndicatorError> {
        Ok(ReturnZScore {
            inner: EwZScore::new(span, warmup)?,
            prev: None,
        })
    }

    /// z of this price's log return; `None` for the first price, during warm-up, under the
    /// zero-variance guard, and for a non-positive or non-finite price (ignored: state kept).
    pub fn update(&mut self, price: f64) -> Option<f64> {
        if !(price.is_finite() && price > 0.0) {
            return None;
        }
        let prev = self.prev.replace(price)?;
        let r = (price / prev).ln();
        self.inner.update(r)
    }

    pub fn value(&self) -> Option<f64> {
        self.inner.value()
    }

    pub fn initialized(&self) -> bool {
        self.inner.initialized()
    }

    pub fn reset(&mut self) {
        self.inner.reset();
        self.prev = None;
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::indicators::ew_zscore::guarded_z;
    use crate::indicators::test_support::{close_opt, ew_two_pass, positive_series};

    #[test]
    fn hand_computed() {
        // Returns ln2, ln2, ln(1/4): a = 0.5, mean ln2, var 0 after two -> guarded; then the
        // third return is scored against mean ln2 and var 0 -> still None; a fourth is scored.
        let mut z = ReturnZScore::new(3, 1).unwrap();
        assert_eq!(z.update(1.0), None);
        assert_eq!(z.update(2.0), None);
        assert_eq!(z.update(4.0), None);
        assert_eq!(z.update(1.0), None);
        // mean = ln2 + 0.5(-ln4 - ln2) = -ln2/2; var = 0.5 * (0 + 0.5 * (3 ln2)^2) = 2.25 ln2^2.
        let l2 = 2f64.ln();
        let got = z.update(1.0).unwrap();
        assert!((got - (0.0 + l2 / 2.0) / (1.5 * l2)).abs() < 1e-12, "{got}");
    }

    #[test]
    fn bad_prices_are_ignored() {
        let mut z = ReturnZScore::new(3, 0).unwrap();
        let mut clean = ReturnZScore::new(3, 0).unwrap();
        let prices = [
            10.0,
            11.0,
            0.0,
            9.0,
            -1.0,
            f64::NAN,
            12.0,
            f64::INFINITY,
            10.5,
            11.5,
        ];
        let got: Vec<Option<f64>> = prices.iter().map(|&p| z.update(p)).collect();
        let want: Vec<Option<f64>> = prices
            .iter()
            .map(|&p| {
                if p.is_finite() && p > 0.0 {
                    clean.update(p)
                } else {
                    None
                }
            })
            .collect();
        assert_eq!(got, want);
        assert!(got.last().unwrap().is_some());
        z.reset();
        assert_eq!(z.update(10.0), None);
    }

    proptest! {
        #[test]
        fn incremental_equals_batch(ps in positive_series(), span in 2usize..60, warmup in 0usize..30) {
            let mut z = ReturnZScore::new(span, warmup).unwrap();
            let got: Vec<Option<f64>> = ps.iter().map(|&p| z.update(p)).collect();
            let rets: Vec<f64> = ps.windows(2).map(|w| (w[1] / w[0]).ln()).collect();
            let alpha = 2.0 / (span as f64 + 1.0);
            for i in 0..ps.len() {
                // Price i carries return i-1, scored against returns 0..i-1.
                let want = if i < 1 + warmup.max(1) {
                    None
                } else {
                    let (m, v) = ew_two_pass(&rets[..i - 1], alpha);
                    guarded_z(rets[i - 1], m, v)
                };
                prop_assert!(close_opt(got[i], want, 1e-6), "[{}] {:?} vs {:?}", i, got[i], want);
            }
        }
    }
}
