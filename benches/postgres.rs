#![allow(clippy::unwrap_used, clippy::expect_used)]
//! PostgreSQL, on a real server this bench starts (initdb + pg_ctl, as tests do):
//! - `replay_vs_psql_copy`: the real binary's `replay --headless` of a 200,000-row aggTrades
//!   file into PostgreSQL (parse, engine, candles, storage) against `psql \copy` of the same
//!   trade rows into the same table, each into an emptied table, in one run, alternating;
//! - `history_month_1m`: a month of 1m candles with the default indicators, merged into 200
//!   buckets for the chart, read back through the history reader (target: under 50 ms).

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use tickwatch::domain::{
    Candle, ClosedCandle, Interval, OutputBatch, Symbol, TsMs, Venue, VenueSymbol,
};
use tickwatch::history::{HistoryRequest, HistorySource, PgHistory, bucket_ms_for};
use tickwatch::indicators::{IndicatorSet, IndicatorSpec};
use tickwatch::pipeline::{HealthBoard, PipelineStats, StopClock};
use tickwatch::store::{Location, StoreWriter, WriterConfig};

#[path = "../tests/support/pg.rs"]
#[allow(dead_code)]
mod pg;

use pg::{PASSWORD, PgServer};

const ROWS: u64 = 200_000;
const T0: TsMs = 1_700_006_400_000;
const DAY: TsMs = 86_400_000;

fn location(pg: &PgServer, db: &str) -> Location {
    let mut at = Location::parse(Path::new(&pg.url(db))).unwrap();
    if let Location::Postgres(t) = &mut at {
        t.set_password(PASSWORD);
    }
    at
}

/// The aggTrades dump, and the same rows as `trades` table CSV for `\copy`.
fn files(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let dump = dir.join("BTCUSDT-aggTrades-2023-11-15.csv");
    let rows = dir.join("trades.csv");
    let mut a = String::new();
    let mut b = String::new();
    for id in 1..=ROWS {
        let ts = T0 + id as i64 * 40;
        let price = 30_000.0 + (id as f64 * 0.37).sin() * 50.0;
        let side = if id % 3 == 0 { "true" } else { "false" };
        a.push_str(&format!(
            "{id},{price:.2},0.0{},{id},{id},{ts},{side},true\n",
            id % 9 + 1
        ));
        let taker = if id % 3 == 0 { "sell" } else { "buy" };
        let iso = tickwatch::domain::iso8601(ts);
        b.push_str(&format!(
            "binance,BTCUSDT,{id},{ts},{price:.2},0.0{},{taker},{iso}\n",
            id % 9 + 1
        ));
    }
    std::fs::write(&dump, a).unwrap();
    std::fs::write(&rows, b).unwrap();
    (dump, rows)
}

fn truncate(pg: &PgServer, db: &str) {
    pg.client(db)
        .batch_execute("TRUNCATE trades, candles, indicator_values")
        .unwrap();
}

fn postgres(c: &mut Criterion) {
    let Some(pg) = PgServer::start() else {
        return;
    };
    let db = pg.create_db();
    let dir = tempfile::tempdir().unwrap();
    let (dump, rows) = files(dir.path());
    let url = pg.url(&db);
    let replay = || {
        let out = Command::new(env!("CARGO_BIN_EXE_tickwatch"))
            .env("PGPASSWORD", PASSWORD)
            .env("HOME", dir.path())
            .env("XDG_DATA_HOME", dir.path())
            .args(["--log-file"])
            .arg(dir.path().join("bench.log"))
            .args(["--db", &url, "replay", "--headless"])
            .arg(&dump)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    // the schema and its partitions exist before anything is timed
    replay();
    let stored = pg.query_i64(&db, "SELECT count(*) FROM trades");
    assert_eq!(stored, ROWS as i64);
    let psql_copy = || {
        let out = Command::new("psql")
            .env("PGPASSWORD", PASSWORD)
            .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", &url, "-c"])
            .arg(format!(
                "\\copy trades (venue, symbol, trade_id, ts_ms, price, qty, taker_side, ts) FROM '{}' CSV",
                rows.display()
            ))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    let mut g = c.benchmark_group("postgres");
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(30));
    // Each timed run follows an untimed run of the other command, so that neither inherits a
    // server state the other left (WAL segments already made, a checkpoint due): run back to
    // back, whichever went second was 3-6% faster.
    g.bench_function("replay_200k_aggtrades_headless", |b| {
        b.iter_custom(|n| {
            let mut total = Duration::ZERO;
            for _ in 0..n {
                truncate(&pg, &db);
                psql_copy();
                truncate(&pg, &db);
                let t = Instant::now();
                replay();
                total += t.elapsed();
            }
            total
        })
    });
    g.bench_function("psql_copy_200k_trade_rows", |b| {
        b.iter_custom(|n| {
            let mut total = Duration::ZERO;
            for _ in 0..n {
                truncate(&pg, &db);
                replay();
                truncate(&pg, &db);
                let t = Instant::now();
                psql_copy();
                total += t.elapsed();
            }
            total
        })
    });
    g.finish();

    // a month of 1m candles with the default indicators
    let hist_db = pg.create_db();
    let at = location(&pg, &hist_db);
    let key = VenueSymbol::new(Venue::Binance, Symbol::new("BTCUSDT").unwrap());
    let w = StoreWriter::spawn_at(
        &at,
        Arc::new(PipelineStats::default()),
        HealthBoard::default(),
        WriterConfig::default(),
        StopClock::default(),
    )
    .unwrap();
    let mut set = IndicatorSet::new(&IndicatorSpec::default_set()).unwrap();
    let columns = set.columns();
    let mut price = 30_000.0f64;
    let mut batch = Vec::new();
    for i in 0..30 * DAY / 60_000 {
        let open = price;
        price *= 1.0 + (i as f64 * 0.7).sin() * 0.001;
        batch.push(ClosedCandle {
            key,
            interval: Interval::M1,
            candle: Candle {
                open_ms: T0 + i * 60_000,
                open,
                high: open.max(price) * 1.0005,
                low: open.min(price) * 0.9995,
                close: price,
                volume: 1.0,
                trades: 10,
            },
            columns: Arc::clone(&columns),
            values: set.update(price),
        });
        if batch.len() == 4096 {
            w.sender()
                .send_blocking(OutputBatch {
                    candles: std::mem::take(&mut batch),
                    ..OutputBatch::default()
                })
                .unwrap();
        }
    }
    w.sender()
        .send_blocking(OutputBatch {
            candles: batch,
            ..OutputBatch::default()
        })
        .unwrap();
    w.close().unwrap();
    pg.client(&hist_db).batch_execute("ANALYZE").unwrap();
    let Location::Postgres(t) = at else {
        unreachable!()
    };
    let mut reader = PgHistory::new(*t);
    let span = 30 * DAY;
    let month = HistoryRequest {
        id: 1,
        key,
        interval: Interval::M1,
        from_ms: T0,
        to_ms: T0 + span,
        bucket_ms: bucket_ms_for(Interval::M1, span, 200),
        columns: columns.clone(),
    };
    let slice = reader.load(&month).unwrap();
    assert_eq!(slice.source_candles, 43_200);
    let mut g = c.benchmark_group("postgres_history");
    g.sample_size(30);
    g.measurement_time(Duration::from_secs(8));
    g.bench_function("month_1m_200_buckets", |b| {
        b.iter(|| reader.load(&month).unwrap())
    });
    g.finish();
}

criterion_group!(benches, postgres);
criterion_main!(benches);
