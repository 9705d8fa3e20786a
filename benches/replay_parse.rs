#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Replay throughput in rows per second (criterion reports elements/s, one element = one row):
//! parsing alone, and the whole replay (read file, parse, validate, batch, send to a ring that
//! another thread drains) at `Speed::Max`, for a 1M-row spot trades CSV and a 1M-row klines CSV.

use std::fmt::Write as _;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tickwatch::domain::{Interval, Symbol, Venue};
use tickwatch::pipeline::{EventSink, HealthBoard, Ingest, Overflow, PipelineStats, ring};
use tickwatch::sources::Source;
use tickwatch::sources::replay::{DumpKind, ReplayConfig, ReplaySource, RowParser, Speed};

const ROWS: usize = 1_000_000;
const T0: i64 = 1_740_787_200_000;

fn trades_csv() -> String {
    let mut s = String::with_capacity(ROWS * 70);
    for i in 0..ROWS {
        let price = 84_000.0 + (i % 5_000) as f64 * 0.01;
        let qty = 0.000_01 * (1 + i % 900) as f64;
        let t_us = (T0 + (i / 4) as i64) * 1000 + (i % 4) as i64 * 250;
        let bm = if i % 3 == 0 { "True" } else { "False" };
        writeln!(
            s,
            "{},{price:.2},{qty:.8},{:.8},{t_us},{bm},True",
            4_000_000_000u64 + i as u64,
            price * qty
        )
        .unwrap();
    }
    s
}

fn klines_csv() -> String {
    let mut s = String::with_capacity(ROWS * 140);
    for i in 0..ROWS {
        let open = T0 - 60_000 * ROWS as i64 + 60_000 * i as i64;
        let o = 30_000.0 + (i % 10_000) as f64 * 0.5;
        writeln!(
            s,
            "{open},{o:.8},{:.8},{:.8},{:.8},{:.8},{},{:.8},{},{:.8},{:.8},0",
            o + 5.0,
            o - 5.0,
            o + 1.0,
            12.345 + (i % 77) as f64,
            open + 59_999,
            400_000.123,
            100 + i % 50,
            6.1,
            200_000.5
        )
        .unwrap();
    }
    s
}

fn parse_all(text: &str, kind: DumpKind, columns: usize) -> usize {
    let mut p = RowParser::new(
        kind,
        Venue::Binance,
        Symbol::new("BTCUSDT").unwrap(),
        columns,
    );
    let mut n = 0;
    for line in text.lines() {
        black_box(p.parse(line, T0).unwrap());
        n += 1;
    }
    n
}

/// One full replay of `path` at max speed; a consumer thread drains the ring like the engine.
fn replay(rt: &tokio::runtime::Runtime, path: &Path) -> usize {
    let src = ReplaySource::new(ReplayConfig {
        files: vec![path.to_path_buf()],
        symbol: None,
        speed: Speed::Max,
        skip_bad: false,
    })
    .unwrap();
    let (tx, rx) = ring(64);
    let drain = std::thread::spawn(move || {
        let mut n = 0;
        while let Ok(Ingest::Events(b)) = rx.recv() {
            n += b.len();
        }
        n
    });
    let sink = EventSink::new(
        "replay",
        tx,
        Overflow::Block,
        Arc::new(PipelineStats::default()),
        HealthBoard::default(),
    );
    rt.block_on(Box::new(src).run(sink)).unwrap();
    drain.join().unwrap()
}

fn bench(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let trades = trades_csv();
    let klines = klines_csv();
    let trades_path: PathBuf = dir.path().join("BTCUSDT-trades-2025-03-01.csv");
    let klines_path: PathBuf = dir.path().join("BTCUSDT-1m-2025-03.csv");
    std::fs::write(&trades_path, &trades).unwrap();
    std::fs::write(&klines_path, &klines).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    let mut g = c.benchmark_group("replay_1M_rows");
    g.sample_size(10);
    g.throughput(Throughput::Elements(ROWS as u64));
    g.bench_function("parse_trades", |b| {
        b.iter(|| assert_eq!(parse_all(&trades, DumpKind::Trades, 7), ROWS))
    });
    g.bench_function("parse_klines", |b| {
        b.iter(|| assert_eq!(parse_all(&klines, DumpKind::Klines(Interval::M1), 12), ROWS))
    });
    g.bench_function("replay_trades_file", |b| {
        b.iter(|| assert_eq!(replay(&rt, &trades_path), ROWS))
    });
    g.bench_function("replay_klines_file", |b| {
        b.iter(|| assert_eq!(replay(&rt, &klines_path), ROWS))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
