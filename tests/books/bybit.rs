//! Bybit v5 `orderbook.200.BTCUSDT`, linear and spot, a real 2026-08-09 session: a snapshot
//! and 413 + 299 deltas chained by `u`; then a lost delta, a stale one and a restart.

use std::collections::HashMap;

use serde_json::Value;
use tickwatch::book::bybit::{self, BybitBook};
use tickwatch::book::{BookMachine, Need, Outcome, Reason, Side};

use super::fixture;
use super::naive::Naive;

const FILE: &str = "bybit/cryptofeed_BYBIT_v5_linear+spot_BTCUSDT_2026-08-09.jsonl";

/// (connection, raw orderbook frame) in order.
fn frames(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| {
            let v: Value = serde_json::from_str(l).ok()?;
            let data = v["data"].as_str()?;
            (v["t"] == "recv" && data.contains("\"topic\":\"orderbook.")).then(|| {
                (
                    v["conn"].as_str().unwrap_or_default().to_string(),
                    data.to_string(),
                )
            })
        })
        .collect()
}

fn apply_naive(naive: &mut Naive, frame: &str) {
    let v: Value = serde_json::from_str(frame).unwrap_or_else(|e| panic!("{e}"));
    if v["type"] == "snapshot" {
        naive.clear();
    }
    for (key, side) in [("b", Side::Bid), ("a", Side::Ask)] {
        for l in v["data"][key].as_array().into_iter().flatten() {
            naive.set(
                side,
                l[0].as_str().unwrap_or_default(),
                l[1].as_str().unwrap_or_default(),
            );
        }
    }
}

#[test]
fn real_session_book_equals_brute_force_after_every_delta() {
    let Some(text) = fixture(FILE) else { return };
    let frames = frames(&text);
    assert_eq!(frames.len(), 1 + 413 + 1 + 299);
    let mut books: HashMap<String, (BybitBook, Naive)> = HashMap::new();
    for (i, (conn, f)) in frames.iter().enumerate() {
        let msg = bybit::parse(f).unwrap_or_else(|e| panic!("{e}"));
        let (m, naive) = books.entry(conn.clone()).or_default();
        let want = if msg.snapshot {
            Outcome::Synced
        } else {
            Outcome::Applied
        };
        assert_eq!(m.on_message(&msg), want, "{conn} frame {i}: {}", m.status());
        apply_naive(naive, f);
        let book = m.synced_book().unwrap_or_else(|| panic!("not synced"));
        naive.assert_eq(book, &format!("{conn} frame {i}"));
        assert_eq!(
            (book.len(Side::Bid), book.len(Side::Ask)),
            (200, 200),
            "{conn} frame {i}"
        );
    }
    for (conn, (m, _)) in &books {
        assert_eq!(m.status().to_string(), "synced", "{conn}");
    }
    assert_eq!(books.len(), 2);
}

#[test]
fn lost_delta_is_a_gap_old_delta_is_stale_and_a_restart_snapshot_resets() {
    let Some(text) = fixture(FILE) else { return };
    let msgs: Vec<bybit::BookMsg> = frames(&text)
        .into_iter()
        .filter(|(c, _)| c == "BYBIT.ws.3")
        .map(|(_, f)| bybit::parse(&f).unwrap_or_else(|e| panic!("{e}")))
        .collect();
    let mut m = BybitBook::new();
    for msg in &msgs[..10] {
        m.on_message(msg);
    }
    assert_eq!(m.on_message(&msgs[5]), Outcome::Stale);
    let out = m.on_message(&msgs[11]); // msgs[10] lost
    assert_eq!(
        out,
        Outcome::Resync {
            reason: Reason::Gap {
                expected: msgs[10].update_id,
                got: msgs[11].update_id
            },
            need: Need::Resubscribe
        }
    );
    assert!(m.synced_book().is_none());
    assert_eq!(m.on_message(&msgs[12]), Outcome::Unsynced);
    let st = m.status();
    assert_eq!(
        (st.counters.gaps, st.counters.stale, st.counters.unsynced),
        (1, 1, 1)
    );
    assert!(st.to_string().contains("gap (1)"), "{st}");
    // Bybit restarted: a snapshot with u = 1 resets the book and is counted
    let mut restart = msgs[0].clone();
    restart.update_id = 1;
    assert_eq!(m.on_message(&restart), Outcome::Synced);
    assert_eq!(m.status().counters.restarts, 1);
    let mut next = msgs[1].clone();
    next.update_id = 2;
    assert_eq!(m.on_message(&next), Outcome::Applied);
}
