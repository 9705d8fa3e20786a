//! Local order books on the live feeds of OKX, Bybit, Kraken and Coinbase, end to end and
//! headless: `tickwatch record` against a local WebSocket server that speaks the venue's wire
//! format and serves the venue's real recorded book messages (../shared/fixtures), with one
//! fault injected. Each test proves that the book resyncs (the book channel is subscribed a
//! second time at the server), that the resync is counted (the log's resubscribe count), and
//! that the book reaches the engine equal to the fixture's: a liquidity rule whose threshold
//! only the fixture's last book crosses fires once, with that book's value, into the database.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../support/mod.rs"]
mod support;

mod bybit;
mod coinbase;
mod kraken;
mod okx;

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// The text of a fixture, or `None` (SKIPPED locally, a failure under CI) when the shared
/// data is not available.
pub fn fixture(rel: &str) -> Option<String> {
    let dir: PathBuf = tickwatch::testdata::fixtures()?;
    Some(tickwatch::testdata::fixture_text(&dir, rel))
}

/// A book's figures as the liquidity rules compute them: spread in bp of the mid, and the
/// imbalance of the top [`LEVELS`] levels.
#[derive(Clone, Copy, Debug)]
pub struct Figures {
    pub spread_bps: f64,
    pub imbalance: f64,
}

/// Levels the imbalance rule counts.
pub const LEVELS: usize = 5;

/// The figures of a book given best first on each side as (price, size).
pub fn figures(bids: &[(f64, f64)], asks: &[(f64, f64)]) -> Figures {
    let (b, a) = (bids[0].0, asks[0].0);
    let mid = (a + b) / 2.0;
    let sum = |side: &[(f64, f64)]| side.iter().take(LEVELS).map(|l| l.1).sum::<f64>();
    let (sb, sa) = (sum(bids), sum(asks));
    Figures {
        spread_bps: (a - b) / mid * 1e4,
        imbalance: (sb - sa) / (sb + sa),
    }
}

/// The figures of a machine's book.
pub fn book_figures<L: tickwatch::book::Level>(book: &tickwatch::book::Book<L>) -> Figures {
    use tickwatch::book::Side;
    let side = |s| -> Vec<(f64, f64)> {
        book.top(s, LEVELS)
            .into_iter()
            .map(|(p, l)| (p.to_f64(), l.qty()))
            .collect()
    };
    figures(&side(Side::Bid), &side(Side::Ask))
}

/// A rule that only the book after message `end` crosses: the latest message after `after`
/// whose spread is a new high, or whose imbalance is a new high or low, over every book before
/// it. Returns the rule's TOML, the message index and the value the alert must carry.
pub fn rule_for(states: &[Figures], after: usize) -> (String, usize, f64) {
    let mut best: Option<(usize, String, f64)> = None;
    type Pick = fn(&Figures) -> f64;
    let picks: [(&str, Pick, f64); 3] = [
        ("spread_above", |f| f.spread_bps, 1.0),
        ("imbalance_above", |f| f.imbalance, 1.0),
        ("imbalance_below", |f| f.imbalance, -1.0),
    ];
    for (kind, pick, sign) in picks {
        for j in (after + 1..states.len()).rev() {
            let v = pick(&states[j]) * sign;
            let prev = states[..j]
                .iter()
                .map(|f| pick(f) * sign)
                .fold(f64::MIN, f64::max);
            if v > prev + 1e-9 {
                if best.as_ref().is_none_or(|b| j > b.0) {
                    let threshold = (v + prev) / 2.0 * sign;
                    let levels = if kind == "spread_above" {
                        String::new()
                    } else {
                        format!("levels = {LEVELS}\n")
                    };
                    let toml = format!(
                        "[[alerts]]\nname = \"book-rule\"\nkind = \"{kind}\"\nvalue = {threshold}\n{levels}cooldown_secs = 0\n"
                    );
                    best = Some((j, toml, v * sign));
                }
                break;
            }
        }
    }
    let (j, toml, v) = best.expect("no message after the fault sets a new high or low");
    (toml, j, v)
}

/// `tickwatch record` on `config` (with `db`), logging to `dir/tickwatch.log`.
pub fn record(dir: &Path, venue_section: &str, rule: &str) -> (Child, PathBuf) {
    let config = dir.join("config.toml");
    let db = dir.join("books.db");
    let sources = venue_section
        .lines()
        .next()
        .unwrap()
        .trim_matches(|c| c == '[' || c == ']');
    std::fs::write(
        &config,
        format!(
            "sources = [\"{sources}\"]\n[notify]\ndesktop = false\nterminal = \"off\"\n\n{venue_section}\n{rule}"
        ),
    )
    .unwrap();
    let child = support::tickwatch_cmd(dir)
        .args(["record", "--config"])
        .arg(&config)
        .arg("--db")
        .arg(&db)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    (child, db)
}

/// Waits for the rule's alert in the database; returns its value.
pub async fn wait_alert(db: &Path, within: Duration, log: &Path) -> f64 {
    let t = Instant::now();
    loop {
        let sql = "SELECT CAST(value * 1000000000 AS INTEGER) FROM alerts WHERE rule LIKE '%book-rule%' OR message LIKE '%book-rule%'";
        if let Some(v) = support::query_i64(db, sql) {
            return v as f64 / 1e9;
        }
        if t.elapsed() > within {
            let log = std::fs::read_to_string(log).unwrap_or_default();
            panic!("no alert from the book within {within:?}; log:\n{log}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Stops `record` (SIGTERM) and returns its log.
pub fn stop(mut child: Child, dir: &Path) -> String {
    support::signal(child.id(), "TERM");
    support::wait_exit(&mut child, 20, "tickwatch record");
    std::fs::read_to_string(dir.join("tickwatch.log")).unwrap_or_default()
}

/// The checks every venue's test ends with: one resync, counted once, and the alert carried
/// the last book's figure.
pub fn assert_resynced_once(log: &str, alert: f64, want: f64) {
    assert!(
        (alert - want).abs() <= want.abs() * 1e-6 + 1e-6,
        "the alert carried {alert}, the fixture's last book has {want}"
    );
    assert!(log.contains("(resubscribe 1)"), "{log}");
    assert!(
        !log.contains("(resubscribe 2)"),
        "resubscribed more than once:\n{log}"
    );
}
