//! Kraken WS v2 `book`: the documented checksum example, and a real BTC/USD depth-10 session
//! (2023-07-30) whose every one of 510 checksums must match.

use serde_json::Value;
use tickwatch::book::kraken::{self, KrakenBook};
use tickwatch::book::{BookMachine, BookState, Need, Outcome, Reason, Side};

use super::fixture;
use super::naive::Naive;

/// Kraken's worked example (docs.kraken.com, spot-ws-book-v2): our checksum text equals the
/// documented string character for character, and the CRC is 3310070434.
#[test]
fn docs_vector_checksum_3310070434() {
    let Some(text) = fixture("kraken/kraken_v2_book_checksum_docs_vector.json") else {
        return;
    };
    let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}"));
    let frame = v["frame"].as_str().unwrap_or_default();
    let msgs = kraken::parse(frame, 1).unwrap_or_else(|e| panic!("{e}"));
    let mut m = KrakenBook::new(10, 1, 8);
    assert_eq!(m.on_message(&msgs[0]), Outcome::Synced);
    let book = m.synced_book().unwrap_or_else(|| panic!("not synced"));
    let want = format!(
        "{}{}",
        v["asks_string"].as_str().unwrap_or_default(),
        v["bids_string"].as_str().unwrap_or_default()
    );
    assert_eq!(kraken::checksum_input(book, 1, 8), want);
    assert_eq!(kraken::checksum(book, 1, 8), 3310070434);
    assert_eq!(v["expected_checksum"].as_u64(), Some(3310070434));
}

/// The recorded frames, re-serialised to text as the wire would carry them.
fn frames(text: &str) -> Vec<String> {
    let v: Value = serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}"));
    let mut out = vec![v["init"].to_string()];
    for u in v["updates"].as_array().into_iter().flatten() {
        out.push(u.to_string());
    }
    out
}

fn apply_naive(naive: &mut Naive, frame: &str) {
    let v: Value = serde_json::from_str(frame).unwrap_or_else(|e| panic!("{e}"));
    let d = &v["data"][0];
    if v["type"] == "snapshot" {
        naive.clear();
    }
    for (key, side) in [("bids", Side::Bid), ("asks", Side::Ask)] {
        for l in d[key].as_array().into_iter().flatten() {
            let p = l["price"].as_f64().unwrap_or_default();
            let q = l["qty"].as_f64().unwrap_or_default();
            naive.set(side, &format!("{p:.1}"), &q.to_string());
        }
    }
    naive.truncate(10);
}

#[test]
fn real_session_every_checksum_matches_and_book_equals_brute_force() {
    let Some(text) = fixture("kraken/python-kraken-sdk_ws_v2_book_BTC-USD_d10_2023-07-30.json")
    else {
        return;
    };
    let frames = frames(&text);
    assert_eq!(frames.len(), 510);
    let mut m = KrakenBook::new(10, 1, 8);
    let mut naive = Naive::default();
    for (i, f) in frames.iter().enumerate() {
        let msgs = kraken::parse(f, 1).unwrap_or_else(|e| panic!("{e}"));
        let out = m.on_message(&msgs[0]);
        let want = if i == 0 {
            Outcome::Synced
        } else {
            Outcome::Applied
        };
        assert_eq!(out, want, "frame {i}: {}", m.status());
        apply_naive(&mut naive, f);
        let book = m
            .synced_book()
            .unwrap_or_else(|| panic!("frame {i} not synced"));
        naive.assert_eq(book, &format!("frame {i}"));
        assert_eq!(book.len(Side::Bid), 10);
        assert_eq!(book.len(Side::Ask), 10);
    }
    assert_eq!(m.status().counters.applied, 509);
    assert_eq!(m.status().to_string(), "synced");
}

/// One level's size changed in flight: the checksum catches it, the book is withheld, later
/// updates are dropped and counted, the status names it, and a resubscribe's snapshot heals.
#[test]
fn corrupted_level_fails_checksum_and_resubscribe_heals() {
    let Some(text) = fixture("kraken/python-kraken-sdk_ws_v2_book_BTC-USD_d10_2023-07-30.json")
    else {
        return;
    };
    let frames = frames(&text);
    let mut m = KrakenBook::new(10, 1, 8);
    let parse = |f: &str| {
        kraken::parse(f, 1)
            .unwrap_or_else(|e| panic!("{e}"))
            .remove(0)
    };
    let bad_at = (1..frames.len())
        .find(|&i| parse(&frames[i]).bids.iter().any(|l| l.1 > 0.0))
        .unwrap_or_else(|| panic!("no update with a bid"));
    for (i, f) in frames.iter().enumerate().take(bad_at + 3) {
        let mut msg = parse(f);
        if i == bad_at {
            let level = msg.bids.iter_mut().find(|l| l.1 > 0.0);
            if let Some(l) = level {
                l.1 += 0.00000001;
            }
            let out = m.on_message(&msg);
            let Outcome::Resync {
                reason: Reason::Checksum { expected, computed },
                need,
            } = out
            else {
                panic!("corruption not caught: {out:?}")
            };
            assert_eq!(need, Need::Resubscribe);
            assert_eq!(expected, msg.checksum);
            assert_ne!(expected, computed);
            continue;
        }
        let out = m.on_message(&msg);
        if i > bad_at {
            assert_eq!(out, Outcome::Unsynced);
        }
    }
    let st = m.status();
    assert!(matches!(
        st.state,
        BookState::Resyncing(Reason::Checksum { .. })
    ));
    assert_eq!(
        (st.counters.checksum_failures, st.counters.unsynced),
        (1, 2)
    );
    assert!(st.to_string().contains("checksum failed (1)"), "{st}");
    assert!(m.synced_book().is_none());
    assert_eq!(m.need(), Some(Need::Resubscribe));
    // the resubscribe: a fresh snapshot (the recorded one) is accepted and checks out
    assert_eq!(m.on_message(&parse(&frames[0])), Outcome::Synced);
    assert!(m.synced_book().is_some());
}
