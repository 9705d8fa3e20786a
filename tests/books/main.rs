//! Conformance of the local books (issue 14 §2, §6) against real recorded sessions in
//! ../shared/fixtures: after every message each venue's book equals a brute-force rebuild,
//! every venue checksum matches, and an injected gap or corrupted level is caught, counted
//! and shown, with the book withheld until it is resynced.

mod binance;
mod bybit;
mod coinbase;
mod kraken;
mod naive;
mod okx;

use std::path::PathBuf;

/// The text of a fixture, or `None` (SKIPPED locally, a failure under CI) when the shared
/// data is not available.
pub fn fixture(rel: &str) -> Option<String> {
    let dir: PathBuf = tickwatch::testdata::fixtures()?;
    Some(tickwatch::testdata::fixture_text(&dir, rel))
}

/// Frames of a cryptofeed raw capture ("<recv ts>: <frame>"), skipping the connect line and
/// the frames the client sent ("<url> <- <ts>: ...").
pub fn raw_frames(text: &str) -> Vec<(f64, &str)> {
    text.lines()
        .filter(|l| !l.starts_with("wss://"))
        .filter_map(|l| {
            let (ts, frame) = l.split_once(": ")?;
            Some((ts.parse().ok()?, frame))
        })
        .collect()
}
