//! The binary as a user runs it against live feeds, with the feeds replaced by local servers
//! speaking Binance's formats: `tickwatch record` keeps every trade id exactly once through
//! disconnects, close frames and rate limits, warms candles from REST, and logs each state;
//! `tickwatch backfill` fills the database on demand.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use support::binance::{Fault, Market};
use support::http::HttpServer;
use support::query_i64;
use support::ws::WsServer;

fn tickwatch(dir: &Path) -> Command {
    support::tickwatch_cmd(dir)
}

fn write_config(dir: &Path, ws: &str, rest: &str, extra: &str) -> PathBuf {
    let path = dir.join("live.toml");
    std::fs::write(
        &path,
        format!(
            "sources = [\"binance\"]\n\
             [notify]\ndesktop = false\n\
             [binance]\nws_url = \"{ws}\"\nrest_url = \"{rest}\"\n\
             symbols = [\"BTCUSDT\", \"ETHUSDT\"]\n\
             mini_ticker = false\n\
             backoff_initial_ms = 200\nbackoff_max_ms = 1000\n{extra}"
        ),
    )
    .unwrap();
    path
}

async fn wait_db(db: &Path, sql: &str, want: i64, what: &str) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let mut last = None;
    while tokio::time::Instant::now() < deadline {
        last = query_i64(db, sql);
        if last == Some(want) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what}: wanted {want}, the database has {last:?} ({sql})");
}

fn stop(child: Child) -> (bool, String) {
    let status = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn trades(m: &Market, symbol: &str, ids: std::ops::RangeInclusive<u64>) -> Vec<String> {
    // raw payloads, as Binance sends them on `/ws` after SUBSCRIBE
    ids.map(|id| m.agg_trade(symbol, id)).collect()
}

fn both(m: &Market, ids: std::ops::RangeInclusive<u64>) -> Vec<String> {
    let mut v = trades(m, "BTCUSDT", ids.clone());
    v.extend(trades(m, "ETHUSDT", ids));
    v
}

const COUNT_BTC: &str = "SELECT COUNT(*) FROM trades WHERE symbol = 'BTCUSDT'";
const COUNT_ALL: &str = "SELECT COUNT(*) FROM trades";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn record_keeps_every_trade_once_through_disconnects_and_rate_limits() {
    let dir = tempfile::tempdir().unwrap();
    let now = tickwatch::domain::now_ms();
    let minute = now - now.rem_euclid(60_000);
    // REST history: 1m candles up to 15 minutes ago; trades a few minutes back
    let market = Market::new(&["BTCUSDT", "ETHUSDT"], 0, 30);
    *market.candle_t0.lock().unwrap() = minute - 45 * 60_000;
    *market.trade_t0.lock().unwrap() = minute - 5 * 60_000;
    *market.weight_limit.lock().unwrap() = 1_200;
    let http = HttpServer::start(market.handler()).await;
    let mut ws = WsServer::start().await;
    let cfg = write_config(dir.path(), &ws.url, &http.url, "backfill_candles = 40\n");
    let db = dir.path().join("rec.db");
    let child = tickwatch(dir.path())
        .args(["record", "--stats-every", "0.5", "--config"])
        .arg(&cfg)
        .arg("--db")
        .arg(&db)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let happened = |id: u64| *market.last_trade.lock().unwrap() = id;

    // 1: subscribe to both symbols, trades 1..=100 each, then the cable is cut
    let mut c = ws.accept().await;
    let mut streams = c.expect_subscribe(1).await;
    streams.sort();
    assert_eq!(
        streams,
        vec![
            "btcusdt@aggTrade",
            "btcusdt@kline_1m",
            "ethusdt@aggTrade",
            "ethusdt@kline_1m"
        ]
    );
    happened(100);
    c.send_all(both(&market, 1..=100)).await;
    wait_db(&db, COUNT_ALL, 200, "first connection's trades").await;
    // the candles from 40 minutes back to 16 minutes ago came over REST at start
    wait_db(
        &db,
        "SELECT COUNT(*) FROM candles WHERE interval = '1m' AND symbol = 'ETHUSDT'",
        25,
        "candles warmed from REST",
    )
    .await;

    // 2: 101..=150 happen while away; the catch-up meets a 429 with Retry-After first
    happened(150);
    market.fault(Fault::TooMany { retry_after_s: 2 });
    c.drop_tcp();
    let mut c = ws.accept().await;
    c.expect_subscribe(1).await;
    // live resumes at 151, overlapping a few the REST catch-up also brings
    happened(200);
    c.send_all(both(&market, 146..=200)).await;
    wait_db(&db, COUNT_ALL, 400, "trades after the cut and the 429").await;

    // 3: a close frame; 201..=230 happen; live resumes at 231 with a replay of 225..
    c.close(1001).await;
    happened(230);
    let mut c = ws.accept().await;
    c.expect_subscribe(1).await;
    happened(250);
    c.send_all(both(&market, 225..=250)).await;
    wait_db(&db, COUNT_ALL, 500, "trades after the close frame").await;
    // let one stats line show the source live again
    tokio::time::sleep(Duration::from_millis(1_200)).await;

    let (ok, err) = stop(child);
    assert!(ok, "record failed: {err}");
    for sym in ["BTCUSDT", "ETHUSDT"] {
        let q = |what: &str| {
            query_i64(
                &db,
                &format!("SELECT {what} FROM trades WHERE symbol = '{sym}'"),
            )
            .unwrap()
        };
        assert_eq!(
            (
                q("COUNT(*)"),
                q("COUNT(DISTINCT trade_id)"),
                q("MIN(trade_id)"),
                q("MAX(trade_id)")
            ),
            (250, 250, 1, 250),
            "{sym}: every id from 1 to 250 exactly once"
        );
    }
    assert_eq!(query_i64(&db, COUNT_BTC), Some(250));
    // the 429 was obeyed: no REST request inside the 2 s it asked for
    let refused = market.refused_at.lock().unwrap().clone();
    assert_eq!(refused.len(), 1, "the 429 was never asked for");
    let refused = tokio::time::Instant::from_std(refused[0]);
    let mut after: Vec<_> = [
        "/api/v3/aggTrades",
        "/api/v3/klines",
        "/api/v3/exchangeInfo",
    ]
    .iter()
    .flat_map(|p| http.requests(p))
    .filter(|r| r.at > refused)
    .map(|r| r.at - refused)
    .collect();
    after.sort();
    // requests already on their way when the 429 was answered (the catch-ups of each symbol
    // run side by side) arrive at once; after them, nothing for the 2 s asked
    let in_flight = after
        .iter()
        .take_while(|d| **d < Duration::from_millis(100))
        .count();
    assert!(in_flight <= 3, "{after:?}");
    let next = after.get(in_flight).expect("no request after the 429");
    assert!(
        *next >= Duration::from_millis(1_950),
        "a request went out {next:?} after a 429 that said to wait 2 s: {after:?}"
    );
    // the weight limit came from exchangeInfo
    assert!(
        market
            .served
            .lock()
            .unwrap()
            .iter()
            .any(|p| p == "/api/v3/exchangeInfo")
    );
    let log = std::fs::read_to_string(dir.path().join("tickwatch.log")).unwrap();
    assert!(
        log.contains("limit=1200"),
        "exchangeInfo limit not logged:\n{log}"
    );
    // each state reached the record log: connecting, live, reconnecting, rate-limited
    assert!(err.contains("binance: live"), "{err}");
    assert!(err.contains("reconnecting in"), "{err}");
    assert!(
        err.contains("server closed the connection (code 1001)"),
        "{err}"
    );
    assert!(err.contains("rate-limited until"), "{err}");
    assert!(err.contains("flushing"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfill_command_stores_candles_with_indicators_and_names_bad_symbols() {
    let dir = tempfile::tempdir().unwrap();
    let market = Market::new(&["BTCUSDT"], 0, 2_500);
    let http = HttpServer::start(market.handler()).await;
    // nothing listens on the WebSocket side: backfill only uses REST
    let cfg = write_config(dir.path(), "ws://127.0.0.1:9", &http.url, "");
    let db = dir.path().join("bf.db");
    let t0 = support::binance::T0;
    let (from, to) = (t0.to_string(), (t0 + 2_099 * 60_000).to_string());
    let backfill = |args: &[&str]| {
        tickwatch(dir.path())
            .arg("backfill")
            .args(args)
            .arg("--config")
            .arg(&cfg)
            .arg("--db")
            .arg(&db)
            .output()
            .unwrap()
    };
    let out = backfill(&[
        "--symbol",
        "btcusdt",
        "--interval",
        "1m",
        "--from",
        &from,
        "--to",
        &to,
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("backfilled 2100 1m candles of BTCUSDT"),
        "{stdout}"
    );
    // three pages of at most 1000
    assert_eq!(http.requests("/api/v3/klines").len(), 3);
    assert_eq!(
        query_i64(
            &db,
            "SELECT COUNT(*) FROM candles WHERE symbol = 'BTCUSDT' AND interval = '1m'"
        ),
        Some(2_100)
    );
    assert_eq!(
        query_i64(
            &db,
            "SELECT MIN(open_ms) FROM candles WHERE interval = '1m'"
        ),
        Some(t0)
    );
    // indicators were computed along the way (rsi14 exists from the 15th candle on)
    assert_eq!(
        query_i64(
            &db,
            "SELECT COUNT(*) FROM indicator_values WHERE name = 'rsi14' AND interval = '1m'"
        ),
        Some(2_100 - 14)
    );
    // a second run over the same range changes nothing
    let again = backfill(&["--symbol", "BTCUSDT", "--from", &from, "--to", &to]);
    assert!(again.status.success());
    assert_eq!(
        query_i64(&db, "SELECT COUNT(*) FROM candles WHERE interval = '1m'"),
        Some(2_100)
    );

    // an unknown symbol: named, exit 1, nothing written
    let bad = backfill(&["--symbol", "FOOUSDT", "--from", "2023-11-14"]);
    let err = String::from_utf8_lossy(&bad.stderr);
    assert_eq!(bad.status.code(), Some(1), "{err}");
    assert!(err.contains("invalid symbol FOOUSDT"), "{err}");

    // usage mistakes exit 2 and say what to do
    let usage = backfill(&["--symbol", "BTCUSDT", "--from", "yesterday-ish"]);
    let err = String::from_utf8_lossy(&usage.stderr);
    assert_eq!(usage.status.code(), Some(2), "{err}");
    assert!(err.contains("--from"), "{err}");
}
