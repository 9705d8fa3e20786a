//! Databases tickwatch must not change or cannot change: one written by a newer tickwatch is
//! refused before anything touches it, and the read-only commands (`export`, `alerts list`) read
//! a WAL database on a read-only mount.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::tmpfs::Tmpfs;

use std::path::{Path, PathBuf};
use std::process::Stdio;

const T0: i64 = 1_740_787_200_000; // 2025-03-01T00:00:00Z

/// The files in `dir`, by name, with their contents.
fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap_or_default(),
            )
        })
        .collect();
    v.sort();
    v
}

fn trades_csv(dir: &Path) -> PathBuf {
    let p = dir.join("BTCUSDT-trades-2025-03-01.csv");
    let rows: Vec<String> = (1..=600)
        .map(|i| format!("{i},{}.5,0.5,1.0,{},True,True", 100 + i % 7, T0 + i * 1000))
        .collect();
    std::fs::write(&p, rows.join("\n") + "\n").unwrap();
    p
}

#[test]
fn a_newer_schema_database_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let dbdir = dir.path().join("db");
    std::fs::create_dir(&dbdir).unwrap();
    let db = dbdir.join("future.db");
    {
        let c = rusqlite::Connection::open(&db).unwrap();
        c.execute_batch(
            "PRAGMA journal_mode = DELETE; CREATE TABLE future (x); PRAGMA user_version = 99;",
        )
        .unwrap();
    }
    let before = snapshot(&dbdir);
    let csv = trades_csv(dir.path());
    let out = support::tickwatch_cmd(dir.path())
        .args(["replay", "--headless", "--db"])
        .arg(&db)
        .arg(&csv)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("99"), "names the version it found: {err}");
    assert_eq!(
        snapshot(&dbdir),
        before,
        "the database or its directory changed: {err}"
    );
}

#[test]
fn export_and_alerts_list_read_a_wal_database_on_a_read_only_mount() {
    let dir = tempfile::tempdir().unwrap();
    let Some(fs) = Tmpfs::mount(&dir.path().join("ro"), "16m") else {
        return support::cannot_run("cannot mount a tmpfs (needs root)");
    };
    let db = fs.0.join("h.db");
    let csv = trades_csv(dir.path());
    let out = support::tickwatch_cmd(dir.path())
        .args(["replay", "--headless", "--db"])
        .arg(&db)
        .arg(&csv)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let mode: String = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    assert!(fs.read_only(), "cannot remount the tmpfs read-only");
    let before = snapshot(&fs.0);
    assert_eq!(
        before.len(),
        1,
        "only the database: {:?}",
        before.iter().map(|f| &f.0).collect::<Vec<_>>()
    );

    let out = support::tickwatch_cmd(dir.path())
        .args(["export", "--symbol", "BTCUSDT", "--interval", "1m", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.lines().count() >= 10, "{stdout}");

    let out = support::tickwatch_cmd(dir.path())
        .args(["alerts", "list", "--format", "csv", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("time,"));
    assert_eq!(snapshot(&fs.0), before);
}
