//! Frame parsing throughput (frames/s on one core) of the Kraken v2 and OKX v5 trade frames,
//! through the same `parse_frame` the live sources use: one trade per frame, as both venues
//! send most of the time (the OKX frames are shaped like the 2022 capture's).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;

const N: usize = 1000;

fn kraken_frames() -> Vec<String> {
    (0..N as u64)
        .map(|i| {
            format!(
                r#"{{"channel":"trade","type":"update","data":[{{"symbol":"BTC/USD","side":"{}","price":105944.{},"qty":0.000{}7625,"ord_type":"limit","trade_id":{},"timestamp":"2023-10-06T17:35:55.{:06}Z"}}]}}"#,
                if i % 2 == 0 { "buy" } else { "sell" },
                i % 10,
                i % 9 + 1,
                10_218_208 + i,
                i * 997 % 1_000_000
            )
        })
        .collect()
}

fn okx_frames() -> Vec<String> {
    (0..N as u64)
        .map(|i| {
            format!(
                r#"{{"arg":{{"channel":"trades","instId":"BTC-USDT"}},"data":[{{"instId":"BTC-USDT","tradeId":"{}","px":"30243.{}","sz":"0.00{}","side":"{}","ts":"{}"}}]}}"#,
                338_476_308 + i,
                i % 10,
                i % 9 + 1,
                if i % 2 == 0 { "buy" } else { "sell" },
                1_652_459_226_050 + i
            )
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    use tickwatch::sources::{kraken, okx};
    let kraken = kraken_frames();
    let okx = okx_frames();
    // every frame must be a trade, or the bench measures the error path
    assert!(kraken.iter().all(|f| matches!(kraken::wire::parse_frame(f, 0), Ok(kraken::wire::Frame::Events(e)) if e.len() == 1)));
    assert!(okx.iter().all(
        |f| matches!(okx::wire::parse_frame(f, 0), Ok(okx::wire::Frame::Events(e)) if e.len() == 1)
    ));
    let mut g = c.benchmark_group("venue_parse");
    g.throughput(Throughput::Elements(N as u64));
    g.bench_function("kraken_trade", |b| {
        b.iter(|| {
            for f in &kraken {
                black_box(kraken::wire::parse_frame(black_box(f), 1_700_000_000_000).ok());
            }
        })
    });
    g.bench_function("okx_trade", |b| {
        b.iter(|| {
            for f in &okx {
                black_box(okx::wire::parse_frame(black_box(f), 1_700_000_000_000).ok());
            }
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
