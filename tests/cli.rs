#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The binary as a user runs it: commands, exit codes, and the error messages for bad input.

mod support;

use std::io::Write;
use std::path::Path;
use std::process::Command;

use assert_cmd::prelude::*;
use predicates::prelude::*;

fn tickwatch(dir: &Path) -> Command {
    support::tickwatch_cmd(dir)
}

/// `tickwatch replay --headless --db DB DUMP`.
fn replay(dir: &Path, db: &Path, dump: &Path) -> Command {
    let mut c = tickwatch(dir);
    c.args(["replay", "--headless", "--db"]).arg(db).arg(dump);
    c
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::File::create(&p)
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    p
}

/// A spot trades dump: id, price, qty, quote_qty, time, is_buyer_maker, is_best_match.
fn trades_csv(n: u64, start_ms: i64) -> String {
    trades_rows(0, n, start_ms)
}

fn trades_rows(first: u64, n: u64, start_ms: i64) -> String {
    let mut s = String::new();
    for i in first..first + n {
        let price = 100.0 + ((i * 7) % 23) as f64 * 0.01;
        s.push_str(&format!(
            "{},{price:.2},0.5,{:.4},{},{},True\n",
            i + 1,
            price * 0.5,
            start_ms + i as i64 * 10,
            i % 2 == 0
        ));
    }
    s
}

#[test]
fn help_explains_every_command() {
    let dir = tempfile::tempdir().unwrap();
    tickwatch(dir.path())
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("--demo"))
        .stdout(predicate::str::contains("replay"))
        .stdout(predicate::str::contains("record"))
        .stdout(predicate::str::contains("export"))
        .stdout(predicate::str::contains("check-config"));
    tickwatch(dir.path())
        .args(["replay", "--help"])
        .assert()
        .success()
        .stdout(predicate::str::contains("--skip-bad"));
}

#[test]
fn usage_errors_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    tickwatch(dir.path()).arg("--no-such-flag").assert().code(2);
    tickwatch(dir.path()).arg("replay").assert().code(2);
    tickwatch(dir.path())
        .args(["export", "--symbol", "BTCUSDT", "--interval", "2m"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("unknown interval"));
}

#[test]
fn check_config_reports_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let good = write(
        dir.path(),
        "good.toml",
        "sources = [\"sim\"]\n[ui]\nfps = 20\n",
    );
    tickwatch(dir.path())
        .arg("check-config")
        .arg(&good)
        .assert()
        .success()
        .stdout(predicate::str::contains("ok"));
    let bad = write(
        dir.path(),
        "bad.toml",
        "sources = [\"sim\"]\n\n[ui]\nfsp = 20\n",
    );
    tickwatch(dir.path())
        .arg("check-config")
        .arg(&bad)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("bad.toml:4:1"))
        .stderr(predicate::str::contains("fsp"));
    let bad = write(
        dir.path(),
        "bad2.toml",
        "[[alerts]]\nkind = \"rsi_above\"\nvalue = 170\n",
    );
    tickwatch(dir.path())
        .arg("check-config")
        .arg(&bad)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("bad2.toml:3:9"))
        .stderr(predicate::str::contains("between 0 and 100"));
    tickwatch(dir.path())
        .arg("check-config")
        .arg(dir.path().join("missing.toml"))
        .assert()
        .code(2);
    // the monitor refuses a broken config the same way, before touching the terminal
    tickwatch(dir.path())
        .arg("--config")
        .arg(&bad)
        .arg("record")
        .assert()
        .code(2);
}

#[test]
fn replay_headless_stores_trades_and_export_prints_them() {
    let dir = tempfile::tempdir().unwrap();
    let dump = write(
        dir.path(),
        "ETHUSDT-trades-2024-03-01.csv",
        &trades_csv(12_000, 1_709_251_200_000),
    );
    let db = dir.path().join("r.db");
    replay(dir.path(), &db, &dump)
        .assert()
        .success()
        .stdout(predicate::str::contains("replayed 12000 rows"))
        .stdout(predicate::str::contains("stored 12000 trades"));
    let out = tickwatch(dir.path())
        .args([
            "export",
            "--symbol",
            "ETHUSDT",
            "--interval",
            "1s",
            "--format",
            "csv",
            "--db",
        ])
        .arg(&db)
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    assert_eq!(
        lines.next().unwrap(),
        "open_time,open,high,low,close,volume,trades,sma20,ema20,rsi14,bb20_upper,bb20_mid,bb20_lower,macd,macd_signal,macd_hist,z"
    );
    let rows: Vec<&str> = lines.collect();
    // 120 s of trades, 100 per second; the last second is still open
    assert_eq!(rows.len(), 119);
    assert!(
        rows[0].starts_with("2024-03-01T00:00:00.000Z,"),
        "{}",
        rows[0]
    );
    assert!(rows[0].ends_with(",100,,,,,,,,,,"), "{}", rows[0]);
    let json = tickwatch(dir.path())
        .args([
            "export",
            "--symbol",
            "ETHUSDT",
            "--interval",
            "1m",
            "--format",
            "json",
            "--db",
        ])
        .arg(&db)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 1);
    assert_eq!(v[0]["trades"], 6000);
    assert!(v[0]["sma20"].is_null());
    // replaying the same file again adds nothing
    replay(dir.path(), &db, &dump).assert().success();
    let conn = rusqlite::Connection::open(&db).unwrap();
    let n: i64 = conn
        .query_row("SELECT COUNT(*) FROM trades", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 12_000);
}

#[test]
fn replay_errors_name_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    tickwatch(dir.path())
        .args([
            "replay",
            "--headless",
            "--db",
            "x.db",
            "BTCUSDT-trades-2024-01-01.csv",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("BTCUSDT-trades-2024-01-01.csv"));
    let mut text = trades_csv(10, 1_709_251_200_000);
    text.push_str("11,NaN,0.5,1,1709251200200,True,True\n");
    text.push_str(&trades_rows(11, 5, 1_709_251_300_000));
    let dump = write(dir.path(), "BTCUSDT-trades-2024-03-01.csv", &text);
    let db = dir.path().join("e.db");
    replay(dir.path(), &db, &dump)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("BTCUSDT-trades-2024-03-01.csv"))
        .stderr(predicate::str::contains("11"));
    // what came before the bad row was kept
    let conn = rusqlite::Connection::open(&db).unwrap();
    let n: i64 = conn
        .query_row("SELECT COUNT(*) FROM trades", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 10);
    drop(conn);
    tickwatch(dir.path())
        .args(["replay", "--headless", "--skip-bad", "--db"])
        .arg(&db)
        .arg(&dump)
        .assert()
        .success()
        .stdout(predicate::str::contains("bad rows skipped 1"));
}

#[test]
fn export_explains_an_unknown_symbol_and_a_missing_database() {
    let dir = tempfile::tempdir().unwrap();
    tickwatch(dir.path())
        .args(["export", "--symbol", "BTCUSDT", "--db"])
        .arg(dir.path().join("none.db"))
        .assert()
        .code(predicate::ne(0))
        .stderr(predicate::str::contains("none.db"));
    let dump = write(
        dir.path(),
        "SOLUSDT-trades-2024-03-01.csv",
        &trades_csv(100, 1_709_251_200_000),
    );
    let db = dir.path().join("s.db");
    replay(dir.path(), &db, &dump).assert().success();
    tickwatch(dir.path())
        .args(["export", "--symbol", "DOGEUSDT", "--db"])
        .arg(&db)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("no candles for DOGEUSDT"))
        .stderr(predicate::str::contains("SOLUSDT"));
}

#[test]
fn an_unusable_database_fails_headless_commands_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let dump = write(
        dir.path(),
        "SOLUSDT-trades-2024-03-01.csv",
        &trades_csv(100, 1_709_251_200_000),
    );
    // a path that cannot be created, even by root
    tickwatch(dir.path())
        .args(["replay", "--headless", "--db", "/proc/tickwatch-test/x.db"])
        .arg(&dump)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("x.db"));
    let cfg = write(dir.path(), "c.toml", "sources = [\"sim\"]\n");
    tickwatch(dir.path())
        .args(["record", "--db", "/proc/tickwatch-test/x.db", "--config"])
        .arg(&cfg)
        .assert()
        .code(1)
        .stderr(predicate::str::contains("x.db"));
}

#[test]
fn kill_9_loses_at_most_the_last_batch_and_a_rerun_completes_it() {
    let dir = tempfile::tempdir().unwrap();
    let n = 2_000_000u64;
    let dump = write(
        dir.path(),
        "XRPUSDT-trades-2024-03-01.csv",
        &trades_csv(n, 1_709_251_200_000),
    );
    let db = dir.path().join("k.db");
    let mut child = replay(dir.path(), &db, &dump)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // wait until some trades are committed, then kill -9
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    loop {
        std::thread::sleep(std::time::Duration::from_millis(50));
        let count = rusqlite::Connection::open(&db)
            .and_then(|c| c.query_row("SELECT COUNT(*) FROM trades", [], |r| r.get::<_, i64>(0)))
            .unwrap_or(0);
        if count > 0 || std::time::Instant::now() > deadline {
            break;
        }
    }
    child.kill().unwrap(); // SIGKILL
    let _ = child.wait();
    let conn = rusqlite::Connection::open(&db).unwrap();
    let ok: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok");
    let (count, max): (i64, i64) = conn
        .query_row(
            "SELECT COUNT(*), COALESCE(MAX(trade_id), 0) FROM trades",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert!(count > 0 && (count as u64) < n, "killed mid-way: {count}");
    assert_eq!(count, max, "a gap-free prefix of ids 1..={max}");
    drop(conn);
    replay(dir.path(), &db, &dump).assert().success();
    let conn = rusqlite::Connection::open(&db).unwrap();
    let (count, distinct): (i64, i64) = conn
        .query_row(
            "SELECT COUNT(*), COUNT(DISTINCT trade_id) FROM trades",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((count as u64, distinct as u64), (n, n));
}

#[test]
fn record_logs_stats_and_flushes_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write(
        dir.path(),
        "rec.toml",
        "sources = [\"sim\"]\n[sim]\nsymbols = [\"BTCUSDT\", \"ETHUSDT\"]\nrate = 50.0\nhistory_secs = 60\n[notify]\ndesktop = false\n",
    );
    let db = dir.path().join("rec.db");
    let child = tickwatch(dir.path())
        .arg("record")
        .arg("--config")
        .arg(&cfg)
        .arg("--db")
        .arg(&db)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // one periodic stats line comes every 10 s
    std::thread::sleep(std::time::Duration::from_secs(11));
    assert!(
        Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status()
            .unwrap()
            .success()
    );
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("events") && err.contains("/s | dropped 0"),
        "no stats line: {err}"
    );
    assert!(err.contains("sim: live"), "{err}");
    assert!(err.contains("flushing"), "{err}");
    let conn = rusqlite::Connection::open(&db).unwrap();
    let (trades, max): (i64, i64) = conn
        .query_row(
            "SELECT COUNT(*), MAX(trade_id) FROM trades WHERE symbol = 'BTCUSDT'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    // an hour's worth of history at 50/s is 3000 trades, then live ones; all flushed, no gaps
    assert!(trades > 3_000, "{trades}");
    assert_eq!(trades, max);
}

#[test]
fn the_shipped_examples_in_assets_are_valid_configs() {
    let dir = tempfile::tempdir().unwrap();
    let assets = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets");
    let mut checked = 0;
    for entry in std::fs::read_dir(&assets).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            tickwatch(dir.path())
                .arg("check-config")
                .arg(&path)
                .assert()
                .success()
                .stdout(predicate::str::contains(": ok ("));
            checked += 1;
        }
    }
    assert!(checked > 0, "no example configs in {}", assets.display());
    // the systemd unit runs command lines tickwatch accepts (the commented variant too)
    let unit = std::fs::read_to_string(assets.join("tickwatch-record.service")).unwrap();
    let execs: Vec<&str> = unit
        .lines()
        .filter_map(|l| l.trim_start_matches("# ").strip_prefix("ExecStart="))
        .collect();
    assert!(execs.len() >= 2, "{unit}");
    for exec in execs {
        let args: Vec<&str> = exec.split_whitespace().skip(1).collect();
        assert_eq!(args[0], "record");
        let mut cmd = tickwatch(dir.path());
        cmd.args(&args).arg("--help");
        cmd.assert().success();
    }
}
