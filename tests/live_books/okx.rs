//! OKX `books`: the real 2022-05-13 BTC-USDT session (a snapshot and its updates, each with
//! OKX's CRC32), one update re-sent with a wrong checksum.

use std::time::Duration;

use serde_json::Value;
use tickwatch::book::BookMachine;
use tickwatch::book::okx::{self, OkxBook};

use super::support::http::HttpServer;
use super::support::ws::WsServer;
use super::{book_figures, fixture, record, rule_for, stop, wait_alert};

const FILE: &str = "okx/cryptofeed_OKX.ws.1.0_2022-05-13.raw.txt";
/// The update whose checksum is corrupted.
const FAULT: usize = 6;

/// The BTC-USDT `books` pushes of the session, in order.
fn frames(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| !l.starts_with("wss://"))
        .filter_map(|l| l.split_once(": ").map(|(_, f)| f))
        .filter(|f| f.contains(r#""channel":"books","instId":"BTC-USDT""#) && f.contains("action"))
        .map(str::to_string)
        .collect()
}

/// A snapshot push of `book` (what OKX sends on subscribe), with the venue's `checksum`.
fn snapshot(m: &OkxBook, checksum: &Value) -> String {
    let side = |levels: Vec<String>| -> Value {
        levels
            .into_iter()
            .map(|t| {
                let (px, sz) = t.split_once(':').unwrap();
                serde_json::json!([px, sz, "0", "1"])
            })
            .collect()
    };
    let b = m.book();
    let bids = side(b.bids().map(|(_, l)| l.text.to_string()).collect());
    let asks = side(b.asks().map(|(_, l)| l.text.to_string()).collect());
    serde_json::json!({
        "arg": {"channel": "books", "instId": "BTC-USDT"},
        "action": "snapshot",
        "data": [{"asks": asks, "bids": bids, "ts": "1652459226000", "checksum": checksum}]
    })
    .to_string()
}

/// Reads the client's messages until it subscribes `books` again (after unsubscribing it),
/// answering both as OKX does.
async fn expect_book_resubscribe(c: &mut super::support::ws::ServerConn) {
    let mut unsubscribed = false;
    loop {
        let text = c.recv_text().await;
        if text == "ping" {
            continue;
        }
        let v: Value = serde_json::from_str(&text).unwrap();
        let arg = &v["args"][0];
        assert_eq!(arg["channel"], "books", "{text}");
        assert_eq!(arg["instId"], "BTC-USDT", "{text}");
        c.send(format!(
            r#"{{"event":"{}","arg":{arg}}}"#,
            v["op"].as_str().unwrap()
        ))
        .await;
        match v["op"].as_str() {
            Some("unsubscribe") => unsubscribed = true,
            Some("subscribe") => {
                assert!(unsubscribed, "subscribed again without unsubscribing");
                return;
            }
            _ => panic!("{text}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checksum_failure_resubscribes_and_the_book_ends_as_the_venues() {
    let Some(text) = fixture(FILE) else { return };
    let frames = frames(&text);
    assert!(frames[0].contains("snapshot") && frames.len() > 50);
    // the venue's books after each push, as the verified machine keeps them
    let mut m = OkxBook::new();
    let mut states = Vec::new();
    let mut at_fault = None;
    for (i, f) in frames.iter().enumerate() {
        for msg in okx::parse(f).unwrap() {
            m.on_message(&msg);
        }
        assert!(m.status().is_synced(), "fixture push {i}: {}", m.status());
        states.push(book_figures(m.book()));
        if i == FAULT {
            let v: Value = serde_json::from_str(f).unwrap();
            at_fault = Some(snapshot(&m, &v["data"][0]["checksum"]));
        }
    }
    let resync_snapshot = at_fault.unwrap();
    let (rule, last, want) = rule_for(&states, FAULT + 3);

    let dir = tempfile::tempdir().unwrap();
    let market = super::support::okx::Market::new(&["BTC-USDT"]);
    let http = HttpServer::start(market.handler()).await;
    let mut ws = WsServer::start().await;
    let section = format!(
        "[okx]\nws_url = \"{}\"\nrest_url = \"{}\"\nsymbols = [\"BTC-USDT\"]\nbackfill_candles = 0\ndepth = true\nbackoff_initial_ms = 100\nbackoff_max_ms = 200\n",
        ws.url, http.url
    );
    let (child, db) = record(dir.path(), &section, &rule);
    let mut c = ws.accept().await;
    let text = c.recv_text().await;
    let v: Value = serde_json::from_str(&text).unwrap();
    let channels: Vec<&str> = v["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["channel"].as_str().unwrap())
        .collect();
    assert_eq!(channels, ["trades", "tickers", "books"], "{text}");
    for arg in v["args"].as_array().unwrap() {
        c.send(format!(r#"{{"event":"subscribe","arg":{arg}}}"#))
            .await;
    }
    c.send_all(frames[..FAULT].iter().cloned()).await;
    // the fault: the update arrives with a checksum that is not its book's
    let mut bad: Value = serde_json::from_str(&frames[FAULT]).unwrap();
    let sum = bad["data"][0]["checksum"].as_i64().unwrap();
    bad["data"][0]["checksum"] = Value::from(sum ^ 0x55);
    c.send(bad.to_string()).await;
    tokio::time::timeout(Duration::from_secs(10), expect_book_resubscribe(&mut c))
        .await
        .expect("no resubscribe of books within 10 s of the bad checksum");
    // OKX answers a subscribe with the book as it is now, then goes on with its updates
    c.send(resync_snapshot).await;
    c.send_all(frames[FAULT + 1..=last].iter().cloned()).await;
    let log_path = dir.path().join("tickwatch.log");
    let alert = wait_alert(&db, Duration::from_secs(15), &log_path).await;
    // every later checksum matched: nothing was subscribed again
    let quiet = tokio::time::timeout(Duration::from_millis(1500), async {
        loop {
            let t = c.recv_text().await;
            if t != "ping" {
                return t;
            }
        }
    })
    .await;
    assert!(
        quiet.is_err(),
        "another request after the resync: {quiet:?}"
    );
    let log = stop(child, dir.path());
    assert!(log.contains("checksum failed"), "{log}");
    super::assert_resynced_once(&log, alert, want);
}
