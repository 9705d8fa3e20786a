//! Coinbase Exchange `level2`, a real 2021-04-17 session: full snapshots of SKL-GBP,
//! BAND-GBP, NU-GBP and 836 `l2update`s. No sequence or checksum exists in this channel, so
//! the checks are the brute-force rebuild, the never-crossed rule and disconnect handling.

use std::collections::HashMap;

use serde_json::Value;
use tickwatch::book::coinbase::{self, CoinbaseBook};
use tickwatch::book::{BookMachine, Need, Outcome, Price, Reason, Side};

use super::naive::Naive;
use super::{fixture, raw_frames};

const FILE: &str = "depth/coinbase_exchange_level2_2021-04-17.SKL-GBP_BAND-GBP_NU-GBP.raw.txt";

fn apply_naive(naive: &mut Naive, frame: &str) {
    let v: Value = serde_json::from_str(frame).unwrap_or_else(|e| panic!("{e}"));
    let s = |x: &Value| x.as_str().unwrap_or_default().to_string();
    if v["type"] == "snapshot" {
        naive.clear();
        for (key, side) in [("bids", Side::Bid), ("asks", Side::Ask)] {
            for l in v[key].as_array().into_iter().flatten() {
                naive.set(side, &s(&l[0]), &s(&l[1]));
            }
        }
    }
    for c in v["changes"].as_array().into_iter().flatten() {
        let side = if c[0] == "buy" { Side::Bid } else { Side::Ask };
        naive.set(side, &s(&c[1]), &s(&c[2]));
    }
}

#[test]
fn real_session_book_equals_brute_force_after_every_update() {
    let Some(text) = fixture(FILE) else { return };
    let mut books: HashMap<String, (CoinbaseBook, Naive)> = HashMap::new();
    let mut updates = 0;
    for (_, frame) in raw_frames(&text) {
        let Ok(msg) = coinbase::parse(frame) else {
            continue;
        };
        updates += usize::from(!msg.snapshot);
        let (m, naive) = books.entry(msg.product_id.clone()).or_default();
        let want = if msg.snapshot {
            Outcome::Synced
        } else {
            Outcome::Applied
        };
        assert_eq!(
            m.on_message(&msg),
            want,
            "{}: {}",
            msg.product_id,
            m.status()
        );
        apply_naive(naive, frame);
        naive.assert_eq(
            m.synced_book().unwrap_or_else(|| panic!("unsynced")),
            &msg.product_id,
        );
    }
    assert_eq!(updates, 289 + 471 + 76);
    assert_eq!(books.len(), 3);
}

#[test]
fn crossed_update_and_disconnect_withhold_the_book() {
    let Some(text) = fixture(FILE) else { return };
    let frames = raw_frames(&text);
    let snap = frames
        .iter()
        .find_map(|(_, f)| {
            coinbase::parse(f)
                .ok()
                .filter(|m| m.snapshot && m.product_id == "SKL-GBP")
        })
        .unwrap_or_else(|| panic!("no SKL-GBP snapshot"));
    let mut m = CoinbaseBook::new();
    assert_eq!(m.on_message(&snap), Outcome::Synced);
    let ask = m
        .book()
        .best_ask()
        .map(|(p, _)| p)
        .unwrap_or_else(|| panic!("no asks"));
    let above = Price::parse(&format!("{}", ask.to_f64() + 0.01)).unwrap_or_else(|e| panic!("{e}"));
    let bad = coinbase::BookMsg {
        snapshot: false,
        product_id: "SKL-GBP".into(),
        changes: vec![(Side::Bid, above, 1.0)],
    };
    assert_eq!(
        m.on_message(&bad),
        Outcome::Resync {
            reason: Reason::Crossed,
            need: Need::Resubscribe
        }
    );
    assert!(m.synced_book().is_none());
    assert_eq!(m.on_message(&snap), Outcome::Synced);
    m.on_disconnect();
    assert!(m.synced_book().is_none());
    assert_eq!(m.need(), Some(Need::Resubscribe));
    assert_eq!(m.status().counters.resyncs, 2);
}
