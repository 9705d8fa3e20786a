#![allow(clippy::unwrap_used, clippy::expect_used)]
//! What the binary tells a user when something is wrong: every message says what was wrong and
//! what to do, once, in words (not Rust type names), without colour codes off a terminal, with
//! exit code 2 only for mistakes in the command line or config and 1 for everything else.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};

use support::tickwatch_cmd;

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn run(dir: &Path, args: &[&str]) -> Output {
    tickwatch_cmd(dir).args(args).output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A spot 1m klines row: open_time, o, h, l, c, v, close_time, quote_v, trades, tb, tq, ignore.
fn kline(open: i128, close: i128) -> String {
    format!("{open},100.0,101.0,99.0,100.5,10.0,{close},1000.0,5,5.0,500.0,0\n")
}

#[test]
fn replay_advises_a_kind_flag_that_exists_and_it_works() {
    let dir = tempfile::tempdir().unwrap();
    let t0: i128 = 1_709_251_200_000;
    let rows: String = (0..30)
        .map(|i| kline(t0 + i * 60_000, t0 + i * 60_000 + 59_999))
        .collect();
    // named 5m, holds 1m candles
    let f = write(dir.path(), "BTCUSDT-5m-2024-03-01.csv", &rows);
    let db = dir.path().join("r.db");
    let out = run(
        dir.path(),
        &[
            "replay",
            "--headless",
            "--db",
            db.to_str().unwrap(),
            f.to_str().unwrap(),
        ],
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("pass the right --kind"), "{err}");
    let out = run(
        dir.path(),
        &[
            "replay",
            "--headless",
            "--kind",
            "klines-1m",
            "--db",
            db.to_str().unwrap(),
            f.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("replayed 30 rows"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = run(dir.path(), &["replay", "--kind", "3m", f.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--kind"), "{}", stderr(&out));
}

#[test]
fn klines_in_nanoseconds_and_overflowing_rows_are_explained_not_miscounted() {
    let dir = tempfile::tempdir().unwrap();
    let t0: i128 = 1_709_251_200_000_000_000; // nanoseconds
    let ns = write(
        dir.path(),
        "BTCUSDT-1m-2024-03-01.csv",
        &kline(t0, t0 + 59_999_999_999),
    );
    let out = run(dir.path(), &["replay", "--headless", ns.to_str().unwrap()]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("look like nanoseconds"), "{err}");
    assert!(!err.contains("60000000 ms"), "{err}");

    let odd = write(
        dir.path(),
        "odd.csv",
        &kline(-9_223_372_036_854_775_000, 9_223_372_036_854_775_000),
    );
    let out = run(
        dir.path(),
        &[
            "replay",
            "--headless",
            "--symbol",
            "BTCUSDT",
            odd.to_str().unwrap(),
        ],
    );
    let err = stderr(&out);
    // a debug build used to panic here (exit 101); a release build said "-92... ms long"
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("not after its open_time"), "{err}");
    assert!(
        !err.contains("panicked") && !err.contains("ms long"),
        "{err}"
    );
}

#[test]
fn a_failed_replay_says_its_error_once_without_colour() {
    let dir = tempfile::tempdir().unwrap();
    let f = write(
        dir.path(),
        "BTCUSDT-trades-2024-03-01.csv",
        "1,100.0,0.5,50,1709251200000,True,True\n2,NaN,0.5,1,1709251200200,True,True\n",
    );
    let out = run(dir.path(), &["replay", "--headless", f.to_str().unwrap()]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(
        err.matches("price NaN is not a positive finite number")
            .count(),
        1,
        "{err}"
    );
    assert!(!err.contains('\u{1b}'), "colour codes on a pipe: {err:?}");
}

#[test]
fn a_damaged_input_file_exits_1_and_only_a_path_to_nothing_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let bad = write(
        dir.path(),
        "ETHUSDT-trades-2024-03-01.csv",
        "garbage,x\n1,2\n",
    );
    let out = run(dir.path(), &["replay", "--headless", bad.to_str().unwrap()]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("unknown layout"), "{err}");
    assert_eq!(err.matches("unknown layout").count(), 1, "{err}");
    let out = run(dir.path(), &["replay", "--headless", "missing.csv"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("missing.csv"));
}

/// Warnings echoed to stderr by `record` carry no colour codes when stderr is not a terminal
/// (journald, a file).
#[test]
fn record_warnings_on_a_pipe_are_plain_text() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let cfg = write(
        dir.path(),
        "c.toml",
        &format!(
            "sources = [\"binance\"]\n[binance]\nws_url = \"ws://127.0.0.1:{port}\"\nrest_url = \"http://127.0.0.1:{port}\"\nsymbols = [\"BTCUSDT\"]\nbackfill_candles = 0\nbackoff_initial_ms = 100\n[notify]\ndesktop = false\nterminal = \"off\"\n"
        ),
    );
    let mut child = tickwatch_cmd(dir.path())
        .args(["record", "--stats-every", "0.5", "--config"])
        .arg(&cfg)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut pipe = child.stderr.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut pipe, &mut s).unwrap();
        s
    });
    std::thread::sleep(std::time::Duration::from_secs(3));
    support::signal(child.id(), "TERM");
    support::wait_exit(&mut child, 15, "record");
    let err = reader.join().unwrap();
    assert!(err.contains("WARN"), "no warning was echoed: {err}");
    assert!(!err.contains('\u{1b}'), "colour codes on a pipe: {err:?}");
    let log = std::fs::read_to_string(dir.path().join("tickwatch.log")).unwrap();
    assert!(log.contains("WARN"), "{log}");
    assert!(
        !log.contains('\u{1b}'),
        "colour codes in the log file: {log:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfill_of_an_unknown_symbol_advises_checking_the_symbol() {
    use support::binance::Market;
    use support::http::HttpServer;
    let dir = tempfile::tempdir().unwrap();
    let market = Market::new(&["BTCUSDT"], 0, 10);
    let http = HttpServer::start(market.handler()).await;
    let cfg = write(
        dir.path(),
        "c.toml",
        &format!("[binance]\nrest_url = \"{}\"\n", http.url),
    );
    let out = tickwatch_cmd(dir.path())
        .args([
            "backfill",
            "--symbol",
            "NOPE",
            "--from",
            "2023-11-14",
            "--config",
        ])
        .arg(&cfg)
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("invalid symbol NOPE"), "{err}");
    assert!(err.contains("check the --symbol spelling"), "{err}");
    assert!(!err.contains("[binance].symbols"), "{err}");
    assert_eq!(err.matches("invalid symbol NOPE").count(), 1, "{err}");
}

/// `check-config FILE` with `text`: must exit 2; returns stderr.
fn check(name: &str, text: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), name, text);
    let out = run(dir.path(), &["check-config", p.to_str().unwrap()]);
    let err = stderr(&out);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{name} passed: {err}{}",
        String::from_utf8_lossy(&out.stdout)
    );
    err
}

#[test]
fn config_type_errors_name_the_type_in_words() {
    let e = check("f.toml", "[ui]\nfps = \"fast\"\n");
    assert!(
        e.contains("f.toml:2:7") && e.contains("expected a number"),
        "{e}"
    );
    assert!(!e.contains("f64"), "{e}");
    let e = check("u.toml", "[engine]\ncandle_capacity = -1\n");
    assert!(e.contains("expected a whole number"), "{e}");
    assert!(!e.contains("usize"), "{e}");
}

#[test]
fn config_symbols_are_shown_as_written_not_as_internal_names() {
    let e = check("s.toml", "[binance]\nsymbols = [\"ETH/USDT\"]\n");
    assert!(e.contains("\"ETH/USDT\" is not a Binance symbol"), "{e}");
    assert!(!e.contains("Symbol("), "{e}");
}

#[test]
fn a_bad_rule_value_is_reported_at_that_value() {
    let e = check(
        "i.toml",
        "[[alerts]]\nkind = \"zscore\"\nvalue = 4\n\n[[alerts]]\nkind = \"rsi_above\"\nvalue = 70\ninterval = \"7m\"\n",
    );
    assert!(
        e.contains("i.toml:8:12: ") && e.contains("unknown interval"),
        "{e}"
    );
}

#[test]
fn an_empty_source_list_is_an_error_that_says_to_list_one() {
    let e = check("e.toml", "sources = []\n");
    assert!(
        e.contains("e.toml:1:1") && e.contains("sources = [\"binance\"]"),
        "{e}"
    );
}

#[test]
fn an_absurd_cooldown_is_refused_with_its_range() {
    let e = check(
        "c.toml",
        "[[alerts]]\nkind = \"zscore\"\nvalue = 4\ncooldown_secs = 18446744073709551615\n",
    );
    assert!(
        e.contains("c.toml:4:17") && e.contains("between 0 and 2592000"),
        "{e}"
    );
}

#[test]
fn source_urls_need_their_scheme_and_a_host() {
    for (section, key, bad) in [
        ("binance", "ws_url", "ws://"),
        ("binance", "rest_url", "https://"),
        ("coinbase", "ws_url", "wss://"),
        ("coinbase", "rest_url", "ftp://api.example.com"),
        ("alphavantage", "base_url", "not a url"),
    ] {
        let e = check("w.toml", &format!("[{section}]\n{key} = \"{bad}\"\n"));
        assert!(
            e.contains("w.toml:2:1") && e.contains(&format!("[{section}].{key}")),
            "{e}"
        );
    }
}

#[test]
fn names_with_bidi_overrides_or_controls_are_refused() {
    let e = check(
        "b.toml",
        "[[alerts]]\nname = \"btc \u{202E}k07\"\nkind = \"zscore\"\nvalue = 4\n",
    );
    assert!(e.contains("U+202E") && e.contains("b.toml:2:8"), "{e}");
    let e = check(
        "l.toml",
        "[[watchlists]]\nname = \"a\u{2067}b\"\nsymbols = [\"BTCUSDT\"]\n",
    );
    assert!(e.contains("U+2067") && e.contains("l.toml:2:1"), "{e}");
}

/// Simulated prices sit on a tick grid like real ones, and exports print them (and the summed
/// volumes) without float noise such as `83373.56899999999`.
#[test]
fn exported_simulated_candles_have_no_float_noise() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write(
        dir.path(),
        "s.toml",
        "sources = [\"sim\"]\n[sim]\nsymbols = [\"BTCUSDT\", \"XRPUSDT\"]\nspeed = \"max\"\nhistory_secs = 0\nmax_trades = 40000\n[notify]\ndesktop = false\nterminal = \"off\"\n",
    );
    let db = dir.path().join("sim.db");
    let out = run(
        dir.path(),
        &[
            "record",
            "--config",
            cfg.to_str().unwrap(),
            "--db",
            db.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    for (symbol, price_decimals) in [("BTCUSDT", 2), ("XRPUSDT", 4)] {
        let out = run(
            dir.path(),
            &[
                "export",
                "--db",
                db.to_str().unwrap(),
                "--symbol",
                symbol,
                "--interval",
                "1s",
            ],
        );
        let csv = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{}", stderr(&out));
        let mut rows = 0;
        for line in csv.lines().skip(1) {
            rows += 1;
            let cells: Vec<&str> = line.split(',').collect();
            let decimals = |s: &str| s.split('.').nth(1).map_or(0, str::len);
            for price in &cells[1..5] {
                assert!(decimals(price) <= price_decimals, "{symbol}: {line}");
            }
            // quantities have 6 decimals; their sums no more
            assert!(decimals(cells[5]) <= 6, "{symbol}: {line}");
        }
        assert!(rows > 100, "{csv}");
    }
}

/// A database that cannot be opened is the command's error, printed once: not also echoed by
/// the log, and its cause not repeated.
#[test]
fn an_unusable_database_is_reported_once() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write(
        dir.path(),
        "s.toml",
        "sources = [\"sim\"]\n[sim]\nmax_trades = 10\n[notify]\ndesktop = false\nterminal = \"off\"\n",
    );
    let out = run(
        dir.path(),
        &[
            "record",
            "--config",
            cfg.to_str().unwrap(),
            "--db",
            "/proc/nope/x.db",
        ],
    );
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("cannot use the database /proc/nope/x.db"),
        "{err}"
    );
    assert_eq!(err.matches("No such file or directory").count(), 1, "{err}");
    assert!(!err.contains("ERROR"), "{err}");
}
