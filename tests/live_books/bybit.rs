//! Bybit `orderbook`: the real 2026-08-09 spot BTCUSDT session (a snapshot and 299 deltas
//! chained by `u`; recorded at depth 200, served as it was), one delta lost on the way.

use std::time::Duration;

use serde_json::Value;
use tickwatch::book::BookMachine;
use tickwatch::book::bybit::{self, BybitBook};

use super::support::http::HttpServer;
use super::support::ws::ServerConn;
use super::support::ws::WsServer;
use super::{book_figures, fixture, record, rule_for, stop, wait_alert};

const FILE: &str = "bybit/cryptofeed_BYBIT_v5_linear+spot_BTCUSDT_2026-08-09.jsonl";
/// The delta that never reaches the client.
const FAULT: usize = 6;
/// The topic tickwatch subscribes.
const TOPIC: &str = "orderbook.50.BTCUSDT";

/// The spot BTCUSDT `orderbook` pushes of the session, in order.
fn frames(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|l| {
            let v: Value = serde_json::from_str(l).ok()?;
            let data = v["data"].as_str()?;
            (v["t"] == "recv"
                && v["conn"] == "BYBIT.ws.3"
                && data.contains(r#""topic":"orderbook."#))
            .then(|| data.to_string())
        })
        .collect()
}

/// A snapshot push of the book after `frames[..=upto]` (what Bybit sends on subscribe), with
/// the last push's `u` and `seq`.
fn snapshot(frames: &[String], upto: usize) -> String {
    // price text -> size text, as Bybit keeps them
    let mut sides: [Vec<(String, String)>; 2] = [Vec::new(), Vec::new()];
    for f in &frames[..=upto] {
        let v: Value = serde_json::from_str(f).unwrap();
        if v["type"] == "snapshot" {
            sides = [Vec::new(), Vec::new()];
        }
        for (i, key) in ["b", "a"].into_iter().enumerate() {
            for l in v["data"][key].as_array().into_iter().flatten() {
                let (p, q) = (l[0].as_str().unwrap(), l[1].as_str().unwrap());
                sides[i].retain(|(x, _)| x.parse::<f64>().unwrap() != p.parse::<f64>().unwrap());
                if q.parse::<f64>().unwrap() != 0.0 {
                    sides[i].push((p.to_string(), q.to_string()));
                }
            }
        }
    }
    let key = |l: &(String, String)| l.0.parse::<f64>().unwrap();
    sides[0].sort_by(|a, b| key(b).total_cmp(&key(a)));
    sides[1].sort_by(|a, b| key(a).total_cmp(&key(b)));
    let last: Value = serde_json::from_str(&frames[upto]).unwrap();
    let levels = |s: &[(String, String)]| -> Value {
        s.iter().map(|(p, q)| serde_json::json!([p, q])).collect()
    };
    serde_json::json!({
        "topic": last["topic"],
        "type": "snapshot",
        "ts": last["ts"],
        "data": {
            "s": "BTCUSDT",
            "b": levels(&sides[0]),
            "a": levels(&sides[1]),
            "u": last["data"]["u"],
            "seq": last["data"]["seq"],
        },
        "cts": last["cts"],
    })
    .to_string()
}

/// Answers a request as Bybit spot does, with its `req_id`.
async fn ack(c: &mut ServerConn, v: &Value) {
    c.send(format!(
        r#"{{"success":true,"ret_msg":"{op}","conn_id":"c","req_id":{},"op":"{op}"}}"#,
        v["req_id"],
        op = v["op"].as_str().unwrap()
    ))
    .await;
}

/// The next request of the client that is not a ping.
async fn request(c: &mut ServerConn) -> (String, Value) {
    loop {
        let text = c.recv_text().await;
        let v: Value = serde_json::from_str(&text).unwrap();
        if v["op"] != "ping" {
            return (text, v);
        }
    }
}

/// Reads the client's requests until it subscribes the book topic again (after unsubscribing
/// it), answering both as Bybit does.
async fn expect_book_resubscribe(c: &mut ServerConn) {
    let mut unsubscribed = false;
    loop {
        let (text, v) = request(c).await;
        assert_eq!(v["args"], serde_json::json!([TOPIC]), "{text}");
        ack(c, &v).await;
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
async fn a_gap_in_u_resubscribes_and_the_book_ends_as_the_venues() {
    let Some(text) = fixture(FILE) else { return };
    let frames = frames(&text);
    assert!(frames[0].contains(r#""type":"snapshot""#) && frames.len() == 300);
    // the venue's books after each push, as the verified machine keeps them
    let mut m = BybitBook::new();
    let states: Vec<_> = frames
        .iter()
        .enumerate()
        .map(|(i, f)| {
            m.on_message(&bybit::parse(f).unwrap());
            assert!(m.status().is_synced(), "fixture push {i}: {}", m.status());
            book_figures(m.book())
        })
        .collect();
    // Bybit answers the subscribe with the book as it is then: after the push that showed the gap
    let resync_snapshot = snapshot(&frames, FAULT + 1);
    let (rule, last, want) = rule_for(&states, FAULT + 3);

    let dir = tempfile::tempdir().unwrap();
    let market = super::support::bybit::Market::new(&["BTCUSDT"]);
    let http = HttpServer::start(market.handler()).await;
    let mut ws = WsServer::start().await;
    let section = format!(
        "[bybit]\nws_url = \"{}\"\nrest_url = \"{}\"\nsymbols = [\"BTCUSDT\"]\nbackfill_candles = 0\ndepth = true\nbackoff_initial_ms = 100\nbackoff_max_ms = 200\n",
        ws.url, http.url
    );
    let (child, db) = record(dir.path(), &section, &rule);
    let mut c = ws.accept().await;
    let (text, v) = request(&mut c).await;
    assert_eq!(v["op"], "subscribe", "{text}");
    assert_eq!(
        v["args"],
        serde_json::json!([
            "publicTrade.BTCUSDT",
            "kline.1.BTCUSDT",
            "tickers.BTCUSDT",
            TOPIC
        ]),
        "{text}"
    );
    ack(&mut c, &v).await;
    c.send_all(frames[..FAULT].iter().cloned()).await;
    // the fault: delta FAULT is lost; the next one's `u` is two past the book's
    c.send(frames[FAULT + 1].clone()).await;
    tokio::time::timeout(Duration::from_secs(10), expect_book_resubscribe(&mut c))
        .await
        .expect("no resubscribe of the book within 10 s of the gap");
    c.send(resync_snapshot).await;
    c.send_all(frames[FAULT + 2..=last].iter().cloned()).await;
    let log_path = dir.path().join("tickwatch.log");
    let alert = wait_alert(&db, Duration::from_secs(15), &log_path).await;
    // every later delta followed by `u`: nothing was subscribed again
    let quiet = tokio::time::timeout(Duration::from_millis(1500), request(&mut c)).await;
    assert!(
        quiet.is_err(),
        "another request after the resync: {quiet:?}"
    );
    let log = stop(child, dir.path());
    let u = |i: usize| bybit::parse(&frames[i]).unwrap().update_id;
    let gap = format!("gap: expected id {}, got {}", u(FAULT), u(FAULT + 1));
    assert!(log.contains(&gap), "{gap} not in the log:\n{log}");
    super::assert_resynced_once(&log, alert, want);
}
