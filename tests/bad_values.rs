//! Numbers a user types and prices a file holds are checked: an absurd `--stats-every` or
//! `--speed` is refused with its range before anything starts (both panicked once the run was
//! under way), and a price of 1e308 is rejected with its reason instead of wrecking the SMA.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::Path;
use std::process::Stdio;

const T0: i64 = 1_740_787_200_000; // 2025-03-01T00:00:00Z

/// Runs `cmd` to its end (killed after 20 s) and returns (exit code, stdout, stderr).
fn finish(mut cmd: std::process::Command, what: &str) -> (Option<i32>, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let (out, err) = (dir.path().join("out"), dir.path().join("err"));
    let mut child = cmd
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .stdin(Stdio::null())
        .spawn()
        .unwrap();
    let (status, _) = support::wait_exit(&mut child, 20, what);
    (
        status.code(),
        std::fs::read_to_string(&out).unwrap(),
        std::fs::read_to_string(&err).unwrap(),
    )
}

fn trades_csv(dir: &Path, rows: &[String]) -> std::path::PathBuf {
    let p = dir.join("BTCUSDT-trades-2025-03-01.csv");
    std::fs::write(&p, rows.join("\n") + "\n").unwrap();
    p
}

fn row(id: i64, price: &str) -> String {
    format!("{id},{price},0.5,1.0,{},True,True", T0 + id * 1000)
}

#[test]
fn an_absurd_stats_period_is_refused_before_the_sources_start() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.toml");
    std::fs::write(&cfg, "sources = [\"sim\"]\n[notify]\ndesktop = false\n").unwrap();
    let mut cmd = support::tickwatch_cmd(dir.path());
    cmd.arg("--config")
        .arg(&cfg)
        .arg("--db")
        .arg(dir.path().join("r.db"))
        .args(["record", "--stats-every", "1e20"]);
    let (code, _, err) = finish(cmd, "record --stats-every 1e20");
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--stats-every"), "{err}");
    assert!(err.contains("from 0.1 to 86400"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn an_absurd_replay_speed_is_refused_with_its_range() {
    let dir = tempfile::tempdir().unwrap();
    let csv = trades_csv(dir.path(), &[row(1, "100.0"), row(2, "101.0")]);
    for speed in ["1e-300x", "1e300x"] {
        let mut cmd = support::tickwatch_cmd(dir.path());
        cmd.args(["replay", "--headless", "--speed", speed, "--db"])
            .arg(dir.path().join("r.db"))
            .arg(&csv);
        let (code, _, err) = finish(cmd, &format!("replay --speed {speed}"));
        assert_eq!(code, Some(2), "{speed}: {err}");
        assert!(err.contains("from 0.001x to 1000000x"), "{speed}: {err}");
        assert!(!err.contains("panicked"), "{speed}: {err}");
    }
}

#[test]
fn a_price_of_1e308_is_rejected_with_its_reason() {
    let dir = tempfile::tempdir().unwrap();
    let mut rows: Vec<String> = (1..=5).map(|i| row(i, "100.5")).collect();
    rows.push(row(6, "1e308"));
    rows.extend((7..=10).map(|i| row(i, "101.5")));
    let csv = trades_csv(dir.path(), &rows);
    let mut cmd = support::tickwatch_cmd(dir.path());
    cmd.args(["replay", "--headless", "--db"])
        .arg(dir.path().join("r.db"))
        .arg(&csv);
    let (code, out, err) = finish(cmd, "replay of a 1e308 price");
    assert_eq!(code, Some(1), "{out}\n{err}");
    assert!(
        err.contains("csv:6: price 1e308 is outside 1e-12..1e12"),
        "{out}\n{err}"
    );
}

#[test]
fn a_backfill_time_outside_any_market_data_is_refused_with_its_range() {
    let dir = tempfile::tempdir().unwrap();
    for (flag, value) in [("--from", "-9223372036854775808"), ("--to", "1900-01-01")] {
        let mut cmd = support::tickwatch_cmd(dir.path());
        cmd.args(["backfill", "--symbol", "BTCUSDT", "--db"])
            .arg(dir.path().join("b.db"))
            .arg(format!("{flag}={value}"));
        if flag == "--to" {
            cmd.arg("--from=2025-03-01");
        }
        let (code, _, err) = finish(cmd, &format!("backfill {flag} {value}"));
        assert_eq!(code, Some(2), "{flag} {value}: {err}");
        assert!(err.contains("from 2009-01-01 to 2100-01-01"), "{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}
