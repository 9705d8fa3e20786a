//! Local book speed (issue 14 §6): level updates per second on one core, applying the real
//! Binance spot diffs of the 2021-08-14 capture to books loaded from the real 5000-level
//! snapshots of the same session. `apply` measures the book alone (pre-parsed levels);
//! `parse+sync` adds parsing each frame and the sync machine's id checks, as a session would.
//! Needs TICKWATCH_FIXTURES; without it, says SKIPPED and measures nothing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use tickwatch::book::binance::{self, BinanceBook, DepthDiff, DepthSnapshot, Flavor};
use tickwatch::book::{Book, Side};

/// One pre-parsed level update, as the apply bench feeds it.
type LevelUpdate = (Side, tickwatch::book::Price, f64);

struct Symbol {
    snapshot: DepthSnapshot,
    frames: Vec<String>,
    diffs: Vec<DepthDiff>,
}

fn load() -> Option<Vec<Symbol>> {
    let dir = tickwatch::testdata::fixtures()?;
    let snaps =
        std::fs::read_to_string(dir.join("binance_rest/depth_snapshots_2021-08-14.jsonl")).ok()?;
    let frames = std::fs::read_to_string(
        dir.join("binance_ws_capture/binance_spot_combined_2021-08-14.frames.jsonl"),
    )
    .ok()?;
    let mut out = Vec::new();
    for line in snaps.lines() {
        let v: serde_json::Value = serde_json::from_str(line).ok()?;
        let symbol = v["url"]
            .as_str()?
            .split("symbol=")
            .nth(1)?
            .split('&')
            .next()?
            .to_string();
        let snapshot = binance::parse_snapshot(&v["body"].to_string()).ok()?;
        let needle = format!("\"s\":\"{symbol}\"");
        let frames: Vec<String> = frames
            .lines()
            .filter(|l| l.contains("depthUpdate") && l.contains(&needle))
            .map(str::to_string)
            .collect();
        let diffs = frames
            .iter()
            .map(|f| binance::parse_diff(f).unwrap())
            .collect();
        out.push(Symbol {
            snapshot,
            frames,
            diffs,
        });
    }
    Some(out)
}

fn books(c: &mut Criterion) {
    let Some(symbols) = load() else { return };
    let loaded: Vec<(Book, Vec<LevelUpdate>)> = symbols
        .iter()
        .map(|s| {
            let mut b = Book::new();
            for &(p, q) in &s.snapshot.bids {
                b.apply(Side::Bid, p, q);
            }
            for &(p, q) in &s.snapshot.asks {
                b.apply(Side::Ask, p, q);
            }
            let levels = s
                .diffs
                .iter()
                .flat_map(|d| {
                    d.bids
                        .iter()
                        .map(|&(p, q)| (Side::Bid, p, q))
                        .chain(d.asks.iter().map(|&(p, q)| (Side::Ask, p, q)))
                })
                .collect();
            (b, levels)
        })
        .collect();
    let levels: usize = loaded.iter().map(|(_, l)| l.len()).sum();
    let mut g = c.benchmark_group("books");
    g.throughput(Throughput::Elements(levels as u64));
    g.bench_function("binance_spot_apply_levels", |b| {
        b.iter_batched(
            || loaded.iter().map(|(b, _)| b.clone()).collect::<Vec<_>>(),
            |mut books| {
                for (book, (_, lv)) in books.iter_mut().zip(&loaded) {
                    for &(side, p, q) in lv {
                        book.apply(side, p, q);
                    }
                }
                black_box(books)
            },
            BatchSize::LargeInput,
        )
    });
    g.bench_function("binance_spot_parse_sync_levels", |b| {
        b.iter_batched(
            || {
                symbols
                    .iter()
                    .map(|s| {
                        let mut m = BinanceBook::new(Flavor::Spot);
                        m.on_snapshot(s.snapshot.clone());
                        m
                    })
                    .collect::<Vec<_>>()
            },
            |mut machines| {
                for (m, s) in machines.iter_mut().zip(&symbols) {
                    for f in &s.frames {
                        black_box(m.on_diff(binance::parse_diff(f).unwrap()));
                    }
                }
                black_box(machines)
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
    eprintln!(
        "books bench: {levels} level updates per iteration over {} symbols",
        symbols.len()
    );
}

criterion_group!(benches, books);
criterion_main!(benches);
