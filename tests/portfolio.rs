#![allow(clippy::unwrap_used, clippy::expect_used)]
//! `tickwatch portfolio` as a user runs it: entries in config.toml, prices stored by a replay of
//! kline dumps, the portfolio valued at several times and checked against a brute-force
//! computation over the same candles.

mod support;

use std::path::Path;

const T0: i64 = 1_733_011_200_000; // 2024-12-01T00:00:00Z
const MIN: i64 = 60_000;

/// BTCUSDT closes at 90000 + i in minute i; ETHBTC at 0.04 throughout.
fn btc_close(minute: i64) -> f64 {
    90_000.0 + minute as f64
}

fn write_klines(dir: &Path) -> Vec<std::path::PathBuf> {
    use support::binance::write_kline_dump;
    vec![
        write_kline_dump(dir, "BTCUSDT-1m-2024-12-01.csv", T0, 1440, btc_close),
        write_kline_dump(dir, "ETHBTC-1m-2024-12-01.csv", T0, 1440, |_| 0.04),
    ]
}

const ENTRIES: &str = r#"
[portfolio]
stablecoins = ["USDT"]

[[portfolio.entries]]
time = "2024-12-01T01:00:00Z"
type = "buy"
market = "binance:BTCUSDT"
qty = 1
price = 90000
fee = 10

[[portfolio.entries]]
time = "2024-12-01T02:00:00Z"
type = "buy"
market = "binance:BTCUSDT"
qty = 1
price = 90100

[[portfolio.entries]]
time = "2024-12-01T03:00:00Z"
type = "buy"
market = "binance:ETHBTC"
qty = 5
price = 0.04

[[portfolio.entries]]
time = "2024-12-01T06:00:00Z"
type = "sell"
market = "binance:BTCUSDT"
qty = 1.2
price = 90400
fee = 5
"#;

fn portfolio(dir: &Path, config: &str, db: &Path, args: &[&str]) -> std::process::Output {
    let cfg = dir.join("p.toml");
    std::fs::write(&cfg, config).unwrap();
    support::tickwatch_cmd(dir)
        .arg("--config")
        .arg(&cfg)
        .arg("--db")
        .arg(db)
        .arg("portfolio")
        .args(args)
        .output()
        .unwrap()
}

/// The JSON of `portfolio --at T`.
fn at(dir: &Path, db: &Path, t: &str) -> serde_json::Value {
    let out = portfolio(dir, ENTRIES, db, &["--at", t, "--format", "json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn field(v: &serde_json::Value, asset: &str, key: &str) -> f64 {
    v["positions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["asset"] == asset)
        .unwrap_or_else(|| panic!("no {asset} in {v}"))[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{asset}.{key} missing in {v}"))
}

fn near(a: f64, b: f64, what: &str) {
    assert!((a - b).abs() < 1e-6, "{what}: {a} != {b}");
}

#[test]
fn positions_and_pnl_match_a_brute_force_computation_over_stored_candles() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("h.db");
    let files = write_klines(dir.path());
    let out = support::tickwatch_cmd(dir.path())
        .arg("--db")
        .arg(&db)
        .args(["replay", "--headless"])
        .args(&files)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Brute force, by hand, FIFO, from the candle closes (the price of a time is the close of
    // the minute it falls in):
    //   01:00 buy 1 BTC at 90000 + 10 fee            lot A: 1 BTC, cost 90010
    //   02:00 buy 1 BTC at 90100                     lot B: 1 BTC, cost 90100
    //   03:00 5 ETH for 0.2 BTC; BTC worth close(180) = 90180: the 0.2 BTC (from lot A,
    //         cost 18002) are disposed of for 18036, realized +34; ETH costs 18036
    //   06:00 sell 1.2 BTC at 90400 less 5: proceeds 108475; cost: 0.8 of A (72008) and 0.4
    //         of B (36040) = 108048; realized +427
    let v = at(dir.path(), &db, "2024-12-01T12:00:00Z");
    let btc_at = |m: i64| btc_close(m);
    near(field(&v, "BTC", "qty"), 0.6, "BTC held");
    near(field(&v, "BTC", "cost"), 0.6 * 90_100.0, "BTC cost");
    near(field(&v, "BTC", "realized"), 34.0 + 427.0, "BTC realized");
    near(
        field(&v, "BTC", "value"),
        0.6 * btc_at(720),
        "BTC value at 12:00",
    );
    near(
        field(&v, "BTC", "unrealized"),
        0.6 * (btc_at(720) - 90_100.0),
        "BTC unrealized",
    );
    near(field(&v, "ETH", "cost"), 0.2 * btc_at(180), "ETH cost");
    near(
        field(&v, "ETH", "value"),
        5.0 * 0.04 * btc_at(720),
        "ETH value",
    );
    let total = 0.6 * btc_at(720) + 0.2 * btc_at(720);
    // the USDT paid in (below zero) is not part of the value
    near(v["totals"]["value"].as_f64().unwrap(), total, "total value");
    near(
        v["totals"]["pnl"].as_f64().unwrap(),
        total - 0.6 * 90_100.0 - 0.2 * btc_at(180) + 461.0,
        "P/L",
    );
    near(
        field(&v, "BTC", "weight"),
        0.6 * btc_at(720) / total,
        "BTC weight",
    );
    assert_eq!(v["missing"], serde_json::json!([]));

    // at 02:30 only the two buys count
    let v = at(dir.path(), &db, "2024-12-01T02:30:00Z");
    near(field(&v, "BTC", "qty"), 2.0, "BTC held at 02:30");
    near(
        field(&v, "BTC", "value"),
        2.0 * btc_at(150),
        "BTC value at 02:30",
    );
    assert!(v["positions"].as_array().unwrap().len() == 1, "{v}");

    // the table a person reads
    let out = portfolio(
        dir.path(),
        ENTRIES,
        &db,
        &["--at", "2024-12-01T12:00:00Z", "--format", "table"],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("portfolio at 2024-12-01T12:00:00.000Z in USD (fifo)"),
        "{text}"
    );
    assert!(text.contains("P/L"), "{text}");
    // and CSV with a total row
    let out = portfolio(
        dir.path(),
        ENTRIES,
        &db,
        &["--at", "2024-12-01T12:00:00Z", "--format", "csv"],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.starts_with(
            "asset,qty,avg_cost,last,value,day_change,unrealized,realized,fees,weight\n"
        ),
        "{text}"
    );
    assert!(text.lines().any(|l| l.starts_with("total,")), "{text}");

    // the value over time, hour by hour: the same figures as `portfolio --at` at each step
    let cfg = dir.path().join("p.toml");
    std::fs::write(&cfg, ENTRIES).unwrap();
    let out = support::tickwatch_cmd(dir.path())
        .arg("--config")
        .arg(&cfg)
        .arg("--db")
        .arg(&db)
        .args(["export", "--portfolio", "--interval", "1h"])
        .args([
            "--from",
            "2024-12-01T00:00:00Z",
            "--to",
            "2024-12-01T12:00:00Z",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let rows: Vec<&str> = text.lines().collect();
    assert_eq!(
        rows[0],
        "time,value,cost,unrealized,realized,pnl,drawdown,missing"
    );
    assert_eq!(rows.len(), 14, "{text}");
    assert!(
        rows[1].starts_with("2024-12-01T00:00:00.000Z,0,"),
        "{}",
        rows[1]
    );
    let last: Vec<&str> = rows[13].split(',').collect();
    near(last[1].parse().unwrap(), total, "the series' last value");
    // 02:00 holds 2 BTC at close(120); 06:00, after the sale, less: a drawdown from the high
    let at2: Vec<&str> = rows[3].split(',').collect();
    near(at2[1].parse().unwrap(), 2.0 * btc_at(120), "value at 02:00");
    assert!(
        rows[7].split(',').nth(6).unwrap().parse::<f64>().unwrap() < 0.0,
        "{}",
        rows[7]
    );

    // the monitor's chart thread reads the same series from the same database, and the
    // high-water mark drawdown alerts start from is its highest whole value
    let table: toml::Table = toml::from_str(ENTRIES).unwrap();
    let section: tickwatch::portfolio::config::PortfolioSection =
        table["portfolio"].clone().try_into().unwrap();
    let p = std::sync::Arc::new(
        tickwatch::portfolio::Portfolio::new(&section, Vec::new())
            .unwrap()
            .unwrap(),
    );
    let loader =
        tickwatch::history::FolioLoader::spawn_at(tickwatch::store::Location::Sqlite(db.clone()))
            .unwrap();
    loader.request(tickwatch::history::FolioRequest {
        id: 7,
        portfolio: p.clone(),
        from_ms: T0,
        to_ms: T0 + 720 * MIN,
        step_ms: 60 * MIN,
    });
    let reply = loader
        .recv_timeout(std::time::Duration::from_secs(30))
        .expect("the chart thread answers");
    assert_eq!(reply.id, 7);
    let pts = reply.result.unwrap();
    assert_eq!(pts.len(), 13);
    for (pt, row) in pts.iter().zip(&rows[1..]) {
        let cols: Vec<&str> = row.split(',').collect();
        near(pt.value, cols[1].parse().unwrap(), row);
        near(pt.pnl, cols[5].parse().unwrap(), row);
        assert!(pt.whole, "{row}");
    }
    let reader =
        tickwatch::store::open_reader(&tickwatch::store::Location::Sqlite(db.clone())).unwrap();
    let rates = tickwatch::portfolio::prices::Conversions {
        markets: &p.markets,
        prices: tickwatch::portfolio::prices::StoredPrices::new(reader),
        basis: &p.basis,
    };
    let high = tickwatch::portfolio::series::stored_high(&p, &rates, T0 + 720 * MIN).unwrap();
    let brute = (0..=720)
        .map(|m| {
            let t = T0 + m * MIN;
            if t < T0 + 60 * MIN {
                0.0
            } else if t < T0 + 120 * MIN {
                btc_at(m)
            } else if t < T0 + 180 * MIN {
                2.0 * btc_at(m)
            } else if t < T0 + 360 * MIN {
                1.8 * btc_at(m) + 0.2 * btc_at(m)
            } else {
                0.6 * btc_at(m) + 0.2 * btc_at(m)
            }
        })
        .enumerate()
        // the high is taken on the hour (the last week's steps)
        .filter(|(m, _)| m % 60 == 0)
        .map(|(_, v)| v)
        .fold(f64::MIN, f64::max);
    near(high, brute, "the stored high-water mark");

    // average cost: the same total P/L, split differently
    let avg = ENTRIES.replace("[portfolio]\n", "[portfolio]\nmethod = \"average\"\n");
    let out = portfolio(
        dir.path(),
        &avg,
        &db,
        &["--at", "2024-12-01T12:00:00Z", "--format", "json"],
    );
    let a: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    near(
        a["totals"]["pnl"].as_f64().unwrap(),
        v_pnl(dir.path(), &db),
        "P/L is the same by either method",
    );
    assert!(
        (field(&a, "BTC", "realized") - (34.0 + 427.0)).abs() > 1.0,
        "average cost realizes differently"
    );
}

fn v_pnl(dir: &Path, db: &Path) -> f64 {
    at(dir, db, "2024-12-01T12:00:00Z")["totals"]["pnl"]
        .as_f64()
        .unwrap()
}

#[test]
fn mistakes_are_named_and_nothing_is_guessed() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("none.db");
    // more sold than bought
    let over = ENTRIES.replace("qty = 1.2", "qty = 2.5");
    let out = portfolio(dir.path(), &over, &db, &["--format", "json"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("sells 2.5 BTC, but only 1.8 BTC is held"),
        "{err}"
    );
    // nothing at all
    let out = portfolio(dir.path(), "", &db, &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("the portfolio is empty"), "{err}");
    // a coin with no market: shown as missing with what to set, never as worth zero
    let coin = "[[portfolio.entries]]\ntime = \"2024-12-01\"\ntype = \"deposit\"\nasset = \"XYZ\"\nqty = 3\nprice = 2\n";
    let out = portfolio(dir.path(), coin, &db, &["--format", "table"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("missing: XYZ has no value in USD (no market gives its price: set [portfolio].prices.XYZ)"),
        "{text}"
    );
    // a bad entry in the config is refused with the entry and the key
    let bad = "[[portfolio.entries]]\ntime = \"2024-12-01\"\ntype = \"buy\"\nmarket = \"binance:BTCUSDT\"\nqty = -1\nprice = 5\n";
    let out = portfolio(dir.path(), bad, &db, &[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("[[portfolio.entries]] #1: qty = -1 must be above zero"),
        "{err}"
    );
}

const BINANCE: &str = "\u{feff}Date(UTC),Pair,Side,Price,Executed,Amount,Fee\r
2024-12-01 01:00:00,BTCUSDT,BUY,90000,1.00000000BTC,90000.00000000USDT,0.00100000BTC\r
2024-12-01 05:00:00,BTCUSDT,SELL,90300,0.50000000BTC,45150.00000000USDT,45.15000000USDT\r
";

const COINBASE: &str = "You can use this transaction report to inform your likely tax obligations.
Transactions
User,Someone,abc123
ID,Timestamp,Transaction Type,Asset,Quantity Transacted,Price Currency,Price at Transaction,Subtotal,Total (inclusive of fees and/or spread),Fees and/or Spread,Notes
cb1,2024-12-01 02:00:00 UTC,Buy,ETH,2,USD,$3600.00,$7200.00,$7210.00,$10.00,Bought 2 ETH for 7210 USD
cb2,2024-12-01 03:00:00 UTC,Retail Staking Transfer,ETH,0.5,USD,$3600.00,$1800.00,$1800.00,$0.00,
";

#[test]
fn exchange_exports_import_once_and_match_a_hand_calculation() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("h.db");
    let files = write_klines(dir.path());
    let out = support::tickwatch_cmd(dir.path())
        .arg("--db")
        .arg(&db)
        .args(["replay", "--headless"])
        .args(&files)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let b = dir.path().join("binance-trades.csv");
    let c = dir.path().join("coinbase.csv");
    std::fs::write(&b, BINANCE).unwrap();
    std::fs::write(&c, COINBASE).unwrap();
    let config = "[portfolio]\nstablecoins = [\"USDT\"]\nprices = { ETH = \"binance:ETHBTC\" }\n";
    let import = |files: &[&Path]| {
        let cfg = dir.path().join("p.toml");
        std::fs::write(&cfg, config).unwrap();
        support::tickwatch_cmd(dir.path())
            .arg("--config")
            .arg(&cfg)
            .arg("--db")
            .arg(&db)
            .args(["portfolio", "import"])
            .args(files)
            .output()
            .unwrap()
    };
    let out = import(&[&b, &c]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        said.contains("binance-trades.csv: Binance Spot trade history, 2 entries"),
        "{said}"
    );
    assert!(
        said.contains("coinbase.csv: Coinbase transaction history, 1 entry"),
        "{said}"
    );
    assert!(
        said.contains("skipped coinbase.csv:6") && said.contains("Retail Staking Transfer"),
        "{said}"
    );
    assert!(said.contains("3 new entries stored"), "{said}");
    // the same files again: nothing added
    let out = import(&[&b, &c]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.contains("0 new entries stored") && said.contains("3 already there"),
        "{said}"
    );
    assert_eq!(
        support::query_i64(&db, "SELECT COUNT(*) FROM portfolio_entries"),
        Some(3)
    );

    // By hand: 1 BTC bought at 90000 with a fee of 0.001 BTC: 0.999 BTC costing 90000. 0.5
    // sold at 90300 less 45.15 USDT: proceeds 45104.85, cost 0.5 / 0.999 × 90000; 0.499 left.
    // 2 ETH bought at 3600 + 10 fee: cost 7210; at 12:00 worth 2 × 0.04 × close(720).
    let v = {
        let out = portfolio(
            dir.path(),
            config,
            &db,
            &["--at", "2024-12-01T12:00:00Z", "--format", "json"],
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
    };
    let sold_cost = 0.5 / 0.999 * 90_000.0;
    near(field(&v, "BTC", "qty"), 0.499, "BTC held");
    near(field(&v, "BTC", "cost"), 90_000.0 - sold_cost, "BTC cost");
    near(
        field(&v, "BTC", "realized"),
        45_104.85 - sold_cost,
        "BTC realized",
    );
    near(field(&v, "ETH", "cost"), 7_210.0, "ETH cost");
    near(
        field(&v, "ETH", "value"),
        2.0 * 0.04 * btc_close(720),
        "ETH value",
    );

    // a damaged file: named by file and line, and nothing of any file is added
    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        BINANCE.replace(
            "2024-12-01 05:00:00,BTCUSDT,SELL",
            "2024-12-01 06:00:00,BTCUSDT,HOLD",
        ),
    )
    .unwrap();
    let more = dir.path().join("more.csv");
    std::fs::write(&more, BINANCE.replace("2024-12-01 0", "2024-12-02 0")).unwrap();
    let out = import(&[&more, &bad]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("bad.csv:3") && err.contains("nothing was imported"),
        "{err}"
    );
    assert_eq!(
        support::query_i64(&db, "SELECT COUNT(*) FROM portfolio_entries"),
        Some(3)
    );
    // a sale of more than is held refuses the import
    let over = dir.path().join("over.csv");
    std::fs::write(
        &over,
        BINANCE.replace("0.50000000BTC,45150", "5.00000000BTC,451500"),
    )
    .unwrap();
    let out = import(&[&over]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("but only") && err.contains("nothing was imported"),
        "{err}"
    );
}

/// A portfolio alert as a recorder raises it: `tickwatch record` against a local server
/// speaking Binance's stream, one BTC held, a drawdown rule at 5 %; BTC trades at 110 (the
/// high), then at 103: 6.4 % below, one alert about portfolio:TOTAL, stored with its message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn record_raises_a_drawdown_alert_when_the_portfolio_falls_from_its_high() {
    use support::binance::Market;
    use support::http::HttpServer;
    use support::ws::WsServer;
    let dir = tempfile::tempdir().unwrap();
    let market = Market::new(&["BTCUSDT"], 0, 0);
    let http = HttpServer::start(market.handler()).await;
    let mut ws = WsServer::start().await;
    let cfg = dir.path().join("rec.toml");
    std::fs::write(
        &cfg,
        format!(
            r#"sources = ["binance"]
[notify]
desktop = false
[binance]
ws_url = "{}"
rest_url = "{}"
symbols = ["BTCUSDT"]
mini_ticker = false
[portfolio]
stablecoins = ["USDT"]
[[portfolio.entries]]
time = "2024-12-01T01:00:00Z"
type = "buy"
market = "binance:BTCUSDT"
qty = 1
price = 100
[[alerts]]
name = "drawdown-5"
kind = "portfolio_drawdown_above"
value = 5
[[alerts]]
name = "small"
kind = "portfolio_value_below"
value = 50
"#,
            ws.url, http.url
        ),
    )
    .unwrap();
    let db = dir.path().join("rec.db");
    let child = support::tickwatch_cmd(dir.path())
        .args(["record", "--config"])
        .arg(&cfg)
        .arg("--db")
        .arg(&db)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut c = ws.accept().await;
    c.expect_subscribe(1).await;
    let frame = |id: u64, price: &str| {
        let t = tickwatch::domain::now_ms();
        format!(
            r#"{{"e":"aggTrade","E":{t},"s":"BTCUSDT","a":{id},"p":"{price}","q":"1.0","f":{id},"l":{id},"T":{t},"m":false,"M":true}}"#
        )
    };
    let alerts = "SELECT COUNT(*) FROM alerts WHERE venue = 'portfolio'";
    *market.last_trade.lock().unwrap() = 2;
    c.send_all([frame(1, "104.0"), frame(2, "110.0")]).await;
    // two clock ticks at 110: the high; nothing fires
    tokio::time::sleep(std::time::Duration::from_millis(2_500)).await;
    assert_eq!(support::query_i64(&db, alerts), Some(0));
    *market.last_trade.lock().unwrap() = 3;
    c.send_all([frame(3, "103.0")]).await;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
    while support::query_i64(&db, alerts) != Some(1) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no portfolio alert stored"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let conn = rusqlite::Connection::open(&db).unwrap();
    let message: String = conn
        .query_row(
            "SELECT symbol || ' ' || rule || ': ' || message FROM alerts WHERE venue = 'portfolio'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    drop(conn);
    assert_eq!(
        message,
        ("TOTAL drawdown-5: portfolio value 103.00 USD is 6.36% below its high of 110.00 USD (>= 5%)")
    );
    support::signal(child.id(), "TERM");
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
