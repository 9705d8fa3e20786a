#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The SQLite store against real files in temporary directories: schema and migrations,
//! idempotent writes, ordering, read-only and locked databases, write failures, crash safety
//! (a child process killed with SIGKILL) and the read queries.

mod support;

use std::path::{Path, PathBuf};

use std::sync::Arc;
use std::time::{Duration, Instant};
use support::tmpfs::Tmpfs;

use rusqlite::{Connection, OpenFlags};
use tickwatch::alerts::DeliveryOutcome;
use tickwatch::domain::{AlertRecord, ClosedCandle, DeliveryRecord, OutputBatch, TradeRecord};
use tickwatch::domain::{Candle, Interval, Side, Symbol, TradeTick, Venue, VenueSymbol};
use tickwatch::pipeline::{HealthBoard, PipelineStats, SourceState};
use tickwatch::store::{
    self, HEALTH_NAME, SCHEMA_VERSION, StoreError, StoreWriter, WriterConfig, queries,
};
use tickwatch::testdata::cannot_run;

const T0: i64 = 1_700_000_000_000;

fn sym(s: &str) -> Symbol {
    Symbol::new(s).unwrap()
}

fn key(venue: Venue, s: &str) -> VenueSymbol {
    VenueSymbol::new(venue, sym(s))
}

fn trade(k: VenueSymbol, id: u64) -> TradeRecord {
    TradeRecord {
        key: k,
        ts_ms: T0 + id as i64,
        tick: TradeTick {
            trade_id: id,
            price: 100.0 + id as f64 * 0.01,
            qty: 0.5,
            side: if id.is_multiple_of(2) {
                Side::Buy
            } else {
                Side::Sell
            },
        },
    }
}

fn trades(k: VenueSymbol, ids: std::ops::RangeInclusive<u64>) -> OutputBatch {
    OutputBatch {
        trades: ids.map(|id| trade(k, id)).collect(),
        ..OutputBatch::default()
    }
}

fn closed(
    k: VenueSymbol,
    interval: Interval,
    open_ms: i64,
    close: f64,
    rsi: Option<f64>,
) -> ClosedCandle {
    ClosedCandle {
        key: k,
        interval,
        candle: Candle {
            open_ms,
            open: 100.0,
            high: close.max(100.0) + 1.0,
            low: close.min(100.0) - 1.0,
            close,
            volume: 3.0,
            trades: 7,
        },
        columns: Arc::from(vec!["rsi14".to_string(), "ema20".to_string()]),
        values: vec![rsi, Some(close - 0.5)].into_boxed_slice(),
    }
}

fn db_in(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("sub").join("t.db")
}

fn spawn(path: &Path) -> (StoreWriter, Arc<PipelineStats>, HealthBoard) {
    let stats = Arc::new(PipelineStats::default());
    let health = HealthBoard::default();
    let w = StoreWriter::spawn(path, stats.clone(), health.clone()).unwrap();
    (w, stats, health)
}

fn count(conn: &Connection, sql: &str) -> i64 {
    conn.query_row(sql, [], |r| r.get(0)).unwrap()
}

fn db_health(h: &HealthBoard) -> Option<tickwatch::pipeline::SourceHealth> {
    h.snapshot().into_iter().find(|s| s.name == HEALTH_NAME)
}

fn wait_for(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn schema_is_created_with_its_version_and_wal() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_in(&dir);
    let conn = store::open(&path).unwrap();
    assert_eq!(count(&conn, "PRAGMA user_version"), SCHEMA_VERSION);
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    assert_eq!(count(&conn, "PRAGMA page_size"), 16384);
    for name in [
        "trades",
        "candles",
        "indicator_values",
        "alerts",
        "alert_deliveries",
        "candles_with_indicators",
        "trades_by_time",
    ] {
        let n: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE name = ?1",
                [name],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(n, 1, "{name} missing");
    }
    // every table and column is documented
    for col in [
        "taker_side",
        "trade_id",
        "open_ms",
        "indicators",
        "delivered",
        "alert_deliveries",
        "sink",
    ] {
        assert!(store::SCHEMA_DOC.contains(col), "{col} undocumented");
    }
}

#[test]
fn reopening_migrates_nothing_and_keeps_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_in(&dir);
    let (w, _, _) = spawn(&path);
    w.sender()
        .send_blocking(trades(key(Venue::Binance, "BTCUSDT"), 1..=10))
        .unwrap();
    w.close().unwrap();
    for _ in 0..2 {
        let conn = store::open(&path).unwrap();
        assert_eq!(count(&conn, "PRAGMA user_version"), SCHEMA_VERSION);
        assert_eq!(count(&conn, "SELECT COUNT(*) FROM trades"), 10);
    }
}

#[test]
fn a_newer_schema_is_refused_with_advice() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_in(&dir);
    drop(store::open(&path).unwrap());
    Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", 99)
        .unwrap();
    let err = store::open(&path).unwrap_err();
    assert!(
        matches!(err, StoreError::NewerSchema { found: 99, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("upgrade tickwatch"), "{err}");
    let err = store::open_readonly(&path).unwrap_err();
    assert!(matches!(err, StoreError::NewerSchema { .. }), "{err:?}");
    let err = StoreWriter::spawn(&path, Arc::default(), HealthBoard::default())
        .err()
        .unwrap();
    assert!(matches!(err, StoreError::NewerSchema { .. }), "{err:?}");
}

#[test]
fn open_readonly_says_how_to_create_a_missing_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("none.db");
    let err = store::open_readonly(&path).unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
    assert!(err.to_string().contains("tickwatch record"), "{err}");
    assert!(!path.exists(), "a read-only open must not create the file");
    std::fs::write(
        &path,
        b"this is not sqlite, just some text that is long enough......",
    )
    .unwrap();
    let err = store::open_readonly(&path).unwrap_err();
    assert!(matches!(err, StoreError::NotADatabase { .. }), "{err:?}");
}

#[test]
fn duplicates_are_ignored_and_candles_upserted() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_in(&dir);
    let k = key(Venue::Binance, "BTCUSDT");
    let (w, stats, _) = spawn(&path);
    let s = w.sender();
    s.send_blocking(trades(k, 1..=3)).unwrap();
    let mut b = trades(k, 2..=4);
    b.trades.push(trade(k, 4));
    b.candles.push(closed(k, Interval::M1, T0, 101.0, None));
    s.send_blocking(b).unwrap();
    s.send_blocking(OutputBatch {
        candles: vec![closed(k, Interval::M1, T0, 102.0, Some(55.0))],
        ..OutputBatch::default()
    })
    .unwrap();
    let sum = w.close().unwrap();
    assert_eq!((sum.trades, sum.duplicate_trades, sum.candles), (7, 3, 2));
    assert_eq!(sum.last_error, None);
    assert_eq!(PipelineStats::get(&stats.store_written), 9);
    assert_eq!(PipelineStats::get(&stats.store_pending), 0);

    let conn = store::open_readonly(&path).unwrap();
    assert_eq!(count(&conn, "SELECT COUNT(*) FROM trades"), 4);
    assert_eq!(count(&conn, "SELECT COUNT(*) FROM candles"), 1);
    let close: f64 = conn
        .query_row("SELECT close FROM candles", [], |r| r.get(0))
        .unwrap();
    assert_eq!(close, 102.0);
    // ema20 replaced, rsi14 added once defined; a warming-up value is never stored
    let vals: Vec<(String, f64)> = conn
        .prepare("SELECT name, value FROM indicator_values ORDER BY name")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(vals, vec![("ema20".into(), 101.5), ("rsi14".into(), 55.0)]);
    let side: String = conn
        .query_row(
            "SELECT taker_side FROM trades WHERE trade_id = 2",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(side, "buy");
    let json: String = conn
        .query_row("SELECT indicators FROM candles_with_indicators", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(json, r#"{"ema20":101.5,"rsi14":55.0}"#);
}

#[test]
fn batches_are_merged_but_the_database_is_always_a_prefix() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_in(&dir);
    let k = key(Venue::Coinbase, "BTC-USD");
    let (w, stats, _) = spawn(&path);
    let s = w.sender();
    let reader_path = path.clone();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stop2 = stop.clone();
    // A concurrent reader must only ever see trade ids 1..k and whole batches (each batch holds
    // 100 trades and one candle).
    let reader = std::thread::spawn(move || {
        let conn = store::open_readonly(&reader_path).unwrap();
        let mut samples = 0;
        while !stop2.load(std::sync::atomic::Ordering::Relaxed) {
            let (n, max, candles): (i64, Option<i64>, i64) = conn
                .query_row(
                    "SELECT (SELECT COUNT(*) FROM trades), (SELECT MAX(trade_id) FROM trades),
                            (SELECT COUNT(*) FROM candles)",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                )
                .unwrap();
            assert_eq!(n, max.unwrap_or(0), "gap in trade ids");
            assert_eq!(n, candles * 100, "a batch was split across transactions");
            samples += 1;
        }
        samples
    });
    for b in 0..300u64 {
        let mut batch = trades(k, b * 100 + 1..=b * 100 + 100);
        batch
            .candles
            .push(closed(k, Interval::S1, T0 + b as i64 * 1000, 100.0, None));
        s.send_blocking(batch).unwrap();
    }
    let sum = w.close().unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let samples = reader.join().unwrap();
    assert!(samples > 0);
    assert_eq!(sum.trades, 30_000);
    assert!(sum.transactions < 300, "batches were not merged: {sum:?}");
    assert_eq!(PipelineStats::get(&stats.store_written), 30_300);
    assert_eq!(PipelineStats::get(&stats.store_pending), 0);
    let conn = store::open_readonly(&path).unwrap();
    assert_eq!(
        queries::trade_count(&conn, k.venue, k.symbol).unwrap(),
        30_000
    );
    assert_eq!(
        queries::max_trade_id(&conn, k.venue, k.symbol).unwrap(),
        Some(30_000)
    );
}

#[test]
fn close_flushes_everything_and_later_sends_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_in(&dir);
    let k = key(Venue::Sim, "SIMUSD");
    let (w, stats, _) = spawn(&path);
    let s = w.sender();
    for b in 0..50u64 {
        // try_send may find the channel full; a caller that can wait falls back to blocking
        let batch = trades(k, b * 10 + 1..=b * 10 + 10);
        if let Err(back) = s.try_send(batch) {
            s.send_blocking(back).unwrap();
        }
    }
    let sum = w.close().unwrap();
    assert_eq!(sum.trades, 500);
    let refused = trades(k, 501..=502);
    assert_eq!(s.try_send(refused.clone()), Err(refused.clone()));
    assert_eq!(s.send_blocking(refused.clone()), Err(refused));
    assert_eq!(PipelineStats::get(&stats.store_pending), 0);
    let conn = store::open_readonly(&path).unwrap();
    assert_eq!(count(&conn, "SELECT COUNT(*) FROM trades"), 500);
}

/// Root ignores file modes, so as root the read-only path is exercised by opening with
/// `SQLITE_OPEN_READ_ONLY` instead of through `chmod`.
#[test]
fn a_read_only_database_is_reported_as_such() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = db_in(&dir);
    drop(store::open(&path).unwrap());
    let sub = path.parent().unwrap().to_path_buf();
    for f in std::fs::read_dir(&sub).unwrap() {
        let f = f.unwrap().path();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o444)).unwrap();
    }
    std::fs::set_permissions(&sub, std::fs::Permissions::from_mode(0o555)).unwrap();
    let modes_enforced = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .is_err();
    let err = if modes_enforced {
        eprintln!("read-only test: via chmod 0444/0555");
        let health = HealthBoard::default();
        let err = StoreWriter::spawn(&path, Arc::default(), health.clone())
            .err()
            .unwrap();
        assert!(
            matches!(db_health(&health).unwrap().state, SourceState::Failed(_)),
            "health must show the failure"
        );
        err
    } else {
        eprintln!("read-only test: running as root, via SQLITE_OPEN_READ_ONLY");
        store::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY)
            .err()
            .unwrap()
    };
    std::fs::set_permissions(&sub, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert!(matches!(err, StoreError::ReadOnly { .. }), "{err:?}");
    assert!(err.to_string().contains("--db OTHER.db"), "{err}");
}

#[test]
fn a_locked_database_is_refused_at_spawn() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_in(&dir);
    drop(store::open(&path).unwrap());
    let other = Connection::open(&path).unwrap();
    other.execute_batch("BEGIN EXCLUSIVE; INSERT INTO alerts (alert_id, ts_ms, venue, symbol, rule, message) VALUES ('x', 1, 'sim', 'A', 'r', 'm');").unwrap();
    let health = HealthBoard::default();
    let err = StoreWriter::spawn(&path, Arc::default(), health.clone())
        .err()
        .unwrap();
    assert!(matches!(err, StoreError::Locked { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("locked by another process") && msg.contains("--db"),
        "{msg}"
    );
    match db_health(&health).unwrap().state {
        SourceState::Failed(r) => assert!(r.contains("locked"), "{r}"),
        s => panic!("health {s:?}"),
    }
    other.execute_batch("ROLLBACK").unwrap();
    assert!(StoreWriter::spawn(&path, Arc::default(), health).is_ok());
}

#[test]
fn a_lock_taken_mid_run_shows_failed_then_recovers_without_loss() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_in(&dir);
    let k = key(Venue::Binance, "ETHUSDT");
    let stats = Arc::new(PipelineStats::default());
    let health = HealthBoard::default();
    let config = WriterConfig {
        backoff_start: Duration::from_millis(50),
        max_attempts: 20,
        ..WriterConfig::default()
    };
    let w = StoreWriter::spawn_with(
        &path,
        stats.clone(),
        health.clone(),
        config,
        Default::default(),
    )
    .unwrap();
    let s = w.sender();
    s.send_blocking(trades(k, 1..=100)).unwrap();
    wait_for("first commit", Duration::from_secs(10), || {
        PipelineStats::get(&stats.store_written) == 100
    });
    let other = Connection::open(&path).unwrap();
    other.execute_batch("BEGIN EXCLUSIVE").unwrap();
    for b in 1..10u64 {
        s.send_blocking(trades(k, b * 100 + 1..=b * 100 + 100))
            .unwrap();
    }
    wait_for(
        "health to show the lock",
        Duration::from_secs(15),
        || matches!(db_health(&health).map(|h| h.state), Some(SourceState::Failed(r)) if r.contains("locked")),
    );
    assert!(PipelineStats::get(&stats.store_pending) > 0);
    other.execute_batch("COMMIT").unwrap();
    wait_for("recovery", Duration::from_secs(15), || {
        db_health(&health).map(|h| h.state) == Some(SourceState::Live)
    });
    let sum = w.close().unwrap();
    assert_eq!(sum.last_error, None, "nothing may be lost: {sum:?}");
    assert!(sum.failed_attempts >= 1);
    assert_eq!(sum.trades, 1000);
    assert_eq!(PipelineStats::get(&stats.store_dropped), 0);
    let conn = store::open_readonly(&path).unwrap();
    assert_eq!(
        queries::trade_count(&conn, k.venue, k.symbol).unwrap(),
        1000
    );
}

#[test]
fn a_batch_that_keeps_failing_is_dropped_counted_and_the_rest_committed() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_in(&dir);
    let k = key(Venue::Binance, "BTCUSDT");
    let stats = Arc::new(PipelineStats::default());
    let health = HealthBoard::default();
    let config = WriterConfig {
        backoff_start: Duration::from_millis(5),
        max_attempts: 3,
        ..WriterConfig::default()
    };
    let w = StoreWriter::spawn_with(
        &path,
        stats.clone(),
        health.clone(),
        config,
        Default::default(),
    )
    .unwrap();
    // A trigger stands in for a failure that persists (disk full, corrupt page) for one batch.
    Connection::open(&path)
        .unwrap()
        .execute_batch(
            "CREATE TRIGGER poison BEFORE INSERT ON trades WHEN NEW.price < 0
             BEGIN SELECT RAISE(ABORT, 'injected failure'); END;",
        )
        .unwrap();
    let s = w.sender();
    s.send_blocking(trades(k, 1..=10)).unwrap();
    let mut bad = trades(k, 11..=20);
    bad.trades[5].tick.price = -1.0;
    s.send_blocking(bad).unwrap();
    s.send_blocking(trades(k, 21..=30)).unwrap();
    let sum = w.close().unwrap();
    assert_eq!(sum.dropped_rows, 10);
    assert!(
        sum.last_error
            .as_deref()
            .unwrap()
            .contains("injected failure"),
        "{sum:?}"
    );
    assert_eq!(PipelineStats::get(&stats.store_dropped), 10);
    assert_eq!(PipelineStats::get(&stats.store_written), 20);
    assert_eq!(PipelineStats::get(&stats.store_pending), 0);
    let h = db_health(&health).unwrap();
    assert!(h.last_error.unwrap().contains("injected failure"));
    let conn = store::open_readonly(&path).unwrap();
    let ids: Vec<i64> = conn
        .prepare("SELECT trade_id FROM trades ORDER BY trade_id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(ids, (1..=10).chain(21..=30).collect::<Vec<i64>>());
}

const CHILD_ENV: &str = "TICKWATCH_STORE_CRASH_DB";
const CHILD_BATCH: u64 = 1000;
const CHILD_TOTAL: u64 = 1_000_000;

fn child_batch(k: VenueSymbol, b: u64) -> OutputBatch {
    let mut batch = trades(k, b * CHILD_BATCH + 1..=(b + 1) * CHILD_BATCH);
    batch.candles.push(closed(
        k,
        Interval::S1,
        T0 + b as i64 * 1000,
        100.0,
        Some(50.0),
    ));
    batch
}

/// Run by `a_kill_9_leaves_a_clean_prefix_that_a_replay_completes` in a child process.
#[test]
#[ignore = "helper: runs only as the child of the crash test"]
fn crash_child_writer() {
    let Ok(path) = std::env::var(CHILD_ENV) else {
        eprintln!("only meaningful as the crash test's child: nothing to do");
        return;
    };
    let k = key(Venue::Binance, "BTCUSDT");
    let (w, _, _) = spawn(Path::new(&path));
    let s = w.sender();
    for b in 0..CHILD_TOTAL / CHILD_BATCH {
        s.send_blocking(child_batch(k, b)).unwrap();
    }
    w.close().unwrap();
}

#[test]
fn a_kill_9_leaves_a_clean_prefix_that_a_replay_completes() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_in(&dir);
    let k = key(Venue::Binance, "BTCUSDT");
    let exe = std::env::current_exe().unwrap();
    let mut last = 0;
    for delay_ms in [0u64, 40, 150] {
        let mut child = std::process::Command::new(&exe)
            .args([
                "crash_child_writer",
                "--exact",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, &path)
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // Wait until the child has committed more than the previous round left behind.
        wait_for("the child to commit", Duration::from_secs(60), || {
            store::open_readonly(&path)
                .ok()
                .and_then(|c| queries::trade_count(&c, k.venue, k.symbol).ok())
                .is_some_and(|n| n > last)
        });
        std::thread::sleep(Duration::from_millis(delay_ms));
        assert!(
            child.try_wait().unwrap().is_none(),
            "child finished before the kill: raise CHILD_TOTAL"
        );
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();

        let conn = Connection::open(&path).unwrap();
        let check: String = conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(check, "ok");
        let n = queries::trade_count(&conn, k.venue, k.symbol).unwrap();
        let max = queries::max_trade_id(&conn, k.venue, k.symbol)
            .unwrap()
            .unwrap();
        let min = count(&conn, "SELECT MIN(trade_id) FROM trades");
        assert_eq!(
            (min, n),
            (1, max),
            "trade ids are not a gap-free prefix 1..{max}"
        );
        assert_eq!(n % CHILD_BATCH, 0, "a batch was committed in part");
        assert_eq!(
            count(&conn, "SELECT COUNT(*) FROM candles") as u64,
            n / CHILD_BATCH
        );
        assert!(
            n >= last && n < CHILD_TOTAL,
            "round after {delay_ms} ms: {n} trades"
        );
        eprintln!("killed after {delay_ms} ms: {n} trades committed");
        last = n;
    }
    // Replaying everything from the start completes the database without duplicates.
    let (w, _, _) = spawn(&path);
    let s = w.sender();
    for b in 0..CHILD_TOTAL / CHILD_BATCH {
        s.send_blocking(child_batch(k, b)).unwrap();
    }
    let sum = w.close().unwrap();
    assert_eq!(sum.duplicate_trades, last);
    let conn = store::open_readonly(&path).unwrap();
    assert_eq!(
        queries::trade_count(&conn, k.venue, k.symbol).unwrap(),
        CHILD_TOTAL
    );
    assert_eq!(
        queries::max_trade_id(&conn, k.venue, k.symbol).unwrap(),
        Some(CHILD_TOTAL)
    );
    assert_eq!(
        count(&conn, "SELECT COUNT(*) FROM candles") as u64,
        CHILD_TOTAL / CHILD_BATCH
    );
}

#[test]
fn candle_queries_join_indicators_and_filter_ranges() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_in(&dir);
    let bin = key(Venue::Binance, "BTCUSDT");
    let cb = key(Venue::Coinbase, "BTCUSDT");
    let (w, _, _) = spawn(&path);
    let mut batch = OutputBatch::default();
    for i in 0..10i64 {
        let open_ms = T0 + i * 60_000;
        let rsi = (i >= 3).then_some(40.0 + i as f64);
        batch
            .candles
            .push(closed(bin, Interval::M1, open_ms, 100.0 + i as f64, rsi));
        batch
            .candles
            .push(closed(bin, Interval::M5, open_ms, 1.0, None));
    }
    batch
        .candles
        .push(closed(cb, Interval::M1, T0 + 60_000, 7.0, Some(1.0)));
    batch.trades.push(trade(key(Venue::Sim, "ONLYTRADES"), 5));
    w.sender().send_blocking(batch).unwrap();
    w.close().unwrap();
    let conn = store::open_readonly(&path).unwrap();

    let all = queries::candles(
        &conn,
        Some(Venue::Binance),
        sym("BTCUSDT"),
        Interval::M1,
        None,
        None,
        None,
    )
    .unwrap();
    assert_eq!(all.len(), 10);
    assert!(
        all.windows(2)
            .all(|w| w[0].1.candle.open_ms < w[1].1.candle.open_ms)
    );
    assert_eq!(
        all[0].1.values.len(),
        1,
        "rsi undefined while warming up: {:?}",
        all[0].1.values
    );
    assert_eq!(all[5].1.values.get("rsi14"), Some(&45.0));
    assert_eq!(all[5].1.values.get("ema20"), Some(&104.5));
    assert_eq!(all[5].1.candle.close, 105.0);

    let ranged = queries::candles(
        &conn,
        Some(Venue::Binance),
        sym("btcusdt"),
        Interval::M1,
        Some(T0 + 2 * 60_000),
        Some(T0 + 6 * 60_000),
        Some(3),
    )
    .unwrap();
    let opens: Vec<i64> = ranged
        .iter()
        .map(|(_, c)| (c.candle.open_ms - T0) / 60_000)
        .collect();
    assert_eq!(
        opens,
        vec![4, 5, 6],
        "limit keeps the latest of the range, ascending"
    );
    assert_eq!(ranged[0].1.values.get("rsi14"), Some(&44.0));

    let both = queries::candles(
        &conn,
        None,
        sym("BTCUSDT"),
        Interval::M1,
        Some(T0 + 60_000),
        Some(T0 + 60_000),
        None,
    )
    .unwrap();
    let venues: Vec<Venue> = both.iter().map(|(v, _)| *v).collect();
    assert_eq!(venues, vec![Venue::Binance, Venue::Coinbase]);
    assert_eq!(both[1].1.values.get("rsi14"), Some(&1.0));
    assert_eq!(both[0].1.values.get("rsi14"), None);

    assert!(
        queries::candles(&conn, None, sym("NOPE"), Interval::M1, None, None, None)
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        queries::venues_for(&conn, sym("BTCUSDT")).unwrap(),
        vec![Venue::Binance, Venue::Coinbase]
    );
    assert_eq!(
        queries::venues_for(&conn, sym("ONLYTRADES")).unwrap(),
        vec![Venue::Sim]
    );
    assert_eq!(
        queries::symbols(&conn).unwrap(),
        vec![
            (Venue::Binance, sym("BTCUSDT"), 20),
            (Venue::Coinbase, sym("BTCUSDT"), 1),
            (Venue::Sim, sym("ONLYTRADES"), 0),
        ]
    );
    assert_eq!(
        queries::trade_count(&conn, Venue::Sim, sym("ONLYTRADES")).unwrap(),
        1
    );
    assert_eq!(
        queries::max_trade_id(&conn, Venue::Binance, sym("BTCUSDT")).unwrap(),
        None
    );
}

#[test]
fn alerts_are_stored_once_with_their_deliveries() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_in(&dir);
    let k = key(Venue::Binance, "BTCUSDT");
    let alert = |id: &str, ts: i64| AlertRecord {
        alert_id: id.into(),
        ts_ms: ts,
        key: k,
        rule: "price > 100".into(),
        value: 101.5,
        message: "BTCUSDT above 100".into(),
        delivered: "tui".into(),
        severity: tickwatch::alerts::Severity::Critical,
    };
    let batch = OutputBatch {
        alerts: vec![alert("a1", T0), alert("a2", T0 + 5)],
        deliveries: vec![
            DeliveryRecord {
                alert_id: "a1".into(),
                sink: "desktop".into(),
                outcome: DeliveryOutcome::Sent,
            },
            DeliveryRecord {
                alert_id: "a1".into(),
                sink: "webhook".into(),
                outcome: DeliveryOutcome::Failed("HTTP 500".into()),
            },
        ],
        ..OutputBatch::default()
    };
    let (w, _, _) = spawn(&path);
    // twice: the second write changes nothing
    w.sender().send_blocking(batch.clone()).unwrap();
    w.sender().send_blocking(batch).unwrap();
    w.close().unwrap();
    let conn = store::open_readonly(&path).unwrap();
    let got = queries::alerts(&conn, None, None).unwrap();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].alert_id, "a2", "newest first");
    assert_eq!(got[1].delivered, "tui,desktop,webhook(failed: HTTP 500)");
    assert_eq!(
        got[1],
        AlertRecord {
            delivered: got[1].delivered.clone(),
            ..alert("a1", T0)
        }
    );
    assert_eq!(queries::alerts(&conn, Some(T0 + 1), None).unwrap().len(), 1);
    assert_eq!(
        queries::alerts(&conn, None, Some(1)).unwrap()[0].alert_id,
        "a2"
    );
    assert_eq!(count(&conn, "SELECT COUNT(*) FROM alert_deliveries"), 2);
    assert_eq!(
        count(
            &conn,
            "SELECT ok FROM alert_deliveries WHERE sink = 'webhook'"
        ),
        0
    );
}

#[test]
fn default_paths_are_in_one_data_directory() {
    let live = store::default_db_path();
    let demo = store::demo_db_path();
    assert_eq!(live.file_name().unwrap(), "tickwatch.db");
    assert_eq!(demo.file_name().unwrap(), "demo.db");
    assert_eq!(live.parent(), demo.parent());
}

#[test]
fn a_version_1_database_is_migrated_keeping_its_alerts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v1.db");
    {
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(tickwatch::store::MIGRATIONS[0]).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        conn.execute(
            "INSERT INTO alerts (alert_id, ts_ms, venue, symbol, rule, value, message, delivered)
             VALUES ('old', 1, 'binance', 'BTCUSDT', 'r', 1.0, 'm', 'tui')",
            [],
        )
        .unwrap();
    }
    let conn = store::open(&path).unwrap();
    assert_eq!(count(&conn, "PRAGMA user_version"), SCHEMA_VERSION);
    let got = queries::alerts(&conn, None, None).unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].severity, tickwatch::alerts::Severity::Warning);
    assert_eq!(count(&conn, "SELECT COUNT(*) FROM alert_rules"), 0);
}

#[test]
fn a_version_3_database_keeps_its_outcomes_and_its_skips_become_skips() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v3.db");
    {
        let conn = Connection::open(&path).unwrap();
        for m in &tickwatch::store::MIGRATIONS[..3] {
            conn.execute_batch(m).unwrap();
        }
        conn.pragma_update(None, "user_version", 3).unwrap();
        // what version 3 wrote: a skip was a failure whose error began with "skipped: "
        conn.execute_batch(
            "INSERT INTO alerts (alert_id, ts_ms, venue, symbol, rule, value, message, delivered)
             VALUES ('old', 1, 'binance', 'BTCUSDT', 'r', 1.0, 'm',
                     'tui,desktop,webhook:w(failed: HTTP 500),terminal(failed: skipped: the same rule on BTCUSDT was delivered 3 s ago [dedupe_secs = 15])');
             INSERT INTO alert_deliveries (alert_id, sink, ts_ms, ok, error) VALUES
                 ('old', 'desktop', 2, 1, NULL),
                 ('old', 'webhook:w', 2, 0, 'HTTP 500'),
                 ('old', 'terminal', 2, 0, 'skipped: the same rule on BTCUSDT was delivered 3 s ago (dedupe_secs = 15)');",
        )
        .unwrap();
    }
    drop(store::open(&path).unwrap());
    let conn = store::open_readonly(&path).unwrap();
    assert_eq!(count(&conn, "PRAGMA user_version"), SCHEMA_VERSION);
    let got = queries::deliveries(&conn, None).unwrap();
    let outcomes: Vec<(&str, &DeliveryOutcome)> = got["old"]
        .iter()
        .map(|d| (d.sink.as_str(), &d.outcome))
        .collect();
    assert_eq!(
        outcomes,
        [
            ("desktop", &DeliveryOutcome::Sent),
            (
                "terminal",
                &DeliveryOutcome::Skipped(
                    "the same rule on BTCUSDT was delivered 3 s ago (dedupe_secs = 15)".into()
                )
            ),
            ("webhook:w", &DeliveryOutcome::Failed("HTTP 500".into())),
        ]
    );
    assert_eq!(
        queries::alerts(&conn, None, None).unwrap()[0].delivered,
        "tui,desktop,webhook:w(failed: HTTP 500),terminal(skipped: the same rule on BTCUSDT was delivered 3 s ago [dedupe_secs = 15])"
    );
}

#[test]
fn deliveries_recorded_before_their_alert_still_show_in_delivered() {
    // the notifier can be quicker than the engine's batch that carries the alert itself
    let dir = tempfile::tempdir().unwrap();
    let path = db_in(&dir);
    let k = key(Venue::Sim, "BTCUSDT");
    let (w, _, _) = spawn(&path);
    w.sender()
        .send_blocking(OutputBatch {
            deliveries: vec![
                DeliveryRecord {
                    alert_id: "early".into(),
                    sink: "terminal".into(),
                    outcome: DeliveryOutcome::Sent,
                },
                DeliveryRecord {
                    alert_id: "early".into(),
                    sink: "webhook:hook".into(),
                    outcome: DeliveryOutcome::Failed("HTTP 500".into()),
                },
            ],
            ..OutputBatch::default()
        })
        .unwrap();
    w.sender()
        .send_blocking(OutputBatch {
            alerts: vec![AlertRecord {
                alert_id: "early".into(),
                ts_ms: T0,
                key: k,
                rule: "anomaly".into(),
                value: 7.0,
                message: "m".into(),
                delivered: "tui".into(),
                severity: Default::default(),
            }],
            deliveries: vec![DeliveryRecord {
                alert_id: "early".into(),
                sink: "email".into(),
                outcome: DeliveryOutcome::Sent,
            }],
            ..OutputBatch::default()
        })
        .unwrap();
    w.close().unwrap();
    let conn = store::open_readonly(&path).unwrap();
    let got = queries::alerts(&conn, None, None).unwrap();
    assert_eq!(
        got[0].delivered,
        "tui,terminal,webhook:hook(failed: HTTP 500),email"
    );
}

/// The monitor's writer on a disk that fills up: it does not retry batch by batch, says it
/// runs in memory, counts what it does not store, and writes again once there is room.
#[test]
fn a_full_disk_leaves_the_monitor_in_memory_until_there_is_room_again() {
    let dir = tempfile::tempdir().unwrap();
    let Some(fs) = Tmpfs::mount(&dir.path().join("small"), "1m") else {
        return cannot_run("cannot mount a tmpfs (needs root)");
    };
    let path = fs.0.join("h.db");
    let k = key(Venue::Binance, "BTCUSDT");
    let stats = Arc::new(PipelineStats::default());
    let health = HealthBoard::default();
    let config = WriterConfig {
        probe_every: Duration::from_millis(300),
        ..WriterConfig::default()
    };
    let w = StoreWriter::spawn_with(
        &path,
        stats.clone(),
        health.clone(),
        config,
        Default::default(),
    )
    .unwrap();
    // fill the disk, then give back 200 KB: room for the first batches, whatever size the
    // schema's empty tables take
    let filler = fs.0.join("filler");
    {
        use std::io::Write;
        let mut f = std::fs::File::create(&filler).unwrap();
        while f.write_all(&[0u8; 8192]).is_ok() {}
        let len = f.metadata().unwrap().len();
        f.set_len(len.saturating_sub(200 * 1024)).unwrap();
    }
    let s = w.sender();
    let mut next = 1u64;
    let t = Instant::now();
    while !matches!(
        db_health(&health).map(|h| h.state),
        Some(SourceState::Failed(_))
    ) {
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "the disk never filled"
        );
        s.send_blocking(trades(k, next..=next + 999)).unwrap();
        next += 1000;
    }
    let Some(SourceState::Failed(why)) = db_health(&health).map(|h| h.state) else {
        unreachable!()
    };
    assert!(why.contains("disk full"), "{why}");
    assert!(why.contains("running in memory"), "{why}");
    // no retries with backoff: batches sent while full are counted at once
    let before = PipelineStats::get(&stats.store_dropped);
    let t = Instant::now();
    for _ in 0..20 {
        s.send_blocking(trades(k, next..=next + 999)).unwrap();
        next += 1000;
    }
    wait_for("full-disk batches counted", Duration::from_secs(5), || {
        PipelineStats::get(&stats.store_dropped) >= before + 20_000
    });
    assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
    // room again: the next probe writes, and the writer is live
    std::fs::remove_file(&filler).unwrap();
    let resumed_from = next;
    let t = Instant::now();
    while db_health(&health).map(|h| h.state) != Some(SourceState::Live) {
        assert!(t.elapsed() < Duration::from_secs(10), "never recovered");
        s.send_blocking(trades(k, next..=next + 9)).unwrap();
        next += 10;
        std::thread::sleep(Duration::from_millis(50));
    }
    s.send_blocking(trades(k, next..=next + 9)).unwrap();
    let sum = w.close().unwrap();
    assert!(sum.dropped_rows >= 20_000, "{sum:?}");
    let conn = store::open_readonly(&path).unwrap();
    let stored = count(
        &conn,
        &format!("SELECT COUNT(*) FROM trades WHERE trade_id >= {resumed_from}"),
    );
    assert!(stored >= 10, "written after recovery: {stored}");
    // every row is accounted for: stored or counted as not stored
    let all = count(&conn, "SELECT COUNT(*) FROM trades") as u64;
    assert_eq!(all + sum.dropped_rows, next + 9);
}

/// A stop while the database is locked: the writer gives up at the stop's storage deadline,
/// counts what it could not write, and says so, instead of retrying every queued batch.
#[test]
fn a_stop_ends_writing_at_its_deadline_and_counts_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_in(&dir);
    let k = key(Venue::Binance, "BTCUSDT");
    let stats = Arc::new(PipelineStats::default());
    let stop = tickwatch::pipeline::StopClock::default();
    let config = WriterConfig {
        backoff_start: Duration::from_millis(200),
        max_attempts: 1_000,
        ..WriterConfig::default()
    };
    let w = StoreWriter::spawn_with(
        &path,
        stats.clone(),
        HealthBoard::default(),
        config,
        stop.clone(),
    )
    .unwrap();
    let other = Connection::open(&path).unwrap();
    other.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let s = w.sender();
    for b in 0..6u64 {
        s.send_blocking(trades(k, b * 100 + 1..=b * 100 + 100))
            .unwrap();
    }
    stop.begin();
    let t = Instant::now();
    let sum = w.close().unwrap();
    let took = t.elapsed();
    assert!(
        took < tickwatch::pipeline::StopClock::STORE + Duration::from_secs(3),
        "close took {took:?}"
    );
    assert_eq!(sum.unwritten_at_stop, 600, "{sum:?}");
    assert!(
        sum.last_error
            .as_deref()
            .unwrap_or("")
            .contains("600 rows not written"),
        "{sum:?}"
    );
    assert_eq!(PipelineStats::get(&stats.store_dropped), 600);
    assert_eq!(PipelineStats::get(&stats.store_pending), 0);
    other.execute_batch("ROLLBACK").unwrap();
}
