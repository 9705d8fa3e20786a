#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The chart and watchlist keys in the real binary, in tmux: interval, range (from memory and
//! from a month of stored history), filter, sort, watchlists, add and remove, detail and
//! overview, and the NO_COLOR / --ascii terminal fallbacks.

mod support;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use support::tmux::{start_with, wait_exit};
use tickwatch::domain::OutputBatch;
use tickwatch::domain::{Candle, EventKind, Interval, MarketEvent, Symbol, Venue, now_ms};
use tickwatch::engine::{Engine, EngineConfig};
use tickwatch::pipeline::PipelineStats;

/// Fills `db` with 30 days of 1m BTCUSDT candles of the simulator's venue, ending an hour ago
/// (where the simulator's own played hour begins) near its starting price, run through the engine so every longer interval and every indicator is stored as a
/// recording would store them.
fn month_of_history(db: &Path) -> usize {
    let mut engine = Engine::new(
        EngineConfig {
            persist_trades: false,
            ..EngineConfig::default()
        },
        Arc::new(PipelineStats::default()),
    )
    .unwrap();
    let end = Interval::M1.bucket(now_ms()) - 3_600_000;
    let n = 30 * 1_440;
    let start = end - n * 60_000;
    let symbol = Symbol::new("BTCUSDT").unwrap();
    let mut batch = OutputBatch::default();
    let mut seed = 7u64;
    let steps: Vec<f64> = (0..n)
        .map(|_| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            1.0 + (((seed >> 33) as f64 / (1u64 << 31) as f64) - 0.5) * 0.004
        })
        .collect();
    // ends at the simulator's BTCUSDT price, so the stored month leads into the live hour
    let mut price = 65_000.0 / steps.iter().product::<f64>();
    for (i, step) in (0..n).zip(&steps) {
        let open = price;
        price *= step;
        let close = price;
        let t = start + i * 60_000;
        engine
            .apply(
                &MarketEvent {
                    venue: Venue::Sim,
                    symbol,
                    exch_ms: t,
                    recv_ms: t,
                    kind: EventKind::Candle {
                        interval: Interval::M1,
                        candle: Candle {
                            open_ms: t,
                            open,
                            high: open.max(close) * 1.001,
                            low: open.min(close) * 0.999,
                            close,
                            volume: 5.0 + (i % 17) as f64,
                            trades: 40,
                        },
                        closed: true,
                    },
                },
                &mut batch,
            )
            .unwrap();
    }
    let mut conn = tickwatch::store::open(db).unwrap();
    tickwatch::store::write_batches(&mut conn, &[batch]).unwrap();
    let rows: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM candles WHERE interval = '1m' AND symbol = 'BTCUSDT'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    rows as usize
}

const CONFIG: &str = r#"
[[watchlists]]
name = "majors"
symbols = ["BTCUSDT", "ETHUSDT"]

[[watchlists]]
name = "memes"
symbols = ["DOGEUSDT"]
"#;

/// With TICKWATCH_CAPTURE_DIR set, keeps `screen` as NAME.txt there (the README's captures).
fn keep(name: &str, screen: &str) {
    if let Some(dir) = std::env::var_os("TICKWATCH_CAPTURE_DIR") {
        let _ = std::fs::write(Path::new(&dir).join(format!("{name}.txt")), screen);
    }
}

/// The line holding the chart's title (its border line names the symbol and interval).
fn chart_title(screen: &str) -> String {
    screen
        .lines()
        .find(|l| l.contains("sim:BTCUSDT"))
        .unwrap_or("")
        .to_string()
}

#[test]
fn intervals_ranges_history_filter_sort_watchlists_and_views() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("demo.db");
    assert_eq!(month_of_history(&db), 30 * 1_440);
    std::fs::write(dir.path().join("config.toml"), CONFIG).unwrap();
    let args = format!(
        "--demo --db '{}' --config '{}'",
        db.display(),
        dir.path().join("config.toml").display()
    );
    let Some((t, exit_file)) = start_with(dir.path(), 200, 50, &args, "") else {
        return;
    };
    t.wait_for("live prices", Duration::from_secs(30), |s| {
        s.contains("sim live") && s.contains("BTCUSDT")
    });

    // "the last 4 hours on 5m candles, with RSI below": 3, ] (RSI is on by default)
    t.keys(&["3", "]"]);
    let screen = t.wait_for("4h of 5m candles", Duration::from_secs(10), |s| {
        let title = chart_title(s);
        title.contains(" 5m") && title.contains("4h")
    });
    assert!(screen.contains("RSI"), "{screen}");
    keep("range_4h_5m", &screen);

    // the same for the last month, from the stored history
    t.keys(&["6"]);
    let screen = t.wait_for("a month from the database", Duration::from_secs(15), |s| {
        let title = chart_title(s);
        title.contains("1M") && title.contains("stored candles")
    });
    assert!(!chart_title(&screen).contains("loading"), "{screen}");
    keep("range_1M_5m", &screen);

    // back to live, 1m
    t.keys(&["0", "["]);
    t.wait_for("the live 1m chart", Duration::from_secs(10), |s| {
        let title = chart_title(s);
        title.contains(" 1m") && title.contains("live")
    });

    // filter
    t.keys(&["/", "E", "T", "H"]);
    let screen = t.wait_for("the filter", Duration::from_secs(5), |s| {
        s.contains("/ETH") && s.contains("ETHUSDT")
    });
    assert!(
        !screen.lines().any(|l| l.starts_with("│SOLUSDT ")),
        "filtered out:\n{screen}"
    );
    t.keys(&["Enter", "Escape"]);
    t.wait_for("the filter cleared", Duration::from_secs(5), |s| {
        s.lines().any(|l| l.starts_with("│SOLUSDT ")) && !s.contains("/ETH")
    });

    // sort: by symbol ascending, then reversed
    t.keys(&["o"]);
    let screen = t.wait_for("sorted by symbol", Duration::from_secs(5), |s| {
        s.contains("by Symbol ↑")
    });
    // the watchlist's rows (the chart title and alerts name symbols too)
    let order: Vec<usize> = ["BNBUSDT", "BTCUSDT", "DOGEUSDT", "ETHUSDT"]
        .iter()
        .map(|sym| {
            screen
                .lines()
                .position(|l| l.starts_with(&format!("│{sym} ")))
                .unwrap()
        })
        .collect();
    assert!(order.windows(2).all(|w| w[0] < w[1]), "{screen}");
    t.keys(&["O"]);
    t.wait_for("reversed", Duration::from_secs(5), |s| {
        s.contains("by Symbol ↓")
    });
    t.keys(&["o", "o", "o", "o", "o", "o", "o"]);
    t.wait_for("the config order again", Duration::from_secs(5), |s| {
        !s.contains(" by ")
    });

    // watchlists
    t.keys(&["w"]);
    let screen = t.wait_for("the majors list", Duration::from_secs(5), |s| {
        s.contains("majors 2/3 (2/6)")
    });
    assert!(
        !screen.lines().any(|l| l.starts_with("│DOGEUSDT ")),
        "{screen}"
    );
    // add a symbol the simulator streams already: only the list changes
    t.keys(&["a", "S", "O", "L", "U", "S", "D", "T", "Enter"]);
    t.wait_for("SOLUSDT in majors", Duration::from_secs(10), |s| {
        s.contains("majors 2/3 (3/6)")
    });
    t.keys(&["w"]);
    t.wait_for("the memes list", Duration::from_secs(5), |s| {
        s.contains("memes 3/3 (1/6)")
    });
    t.keys(&["w"]);
    t.wait_for("all again", Duration::from_secs(5), |s| {
        s.contains("all 1/3 (6/6)")
    });
    // a symbol new to the source: the simulator subscribes it and it streams
    t.keys(&["a"]);
    for c in "PEPEUSDT".chars() {
        t.keys(&[&c.to_string()]);
    }
    t.keys(&["Enter"]);
    t.wait_for("PEPEUSDT streaming", Duration::from_secs(15), |s| {
        s.contains("all 1/3 (7/7)") && s.lines().any(|l| l.starts_with("│PEPEUSDT "))
    });
    // and a mistake is explained in the prompt, which stays open
    t.keys(&["a", "b", "a", "d", ":", "X", "Enter"]);
    t.wait_for("the reason", Duration::from_secs(5), |s| {
        s.contains("unknown venue \"bad\"")
    });
    t.keys(&["Escape"]);
    // the prompt is gone before the next key (an Escape and an Enter read together are Alt-Enter)
    t.wait_for("the prompt closed", Duration::from_secs(5), |s| {
        !s.contains("unknown venue \"bad\"")
    });

    // detail and overview
    t.keys(&["Enter"]);
    let screen = t.wait_for("the detail pane", Duration::from_secs(5), |s| {
        s.contains("detail") && s.contains("24h") && s.contains("price")
    });
    assert!(screen.contains("spread"), "{screen}");
    keep("detail", &screen);
    t.keys(&["#"]);
    let screen = t.wait_for("the overview grid", Duration::from_secs(5), |s| {
        s.contains("ETHUSDT") && s.contains("DOGEUSDT") && !s.contains("Symbol ")
    });
    assert!(!screen.contains("detail"), "{screen}");
    keep("overview", &screen);
    t.keys(&["Escape"]);
    t.wait_for("the main view", Duration::from_secs(5), |s| {
        s.contains("Symbol")
    });
    t.keys(&["q"]);
    assert_eq!(wait_exit(&exit_file), 0);
    drop(t);

    if let Some(dir) = std::env::var_os("TICKWATCH_CAPTURE_DIR") {
        let _ = std::fs::copy(&db, Path::new(&dir).join("month.db"));
    }
    // the list edit was stored and comes back
    let conn = rusqlite::Connection::open(&db).unwrap();
    let change: String = conn
        .query_row(
            "SELECT change FROM watchlist_edits WHERE list = 'majors' AND symbol = 'SOLUSDT'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(change, "add");
    drop(conn);
    let Some((t, exit_file)) = start_with(dir.path(), 200, 50, &args, "") else {
        return;
    };
    t.wait_for("live prices", Duration::from_secs(30), |s| {
        s.contains("sim live")
    });
    t.keys(&["w"]);
    t.wait_for(
        "majors with SOLUSDT after a restart",
        Duration::from_secs(5),
        |s| s.contains("majors 2/3 (3/7)"),
    );
    t.keys(&["W"]);
    t.wait_for(
        "PEPEUSDT subscribed again at start",
        Duration::from_secs(10),
        |s| s.lines().any(|l| l.starts_with("│PEPEUSDT ")),
    );
    t.keys(&["q"]);
    assert_eq!(wait_exit(&exit_file), 0);
}

#[test]
fn no_color_and_ascii_draw_without_colour_or_unicode() {
    let dir = tempfile::tempdir().unwrap();
    let args = format!(
        "--demo --ascii --db '{}'",
        dir.path().join("demo.db").display()
    );
    let Some((t, exit_file)) = start_with(dir.path(), 80, 24, &args, "NO_COLOR=1 ") else {
        return;
    };
    let screen = t.wait_for("live prices", Duration::from_secs(30), |s| {
        s.contains("sim live") && s.contains("BTCUSDT")
    });
    assert!(screen.is_ascii(), "only ASCII with --ascii:\n{screen}");
    let out = t
        .cmd()
        .args(["capture-pane", "-p", "-e", "-t", "tw"])
        .output()
        .unwrap();
    let raw = String::from_utf8_lossy(&out.stdout);
    // every SGR sequence: no foreground or background colour (bold, dim, reverse are fine)
    for seq in raw.split("\x1b[").skip(1) {
        let Some(end) = seq.find('m') else { continue };
        let params = &seq[..end];
        if !params.bytes().all(|b| b.is_ascii_digit() || b == b';') {
            continue;
        }
        for p in params.split(';').filter_map(|p| p.parse::<u32>().ok()) {
            let colour = matches!(p, 30..=38 | 40..=48 | 90..=97 | 100..=107);
            assert!(!colour, "a colour (SGR {params}) under NO_COLOR:\n{raw}");
        }
    }
    t.keys(&["q"]);
    assert_eq!(wait_exit(&exit_file), 0);
}
