#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Trades per second persisted through the storage thread: 1M trades in batches of 4096 into a
//! fresh WAL database file, timed from the first send until `close()` has committed the last.
//! Target: 300,000 trades/s on a 2-core machine.

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tickwatch::domain::{OutputBatch, TradeRecord};
use tickwatch::domain::{Side, Symbol, TradeTick, Venue, VenueSymbol};
use tickwatch::pipeline::{HealthBoard, PipelineStats};
use tickwatch::store::StoreWriter;

const TRADES: u64 = 1_000_000;
const BATCH: u64 = 4096;

fn batches() -> Vec<OutputBatch> {
    // Two instruments interleaved, as a live feed delivers them.
    let keys = [
        VenueSymbol::new(Venue::Binance, Symbol::new("BTCUSDT").unwrap()),
        VenueSymbol::new(Venue::Binance, Symbol::new("ETHUSDT").unwrap()),
    ];
    let mut out = Vec::new();
    let mut id = 0u64;
    while id < TRADES {
        let n = BATCH.min(TRADES - id);
        let trades = (id..id + n)
            .map(|i| TradeRecord {
                key: keys[(i % 2) as usize],
                ts_ms: 1_700_000_000_000 + (i / 10) as i64,
                tick: TradeTick {
                    trade_id: i / 2 + 1,
                    price: 30_000.0 + (i % 1000) as f64 * 0.01,
                    qty: 0.001 * (1 + i % 7) as f64,
                    side: if i % 3 == 0 { Side::Sell } else { Side::Buy },
                },
            })
            .collect();
        out.push(OutputBatch {
            trades,
            ..OutputBatch::default()
        });
        id += n;
    }
    out
}

fn store_trades(c: &mut Criterion) {
    let mut g = c.benchmark_group("store");
    g.throughput(Throughput::Elements(TRADES));
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(20));
    g.bench_function("trades_1m_batches_4096", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let dir = tempfile::tempdir().unwrap();
                let path = dir.path().join("bench.db");
                let work = batches();
                let writer = StoreWriter::spawn(
                    &path,
                    Arc::new(PipelineStats::default()),
                    HealthBoard::default(),
                )
                .unwrap();
                let sender = writer.sender();
                let start = Instant::now();
                for batch in work {
                    sender.send_blocking(batch).unwrap();
                }
                let summary = writer.close().unwrap();
                total += start.elapsed();
                assert_eq!(summary.trades, TRADES);
                assert_eq!(summary.last_error, None);
            }
            total
        });
    });
    g.finish();
}

criterion_group!(benches, store_trades);
criterion_main!(benches);
