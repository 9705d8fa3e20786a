#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Liquidity as a trader's alerts and a recorder's history (issue 14 §4, §5), the way a user
//! meets them: `record` keeps a Binance book from a local WebSocket and REST server, its
//! liquidity rules fire into the alert history, its top levels are stored every half second;
//! `export --book` writes them out and `replay` plays that file back through the same rules.

mod support;

use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::binance::{Market, depth_diff, depth_handler};
use support::http::HttpServer;
use support::ws::WsServer;

/// Diff ids: the ask wall at 102.00 is there until this id, then pulled (size 0) while the best
/// ask stays at 100.50.
const WALL_UNTIL: u64 = 1_120;

/// The fake venue's book after the diff with id `u`. The best bid's size moves between 1.0
/// and 2.9 (never reaching the appear rule's 4); 99.00 holds 4 throughout.
fn levels(u: u64) -> (String, String) {
    let bid = format!("{:.2}", 1.0 + (u % 20) as f64 * 0.1);
    let wall = if u < WALL_UNTIL { "90.00" } else { "0.00" };
    (
        format!(r#"[["100.00","{bid}"],["99.50","2.00"],["99.00","4.00"]]"#),
        format!(r#"[["100.50","1.00"],["101.00","3.00"],["102.00","{wall}"]]"#),
    )
}

fn count(db: &std::path::Path, sql: &str) -> i64 {
    support::query_i64(db, sql).unwrap_or(-1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn liquidity_rules_fire_books_are_stored_exported_and_replayed() {
    let dir = tempfile::tempdir().unwrap();
    let market = Market::new(&["BTCUSDT"], 0, 0);
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
    let rules = r#"
[[alerts]]
name = "spread-wide"
kind = "spread_above"
value = 40
cooldown_secs = 0

[[alerts]]
name = "wall-pulled"
kind = "level_pulled"
value = 50
cooldown_secs = 0

[[alerts]]
name = "new-size"
kind = "level_appear"
value = 4
cooldown_secs = 0

[[alerts]]
name = "thin"
kind = "depth_below"
value = 10000
within_pct = 1
cooldown_secs = 0

[[alerts]]
name = "bid-heavy"
kind = "imbalance_above"
value = 0.5
levels = 3
"#;
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "sources = [\"binance\"]\n[notify]\ndesktop = false\nterminal = \"off\"\n\n[storage]\nbook_snapshot_secs = 0.5\nbook_snapshot_levels = 2\n\n[binance]\nws_url = \"{}\"\nrest_url = \"{}\"\nsymbols = [\"BTCUSDT\"]\nklines = false\nmini_ticker = false\ndepth = true\nbackfill_candles = 0\nbackoff_initial_ms = 100\nbackoff_max_ms = 200\n{rules}",
            ws.url, http.url
        ),
    )
    .unwrap();
    let db = dir.path().join("rec.db");
    let mut child = support::tickwatch_cmd(dir.path())
        .args(["record", "--config"])
        .arg(&config)
        .arg("--db")
        .arg(&db)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut c = ws.accept().await;
    let streams = c.expect_subscribe(2).await;
    assert_eq!(streams, ["btcusdt@aggTrade", "btcusdt@depth@100ms"]);
    c.send(market.agg_trade("BTCUSDT", 1)).await;
    // 3 ids per diff, every 50 ms: the wall goes at diff 40 (2 s), five ids are skipped at
    // diff 60 (a gap: the book resyncs from a new snapshot), 100 diffs in all
    for n in 0..100 {
        let prev = last_u.load(Ordering::SeqCst);
        let first = if n == 60 { prev + 6 } else { prev + 1 };
        let last = first + 2;
        last_u.store(last, Ordering::SeqCst);
        c.send(depth_diff(levels, first, last)).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // the last stored snapshot and alerts are in the database within a second or two
    support::wait_for(20, "the last book stored", || {
        (count(&db, "SELECT COUNT(*) FROM book_snapshots WHERE side = 'ask' AND level = 1 AND price = 101.0") >= 6)
            .then_some(())
    })
    .await;
    support::signal(child.id(), "TERM");
    let (status, _) = support::wait_exit(&mut child, 20, "record after SIGTERM");
    let mut stderr = String::new();
    use std::io::Read;
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(status.success(), "{stderr}");
    assert!(
        snapshots.lock().unwrap().len() >= 2,
        "a second snapshot after the gap"
    );

    let alerts = |rule: &str| {
        count(
            &db,
            &format!("SELECT COUNT(*) FROM alerts WHERE rule = '{rule}'"),
        )
    };
    // 100.50 − 100.00 on a mid of 100.25 is 49.9 bps: above 40 from the first synced book; a
    // level rule fires once and stays fired while the condition holds
    assert_eq!(alerts("spread-wide"), 1, "{stderr}");
    assert_eq!(alerts("thin"), 1);
    // the pulled wall, once: not again when the gap's resync rebuilt the book without it
    assert_eq!(alerts("wall-pulled"), 1);
    let msg: String = rusqlite::Connection::open(&db)
        .unwrap()
        .query_row(
            "SELECT message FROM alerts WHERE rule = 'wall-pulled'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(msg.contains("ask of 90.00 at 102.00 was pulled"), "{msg}");
    // nothing appeared: the book after the resync is not compared with the book before it
    assert_eq!(alerts("new-size"), 0);
    // at most (2.9 + 2 + 4 − 1 − 3) / 12.9 ≈ 0.38 once the wall is gone: never bid-heavy
    assert_eq!(alerts("bid-heavy"), 0);

    // stored: the top 2 levels of each side, every half second while in sync
    let snaps = count(&db, "SELECT COUNT(DISTINCT ts_ms) FROM book_snapshots");
    assert!(snaps >= 6, "{snaps} snapshots in about 5 s");
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM book_snapshots"),
        snaps * 4,
        "2 levels a side"
    );
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM book_snapshots WHERE side = 'bid' AND level = 1 AND price = 99.5 AND qty = 2.0"
        ),
        snaps
    );
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM book_snapshots WHERE side = 'ask' AND level = 0 AND price = 100.5 AND qty = 1.0"
        ),
        snaps
    );

    // export --book: one row per level, the header replay knows
    let csv = dir.path().join("book.csv");
    let out = support::tickwatch_cmd(dir.path())
        .args(["--db"])
        .arg(&db)
        .args(["export", "--symbol", "BTCUSDT", "--book", "-o"])
        .arg(&csv)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(&csv).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], tickwatch::domain::BOOK_CSV_HEADER);
    assert_eq!(lines.len() as i64, snaps * 4 + 1);
    assert!(lines[1].contains(",binance,BTCUSDT,"), "{}", lines[1]);
    let json = support::tickwatch_cmd(dir.path())
        .args(["--db"])
        .arg(&db)
        .args([
            "export", "--symbol", "BTCUSDT", "--book", "--format", "json",
        ])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v.as_array().unwrap().len() as i64, snaps);
    assert_eq!(v[0]["asks"][0][0].as_f64(), Some(100.5));
    assert_eq!(v[0]["asks"][0][1].as_f64(), Some(1.0));

    // replay that file through a spread rule, into another database that stores books too
    let cfg2 = dir.path().join("replay.toml");
    std::fs::write(
        &cfg2,
        "[notify]\ndesktop = false\n[storage]\nbook_snapshot_secs = 0.5\nbook_snapshot_levels = 2\n[[alerts]]\nname = \"spread-wide\"\nkind = \"spread_above\"\nvalue = 40\n",
    )
    .unwrap();
    let db2 = dir.path().join("replayed.db");
    let out = support::tickwatch_cmd(dir.path())
        .args(["--config"])
        .arg(&cfg2)
        .arg("--db")
        .arg(&db2)
        .args(["replay", "--headless"])
        .arg(&csv)
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(said.contains("from 1 file(s)"), "{said}");
    assert_eq!(
        count(
            &db2,
            "SELECT COUNT(*) FROM alerts WHERE rule = 'spread-wide'"
        ),
        1
    );
    // the same snapshots, stored again exactly
    assert_eq!(
        count(&db2, "SELECT COUNT(*) FROM book_snapshots"),
        snaps * 4
    );
    let same = |sql: &str| (count(&db, sql), count(&db2, sql));
    let sum = "SELECT CAST(SUM(price * 1000 + qty) AS INTEGER) FROM book_snapshots";
    let (a, b) = same(sum);
    assert_eq!(a, b);

    // a damaged row is named with its file and line, and nothing is replayed
    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        format!("{}{}", text, "1765000000000,x,binance,BTCUSDT,bid,0,-5,1\n"),
    )
    .unwrap();
    let out = support::tickwatch_cmd(dir.path())
        .args(["--config"])
        .arg(&cfg2)
        .arg("--db")
        .arg(dir.path().join("bad.db"))
        .args(["replay", "--headless"])
        .arg(&bad)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains(&format!("bad.csv:{}", lines.len() + 1)) && err.contains("price -5"),
        "{err}"
    );
}

/// Settings a user gets wrong are refused with the key and what to give.
#[test]
fn bad_liquidity_settings_are_named() {
    let dir = tempfile::tempdir().unwrap();
    for (text, says) in [
        (
            "[storage]\nbook_snapshot_secs = -1\n",
            "[storage].book_snapshot_secs = -1",
        ),
        (
            "[storage]\nbook_snapshot_levels = 0\n",
            "book_snapshot_levels = 0",
        ),
        (
            "[[alerts]]\nkind = \"imbalance_above\"\nvalue = 1.5\n",
            "between -1 (all asks) and 1 (all bids)",
        ),
        (
            "[[alerts]]\nkind = \"depth_below\"\nvalue = 1000\nwithin_pct = 80\n",
            "`within_pct` = 80",
        ),
        (
            "[[alerts]]\nkind = \"spread_above\"\nvalue = 10\nlevels = 5\n",
            "`levels` only applies to imbalance_above and imbalance_below",
        ),
    ] {
        let p = dir.path().join("c.toml");
        std::fs::write(&p, text).unwrap();
        let out = support::tickwatch_cmd(dir.path())
            .arg("check-config")
            .arg(&p)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{text}: {err}");
        assert!(err.contains(says), "{text}: {err}");
    }
}
