#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Engine throughput: per event in the engine alone, and through the whole pipeline (ring →
//! engine thread → storage thread) with and without every trade persisted.

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use tickwatch::domain::MarketEvent;
use tickwatch::engine::runner::{Outputs, Runner, StorePolicy};
use tickwatch::engine::{Engine, EngineConfig};
use tickwatch::pipeline::{HealthBoard, Ingest, PipelineStats};
use tickwatch::sources::sim::{SimConfig, SimGenerator};
use tickwatch::store::{StoreBatch, StoreWriter};

const N: usize = 1_000_000;

fn events(n: usize) -> Vec<MarketEvent> {
    let cfg = SimConfig {
        rate: 200.0,
        start_ms: Some(1_700_000_000_000),
        ..SimConfig::default()
    };
    let mut g = SimGenerator::new(&cfg, 1_700_000_000_000).unwrap();
    (0..n).map(|_| g.next_event(1_700_000_000_000)).collect()
}

fn engine_alone(c: &mut Criterion) {
    let evs = events(N);
    let mut group = c.benchmark_group("engine");
    group.throughput(Throughput::Elements(N as u64));
    group.sample_size(10);
    group.bench_function("apply_1M_trades_no_persistence", |b| {
        b.iter_batched(
            || {
                Engine::new(
                    EngineConfig {
                        persist_trades: false,
                        ..EngineConfig::default()
                    },
                    Arc::default(),
                )
                .unwrap()
            },
            |mut e| {
                let mut out = StoreBatch::default();
                for (i, ev) in evs.iter().enumerate() {
                    e.apply(ev, &mut out).unwrap();
                    if i % 4096 == 0 {
                        out = StoreBatch::default();
                    }
                }
                e
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

/// Runs `evs` through the ring and the engine thread (and the storage thread when `db`).
fn pipeline_run(evs: &[MarketEvent], db: Option<&std::path::Path>) -> Duration {
    let stats = Arc::new(PipelineStats::default());
    let store = db.map(|p| StoreWriter::spawn(p, stats.clone(), HealthBoard::default()).unwrap());
    let (tx, rx) = tickwatch::pipeline::ring(1024);
    let (_ctl_tx, ctl_rx) = flume::unbounded();
    let runner = Runner {
        engine: Engine::new(
            EngineConfig {
                persist_trades: db.is_some(),
                ..EngineConfig::default()
            },
            stats.clone(),
        )
        .unwrap(),
        ingest: rx,
        ctl: ctl_rx,
        outputs: Outputs {
            store: store.as_ref().map(|s| (s.sender(), StorePolicy::Block)),
            view: None,
            alerts: None,
        },
        frame: Duration::from_millis(33),
        stop_after_finished: None,
        stop: Default::default(),
        budget: None,
    };
    let batches: Vec<Vec<MarketEvent>> = evs.chunks(4096).map(|c| c.to_vec()).collect();
    let start = Instant::now();
    let h = std::thread::spawn(move || runner.run());
    for b in batches {
        tx.send(Ingest::Events(b)).unwrap();
    }
    drop(tx);
    h.join().unwrap();
    if let Some(s) = store {
        s.close().unwrap();
    }
    start.elapsed()
}

fn pipeline(c: &mut Criterion) {
    let evs = events(N);
    let mut group = c.benchmark_group("pipeline");
    group.throughput(Throughput::Elements(N as u64));
    group.sample_size(10);
    group.bench_function("ring_engine_1M_no_persistence", |b| {
        b.iter_custom(|iters| (0..iters).map(|_| pipeline_run(&evs, None)).sum())
    });
    group.bench_function("ring_engine_store_1M_every_trade_persisted", |b| {
        b.iter_custom(|iters| {
            (0..iters)
                .map(|_| {
                    let dir = tempfile::tempdir().unwrap();
                    pipeline_run(&evs, Some(&dir.path().join("bench.db")))
                })
                .sum()
        })
    });
    group.finish();
}

criterion_group!(benches, engine_alone, pipeline);
criterion_main!(benches);
