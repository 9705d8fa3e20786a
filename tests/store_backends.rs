#![allow(clippy::unwrap_used, clippy::expect_used)]
//! One storage suite, run against both backends through the store interface: SQLite in a
//! temporary file and PostgreSQL on a real server (initdb + pg_ctl, see support::pg). Each test
//! is a function of the backend; `both!` makes a `sqlite` and a `postgres` test of it.

mod support;

use std::sync::Arc;
use std::time::Duration;

use tickwatch::alerts::DeliveryOutcome;
use tickwatch::domain::{
    AlertRecord, Candle, ClosedCandle, DeliveryRecord, Interval, OutputBatch, Side, Symbol,
    TradeRecord, TradeTick, Venue, VenueSymbol, WatchlistEdit,
};
use tickwatch::history::{HistoryLoader, HistoryRequest};
use tickwatch::pipeline::{HealthBoard, PipelineStats, StopClock};
use tickwatch::store::{self, Location, StoreSummary, StoreWriter, WriterConfig};

const T0: i64 = 1_700_000_000_000;

/// A database on one backend, alive as long as this value.
struct Backend {
    at: Location,
    /// What `--db` takes, for the binary.
    arg: String,
    dir: tempfile::TempDir,
    pg: bool,
    /// The PostgreSQL database's name, for checks in SQL.
    pg_db: Option<String>,
}

impl Backend {
    fn sqlite() -> Backend {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        Backend {
            at: Location::Sqlite(path.clone()),
            arg: path.display().to_string(),
            dir,
            pg: false,
            pg_db: None,
        }
    }

    fn postgres() -> Option<Backend> {
        let server = support::pg::shared()?;
        let db = server.create_db();
        let url = server.url(&db);
        let mut at = Location::parse(std::path::Path::new(&url)).unwrap();
        if let Location::Postgres(t) = &mut at {
            t.set_password(support::pg::PASSWORD);
        }
        Some(Backend {
            at,
            arg: url,
            dir: tempfile::tempdir().unwrap(),
            pg: true,
            pg_db: Some(db),
        })
    }

    fn write(&self, batches: Vec<OutputBatch>) -> StoreSummary {
        let w = StoreWriter::spawn_at(
            &self.at,
            Arc::new(PipelineStats::default()),
            HealthBoard::default(),
            WriterConfig::default(),
            StopClock::default(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let tx = w.sender();
        for b in batches {
            tx.send_blocking(b).unwrap();
        }
        w.close().unwrap()
    }

    fn reader(&self) -> Box<dyn store::ReadStore> {
        store::open_reader(&self.at).unwrap_or_else(|e| panic!("{e}"))
    }

    /// The binary, sandboxed, with the test password in its environment.
    fn cmd(&self) -> std::process::Command {
        let mut c = support::tickwatch_cmd(self.dir.path());
        c.env("PGPASSWORD", support::pg::PASSWORD);
        c
    }
}

macro_rules! both {
    ($name:ident) => {
        mod $name {
            #[test]
            fn sqlite() {
                super::$name(super::Backend::sqlite());
            }
            #[test]
            fn postgres() {
                if let Some(b) = super::Backend::postgres() {
                    super::$name(b);
                }
            }
        }
    };
}

fn key(s: &str) -> VenueSymbol {
    VenueSymbol::new(Venue::Binance, Symbol::new(s).unwrap())
}

fn trade(k: VenueSymbol, id: u64) -> TradeRecord {
    TradeRecord {
        key: k,
        // spread over three days, so PostgreSQL needs three partitions
        ts_ms: T0 + id as i64 * 60_000,
        tick: TradeTick {
            trade_id: id,
            price: 100.0 + id as f64 * 0.01,
            qty: 0.5,
            side: if id.is_multiple_of(2) {
                Side::Buy
            } else {
                Side::Sell
            },
        },
    }
}

fn trades(k: VenueSymbol, ids: std::ops::Range<u64>) -> OutputBatch {
    OutputBatch {
        trades: ids.map(|id| trade(k, id)).collect(),
        ..OutputBatch::default()
    }
}

fn closed(k: VenueSymbol, open_ms: i64, close: f64, rsi: Option<f64>) -> ClosedCandle {
    ClosedCandle {
        key: k,
        interval: Interval::M1,
        candle: Candle {
            open_ms,
            open: 100.0,
            high: close.max(100.0) + 1.0,
            low: close.min(100.0) - 1.0,
            close,
            volume: 3.0,
            trades: 7,
        },
        columns: Arc::from(vec!["rsi14".to_string(), "ema20".to_string()]),
        values: vec![rsi, Some(close - 0.5)].into_boxed_slice(),
    }
}

fn alert(id: &str, ts_ms: i64) -> AlertRecord {
    AlertRecord {
        alert_id: id.into(),
        ts_ms,
        key: key("BTCUSDT"),
        rule: "btc-high".into(),
        value: 101.5,
        message: "BTCUSDT above 100".into(),
        delivered: "tui".into(),
        severity: tickwatch::alerts::Severity::Critical,
    }
}

both!(trades_are_stored_once_however_often_they_come);
fn trades_are_stored_once_however_often_they_come(b: Backend) {
    let k = key("BTCUSDT");
    let first = b.write(vec![trades(k, 0..3000)]);
    assert_eq!(first.trades, 3000);
    assert_eq!(first.duplicate_trades, 0);
    // a repeated replay overlapping the first: only the new ones are stored
    let again = b.write(vec![trades(k, 2000..4000), trades(k, 3500..3600)]);
    assert_eq!(again.duplicate_trades, 1000 + 100, "{again:?}");
    let mut r = b.reader();
    assert_eq!(r.trade_count(Venue::Binance, k.symbol).unwrap(), 4000);
    assert_eq!(r.venues_for(k.symbol).unwrap(), vec![Venue::Binance]);
    let syms = r.symbols().unwrap();
    assert_eq!(syms, vec![(Venue::Binance, k.symbol, 0)]);
}

both!(large_groups_store_every_trade_once);
/// Groups of thousands of trades (a replay's) are split over PostgreSQL's two connections:
/// the earliest trades go in on the second one. Every trade is stored once, a repeat within the
/// group or of stored trades on either side is skipped, and on PostgreSQL one group is two
/// transactions.
fn large_groups_store_every_trade_once(b: Backend) {
    let k = key("BTCUSDT");
    // trade 5 again at the end: on PostgreSQL the split puts one copy in each connection's
    // part, and two connections inserting the same key would each wait for the other
    let mut group = trades(k, 0..20_000);
    group.trades.push(trade(k, 5));
    let first = b.write(vec![group]);
    assert_eq!((first.trades, first.duplicate_trades), (20_001, 1));
    if let Some(db) = &b.pg_db {
        let pg = support::pg::shared().unwrap();
        assert_eq!(
            pg.query_i64(db, "SELECT count(DISTINCT xmin::text) FROM trades"),
            2,
            "one group, written by both connections"
        );
        // the second connection took the earliest trades, the first one the rest
        assert_eq!(
            pg.query_i64(
                db,
                "WITH g AS (SELECT xmin::text AS x, min(trade_id) AS lo, max(trade_id) AS hi
                            FROM trades GROUP BY 1)
                 SELECT count(*) FROM g a, g b WHERE a.lo = 0 AND a.x <> b.x AND a.hi < b.lo"
            ),
            1
        );
    }
    // overlapping on both sides of the split: 10,000 already stored
    let again = b.write(vec![trades(k, 10_000..30_000)]);
    assert_eq!((again.trades, again.duplicate_trades), (20_000, 10_000));
    let mut r = b.reader();
    assert_eq!(r.trade_count(Venue::Binance, k.symbol).unwrap(), 30_000);
    let mut ids = Vec::new();
    let mut after = None;
    loop {
        let page = r
            .trades_page(k, i64::MIN / 4, i64::MAX / 4, after, 7_000)
            .unwrap();
        let Some(last) = page.last() else { break };
        after = Some((last.0, last.1.trade_id));
        ids.extend(page.iter().map(|(_, t)| t.trade_id));
    }
    assert_eq!(ids, (0..30_000).collect::<Vec<u64>>());
}

both!(candles_are_replaced_and_read_back_with_their_values);
fn candles_are_replaced_and_read_back_with_their_values(b: Backend) {
    let k = key("ETHUSDT");
    let mut batch = OutputBatch::default();
    for i in 0..100 {
        let rsi = (i >= 14).then_some(40.0 + i as f64 * 0.1);
        batch
            .candles
            .push(closed(k, T0 + i * 60_000, 100.0 + i as f64, rsi));
    }
    // the same candle twice in one batch: the later wins
    batch
        .candles
        .push(closed(k, T0 + 99 * 60_000, 500.0, Some(77.0)));
    b.write(vec![batch]);
    // and once more later (a re-closed candle)
    b.write(vec![OutputBatch {
        candles: vec![closed(k, T0 + 98 * 60_000, 400.0, Some(66.0))],
        ..OutputBatch::default()
    }]);
    let mut r = b.reader();
    let rows = r
        .candles(
            Some(Venue::Binance),
            k.symbol,
            Interval::M1,
            Some(T0 + 10 * 60_000),
            None,
            None,
        )
        .unwrap();
    assert_eq!(rows.len(), 90);
    let first = &rows[0].1;
    assert_eq!(first.candle.open_ms, T0 + 10 * 60_000);
    assert!(
        !first.values.contains_key("rsi14"),
        "warming up: not stored"
    );
    assert_eq!(first.values.get("ema20"), Some(&109.5));
    let last = &rows[89].1;
    assert_eq!(last.candle.close, 500.0);
    assert_eq!(last.values.get("rsi14"), Some(&77.0));
    assert_eq!(rows[88].1.candle.close, 400.0);
    assert_eq!(rows[88].1.values.get("rsi14"), Some(&66.0));
    // the latest 5 of the range, ascending
    let tail = r
        .candles(None, k.symbol, Interval::M1, None, None, Some(5))
        .unwrap();
    assert_eq!(tail.len(), 5);
    assert_eq!(tail[4].1.candle.open_ms, T0 + 99 * 60_000);
    assert_eq!(r.symbols().unwrap(), vec![(Venue::Binance, k.symbol, 100)]);
}

both!(the_chart_history_thread_reads_either_backend_alike);
fn the_chart_history_thread_reads_either_backend_alike(b: Backend) {
    // aligned to 10 minutes, so 600 1m candles make 60 buckets of 10
    const T0: i64 = 1_700_000_400_000;
    let k = key("SOLUSDT");
    let mut batch = OutputBatch::default();
    for i in 0..600 {
        let rsi = (i % 7 != 3).then_some(i as f64 / 10.0);
        batch
            .candles
            .push(closed(k, T0 + i * 60_000, 100.0 + (i % 13) as f64, rsi));
    }
    b.write(vec![batch]);
    let loader = HistoryLoader::spawn_at(b.at.clone()).unwrap();
    loader.request(HistoryRequest {
        key: k,
        interval: Interval::M1,
        from_ms: T0,
        to_ms: T0 + 600 * 60_000,
        bucket_ms: 10 * 60_000,
        columns: Arc::from(vec!["rsi14".to_string(), "ema20".to_string()]),
        id: 1,
    });
    let reply = loader
        .recv_timeout(Duration::from_secs(20))
        .expect("a reply");
    let slice = reply.result.unwrap();
    assert_eq!(slice.source_candles, 600);
    assert_eq!(slice.candles.len(), 60);
    assert_eq!(slice.first_stored_ms, Some(T0));
    assert_eq!(slice.last_stored_ms, Some(T0 + 599 * 60_000));
    // bucket 0 holds candles 0..10; its last (9) has rsi 0.9, and ema = close - 0.5
    let c0 = &slice.candles[0];
    assert_eq!(c0.candle.open_ms, T0);
    assert_eq!(c0.values[0], Some(0.9));
    assert_eq!(c0.candle.high, (100.0f64 + 9.0).max(100.0) + 1.0);
    // bucket 1's last member (19) has rsi; bucket 2 ends at 29 (29 % 7 == 1: defined)
    // a bucket whose last member lacks rsi shows the latest earlier one: 59 % 7 == 3
    assert_eq!(slice.candles[5].values[0], Some(5.8));
    loader.request_last_closes(vec![k]);
    let mut closes = None;
    for _ in 0..200 {
        closes = loader.try_recv_last_closes();
        if closes.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let closes = closes.expect("last closes");
    assert_eq!(closes.len(), 1);
    assert_eq!(closes[0].end_ms, T0 + 600 * 60_000);
}

both!(alerts_keep_their_deliveries_in_any_order);
fn alerts_keep_their_deliveries_in_any_order(b: Backend) {
    // the outcome is recorded before the engine's batch with the alert itself
    b.write(vec![
        OutputBatch {
            deliveries: vec![DeliveryRecord {
                alert_id: "a1".into(),
                sink: "webhook:ops".into(),
                outcome: DeliveryOutcome::Failed("HTTP 500".into()),
            }],
            ..OutputBatch::default()
        },
        OutputBatch {
            alerts: vec![alert("a1", T0), alert("a2", T0 + 1000)],
            ..OutputBatch::default()
        },
        OutputBatch {
            alerts: vec![alert("a1", T0)],
            deliveries: vec![DeliveryRecord {
                alert_id: "a2".into(),
                sink: "desktop".into(),
                outcome: DeliveryOutcome::Sent,
            }],
            ..OutputBatch::default()
        },
    ]);
    let mut r = b.reader();
    let alerts = r.alerts(None, None).unwrap();
    assert_eq!(alerts.len(), 2);
    assert_eq!(alerts[0].alert_id, "a2");
    assert_eq!(alerts[0].delivered, "tui,desktop");
    assert_eq!(alerts[1].delivered, "tui,webhook:ops(failed: HTTP 500)");
    assert_eq!(alerts[1].severity, tickwatch::alerts::Severity::Critical);
    let d = r.deliveries(Some(T0 + 500)).unwrap();
    assert_eq!(d.len(), 1);
    assert_eq!(d["a2"][0].outcome, DeliveryOutcome::Sent);
    assert_eq!(r.alerts(None, Some(1)).unwrap().len(), 1);
}

both!(rules_and_watchlist_edits_come_back_as_written);
fn rules_and_watchlist_edits_come_back_as_written(b: Backend) {
    let edits = vec![
        WatchlistEdit {
            list: "majors".into(),
            key: key("BTCUSDT"),
            added: true,
            ts_ms: T0,
        },
        WatchlistEdit {
            list: "majors".into(),
            key: key("BTCUSDT"),
            added: false,
            ts_ms: T0 + 5,
        },
        WatchlistEdit {
            list: "all".into(),
            key: key("XRPUSDT"),
            added: true,
            ts_ms: T0 + 9,
        },
    ];
    b.write(vec![OutputBatch {
        watchlist: edits,
        ..OutputBatch::default()
    }]);
    let got = b.reader().watchlist_edits().unwrap();
    assert_eq!(got.len(), 2);
    assert!(!got[0].added && got[0].list == "majors");
    assert_eq!(got[1].key, key("XRPUSDT"));
    assert!(b.reader().rules().unwrap().is_empty());
}

both!(portfolio_entries_edited_in_the_monitor_are_replaced_and_deleted);
fn portfolio_entries_edited_in_the_monitor_are_replaced_and_deleted(b: Backend) {
    use tickwatch::portfolio::{Action, Entry, EntryChange};
    let entry = |id: &str, qty: f64| Entry {
        ts_ms: T0,
        action: Action::Buy,
        asset: "BTC".into(),
        qty,
        quote: Some("USDT".into()),
        price: Some(90_000.0),
        fee: 0.0,
        fee_asset: None,
        market: Some(key("BTCUSDT")),
        id: id.into(),
        source: "monitor".into(),
    };
    let batch = |changes: Vec<EntryChange>| OutputBatch {
        portfolio: changes,
        ..OutputBatch::default()
    };
    b.write(vec![
        batch(vec![
            EntryChange::Upsert(Box::new(entry("a", 1.0))),
            EntryChange::Upsert(Box::new(entry("b", 2.0))),
        ]),
        // edited: the same id, replaced
        batch(vec![EntryChange::Upsert(Box::new(entry("a", 1.5)))]),
    ]);
    b.write(vec![batch(vec![EntryChange::Delete("b".into())])]);
    let got = b.reader().portfolio_entries().unwrap();
    assert_eq!(got, vec![entry("a", 1.5)]);
}

both!(export_and_alerts_list_read_either_backend);
fn export_and_alerts_list_read_either_backend(b: Backend) {
    let k = key("BTCUSDT");
    let mut batch = OutputBatch::default();
    for i in 0..30 {
        batch
            .candles
            .push(closed(k, T0 + i * 60_000, 100.0 + i as f64, Some(50.0)));
    }
    batch.alerts.push(alert("x1", T0 + 5));
    b.write(vec![batch]);
    let out = b
        .cmd()
        .args([
            "--db",
            &b.arg,
            "export",
            "--symbol",
            "BTCUSDT",
            "--interval",
            "1m",
        ])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(text.lines().count(), 31, "{text}");
    assert!(text.lines().nth(30).unwrap().contains(",129,"), "{text}");
    let out = b
        .cmd()
        .args(["--db", &b.arg, "alerts", "list", "--format", "csv"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("btc-high") && text.contains("BTCUSDT above 100"),
        "{text}"
    );
    // an unknown symbol names what the database has
    let out = b
        .cmd()
        .args([
            "--db",
            &b.arg,
            "export",
            "--symbol",
            "DOGEUSDT",
            "--interval",
            "1m",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("no candles for DOGEUSDT") && err.contains("BTCUSDT (binance, 30 candles)"),
        "{err}"
    );
    if b.pg {
        assert!(!err.contains(support::pg::PASSWORD));
    }
}

both!(edge_values_come_back_exactly);
/// Values at the edges of what a venue can send come back bit for bit (PostgreSQL's binary COPY
/// is encoded by hand): ids up to the largest signed 64-bit one, prices from a satoshi fraction to
/// 1e15, times before 2000 (PostgreSQL's own epoch) and before 1970, non-ASCII-free symbols of
/// the longest kind, and negative indicator values.
fn edge_values_come_back_exactly(b: Backend) {
    let k = key("1000SHIBUSDT");
    // 1969-12-31T23:59:00Z, 1999-12-31T23:59:59.999Z, 2000-01-01T00:00:00.001Z, and T0
    let times = [-60_000i64, 946_684_799_999, 946_684_800_001, T0];
    let prices = [1e-8, 0.1 + 0.2, 123_456.789_012_345_6, 1e15];
    let ids = [0u64, 1, i64::MAX as u64 - 1, i64::MAX as u64];
    let trades: Vec<TradeRecord> = (0..4)
        .map(|i| TradeRecord {
            key: k,
            ts_ms: times[i],
            tick: TradeTick {
                trade_id: ids[i],
                price: prices[i],
                qty: prices[3 - i],
                side: if i % 2 == 0 { Side::Buy } else { Side::Sell },
            },
        })
        .collect();
    let candles: Vec<ClosedCandle> = times
        .iter()
        .zip(prices)
        .map(|(&t, p)| {
            let mut c = closed(k, t.div_euclid(60_000) * 60_000, p, Some(-p));
            c.candle.volume = p * 3.0;
            c
        })
        .collect();
    let batch = OutputBatch {
        trades: trades.clone(),
        candles: candles.clone(),
        ..OutputBatch::default()
    };
    let sum = b.write(vec![batch.clone()]);
    assert_eq!((sum.trades, sum.candles, sum.duplicate_trades), (4, 4, 0));
    // again: on PostgreSQL through the temporary tables and ON CONFLICT, with the same values
    let again = b.write(vec![batch]);
    assert_eq!(
        (again.trades, again.candles, again.duplicate_trades),
        (4, 4, 4)
    );
    let mut r = b.reader();
    let got = r
        .trades_page(k, i64::MIN / 4, i64::MAX / 4, None, 100)
        .unwrap();
    let want: Vec<(i64, TradeTick)> = trades.iter().map(|t| (t.ts_ms, t.tick)).collect();
    assert_eq!(got.len(), 4);
    for (g, w) in got.iter().zip(&want) {
        assert_eq!(g.0, w.0);
        assert_eq!(g.1.trade_id, w.1.trade_id);
        assert_eq!(g.1.price.to_bits(), w.1.price.to_bits(), "{g:?} {w:?}");
        assert_eq!(g.1.qty.to_bits(), w.1.qty.to_bits(), "{g:?} {w:?}");
        assert_eq!(g.1.side, w.1.side);
    }
    let rows = r
        .candles(
            Some(Venue::Binance),
            k.symbol,
            Interval::M1,
            None,
            None,
            None,
        )
        .unwrap();
    assert_eq!(rows.len(), 4);
    for ((_, row), want) in rows.iter().zip(&candles) {
        assert_eq!(row.candle.open_ms, want.candle.open_ms);
        assert_eq!(row.candle.close.to_bits(), want.candle.close.to_bits());
        assert_eq!(row.candle.volume.to_bits(), want.candle.volume.to_bits());
        assert_eq!(row.candle.trades, want.candle.trades);
        assert_eq!(
            row.values.get("rsi14").map(|v| v.to_bits()),
            Some((-want.candle.close).to_bits())
        );
    }
    if let Some(db) = &b.pg_db {
        // the timestamptz columns say the same instants as the millisecond columns
        let pg = support::pg::shared().unwrap();
        for sql in [
            "SELECT count(*) FROM trades WHERE ts = to_timestamp(ts_ms / 1000.0)",
            "SELECT count(*) FROM candles WHERE ts = to_timestamp(open_ms / 1000.0)",
            "SELECT count(*) FROM indicator_values WHERE ts = to_timestamp(open_ms / 1000.0)",
        ] {
            assert_eq!(
                pg.query_i64(db, sql),
                if sql.contains("indicator") { 8 } else { 4 },
                "{sql}"
            );
        }
        assert_eq!(
            pg.query_i64(db, "SELECT count(*) FROM trades WHERE symbol = '1000SHIBUSDT' AND venue = 'binance' AND taker_side IN ('buy', 'sell')"),
            4
        );
    }
}

both!(record_stores_the_simulator_into_either_backend);
fn record_stores_the_simulator_into_either_backend(b: Backend) {
    let cfg = b.dir.path().join("config.toml");
    std::fs::write(
        &cfg,
        "sources = [\"sim\"]\n[sim]\nsymbols = [\"BTCUSDT\", \"ETHUSDT\"]\nspeed = \"50x\"\n",
    )
    .unwrap();
    let mut child = b
        .cmd()
        .args(["--config"])
        .arg(&cfg)
        .args(["--db", &b.arg, "record"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(4));
    support::signal(child.id(), "TERM");
    let (status, _) = support::wait_exit(&mut child, 20, "record");
    let mut err = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert_eq!(status.code(), Some(0), "{err}");
    let mut r = b.reader();
    let n = r
        .trade_count(Venue::Sim, Symbol::new("BTCUSDT").unwrap())
        .unwrap();
    assert!(n > 100, "only {n} trades stored; {err}");
    if b.pg {
        assert!(!err.contains(support::pg::PASSWORD), "{err}");
    }
}
