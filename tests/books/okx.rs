//! OKX `books` (400 levels): a real 2022-05-13 session of three instruments (spot, futures,
//! swap), 290 messages, every checksum verified; then a corrupted size and a seqId gap.

use std::collections::HashMap;

use serde_json::Value;
use tickwatch::book::okx::{self, OkxBook};
use tickwatch::book::{Book, BookMachine, Need, Outcome, Price, Reason, Side, TextLevel};

use super::naive::Naive;
use super::{fixture, raw_frames};

const FILE: &str = "okx/cryptofeed_OKX.ws.1.0_2022-05-13.raw.txt";

fn apply_naive(naive: &mut Naive, frame: &str) {
    let v: Value = serde_json::from_str(frame).unwrap_or_else(|e| panic!("{e}"));
    if v["action"] == "snapshot" {
        naive.clear();
    }
    for (key, side) in [("bids", Side::Bid), ("asks", Side::Ask)] {
        for l in v["data"][0][key].as_array().into_iter().flatten() {
            naive.set(
                side,
                l[0].as_str().unwrap_or_default(),
                l[1].as_str().unwrap_or_default(),
            );
        }
    }
}

#[test]
fn real_session_every_checksum_matches_and_book_equals_brute_force() {
    let Some(text) = fixture(FILE) else { return };
    let mut books: HashMap<String, (OkxBook, Naive)> = HashMap::new();
    let mut seen = 0;
    for (_, frame) in raw_frames(&text) {
        let Ok(msgs) = okx::parse(frame) else {
            continue;
        };
        for msg in msgs {
            seen += 1;
            let (m, naive) = books.entry(msg.inst_id.clone()).or_default();
            let out = m.on_message(&msg);
            let want = if msg.snapshot {
                Outcome::Synced
            } else {
                Outcome::Applied
            };
            assert_eq!(out, want, "{} message {seen}: {}", msg.inst_id, m.status());
            apply_naive(naive, frame);
            let book = m
                .synced_book()
                .unwrap_or_else(|| panic!("{} not synced", msg.inst_id));
            naive.assert_eq(book, &format!("{} message {seen}", msg.inst_id));
        }
    }
    assert_eq!(seen, 290);
    assert_eq!(books.len(), 3);
    for (id, (m, _)) in &books {
        assert_eq!(m.status().to_string(), "synced", "{id}");
        assert_eq!(m.status().counters.snapshots, 1);
    }
}

#[test]
fn corrupted_size_fails_checksum_and_is_counted() {
    let Some(text) = fixture(FILE) else { return };
    let mut m = OkxBook::new();
    let mut updates = 0;
    for (_, frame) in raw_frames(&text) {
        let Ok(mut msgs) = okx::parse(frame) else {
            continue;
        };
        let Some(mut msg) = msgs.pop().filter(|m| m.inst_id == "BTC-USDT") else {
            continue;
        };
        if !msg.snapshot {
            updates += 1;
        }
        if updates == 3 {
            // the best bid re-sent with a size that differs only in its text's last digit
            let (p, l) = m
                .book()
                .bids()
                .next()
                .map(|(p, l)| (p, l.clone()))
                .unwrap_or_else(|| panic!("empty"));
            let text = format!("{}1", l.text);
            msg.bids.push((
                p,
                TextLevel {
                    qty: l.qty,
                    text: text.into(),
                },
            ));
            let out = m.on_message(&msg);
            assert!(
                matches!(
                    out,
                    Outcome::Resync {
                        reason: Reason::Checksum { .. },
                        need: Need::Resubscribe
                    }
                ),
                "{out:?}"
            );
            break;
        }
        m.on_message(&msg);
    }
    assert!(m.synced_book().is_none());
    assert_eq!(m.status().counters.checksum_failures, 1);
    assert!(m.status().to_string().contains("checksum failed (1)"));
}

/// seqId/prevSeqId (newer than the recording, so by hand): an update whose prevSeqId is not
/// the last seqId is a gap; an empty keep-alive with prevSeqId == seqId is not.
#[test]
fn seq_id_gap_needs_resubscribe() {
    let p = |s: &str| Price::parse(s).unwrap_or_else(|e| panic!("{e}"));
    let lvl = |px: &str, sz: &str| TextLevel {
        qty: sz.parse().unwrap_or_default(),
        text: format!("{px}:{sz}").into(),
    };
    let msg = |snapshot, bids: Vec<(&str, &str)>, seq, prev| {
        let bids: Vec<(Price, TextLevel)> =
            bids.into_iter().map(|(a, b)| (p(a), lvl(a, b))).collect();
        let asks = vec![(p("101"), lvl("101", "1"))];
        okx::BookMsg {
            snapshot,
            inst_id: "X".into(),
            bids,
            asks,
            checksum: 0,
            seq_id: Some(seq),
            prev_seq_id: Some(prev),
        }
    };
    // fill in the right checksum for the book each message leads to
    let mut shadow: Book<TextLevel> = Book::new();
    let mut signed = |mut m: okx::BookMsg| {
        if m.snapshot {
            shadow.clear();
        }
        for (px, l) in m.bids.iter().chain(&m.asks) {
            let side = if *px < p("101") { Side::Bid } else { Side::Ask };
            shadow.apply(side, *px, l.clone());
        }
        m.checksum = okx::checksum(&shadow);
        m
    };
    let mut m = OkxBook::new();
    assert_eq!(
        m.on_message(&signed(msg(true, vec![("100", "2")], 10, -1))),
        Outcome::Synced
    );
    assert_eq!(
        m.on_message(&signed(msg(false, vec![("99", "1")], 11, 10))),
        Outcome::Applied
    );
    assert_eq!(
        m.on_message(&signed(msg(false, vec![], 11, 11))),
        Outcome::Applied
    );
    let out = m.on_message(&signed(msg(false, vec![("98", "1")], 13, 12)));
    assert_eq!(
        out,
        Outcome::Resync {
            reason: Reason::Gap {
                expected: 11,
                got: 12
            },
            need: Need::Resubscribe
        }
    );
    assert_eq!(m.status().counters.gaps, 1);
    assert!(m.status().to_string().contains("gap (1)"));
    assert_eq!(
        m.on_message(&signed(msg(false, vec![], 14, 13))),
        Outcome::Unsynced
    );
}
