//! Merging consecutive candles into wider time buckets for a chart narrower than its data.

use crate::domain::{Interval, TsMs};
use crate::view::ChartCandle;

/// The bucket width that fits `span_ms` of `interval` candles into at most `columns` points:
/// a whole number of candles, so every bucket holds the same count.
pub fn bucket_ms_for(interval: Interval, span_ms: TsMs, columns: usize) -> TsMs {
    let iv = interval.ms();
    let candles = (span_ms.max(iv) + iv - 1) / iv;
    let cols = i64::try_from(columns.max(1)).unwrap_or(i64::MAX);
    let per = (candles + cols - 1) / cols;
    per.max(1) * iv
}

/// The start of the bucket of `bucket_ms` that holds a candle opened at `open_ms` (a multiple of
/// `bucket_ms` since the epoch; `open_ms` itself when `bucket_ms` is not positive).
pub(crate) fn bucket_start(open_ms: TsMs, bucket_ms: TsMs) -> TsMs {
    if bucket_ms > 0 {
        open_ms - open_ms.rem_euclid(bucket_ms)
    } else {
        open_ms
    }
}

/// Merges candles (ascending by open time) into buckets of `bucket_ms` aligned to multiples of
/// `bucket_ms` since the epoch, so a bucket keeps its members while the chart pans. A bucket
/// opens at its first candle's open and closes at its last candle's close; high, low, volume and
/// trades fold over its members; indicator values are the last member's (a line through bucket
/// ends, as a chart at the longer interval would draw). Already-merged input merges again to
/// itself, so history buckets and live candles can be merged in one pass.
pub fn bucketize(
    candles: impl IntoIterator<Item = ChartCandle>,
    bucket_ms: TsMs,
) -> Vec<ChartCandle> {
    let mut out: Vec<ChartCandle> = Vec::new();
    let mut cur_bucket = None;
    for c in candles {
        let b = bucket_start(c.candle.open_ms, bucket_ms);
        match out.last_mut() {
            Some(last) if cur_bucket == Some(b) => {
                last.candle.merge(&c.candle);
                // a member's undefined value (warm-up, the live candle) keeps the last defined one
                for (dst, src) in last.values.iter_mut().zip(c.values.iter()) {
                    if src.is_some() {
                        *dst = *src;
                    }
                }
                last.closed = c.closed;
            }
            _ => {
                cur_bucket = Some(b);
                let mut c = c;
                c.candle.open_ms = b;
                out.push(c);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Candle;

    fn cc(open_ms: TsMs, o: f64, h: f64, l: f64, c: f64, v: f64, x: Option<f64>) -> ChartCandle {
        ChartCandle {
            candle: Candle {
                open_ms,
                open: o,
                high: h,
                low: l,
                close: c,
                volume: v,
                trades: 1,
            },
            values: vec![x].into_boxed_slice(),
            closed: true,
        }
    }

    #[test]
    fn buckets_fold_ohlcv_and_keep_the_last_value() {
        let m = 60_000;
        let input = vec![
            cc(0, 10.0, 12.0, 9.0, 11.0, 1.0, Some(1.0)),
            cc(m, 11.0, 15.0, 10.0, 14.0, 2.0, Some(2.0)),
            cc(2 * m, 14.0, 14.5, 8.0, 9.0, 3.0, None),
            cc(3 * m, 9.0, 9.5, 8.5, 9.2, 4.0, Some(4.0)),
        ];
        let out = bucketize(input.clone(), 3 * m);
        assert_eq!(out.len(), 2);
        let a = &out[0];
        assert_eq!(
            (
                a.candle.open_ms,
                a.candle.open,
                a.candle.high,
                a.candle.low,
                a.candle.close
            ),
            (0, 10.0, 15.0, 8.0, 9.0)
        );
        assert_eq!((a.candle.volume, a.candle.trades), (6.0, 3));
        assert_eq!(a.values[0], Some(2.0));
        assert_eq!(out[1].candle.open_ms, 3 * m);
        // merging merged buckets again changes nothing
        assert_eq!(bucketize(out.clone(), 3 * m), out);
        // one candle per bucket: unchanged
        assert_eq!(bucketize(input.clone(), m), input);
    }

    #[test]
    fn bucket_width_fits_the_columns() {
        let m = Interval::M1;
        assert_eq!(bucket_ms_for(m, 60 * 60_000, 100), 60_000);
        assert_eq!(bucket_ms_for(m, 30 * 86_400_000, 150), 288 * 60_000);
        assert_eq!(bucket_ms_for(m, 0, 0), 60_000);
    }
}
