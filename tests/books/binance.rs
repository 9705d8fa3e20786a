//! Binance spot (2021-08-14, 4 symbols) and USD-M futures (2021-07-22, 4 symbols): real diffs
//! against the real REST snapshots of the same sessions.

use serde_json::Value;
use tickwatch::book::binance::{self, BinanceBook, DepthSnapshot, Flavor};
use tickwatch::book::{BookMachine, BookState, Need, Outcome, Reason, Side};

use super::fixture;
use super::naive::Naive;

/// One symbol's recorded session: its snapshot body and its diff frames in order.
struct Session {
    symbol: String,
    snapshot: String,
    diffs: Vec<String>,
}

fn sessions(snapshots: &str, frames: &str) -> Vec<Session> {
    let mut out = Vec::new();
    for line in snapshots.lines() {
        let v: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}"));
        let url = v["url"].as_str().unwrap_or_default();
        let symbol = url.split("symbol=").nth(1).unwrap_or_default();
        let symbol = symbol.split('&').next().unwrap_or_default().to_string();
        let body = match &v["body"] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let needle = format!("\"s\":\"{symbol}\"");
        let diffs = frames
            .lines()
            .filter(|l| l.contains("depthUpdate") && l.contains(&needle))
            .map(str::to_string)
            .collect();
        out.push(Session {
            symbol,
            snapshot: body,
            diffs,
        });
    }
    assert_eq!(out.len(), 4);
    out
}

/// A diff's level texts, read with serde_json alone (independent of the parser under test).
fn texts(frame: &str) -> (u64, Vec<(Side, String, String)>) {
    let v: Value = serde_json::from_str(frame).unwrap_or_else(|e| panic!("{e}"));
    let d = if v.get("data").is_some() {
        &v["data"]
    } else {
        &v
    };
    let mut levels = Vec::new();
    for (key, side) in [
        ("b", Side::Bid),
        ("a", Side::Ask),
        ("bids", Side::Bid),
        ("asks", Side::Ask),
    ] {
        for l in d[key].as_array().into_iter().flatten() {
            let s = |i: usize| l[i].as_str().unwrap_or_default().to_string();
            levels.push((side, s(0), s(1)));
        }
    }
    let id = d["u"]
        .as_u64()
        .or(d["lastUpdateId"].as_u64())
        .unwrap_or_default();
    (id, levels)
}

/// Replays one session as a live client would see it: diffs buffered until the one that
/// covers the snapshot has arrived, then the snapshot, then the rest; after every message
/// that leaves the book synced it must equal snapshot + every diff newer than it.
/// `skip` drops the diff with that index (an injected gap). Returns the machine.
fn replay(s: &Session, flavor: Flavor, skip: Option<usize>) -> (BinanceBook, Vec<Outcome>) {
    let snap = binance::parse_snapshot(&s.snapshot).unwrap_or_else(|e| panic!("{e}"));
    let lid = snap.last_update_id;
    // futures keep the diff whose u == lastUpdateId; spot drops it (u <= lastUpdateId)
    let newer = |u: u64| match flavor {
        Flavor::Spot => u > lid,
        Flavor::UsdmFutures => u >= lid,
    };
    let mut naive = Naive::default();
    for (side, p, q) in texts(&s.snapshot).1 {
        naive.set(side, &p, &q);
    }
    let mut m = BinanceBook::new(flavor);
    let mut outcomes = Vec::new();
    let mut snapshot = Some(snap);
    for (i, frame) in s.diffs.iter().enumerate() {
        let diff = binance::parse_diff(frame).unwrap_or_else(|e| panic!("{e}"));
        let (u, levels) = texts(frame);
        assert_eq!(u, diff.last);
        let covers = diff.last >= lid;
        if skip != Some(i) {
            outcomes.push(m.on_diff(diff));
        }
        if newer(u) {
            for (side, p, q) in &levels {
                naive.set(*side, p, q);
            }
        }
        if covers && let Some(snap) = snapshot.take() {
            outcomes.push(m.on_snapshot(snap));
        }
        if m.status().is_synced() {
            let book = m
                .synced_book()
                .unwrap_or_else(|| panic!("synced but no book"));
            naive.assert_eq(book, &format!("{} diff {i}", s.symbol));
            assert!(!book.is_crossed(), "{} crossed at diff {i}", s.symbol);
        }
    }
    (m, outcomes)
}

fn check_clean(snapshots: &str, frames: &str, flavor: Flavor) {
    for s in sessions(snapshots, frames) {
        let (m, outcomes) = replay(&s, flavor, None);
        let st = m.status();
        assert_eq!(st.state, BookState::Synced, "{}: {st}", s.symbol);
        assert!(
            outcomes.iter().all(|o| o.need().is_none()),
            "{}: {outcomes:?}",
            s.symbol
        );
        assert_eq!(
            (st.counters.gaps, st.counters.resyncs),
            (0, 0),
            "{}",
            s.symbol
        );
        assert_eq!(st.counters.snapshots, 1);
        assert!(
            st.counters.applied > 50,
            "{}: only {} applied",
            s.symbol,
            st.counters.applied
        );
        assert_eq!(st.to_string().split(' ').next(), Some("synced"));
    }
}

#[test]
fn spot_session_matches_brute_force_after_every_diff() {
    let (Some(snaps), Some(frames)) = (
        fixture("binance_rest/depth_snapshots_2021-08-14.jsonl"),
        fixture("binance_ws_capture/binance_spot_combined_2021-08-14.frames.jsonl"),
    ) else {
        return;
    };
    check_clean(&snaps, &frames, Flavor::Spot);
}

#[test]
fn usdm_futures_session_matches_brute_force_after_every_diff() {
    let (Some(snaps), Some(frames)) = (
        fixture("depth/binance_usdm_futures_depth_snapshots_2021-07-22.jsonl"),
        fixture("depth/binance_usdm_futures_depth_2021-07-22.frames.jsonl"),
    ) else {
        return;
    };
    check_clean(&snaps, &frames, Flavor::UsdmFutures);
}

/// A diff lost after sync: the next one breaks the chain, the book is withheld and counted,
/// and a new snapshot (the true book at the lost diff's `u`) brings it back in sync.
#[test]
fn spot_injected_gap_needs_snapshot_and_recovers() {
    let (Some(snaps), Some(frames)) = (
        fixture("binance_rest/depth_snapshots_2021-08-14.jsonl"),
        fixture("binance_ws_capture/binance_spot_combined_2021-08-14.frames.jsonl"),
    ) else {
        return;
    };
    for s in sessions(&snaps, &frames) {
        let lid = binance::parse_snapshot(&s.snapshot)
            .unwrap_or_else(|e| panic!("{e}"))
            .last_update_id;
        // the 6th diff newer than the snapshot
        let Some(skip) = s
            .diffs
            .iter()
            .enumerate()
            .filter(|(_, f)| texts(f).0 > lid)
            .map(|(i, _)| i)
            .nth(5)
        else {
            panic!("{}: too few diffs", s.symbol)
        };
        let mut m = BinanceBook::new(Flavor::Spot);
        let mut upto: Vec<String> = Vec::new();
        let mut failed = None;
        let snap = binance::parse_snapshot(&s.snapshot).unwrap_or_else(|e| panic!("{e}"));
        let mut snap = Some(snap);
        for (i, f) in s.diffs.iter().enumerate() {
            let diff = binance::parse_diff(f).unwrap_or_else(|e| panic!("{e}"));
            let covers = diff.last >= lid;
            upto.push(f.clone());
            if i == skip {
                continue;
            }
            let out = m.on_diff(diff);
            if covers && let Some(sn) = snap.take() {
                assert_eq!(m.on_snapshot(sn), Outcome::Synced, "{}", s.symbol);
            }
            if let Outcome::Resync { reason, need } = out {
                failed = Some((i, reason, need));
                break;
            }
        }
        let Some((i, reason, need)) = failed else {
            panic!("{}: the skipped diff went unnoticed", s.symbol)
        };
        assert_eq!(i, skip + 1, "{}", s.symbol);
        assert!(matches!(reason, Reason::Gap { .. }), "{reason:?}");
        assert_eq!(need, Need::Snapshot);
        assert_eq!(m.need(), Some(Need::Snapshot));
        assert!(
            m.synced_book().is_none(),
            "{}: an unsynced book was handed out",
            s.symbol
        );
        let st = m.status();
        assert_eq!((st.counters.gaps, st.counters.resyncs), (1, 1));
        assert!(st.to_string().contains("gap (1)"), "{st}");
        assert_eq!(m.buffered(), 1, "the diff that broke the chain is kept");

        // the true book at the lost diff's u, as a fresh REST snapshot would give it
        let mut naive = Naive::default();
        let mut levels = texts(&s.snapshot).1;
        for f in &upto[..=skip] {
            let (u, l) = texts(f);
            if u > lid {
                levels.extend(l);
            }
        }
        for (side, p, q) in &levels {
            naive.set(*side, p, q);
        }
        let snap = DepthSnapshot {
            last_update_id: texts(&upto[skip]).0,
            bids: levels_of(&naive, Side::Bid),
            asks: levels_of(&naive, Side::Ask),
        };
        assert_eq!(m.on_snapshot(snap), Outcome::Synced, "{}", s.symbol);
        for (side, p, q) in texts(&upto[skip + 1]).1 {
            naive.set(side, &p, &q);
        }
        let book = m
            .synced_book()
            .unwrap_or_else(|| panic!("{}: not resynced", s.symbol));
        naive.assert_eq(book, &format!("{} after resync", s.symbol));
        assert_eq!(m.status().counters.snapshots, 2);
    }
}

fn levels_of(n: &Naive, side: Side) -> Vec<(tickwatch::book::Price, f64)> {
    n.sorted(side)
        .into_iter()
        .map(|(p, q, _)| {
            (
                tickwatch::book::Price::parse(&p).unwrap_or_else(|e| panic!("{e}")),
                q,
            )
        })
        .collect()
}

/// The documented edge cases, by hand: spot drops `u` <= lastUpdateId and needs the first
/// diff to straddle lastUpdateId + 1; futures keep `u` == lastUpdateId and chain by `pu`;
/// a snapshot older than the first buffered diff is refused.
#[test]
fn documented_rules_by_hand() {
    let diff = |first, last, prev| binance::DepthDiff {
        symbol: "X".into(),
        first,
        last,
        prev,
        bids: vec![],
        asks: vec![],
    };
    let snap = |id| DepthSnapshot {
        last_update_id: id,
        bids: vec![],
        asks: vec![],
    };
    let mut spot = BinanceBook::new(Flavor::Spot);
    assert_eq!(spot.on_diff(diff(95, 100, None)), Outcome::Buffered);
    assert_eq!(spot.on_diff(diff(101, 103, None)), Outcome::Buffered);
    assert_eq!(spot.on_snapshot(snap(100)), Outcome::Synced);
    assert_eq!(
        spot.status().counters.stale,
        1,
        "u == lastUpdateId is dropped on spot"
    );
    assert_eq!(spot.update_id(), 103);
    assert_eq!(spot.on_diff(diff(104, 104, None)), Outcome::Applied);
    assert_eq!(spot.on_diff(diff(104, 104, None)), Outcome::Stale);
    assert!(matches!(
        spot.on_diff(diff(106, 107, None)),
        Outcome::Resync {
            reason: Reason::Gap {
                expected: 105,
                got: 106
            },
            need: Need::Snapshot
        }
    ));

    let mut fut = BinanceBook::new(Flavor::UsdmFutures);
    assert_eq!(fut.on_diff(diff(95, 100, Some(94))), Outcome::Buffered);
    assert_eq!(fut.on_snapshot(snap(100)), Outcome::Synced);
    assert_eq!(
        fut.status().counters.applied,
        1,
        "u == lastUpdateId is kept on futures"
    );
    assert_eq!(fut.on_diff(diff(101, 105, Some(100))), Outcome::Applied);
    assert!(matches!(
        fut.on_diff(diff(107, 108, Some(106))),
        Outcome::Resync {
            reason: Reason::Gap {
                expected: 105,
                got: 106
            },
            ..
        }
    ));

    let mut old = BinanceBook::new(Flavor::Spot);
    old.on_diff(diff(200, 201, None));
    assert!(matches!(
        old.on_snapshot(snap(150)),
        Outcome::Resync {
            reason: Reason::SnapshotTooOld { .. },
            need: Need::Snapshot
        }
    ));
    assert!(old.synced_book().is_none());
    // a spot snapshot at exactly U - 1 misses nothing: accepted, the diff chains from it
    assert_eq!(old.on_snapshot(snap(199)), Outcome::Synced);
    assert_eq!(old.update_id(), 201);

    let mut small = BinanceBook::with_buffer(Flavor::Spot, 2);
    for i in 0..5 {
        small.on_diff(diff(i * 10, i * 10 + 9, None));
    }
    assert_eq!(
        (small.buffered(), small.status().counters.overflowed),
        (2, 3)
    );
}
