//! Relative strength index with Wilder smoothing.

use super::error::{IndicatorError, check_period};

/// RSI(n), Wilder: the first value, at index n, uses the simple means of the first n gains and
/// losses; after that avg = (prev * (n-1) + cur) / n. RSI = 100 * gain / (gain + loss), and 50
/// when there was no movement at all (gain = loss = 0, as current TA-Lib answers).
///
/// Written here rather than wrapping `ta`: `ta` 0.5's `RelativeStrengthIndex` smooths with
/// k = 2/(n+1) and seeds with the first value (ta-rs issue #46), up to 12 RSI points away from
/// Wilder's on the StockCharts table (see generated_rsi14_library_comparison.csv).
#[derive(Debug, Clone)]
pub struct Rsi {
    period: usize,
    prev: Option<f64>,
    /// Number of price changes seen so far, saturating at `period`.
    changes: usize,
    avg_gain: f64,
    avg_loss: f64,
    value: Option<f64>,
}

impl Rsi {
    pub fn new(period: usize) -> Result<Rsi, IndicatorError> {
        let period = check_period("RSI", "period", period, 1)?;
        Ok(Rsi {
            period,
            prev: None,
            changes: 0,
            avg_gain: 0.0,
            avg_loss: 0.0,
            value: None,
        })
    }

    /// Folds in the next price; `None` until `period + 1` prices have been seen. A non-finite
    /// price is ignored and the current value is returned.
    pub fn update(&mut self, x: f64) -> Option<f64> {
        if !x.is_finite() {
            return self.value;
        }
        let prev = self.prev.replace(x)?;
        let change = x - prev;
        let (gain, loss) = if change > 0.0 {
            (change, 0.0)
        } else {
            (0.0, -change)
        };
        let n = self.period as f64;
        if self.changes < self.period {
            // Seed phase: accumulate sums, divided once the first n changes are in.
            self.avg_gain += gain;
            self.avg_loss += loss;
            self.changes += 1;
            if self.changes < self.period {
                return None;
            }
            self.avg_gain /= n;
            self.avg_loss /= n;
        } else {
            self.avg_gain = (self.avg_gain * (n - 1.0) + gain) / n;
            self.avg_loss = (self.avg_loss * (n - 1.0) + loss) / n;
        }
        let total = self.avg_gain + self.avg_loss;
        self.value = Some(if total == 0.0 {
            50.0
        } else {
            100.0 * self.avg_gain / total
        });
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
        self.prev = None;
        self.changes = 0;
        self.avg_gain = 0.0;
        self.avg_loss = 0.0;
        self.value = None;
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::indicators::test_support::{Table, assert_series, close_opt, series};

    fn run(period: usize, xs: &[f64]) -> Vec<Option<f64>> {
        let mut rsi = Rsi::new(period).unwrap();
        xs.iter().map(|&x| rsi.update(x)).collect()
    }

    /// Batch definition from the whole series: all changes first, then the Wilder recursion.
    fn batch(period: usize, xs: &[f64]) -> Vec<Option<f64>> {
        let mut out = vec![None; xs.len()];
        if xs.len() <= period {
            return out;
        }
        let changes: Vec<f64> = xs.windows(2).map(|w| w[1] - w[0]).collect();
        let gains: Vec<f64> = changes.iter().map(|c| c.max(0.0)).collect();
        let losses: Vec<f64> = changes.iter().map(|c| (-c).max(0.0)).collect();
        let n = period as f64;
        let mut g = gains[..period].iter().sum::<f64>() / n;
        let mut l = losses[..period].iter().sum::<f64>() / n;
        let rsi = |g: f64, l: f64| {
            if g + l == 0.0 {
                50.0
            } else {
                100.0 * g / (g + l)
            }
        };
        out[period] = Some(rsi(g, l));
        for i in period..changes.len() {
            g = (g * (n - 1.0) + gains[i]) / n;
            l = (l * (n - 1.0) + losses[i]) / n;
            out[i + 1] = Some(rsi(g, l));
        }
        out
    }

    #[test]
    fn hand_computed() {
        // period 2: changes +2, -1 -> avg gain 1, loss 0.5 -> 66.67; then +3: gain (1+3)/2 = 2,
        // loss 0.25 -> 88.89.
        let got = run(2, &[10.0, 12.0, 11.0, 14.0]);
        assert_eq!(&got[..2], &[None, None]);
        assert!((got[2].unwrap() - 200.0 / 3.0).abs() < 1e-12);
        assert!((got[3].unwrap() - 100.0 * 2.0 / 2.25).abs() < 1e-12);
        assert_eq!(run(1, &[1.0, 2.0, 1.0]), vec![None, Some(100.0), Some(0.0)]);
    }

    #[test]
    fn flat_series_is_50() {
        let got = run(14, &[42.0; 40]);
        assert!(got[..14].iter().all(Option::is_none));
        assert!(got[14..].iter().all(|v| *v == Some(50.0)));
    }

    #[test]
    fn nan_ignored_and_reset() {
        let mut rsi = Rsi::new(1).unwrap();
        rsi.update(1.0);
        assert_eq!(rsi.update(f64::NAN), None);
        assert_eq!(rsi.update(2.0), Some(100.0));
        assert_eq!(rsi.update(f64::NEG_INFINITY), Some(100.0));
        rsi.reset();
        assert!(!rsi.initialized());
        assert_eq!(rsi.update(2.0), None);
        assert!(Rsi::new(0).is_err());
    }

    #[test]
    fn stockcharts_rsi14() {
        let Some(t) = Table::vectors("stockcharts_rsi14_wilder.csv") else {
            return;
        };
        let got = run(14, &t.values("close"));
        assert_series("rsi14", &got, &t.column("rsi14_expected"), 1e-6);
    }

    #[test]
    fn library_comparison_rsi14() {
        let Some(t) = Table::vectors("generated_rsi14_library_comparison.csv") else {
            return;
        };
        let got = run(14, &t.values("close"));
        assert_series("rsi14", &got, &t.column("talib_rs_0.8.3_rsi14"), 1e-6);
        assert_series("rsi14", &got, &t.column("stockcharts_rsi14"), 1e-6);
        // `ta` 0.5 is far away, which is why it is not used.
        let ta: Vec<Option<f64>> = t.column("ta_0.5.0_rsi14");
        let worst = (14..t.rows())
            .map(|i| (ta[i].unwrap() - got[i].unwrap()).abs())
            .fold(0.0, f64::max);
        assert!(worst > 10.0, "ta 0.5 deviates by {worst}");
    }

    proptest! {
        #[test]
        fn incremental_equals_batch(xs in series(), period in 1usize..30) {
            let got = run(period, &xs);
            let want = batch(period, &xs);
            for (i, (g, w)) in got.iter().zip(&want).enumerate() {
                prop_assert!(close_opt(*g, *w, 1e-9), "[{}] {:?} vs {:?}", i, g, w);
            }
        }
    }
}
