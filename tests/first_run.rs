#![allow(clippy::unwrap_used, clippy::expect_used)]
//! A user's first run, with the real binary in a sandboxed HOME: no config means Binance (what
//! the README says), simulated data never land in the live history, and `tickwatch init` writes
//! the shipped config where tickwatch finds it.

mod support;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use support::tickwatch_cmd;

fn data_dir(dir: &std::path::Path) -> std::path::PathBuf {
    dir.join("data").join("tickwatch")
}

#[test]
fn with_no_config_the_defaults_are_binance_as_the_readme_says() {
    let dir = tempfile::tempdir().unwrap();
    let out = tickwatch_cmd(dir.path())
        .arg("check-config")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("built-in defaults apply"), "{text}");
    assert!(text.contains("1 source(s): binance;"), "{text}");
    assert!(
        text.contains("BTCUSDT, ETHUSDT, SOLUSDT, BNBUSDT, XRPUSDT, DOGEUSDT"),
        "{text}"
    );
    assert!(text.contains("tickwatch init"), "{text}");
}

/// A config that leaves `sources` out runs Binance (here pointed at a closed port, so nothing
/// reaches the internet), and its data go to the default database.
#[test]
fn a_config_without_sources_records_binance() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cfg = dir.path().join("c.toml");
    std::fs::write(
        &cfg,
        format!(
            "[binance]\nws_url = \"ws://127.0.0.1:{port}\"\nrest_url = \"http://127.0.0.1:{port}\"\nsymbols = [\"BTCUSDT\"]\nbackfill_candles = 0\n[notify]\ndesktop = false\nterminal = \"off\"\n"
        ),
    )
    .unwrap();
    let mut child = tickwatch_cmd(dir.path())
        .args(["record", "--stats-every", "0.3", "--config"])
        .arg(&cfg)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let t = Instant::now();
    let mut seen = Vec::new();
    let mut stats_line = None;
    while t.elapsed() < Duration::from_secs(20) {
        let Some(Ok(l)) = lines.next() else { break };
        seen.push(l.clone());
        if !l.starts_with("tickwatch record:") && l.contains("binance") {
            stats_line = Some(l);
            break;
        }
    }
    support::signal(child.id(), "TERM");
    support::wait_exit(&mut child, 15, "record");
    let first = seen.first().cloned().unwrap_or_default();
    assert!(
        first.starts_with("tickwatch record: binance → "),
        "{seen:?}"
    );
    assert!(first.contains("tickwatch.db"), "{seen:?}");
    assert!(
        stats_line.is_some(),
        "no stats line names binance: {seen:?}"
    );
    assert!(!data_dir(dir.path()).join("demo.db").exists());
}

/// `sources = ["sim"]` with no database named writes to the demo database, says so, and
/// leaves the default (live) database alone.
#[test]
fn simulated_data_never_reach_the_default_database() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.toml");
    std::fs::write(
        &cfg,
        "sources = [\"sim\"]\n[sim]\nsymbols = [\"BTCUSDT\"]\nspeed = \"max\"\nhistory_secs = 0\nmax_trades = 3000\n[notify]\ndesktop = false\nterminal = \"off\"\n",
    )
    .unwrap();
    let mut child = tickwatch_cmd(dir.path())
        .args(["record", "--config"])
        .arg(&cfg)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    let (st, _) = support::wait_exit(&mut child, 30, "record");
    assert!(st.success(), "{err}");
    let demo = data_dir(dir.path()).join("demo.db");
    assert!(demo.exists(), "{err}");
    assert!(
        !data_dir(dir.path()).join("tickwatch.db").exists(),
        "simulated data reached the live history: {err}"
    );
    assert!(err.contains("demo database"), "{err}");
    let c = rusqlite::Connection::open(&demo).unwrap();
    let n: i64 = c
        .query_row("SELECT count(*) FROM trades WHERE venue = 'sim'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert!(n > 0, "{err}");
}

#[test]
fn init_writes_the_shipped_config_where_tickwatch_finds_it_and_keeps_an_existing_one() {
    let dir = tempfile::tempdir().unwrap();
    let out = tickwatch_cmd(dir.path()).arg("init").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let path = dir.path().join("cfg").join("tickwatch").join("config.toml");
    assert!(text.contains(&path.display().to_string()), "{text}");
    let shipped = include_str!("../config.toml");
    assert_eq!(std::fs::read_to_string(&path).unwrap(), shipped);

    // check-config finds it (no ./config.toml here) and accepts it
    let out = tickwatch_cmd(dir.path())
        .arg("check-config")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    assert!(text.contains(&format!("{}: ok", path.display())), "{text}");

    // an edited file is never replaced without --force
    std::fs::write(&path, "sources = [\"coinbase\"]\n").unwrap();
    let out = tickwatch_cmd(dir.path()).arg("init").output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("already exists") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "sources = [\"coinbase\"]\n"
    );
    let out = tickwatch_cmd(dir.path())
        .args(["init", "--force"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(std::fs::read_to_string(&path).unwrap(), shipped);

    // an explicit path
    let other = dir.path().join("x").join("my.toml");
    let out = tickwatch_cmd(dir.path())
        .arg("init")
        .arg(&other)
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(std::fs::read_to_string(&other).unwrap(), shipped);
}
