#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Chart history read back from real database files written by the store: buckets against a
//! brute-force fold, the range bounds, series kept apart, where history begins, and the ways a
//! database can be missing, foreign, newer, unreadable or busy being written.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rusqlite::Connection;
use tickwatch::domain::{Candle, Interval, Symbol, TsMs, Venue, VenueSymbol};
use tickwatch::domain::{ClosedCandle, OutputBatch};
use tickwatch::history::{HistoryLoader, HistoryReader, HistoryReply, HistoryRequest};
use tickwatch::pipeline::{HealthBoard, PipelineStats};
use tickwatch::store::{self, SCHEMA_VERSION, StoreWriter};
use tickwatch::view::ChartCandle;

/// Midnight UTC.
const T0: TsMs = 1_700_006_400_000;
const M: TsMs = 60_000;

fn key(venue: Venue, s: &str) -> VenueSymbol {
    VenueSymbol::new(venue, Symbol::new(s).unwrap())
}

fn btc() -> VenueSymbol {
    key(Venue::Binance, "BTCUSDT")
}

fn columns() -> Arc<[String]> {
    Arc::from(vec![
        "rsi14".to_string(),
        "ema20".to_string(),
        "z".to_string(),
    ])
}

/// Deterministic pseudo-random numbers in [0, 1) (xorshift), so failures repeat.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// `n` candles of one series from `start`, with holes (no candle), indicators warming up at the
/// start (no values), values missing here and there, and prices with many significant digits so
/// that any change in the order of a sum would show.
fn series(k: VenueSymbol, interval: Interval, start: TsMs, n: i64, seed: u64) -> Vec<ClosedCandle> {
    let mut rng = Rng(seed.max(1));
    let cols = columns();
    let mut out = Vec::new();
    let mut price = 100.0 + seed as f64;
    for i in 0..n {
        if rng.next() < 0.05 {
            continue; // a hole: nothing traded, nothing stored
        }
        let open = price;
        price *= 1.0 + (rng.next() - 0.5) * 0.01;
        let values = vec![
            (i >= 14).then(|| rng.next() * 100.0),
            (i >= 20).then(|| price * (1.0 + rng.next() * 0.001)),
            (i >= 50 && rng.next() > 0.3).then(|| rng.next() * 6.0 - 3.0),
        ];
        out.push(ClosedCandle {
            key: k,
            interval,
            candle: Candle {
                open_ms: start + i * interval.ms(),
                open,
                high: open.max(price) * (1.0 + rng.next() * 0.002),
                low: open.min(price) * (1.0 - rng.next() * 0.002),
                close: price,
                volume: rng.next() * 3.7 + 0.1,
                trades: (rng.next() * 50.0) as u64,
            },
            columns: Arc::clone(&cols),
            values: values.into_boxed_slice(),
        });
    }
    out
}

/// Writes candles with the store's own batch writer (the statements the writer thread uses).
fn write(path: &Path, candles: &[ClosedCandle]) {
    let mut conn = store::open(path).unwrap();
    for chunk in candles.chunks(1000) {
        let batch = OutputBatch {
            candles: chunk.to_vec(),
            ..OutputBatch::default()
        };
        store::write_batches(&mut conn, &[batch]).unwrap();
    }
}

fn request(
    id: u64,
    k: VenueSymbol,
    interval: Interval,
    from: TsMs,
    to: TsMs,
    bucket: TsMs,
) -> HistoryRequest {
    HistoryRequest {
        id,
        key: k,
        interval,
        from_ms: from,
        to_ms: to,
        bucket_ms: bucket,
        columns: columns(),
    }
}

/// What the chart must show, computed the long way: filter, group by aligned bucket, fold.
fn brute_force(candles: &[ClosedCandle], req: &HistoryRequest) -> Vec<ChartCandle> {
    let mut out: Vec<ChartCandle> = Vec::new();
    for c in candles.iter().filter(|c| {
        c.key == req.key
            && c.interval == req.interval
            && (req.from_ms..req.to_ms).contains(&c.candle.open_ms)
    }) {
        let start = c.candle.open_ms.div_euclid(req.bucket_ms) * req.bucket_ms;
        match out.last_mut() {
            Some(b) if b.candle.open_ms == start => {
                let k = &mut b.candle;
                k.high = k.high.max(c.candle.high);
                k.low = k.low.min(c.candle.low);
                k.close = c.candle.close;
                k.volume += c.candle.volume;
                k.trades += c.candle.trades;
                for (i, v) in c.values.iter().enumerate() {
                    if v.is_some() {
                        b.values[i] = *v;
                    }
                }
            }
            _ => out.push(ChartCandle {
                candle: Candle {
                    open_ms: start,
                    ..c.candle
                },
                values: c.values.clone(),
                closed: true,
            }),
        }
    }
    out
}

fn ask(loader: &HistoryLoader, req: HistoryRequest) -> HistoryReply {
    loader.request(req.clone());
    let reply = loader
        .recv_timeout(Duration::from_secs(20))
        .expect("a reply within 20 s");
    assert_eq!(reply.request, req);
    reply
}

fn db_in(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("history.db")
}

#[test]
fn buckets_equal_a_brute_force_fold() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_in(&dir);
    let data = series(btc(), Interval::M1, T0, 3000, 7);
    write(&path, &data);
    let mut reader = HistoryReader::new(path);
    // Widths from one candle (every value read by range) to many (only bucket ends probed),
    // ranges that start and end inside buckets, and the whole series.
    for per in [1, 2, 3, 4, 5, 7, 16, 60, 216, 5000] {
        for (from, to) in [
            (T0, T0 + 3000 * M),
            (T0 + 7 * M, T0 + 2991 * M),
            (T0 - 100 * M, T0 + 10 * M),
            (T0 + 1234 * M, T0 + 1235 * M),
        ] {
            let req = request(per as u64, btc(), Interval::M1, from, to, per * M);
            let got = reader.load(&req).unwrap();
            let want = brute_force(&data, &req);
            assert_eq!(got.candles, want, "{per} per bucket, {from}..{to}");
            let members = data
                .iter()
                .filter(|c| (from..to).contains(&c.candle.open_ms))
                .count();
            assert_eq!(got.source_candles, members);
        }
    }
}

#[test]
fn a_bucket_shows_its_last_members_values() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_in(&dir);
    let mut data = series(btc(), Interval::M1, T0, 100, 3);
    data.retain(|c| c.candle.open_ms >= T0 + 60 * M && c.candle.open_ms < T0 + 70 * M);
    let n = data.len();
    for (i, c) in data.iter_mut().enumerate() {
        c.values = vec![Some(i as f64), Some(100.0 + i as f64), Some(-(i as f64))].into();
    }
    // the last member has no z: the bucket shows the latest z before it
    data[n - 1].values[2] = None;
    write(&path, &data);
    let mut reader = HistoryReader::new(path);
    let slice = reader
        .load(&request(1, btc(), Interval::M1, T0, T0 + 100 * M, 100 * M))
        .unwrap();
    assert_eq!(slice.candles.len(), 1);
    let b = &slice.candles[0];
    assert_eq!(
        &b.values[..],
        &[
            Some((n - 1) as f64),
            Some(100.0 + (n - 1) as f64),
            Some(-((n - 2) as f64))
        ]
    );
    assert_eq!(b.candle.close, data[n - 1].candle.close);
    assert_eq!(b.candle.open, data[0].candle.open);
    assert!(b.closed);
    // columns the database never stored are None; the order is the request's
    let req = HistoryRequest {
        columns: Arc::from(vec![
            "z".to_string(),
            "sma99".to_string(),
            "rsi14".to_string(),
        ]),
        ..request(2, btc(), Interval::M1, T0, T0 + 100 * M, 100 * M)
    };
    let slice = reader.load(&req).unwrap();
    assert_eq!(
        &slice.candles[0].values[..],
        &[Some(-((n - 2) as f64)), None, Some((n - 1) as f64)]
    );
}

#[test]
fn the_range_is_from_inclusive_to_exclusive() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_in(&dir);
    let data: Vec<ClosedCandle> = series(btc(), Interval::M1, T0, 40, 11)
        .into_iter()
        .enumerate()
        .map(|(i, mut c)| {
            c.candle.open_ms = T0 + i as i64 * M; // no holes here
            c
        })
        .collect();
    write(&path, &data);
    let mut reader = HistoryReader::new(path);
    let slice = reader
        .load(&request(
            1,
            btc(),
            Interval::M1,
            T0 + 10 * M,
            T0 + 20 * M,
            M,
        ))
        .unwrap();
    let opens: Vec<TsMs> = slice.candles.iter().map(|c| c.candle.open_ms).collect();
    assert_eq!(opens, (10..20).map(|i| T0 + i * M).collect::<Vec<_>>());
    assert_eq!(slice.source_candles, 10);
    // an empty or inverted range holds nothing, but still says where history begins
    for (from, to) in [(T0 + 5 * M, T0 + 5 * M), (T0 + 9 * M, T0 + 3 * M)] {
        let slice = reader
            .load(&request(2, btc(), Interval::M1, from, to, M))
            .unwrap();
        assert!(slice.candles.is_empty());
        assert_eq!(slice.first_stored_ms, Some(T0));
    }
}

#[test]
fn other_venues_symbols_and_intervals_are_not_mixed_in() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_in(&dir);
    let ours = series(btc(), Interval::M1, T0, 500, 1);
    let mut all = ours.clone();
    all.extend(series(
        key(Venue::Coinbase, "BTCUSDT"),
        Interval::M1,
        T0 - 50 * M,
        600,
        2,
    ));
    all.extend(series(
        key(Venue::Binance, "ETHUSDT"),
        Interval::M1,
        T0 - 50 * M,
        600,
        3,
    ));
    all.extend(series(
        key(Venue::Binance, "BTCUSDT2"),
        Interval::M1,
        T0 - 50 * M,
        600,
        4,
    ));
    all.extend(series(btc(), Interval::M5, T0 - 50 * 5 * M, 200, 5));
    all.extend(series(btc(), Interval::S1, T0, 3000, 6));
    write(&path, &all);
    let mut reader = HistoryReader::new(path);
    for per in [1, 10] {
        let req = request(1, btc(), Interval::M1, T0 - 100 * M, T0 + 600 * M, per * M);
        let slice = reader.load(&req).unwrap();
        assert_eq!(slice.candles, brute_force(&ours, &req));
        assert_eq!(slice.source_candles, ours.len());
        assert_eq!(slice.first_stored_ms, Some(ours[0].candle.open_ms));
    }
}

#[test]
fn first_stored_ms_is_the_oldest_candle_of_the_series() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_in(&dir);
    let mut data = series(btc(), Interval::M5, T0 + 3 * 5 * M, 100, 9);
    data.retain(|c| c.candle.open_ms > T0 + 5 * 5 * M);
    let oldest = data[0].candle.open_ms;
    // older candles of other series do not count
    data.extend(series(btc(), Interval::M1, T0 - 1000 * M, 10, 1));
    data.extend(series(
        key(Venue::Coinbase, "BTCUSDT"),
        Interval::M5,
        T0 - 1000 * M,
        10,
        1,
    ));
    write(&path, &data);
    let mut reader = HistoryReader::new(path);
    // a range after it, one before it, one with nothing in it
    for (from, to) in [
        (T0 + 50 * 5 * M, T0 + 60 * 5 * M),
        (T0 - 3000 * M, T0),
        (T0 + 500 * 5 * M, T0 + 600 * 5 * M),
    ] {
        let slice = reader
            .load(&request(1, btc(), Interval::M5, from, to, 5 * M))
            .unwrap();
        assert_eq!(slice.first_stored_ms, Some(oldest));
    }
    let slice = reader
        .load(&request(
            1,
            btc(),
            Interval::H1,
            T0,
            T0 + 1000 * M,
            3_600_000,
        ))
        .unwrap();
    assert_eq!(slice.first_stored_ms, None);
    assert!(slice.candles.is_empty());
}

#[test]
fn a_missing_database_is_empty_until_it_appears() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("later").join("history.db");
    let loader = HistoryLoader::spawn(path.clone()).unwrap();
    let req = request(1, btc(), Interval::M1, T0, T0 + 100 * M, M);
    let reply = ask(&loader, req.clone());
    let slice = reply.result.unwrap();
    assert!(slice.candles.is_empty() && slice.first_stored_ms.is_none());
    assert!(
        !path.exists() && !path.parent().unwrap().exists(),
        "the reader creates nothing"
    );
    // the writer creates it: the next request reads it
    let data = series(btc(), Interval::M1, T0, 100, 5);
    write(&path, &data);
    let slice = ask(
        &loader,
        HistoryRequest {
            id: 2,
            ..req.clone()
        },
    )
    .result
    .unwrap();
    assert_eq!(slice.source_candles, data.len());
    // deleted (and its WAL with it): empty again, then a new file with other data
    for f in ["history.db", "history.db-wal", "history.db-shm"] {
        let _ = std::fs::remove_file(path.with_file_name(f));
    }
    let slice = ask(
        &loader,
        HistoryRequest {
            id: 3,
            ..req.clone()
        },
    )
    .result
    .unwrap();
    assert_eq!(slice.source_candles, 0);
    let data = series(btc(), Interval::M1, T0, 30, 6);
    write(&path, &data);
    let slice = ask(&loader, HistoryRequest { id: 4, ..req })
        .result
        .unwrap();
    assert_eq!(
        slice.source_candles,
        data.len(),
        "the new file, not the deleted one"
    );
}

#[test]
fn a_file_being_created_is_empty_not_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_in(&dir);
    std::fs::write(&path, b"").unwrap();
    let mut reader = HistoryReader::new(path.clone());
    let req = request(1, btc(), Interval::M1, T0, T0 + 100 * M, M);
    assert_eq!(reader.load(&req).unwrap().source_candles, 0);
    write(&path, &series(btc(), Interval::M1, T0, 10, 1));
    assert!(reader.load(&req).unwrap().source_candles > 0);
}

#[test]
fn a_garbage_file_is_an_error_naming_it_until_it_is_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_in(&dir);
    std::fs::write(
        &path,
        b"this is not sqlite, just some text that is long enough to have a header.......",
    )
    .unwrap();
    let loader = HistoryLoader::spawn(path.clone()).unwrap();
    let req = request(1, btc(), Interval::M1, T0, T0 + 100 * M, M);
    let err = ask(&loader, req.clone()).result.unwrap_err();
    assert!(err.contains(&path.display().to_string()), "{err}");
    assert!(
        err.contains("not a tickwatch database") && err.contains("--db"),
        "{err}"
    );
    // a SQLite file of another program
    std::fs::remove_file(&path).unwrap();
    Connection::open(&path)
        .unwrap()
        .execute_batch("CREATE TABLE notes (t TEXT); INSERT INTO notes VALUES ('x');")
        .unwrap();
    let err = ask(
        &loader,
        HistoryRequest {
            id: 2,
            ..req.clone()
        },
    )
    .result
    .unwrap_err();
    assert!(
        err.contains(&path.display().to_string()) && err.contains("not a tickwatch database"),
        "{err}"
    );
    // replaced by a real database: read, without restarting anything
    std::fs::remove_file(&path).unwrap();
    write(&path, &series(btc(), Interval::M1, T0, 50, 1));
    assert!(
        ask(&loader, HistoryRequest { id: 3, ..req })
            .result
            .unwrap()
            .source_candles
            > 0
    );
}

#[test]
fn a_newer_schema_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_in(&dir);
    write(&path, &series(btc(), Interval::M1, T0, 50, 1));
    let mut reader = HistoryReader::new(path.clone());
    let req = request(1, btc(), Interval::M1, T0, T0 + 100 * M, M);
    assert!(reader.load(&req).is_ok());
    // a newer tickwatch migrates it while this one has it open
    Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
        .unwrap();
    let err = reader.load(&req).unwrap_err();
    assert!(err.contains(&path.display().to_string()), "{err}");
    assert!(
        err.contains("newer") && err.contains("upgrade tickwatch"),
        "{err}"
    );
}

#[test]
fn an_older_schema_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_in(&dir);
    let data = series(btc(), Interval::M1, T0, 50, 1);
    write(&path, &data);
    // version 1 had the same candles and indicator_values
    Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", 1)
        .unwrap();
    let req = request(1, btc(), Interval::M1, T0, T0 + 100 * M, 2 * M);
    let slice = HistoryReader::new(path).load(&req).unwrap();
    assert_eq!(slice.candles, brute_force(&data, &req));
}

#[test]
fn an_unreadable_path_is_an_error_naming_it() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let req = request(1, btc(), Interval::M1, T0, T0 + 100 * M, M);
    // a directory where the file should be
    let err = HistoryReader::new(dir.path().to_path_buf())
        .load(&req)
        .unwrap_err();
    assert!(
        err.contains(&dir.path().display().to_string()) && err.contains("directory"),
        "{err}"
    );
    let path = db_in(&dir);
    write(&path, &series(btc(), Interval::M1, T0, 50, 1));
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o000)).unwrap();
    if std::fs::File::open(&path).is_ok() {
        // root reads any file; the wording is checked beside the code (reader.rs)
        eprintln!("running as root: file modes are not enforced, the unreadable file is skipped");
        return;
    }
    let err = HistoryReader::new(path.clone()).load(&req).unwrap_err();
    assert!(
        err.contains(&path.display().to_string()) && err.contains("readable"),
        "{err}"
    );
}

#[test]
fn a_writer_holding_the_lock_does_not_stop_the_reader() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_in(&dir);
    let data = series(btc(), Interval::M1, T0, 200, 1);
    write(&path, &data);
    let loader = HistoryLoader::spawn(path.clone()).unwrap();
    let req = request(1, btc(), Interval::M1, T0, T0 + 1000 * M, M);
    assert_eq!(
        ask(&loader, req.clone()).result.unwrap().source_candles,
        data.len()
    );
    // another process's writer: an open write transaction with rows not yet committed
    let writer = store::open(&path).unwrap();
    writer.execute_batch("BEGIN EXCLUSIVE").unwrap();
    writer
        .execute(
            "INSERT INTO candles (venue, symbol, interval, open_ms, open, high, low, close, volume, trades)
             VALUES ('binance', 'BTCUSDT', '1m', ?1, 1, 1, 1, 1, 1, 1)",
            [T0 + 500 * M],
        )
        .unwrap();
    let reply = ask(
        &loader,
        HistoryRequest {
            id: 2,
            ..req.clone()
        },
    );
    assert_eq!(
        reply.result.unwrap().source_candles,
        data.len(),
        "the committed rows, read without waiting"
    );
    assert!(
        reply.elapsed < store::BUSY_TIMEOUT,
        "waited on the lock: {:?}",
        reply.elapsed
    );
    writer.execute_batch("COMMIT").unwrap();
    // each request reads a fresh snapshot
    let slice = ask(&loader, HistoryRequest { id: 3, ..req })
        .result
        .unwrap();
    assert_eq!(slice.source_candles, data.len() + 1);
}

#[test]
fn reads_while_the_writer_thread_is_writing() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_in(&dir);
    let w = StoreWriter::spawn(
        &path,
        Arc::new(PipelineStats::default()),
        HealthBoard::default(),
    )
    .unwrap();
    let sender = w.sender();
    let data = series(btc(), Interval::M1, T0, 4000, 1);
    let feeder = {
        let data = data.clone();
        std::thread::spawn(move || {
            for chunk in data.chunks(50) {
                let batch = OutputBatch {
                    candles: chunk.to_vec(),
                    ..OutputBatch::default()
                };
                sender.send_blocking(batch).unwrap();
                std::thread::sleep(Duration::from_millis(2));
            }
        })
    };
    let loader = HistoryLoader::spawn(path.clone()).unwrap();
    let mut seen = 0;
    let mut id = 0;
    while !feeder.is_finished() {
        id += 1;
        let req = request(id, btc(), Interval::M1, T0, T0 + 5000 * M, 20 * M);
        let slice = ask(&loader, req.clone()).result.unwrap();
        assert!(slice.source_candles >= seen, "history went backwards");
        seen = slice.source_candles;
        // what was read is a prefix of what was written, merged correctly
        let written: Vec<ClosedCandle> = data[..seen].to_vec();
        assert_eq!(slice.candles, brute_force(&written, &req));
    }
    feeder.join().unwrap();
    w.close().unwrap();
    assert!(id > 1, "the reader never overlapped the writer");
    let slice = ask(
        &loader,
        request(0, btc(), Interval::M1, T0, T0 + 5000 * M, 20 * M),
    )
    .result
    .unwrap();
    assert_eq!(slice.source_candles, data.len());
}

#[test]
fn of_several_requests_at_once_the_newest_is_answered() {
    let dir = tempfile::tempdir().unwrap();
    let path = db_in(&dir);
    write(&path, &series(btc(), Interval::M1, T0, 20_000, 1));
    let loader = HistoryLoader::spawn(path).unwrap();
    let sent: Vec<HistoryRequest> = (1..=20)
        .map(|i| request(i, btc(), Interval::M1, T0, T0 + i as i64 * 1000 * M, 10 * M))
        .collect();
    for r in &sent {
        loader.request(r.clone());
    }
    let mut replies = Vec::new();
    while let Some(r) = loader.recv_timeout(Duration::from_millis(500)) {
        replies.push(r);
    }
    // the thread may have taken the first before the rest arrived; everything queued behind it
    // collapses into the newest
    let ids: Vec<u64> = replies.iter().map(|r| r.request.id).collect();
    assert!(ids == [20] || ids == [1, 20], "{ids:?}");
    for r in &replies {
        assert_eq!(r.request, sent[r.request.id as usize - 1]);
        let slice = r.result.as_ref().unwrap();
        assert_eq!(
            slice.candles.last().unwrap().candle.open_ms,
            (r.request.to_ms - 1).div_euclid(10 * M) * 10 * M,
            "the reply answers its own request"
        );
    }
    assert_eq!(loader.try_recv(), None);
}
