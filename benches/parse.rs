//! Frame parsing throughput (frames/s on one core), through the same `parse_frame` the live
//! sources use: Binance trade, aggTrade and kline frames in the combined-stream shape, and
//! Coinbase Exchange match frames.

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

/// Coinbase Exchange `match` frames through the parse path the live source uses: every match
/// and last_match frame of the recorded feed when `TICKWATCH_FIXTURES` is set, else synthetic
/// frames in the same shape.
fn coinbase_match_frames() -> Vec<String> {
    let recorded = tickwatch::testdata::fixtures().and_then(|dir| {
        let path = dir.join("coinbase/coinbase_exchange_wsfeed_2021-04-17.ticker_match.raw.txt");
        std::fs::read_to_string(path).ok()
    });
    match recorded {
        Some(text) => text
            .lines()
            .filter(|l| !l.contains(" <- ") && !l.contains(" <-> "))
            .filter_map(|l| l.split_once(": ").map(|(_, f)| f.to_string()))
            .filter(|f| f.contains(r#""type":"match""#) || f.contains(r#""type":"last_match""#))
            .collect(),
        None => frames(|i| {
            format!(
                r#"{{"type":"match","trade_id":{},"maker_order_id":"e9e07dc8-1c31-4253-8f46-075dbec4b87e","taker_order_id":"76dfe3b4-bfb4-4a43-9d22-a95a2914f1e1","side":"{}","size":"0.00{}","price":"16850.{:02}","product_id":"BTC-USD","sequence":{},"time":"2021-04-17T16:44:00.382088Z"}}"#,
                1_568_288 + i,
                if i % 2 == 0 { "buy" } else { "sell" },
                i % 9 + 1,
                i % 100,
                201_392_642 + i
            )
        }),
    }
}

fn bench_coinbase(c: &mut Criterion) {
    use tickwatch::sources::coinbase::wire::{Frame, parse_frame};
    let frames = coinbase_match_frames();
    // every frame must be a trade, or the bench measures the error path
    assert!(
        frames
            .iter()
            .all(|f| matches!(parse_frame(f, 0), Ok(Frame::Trade { .. })))
    );
    let mut g = c.benchmark_group("coinbase_parse");
    g.throughput(Throughput::Elements(frames.len() as u64));
    g.bench_function("match", |b| {
        b.iter(|| {
            for f in &frames {
                black_box(parse_frame(black_box(f), 1_700_000_000_000).ok());
            }
        })
    });
    g.finish();
}

criterion_group!(coinbase, bench_coinbase);
criterion_main!(benches, coinbase);
