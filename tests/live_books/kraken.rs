//! Kraken v2 `book`: the real 2023-07-30 BTC/USD session at depth 10 (a snapshot and 509
//! updates, each with Kraken's CRC32 of the top ten levels, which needs the pair's precisions
//! from the `instrument` channel), served by a local server that answers every subscribe as
//! Kraken does, with one fault injected per test: a corrupted checksum, a cut connection, a pair
//! the instrument list does not have.

use std::time::Duration;

use serde_json::{Value, json};
use tickwatch::book::BookMachine;
use tickwatch::book::kraken::{self, KrakenBook};

use super::support::http::HttpServer;
use super::support::ws::{ServerConn, WsServer};
use super::{Figures, book_figures, fixture, record, rule_for, stop, wait_alert};

const FILE: &str = "kraken/python-kraken-sdk_ws_v2_book_BTC-USD_d10_2023-07-30.json";
/// The update whose checksum is corrupted, or after which the connection is cut.
const FAULT: usize = 6;
/// BTC/USD's precisions, as Kraken's `instrument` channel lists them.
const PRICE_PRECISION: u32 = 1;
const QTY_PRECISION: u32 = 8;

/// The session's frames, snapshot first, each as Kraken sends it (compact JSON).
fn frames(text: &str) -> Vec<String> {
    let v: Value = serde_json::from_str(text).unwrap();
    std::iter::once(&v["init"])
        .chain(v["updates"].as_array().unwrap())
        .map(|f| f.to_string())
        .collect()
}

/// The venue's book after each frame, as the verified machine keeps it, and the snapshot
/// Kraken would send for the book after frame `at`.
fn replay(frames: &[String], at: usize) -> (Vec<Figures>, String) {
    let mut m = KrakenBook::new(10, PRICE_PRECISION, QTY_PRECISION);
    let mut states = Vec::new();
    let mut snap = None;
    for (i, f) in frames.iter().enumerate() {
        for msg in kraken::parse(f, PRICE_PRECISION).unwrap() {
            m.on_message(&msg);
            if i == at {
                snap = Some(snapshot(&m, msg.checksum));
            }
        }
        assert!(m.status().is_synced(), "fixture frame {i}: {}", m.status());
        states.push(book_figures(m.book()));
    }
    (states, snap.unwrap())
}

/// A `book` snapshot of the machine's book with Kraken's `checksum`.
fn snapshot(m: &KrakenBook, checksum: u32) -> String {
    let side = |levels: Vec<(f64, f64)>| -> Value {
        levels
            .into_iter()
            .map(|(p, q)| json!({"price": p, "qty": q}))
            .collect()
    };
    let b = m.book();
    let bids = side(b.bids().map(|(p, q)| (p.to_f64(), *q)).collect());
    let asks = side(b.asks().map(|(p, q)| (p.to_f64(), *q)).collect());
    json!({"channel": "book", "type": "snapshot", "data": [
        {"symbol": "BTC/USD", "bids": bids, "asks": asks, "checksum": checksum}
    ]})
    .to_string()
}

/// The `instrument` snapshot listing `pairs` (BTC/USD's precisions for each), in the documented
/// shape.
fn instruments(pairs: &[&str]) -> String {
    let pairs: Vec<Value> = pairs
        .iter()
        .map(|p| {
            let (base, quote) = p.split_once('/').unwrap();
            json!({"symbol": p, "base": base, "quote": quote, "status": "online",
                "qty_precision": QTY_PRECISION, "qty_increment": 1e-08,
                "price_precision": PRICE_PRECISION, "cost_precision": 5, "marginable": true,
                "has_index": true, "cost_min": 0.5, "tick_size": 0.1, "price_increment": 0.1,
                "qty_min": 0.0001})
        })
        .collect();
    json!({"channel": "instrument", "type": "snapshot", "data": {
        "assets": [{"id": "USD", "status": "enabled", "precision": 4, "precision_display": 2}],
        "pairs": pairs
    }})
    .to_string()
}

/// The next request of the client that is not a ping.
async fn request(c: &mut ServerConn) -> Value {
    loop {
        let text = c.recv_text().await;
        let v: Value = serde_json::from_str(&text).unwrap();
        if v["method"] != "ping" {
            return v;
        }
    }
}

/// Answers a request as Kraken does: one acknowledgement per symbol (one in all for a channel
/// without symbols), with the request's `req_id`.
async fn ack(c: &mut ServerConn, v: &Value) {
    let p = &v["params"];
    let symbols: Vec<Value> = match p["symbol"].as_array() {
        Some(s) => s.clone(),
        None => vec![Value::Null],
    };
    for s in symbols {
        let mut result = json!({"channel": p["channel"]});
        if !s.is_null() {
            result["symbol"] = s;
        }
        if p["channel"] == "book" {
            result["depth"] = p["depth"].clone();
        }
        c.send(
            json!({"method": v["method"], "result": result, "success": true,
                "time_in": "2023-10-06T17:35:55.219022Z", "time_out": "2023-10-06T17:35:55.219067Z",
                "req_id": v["req_id"]})
            .to_string(),
        )
        .await;
    }
}

/// Reads and answers the subscribes of a fresh connection: `instrument` first (answered with
/// the list of `listed` pairs), then `trade`, `ohlc`, `ticker` and `book` at depth 10 for
/// `pairs`.
async fn handshake(c: &mut ServerConn, pairs: &[&str], listed: &[&str]) {
    let v = request(c).await;
    assert_eq!(v["method"], "subscribe", "{v}");
    assert_eq!(v["params"]["channel"], "instrument", "{v}");
    ack(c, &v).await;
    c.send(instruments(listed)).await;
    let mut channels = Vec::new();
    for _ in 0..4 {
        let v = request(c).await;
        assert_eq!(v["method"], "subscribe", "{v}");
        assert_eq!(v["params"]["symbol"], json!(pairs), "{v}");
        assert!(v["req_id"].is_u64(), "{v}");
        channels.push(v["params"]["channel"].as_str().unwrap().to_string());
        if v["params"]["channel"] == "book" {
            assert_eq!(v["params"]["depth"], 10, "{v}");
            assert_eq!(v["params"]["snapshot"], true, "{v}");
        }
        ack(c, &v).await;
    }
    assert_eq!(channels, ["trade", "ohlc", "ticker", "book"]);
}

/// Reads the client's requests until it subscribes `book` of BTC/USD again (after
/// unsubscribing it), answering both as Kraken does.
async fn expect_book_resubscribe(c: &mut ServerConn) {
    let mut unsubscribed = false;
    loop {
        let v = request(c).await;
        assert_eq!(v["params"]["channel"], "book", "{v}");
        assert_eq!(v["params"]["symbol"], json!(["BTC/USD"]), "{v}");
        assert_eq!(v["params"]["depth"], 10, "{v}");
        ack(c, &v).await;
        match v["method"].as_str() {
            Some("unsubscribe") => unsubscribed = true,
            Some("subscribe") => {
                assert!(unsubscribed, "subscribed again without unsubscribing");
                return;
            }
            _ => panic!("{v}"),
        }
    }
}

/// `tickwatch record` on Kraken with books at depth 10 for `pairs`.
fn start(
    dir: &std::path::Path,
    ws: &WsServer,
    http: &HttpServer,
    pairs: &[&str],
    rule: &str,
) -> (std::process::Child, std::path::PathBuf) {
    let section = format!(
        "[kraken]\nws_url = \"{}\"\nrest_url = \"{}\"\nsymbols = {}\nbackfill_candles = 0\ndepth = true\ndepth_levels = 10\nstale_after_secs = 30\nbackoff_initial_ms = 100\nbackoff_max_ms = 200\n",
        ws.url,
        http.url,
        json!(pairs)
    );
    record(dir, &section, rule)
}

/// Whether the client sends anything but pings within 1.5 s.
/// Waits for the alert the final book raises, checks that the client asked for nothing after
/// `what`, and stops tickwatch: the alert's value and the log.
async fn settle(
    c: &mut ServerConn,
    child: std::process::Child,
    dir: &std::path::Path,
    db: &std::path::Path,
    what: &str,
) -> (f64, String) {
    let alert = wait_alert(db, Duration::from_secs(15), &dir.join("tickwatch.log")).await;
    let after = quiet(c).await;
    assert!(after.is_err(), "another request after {what}: {after:?}");
    (alert, stop(child, dir))
}

async fn quiet(c: &mut ServerConn) -> Result<Value, tokio::time::error::Elapsed> {
    tokio::time::timeout(Duration::from_millis(1500), request(c)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checksum_failure_resubscribes_and_the_book_ends_as_the_venues() {
    let Some(text) = fixture(FILE) else { return };
    let frames = frames(&text);
    assert!(frames[0].contains(r#""type":"snapshot""#) && frames.len() == 510);
    // Kraken answers the subscribe with the book as it is then: after the corrupted update
    let (states, resync_snapshot) = replay(&frames, FAULT + 1);
    let (rule, last, want) = rule_for(&states, FAULT + 3);

    let dir = tempfile::tempdir().unwrap();
    let market = super::support::kraken::Market::new(&["BTC/USD"]);
    let http = HttpServer::start(market.handler()).await;
    let mut ws = WsServer::start().await;
    let (child, db) = start(dir.path(), &ws, &http, &["BTC/USD"], &rule);
    let mut c = ws.accept().await;
    handshake(&mut c, &["BTC/USD"], &["BTC/USD", "ETH/USD"]).await;
    c.send_all(frames[..=FAULT].iter().cloned()).await;
    // the fault: the update arrives with a checksum that is not its book's
    let mut bad: Value = serde_json::from_str(&frames[FAULT + 1]).unwrap();
    let sum = bad["data"][0]["checksum"].as_u64().unwrap();
    bad["data"][0]["checksum"] = Value::from(sum ^ 0x55);
    c.send(bad.to_string()).await;
    tokio::time::timeout(Duration::from_secs(10), expect_book_resubscribe(&mut c))
        .await
        .expect("no resubscribe of book within 10 s of the bad checksum");
    c.send(resync_snapshot).await;
    c.send_all(frames[FAULT + 2..=last].iter().cloned()).await;
    // every later checksum matched: nothing was subscribed again
    let (alert, log) = settle(&mut c, child, dir.path(), &db, "the resync").await;
    let expected = format!("checksum failed: venue {}", sum ^ 0x55);
    assert!(log.contains(&expected), "{expected} not in the log:\n{log}");
    super::assert_resynced_once(&log, alert, want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_connection_discards_the_book_and_the_next_snapshot_rebuilds_it() {
    let Some(text) = fixture(FILE) else { return };
    let frames = frames(&text);
    // the new connection's subscribe brings the book as it is then: some updates later
    let rejoin = FAULT + 20;
    let (states, rejoin_snapshot) = replay(&frames, rejoin);
    let (rule, last, want) = rule_for(&states, rejoin + 3);

    let dir = tempfile::tempdir().unwrap();
    let market = super::support::kraken::Market::new(&["BTC/USD"]);
    let http = HttpServer::start(market.handler()).await;
    let mut ws = WsServer::start().await;
    let (child, db) = start(dir.path(), &ws, &http, &["BTC/USD"], &rule);
    let mut c = ws.accept().await;
    handshake(&mut c, &["BTC/USD"], &["BTC/USD"]).await;
    // the fault: a burst of updates and the cut, read together
    c.burst_then_end(frames[..=FAULT].iter().cloned(), None)
        .await;
    let mut c = tokio::time::timeout(Duration::from_secs(10), ws.accept())
        .await
        .expect("no reconnect within 10 s of the cut");
    // the new connection subscribes the instrument list and every channel again
    handshake(&mut c, &["BTC/USD"], &["BTC/USD"]).await;
    c.send(rejoin_snapshot).await;
    c.send_all(frames[rejoin + 1..=last].iter().cloned()).await;
    // the new snapshot and its updates all matched: no book was asked for again
    let (alert, log) = settle(&mut c, child, dir.path(), &db, "the rejoin").await;
    assert!(
        log.contains("1 book(s) discarded (disconnected)"),
        "the book was not discarded with its connection:\n{log}"
    );
    assert_eq!(
        log.matches("BTC/USD book: snapshot applied").count(),
        2,
        "one snapshot per connection:\n{log}"
    );
    assert!(!log.contains("(resubscribe 1)"), "{log}");
    assert!(
        (alert - want).abs() <= want.abs() * 1e-6 + 1e-6,
        "the alert carried {alert}, the fixture's last book has {want}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pair_without_precisions_is_named_and_not_shown_while_the_other_book_works() {
    let Some(text) = fixture(FILE) else { return };
    let frames = frames(&text);
    let (states, _) = replay(&frames, 0);
    let (rule, last, want) = rule_for(&states, 3);
    // ETH/USD streams the same levels, but the instrument list does not have it
    let eth: Vec<String> = frames[..=last]
        .iter()
        .map(|f| f.replace("BTC/USD", "ETH/USD"))
        .collect();

    let dir = tempfile::tempdir().unwrap();
    let market = super::support::kraken::Market::new(&["BTC/USD", "ETH/USD"]);
    let http = HttpServer::start(market.handler()).await;
    let mut ws = WsServer::start().await;
    let pairs = ["BTC/USD", "ETH/USD"];
    let (child, db) = start(dir.path(), &ws, &http, &pairs, &rule);
    let mut c = ws.accept().await;
    handshake(&mut c, &pairs, &["BTC/USD"]).await;
    let interleaved = frames[..=last]
        .iter()
        .zip(&eth)
        .flat_map(|(b, e)| [e.clone(), b.clone()]);
    c.send_all(interleaved).await;
    let log_path = dir.path().join("tickwatch.log");
    let alert = wait_alert(&db, Duration::from_secs(15), &log_path).await;
    assert!(
        (alert - want).abs() <= want.abs() * 1e-6 + 1e-6,
        "the alert carried {alert}, BTC/USD's last book has {want}"
    );
    // ETH/USD's frames go on; after the wait for its precisions the list is asked for again
    let mut asked = Vec::new();
    let again = tokio::time::timeout(Duration::from_secs(15), async {
        loop {
            c.send(eth[last].clone()).await;
            if let Ok(v) = tokio::time::timeout(Duration::from_millis(500), request(&mut c)).await {
                asked.push(format!("{} {}", v["method"], v["params"]["channel"]));
                if asked.iter().any(|a| a.contains("subscribe\" \"instrument"))
                    && v["method"] == "subscribe"
                {
                    return;
                }
            }
        }
    })
    .await;
    assert!(
        again.is_ok(),
        "the instrument list was not asked for again: {asked:?}"
    );
    assert_eq!(
        asked,
        [
            "\"unsubscribe\" \"instrument\"",
            "\"subscribe\" \"instrument\""
        ]
    );
    // the pair is named once the failed wait is reported (the engine holds a failure 5 s)
    let named =
        "ETH/USD book cannot be read yet: Kraken's instrument list has no precisions for ETH/USD";
    let t = std::time::Instant::now();
    while !std::fs::read_to_string(&log_path)
        .unwrap_or_default()
        .contains(named)
        && t.elapsed() < Duration::from_secs(10)
    {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let log = stop(child, dir.path());
    assert!(log.contains(named), "{named} not in the log:\n{log}");
    assert!(
        !log.contains("ETH/USD book: snapshot applied"),
        "ETH/USD was read without its precisions:\n{log}"
    );
    assert!(log.contains("BTC/USD book: snapshot applied"), "{log}");
}
