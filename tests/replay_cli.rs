#![allow(clippy::unwrap_used, clippy::expect_used)]
//! `tickwatch replay --headless` end to end, as a user runs it: memory stays bounded however
//! long the input, over-long lines are refused by file and line, covered candles are closed,
//! files merge by time whatever the order given, and repeated rows change nothing.

mod support;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const DAY: i64 = 86_400_000;
const MIB: u64 = 1024 * 1024;
const T0: i64 = 1_740_787_200_000; // 2025-03-01T00:00:00Z

fn tickwatch(dir: &Path) -> Command {
    support::tickwatch_cmd(dir)
}

/// `tickwatch replay --headless [extra] --db DB FILES...`
fn replay(dir: &Path, db: &Path, extra: &[&str], files: &[PathBuf]) -> Command {
    let mut c = tickwatch(dir);
    c.args(["replay", "--headless"])
        .args(extra)
        .arg("--db")
        .arg(db)
        .args(files);
    c
}

fn run(mut c: Command) -> (Output, String) {
    let out = c.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    (out, stdout)
}

/// Runs `c` to the end, polling its peak resident memory (VmHWM) while it runs. Returns its
/// output and the peak in bytes.
fn run_measured(mut c: Command, dir: &Path) -> (Output, u64) {
    let (out_path, err_path) = (dir.join("stdout.txt"), dir.join("stderr.txt"));
    let mut child = c
        .stdout(Stdio::from(std::fs::File::create(&out_path).unwrap()))
        .stderr(Stdio::from(std::fs::File::create(&err_path).unwrap()))
        .spawn()
        .unwrap();
    let status_file = format!("/proc/{}/status", child.id());
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut peak_kb = 0u64;
    let status = loop {
        // VmHWM only grows, so the last reading is the peak
        if let Ok(text) = std::fs::read_to_string(&status_file)
            && let Some(kb) = text
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        {
            peak_kb = peak_kb.max(kb);
        }
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        assert!(Instant::now() < deadline, "replay did not end in 120 s");
        std::thread::sleep(Duration::from_millis(10));
    };
    assert!(peak_kb > 0, "could not read {status_file}");
    let out = Output {
        status,
        stdout: std::fs::read(&out_path).unwrap(),
        stderr: std::fs::read(&err_path).unwrap(),
    };
    (out, peak_kb * 1024)
}

fn zip_of(path: &Path, entry: &str, write: impl FnOnce(&mut dyn std::io::Write)) {
    let mut z = zip::ZipWriter::new(std::fs::File::create(path).unwrap());
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .compression_level(Some(1));
    z.start_file(entry, opts).unwrap();
    write(&mut z);
    z.finish().unwrap();
}

/// Spot trades rows `first..first+n`, `gap_ms` apart from `start_ms`; ids are `row + 1`.
fn trade_rows(first: u64, n: u64, start_ms: i64, gap_ms: i64) -> String {
    let mut s = String::new();
    for i in first..first + n {
        writeln!(
            s,
            "{}",
            trade_row(i + 1, start_ms + (i - first) as i64 * gap_ms)
        )
        .unwrap();
    }
    s
}

fn trade_row(id: u64, ms: i64) -> String {
    let price = 84_000.0 + ((id * 7) % 23) as f64 * 0.5;
    let qty = 0.25 * (1 + id % 5) as f64;
    let bm = if id.is_multiple_of(2) {
        "True"
    } else {
        "False"
    };
    format!("{id},{price},{qty},{},{ms},{bm},True", price * qty)
}

/// One kline row of `iv_ms` opening at `open`; values vary with `i`, volumes are exact in f64.
fn kline_row(open: i64, iv_ms: i64, i: i64) -> String {
    let o = 100.0 + (i % 37) as f64 * 0.5;
    let (h, l, c) = (o + 1.0 + (i % 5) as f64, o - 1.0 - (i % 3) as f64, o + 0.5);
    let v = 1.0 + (i % 7) as f64 * 0.25;
    format!(
        "{open},{o},{h},{l},{c},{v},{},1000.0,{},1,1,0",
        open + iv_ms - 1,
        3 + i % 11
    )
}

fn klines(start: i64, n: i64, iv_ms: i64) -> String {
    let mut s = String::new();
    for i in 0..n {
        writeln!(s, "{}", kline_row(start + i * iv_ms, iv_ms, i)).unwrap();
    }
    s
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn db(path: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(path).unwrap()
}

/// Closed candles per interval.
fn candle_counts(path: &Path) -> BTreeMap<String, i64> {
    let c = db(path);
    let mut st = c
        .prepare("SELECT interval, COUNT(*) FROM candles GROUP BY interval")
        .unwrap();
    st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn counts(want: &[(&str, i64)]) -> BTreeMap<String, i64> {
    want.iter().map(|(i, n)| (i.to_string(), *n)).collect()
}

fn count(path: &Path, interval: &str) -> i64 {
    db(path)
        .query_row(
            "SELECT COUNT(*) FROM candles WHERE interval = ?1",
            [interval],
            |r| r.get(0),
        )
        .unwrap()
}

/// Every stored row that a replay produces (candles, indicator values, trades), as text.
fn dump(path: &Path) -> Vec<String> {
    let c = db(path);
    let mut rows = Vec::new();
    for sql in [
        "SELECT venue, symbol, interval, open_ms, open, high, low, close, volume, trades FROM candles ORDER BY 1, 2, 3, 4",
        "SELECT venue, symbol, interval, open_ms, name, value FROM indicator_values ORDER BY 1, 2, 3, 4, 5",
        "SELECT venue, symbol, trade_id, ts_ms, price, qty, taker_side FROM trades ORDER BY 1, 2, 3",
    ] {
        let mut st = c.prepare(sql).unwrap();
        let n = st.column_count();
        let got = st
            .query_map([], |r| {
                let mut line = String::new();
                for i in 0..n {
                    let v: rusqlite::types::Value = r.get(i)?;
                    write!(line, "{v:?}|").unwrap();
                }
                Ok(line)
            })
            .unwrap()
            .map(Result::unwrap);
        rows.extend(got);
    }
    rows
}

fn assert_success(out: &Output) {
    assert!(
        out.status.success(),
        "replay failed: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
}

/// 2M trade rows (110 MB of CSV, and the same as a zip): the replay streams them, and its
/// memory stays far below the input's size (before: the ring held up to 4M events, ~210 MB).
#[test]
fn a_long_dump_replays_in_bounded_memory_csv_and_zip() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    const ROWS: u64 = 2_000_000;
    let csv = d.join("BTCUSDT-trades-2025-03-01.csv");
    let zip = d.join("BTCUSDT-trades-2025-03-02.zip");
    {
        let mut f = std::io::BufWriter::new(std::fs::File::create(&csv).unwrap());
        let mut line = String::new();
        for i in 0..ROWS {
            line.clear();
            writeln!(line, "{}", trade_row(i + 1, T0 + (i / 25) as i64)).unwrap();
            f.write_all(line.as_bytes()).unwrap();
        }
    }
    zip_of(&zip, "BTCUSDT-trades-2025-03-02.csv", |w| {
        let mut line = String::new();
        for i in 0..ROWS {
            line.clear();
            writeln!(line, "{}", trade_row(i + 1, T0 + DAY + (i / 25) as i64)).unwrap();
            w.write_all(line.as_bytes()).unwrap();
        }
    });
    for (name, file) in [("csv", csv), ("zip", zip)] {
        let db = d.join(format!("{name}.db"));
        let (out, peak) = run_measured(replay(d, &db, &[], &[file]), d);
        assert_success(&out);
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains("replayed 2000000 rows"), "{stdout}");
        assert!(stdout.contains("stored 2000000 trades"), "{stdout}");
        eprintln!("{name}: peak resident memory {} MiB", peak / MIB);
        assert!(
            peak < 80 * MIB,
            "{name}: peak resident memory {} MiB for a 2M-row dump; it must not grow with the input",
            peak / MIB
        );
    }
}

/// A 50 MB line (inside a 50 KB zip) is refused with the file, the entry and the line, and
/// never held in memory; `--skip-bad` counts it and goes on.
#[test]
fn an_endless_line_is_refused_by_file_and_line_without_reading_it_into_memory() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let zip = d.join("BTCUSDT-trades-2025-03-01.zip");
    zip_of(&zip, "BTCUSDT-trades-2025-03-01.csv", |w| {
        w.write_all(trade_rows(0, 3, T0, 1_000).as_bytes()).unwrap();
        let chunk = vec![b'7'; 1 << 20];
        for _ in 0..50 {
            w.write_all(&chunk).unwrap();
        }
        w.write_all(b"\n").unwrap();
        w.write_all(trade_rows(3, 3, T0 + 3_000, 1_000).as_bytes())
            .unwrap();
    });
    assert!(std::fs::metadata(&zip).unwrap().len() < 1_000_000);

    let db = d.join("r.db");
    let (out, peak) = run_measured(replay(d, &db, &[], std::slice::from_ref(&zip)), d);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("BTCUSDT-trades-2025-03-01.zip, BTCUSDT-trades-2025-03-01.csv:4:")
            && stderr.contains("longer than 64 KiB")
            && stderr.contains("--skip-bad"),
        "{stderr}"
    );
    assert!(peak < 48 * MIB, "peak {} MiB", peak / MIB);

    let (out, peak) = run_measured(replay(d, &db, &["--skip-bad"], &[zip]), d);
    assert_success(&out);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("replayed 6 rows") && stdout.contains("bad rows skipped 1"),
        "{stdout}"
    );
    assert!(
        stdout.contains(":4: the line is longer than 64 KiB"),
        "{stdout}"
    );
    assert!(peak < 48 * MIB, "peak {} MiB", peak / MIB);
}

/// A whole day of 1m klines closes every candle of that day, the 1d one included, and the day's
/// candle is exactly the fold of its 1440 minutes.
#[test]
fn a_day_of_1m_klines_closes_every_candle_it_covers() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let text = klines(T0, 1440, 60_000);
    let file = write(d, "BTCUSDT-1m-2025-03-01.csv", &text);
    let db_path = d.join("k.db");
    let (out, stdout) = run(replay(d, &db_path, &[], &[file]));
    assert_success(&out);
    assert!(stdout.contains("candles closed 1855"), "{stdout}");
    assert_eq!(
        candle_counts(&db_path),
        counts(&[
            ("1m", 1440),
            ("5m", 288),
            ("15m", 96),
            ("1h", 24),
            ("4h", 6),
            ("1d", 1)
        ])
    );
    // the fold of the rows, in order
    let rows: Vec<Vec<f64>> = text
        .lines()
        .map(|l| l.split(',').map(|f| f.parse::<f64>().unwrap()).collect())
        .collect();
    let want = (
        T0,
        rows[0][1],
        rows.iter().map(|r| r[2]).fold(f64::MIN, f64::max),
        rows.iter().map(|r| r[3]).fold(f64::MAX, f64::min),
        rows[1439][4],
        rows.iter().map(|r| r[5]).sum::<f64>(),
        rows.iter().map(|r| r[8] as i64).sum::<i64>(),
    );
    let got = db(&db_path)
        .query_row(
            "SELECT open_ms, open, high, low, close, volume, trades FROM candles WHERE interval = '1d'",
            [],
            |r| {
                Ok((
                    r.get::<_, i64>(0)?,
                    r.get::<_, f64>(1)?,
                    r.get::<_, f64>(2)?,
                    r.get::<_, f64>(3)?,
                    r.get::<_, f64>(4)?,
                    r.get::<_, f64>(5)?,
                    r.get::<_, i64>(6)?,
                ))
            },
        )
        .unwrap();
    assert_eq!(got, want);

    // A day cut short (the file ends at 12:34) closes what it covers, and the hour, four hours
    // and day it does not cover stay open.
    let file = write(d, "ETHUSDT-1m-2025-03-01.csv", &klines(T0, 755, 60_000));
    let db_path = d.join("short.db");
    let (out, _) = run(replay(d, &db_path, &[], &[file]));
    assert_success(&out);
    assert_eq!(
        candle_counts(&db_path),
        counts(&[("1m", 755), ("5m", 151), ("15m", 50), ("1h", 12), ("4h", 3)])
    );
}

/// Trades and 1m klines of two months (a day of each), given newest first: the same database
/// as given in order, no late trade, and every candle from 1m up comes from the klines alone
/// (the trades fill the trades table and the 1s candles), so no trade is counted twice.
#[test]
fn files_given_out_of_order_merge_by_time_and_klines_own_their_candles() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let feb28 = T0 - DAY;
    let trades_feb = write(
        d,
        "BTCUSDT-trades-2025-02.csv",
        &trade_rows(0, 360, feb28, 10_000),
    );
    let trades_mar = write(
        d,
        "BTCUSDT-trades-2025-03.csv",
        &trade_rows(360, 360, T0, 10_000),
    );
    let klines_feb = write(d, "BTCUSDT-1m-2025-02.csv", &klines(feb28, 1440, 60_000));
    let klines_mar = write(d, "BTCUSDT-1m-2025-03.csv", &klines(T0, 1440, 60_000));

    let in_order = d.join("in-order.db");
    let files = [klines_feb, trades_feb, klines_mar, trades_mar];
    let (out, stdout) = run(replay(d, &in_order, &[], &files));
    assert_success(&out);
    assert!(stdout.contains("late trades 0"), "{stdout}");

    let reversed = d.join("reversed.db");
    let mut files = files.to_vec();
    files.reverse();
    let (out, stdout) = run(replay(d, &reversed, &[], &files));
    assert_success(&out);
    assert!(
        stdout.contains("replayed 3600 rows from 4 file(s)"),
        "{stdout}"
    );
    assert!(stdout.contains("late trades 0"), "{stdout}");
    assert!(stdout.contains("stored 720 trades"), "{stdout}");

    let (a, b) = (dump(&in_order), dump(&reversed));
    assert_eq!(a.len(), b.len());
    assert!(a == b, "the order of the files changed the database");

    for (iv, n) in [
        ("1m", 2880),
        ("5m", 576),
        ("15m", 192),
        ("1h", 48),
        ("4h", 12),
        ("1d", 2),
    ] {
        assert_eq!(count(&reversed, iv), n, "{iv}");
    }
    // 1s candles from the trades (the first hour of each day, ten seconds apart, with flat
    // candles between): up to the last trade, which is still open
    assert_eq!(count(&reversed, "1s"), 3_591 + 3_590);
    // each day's volume is its klines' volume, not that plus the trades'
    let conn = db(&reversed);
    for day in [feb28, T0] {
        let (kl, d1): (f64, f64) = conn
            .query_row(
                "SELECT (SELECT SUM(volume) FROM candles WHERE interval = '1m' AND open_ms >= ?1 AND open_ms < ?1 + 86400000),
                        (SELECT volume FROM candles WHERE interval = '1d' AND open_ms = ?1)",
                [day],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!(kl, d1, "day {day}");
    }
}

/// Repeated trade ids (rows repeated in a file, one out of order, and a daily file that
/// overlaps the monthly one) are skipped and counted, and change nothing: the database equals
/// that of the same trades without repeats.
#[test]
fn duplicate_trades_are_counted_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // The clean reference: 3,000 trades 100 ms apart, ids 500 and 501 in the same millisecond
    // and in the wrong order (as an exchange may write them).
    let mut clean: Vec<String> = (0..3_000u64)
        .map(|i| trade_row(i + 1, T0 + i as i64 * 100))
        .collect();
    let same_ms = |id: u64| trade_row(id, T0 + 50_000);
    clean[499] = same_ms(501);
    clean[500] = same_ms(500);
    let reference = write(d, "ETHUSDT-trades-2025-03.csv", &(clean.join("\n") + "\n"));
    let ref_db = d.join("ref.db");
    let (out, stdout) = run(replay(d, &ref_db, &[], &[reference]));
    assert_success(&out);
    assert!(stdout.contains("0 duplicates skipped"), "{stdout}");

    // A monthly file with every 10th of the first 2,000 rows repeated at once, and 501 and
    // 500 repeated after both; a daily file that repeats its first 1,000 trades.
    let mut monthly: Vec<String> = Vec::new();
    let mut repeats = 0;
    for (i, row) in clean.iter().enumerate() {
        monthly.push(row.clone());
        if i < 2_000 && i % 10 == 3 {
            monthly.push(row.clone());
            repeats += 1;
        }
        if i == 500 {
            monthly.extend([same_ms(501), same_ms(500)]);
            repeats += 2;
        }
    }
    let monthly = write(
        d,
        "BTCUSDT-trades-2025-03.csv",
        &(monthly.join("\n") + "\n"),
    );
    let daily = write(
        d,
        "BTCUSDT-trades-2025-03-01.csv",
        &(clean[..1_000].join("\n") + "\n"),
    );
    let dup_db = d.join("dup.db");
    let (out, stdout) = run(replay(
        d,
        &dup_db,
        &["--symbol", "ETHUSDT"],
        &[daily, monthly],
    ));
    assert_success(&out);
    assert!(
        stdout.contains("replayed 3000 rows from 2 file(s)")
            && stdout.contains(&format!("{} duplicates skipped", repeats + 1_000)),
        "{stdout}"
    );
    assert!(stdout.contains("stored 3000 trades,"), "{stdout}");

    let (want, got) = (dump(&ref_db), dump(&dup_db));
    assert!(want.len() > 3_000);
    assert_eq!(want.len(), got.len());
    assert!(want == got, "the repeats changed the stored data");
}
