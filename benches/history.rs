#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Chart history read back from SQLite: a month of 1m candles of one symbol with the default
//! indicator columns merged into ~200 buckets (what a chart ~200 columns wide asks for), 4 hours
//! of 5m candles unmerged, and the first approach (open the file, read every candle with every
//! indicator value, then merge) for the ratio. The database (built once) also holds a month of
//! 5m candles of the same symbol and a month of 1m candles of another, as a recording would.
//! Target: well under 100 ms for the month, so the chart shows it without a visible pause.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use tickwatch::domain::{Candle, Interval, Symbol, TsMs, Venue, VenueSymbol};
use tickwatch::domain::{ClosedCandle, OutputBatch};
use tickwatch::history::{
    HistoryLoader, HistoryReader, HistoryRequest, HistorySlice, bucket_ms_for, bucketize,
};
use tickwatch::indicators::{IndicatorSet, IndicatorSpec};
use tickwatch::store::{self, queries};
use tickwatch::view::ChartCandle;

/// Midnight UTC, so day-long ranges start on a bucket boundary as often as real ones do not.
const T0: TsMs = 1_700_006_400_000;
const DAY: TsMs = 86_400_000;
const DAYS: TsMs = 30;
const CHART_COLUMNS: usize = 200;

fn btc() -> VenueSymbol {
    VenueSymbol::new(Venue::Binance, Symbol::new("BTCUSDT").unwrap())
}

/// Writes `DAYS` of candles of each series through the store's own batch writer, with the
/// default indicators computed as the engine would.
fn fill(path: &Path) {
    let mut conn = store::open(path).unwrap();
    let eth = VenueSymbol::new(Venue::Binance, Symbol::new("ETHUSDT").unwrap());
    for (key, iv) in [
        (btc(), Interval::M1),
        (btc(), Interval::M5),
        (eth, Interval::M1),
    ] {
        let mut set = IndicatorSet::new(&IndicatorSpec::default_set()).unwrap();
        let columns = set.columns();
        let mut price = 30_000.0f64;
        let mut batch = Vec::new();
        for i in 0..DAYS * DAY / iv.ms() {
            let open = price;
            price *= 1.0 + (i as f64 * 0.7).sin() * 0.001;
            batch.push(ClosedCandle {
                key,
                interval: iv,
                candle: Candle {
                    open_ms: T0 + i * iv.ms(),
                    open,
                    high: open.max(price) * 1.0005,
                    low: open.min(price) * 0.9995,
                    close: price,
                    volume: 1.0 + (i % 17) as f64 * 0.37,
                    trades: 10 + (i % 13) as u64,
                },
                columns: Arc::clone(&columns),
                values: set.update(price),
            });
            if batch.len() == 4096 {
                write(&mut conn, std::mem::take(&mut batch));
            }
        }
        write(&mut conn, batch);
    }
}

fn write(conn: &mut rusqlite::Connection, candles: Vec<ClosedCandle>) {
    let batch = OutputBatch {
        candles,
        ..OutputBatch::default()
    };
    store::write_batches(conn, &[batch]).unwrap();
}

fn default_columns() -> Arc<[String]> {
    IndicatorSpec::default_set()
        .iter()
        .flat_map(IndicatorSpec::columns)
        .collect()
}

/// The approach this replaced: a new connection per request, every candle with every value
/// (~430,000 value rows for the month), then merged.
fn baseline(db: &Path, req: &HistoryRequest) -> HistorySlice {
    let conn = store::open_readonly(db).unwrap();
    let rows = queries::candles(
        &conn,
        Some(req.key.venue),
        req.key.symbol,
        req.interval,
        Some(req.from_ms),
        Some(req.to_ms - 1),
        None,
    )
    .unwrap();
    let n = rows.len();
    let candles = rows.into_iter().map(|(_, c)| ChartCandle {
        values: req
            .columns
            .iter()
            .map(|col| c.values.get(col).copied())
            .collect(),
        candle: c.candle,
        closed: true,
    });
    HistorySlice {
        candles: bucketize(candles, req.bucket_ms),
        source_candles: n,
        first_stored_ms: None,
        last_stored_ms: None,
    }
}

fn history(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("history.db");
    fill(&db);

    let span = DAYS * DAY;
    let month = HistoryRequest {
        id: 1,
        key: btc(),
        interval: Interval::M1,
        from_ms: T0,
        to_ms: T0 + span,
        bucket_ms: bucket_ms_for(Interval::M1, span, CHART_COLUMNS),
        columns: default_columns(),
    };
    let four_hours = HistoryRequest {
        interval: Interval::M5,
        from_ms: T0 + span - 4 * 3_600_000,
        bucket_ms: Interval::M5.ms(),
        ..month.clone()
    };
    // An indicator added to the config after the history was written: stored nowhere, so every
    // bucket looks for it (the slow path of the bucket-end probes).
    let mut with_new: Vec<String> = month.columns.to_vec();
    with_new.push("ema200".to_string());
    let month_new_column = HistoryRequest {
        columns: with_new.into(),
        ..month.clone()
    };

    let mut reader = HistoryReader::new(db.clone());
    // Same answer as the approach it replaces, bit for bit.
    let fast = reader.load(&month).unwrap();
    let slow = baseline(&db, &month);
    assert_eq!(fast.candles, slow.candles);
    assert_eq!(fast.source_candles, 43_200);
    assert!(
        fast.candles.len() <= CHART_COLUMNS + 1,
        "{}",
        fast.candles.len()
    );
    assert_eq!(reader.load(&four_hours).unwrap().candles.len(), 48);

    let mut g = c.benchmark_group("history");
    g.sample_size(30);
    g.measurement_time(Duration::from_secs(8));
    g.bench_function("month_1m_200_buckets", |b| {
        b.iter(|| reader.load(&month).unwrap())
    });
    g.bench_function("4h_5m_raw", |b| {
        b.iter(|| reader.load(&four_hours).unwrap())
    });
    g.bench_function("month_1m_200_buckets_column_not_stored", |b| {
        b.iter(|| reader.load(&month_new_column).unwrap())
    });
    // What the UI waits for: request, the thread's read, the reply.
    let loader = HistoryLoader::spawn(db.clone()).unwrap();
    g.bench_function("month_1m_200_buckets_via_thread", |b| {
        b.iter(|| {
            loader.request(month.clone());
            loader.recv_timeout(Duration::from_secs(10)).unwrap()
        })
    });
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(15));
    g.bench_function("baseline_month_1m_200_buckets", |b| {
        b.iter(|| baseline(&db, &month))
    });
    g.finish();
}

criterion_group!(benches, history);
criterion_main!(benches);
