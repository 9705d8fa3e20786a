//! Binance frame parsing throughput (frames/s on one core): trade, aggTrade and kline frames in
//! the combined-stream shape, through the same `parse_frame` the live source uses.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use tickwatch::sources::binance::wire::{Frame, parse_frame};

const N: usize = 1000;

fn frames(make: impl Fn(u64) -> String) -> Vec<String> {
    (0..N as u64).map(make).collect()
}

fn bench(c: &mut Criterion) {
    let cases: [(&str, Vec<String>); 3] = [
        (
            "trade",
            frames(|i| {
                format!(
                    r#"{{"stream":"btcusdt@trade","data":{{"e":"trade","E":1672515782136,"s":"BTCUSDT","t":{},"p":"16850.{:02}000000","q":"0.00{}00000","T":1672515782136,"m":{},"M":true}}}}"#,
                    12345 + i,
                    i % 100,
                    i % 9 + 1,
                    i % 2 == 0
                )
            }),
        ),
        (
            "aggTrade",
            frames(|i| {
                format!(
                    r#"{{"stream":"btcusdt@aggTrade","data":{{"e":"aggTrade","E":1672515782136,"s":"BTCUSDT","a":{},"p":"16850.{:02}000000","q":"0.00{}00000","f":100,"l":105,"T":1672515782136,"m":true,"M":true}}}}"#,
                    12345 + i,
                    i % 100,
                    i % 9 + 1
                )
            }),
        ),
        (
            "kline",
            frames(|i| {
                format!(
                    r#"{{"stream":"btcusdt@kline_1m","data":{{"e":"kline","E":1672515782136,"s":"BTCUSDT","k":{{"t":1672515780000,"T":1672515839999,"s":"BTCUSDT","i":"1m","f":100,"L":200,"o":"16850.10000000","c":"16851.{:02}000000","h":"16852.00000000","l":"16849.00000000","v":"1000.00000000","n":{},"x":false,"q":"1.0000","V":"500","Q":"0.500","B":"0"}}}}}}"#,
                    i % 100,
                    100 + i
                )
            }),
        ),
    ];
    let mut g = c.benchmark_group("binance_parse");
    g.throughput(Throughput::Elements(N as u64));
    for (name, frames) in &cases {
        // every frame must be a market event, or the bench measures the error path
        assert!(
            frames
                .iter()
                .all(|f| matches!(parse_frame(f, 0), Ok(Frame::Event(_))))
        );
        g.bench_function(*name, |b| {
            b.iter(|| {
                for f in frames {
                    black_box(parse_frame(black_box(f), 1_700_000_000_000).ok());
                }
            })
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
