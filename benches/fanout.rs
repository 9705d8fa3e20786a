#![allow(clippy::unwrap_used, clippy::expect_used)]
//! NATS publish against the engine's full rate, on the same events, in one run: the engine
//! applying N simulated trades, and the publisher publishing the same N trades to a real
//! `nats-server -js` (file storage) with every acknowledgement awaited. Criterion reports both
//! as elements per second; the publisher keeps up when its rate is at least the engine's.
//! Trades are published as protobuf `TradeBatch` messages (the default) and, for comparison, as
//! JSON lines (`[nats] trade_format = "json"`).
//! Skipped (with a message) when nats-server is not installed.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tickwatch::domain::{MarketEvent, OutputBatch};
use tickwatch::engine::{Engine, EngineConfig};
use tickwatch::fanout::publisher::{self, FanoutBatch, FanoutStats, PublishConfig, TradeFormat};
use tickwatch::pipeline::{HealthBoard, PipelineStats};
use tickwatch::sources::sim::{SimConfig, SimGenerator};

const N: usize = 200_000;
/// Events per batch the engine hands the publisher (one engine round).
const BATCH: usize = 512;

fn events(n: usize) -> Vec<MarketEvent> {
    let cfg = SimConfig {
        rate: 200.0,
        start_ms: Some(1_700_000_000_000),
        ..SimConfig::default()
    };
    let mut g = SimGenerator::new(&cfg, 1_700_000_000_000).unwrap();
    (0..n).map(|_| g.next_event(1_700_000_000_000)).collect()
}

fn nats_server() -> Option<PathBuf> {
    ["/usr/sbin/nats-server", "/usr/bin/nats-server"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
}

fn bench(c: &mut Criterion) {
    let evs = events(N);
    let mut group = c.benchmark_group("fanout");
    group.throughput(Throughput::Elements(N as u64));
    group.sample_size(10);
    group.bench_function("engine_apply_200k_trades", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let mut e = Engine::new(EngineConfig::default(), Arc::default()).unwrap();
                let mut out = OutputBatch::default();
                let t = Instant::now();
                for (i, ev) in evs.iter().enumerate() {
                    e.apply(ev, &mut out).unwrap();
                    if i % 4096 == 0 {
                        out = OutputBatch::default();
                    }
                }
                total += t.elapsed();
            }
            total
        })
    });

    let Some(bin) = nats_server() else {
        eprintln!("SKIPPED fanout/publish: nats-server is not installed");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut server = Command::new(bin)
        .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        std::thread::sleep(Duration::from_millis(20));
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut run = 0u64;
    for (name, format) in [
        ("publish_200k_trades_with_acks", TradeFormat::Protobuf),
        ("publish_200k_trades_with_acks_json", TradeFormat::Json),
    ] {
        group.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    run += 1;
                    // trades carry their id in Nats-Msg-Id: a fresh trade id range per run, or
                    // the stream would take the repeats as duplicates
                    let evs: Vec<MarketEvent> = evs
                        .iter()
                        .map(|e| {
                            let mut e = *e;
                            if let tickwatch::domain::EventKind::Trade(t) = &mut e.kind {
                                t.trade_id += run * 10_000_000;
                            }
                            e
                        })
                        .collect();
                    let (tx, rx) = flume::bounded(publisher::CHANNEL_BATCHES);
                    let stats = Arc::new(FanoutStats::default());
                    let cfg = PublishConfig {
                        url: format!("nats://127.0.0.1:{port}"),
                        stream: "TICKWATCH".into(),
                        max_age: Duration::from_secs(3600),
                        trade_format: format,
                    };
                    let t = Instant::now();
                    let task = rt.spawn(publisher::run(
                        cfg,
                        rx,
                        HealthBoard::default(),
                        stats.clone(),
                        Arc::default(),
                    ));
                    for chunk in evs.chunks(BATCH) {
                        tx.send(FanoutBatch {
                            events: chunk.to_vec(),
                            ..Default::default()
                        })
                        .unwrap();
                    }
                    drop(tx);
                    rt.block_on(task).unwrap();
                    total += t.elapsed();
                    assert_eq!(PipelineStats::get(&stats.published), N as u64);
                    assert_eq!(PipelineStats::get(&stats.dropped), 0);
                }
                total
            })
        });
    }
    // The fixed cost inside the timing above: connecting, finding the stream, and stopping
    // with nothing to publish.
    group.throughput(Throughput::Elements(1));
    group.bench_function("publisher_start_and_stop_empty", |b| {
        b.iter(|| {
            let (tx, rx) = flume::bounded::<FanoutBatch>(1);
            let cfg = PublishConfig {
                url: format!("nats://127.0.0.1:{port}"),
                stream: "TICKWATCH".into(),
                max_age: Duration::from_secs(3600),
                trade_format: Default::default(),
            };
            drop(tx);
            let stats = Arc::new(FanoutStats::default());
            rt.block_on(publisher::run(
                cfg,
                rx,
                HealthBoard::default(),
                stats,
                Arc::default(),
            ));
        })
    });
    group.finish();
    let _ = server.kill();
    let _ = server.wait();
}

criterion_group!(benches, bench);
criterion_main!(benches);
