//! Alerts run once, on the server, and reach everyone: a `record --publish` with a rule that
//! fires publishes its alerts to a real `nats-server -js`; a monitor with `sources = ["nats"]`,
//! in a real terminal (tmux), shows each in its alerts pane once, tagged `remote`, stores it,
//! and does not send it to its own sinks; a headless reader with `[nats] notify = true` does.
//! An alert the stream holds twice (published again without a message id) is shown and stored
//! once, and its text (escape sequences from a server) cannot drive the terminal.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use support::nats::NatsServer;
use support::query_i64;
use support::tmux::{start_with, wait_exit};

/// A sink that records every alert it is handed (one JSON line each) in `file`.
fn hook(file: &Path) -> String {
    format!(
        "[[notify.command]]\nname = \"hook\"\nprogram = \"/bin/sh\"\n\
         args = [\"-c\", \"cat >> '{}'; echo >> '{}'\"]\n",
        file.display(),
        file.display()
    )
}

fn reader_config(dir: &Path, url: &str, notify: bool) -> std::path::PathBuf {
    let path = dir.join("reader.toml");
    std::fs::write(
        &path,
        format!(
            "sources = [\"nats\"]\n\
             [notify]\ndesktop = false\nterminal = \"off\"\n{}\
             [nats]\nurl = \"{url}\"\nstart = \"all\"\nnotify = {notify}\n",
            hook(&dir.join("notified"))
        ),
    )
    .unwrap();
    path
}

/// Publishes one alert message the way a recorder would, but with no `Nats-Msg-Id`: the stream
/// keeps every copy.
async fn publish_alert(url: &str, json: &serde_json::Value) {
    let js = async_nats::jetstream::new(async_nats::connect(url).await.unwrap());
    js.publish(
        "tickwatch.alert.sim.BTCUSDT",
        serde_json::to_vec(json).unwrap().into(),
    )
    .await
    .unwrap()
    .await
    .unwrap();
}

fn wait_count(db: &Path, sql: &str, want: i64, what: &str) {
    let t = Instant::now();
    loop {
        let n = query_i64(db, sql).unwrap_or(-1);
        if n == want {
            return;
        }
        assert!(
            t.elapsed() < Duration::from_secs(30),
            "{what}: {n}, want {want}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn stop(mut child: Child, what: &str) -> String {
    support::signal(child.id(), "TERM");
    let t = Instant::now();
    while child.try_wait().unwrap().is_none() {
        assert!(t.elapsed() < Duration::from_secs(20), "{what} did not stop");
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{what} failed:\n{err}");
    err
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_fired_on_the_recorder_reach_a_monitor_once_marked_remote() {
    let dir = tempfile::tempdir().unwrap();
    let Some(bin) = support::nats::binary() else {
        support::cannot_run("nats-server is not installed (Debian package nats-server)");
        return;
    };
    let nats = NatsServer::start(bin, dir.path());
    let url = nats.url();

    // the recorder: two symbols, a rule that fires on the first trade of each (every price is above 0.01)
    let rec_config = dir.path().join("rec.toml");
    std::fs::write(
        &rec_config,
        "sources = [\"sim\"]\n[notify]\ndesktop = false\nterminal = \"off\"\n\
         [sim]\nsymbols = [\"BTCUSDT\", \"ETHUSDT\"]\nrate = 20.0\nspeed = \"1\"\n\
         history_secs = 0\nmax_trades = 60\n\
         [[alerts]]\nname = \"any-price\"\nkind = \"price_above\"\nvalue = 0.01\n\
         severity = \"critical\"\n",
    )
    .unwrap();
    let out = support::tickwatch_cmd(dir.path())
        .arg("--config")
        .arg(&rec_config)
        .arg("--db")
        .arg(dir.path().join("rec.db"))
        .args(["record", "--publish", &url])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "record failed:\n{err}");
    assert!(err.contains(", 2 alerts;"), "one alert per symbol:\n{err}");

    // an alert from a server with escape sequences in its text, in the stream twice
    let evil = serde_json::json!({
        "type": "alert", "alert_id": "evil-1", "ts_ms": tickwatch::domain::now_ms(),
        "venue": "sim", "symbol": "BTCUSDT", "rule": "r\u{1b}[31m", "value": 1.0,
        "message": "BTCUSDT boom\u{1b}[2J\u{7}done", "severity": "warning",
    });
    publish_alert(&url, &evil).await;
    publish_alert(&url, &evil).await;
    // a damaged message of trades: counted as unreadable, the rest read on
    {
        let js = async_nats::jetstream::new(async_nats::connect(&url).await.unwrap());
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Content-Type", tickwatch::fanout::binary::CONTENT_TYPE);
        js.publish_with_headers(
            "tickwatch.trade.sim.BTCUSDT",
            headers,
            b"\x1a\xff\xff\xff"[..].into(),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    }

    // a headless reader that asks for remote alerts on its own sinks
    let reader_dir = dir.path().join("reader");
    std::fs::create_dir_all(&reader_dir).unwrap();
    let reader = support::tickwatch_cmd(&reader_dir)
        .arg("--config")
        .arg(reader_config(&reader_dir, &url, true))
        .arg("--db")
        .arg(reader_dir.join("reader.db"))
        .arg("record")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();

    // the monitor, in a real terminal, with the default: shown and stored, not notified
    let mon_dir = dir.path().join("monitor");
    std::fs::create_dir_all(&mon_dir).unwrap();
    let mon_config = reader_config(&mon_dir, &url, false);
    let mon_db = mon_dir.join("monitor.db");
    let Some((t, exit_file)) = start_with(
        &mon_dir,
        140,
        40,
        &format!(
            "--config '{}' --db '{}'",
            mon_config.display(),
            mon_db.display()
        ),
        "",
    ) else {
        stop(reader, "the reader");
        return;
    };
    let screen = t.wait_for("three remote alerts", Duration::from_secs(30), |s| {
        s.contains("Alerts (3)") && s.lines().filter(|l| l.contains(" remote ")).count() == 3
    });
    assert!(screen.contains("boom\\x1b[2J\\x07done"), "{screen}");
    for symbol in ["BTCUSDT", "ETHUSDT"] {
        assert!(
            screen
                .lines()
                .any(|l| l.contains(&format!("remote {symbol} price")) && l.contains("above")),
            "{symbol}'s alert, tagged remote:\n{screen}"
        );
    }
    // a while later (the stream re-read after nothing new): still each once
    std::thread::sleep(Duration::from_secs(2));
    let screen = t.capture();
    assert!(screen.contains("Alerts (3)"), "{screen}");
    t.keys(&["q"]);
    assert_eq!(wait_exit(&exit_file), 0);
    assert_eq!(
        query_i64(&mon_db, "SELECT COUNT(*) FROM alerts"),
        Some(3),
        "each stored once"
    );
    assert_eq!(
        query_i64(
            &mon_db,
            "SELECT COUNT(*) FROM alerts WHERE delivered = 'remote,tui'"
        ),
        Some(3)
    );
    assert_eq!(
        query_i64(
            &mon_db,
            "SELECT COUNT(*) FROM alerts WHERE rule = 'any-price' AND severity = 'critical'"
        ),
        Some(2)
    );
    assert_eq!(
        query_i64(&mon_db, "SELECT COUNT(*) FROM alert_deliveries"),
        Some(0),
        "the monitor's own sinks were not used"
    );
    assert!(!mon_dir.join("notified").exists());

    // the reader with `notify = true`: stored once each, and sent to its sink once each
    let reader_db = reader_dir.join("reader.db");
    wait_count(
        &reader_db,
        "SELECT COUNT(*) FROM alerts",
        3,
        "reader alerts",
    );
    wait_count(
        &reader_db,
        "SELECT COUNT(*) FROM alert_deliveries WHERE sink = 'command:hook' AND status = 'sent'",
        3,
        "alerts sent to the reader's sink",
    );
    // every trade the recorder published (as protobuf), none from the damaged message
    wait_count(
        &reader_db,
        "SELECT COUNT(*) FROM trades",
        60,
        "reader trades",
    );
    stop(reader, "the reader");
    let log = std::fs::read_to_string(reader_dir.join("tickwatch.log")).unwrap_or_default();
    assert!(
        log.contains(
            "1 unreadable message(s) on the stream; last: a TradeBatch that protobuf cannot read"
        ),
        "{log}"
    );
    assert_eq!(
        query_i64(
            &reader_db,
            "SELECT COUNT(*) FROM alerts WHERE delivered LIKE 'remote,%command:hook%'"
        ),
        Some(3)
    );
}
