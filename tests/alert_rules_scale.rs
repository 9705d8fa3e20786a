//! Many alert rules, through the real binary: 10,000 rules on other symbols cost a replay of
//! BTCUSDT nothing (an event visits only the rules for its symbol). Before the rules were
//! indexed by symbol every trade walked all of them, and this replay took minutes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::fmt::Write as _;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const TRADES: u64 = 250_000;
const FAR_RULES: usize = 10_000;

fn tickwatch(dir: &Path) -> Command {
    support::tickwatch_cmd(dir)
}

/// One rule on BTCUSDT that fires, and `FAR_RULES` on other symbols, of every trigger.
fn config() -> String {
    let mut s = String::from("[notify]\ndesktop = false\nterminal = \"off\"\n\n");
    s.push_str("[[alerts]]\nname = \"btc\"\nsymbols = [\"BTCUSDT\"]\nkind = \"price_above\"\nvalue = 100.2\n\n");
    let kinds = [
        ("price_above", "value = 1000000"),
        ("zscore", "value = 50"),
        ("rsi_above", "value = 90"),
        ("stale", "value = 30"),
    ];
    for i in 0..FAR_RULES {
        let (kind, value) = kinds[i % kinds.len()];
        writeln!(
            s,
            "[[alerts]]\nname = \"far-{i}\"\nsymbols = [\"OTHER{i}\"]\nkind = \"{kind}\"\n{value}\n"
        )
        .unwrap();
    }
    s
}

/// A Binance spot trades dump, 10 ms apart, prices wandering between 100.00 and 100.22.
fn trades_csv() -> String {
    let start_ms: i64 = 1_709_251_200_000;
    let mut s = String::with_capacity(TRADES as usize * 48);
    for i in 0..TRADES {
        let price = 100.0 + ((i * 7) % 23) as f64 * 0.01;
        writeln!(
            s,
            "{},{price:.2},0.5,{:.4},{},{},True",
            i + 1,
            price * 0.5,
            start_ms + i as i64 * 10,
            i % 2 == 0
        )
        .unwrap();
    }
    s
}

#[test]
fn a_replay_with_ten_thousand_rules_on_other_symbols_finishes_in_seconds() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config.toml");
    std::fs::write(&cfg, config()).unwrap();
    let dump = dir.path().join("BTCUSDT-trades-2024-03-01.csv");
    std::fs::write(&dump, trades_csv()).unwrap();
    let mut child = tickwatch(dir.path())
        .arg("--config")
        .arg(&cfg)
        .args(["replay", "--headless", "--db"])
        .arg(dir.path().join("r.db"))
        .arg(&dump)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // a liveness bound, not a speed check: it takes about a second here, minutes when every
    // trade walks every rule
    let limit = Duration::from_secs(20);
    let started = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if started.elapsed() > limit {
            child.kill().unwrap();
            child.wait().unwrap();
            panic!("the replay with {FAR_RULES} rules on other symbols still ran after {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut out = String::new();
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(status.success(), "{status}\n{out}\n{err}");
    assert!(out.contains(&format!("replayed {TRADES} rows")), "{out}");
    // the one rule for BTCUSDT still fired (at most once a minute: its cooldown)
    let alerts: u64 = out
        .split("alerts ")
        .nth(1)
        .and_then(|t| t.split(',').next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no alert count in {out}"));
    assert!((30..=50).contains(&alerts), "{out}");
}
