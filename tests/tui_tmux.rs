#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The real binary in a real terminal: tmux runs `tickwatch --demo`, send-keys types, and
//! capture-pane reads the screen. Skipped (with a message) where tmux is not installed.

mod support;

use std::time::Duration;

use support::tmux::{start, wait_exit};

#[test]
fn demo_runs_navigates_alerts_and_quits_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    let Some((t, exit_file)) = start(
        dir.path(),
        100,
        32,
        &dir.path().join("demo.db").to_string_lossy(),
    ) else {
        return;
    };
    let screen = t.wait_for("live prices", Duration::from_secs(30), |s| {
        s.contains("sim live") && s.contains("BTCUSDT")
    });
    assert!(screen.contains("demo"), "{screen}");
    // history is played at start: indicators are warm at once
    let screen = t.wait_for("a warm RSI", Duration::from_secs(15), |s| {
        s.lines().any(|l| {
            l.contains("BTCUSDT")
                && l.split_whitespace()
                    .any(|w| w.parse::<f64>().is_ok_and(|v| (1.0..99.0).contains(&v)))
        })
    });
    assert!(
        !screen.contains("INFO") && !screen.contains("WARN"),
        "logs must not reach the screen:\n{screen}"
    );
    // an anomaly alert within a minute (its message, not the rule's name in the rules list)
    t.wait_for("an anomaly alert", Duration::from_secs(75), |s| {
        s.contains("z-score")
    });
    t.keys(&["]"]);
    t.wait_for("the 5m interval", Duration::from_secs(5), |s| {
        s.contains("5m")
    });
    t.keys(&["j"]);
    t.keys(&["?"]);
    t.wait_for("the help overlay", Duration::from_secs(5), |s| {
        s.to_lowercase().contains("quit")
    });
    t.keys(&["?"]);
    t.keys(&["q"]);
    assert_eq!(wait_exit(&exit_file), 0);
    // the terminal is restored: no alternate screen left, the shell's `sleep` owns the pane
    let log = std::fs::read_to_string(dir.path().join("tw.log")).unwrap();
    assert!(log.contains("monitor starting"), "{log}");
    let conn = rusqlite::Connection::open(dir.path().join("demo.db")).unwrap();
    let alerts: i64 = conn
        .query_row("SELECT COUNT(*) FROM alerts", [], |r| r.get(0))
        .unwrap();
    assert!(alerts >= 1, "the alert was stored");
    let candles: i64 = conn
        .query_row("SELECT COUNT(*) FROM candles", [], |r| r.get(0))
        .unwrap();
    assert!(candles > 100);
}

#[test]
fn a_small_terminal_gets_a_message_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let Some((t, exit_file)) = start(
        dir.path(),
        60,
        20,
        &dir.path().join("demo.db").to_string_lossy(),
    ) else {
        return;
    };
    t.wait_for("the too-small message", Duration::from_secs(30), |s| {
        s.contains("too small")
    });
    t.cmd()
        .args(["resize-window", "-t", "tw", "-x", "80", "-y", "24"])
        .status()
        .unwrap();
    t.wait_for("the full screen at 80x24", Duration::from_secs(10), |s| {
        s.contains("BTCUSDT") && !s.contains("too small")
    });
    t.keys(&["C-c"]);
    assert_eq!(wait_exit(&exit_file), 0);
}

#[test]
fn an_unusable_database_leaves_the_monitor_running_in_memory() {
    let dir = tempfile::tempdir().unwrap();
    let Some((t, exit_file)) = start(dir.path(), 120, 30, "/proc/tickwatch-test/x.db") else {
        return;
    };
    let screen = t.wait_for(
        "db failed shown while prices move",
        Duration::from_secs(30),
        |s| s.contains("db failed") && s.contains("BTCUSDT"),
    );
    assert!(screen.contains("sim live"), "{screen}");
    t.keys(&["q"]);
    assert_eq!(wait_exit(&exit_file), 0);
}

#[test]
fn n_then_enter_makes_a_rule_that_shows_armed_and_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("demo.db");
    let Some((t, exit_file)) = start(dir.path(), 102, 32, &db.to_string_lossy()) else {
        return;
    };
    t.wait_for("live prices", Duration::from_secs(30), |s| {
        s.contains("sim live") && s.contains("BTCUSDT")
    });
    t.keys(&["n"]);
    t.wait_for("the form", Duration::from_secs(5), |s| {
        s.contains("New alert rule · BTCUSDT") && s.contains("price_above")
    });
    // to the kind, back past the six portfolio and the six order book kinds: stale (quiet
    // while data flows, so it stays armed)
    let mut keys = vec!["Up"];
    keys.extend(["Left"; 13]);
    t.keys(&keys);
    t.wait_for("the stale kind", Duration::from_secs(5), |s| {
        s.contains("◀ stale ▶")
    });
    t.keys(&["Enter"]);
    let screen = t.wait_for("the new rule, armed", Duration::from_secs(5), |s| {
        s.lines()
            .any(|l| l.contains("armed     BTCUSDT no data for 60 s"))
    });
    assert!(!screen.contains("New alert rule"), "{screen}");
    t.keys(&["q"]);
    assert_eq!(wait_exit(&exit_file), 0);
    drop(t);

    let conn = rusqlite::Connection::open(&db).unwrap();
    let (origin, spec): (String, String) = conn
        .query_row(
            "SELECT origin, spec FROM alert_rules WHERE rule_id = 'BTCUSDT no data for 60 s'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(origin, "monitor");
    assert!(spec.contains("\"kind\":\"stale\""), "{spec}");
    drop(conn);

    // the next session lists it again
    let dir2 = tempfile::tempdir().unwrap();
    let Some((t, exit_file)) = start(dir2.path(), 102, 32, &db.to_string_lossy()) else {
        return;
    };
    t.wait_for("the stored rule", Duration::from_secs(30), |s| {
        s.contains("BTCUSDT no data for 60 s")
    });
    t.keys(&["q"]);
    assert_eq!(wait_exit(&exit_file), 0);
}

/// A source that reconnects every few hundred milliseconds (a closed port, a short backoff):
/// every attempt reaches the screen, not one a second (the idle screen used to redraw states
/// only on its 1 s clock tick, so short states never showed).
#[test]
fn every_short_source_state_reaches_the_screen() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "sources = [\"binance\"]\n\n[binance]\nws_url = \"ws://127.0.0.1:{port}\"\n\
             rest_url = \"http://127.0.0.1:{port}\"\nsymbols = [\"BTCUSDT\"]\n\
             backfill_candles = 0\nbackoff_initial_ms = 200\nbackoff_max_ms = 400\n"
        ),
    )
    .unwrap();
    let args = format!(
        "--config '{}' --db '{}'",
        config.display(),
        dir.path().join("x.db").display()
    );
    let Some((t, exit_file)) = support::tmux::start_with(dir.path(), 120, 30, &args, "") else {
        return;
    };
    t.wait_for("reconnecting", Duration::from_secs(20), |s| {
        s.contains("reconnecting in")
    });
    let mut seen = std::collections::BTreeSet::new();
    let end = std::time::Instant::now() + Duration::from_secs(4);
    while std::time::Instant::now() < end {
        let screen = t.capture();
        for part in screen.split("(attempt ").skip(1) {
            if let Some(n) = part.split(')').next().and_then(|n| n.parse::<u32>().ok()) {
                seen.insert(n);
            }
        }
    }
    let (first, last) = (*seen.first().unwrap(), *seen.last().unwrap());
    let span = (last - first + 1) as usize;
    assert!(span >= 6, "attempts {first}..{last} in 4 s: {seen:?}");
    // each attempt lasts 100-400 ms; the screen shows (nearly) every one
    assert!(
        seen.len() * 10 >= span * 8,
        "only {} of attempts {first}..={last} reached the screen: {seen:?}",
        seen.len()
    );
    t.keys(&["q"]);
    assert_eq!(wait_exit(&exit_file), 0);
}

/// A first portfolio entry made in the monitor, in a real terminal: `P`, `n`, a quantity,
/// Enter; the ledger lists it, the positions value it, and after quitting it is in the
/// database, where `tickwatch portfolio` finds it.
#[test]
fn a_portfolio_entry_made_in_the_monitor_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("demo.db");
    let Some((t, exit_file)) = start(dir.path(), 120, 32, &db.to_string_lossy()) else {
        return;
    };
    t.wait_for("live prices", Duration::from_secs(30), |s| {
        s.contains("sim live") && s.contains("BTCUSDT")
    });
    t.keys(&["P"]);
    t.wait_for("the empty portfolio", Duration::from_secs(5), |s| {
        s.contains("No portfolio")
    });
    t.keys(&["n"]);
    t.wait_for("the entry form", Duration::from_secs(5), |s| {
        s.contains("New portfolio entry") && s.contains("sim:BTCUSDT")
    });
    t.keys(&["0", ".", "5", "Enter"]);
    let screen = t.wait_for("the ledger with it", Duration::from_secs(5), |s| {
        s.contains("Portfolio ledger") && s.contains("1 entry ")
    });
    assert!(screen.contains("monitor"), "{screen}");
    t.keys(&["Tab"]);
    t.wait_for("its position", Duration::from_secs(5), |s| {
        s.contains("value ") && s.contains("BTCUSDT") && s.contains("0.5")
    });
    t.keys(&["q"]);
    assert_eq!(wait_exit(&exit_file), 0);
    drop(t);

    let conn = rusqlite::Connection::open(&db).unwrap();
    let (source, action, qty): (String, String, f64) = conn
        .query_row(
            "SELECT source, action, qty FROM portfolio_entries",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .unwrap();
    assert_eq!(
        (source.as_str(), action.as_str(), qty),
        ("monitor", "buy", 0.5)
    );
    drop(conn);
    let out = support::tickwatch_cmd(dir.path())
        .args(["portfolio", "--format", "json", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let text = v.to_string();
    assert!(
        text.contains("\"BTCUSDT\"") && text.contains("0.5"),
        "{text}"
    );
}
