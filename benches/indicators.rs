//! ns per `update` for each indicator, and for `IndicatorSet::update` with the default set.
//! Run: `cargo bench --bench indicators`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use tickwatch::indicators::{
    Bollinger, Ema, EwZScore, IndicatorSet, IndicatorSpec, Macd, ReturnZScore, RollingZScore, Rsi,
    Sma, StdDev, VolumeSpike,
};

/// A deterministic price path (no RNG, so every run measures the same inputs).
fn prices(n: usize) -> Vec<f64> {
    (0..n)
        .map(|i| 100.0 + (i as f64 * 0.37).sin() * 3.0 + (i as f64 * 0.011).cos() * 7.0)
        .collect()
}

/// Measures one `update` per iteration, cycling through a warm series.
macro_rules! bench_update {
    ($c:expr, $name:expr, $ind:expr, $xs:expr) => {{
        let mut ind = $ind;
        for &x in $xs.iter() {
            black_box(ind.update(x));
        }
        let mut i = 0usize;
        $c.bench_function($name, |b| {
            b.iter(|| {
                i = (i + 1) % $xs.len();
                black_box(ind.update(black_box($xs[i])))
            })
        });
    }};
}

fn indicators(c: &mut Criterion) {
    let xs = prices(4096);
    bench_update!(c, "sma20", Sma::new(20).unwrap(), xs);
    bench_update!(c, "ema20", Ema::new(20).unwrap(), xs);
    bench_update!(c, "rsi14", Rsi::new(14).unwrap(), xs);
    bench_update!(c, "stddev20", StdDev::new(20).unwrap(), xs);
    bench_update!(c, "bb20_2", Bollinger::new(20, 2.0).unwrap(), xs);
    bench_update!(c, "macd12_26_9", Macd::new(12, 26, 9).unwrap(), xs);
    bench_update!(c, "ew_zscore50", EwZScore::new(50, 20).unwrap(), xs);
    bench_update!(c, "return_zscore50", ReturnZScore::new(50, 20).unwrap(), xs);
    bench_update!(c, "rolling_zscore100", RollingZScore::new(100).unwrap(), xs);
    bench_update!(c, "volume_spike50", VolumeSpike::new(50, 20).unwrap(), xs);
    bench_update!(
        c,
        "indicator_set_default",
        IndicatorSet::new(&IndicatorSpec::default_set()).unwrap(),
        xs
    );
}

criterion_group!(benches, indicators);
criterion_main!(benches);
