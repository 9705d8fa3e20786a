#![allow(clippy::unwrap_used, clippy::expect_used)]
//! PostgreSQL as a user meets it: `record` against a local Binance while the server is stopped
//! for 20 s and started again (every trade id stored exactly once at the end), two recorders
//! into one database, partitions and retention, and each way the server can refuse (a password
//! in the URL, a wrong password, a missing database, a user that may only read, a newer schema).

mod support;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::binance::Market;
use support::http::HttpServer;
use support::pg::{PASSWORD, PgServer};
use support::ws::{ServerConn, WsServer};
use support::{signal, tickwatch_cmd, wait_exit};

const SYMBOLS: [&str; 2] = ["BTCUSDT", "ETHUSDT"];

fn tickwatch(dir: &Path) -> std::process::Command {
    let mut c = tickwatch_cmd(dir);
    c.env("PGPASSWORD", PASSWORD);
    c
}

fn binance_config(dir: &Path, ws: &str, rest: &str, extra: &str) -> PathBuf {
    let cfg = dir.join("pg.toml");
    std::fs::write(
        &cfg,
        format!(
            "sources = [\"binance\"]\n[notify]\ndesktop = false\nterminal = \"off\"\n\
             [binance]\nws_url = \"{ws}\"\nrest_url = \"{rest}\"\n\
             symbols = [\"BTCUSDT\", \"ETHUSDT\"]\nklines = false\nmini_ticker = false\n\
             book_ticker = false\nbackfill_candles = 0\nstale_after_secs = 5\n\
             backoff_initial_ms = 50\nbackoff_max_ms = 200\n{extra}"
        ),
    )
    .unwrap();
    cfg
}

/// Streams `ids` of both symbols at about 1,000 trades a second.
async fn stream(c: &mut ServerConn, m: &Market, ids: std::ops::RangeInclusive<u64>) {
    let ids: Vec<u64> = ids.collect();
    for chunk in ids.chunks(10) {
        let mut frames = Vec::new();
        for id in chunk {
            for s in SYMBOLS {
                frames.push(m.agg_trade(s, *id));
            }
        }
        *m.last_trade.lock().unwrap() = *chunk.last().unwrap();
        c.send_all(frames).await;
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// The synchronous client runs its own runtime: off the test's async threads.
fn counts(pg: &PgServer, db: &str, symbol: &str) -> (i64, i64, i64, i64) {
    std::thread::scope(|s| s.spawn(|| counts_now(pg, db, symbol)).join().unwrap())
}

fn counts_now(pg: &PgServer, db: &str, symbol: &str) -> (i64, i64, i64, i64) {
    let mut c = pg.client(db);
    let r = c
        .query_one(
            "SELECT count(*), count(DISTINCT trade_id), coalesce(min(trade_id), 0), coalesce(max(trade_id), 0)
             FROM trades WHERE symbol = $1",
            &[&symbol],
        )
        .unwrap();
    (r.get(0), r.get(1), r.get(2), r.get(3))
}

/// The fault test: PostgreSQL stopped for 20 s in the middle of a `record` of a venue
/// with trade ids. With small buffers the engine backs up, the live feed drops at the ring
/// (counted), and the gaps are refilled from the venue's REST API once storage resumes: no trade
/// is lost, none is stored twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_stopped_for_20_s_mid_record_loses_no_trade_the_venue_can_refill() {
    let Some(mut pg) = PgServer::start() else {
        return;
    };
    let db = std::thread::scope(|s| s.spawn(|| pg.create_db()).join().unwrap());
    let url = pg.url(&db);
    let dir = tempfile::tempdir().unwrap();
    let market = Market::new(&SYMBOLS, 0, 0);
    *market.trade_t0.lock().unwrap() = tickwatch::domain::now_ms() - 60_000;
    let http = HttpServer::start(market.handler()).await;
    let mut ws = WsServer::start().await;
    let cfg = binance_config(
        dir.path(),
        &ws.url,
        &http.url,
        "[storage]\nmax_pending_rows = 2000\n[engine]\nring_capacity = 64\nring_events = 4096\n",
    );
    let mut child = tickwatch(dir.path())
        .args(["record", "--stats-every", "2", "--config"])
        .arg(&cfg)
        .args(["--db", &url])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let m: Arc<Market> = market.clone();
    let mut c = ws.accept().await;
    c.expect_subscribe(1).await;
    let mut last = 0;
    // 5 s live, then the server goes away for 20 s while trades keep coming
    stream(&mut c, &m, 1..=2_500).await;
    last += 2_500;
    pg.stop();
    let down = Instant::now();
    let feeder = {
        let m = m.clone();
        tokio::spawn(async move {
            stream(&mut c, &m, 2_501..=12_500).await;
            c
        })
    };
    while down.elapsed() < Duration::from_secs(20) {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    pg.start_again();
    let mut c = feeder.await.unwrap();
    last += 10_000;
    stream(&mut c, &m, last + 1..=last + 2_000).await;
    last += 2_000;
    let want = last as i64;
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut have = (0, 0, 0, 0);
    while Instant::now() < deadline {
        have = counts(&pg, &db, "ETHUSDT");
        if have.0 == want && counts(&pg, &db, "BTCUSDT").0 == want {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    signal(pid, "TERM");
    let (status, took) = wait_exit(&mut child, 30, "record after SIGTERM");
    let mut stderr = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut stderr).unwrap();
    let log = std::fs::read_to_string(dir.path().join("tickwatch.log")).unwrap_or_default();
    let notes: String = log
        .lines()
        .filter(|l| l.contains("storage") || l.contains("ERROR") || l.contains("lost"))
        .take(30)
        .collect::<Vec<_>>()
        .join("\n");
    for s in SYMBOLS {
        assert_eq!(
            counts(&pg, &db, s),
            (want, want, 1, want),
            "{s}: every id from 1 to {want} exactly once\n{stderr}\n{notes}"
        );
    }
    assert!(status.success(), "{status}\n{stderr}");
    assert!(took < Duration::from_secs(10), "stopped in {took:?}");
    // the outage was seen and said, and the password never shown
    assert!(
        log.contains("PostgreSQL unreachable") && log.contains("reconnected after"),
        "{notes}"
    );
    assert!(!stderr.contains(PASSWORD) && !log.contains(PASSWORD));
    // the small buffers overflowed: the feed dropped at the ring and the venue refilled it
    let dropped: u64 = stderr
        .split("dropped at the ring ")
        .nth(1)
        .and_then(|t| t.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(
        dropped > 0,
        "nothing was dropped, so no refill was tried: {stderr}"
    );
    eprintln!(
        "{have:?}; summary: {}",
        stderr.lines().rev().take(3).collect::<Vec<_>>().join(" / ")
    );
}

/// Two recorders on two symbol sets write into one database; a reader sees both.
#[test]
fn two_recorders_write_into_one_database() {
    let Some(pg) = support::pg::shared() else {
        return;
    };
    let db = pg.create_db();
    let url = pg.url(&db);
    let dir = tempfile::tempdir().unwrap();
    let mut children = Vec::new();
    for (i, syms) in [["BTCUSDT", "ETHUSDT"], ["SOLUSDT", "XRPUSDT"]]
        .iter()
        .enumerate()
    {
        let cfg = dir.path().join(format!("r{i}.toml"));
        std::fs::write(
            &cfg,
            format!(
                "sources = [\"sim\"]\n[notify]\ndesktop = false\nterminal = \"off\"\n\
                 [sim]\nsymbols = [\"{}\", \"{}\"]\nspeed = \"20x\"\nseed = {i}\n",
                syms[0], syms[1]
            ),
        )
        .unwrap();
        let own = dir.path().join(format!("r{i}"));
        std::fs::create_dir_all(&own).unwrap();
        children.push(
            tickwatch(&own)
                .args(["record", "--config"])
                .arg(&cfg)
                .args(["--db", &url])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap(),
        );
    }
    std::thread::sleep(Duration::from_secs(5));
    for mut child in children {
        signal(child.id(), "TERM");
        let (status, _) = wait_exit(&mut child, 20, "record");
        let mut err = String::new();
        std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
        assert!(status.success(), "{err}");
    }
    let mut c = pg.client(&db);
    let rows = c
        .query(
            "SELECT symbol, count(*) FROM candles WHERE interval = '1m' GROUP BY symbol ORDER BY symbol",
            &[],
        )
        .unwrap();
    let syms: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    assert_eq!(syms, ["BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT"]);
    let trades: i64 = c
        .query_one("SELECT count(DISTINCT symbol) FROM trades", &[])
        .unwrap()
        .get(0);
    assert_eq!(trades, 4);
    // one schema version row: the second recorder found the first's migration done
    let versions: i64 = c
        .query_one("SELECT count(*) FROM tickwatch_schema", &[])
        .unwrap()
        .get(0);
    assert_eq!(
        versions,
        i64::from(tickwatch::store::postgres::SCHEMA_VERSION)
    );
}

/// Order book snapshots go into PostgreSQL like every other table: a replayed book file is
/// stored (once, however often it is replayed), and `export --book` gives back the same rows.
#[test]
fn book_snapshots_are_stored_and_exported_from_postgres() {
    let Some(pg) = support::pg::shared() else {
        return;
    };
    let db = pg.create_db();
    let url = pg.url(&db);
    let dir = tempfile::tempdir().unwrap();
    let t0 = 1_765_000_000_000i64;
    let mut csv = format!("{}\n", tickwatch::domain::BOOK_CSV_HEADER);
    for i in 0..5i64 {
        let ts = t0 + i * 1000;
        let time = tickwatch::domain::iso8601(ts);
        for (side, level, price, qty) in [
            ("bid", 0, 100.0 - i as f64 * 0.5, 1.5),
            ("bid", 1, 99.0 - i as f64 * 0.5, 2.25),
            ("ask", 0, 100.5, 0.125),
            ("ask", 1, 101.0, 3.0 + i as f64),
        ] {
            csv.push_str(&format!(
                "{ts},{time},binance,BTCUSDT,{side},{level},{price},{qty}\n"
            ));
        }
    }
    let file = dir.path().join("book.csv");
    std::fs::write(&file, &csv).unwrap();
    let cfg = dir.path().join("b.toml");
    std::fs::write(
        &cfg,
        "[notify]\ndesktop = false\n[storage]\nbook_snapshot_secs = 1\nbook_snapshot_levels = 2\n",
    )
    .unwrap();
    for _ in 0..2 {
        let out = tickwatch(dir.path())
            .args(["--config"])
            .arg(&cfg)
            .args(["--db", &url, "replay", "--headless"])
            .arg(&file)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(pg.query_i64(&db, "SELECT count(*) FROM book_snapshots"), 20);
    // the timestamp column Grafana filters on is the snapshot's time
    assert_eq!(
        pg.query_i64(
            &db,
            &format!("SELECT count(*) FROM book_snapshots WHERE ts = to_timestamp({t0} / 1000.0)")
        ),
        4
    );
    let out = tickwatch(dir.path())
        .args(["--db", &url, "export", "--symbol", "BTCUSDT", "--book"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // the same rows back, bids before asks within each snapshot
    let sorted = |text: &str| {
        let mut v: Vec<String> = text.lines().map(str::to_string).collect();
        v.sort();
        v
    };
    assert_eq!(sorted(&String::from_utf8_lossy(&out.stdout)), sorted(&csv));
}

/// Trades land in daily partitions, created ahead of time; retention drops old days whole.
#[test]
fn trades_are_partitioned_by_day_and_retention_drops_old_days() {
    let Some(pg) = support::pg::shared() else {
        return;
    };
    let db = pg.create_db();
    let url = pg.url(&db);
    let dir = tempfile::tempdir().unwrap();
    // a replay of a file with trades 40, 20 and 0 days old, each inside its UTC day: halfway
    // between today's midnight and now, so a run just after midnight keeps them on their days
    let now = tickwatch::domain::now_ms();
    let day = 86_400_000;
    let midday = now.div_euclid(day) * day + now.rem_euclid(day) / 2;
    let csv = dir.path().join("t.csv");
    let mut text = String::new();
    for (i, age) in [40, 20, 0].iter().enumerate() {
        for k in 0..3 {
            let id = i * 10 + k + 1;
            let ts = midday - age * day + k as i64;
            text.push_str(&format!("{id},100.{k},0.5,{id},{id},{ts},true,true\n"));
        }
    }
    std::fs::write(&csv, text).unwrap();
    let replay = |extra: &str, csv: &Path| {
        let cfg = dir.path().join("ret.toml");
        std::fs::write(&cfg, format!("[notify]\ndesktop = false\n{extra}")).unwrap();
        let out = tickwatch(dir.path())
            .args(["--config"])
            .arg(&cfg)
            .args(["--db", &url, "replay", "--headless", "--kind", "aggTrades"])
            .args(["--symbol", "BTCUSDT"])
            .arg(csv)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    replay("", &csv);
    let parts = |pg: &PgServer| {
        pg.query_i64(
            &db,
            "SELECT count(*) FROM pg_inherits WHERE inhparent = 'trades'::regclass",
        )
    };
    // three days of data plus today and three days ahead (today holds data too)
    assert_eq!(parts(pg), 2 + 4, "partitions");
    assert_eq!(pg.query_i64(&db, "SELECT count(*) FROM trades"), 9);
    // the same file again: nothing twice
    replay("", &csv);
    assert_eq!(pg.query_i64(&db, "SELECT count(*) FROM trades"), 9);
    // keep 30 days: the next writer drops the 40-day-old partition, with its trades
    let newer = dir.path().join("new.csv");
    std::fs::write(
        &newer,
        format!("100,101.0,0.5,100,100,{},true,true\n", midday + 10),
    )
    .unwrap();
    replay("[storage]\nretention_days = 30\n", &newer);
    assert_eq!(pg.query_i64(&db, "SELECT count(*) FROM trades"), 7);
    assert_eq!(parts(pg), 1 + 4);
    let name = tickwatch::store::postgres::partition_name((midday - 20 * day).div_euclid(day));
    let mut c = pg.client(&db);
    let n: i64 = c
        .query_one(&format!("SELECT count(*) FROM {name}"), &[])
        .unwrap()
        .get(0);
    assert_eq!(n, 3, "the 20-day-old trades live in {name}");
}

fn run_err(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> String {
    let mut c = tickwatch_cmd(dir);
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.args(args).output().unwrap();
    assert!(!out.status.success(), "{args:?} should fail");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!err.contains(PASSWORD), "the password is shown: {err}");
    err
}

/// Each way PostgreSQL can refuse is a sentence that says what to do, without the password.
#[test]
fn each_refusal_says_what_to_do_and_never_shows_the_password() {
    let Some(pg) = support::pg::shared() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let db = pg.create_db();
    let url = pg.url(&db);
    let pw = [("PGPASSWORD", PASSWORD)];

    // a password in the URL is refused before anything connects
    let with_pw = url.replace("tickwatch@", &format!("tickwatch:{PASSWORD}@"));
    let err = run_err(dir.path(), &["--db", &with_pw, "record"], &[]);
    assert!(
        err.contains("PGPASSWORD") && err.contains("~/.pgpass"),
        "{err}"
    );

    // no password at all, and a wrong one
    let err = run_err(dir.path(), &["--db", &url, "alerts", "list"], &[]);
    assert!(err.contains("PGPASSWORD"), "{err}");
    let err = run_err(
        dir.path(),
        &["--db", &url, "alerts", "list"],
        &[("PGPASSWORD", "wrong")],
    );
    assert!(
        err.contains("password authentication failed") && err.contains("PGPASSWORD"),
        "{err}"
    );

    // a database that does not exist
    let missing = pg.url("no_such_db");
    let err = run_err(dir.path(), &["--db", &missing, "alerts", "list"], &pw);
    assert!(
        err.contains("\"no_such_db\" does not exist") && err.contains("createdb"),
        "{err}"
    );

    // an empty database holds no history yet: a reader says how to fill it
    let err = run_err(
        dir.path(),
        &["--db", &url, "export", "--symbol", "BTCUSDT"],
        &pw,
    );
    assert!(err.contains("holds no tickwatch history yet"), "{err}");

    // a server that is not there
    let gone = format!(
        "postgres://tickwatch@127.0.0.1:{}/x",
        support::pg::free_port()
    );
    let err = run_err(dir.path(), &["--db", &gone, "alerts", "list"], &pw);
    assert!(err.contains("is the server running"), "{err}");

    // the password from ~/.pgpass (mode 0600) works, and one others can read is ignored
    let pgpass = dir.path().join(".pgpass");
    std::fs::write(&pgpass, format!("127.0.0.1:*:*:tickwatch:{PASSWORD}\n")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&pgpass, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = tickwatch_cmd(dir.path())
        .args(["--db", &url, "backfill", "--help"])
        .output()
        .unwrap();
    assert!(out.status.success());
    // create the schema through a writer, with the password from the file
    let cfg = dir.path().join("s.toml");
    std::fs::write(&cfg, "[notify]\ndesktop = false\n").unwrap();
    let csv = dir.path().join("one.csv");
    let ts = tickwatch::domain::now_ms() - 60_000;
    std::fs::write(&csv, format!("1,100.0,0.5,1,1,{ts},true,true\n")).unwrap();
    let out = tickwatch_cmd(dir.path())
        .args(["--config"])
        .arg(&cfg)
        .args(["--db", &url, "replay", "--headless", "--kind", "aggTrades"])
        .args(["--symbol", "BTCUSDT"])
        .arg(&csv)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "with ~/.pgpass: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::set_permissions(&pgpass, std::fs::Permissions::from_mode(0o644)).unwrap();
    let err = run_err(dir.path(), &["--db", &url, "alerts", "list"], &[]);
    assert!(err.contains("PGPASSWORD"), "{err}");

    // a user that may only read: readers work, a writer is told at start
    let mut admin = pg.client(&db);
    admin
        .batch_execute(&format!(
            "DO $$ BEGIN CREATE ROLE tw_reader LOGIN PASSWORD '{PASSWORD}'; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
             GRANT SELECT ON ALL TABLES IN SCHEMA public TO tw_reader;"
        ))
        .unwrap();
    let reader_url = url.replace("tickwatch@", "tw_reader@");
    let out = tickwatch(dir.path())
        .args(["--db", &reader_url, "alerts", "list"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "a read-only user reads: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = run_err(
        dir.path(),
        &[
            "--config",
            cfg.to_str().unwrap(),
            "--db",
            &reader_url,
            "replay",
            "--headless",
            "--kind",
            "aggTrades",
            "--symbol",
            "BTCUSDT",
            csv.to_str().unwrap(),
        ],
        &pw,
    );
    assert!(err.contains("may read but not write"), "{err}");

    // a schema from a newer tickwatch is refused, by readers and writers
    admin
        .batch_execute("INSERT INTO tickwatch_schema (version) VALUES (99)")
        .unwrap();
    let err = run_err(dir.path(), &["--db", &url, "alerts", "list"], &pw);
    assert!(err.contains("newer than this tickwatch knows"), "{err}");
    let err = run_err(
        dir.path(),
        &[
            "--config",
            cfg.to_str().unwrap(),
            "--db",
            &url,
            "replay",
            "--headless",
            "--kind",
            "aggTrades",
            "--symbol",
            "BTCUSDT",
            csv.to_str().unwrap(),
        ],
        &pw,
    );
    assert!(err.contains("upgrade tickwatch"), "{err}");
}

/// `backfill` into PostgreSQL: candles with indicators from the venue's REST, idempotent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backfill_fills_postgres_once() {
    let pg = std::thread::scope(|s| s.spawn(support::pg::shared).join().unwrap());
    let Some(pg) = pg else {
        return;
    };
    let db = std::thread::scope(|s| s.spawn(|| pg.create_db()).join().unwrap());
    let url = pg.url(&db);
    let dir = tempfile::tempdir().unwrap();
    let market = Market::new(&["BTCUSDT"], 0, 2_500);
    let http = HttpServer::start(market.handler()).await;
    let cfg = binance_config(dir.path(), "ws://127.0.0.1:9", &http.url, "");
    let t0 = support::binance::T0;
    let (from, to) = (t0.to_string(), (t0 + 2_099 * 60_000).to_string());
    let backfill = || {
        tickwatch(dir.path())
            .args(["backfill", "--symbol", "BTCUSDT", "--interval", "1m"])
            .args(["--from", &from, "--to", &to, "--config"])
            .arg(&cfg)
            .args(["--db", &url])
            .output()
            .unwrap()
    };
    for _ in 0..2 {
        let out = backfill();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let q = |sql: &str| {
        let sql = sql.to_string();
        std::thread::scope(|s| s.spawn(|| pg.query_i64(&db, &sql)).join().unwrap())
    };
    assert_eq!(
        q("SELECT count(*) FROM candles WHERE symbol = 'BTCUSDT' AND interval = '1m'"),
        2_100
    );
    assert_eq!(
        q("SELECT count(*) FROM indicator_values WHERE name = 'rsi14' AND interval = '1m'"),
        2_100 - 14
    );
    assert_eq!(
        q(
            "SELECT count(*) FROM candles WHERE interval = '1m' AND ts <> to_timestamp(open_ms / 1000.0)"
        ),
        0
    );
}
