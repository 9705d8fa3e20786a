//! One fault harness for every live venue: the real `tickwatch record` against a local
//! WebSocket server and REST server speaking the venue's format (its [`FakeVenue`]), through
//! every kind of fault the venues show: a cut right after a burst of trades, a close frame,
//! garbage then a cut, an error frame in the middle of the stream, a ping that must be answered
//! while trades flow, silence (the watchdog must replace the connection), a hole in the live
//! stream, and a 429 with Retry-After on the refill. At the end every trade id of every symbol
//! is stored exactly once, and `record` stops within seconds of SIGTERM.
//!
//! A venue joins by implementing [`FakeVenue`] (its frames, its subscribe handshake, its
//! REST market) and calling [`run_faults`] from `tests/venue_faults.rs`.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::process::Stdio;
use std::time::Duration;

use super::http::{Handler, HttpServer};
use super::ws::{ServerConn, WsServer};
use super::{query_i64, signal, tickwatch_cmd, wait_exit};

pub type BoxFut<'a> = Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

/// A venue as a test server speaks it.
pub trait FakeVenue: Send + Sync + 'static {
    /// The `sources = [...]` name.
    fn source(&self) -> &'static str;
    /// The symbols, as the venue spells them.
    fn symbols(&self) -> Vec<String>;
    /// The venue's config section for these servers, with short timings (a 2 s watchdog and
    /// fast reconnects) and no start-up candles.
    fn section(&self, ws_url: &str, rest_url: &str) -> String;
    /// The frame(s) of trade `id` of `symbol`.
    fn trade(&self, symbol: &str, id: u64) -> Vec<String>;
    /// Trades up to `id` exist (REST has them).
    fn happened(&self, id: u64);
    /// Reads the client's subscribe on a fresh connection and answers it.
    fn handshake<'a>(&'a self, c: &'a mut ServerConn) -> BoxFut<'a>;
    /// A frame reporting an error not tied to any request (the feed goes on after it).
    fn error_frame(&self) -> String;
    /// The next REST request is answered 429 with Retry-After: `secs`.
    fn rate_limit_next(&self, secs: u64);
    /// The REST market.
    fn handler(&self) -> Handler;
    /// Whether REST can refill every hole the faults make. A venue whose REST serves only the
    /// newest trades (Bybit) cannot: then no id may be stored twice, and every trade not stored
    /// must be counted as lost in what `record` reports.
    fn refills_every_hole(&self) -> bool {
        true
    }
}

fn burst<V: FakeVenue>(v: &V, ids: std::ops::RangeInclusive<u64>) -> Vec<String> {
    let symbols = v.symbols();
    ids.flat_map(|id| {
        symbols
            .iter()
            .flat_map(|s| v.trade(s, id))
            .collect::<Vec<_>>()
    })
    .collect()
}

/// Streams `ids` of every symbol in bursts of 10 ids every 20 ms.
async fn stream<V: FakeVenue>(c: &mut ServerConn, v: &V, ids: std::ops::RangeInclusive<u64>) {
    let ids: Vec<u64> = ids.collect();
    for chunk in ids.chunks(10) {
        let (a, z) = (chunk[0], chunk[chunk.len() - 1]);
        c.send_all(burst(v, a..=z)).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The faults, one per round, in this order.
const FAULTS: usize = 8;

/// Runs `record` for `venue` through `rounds` connections ending in every fault in turn, and
/// checks that every trade id is stored exactly once. `dir` holds the config, database and log.
pub async fn run_faults<V: FakeVenue>(venue: V, rounds: u64, dir: &Path) {
    let http = HttpServer::start(venue.handler()).await;
    let mut ws = WsServer::start().await;
    let cfg = dir.join(format!("{}.toml", venue.source()));
    std::fs::write(
        &cfg,
        format!(
            "sources = [\"{}\"]\n[notify]\ndesktop = false\nterminal = \"off\"\n{}",
            venue.source(),
            venue.section(&ws.url, &http.url)
        ),
    )
    .unwrap();
    let db = dir.join("faults.db");
    let mut child = tickwatch_cmd(dir)
        .args(["record", "--stats-every", "5", "--config"])
        .arg(&cfg)
        .arg("--db")
        .arg(&db)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut last = 0u64; // the highest id that exists (streamed live or only in REST)
    let mut happened = |n: u64| {
        last += n;
        venue.happened(last);
        last
    };
    for round in 0..rounds {
        let mut c = ws.accept().await;
        venue.handshake(&mut c).await;
        // a few trades happened while it was away: only REST has them
        let away = 1 + round % 5;
        let from = happened(away) + 1;
        // live trades, starting two ids early (overlapping the catch-up: duplicates to drop)
        let to = happened(30);
        stream(&mut c, &venue, from.saturating_sub(2).max(1)..=to).await;
        let b0 = to + 1;
        let b1 = happened(20);
        match round as usize % FAULTS {
            // a cut right after a burst
            0 => c.burst_then_end(burst(&venue, b0..=b1), None).await,
            // a close frame right after a burst
            1 => c.burst_then_end(burst(&venue, b0..=b1), Some(1001)).await,
            // garbage, then a cut
            2 => {
                let mut frames = burst(&venue, b0..=b1);
                frames.push("{not json".to_string());
                c.burst_then_end(frames, None).await;
            }
            // an error frame mid-stream: the feed goes on
            3 => {
                let mut frames = burst(&venue, b0..=b0 + 9);
                frames.push(venue.error_frame());
                frames.extend(burst(&venue, b0 + 10..=b1));
                c.burst_then_end(frames, Some(1000)).await;
            }
            // a ping while trades flow must be answered
            4 => {
                c.send_all(burst(&venue, b0..=b0 + 9)).await;
                c.ping_and_expect_pong(b"harness").await;
                c.burst_then_end(burst(&venue, b0 + 10..=b1), Some(1000))
                    .await;
            }
            // silence: the watchdog must replace the connection
            5 => {
                c.send_all(burst(&venue, b0..=b1)).await;
                assert!(
                    c.go_quiet(Duration::from_secs(15)).await,
                    "{}: a silent connection was not replaced",
                    venue.source()
                );
            }
            // a hole in the live stream, refilled through a 429 with Retry-After
            6 => {
                venue.rate_limit_next(1);
                let frames = burst(&venue, b0..=b0 + 4)
                    .into_iter()
                    .chain(burst(&venue, b0 + 10..=b1))
                    .collect::<Vec<_>>();
                c.send_all(frames).await;
                tokio::time::sleep(Duration::from_millis(300)).await;
                c.drop_tcp();
            }
            // a plain close
            _ => c.burst_then_end(burst(&venue, b0..=b1), Some(1000)).await,
        }
    }
    // the last connection: live up to the end, then everything must be in the database
    let mut c = ws.accept().await;
    venue.handshake(&mut c).await;
    let to = happened(10);
    stream(&mut c, &venue, to - 9..=to).await;
    let symbols = venue.symbols();
    let want = (to * symbols.len() as u64) as i64;
    let exact = venue.refills_every_hole();
    let have = if exact {
        wait_for_trades(&db, want).await
    } else {
        wait_for_last(&db, &symbols, to).await
    };
    signal(pid, "TERM");
    let (status, took) = wait_exit(&mut child, 30, "record after SIGTERM");
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    let tail: String = stderr.lines().rev().take(12).collect::<Vec<_>>().join("\n");
    let log = std::fs::read_to_string(dir.join("tickwatch.log")).unwrap_or_default();
    let problems: String = log
        .lines()
        .filter(|l| l.contains("ERROR") || l.contains("WARN"))
        .take(30)
        .collect::<Vec<_>>()
        .join("\n");
    let name = venue.source();
    if exact {
        assert_eq!(
            have,
            Some(want),
            "{name}: trades stored\n{tail}\nlog:\n{problems}"
        );
        assert_ids_once(&db, &symbols, to, name);
    } else {
        // no id twice, and what is not stored is reported as lost
        let stored = have.unwrap_or(0);
        let distinct = query_i64(
            &db,
            "SELECT COUNT(*) FROM (SELECT DISTINCT symbol, trade_id FROM trades)",
        );
        assert_eq!(distinct, Some(stored), "{name}: an id stored twice");
        let lost: i64 = stderr
            .lines()
            .find_map(|l| {
                l.split("data was lost during the run: ")
                    .nth(1)
                    .and_then(|r| r.split(' ').next())
                    .and_then(|n| n.parse().ok())
            })
            .unwrap_or(0);
        assert_eq!(
            stored + lost,
            want,
            "{name}: {stored} stored and {lost} reported lost of {want}\n{tail}"
        );
    }
    // a run that lost data says so in its exit status (1), as the README documents
    let lost_any = stderr.contains("data was lost during the run");
    assert_eq!(
        status.code(),
        Some(if lost_any { 1 } else { 0 }),
        "{name}: {status}:\n{tail}"
    );
    assert!(took < Duration::from_secs(5), "{name}: stopped in {took:?}");
    if rounds as usize > 5 {
        assert!(
            log.contains("no data for 2 s"),
            "{name}: the quiet connection was not replaced by the watchdog:\n{problems}"
        );
    }
}

/// Waits up to a minute for `want` trades in the database; returns the count last seen.
pub async fn wait_for_trades(db: &Path, want: i64) -> Option<i64> {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let mut have = None;
    while std::time::Instant::now() < deadline {
        have = query_i64(db, "SELECT COUNT(*) FROM trades");
        if have == Some(want) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    have
}

/// Every trade id from 1 to `last` of each of `symbols` is stored exactly once.
pub fn assert_ids_once<S: AsRef<str>>(db: &Path, symbols: &[S], last: u64, what: &str) {
    for s in symbols {
        let s = s.as_ref();
        let q = |col: &str| {
            query_i64(
                db,
                &format!("SELECT {col} FROM trades WHERE symbol = '{s}'"),
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
            (last as i64, last as i64, 1, last as i64),
            "{what} {s}: every id from 1 to {last} exactly once"
        );
    }
}

/// Waits (up to a minute) until the last trade id of every symbol is stored and the count no
/// longer grows; returns the count.
pub async fn wait_for_last<S: AsRef<str>>(db: &Path, symbols: &[S], last: u64) -> Option<i64> {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let mut seen = None;
    while std::time::Instant::now() < deadline {
        let all_last = symbols.iter().all(|s| {
            query_i64(
                db,
                &format!(
                    "SELECT COUNT(*) FROM trades WHERE symbol = '{}' AND trade_id = {last}",
                    s.as_ref()
                ),
            ) == Some(1)
        });
        let now = query_i64(db, "SELECT COUNT(*) FROM trades");
        if all_last && now.is_some() && now == seen {
            return now;
        }
        seen = now;
        tokio::time::sleep(Duration::from_millis(1_000)).await;
    }
    seen
}
