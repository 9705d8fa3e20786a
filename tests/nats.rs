//! Live fan-out over NATS JetStream with a real `nats-server -js` on a free loopback port:
//! `record --publish` stores every trade in the stream exactly once through a server restart,
//! and a reader with `sources = ["nats"]` cut off from NATS for 30 s resumes where it was,
//! ending with every trade exactly once.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::Duration;

use async_nats::jetstream::{self, consumer};
use futures_util::StreamExt;
use support::nats::{NatsServer, Proxy};
use support::query_i64;
use tickwatch::domain::EventKind;
use tickwatch::fanout::binary::TradeBatch;

/// How long the reader is cut off from NATS (the issue names 30 s).
fn outage() -> Duration {
    Duration::from_secs(
        std::env::var("TICKWATCH_NATS_OUTAGE_SECS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(30),
    )
}

fn server(dir: &Path) -> Option<NatsServer> {
    match support::nats::binary() {
        Some(bin) => Some(NatsServer::start(bin, dir)),
        None => {
            support::cannot_run("nats-server is not installed (Debian package nats-server)");
            None
        }
    }
}

/// A simulator config: two symbols, `rate` trades a second each in real time, `total` trades,
/// published as `trade_format`.
fn sim_config(dir: &Path, rate: u32, total: u64, trade_format: &str) -> PathBuf {
    let path = dir.join("sim.toml");
    std::fs::write(
        &path,
        format!(
            "sources = [\"sim\"]\n[notify]\ndesktop = false\n\
             [sim]\nsymbols = [\"BTCUSDT\", \"ETHUSDT\"]\nrate = {rate}.0\nspeed = \"1\"\n\
             history_secs = 0\nmax_trades = {total}\n\
             [nats]\ntrade_format = \"{trade_format}\"\n"
        ),
    )
    .unwrap();
    path
}

/// A reader's folder under `dir` and its config: `sources = ["nats"]` from the stream's start.
fn reader_setup(dir: &Path, url: &str) -> (PathBuf, PathBuf) {
    let reader_dir = dir.join("reader");
    std::fs::create_dir_all(&reader_dir).unwrap();
    let config = reader_dir.join("reader.toml");
    std::fs::write(
        &config,
        format!(
            "sources = [\"nats\"]\n[notify]\ndesktop = false\n\
             [nats]\nurl = \"{url}\"\nstart = \"all\"\n"
        ),
    )
    .unwrap();
    (reader_dir, config)
}

fn spawn(dir: &Path, config: &Path, db: &str, extra: &[&str]) -> Child {
    support::tickwatch_cmd(dir)
        .arg("--config")
        .arg(config)
        .arg("--db")
        .arg(dir.join(db))
        .args(["record", "--stats-every", "1"])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Waits for `child` to exit by itself; its success and stderr.
async fn finish(mut child: Child, secs: u64, what: &str) -> (bool, String) {
    let t = std::time::Instant::now();
    while child.try_wait().unwrap().is_none() {
        if t.elapsed() > Duration::from_secs(secs) {
            let _ = child.kill();
            let out = child.wait_with_output().unwrap();
            panic!(
                "{what}: still running after {secs} s; stderr:\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Every trade in the stream, as (symbol, trade id), in stream order; every message of trades
/// must be `protobuf` (a `TradeBatch` saying so in its Content-Type) or JSON lines.
async fn stream_trades(url: &str, protobuf: bool) -> Vec<(String, u64)> {
    let js = jetstream::new(async_nats::connect(url).await.unwrap());
    let stream = js.get_stream("TICKWATCH").await.unwrap();
    let consumer = stream
        .create_consumer(consumer::pull::OrderedConfig {
            filter_subject: "tickwatch.trade.>".into(),
            deliver_policy: consumer::DeliverPolicy::All,
            ..Default::default()
        })
        .await
        .unwrap();
    let mut messages = consumer.messages().await.unwrap();
    let mut out = Vec::new();
    while let Ok(Some(m)) = tokio::time::timeout(Duration::from_secs(3), messages.next()).await {
        let m = m.unwrap();
        let content_type = m
            .headers
            .as_ref()
            .and_then(|h| h.get("Content-Type"))
            .map(|v| v.as_str().to_string());
        if protobuf {
            assert_eq!(
                content_type.as_deref(),
                Some("application/x-protobuf; proto=tickwatch.TradeBatch")
            );
            let b: TradeBatch = prost::Message::decode(m.payload.clone()).unwrap();
            for ev in b.events().unwrap() {
                let EventKind::Trade(t) = ev.kind else {
                    unreachable!()
                };
                assert_eq!(
                    m.subject.as_str(),
                    format!("tickwatch.trade.sim.{}", ev.symbol)
                );
                out.push((ev.symbol.as_str().to_string(), t.trade_id));
            }
            continue;
        }
        assert_eq!(content_type, None);
        // one JSON object per line: a message carries a round's trades of one symbol
        for line in m.payload.split(|b| *b == b'\n') {
            let v: serde_json::Value = serde_json::from_slice(line).unwrap();
            assert_eq!(v["type"], "trade");
            out.push((
                v["symbol"].as_str().unwrap().to_string(),
                v["trade_id"].as_u64().unwrap(),
            ));
        }
    }
    out
}

fn summary_events(stderr: &str) -> u64 {
    // "tickwatch record: N events, ..."
    stderr
        .lines()
        .filter_map(|l| l.strip_prefix("tickwatch record: "))
        .find_map(|l| l.split_once(" events,").and_then(|(n, _)| n.parse().ok()))
        .unwrap_or_else(|| panic!("no summary in:\n{stderr}"))
}

fn assert_once(trades: &[(String, u64)], total: usize, what: &str) {
    let distinct: HashSet<_> = trades.iter().collect();
    assert_eq!(distinct.len(), total, "{what}: trades missing");
    assert_eq!(trades.len(), total, "{what}: trades duplicated");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_trade_is_in_the_stream_once_across_a_server_restart() {
    let dir = tempfile::tempdir().unwrap();
    let Some(mut nats) = server(dir.path()) else {
        return;
    };
    const TOTAL: u64 = 4_000;
    // trades as JSON lines here; the reader's test below reads the default protobuf
    let config = sim_config(dir.path(), 200, TOTAL, "json");
    let rec = spawn(dir.path(), &config, "rec.db", &["--publish", &nats.url()]);
    tokio::time::sleep(Duration::from_secs(3)).await;
    // in the middle of the stream: the server dies without a word, and comes back 2 s later
    nats.kill();
    tokio::time::sleep(Duration::from_secs(2)).await;
    nats.restart();
    let (ok, err) = finish(rec, 90, "record --publish").await;
    assert!(ok, "record failed:\n{err}");
    assert!(err.contains("not published 0"), "{err}");
    let stored = query_i64(&dir.path().join("rec.db"), "SELECT COUNT(*) FROM trades");
    assert_eq!(stored, Some(TOTAL as i64));
    let trades = stream_trades(&nats.url(), false).await;
    assert_once(&trades, TOTAL as usize, "the stream");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_cut_off_from_nats_resumes_without_gap_or_duplicate() {
    let dir = tempfile::tempdir().unwrap();
    let Some(nats) = server(dir.path()) else {
        return;
    };
    let proxy = Proxy::start(nats.port).await;
    let outage = outage();
    // the recorder runs through the whole outage and a little after
    let rate = 100u32;
    let total = (u64::from(rate) * 2) * (outage.as_secs() + 8);
    let config = sim_config(dir.path(), rate, total, "protobuf");
    let (reader_dir, reader_config) = reader_setup(dir.path(), &proxy.url());
    let reader = spawn(&reader_dir, &reader_config, "reader.db", &[]);
    let rec = spawn(dir.path(), &config, "rec.db", &["--publish", &nats.url()]);
    let reader_db = reader_dir.join("reader.db");
    // the reader is live and has trades before it is cut off
    let t = std::time::Instant::now();
    while query_i64(&reader_db, "SELECT COUNT(*) FROM trades").unwrap_or(0) < 200 {
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "the reader got no trades"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    proxy.cut();
    let before = query_i64(&reader_db, "SELECT COUNT(*) FROM trades").unwrap_or(0);
    tokio::time::sleep(outage).await;
    proxy.restore();
    let (ok, err) = finish(rec, 60, "record --publish").await;
    assert!(ok, "record failed:\n{err}");
    let published = summary_events(&err);
    assert_eq!(published, total);
    // the reader catches up: every trade, once
    let t = std::time::Instant::now();
    loop {
        let n = query_i64(&reader_db, "SELECT COUNT(*) FROM trades").unwrap_or(0);
        if n == total as i64 {
            break;
        }
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "the reader has {n} of {total} trades (had {before} when cut off)"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        before < total as i64 / 2,
        "the outage should fall in the middle of the stream"
    );
    // what the reader read: the recorder's protobuf TradeBatch messages
    assert_once(
        &stream_trades(&nats.url(), true).await,
        total as usize,
        "the stream",
    );
    support::signal(reader.id(), "TERM");
    let (ok, err) = finish(reader, 20, "the reader").await;
    assert!(ok, "the reader failed:\n{err}");
    // the reader's engine took each trade once: as many events as the recorder published
    assert_eq!(summary_events(&err), total, "{err}");
    let log = std::fs::read_to_string(reader_dir.join("tickwatch.log")).unwrap_or_default();
    assert!(
        log.contains("reconnecting") || log.contains("disconnected"),
        "{log}"
    );
    // nothing was read twice after the reconnect (the repeat check would hide it)
    assert!(!log.contains("trades read twice"), "{log}");
}

#[test]
fn a_url_with_a_password_is_never_shown() {
    let dir = tempfile::tempdir().unwrap();
    let config = sim_config(dir.path(), 10, 10, "protobuf");
    let out = support::tickwatch_cmd(dir.path())
        .arg("--config")
        .arg(&config)
        .args(["record", "--publish", "http://bob:hunter2@127.0.0.1:1"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("nats://"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reader_takes_each_trade_once_from_two_recorders_of_the_same_symbols() {
    let dir = tempfile::tempdir().unwrap();
    let Some(nats) = server(dir.path()) else {
        return;
    };
    const TOTAL: u64 = 1_000;
    // two recorders of the same simulated trades (the same ids), one after the other
    let config = sim_config(dir.path(), 500, TOTAL, "protobuf");
    for db in ["a.db", "b.db"] {
        let rec = spawn(dir.path(), &config, db, &["--publish", &nats.url()]);
        let (ok, err) = finish(rec, 60, "record --publish").await;
        assert!(ok, "record failed:\n{err}");
    }
    // where the two grouped trades alike the stream stored the message once (the same
    // Nats-Msg-Id); elsewhere it keeps both copies
    let trades = stream_trades(&nats.url(), true).await;
    assert!(
        trades.len() > TOTAL as usize && trades.len() <= 2 * TOTAL as usize,
        "{} trades in the stream",
        trades.len()
    );
    let (reader_dir, reader_config) = reader_setup(dir.path(), &nats.url());
    let reader = spawn(&reader_dir, &reader_config, "reader.db", &[]);
    let reader_db = reader_dir.join("reader.db");
    let t = std::time::Instant::now();
    while query_i64(&reader_db, "SELECT COUNT(*) FROM trades").unwrap_or(0) < TOTAL as i64 {
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "the reader got too few trades"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // the second copies come after the first: give them time to be read
    tokio::time::sleep(Duration::from_secs(2)).await;
    support::signal(reader.id(), "TERM");
    let (ok, err) = finish(reader, 20, "the reader").await;
    assert!(ok, "the reader failed:\n{err}");
    // the engine took each trade once
    assert_eq!(summary_events(&err), TOTAL, "{err}");
    let log = std::fs::read_to_string(reader_dir.join("tickwatch.log")).unwrap_or_default();
    assert!(log.contains("trades read twice on the stream"), "{log}");
}
