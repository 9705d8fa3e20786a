//! The data path under overload, a full disk and signals, through the real binary: a
//! full-speed simulator on 100 symbols loses nothing and stops within seconds of SIGTERM with
//! memory that stays flat; a database that fills up ends `record` promptly with a clear error.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::tmpfs::Tmpfs;

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use support::{memory_kb, query_i64, signal, tickwatch_cmd, wait_exit};

/// A config for `record` on a simulator at full speed over `n` symbols.
fn sim_config(dir: &Path, n: usize, extra: &str) -> std::path::PathBuf {
    let symbols: Vec<String> = (0..n).map(|i| format!("\"S{i:03}USDT\"")).collect();
    let text = format!(
        "sources = [\"sim\"]\n[sim]\nsymbols = [{}]\nspeed = \"max\"\nhistory_secs = 0\n\
         [notify]\ndesktop = false\nterminal = \"off\"\n{extra}",
        symbols.join(", ")
    );
    let path = dir.join("config.toml");
    std::fs::write(&path, text).unwrap();
    path
}

/// The `N events` of record's closing line.
fn events_of(stderr: &str) -> i64 {
    let line = stderr
        .lines()
        .find(|l| l.contains(" events, ") && l.contains("candles closed"))
        .unwrap_or_else(|| panic!("no closing line in:\n{stderr}"));
    line.split_whitespace()
        .find_map(|w| w.parse::<i64>().ok())
        .unwrap()
}

#[test]
fn a_full_speed_simulator_is_stored_whole_and_stops_within_seconds_of_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    // small queues, so that the backlog at the stop fits the stop's deadline even on a debug
    // build on a busy machine; the defaults only change how much is queued
    let cfg = sim_config(
        dir.path(),
        100,
        "[engine]\nring_events = 20000\n[storage]\nmax_pending_rows = 20000\n",
    );
    let db = dir.path().join("h.db");
    let mut child = tickwatch_cmd(dir.path())
        .args(["--config"])
        .arg(&cfg)
        .arg("--db")
        .arg(&db)
        .args(["record", "--stats-every", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    std::thread::sleep(Duration::from_secs(4));
    let (_, rss_early) = memory_kb(pid).expect("record is running");
    std::thread::sleep(Duration::from_secs(6));
    let (peak, rss_late) = memory_kb(pid).expect("record is running");
    signal(pid, "TERM");
    let (status, took) = wait_exit(&mut child, 30, "record after SIGTERM");
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert!(
        took < Duration::from_secs(15),
        "stopped {took:?} after SIGTERM:\n{stderr}"
    );
    assert!(status.success(), "{status}:\n{stderr}");
    // nothing a source produced was dropped: every trade the engine took is stored, once
    let events = events_of(&stderr);
    let trades = query_i64(&db, "SELECT COUNT(*) FROM trades").expect("the database is readable");
    assert!(
        events > 100_000,
        "the simulator ran at full speed: {events}"
    );
    assert_eq!(trades, events, "every simulated trade stored:\n{stderr}");
    assert!(
        !stderr.contains("dropped a batch"),
        "nothing dropped:\n{stderr}"
    );
    // memory is bounded by configuration, not by how long the flood lasts
    assert!(
        rss_late < rss_early + rss_early / 2 + 30_000,
        "memory grew from {rss_early} kB to {rss_late} kB"
    );
    assert!(peak < 400_000, "peak memory {peak} kB");
}

#[test]
fn a_full_disk_ends_record_promptly_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let Some(fs) = Tmpfs::mount(&dir.path().join("small"), "2m") else {
        return support::cannot_run("cannot mount a tmpfs (needs root)");
    };
    let cfg = sim_config(dir.path(), 20, "");
    let db = fs.0.join("h.db");
    let mut child = tickwatch_cmd(dir.path())
        .args(["--config"])
        .arg(&cfg)
        .arg("--db")
        .arg(&db)
        .arg("record")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // nobody signals it: the full disk alone must end it
    let (status, took) = wait_exit(&mut child, 60, "record on a full disk");
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(took < Duration::from_secs(30), "took {took:?}:\n{stderr}");
    assert!(
        stderr.contains("the database cannot be written (disk full)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("free space or fix its permissions"),
        "says what to do:\n{stderr}"
    );
    drop(fs);
}

#[test]
fn a_full_disk_ends_a_replay_promptly_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let Some(fs) = Tmpfs::mount(&dir.path().join("small"), "2m") else {
        return support::cannot_run("cannot mount a tmpfs (needs root)");
    };
    // a day of trades, one every 100 ms: far more than 2 MB of database
    let csv = dir.path().join("BTCUSDT-trades-2025-03-01.csv");
    let mut text = String::new();
    let t0 = 1_740_787_200_000i64;
    for id in 1..=400_000u64 {
        let price = 84_000.0 + ((id * 7) % 23) as f64 * 0.5;
        text.push_str(&format!(
            "{id},{price},0.5,{},{},True,True\n",
            price * 0.5,
            t0 + id as i64 * 100
        ));
    }
    std::fs::write(&csv, text).unwrap();
    let db = fs.0.join("r.db");
    let mut child = tickwatch_cmd(dir.path())
        .args(["replay", "--headless", "--db"])
        .arg(&db)
        .arg(&csv)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (status, took) = wait_exit(&mut child, 60, "replay on a full disk");
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(took < Duration::from_secs(30), "took {took:?}:\n{stderr}");
    assert!(stderr.contains("disk full"), "{stderr}");
    assert!(stderr.contains("free space"), "says what to do:\n{stderr}");
    drop(fs);
}
