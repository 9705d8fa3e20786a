//! A list of indicators updated together, one row of values per closed candle.

use std::sync::Arc;

use super::bollinger::Bollinger;
use super::ema::Ema;
use super::error::IndicatorError;
use super::macd::Macd;
use super::return_zscore::ReturnZScore;
use super::rsi::Rsi;
use super::sma::Sma;
use super::spec::IndicatorSpec;

#[derive(Debug, Clone)]
enum Slot {
    Sma(Sma),
    Ema(Ema),
    Rsi(Rsi),
    Bollinger(Bollinger),
    Macd(Macd),
    ZScore(ReturnZScore),
}

impl Slot {
    fn new(spec: &IndicatorSpec) -> Result<Slot, IndicatorError> {
        spec.validate()?;
        Ok(match *spec {
            IndicatorSpec::Sma(n) => Slot::Sma(Sma::new(n)?),
            IndicatorSpec::Ema(n) => Slot::Ema(Ema::new(n)?),
            IndicatorSpec::Rsi(n) => Slot::Rsi(Rsi::new(n)?),
            IndicatorSpec::Bollinger { period, k } => Slot::Bollinger(Bollinger::new(period, k)?),
            IndicatorSpec::Macd { fast, slow, signal } => {
                Slot::Macd(Macd::new(fast, slow, signal)?)
            }
            IndicatorSpec::ZScore { span, warmup } => {
                Slot::ZScore(ReturnZScore::new(span, warmup)?)
            }
        })
    }

    /// Appends this indicator's columns for `close` to `out`.
    fn update(&mut self, close: f64, out: &mut Vec<Option<f64>>) {
        match self {
            Slot::Sma(i) => out.push(i.update(close)),
            Slot::Ema(i) => out.push(i.update(close)),
            Slot::Rsi(i) => out.push(i.update(close)),
            Slot::Bollinger(i) => {
                let v = i.update(close);
                out.extend([v.map(|b| b.upper), v.map(|b| b.mid), v.map(|b| b.lower)]);
            }
            Slot::Macd(i) => {
                let v = i.update(close);
                out.extend([
                    v.map(|m| m.macd),
                    v.and_then(|m| m.signal),
                    v.and_then(|m| m.hist),
                ]);
            }
            Slot::ZScore(i) => out.push(i.update(close)),
        }
    }

    fn reset(&mut self) {
        match self {
            Slot::Sma(i) => i.reset(),
            Slot::Ema(i) => i.reset(),
            Slot::Rsi(i) => i.reset(),
            Slot::Bollinger(i) => i.reset(),
            Slot::Macd(i) => i.reset(),
            Slot::ZScore(i) => i.reset(),
        }
    }
}

/// The indicators of one symbol and interval, fed with closes of closed candles. Columns are
/// those of each spec, in spec order; `update` returns one value per column.
#[derive(Debug, Clone)]
pub struct IndicatorSet {
    slots: Vec<Slot>,
    columns: Arc<[String]>,
}

impl IndicatorSet {
    pub fn new(specs: &[IndicatorSpec]) -> Result<IndicatorSet, IndicatorError> {
        let slots = specs.iter().map(Slot::new).collect::<Result<Vec<_>, _>>()?;
        let columns: Arc<[String]> = specs.iter().flat_map(IndicatorSpec::columns).collect();
        Ok(IndicatorSet { slots, columns })
    }

    /// Column names, shared (cloning the `Arc` is cheap).
    pub fn columns(&self) -> Arc<[String]> {
        Arc::clone(&self.columns)
    }

    /// Feeds one close to every indicator; `None` where an indicator is still warming up.
    /// A non-finite close is ignored by every indicator (levels repeat, the z-score is `None`).
    pub fn update(&mut self, close: f64) -> Box<[Option<f64>]> {
        let mut out = Vec::with_capacity(self.columns.len());
        for slot in &mut self.slots {
            slot.update(close, &mut out);
        }
        out.into_boxed_slice()
    }

    pub fn reset(&mut self) {
        self.slots.iter_mut().for_each(Slot::reset);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_set_matches_the_single_indicators() {
        let specs = IndicatorSpec::default_set();
        let mut set = IndicatorSet::new(&specs).unwrap();
        let cols = set.columns();
        assert_eq!(cols.len(), 10);
        let mut sma = Sma::new(20).unwrap();
        let mut ema = Ema::new(20).unwrap();
        let mut rsi = Rsi::new(14).unwrap();
        let mut bb = Bollinger::new(20, 2.0).unwrap();
        let mut macd = Macd::new(12, 26, 9).unwrap();
        let mut z = ReturnZScore::new(50, 20).unwrap();
        let mut last = None;
        for i in 0..120 {
            let close = 100.0 + (i as f64 * 0.37).sin() * 3.0 + i as f64 * 0.05;
            let row = set.update(close);
            assert_eq!(row.len(), cols.len());
            let b = bb.update(close);
            let m = macd.update(close);
            let want = [
                sma.update(close),
                ema.update(close),
                rsi.update(close),
                b.map(|b| b.upper),
                b.map(|b| b.mid),
                b.map(|b| b.lower),
                m.map(|m| m.macd),
                m.and_then(|m| m.signal),
                m.and_then(|m| m.hist),
                z.update(close),
            ];
            assert_eq!(&row[..], &want[..], "row {i}");
            last = Some(row);
        }
        assert!(last.unwrap().iter().all(Option::is_some));
        set.reset();
        assert!(set.update(100.0).iter().all(Option::is_none));
    }

    #[test]
    fn rejects_invalid_specs() {
        assert!(IndicatorSet::new(&[IndicatorSpec::Sma(0)]).is_err());
        assert!(
            IndicatorSet::new(&[IndicatorSpec::Macd {
                fast: 26,
                slow: 12,
                signal: 9
            }])
            .is_err()
        );
        assert!(
            IndicatorSet::new(&[IndicatorSpec::Bollinger {
                period: 20,
                k: f64::NAN
            }])
            .is_err()
        );
        let empty = IndicatorSet::new(&[]).unwrap();
        assert!(empty.columns().is_empty());
    }

    #[test]
    fn columns_are_shared() {
        let set = IndicatorSet::new(&[IndicatorSpec::Rsi(14)]).unwrap();
        assert!(Arc::ptr_eq(&set.columns(), &set.columns()));
        assert_eq!(&set.columns()[..], ["rsi14".to_string()]);
    }
}
