//! JSON backends for the Binance hot frames (issue 3, section 7), frames/s on one core:
//! - `general`: the catch-all `Payload` path alone (what `parse_frame` did before the fast path);
//! - `fast_serde_json`: the per-kind borrowed structs on serde_json (what `parse_frame` does now);
//! - `fast_sonic`: the same structs, dispatch and builders on `sonic_rs::from_str`.
//!
//! Cases: 1000 synthetic trade, aggTrade and kline frames in the combined shape (as
//! benches/parse.rs builds them) and, when TICKWATCH_FIXTURES is set, the real aggTrade and kline
//! frames of the 2021-08-14 capture. Compare variants within one run: the ratios hold up under
//! load better than the absolute figures.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde::Deserialize;
use std::hint::black_box;
use tickwatch::sources::binance::wire::Frame;
use tickwatch::sources::binance::wire::bench_support::{
    JsonBackend, parse_fast, parse_fast_serde_json, parse_general,
};

const N: usize = 1000;
const RECV: i64 = 1_700_000_000_000;

struct Sonic;

impl JsonBackend for Sonic {
    fn from_str<'a, T: Deserialize<'a>>(text: &'a str) -> Option<T> {
        sonic_rs::from_str(text).ok()
    }
}

fn frames(make: impl Fn(u64) -> String) -> Vec<String> {
    (0..N as u64).map(make).collect()
}

fn synthetic() -> Vec<(String, Vec<String>)> {
    vec![
        (
            "trade".into(),
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
            "aggTrade".into(),
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
            "kline".into(),
            frames(|i| {
                format!(
                    r#"{{"stream":"btcusdt@kline_1m","data":{{"e":"kline","E":1672515782136,"s":"BTCUSDT","k":{{"t":1672515780000,"T":1672515839999,"s":"BTCUSDT","i":"1m","f":100,"L":200,"o":"16850.10000000","c":"16851.{:02}000000","h":"16852.00000000","l":"16849.00000000","v":"1000.00000000","n":{},"x":false,"q":"1.0000","V":"500","Q":"0.500","B":"0"}}}}}}"#,
                    i % 100,
                    100 + i
                )
            }),
        ),
    ]
}

/// The real aggTrade and kline frames of the capture, when the fixtures are there.
fn captured() -> Vec<(String, Vec<String>)> {
    let Some(dir) = tickwatch::testdata::fixtures() else {
        return Vec::new();
    };
    let path = dir.join("binance_ws_capture/binance_spot_combined_2021-08-14.frames.jsonl");
    let text = std::fs::read_to_string(&path).unwrap();
    ["aggTrade", "kline_1m"]
        .into_iter()
        .map(|kind| {
            let tag = format!("@{kind}\"");
            let frames: Vec<String> = text
                .lines()
                .filter(|l| l.contains(&tag))
                .map(str::to_string)
                .collect();
            assert!(!frames.is_empty(), "no {kind} frames in {}", path.display());
            (format!("capture_{kind}"), frames)
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    for (name, frames) in synthetic().into_iter().chain(captured()) {
        // every variant must give the same market event for every frame, or the comparison
        // is between different work
        for f in &frames {
            let general = parse_general(f, RECV).unwrap();
            assert!(matches!(general, Frame::Event(_)), "{f}");
            assert_eq!(parse_fast_serde_json(f, RECV).unwrap().unwrap(), general);
            assert_eq!(parse_fast::<Sonic>(f, RECV).unwrap().unwrap(), general);
        }
        let mut g = c.benchmark_group(format!("json_backends/{name}"));
        g.throughput(Throughput::Elements(frames.len() as u64));
        g.bench_function("general", |b| {
            b.iter(|| {
                for f in &frames {
                    black_box(parse_general(black_box(f), RECV).ok());
                }
            })
        });
        g.bench_function("fast_serde_json", |b| {
            b.iter(|| {
                for f in &frames {
                    black_box(parse_fast_serde_json(black_box(f), RECV));
                }
            })
        });
        g.bench_function("fast_sonic", |b| {
            b.iter(|| {
                for f in &frames {
                    black_box(parse_fast::<Sonic>(black_box(f), RECV));
                }
            })
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
