//! Text from outside never reaches the terminal or the database raw: escape sequences (an
//! OSC 52 clipboard write, `ESC[2J`, the one-byte CSI U+009B, a bidi override) in a CSV row, a
//! venue's close frame and error frame, a REST error message and a webhook's answer are shown
//! as visible escapes by the real binary, on stdout, on stderr and in what it stores.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use support::binance::Market;
use support::http::{HttpServer, RecordingServer, Response};
use support::ws::WsServer;

/// OSC 52 (write the clipboard), clear the screen, C1 CSI, right-to-left override.
const EVIL: &str = "\u{1b}]52;c;ZXZpbA==\u{7}\u{1b}[2J\u{9b}31m\u{202e}x";
/// [`EVIL`] inside a JSON string.
const EVIL_JSON: &str = r"\u001b]52;c;ZXZpbA==\u0007\u001b[2J\u009b31m\u202ex";
/// How the start of [`EVIL`] looks once made visible.
const SHOWN: &str = r"\x1b]52;c;ZXZpbA==\x07\x1b[2J\x9b31m";

/// `bytes` without the colour codes (`ESC[31m`, `ESC[0m`...) of tickwatch's own log lines on
/// stderr: they are ours, not outside text, and none of [`EVIL`]'s sequences is one.
fn without_log_colours(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == 0x1b && bytes.get(i + 1) == Some(&b'[') {
            let digits = bytes[i + 2..]
                .iter()
                .take_while(|b| b.is_ascii_digit() || **b == b';')
                .count();
            if bytes.get(i + 2 + digits) == Some(&b'm') {
                i += 3 + digits;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    out
}

/// No raw control byte or bidi override in `bytes`, which must be valid UTF-8 (a lone 0x9b is
/// not); returns the text.
fn assert_clean(what: &str, bytes: &[u8]) -> String {
    let bytes = &without_log_colours(bytes)[..];
    for b in [0x1b, 0x07] {
        assert!(
            !bytes.contains(&b),
            "{what}: raw byte {b:#04x} in {:?}",
            String::from_utf8_lossy(bytes)
        );
    }
    let text = String::from_utf8(bytes.to_vec()).unwrap_or_else(|e| {
        panic!(
            "{what}: not UTF-8 ({e}): {:?}",
            String::from_utf8_lossy(bytes)
        )
    });
    let bad = text
        .chars()
        .find(|c| (c.is_control() && !matches!(c, '\n' | '\t' | '\r')) || *c == '\u{202e}');
    assert!(bad.is_none(), "{what}: {bad:?} in {text:?}");
    text
}

fn assert_output_clean(what: &str, out: &Output) -> (String, String) {
    (
        assert_clean(&format!("{what} stdout"), &out.stdout),
        assert_clean(&format!("{what} stderr"), &out.stderr),
    )
}

/// Every text value in every table of the database at `db`.
fn assert_db_clean(db: &Path) {
    let conn = rusqlite::Connection::open(db).unwrap();
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(!tables.is_empty());
    for t in tables {
        let mut st = conn.prepare(&format!("SELECT * FROM \"{t}\"")).unwrap();
        let n = st.column_count();
        let mut rows = st.query([]).unwrap();
        while let Some(row) = rows.next().unwrap() {
            for i in 0..n {
                if let rusqlite::types::ValueRef::Text(b) = row.get_ref(i).unwrap() {
                    assert_clean(&format!("table {t}"), b);
                }
            }
        }
    }
}

#[test]
fn a_csv_row_is_shown_not_obeyed_in_the_error_and_in_skipped_lines() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("BTCUSDT-trades-2025-03-01.csv");
    let t0 = 1_740_787_200_000i64;
    let mut text = Vec::new();
    text.extend_from_slice(format!("1,{EVIL},0.5,42000.0,{t0},True,True\n").as_bytes());
    text.extend_from_slice(format!("2,84000.0,0.5,42000.0,{},True,True\n", t0 + 1).as_bytes());
    // a raw C1 byte: not UTF-8
    text.extend_from_slice(b"3,84000.0,0.5,42000.0,\x9b2J,True,True\n");
    text.extend_from_slice(format!("4,84000.0,0.5,42000.0,{},{EVIL},True\n", t0 + 2).as_bytes());
    std::fs::write(&csv, &text).unwrap();
    let db = dir.path().join("r.db");
    let replay = |extra: &[&str]| {
        support::tickwatch_cmd(dir.path())
            .args(["replay", "--headless"])
            .args(extra)
            .arg("--db")
            .arg(&db)
            .arg(&csv)
            .output()
            .unwrap()
    };
    let out = replay(&[]);
    assert!(!out.status.success());
    let (_, err) = assert_output_clean("replay", &out);
    assert!(err.contains(SHOWN), "{err}");

    let out = replay(&["--skip-bad"]);
    let (stdout, _) = assert_output_clean("replay --skip-bad", &out);
    assert!(stdout.contains("skipped:"), "{stdout}");
    assert!(stdout.contains(SHOWN), "{stdout}");
    assert_db_clean(&db);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rest_error_message_is_shown_not_obeyed_by_backfill() {
    let dir = tempfile::tempdir().unwrap();
    let body = format!(r#"{{"code":-1100,"msg":"{EVIL_JSON}"}}"#);
    let http = HttpServer::start(std::sync::Arc::new(move |_req: &support::http::Request| {
        Response::json(400, body.clone())
    }))
    .await;
    let cfg = dir.path().join("c.toml");
    std::fs::write(
        &cfg,
        format!(
            "sources = [\"binance\"]\n[notify]\ndesktop = false\n\
             [binance]\nrest_url = \"{}\"\nsymbols = [\"BTCUSDT\"]\n",
            http.url
        ),
    )
    .unwrap();
    let db = dir.path().join("b.db");
    let out = support::tickwatch_cmd(dir.path())
        .args(["backfill", "--symbol", "BTCUSDT", "--interval", "1m"])
        .args(["--from", "2025-03-01", "--to", "2025-03-02"])
        .arg("--config")
        .arg(&cfg)
        .arg("--db")
        .arg(&db)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let (_, err) = assert_output_clean("backfill", &out);
    assert!(err.contains(SHOWN), "{err}");
    if db.exists() {
        assert_db_clean(&db);
    }
}

/// A webhook that refuses every alert with an answer full of escape sequences.
async fn evil_webhook() -> RecordingServer {
    RecordingServer::start(std::sync::Arc::new(|_p: &support::http::Posted, _n| {
        Response::json(400, format!("{EVIL} no such topic\nsecond line"))
    }))
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_answer_is_shown_not_obeyed_by_alerts_test() {
    let hook = evil_webhook().await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.toml");
    std::fs::write(
        &cfg,
        format!(
            "sources = [\"sim\"]\n[notify]\ndesktop = false\nterminal = \"off\"\n\
             [[notify.webhook]]\nname = \"evil\"\nurl = \"{}/hook\"\n",
            hook.url
        ),
    )
    .unwrap();
    let out = support::tickwatch_cmd(dir.path())
        .arg("--config")
        .arg(&cfg)
        .args(["alerts", "test"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let (stdout, _) = assert_output_clean("alerts test", &out);
    assert!(stdout.contains(SHOWN), "{stdout}");
    assert_eq!(hook.posts().len(), 1);
}

/// `record` against a venue whose error frame and close frame carry escape sequences, with a
/// webhook that answers with them: the stats line, the stored delivery outcome and `alerts
/// list` (table, CSV, JSON) all show them as text.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_venues_close_reason_and_error_and_a_stored_webhook_answer_are_shown_not_obeyed() {
    let dir = tempfile::tempdir().unwrap();
    let hook = evil_webhook().await;
    let market = Market::new(&["BTCUSDT"], 0, 30);
    *market.trade_t0.lock().unwrap() = tickwatch::domain::now_ms();
    let http = HttpServer::start(market.handler()).await;
    let mut ws = WsServer::start().await;
    let cfg = dir.path().join("c.toml");
    std::fs::write(
        &cfg,
        format!(
            "sources = [\"binance\"]\n\
             [notify]\ndesktop = false\nterminal = \"off\"\ndedupe_secs = 0\nrate_limit_per_minute = 0\n\
             [[notify.webhook]]\nname = \"evil\"\nurl = \"{}/hook\"\n\
             [binance]\nws_url = \"{}\"\nrest_url = \"{}\"\nsymbols = [\"BTCUSDT\"]\n\
             mini_ticker = false\nbackoff_initial_ms = 3000\nbackoff_max_ms = 4000\n\
             [[alerts]]\nname = \"any\"\nkind = \"price_above\"\nvalue = 0.001\n",
            hook.url, ws.url, http.url
        ),
    )
    .unwrap();
    let db = dir.path().join("rec.db");
    let stderr = dir.path().join("stderr.txt");
    let mut child = support::tickwatch_cmd(dir.path())
        .args(["record", "--stats-every", "0.1", "--config"])
        .arg(&cfg)
        .arg("--db")
        .arg(&db)
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .spawn()
        .unwrap();
    let mut c = ws.accept().await;
    c.expect_subscribe(1).await;
    c.send(format!(
        r#"{{"error":{{"code":2,"msg":"{EVIL_JSON}"}},"id":null}}"#
    ))
    .await;
    // an unreadable frame is skipped and quoted in the log
    c.send(format!("not json {EVIL}")).await;
    *market.last_trade.lock().unwrap() = 5;
    c.send_all((1..=5).map(|id| market.agg_trade("BTCUSDT", id)))
        .await;
    support::wait_for(20, "the alert at the webhook", || {
        (!hook.posts().is_empty()).then_some(())
    })
    .await;
    c.close_with(4000, EVIL).await;
    support::wait_for(20, "the close reason on the stats line", || {
        let text = std::fs::read(&stderr).unwrap();
        String::from_utf8_lossy(&text)
            .contains("code 4000")
            .then_some(())
    })
    .await;
    support::signal(child.id(), "TERM");
    support::wait_exit(&mut child, 20, "record");
    let err = assert_clean("record stderr", &std::fs::read(&stderr).unwrap());
    assert!(err.contains(SHOWN), "{err}");
    assert_db_clean(&db);
    assert_clean(
        "the log",
        &std::fs::read(dir.path().join("tickwatch.log")).unwrap(),
    );

    for format in ["table", "csv", "json"] {
        let out = Command::new(env!("CARGO_BIN_EXE_tickwatch"))
            .args(["alerts", "list", "--format", format, "--db"])
            .arg(&db)
            .env("HOME", dir.path())
            .env("XDG_CONFIG_HOME", dir.path().join("cfg"))
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let (stdout, _) = assert_output_clean(&format!("alerts list --format {format}"), &out);
        assert!(stdout.contains("any"), "{format}: {stdout}");
        if format == "json" {
            assert!(stdout.contains(r"\\x1b]52"), "{stdout}");
        }
    }
}
