//! Coinbase `level2`: the real 2021-04-17 BAND-GBP session (a snapshot of the whole book and
//! its `l2update`s; no sequence or checksum), one update injected that crosses the book.

use std::time::Duration;

use serde_json::Value;
use tickwatch::book::BookMachine;
use tickwatch::book::coinbase::{self, CoinbaseBook};

use super::support::coinbase::{Control, expect_control, subscriptions};
use super::support::http::HttpServer;
use super::support::ws::{ServerConn, WsServer};
use super::{book_figures, fixture, record, rule_for, stop, wait_alert};

const FILE: &str = "depth/coinbase_exchange_level2_2021-04-17.SKL-GBP_BAND-GBP_NU-GBP.raw.txt";
const PRODUCT: &str = "BAND-GBP";
/// The update after which the crossing one is injected.
const FAULT: usize = 6;

/// The BAND-GBP `snapshot` and `l2update` messages of the session, in order.
fn frames(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| !l.starts_with("wss://"))
        .filter_map(|l| l.split_once(": ").map(|(_, f)| f))
        .filter(|f| {
            f.contains(&format!(r#""product_id":"{PRODUCT}""#))
                && (f.contains(r#""type":"snapshot""#) || f.contains(r#""type":"l2update""#))
        })
        .map(str::to_string)
        .collect()
}

/// The book after `frames[..=upto]` as Coinbase keeps it (price text -> size text), bids
/// best first, then asks best first.
fn levels(frames: &[String], upto: usize) -> [Vec<(String, String)>; 2] {
    let mut sides: [Vec<(String, String)>; 2] = [Vec::new(), Vec::new()];
    let mut set = |i: usize, p: &str, q: &str| {
        let px = p.parse::<f64>().unwrap();
        sides[i].retain(|(x, _)| x.parse::<f64>().unwrap() != px);
        if q.parse::<f64>().unwrap() != 0.0 {
            sides[i].push((p.to_string(), q.to_string()));
        }
    };
    for f in &frames[..=upto] {
        let v: Value = serde_json::from_str(f).unwrap();
        for (i, key) in ["bids", "asks"].into_iter().enumerate() {
            for l in v[key].as_array().into_iter().flatten() {
                set(i, l[0].as_str().unwrap(), l[1].as_str().unwrap());
            }
        }
        for c in v["changes"].as_array().into_iter().flatten() {
            let i = usize::from(c[0] != "buy");
            set(i, c[1].as_str().unwrap(), c[2].as_str().unwrap());
        }
    }
    let key = |l: &(String, String)| l.0.parse::<f64>().unwrap();
    sides[0].sort_by(|a, b| key(b).total_cmp(&key(a)));
    sides[1].sort_by(|a, b| key(a).total_cmp(&key(b)));
    sides
}

/// A `snapshot` of the book after `frames[..=upto]` (what Coinbase sends on subscribe).
fn snapshot(frames: &[String], upto: usize) -> String {
    let [bids, asks] = levels(frames, upto);
    let side = |s: &[(String, String)]| -> Value {
        s.iter().map(|(p, q)| serde_json::json!([p, q])).collect()
    };
    serde_json::json!({"type": "snapshot", "product_id": PRODUCT, "asks": side(&asks), "bids": side(&bids)})
        .to_string()
}

/// The next control message of the client.
async fn control(c: &mut ServerConn) -> Control {
    expect_control(c).await
}

/// Reads the client's messages until it subscribes `level2_batch` again (after unsubscribing
/// it), answering both with `subscriptions` as Coinbase does.
async fn expect_book_resubscribe(c: &mut ServerConn) {
    let products = vec![PRODUCT.to_string()];
    let mut unsubscribed = false;
    loop {
        let ctl = control(c).await;
        assert_eq!(ctl.product_ids, products, "{ctl:?}");
        assert_eq!(ctl.channels, ["level2_batch"], "{ctl:?}");
        match ctl.kind.as_str() {
            "unsubscribe" => {
                c.send(subscriptions(&products)).await;
                unsubscribed = true;
            }
            "subscribe" => {
                assert!(unsubscribed, "subscribed again without unsubscribing");
                let answer = subscriptions(&products).replace(
                    r#"{"name":"heartbeat""#,
                    &format!(
                        r#"{{"name":"level2_batch","product_ids":["{PRODUCT}"]}},{{"name":"heartbeat""#
                    ),
                );
                c.send(answer).await;
                return;
            }
            _ => panic!("{ctl:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crossed_book_resubscribes_and_the_book_ends_as_the_venues() {
    let Some(text) = fixture(FILE) else { return };
    let frames = frames(&text);
    assert!(frames[0].contains(r#""type":"snapshot""#) && frames.len() == 1 + 471);
    // the venue's books after each message, as the machine keeps them (never crossed)
    let mut m = CoinbaseBook::new();
    let states: Vec<_> = frames
        .iter()
        .enumerate()
        .map(|(i, f)| {
            m.on_message(&coinbase::parse(f).unwrap());
            assert!(
                m.status().is_synced(),
                "fixture message {i}: {}",
                m.status()
            );
            book_figures(m.book())
        })
        .collect();
    // the fault: a bid above the best ask, which no real book shows
    let [_, asks] = levels(&frames, FAULT);
    let best_ask: f64 = asks[0].0.parse().unwrap();
    let crossing = serde_json::json!({
        "type": "l2update",
        "product_id": PRODUCT,
        "changes": [["buy", format!("{:.4}", best_ask + 0.01), "1.00"]],
        "time": "2021-04-17T16:43:40.000000Z"
    })
    .to_string();
    // Coinbase answers the subscribe with the book as it is then
    let resync_snapshot = snapshot(&frames, FAULT);
    let (rule, last, want) = rule_for(&states, FAULT + 3);

    let dir = tempfile::tempdir().unwrap();
    let market = super::support::coinbase::Market::new(&[PRODUCT], 0);
    let http = HttpServer::start(market.handler()).await;
    let mut ws = WsServer::start().await;
    let section = format!(
        "[coinbase]\nws_url = \"{}\"\nrest_url = \"{}\"\nproducts = [\"{PRODUCT}\"]\nbackfill_candles = 0\ndepth = true\nstale_after_secs = 30\nbackoff_initial_ms = 100\nbackoff_max_ms = 200\n",
        ws.url, http.url
    );
    let (child, db) = record(dir.path(), &section, &rule);
    let mut c = ws.accept().await;
    let ctl = control(&mut c).await;
    assert_eq!(ctl.kind, "subscribe", "{ctl:?}");
    assert_eq!(
        ctl.channels,
        ["matches", "ticker", "heartbeat", "level2_batch"],
        "{ctl:?}"
    );
    c.send(subscriptions(&ctl.product_ids)).await;
    c.send_all(frames[..=FAULT].iter().cloned()).await;
    c.send(crossing).await;
    tokio::time::timeout(Duration::from_secs(10), expect_book_resubscribe(&mut c))
        .await
        .expect("no resubscribe of level2_batch within 10 s of the crossed book");
    c.send(resync_snapshot).await;
    c.send_all(frames[FAULT + 1..=last].iter().cloned()).await;
    let log_path = dir.path().join("tickwatch.log");
    let alert = wait_alert(&db, Duration::from_secs(15), &log_path).await;
    // the real updates never cross: nothing was subscribed again
    let quiet = tokio::time::timeout(Duration::from_millis(1500), control(&mut c)).await;
    assert!(
        quiet.is_err(),
        "another request after the resync: {quiet:?}"
    );
    let log = stop(child, dir.path());
    assert!(log.contains("crossed"), "{log}");
    super::assert_resynced_once(&log, alert, want);
}
