#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Engine throughput: per event in the engine alone, and through the whole pipeline (ring →
//! engine thread → storage thread) with and without every trade persisted; and per event with
//! no alert rules, with 10,000 rules on other symbols, and with 10,000 of which 10 apply.

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use tickwatch::alerts::AlertRule;
use tickwatch::alerts::rules::{RuleConfig, RuleKind};
use tickwatch::domain::MarketEvent;
use tickwatch::domain::OutputBatch;
use tickwatch::engine::runner::{Outputs, Runner, StorePolicy};
use tickwatch::engine::{Engine, EngineConfig};
use tickwatch::pipeline::{HealthBoard, Ingest, PipelineStats};
use tickwatch::sources::sim::{SimConfig, SimGenerator};
use tickwatch::store::StoreWriter;

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
                let mut out = OutputBatch::default();
                for (i, ev) in evs.iter().enumerate() {
                    e.apply(ev, &mut out).unwrap();
                    if i % 4096 == 0 {
                        out = OutputBatch::default();
                    }
                }
                e
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

/// Events per iteration of the rule cases.
const RULE_EVENTS: usize = 200_000;

/// `n` rules on symbols no event has, of every trigger (tick, candle close, clock).
fn far_rules(n: usize) -> Vec<AlertRule> {
    let kinds = [
        (RuleKind::PriceAbove, 1e9),
        (RuleKind::Zscore, 50.0),
        (RuleKind::RsiAbove, 90.0),
        (RuleKind::Stale, 30.0),
    ];
    (0..n)
        .map(|i| {
            let (kind, value) = kinds[i % kinds.len()];
            let mut r = RuleConfig::new(kind, value);
            r.name = Some(format!("far-{i}"));
            r.symbols = Some(vec![format!("OTHER{i}")]);
            r.build().unwrap()
        })
        .collect()
}

/// 10 rules on the simulator's symbols (tick and close), as a person would set them.
fn near_rules() -> Vec<AlertRule> {
    let texts = [
        "symbols = ['BTCUSDT']\nkind = 'price_above'\nvalue = 1000000",
        "symbols = ['BTCUSDT']\nkind = 'price_below'\nvalue = 1",
        "symbols = ['ETHUSDT']\nkind = 'price_cross'\nvalue = 3000\nhysteresis = 5",
        "symbols = ['SOLUSDT', 'BNBUSDT']\nkind = 'pct_change'\nvalue = 5\nwindow = '5m'",
        "symbols = ['XRPUSDT']\nkind = 'zscore'\nvalue = 8",
        "symbols = ['DOGEUSDT']\nkind = 'rsi_above'\nvalue = 95",
        "symbols = ['BTCUSDT']\nkind = 'rsi_below'\nvalue = 5\ninterval = '5m'",
        "symbols = ['ETHUSDT']\nkind = 'volume_spike'\nvalue = 10",
        "symbols = ['BTCUSDT']\nkind = 'price_above'\nvalue = 1000000\non = 'close'",
        "symbols = ['ETHUSDT']\nkind = 'stale'\nvalue = 60",
    ];
    texts
        .iter()
        .map(|t| toml::from_str::<RuleConfig>(t).unwrap().build().unwrap())
        .collect()
}

fn engine_rules(c: &mut Criterion) {
    let evs = events(RULE_EVENTS);
    let mut group = c.benchmark_group("engine_rules");
    group.throughput(Throughput::Elements(RULE_EVENTS as u64));
    group.sample_size(10);
    let mut ten_apply = far_rules(9_990);
    ten_apply.extend(near_rules());
    let cases: [(&str, Vec<AlertRule>); 3] = [
        ("no_rules", Vec::new()),
        ("10k_rules_on_other_symbols", far_rules(10_000)),
        ("10k_rules_10_apply", ten_apply),
    ];
    for (name, rules) in cases {
        group.bench_function(name, |b| {
            b.iter_batched(
                || {
                    let mut e = Engine::new(
                        EngineConfig {
                            persist_trades: false,
                            rules: rules.clone(),
                            ..EngineConfig::default()
                        },
                        Arc::default(),
                    )
                    .unwrap();
                    // the first flush stores every rule once, at start: not per event
                    e.on_clock(evs[0].recv_ms, &mut OutputBatch::default());
                    e
                },
                |mut e| {
                    let mut out = OutputBatch::default();
                    for (i, ev) in evs.iter().enumerate() {
                        e.apply(ev, &mut out).unwrap();
                        if i % 4096 == 4095 {
                            // the clock ticks about this often next to a busy feed
                            e.on_clock(ev.recv_ms, &mut out);
                            out = OutputBatch::default();
                        }
                    }
                    e
                },
                BatchSize::PerIteration,
            )
        });
    }
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
            publish: None,
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

criterion_group!(benches, engine_alone, engine_rules, pipeline);
criterion_main!(benches);
