//! The order book ladder as a user meets it: the real monitor in tmux, against a local
//! WebSocket server streaming Binance `@depth@100ms` diffs and a REST server answering
//! `GET /api/v3/depth`. The book comes into sync from a snapshot, an injected gap in the diff
//! ids resyncs it (counted and shown), and a cut connection brings it back.

mod support;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::binance::{Market, depth_diff, depth_handler};
use support::http::HttpServer;
use support::ws::WsServer;

/// The book the fake venue has after the diff with id `u`: the best bid's size moves with the
/// id, everything else stays.
fn levels(u: u64) -> (String, String) {
    let bid = format!("{:.2}", 1.0 + (u % 50) as f64 * 0.1);
    (
        format!(r#"[["100.00","{bid}"],["99.50","2.00"],["99.00","4.00"]]"#),
        r#"[["100.50","1.00"],["101.00","3.00"],["102.00","5.00"]]"#.to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ladder_syncs_resyncs_after_a_gap_and_comes_back_after_a_cut() {
    let dir = tempfile::tempdir().unwrap();
    let market = Market::new(&["BTCUSDT"], 0, 0);
    // the id of the last diff sent: a snapshot is the book as of it
    let last_u = Arc::new(AtomicU64::new(1000));
    let snapshots = Arc::new(Mutex::new(Vec::new()));
    let http = HttpServer::start(depth_handler(
        &market,
        levels,
        last_u.clone(),
        snapshots.clone(),
    ))
    .await;
    let mut ws = WsServer::start().await;
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "sources = [\"binance\"]\n[notify]\ndesktop = false\nterminal = \"off\"\n\n[binance]\nws_url = \"{}\"\nrest_url = \"{}\"\nsymbols = [\"BTCUSDT\"]\nklines = false\nmini_ticker = false\ndepth = true\nbackfill_candles = 0\nbackoff_initial_ms = 100\nbackoff_max_ms = 200\nstale_after_secs = 5\n",
            ws.url, http.url
        ),
    )
    .unwrap();
    let args = format!(
        "--config '{}' --db '{}'",
        config.display(),
        dir.path().join("d.db").display()
    );
    let Some((t, exit_file)) = support::tmux::start_with(dir.path(), 120, 36, &args, "") else {
        return;
    };
    let gap = Arc::new(AtomicBool::new(false));
    let stop = Arc::new(AtomicBool::new(false));
    // two connections: the second after a cut
    for round in 0..2 {
        let mut c = ws.accept().await;
        let streams = c.expect_subscribe(2).await;
        assert_eq!(streams, ["btcusdt@aggTrade", "btcusdt@depth@100ms"]);
        c.send(market.agg_trade("BTCUSDT", 1 + round)).await;
        let (lu, g, st) = (last_u.clone(), gap.clone(), stop.clone());
        let feeder = tokio::spawn(async move {
            let mut n = 0;
            while !st.load(Ordering::SeqCst) && n < 150 {
                let prev = lu.load(Ordering::SeqCst);
                // an injected gap: five ids never sent
                let first = if g.swap(false, Ordering::SeqCst) {
                    prev + 6
                } else {
                    prev + 1
                };
                let last = first + 2;
                lu.store(last, Ordering::SeqCst);
                c.send(depth_diff(levels, first, last)).await;
                tokio::time::sleep(Duration::from_millis(100)).await;
                n += 1;
            }
            c
        });
        if round == 0 {
            let screen = t.wait_for("the watchlist row", Duration::from_secs(30), |s| {
                s.contains("BTC/USDT")
            });
            assert!(screen.contains("binance"), "{screen}");
            t.keys(&["B"]);
            let screen = t.wait_for("the book in sync", Duration::from_secs(20), |s| {
                s.contains("in sync") && s.contains("100.50") && s.contains("99.50")
            });
            assert!(screen.contains("spread 0.50"), "{screen}");
            assert!(screen.contains("Book BTCUSDT · binance"), "{screen}");
            gap.store(true, Ordering::SeqCst);
            let screen = t.wait_for("the resync after the gap", Duration::from_secs(20), |s| {
                s.contains("in sync") && s.contains("gaps 1") && s.contains("resyncs 1")
            });
            assert!(screen.contains("100.00"), "{screen}");
            assert!(
                snapshots.lock().unwrap().len() >= 2,
                "a second snapshot after the gap"
            );
            // cut the connection: the book goes stale, then a fresh chain resyncs it
            stop.store(true, Ordering::SeqCst);
            let c = feeder.await.unwrap();
            stop.store(false, Ordering::SeqCst);
            c.drop_tcp();
        } else {
            let screen = t.wait_for(
                "in sync after the reconnect",
                Duration::from_secs(30),
                |s| s.contains("in sync") && s.contains("100.50"),
            );
            assert!(screen.contains("gaps"), "{screen}");
            stop.store(true, Ordering::SeqCst);
            let _ = feeder.await;
        }
    }
    t.keys(&["q"]);
    assert_eq!(support::tmux::wait_exit(&exit_file), 0);
    let log = std::fs::read_to_string(dir.path().join("tw.log")).unwrap_or_default();
    assert!(log.contains("snapshot applied"), "{log}");
}
