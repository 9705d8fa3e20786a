//! The soak test: `tickwatch record` against a local Binance through 100 disconnects of every
//! kind (a cut right after a burst, a close frame, serverShutdown, garbage then a cut, a quiet
//! server the watchdog replaces, a hole in the live stream, a replay of old ids), at a realistic
//! rate, with a slow REST server and a 429 among the refills. At the end every trade id is
//! stored exactly once, memory stayed flat, and the process ends within seconds of SIGTERM.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use support::binance::{Fault, Market, SERVER_SHUTDOWN};
use support::http::HttpServer;
use support::venue::{assert_ids_once, wait_for_trades};
use support::ws::{ServerConn, WsServer};
use support::{memory_kb, signal, tickwatch_cmd, wait_exit};

const SYMBOLS: [&str; 2] = ["BTCUSDT", "ETHUSDT"];
const ROUNDS: u64 = 100;

/// Streams `ids` of both symbols at about 1,000 trades a second, in bursts every 20 ms.
async fn stream(c: &mut ServerConn, m: &Market, ids: std::ops::RangeInclusive<u64>) {
    let ids: Vec<u64> = ids.collect();
    for chunk in ids.chunks(10) {
        let mut frames = Vec::new();
        for id in chunk {
            for s in SYMBOLS {
                frames.push(m.agg_trade(s, *id));
            }
        }
        c.send_all(frames).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn burst(m: &Market, ids: std::ops::RangeInclusive<u64>) -> Vec<String> {
    ids.flat_map(|id| SYMBOLS.map(|s| m.agg_trade(s, id)))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn record_through_100_disconnects_keeps_every_trade_once_flat_memory_prompt_stop() {
    let dir = tempfile::tempdir().unwrap();
    let market = Market::new(&SYMBOLS, 0, 0);
    let now = tickwatch::domain::now_ms();
    *market.trade_t0.lock().unwrap() = now - 60_000;
    let http = HttpServer::start(market.handler()).await;
    let mut ws = WsServer::start().await;
    let cfg = dir.path().join("soak.toml");
    std::fs::write(
        &cfg,
        format!(
            "sources = [\"binance\"]\n[notify]\ndesktop = false\nterminal = \"off\"\n\
             [binance]\nws_url = \"{}\"\nrest_url = \"{}\"\n\
             symbols = [\"BTCUSDT\", \"ETHUSDT\"]\nklines = false\nmini_ticker = false\n\
             book_ticker = false\nbackfill_candles = 0\nstale_after_secs = 2\n\
             backoff_initial_ms = 20\nbackoff_max_ms = 100\n",
            ws.url, http.url
        ),
    )
    .unwrap();
    let db = dir.path().join("soak.db");
    let mut child = tickwatch_cmd(dir.path())
        .args(["record", "--stats-every", "5", "--config"])
        .arg(&cfg)
        .arg("--db")
        .arg(&db)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let m: Arc<Market> = market.clone();
    let happened = |id: u64| *m.last_trade.lock().unwrap() = id;

    let mut last = 0u64; // highest id that exists (streamed live or only in REST)
    let mut rss_early = 0;
    for round in 0..ROUNDS {
        let mut c = ws.accept().await;
        c.expect_subscribe(1).await;
        // a few trades happened while it was away: only REST has them
        let away = 1 + round % 7;
        happened(last + away);
        last += away;
        // a realistic stretch of live trades, starting two ids early (overlapping what the
        // REST catch-up brings: duplicates to drop)
        let from = last + 1;
        last += 30;
        happened(last);
        stream(&mut c, &market, from.saturating_sub(2).max(1)..=last).await;
        // a slow refill now and then, and one 429
        match round % 25 {
            5 => market.fault(Fault::Slow(Duration::from_millis(1_500))),
            17 if round < 25 => market.fault(Fault::TooMany { retry_after_s: 1 }),
            _ => {}
        }
        // then the connection ends, in one of seven ways, right after a burst
        let b0 = last + 1;
        last += 20;
        happened(last);
        match round % 7 {
            0 => c.burst_then_end(burst(&market, b0..=last), None).await,
            1 => {
                c.burst_then_end(burst(&market, b0..=last), Some(1001))
                    .await
            }
            2 => {
                let mut frames = burst(&market, b0..=last);
                frames.push(SERVER_SHUTDOWN.to_string());
                c.burst_then_end(frames, None).await;
            }
            3 => {
                let mut frames = burst(&market, b0..=last);
                frames.push("{not json".to_string());
                c.burst_then_end(frames, None).await;
            }
            4 => {
                // a hole in the live stream (refilled from REST while live data wait), then a cut
                let frames = burst(&market, b0..=b0 + 4)
                    .into_iter()
                    .chain(burst(&market, b0 + 10..=last))
                    .collect::<Vec<_>>();
                c.send_all(frames).await;
                tokio::time::sleep(Duration::from_millis(100)).await;
                c.drop_tcp();
            }
            5 if round % 3 == 0 => {
                // quiet: the watchdog must replace the connection
                c.send_all(burst(&market, b0..=last)).await;
                c.go_quiet(Duration::from_secs(10)).await;
            }
            _ => {
                c.burst_then_end(burst(&market, b0..=last), Some(1000))
                    .await
            }
        }
        if round == 10 {
            rss_early = memory_kb(pid).expect("record runs").1;
        }
    }
    // the last connection: live up to the end, then everything must be in the database
    let mut c = ws.accept().await;
    c.expect_subscribe(1).await;
    let from = last + 1;
    last += 10;
    happened(last);
    stream(&mut c, &market, from..=last).await;
    let want = last as i64 * SYMBOLS.len() as i64;
    let have = wait_for_trades(&db, want).await;
    let (_, rss_late) = memory_kb(pid).expect("record runs");
    signal(pid, "TERM");
    let (status, took) = wait_exit(&mut child, 30, "record after SIGTERM");
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    let tail: String = stderr.lines().rev().take(12).collect::<Vec<_>>().join("\n");
    let log = std::fs::read_to_string(dir.path().join("tickwatch.log")).unwrap_or_default();
    let problems: String = log
        .lines()
        .filter(|l| l.contains("ERROR") || l.contains("backfill") || l.contains("REST"))
        .take(30)
        .collect::<Vec<_>>()
        .join("\n");
    assert_eq!(have, Some(want), "trades stored:\n{tail}\nlog:\n{problems}");
    assert_ids_once(&db, &SYMBOLS, last, "soak");
    assert!(status.success(), "{status}:\n{tail}");
    // nothing is queued at the end: the stop takes far less than its deadlines
    assert!(took < Duration::from_secs(4), "stopped in {took:?}");
    assert!(
        rss_late < rss_early + rss_early / 2 + 20_000,
        "memory grew from {rss_early} kB to {rss_late} kB"
    );
    // the 429 was met and obeyed, and the reconnects were of every kind
    assert!(!market.refused_at.lock().unwrap().is_empty());
    for reason in [
        "server closed the connection (code 1001)",
        "serverShutdown",
        "no data for 2 s",
    ] {
        assert!(
            log.contains(reason),
            "no reconnect for {reason:?} in the log"
        );
    }
}
