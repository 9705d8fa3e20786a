#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Replay of Binance dumps through a real `ReplaySource::run` into an `EventSink` on a ring.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tickwatch::domain::{EventKind, Interval, MarketEvent, Side, Symbol, Venue};
use tickwatch::pipeline::{
    EventSink, HealthBoard, Ingest, Overflow, PipelineStats, SourceState, ring,
};
use tickwatch::sources::Source;
use tickwatch::sources::replay::{
    DumpKind, ReplayConfig, ReplayOverrides, ReplayReport, ReplaySource, Speed, detect,
};

const T0: i64 = 1_740_787_200_000; // 2025-03-01T00:00:00Z

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn write_zip(dir: &Path, name: &str, entry: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    let mut z = zip::ZipWriter::new(std::fs::File::create(&p).unwrap());
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    z.start_file(entry, opts).unwrap();
    z.write_all(text.as_bytes()).unwrap();
    z.finish().unwrap();
    p
}

fn cfg(files: Vec<PathBuf>) -> ReplayConfig {
    ReplayConfig {
        files,
        symbol: None,
        speed: Speed::Max,
        skip_bad: false,
    }
}

struct Outcome {
    result: anyhow::Result<()>,
    events: Vec<MarketEvent>,
    finished: bool,
    state: SourceState,
    report: Arc<ReplayReport>,
}

async fn run_source(src: ReplaySource) -> Outcome {
    let report = src.report();
    let (tx, rx) = ring(100_000);
    let health = HealthBoard::default();
    let sink = EventSink::new(
        "replay",
        tx,
        Overflow::Block,
        Arc::new(PipelineStats::default()),
        health.clone(),
    );
    assert_eq!(src.overflow(), Overflow::Block);
    assert_eq!(src.name(), "replay");
    let result = Box::new(src).run(sink).await;
    let mut events = Vec::new();
    let mut finished = false;
    while let Ok(msg) = rx.try_recv() {
        match msg {
            Ingest::Events(b) => {
                assert!(!finished, "events after Finished");
                assert!(b.len() <= 4096);
                events.extend(b);
            }
            Ingest::Finished(name) => {
                assert_eq!(name, "replay");
                finished = true;
            }
            Ingest::RemoteAlerts(a) => panic!("a replay sent remote alerts: {a:?}"),
            Ingest::Books(b) => panic!("a replay of dumps sent books: {b:?}"),
        }
    }
    for e in &events {
        assert_eq!(e.validate(), Ok(()), "{e:?}");
    }
    let state = health.snapshot()[0].state.clone();
    Outcome {
        result,
        events,
        finished,
        state,
        report,
    }
}

async fn run(c: ReplayConfig) -> Outcome {
    run_source(ReplaySource::new(c).unwrap()).await
}

fn trade(e: &MarketEvent) -> tickwatch::domain::TradeTick {
    match e.kind {
        EventKind::Trade(t) => t,
        other => panic!("not a trade: {other:?}"),
    }
}

fn candle(e: &MarketEvent) -> (Interval, tickwatch::domain::Candle) {
    match e.kind {
        EventKind::Candle {
            interval,
            candle,
            closed,
        } => {
            assert!(closed);
            (interval, candle)
        }
        other => panic!("not a candle: {other:?}"),
    }
}

/// `n` trades 250 ms apart; `us` writes microseconds; `cols` picks the layout.
fn trades_text(n: usize, us: bool, layout: &str) -> String {
    let mut s = String::new();
    match layout {
        "futures-trades" => s.push_str("id,price,qty,quote_qty,time,is_buyer_maker\n"),
        "futures-agg" => s.push_str(
            "agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker\n",
        ),
        _ => {}
    }
    for i in 0..n {
        let id = 1000 + i;
        let price = 84000.0 + i as f64 * 0.5;
        let qty = 0.001 * (i + 1) as f64;
        let ms = T0 + 250 * i as i64;
        let t = if us { ms * 1000 + 123 } else { ms };
        let bm = if i % 2 == 0 { "True" } else { "False" };
        let quote = price * qty;
        let row = match layout {
            "spot-trades" => format!("{id},{price},{qty},{quote},{t},{bm},True"),
            "futures-trades" => format!("{id},{price},{qty},{quote},{t},{}", bm.to_lowercase()),
            "spot-agg" => format!("{id},{price},{qty},{},{},{t},{bm},True", id * 3, id * 3 + 2),
            "futures-agg" => format!(
                "{id},{price},{qty},{},{},{t},{}",
                id * 3,
                id * 3 + 2,
                bm.to_lowercase()
            ),
            other => panic!("{other}"),
        };
        s.push_str(&row);
        s.push('\n');
    }
    s
}

const KLINE_HEADER: &str = "open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,taker_buy_quote_volume,ignore\n";

fn klines_text(n: usize, interval_ms: i64, us: bool, header: bool) -> String {
    let mut s = String::new();
    if header {
        s.push_str(KLINE_HEADER);
    }
    let k = if us { 1000 } else { 1 };
    for i in 0..n {
        let open = T0 + interval_ms * i as i64;
        let o = 100.0 + i as f64;
        s.push_str(&format!(
            "{},{o},{},{},{},{},{},{},{},1,1,0\n",
            open * k,
            o + 2.0,
            o - 1.0,
            o + 1.0,
            10.5 + i as f64,
            (open + interval_ms - 1) * k,
            1000.0,
            7 + i
        ));
    }
    s
}

#[tokio::test]
async fn every_trade_layout_replays() {
    let dir = tempfile::tempdir().unwrap();
    // (file name, layout, microseconds, zipped, venue, trade id of the first row)
    let cases = [
        (
            "BTCUSDT-trades-2024-03-01.csv",
            "spot-trades",
            false,
            false,
            Venue::Binance,
        ),
        (
            "BTCUSDT-trades-2025-03-01.zip",
            "spot-trades",
            true,
            true,
            Venue::Binance,
        ),
        (
            "BTCUSDT-trades-2025-03-02.csv",
            "futures-trades",
            false,
            false,
            Venue::BinanceFutures,
        ),
        (
            "BTCUSDT-trades-2025-03-03.zip",
            "futures-trades",
            true,
            true,
            Venue::BinanceFutures,
        ),
        (
            "BTCUSDT-aggTrades-2025-03-01.csv",
            "spot-agg",
            true,
            false,
            Venue::Binance,
        ),
        (
            "BTCUSDT-aggTrades-2024-03-01.zip",
            "spot-agg",
            false,
            true,
            Venue::Binance,
        ),
        (
            "BTCUSDT-aggTrades-2025-03-02.csv",
            "futures-agg",
            false,
            false,
            Venue::BinanceFutures,
        ),
        (
            "BTCUSDT-aggTrades-2025-03-03.zip",
            "futures-agg",
            false,
            true,
            Venue::BinanceFutures,
        ),
    ];
    for (name, layout, us, zipped, venue) in cases {
        let text = trades_text(9, us, layout);
        let path = if zipped {
            write_zip(dir.path(), name, &name.replace(".zip", ".csv"), &text)
        } else {
            write(dir.path(), name, &text)
        };
        let info = detect(&path).unwrap();
        assert_eq!(info.zipped, zipped, "{name}");
        assert_eq!(info.header, layout.starts_with("futures"), "{name}");
        let kind = if layout.ends_with("agg") {
            DumpKind::AggTrades
        } else {
            DumpKind::Trades
        };
        assert_eq!(info.kind, kind, "{name}");
        let out = run(cfg(vec![path])).await;
        out.result.unwrap();
        assert!(out.finished);
        assert_eq!(out.state, SourceState::Finished);
        assert_eq!(out.events.len(), 9, "{name}");
        assert_eq!(out.report.rows.load(Ordering::Relaxed), 9);
        assert_eq!(out.report.files_done.load(Ordering::Relaxed), 1);
        let (first, last) = (&out.events[0], &out.events[8]);
        assert_eq!(first.venue, venue, "{name}");
        assert_eq!(first.symbol.as_str(), "BTCUSDT");
        assert_eq!(first.exch_ms, T0, "{name}");
        assert_eq!(last.exch_ms, T0 + 8 * 250, "{name}");
        let (t0, t8) = (trade(first), trade(last));
        assert_eq!(
            (t0.trade_id, t0.price, t0.qty, t0.side),
            (1000, 84000.0, 0.001, Side::Sell),
            "{name}"
        );
        assert_eq!(
            (t8.trade_id, t8.price, t8.side),
            (1008, 84004.0, Side::Sell),
            "{name}"
        );
        assert_eq!(trade(&out.events[1]).side, Side::Buy, "{name}");
    }
}

#[tokio::test]
async fn every_kline_layout_replays() {
    let dir = tempfile::tempdir().unwrap();
    // (file name, interval, microseconds, header, zipped, venue)
    let cases = [
        (
            "BTCUSDT-1m-2024-03-01.csv",
            Interval::M1,
            false,
            false,
            false,
            Venue::Binance,
        ),
        (
            "BTCUSDT-1s-2025-03-01.zip",
            Interval::S1,
            true,
            false,
            true,
            Venue::Binance,
        ),
        (
            "BTCUSDT-5m-2025-03-01.csv",
            Interval::M5,
            false,
            true,
            false,
            Venue::BinanceFutures,
        ),
        (
            "BTCUSDT-4h-2025-03-01.zip",
            Interval::H4,
            false,
            true,
            true,
            Venue::BinanceFutures,
        ),
        (
            "ETHUSDT-1h-2025-03.csv",
            Interval::H1,
            true,
            false,
            false,
            Venue::Binance,
        ),
        (
            "ETHUSDT-15m-2025-03.csv",
            Interval::M15,
            false,
            false,
            false,
            Venue::Binance,
        ),
        (
            "ETHUSDT-1d-2025-03.csv",
            Interval::D1,
            false,
            true,
            false,
            Venue::BinanceFutures,
        ),
    ];
    for (name, iv, us, header, zipped, venue) in cases {
        let text = klines_text(6, iv.ms(), us, header);
        let path = if zipped {
            write_zip(dir.path(), name, &name.replace(".zip", ".csv"), &text)
        } else {
            write(dir.path(), name, &text)
        };
        let out = run(cfg(vec![path])).await;
        out.result.unwrap();
        assert_eq!(out.events.len(), 6, "{name}");
        let first = &out.events[0];
        assert_eq!(first.venue, venue, "{name}");
        assert_eq!(first.symbol.as_str(), &name[..7]);
        assert_eq!(first.exch_ms, T0);
        let (i0, c0) = candle(first);
        assert_eq!(i0, iv, "{name}");
        assert_eq!(
            (
                c0.open_ms, c0.open, c0.high, c0.low, c0.close, c0.volume, c0.trades
            ),
            (T0, 100.0, 102.0, 99.0, 101.0, 10.5, 7),
            "{name}"
        );
        let (_, c5) = candle(&out.events[5]);
        assert_eq!(out.events[5].exch_ms, T0 + 5 * iv.ms());
        assert_eq!(
            (c5.open_ms, c5.close, c5.trades),
            (T0 + 5 * iv.ms(), 106.0, 12)
        );
    }
}

#[tokio::test]
async fn symbol_flag_overrides_the_name_and_names_need_not_be_standard() {
    let dir = tempfile::tempdir().unwrap();
    let std_name = write(
        dir.path(),
        "BTCUSDT-trades-2025-03-01.csv",
        &trades_text(3, false, "spot-trades"),
    );
    let mut c = cfg(vec![std_name]);
    c.symbol = Some(Symbol::new("ethusdt").unwrap());
    let out = run(c).await;
    assert!(out.events.iter().all(|e| e.symbol.as_str() == "ETHUSDT"));

    // A non-standard name: the layout comes from the columns, the symbol must be given.
    let odd = write(
        dir.path(),
        "my-export.csv",
        &klines_text(3, 300_000, false, true),
    );
    let err = ReplaySource::new(cfg(vec![odd.clone()]))
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("my-export.csv") && err.contains("--symbol"),
        "{err}"
    );
    let mut c = cfg(vec![odd.clone()]);
    c.symbol = Some(Symbol::new("SOLUSDT").unwrap());
    let out = run(c).await;
    assert_eq!(out.events.len(), 3);
    assert_eq!(candle(&out.events[0]).0, Interval::M5);
    assert_eq!(out.events[0].venue, Venue::BinanceFutures);

    // --venue and --kind overrides.
    let mut c = cfg(vec![odd]);
    c.symbol = Some(Symbol::new("SOLUSDT").unwrap());
    let ov = ReplayOverrides {
        kind: Some(DumpKind::Klines(Interval::M5)),
        venue: Some(Venue::Binance),
    };
    let out = run_source(ReplaySource::with_overrides(c.clone(), ov).unwrap()).await;
    assert_eq!(out.events[0].venue, Venue::Binance);
    let ov = ReplayOverrides {
        kind: Some(DumpKind::Klines(Interval::M1)),
        venue: None,
    };
    let err = ReplaySource::with_overrides(c, ov).unwrap_err().to_string();
    assert!(
        err.contains("1m klines") && err.contains("5m long"),
        "{err}"
    );
}

#[tokio::test]
async fn files_merge_by_time_whatever_the_order_given() {
    let dir = tempfile::tempdir().unwrap();
    let a = write(
        dir.path(),
        "BTCUSDT-1m-2025-03-01.csv",
        &klines_text(3, 60_000, true, false),
    );
    let b = write(
        dir.path(),
        "ETHUSDT-1m-2025-03-01.csv",
        &klines_text(2, 60_000, true, false),
    );
    let out = run(cfg(vec![a, b])).await;
    out.result.unwrap();
    // same times: in the order given
    let syms: Vec<&str> = out.events.iter().map(|e| e.symbol.as_str()).collect();
    assert_eq!(
        syms,
        ["BTCUSDT", "ETHUSDT", "BTCUSDT", "ETHUSDT", "BTCUSDT"]
    );
    assert_eq!(out.report.files_done.load(Ordering::Relaxed), 2);

    // Two days of trades and a day of 1m klines, given newest first: one stream in time order,
    // each kline after the trades of its minute (it is complete when its minute ends).
    let day = 86_400_000;
    let shift = |text: String, by: i64| -> String {
        text.lines()
            .map(|l| {
                let f: Vec<&str> = l.split(',').collect();
                let t: i64 = f[4].parse().unwrap();
                let id: i64 = f[0].parse().unwrap();
                format!(
                    "{},{},{},{},{},{},{}\n",
                    id + 1_000_000 * (by / day),
                    f[1],
                    f[2],
                    f[3],
                    t + by,
                    f[5],
                    f[6]
                )
            })
            .collect()
    };
    let trades = trades_text(600, false, "spot-trades"); // 150 s
    let d1 = write(dir.path(), "SOLUSDT-trades-2025-03-01.csv", &trades);
    let d2 = write(
        dir.path(),
        "SOLUSDT-trades-2025-03-02.csv",
        &shift(trades.clone(), day),
    );
    let k1 = write(
        dir.path(),
        "SOLUSDT-1m-2025-03-01.csv",
        &klines_text(3, 60_000, false, false),
    );
    let out = run(cfg(vec![d2, k1, d1])).await;
    out.result.unwrap();
    assert_eq!(out.events.len(), 1203);
    let when = |e: &MarketEvent| match e.kind {
        EventKind::Candle {
            interval, candle, ..
        } => candle.open_ms + interval.ms() - 1,
        _ => e.exch_ms,
    };
    for w in out.events.windows(2) {
        assert!(when(&w[0]) <= when(&w[1]), "{:?} then {:?}", w[0], w[1]);
    }
    // the first kline (00:00-00:01) follows the 240 trades of that minute
    assert!(matches!(out.events[240].kind, EventKind::Candle { .. }));
    assert_eq!(out.events[240].exch_ms, T0);
    assert_eq!(out.events.last().unwrap().exch_ms, T0 + day + 599 * 250);
    assert_eq!(out.report.files_done.load(Ordering::Relaxed), 3);
}

#[test]
fn trades_and_agg_trades_of_one_symbol_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let t = write(
        dir.path(),
        "BTCUSDT-trades-2025-03-01.csv",
        &trades_text(3, false, "spot-trades"),
    );
    let a = write(
        dir.path(),
        "BTCUSDT-aggTrades-2025-03-01.csv",
        &trades_text(3, false, "spot-agg"),
    );
    let e = write(
        dir.path(),
        "ETHUSDT-aggTrades-2025-03-01.csv",
        &trades_text(3, false, "spot-agg"),
    );
    let err = format!(
        "{:#}",
        ReplaySource::new(cfg(vec![t.clone(), a])).unwrap_err()
    );
    assert!(
        err.contains("BTCUSDT-trades-2025-03-01.csv")
            && err.contains("BTCUSDT-aggTrades-2025-03-01.csv")
            && err.contains("one kind"),
        "{err}"
    );
    // another symbol's aggTrades are fine
    assert!(ReplaySource::new(cfg(vec![t, e])).is_ok());
}

#[tokio::test]
async fn repeated_trade_ids_and_klines_are_skipped_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let rows: Vec<String> = trades_text(6, false, "spot-trades")
        .lines()
        .map(String::from)
        .collect();
    // row 2 twice, and an overlapping second file holding rows 4..6 again
    let mut first = rows.clone();
    first.insert(2, rows[1].clone());
    let a = write(
        dir.path(),
        "BTCUSDT-trades-2025-03.csv",
        &(first.join("\n") + "\n"),
    );
    let b = write(
        dir.path(),
        "BTCUSDT-trades-2025-03-01.csv",
        &(rows[3..].join("\n") + "\n"),
    );
    let k = klines_text(3, 60_000, false, false);
    let k1 = write(dir.path(), "BTCUSDT-1m-2025-03.csv", &k);
    let k2 = write(dir.path(), "BTCUSDT-1m-2025-03-01.csv", &k);
    let out = run(cfg(vec![a, b, k1, k2])).await;
    out.result.unwrap();
    let ids: Vec<u64> = out
        .events
        .iter()
        .filter(|e| matches!(e.kind, EventKind::Trade(_)))
        .map(|e| trade(e).trade_id)
        .collect();
    assert_eq!(ids, [1000, 1001, 1002, 1003, 1004, 1005]);
    assert_eq!(out.events.len(), 9);
    assert_eq!(out.report.rows.load(Ordering::Relaxed), 9);
    assert_eq!(out.report.duplicates.load(Ordering::Relaxed), 1 + 3 + 3);
    assert!(
        out.report.summary().contains("7 duplicates skipped"),
        "{}",
        out.report.summary()
    );
}

#[tokio::test]
async fn an_over_long_line_is_a_bad_row_named_by_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = trades_text(2, false, "spot-trades");
    text.push_str(&"9".repeat(70 * 1024));
    text.push('\n');
    text.push_str(
        &trades_text(3, false, "spot-trades")
            .lines()
            .skip(2)
            .collect::<String>(),
    );
    let path = write(dir.path(), "BTCUSDT-trades-2025-03-01.csv", &text);
    let out = run(cfg(vec![path.clone()])).await;
    let err = format!("{:#}", out.result.unwrap_err());
    assert!(
        err.contains("BTCUSDT-trades-2025-03-01.csv:3:") && err.contains("longer than 64 KiB"),
        "{err}"
    );
    assert_eq!(out.events.len(), 2);

    let mut c = cfg(vec![path]);
    c.skip_bad = true;
    let out = run(c).await;
    out.result.unwrap();
    assert_eq!(out.events.len(), 3);
    assert_eq!(out.report.bad_rows.load(Ordering::Relaxed), 1);
    assert!(out.report.bad_samples()[0].contains(":3: the line is longer than 64 KiB"));

    // a file that is nothing but such a line is refused before anything runs
    let path = write(
        dir.path(),
        "BTCUSDT-trades-2025-03-02.csv",
        &"1".repeat(100 * 1024),
    );
    let err = format!("{:#}", ReplaySource::new(cfg(vec![path])).unwrap_err());
    assert!(
        err.contains("BTCUSDT-trades-2025-03-02.csv:1:") && err.contains("64 KiB"),
        "{err}"
    );
}

#[test]
fn bad_files_are_refused_before_anything_runs() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let good = write(
        d,
        "BTCUSDT-trades-2025-03-01.csv",
        &trades_text(2, false, "spot-trades"),
    );
    let cases: Vec<(PathBuf, Vec<&str>)> = vec![
        (
            d.join("BTCUSDT-trades-2025-03-09.csv"),
            vec!["BTCUSDT-trades-2025-03-09.csv", "cannot read"],
        ),
        (
            write(d, "BTCUSDT-trades-2025-03-02.csv", "1,2,3,4,5\n"),
            vec!["BTCUSDT-trades-2025-03-02.csv", "unknown layout", "--kind"],
        ),
        (
            write(d, "data.csv", "a;b;c\n"),
            vec![
                "data.csv",
                "unknown layout",
                "rename the file like BTCUSDT-trades-2025-03-01.csv",
            ],
        ),
        (
            write(
                d,
                "BTCUSDT-3m-2025-03-01.csv",
                &klines_text(2, 180_000, false, false),
            ),
            vec!["BTCUSDT-3m-2025-03-01.csv", "3m"],
        ),
        (
            write(
                d,
                "BTCUSDT-2h-2025-03.csv",
                &klines_text(2, 7_200_000, false, false),
            ),
            vec!["2h"],
        ),
        (
            write(d, "klines.csv", &klines_text(2, 604_800_000, false, false)),
            vec!["1w"],
        ),
        (
            write(
                d,
                "BTCUSDT-trades-2025-03-03.csv",
                &klines_text(2, 60_000, false, false),
            ),
            vec!["trades", "klines"],
        ),
        (
            write(d, "BTCUSDT-1m-2025-03-04.csv", ""),
            vec!["no data rows"],
        ),
        (
            write(d, "BTCUSDT-bookTicker-2025-03-01.csv", "1,2\n"),
            vec!["bookTicker"],
        ),
        (
            write(d, "BTCUSDT-trades-2025-03-05.zip", "PK\u{3}\u{4}garbage"),
            vec!["zip", "download it again"],
        ),
        (
            write_zip(d, "BTCUSDT-trades-2025-03-06.zip", "readme.txt", "hi"),
            vec!["no .csv", "readme.txt"],
        ),
        (d.to_path_buf(), vec!["directory"]),
    ];
    for (path, wants) in cases {
        let err = format!(
            "{:#}",
            ReplaySource::new(cfg(vec![good.clone(), path.clone()])).unwrap_err()
        );
        for want in wants {
            assert!(
                err.contains(want),
                "{}: want {want:?} in: {err}",
                path.display()
            );
        }
        let good_path = good.display().to_string();
        assert!(
            !err.contains(&good_path),
            "the good file is not blamed: {err}"
        );
    }
    assert!(ReplaySource::new(cfg(vec![])).is_err());
    let mut c = cfg(vec![good]);
    c.speed = Speed::Factor(0.0);
    assert!(ReplaySource::new(c).is_err());
}

#[tokio::test]
async fn a_bad_row_stops_with_file_and_line_after_delivering_what_came_before() {
    let dir = tempfile::tempdir().unwrap();
    let good_rows = trades_text(4, false, "spot-trades");
    let t5 = T0 + 5_000;
    // (bad row, what the message says). The bad row is line 5.
    let cases = [
        (format!("5,NaN,1,1,{t5},True,True"), "price NaN"),
        (format!("5,0,1,1,{t5},True,True"), "price 0"),
        (format!("5,-3.5,1,1,{t5},True,True"), "price -3.5"),
        (format!("5,100,0,1,{t5},True,True"), "quantity 0"),
        (format!("5,100,-1,1,{t5},True,True"), "quantity -1"),
        (format!("5,100,nan,1,{t5},True,True"), "quantity NaN"),
        (
            "5,100,1,1,1740787205,True,True".to_string(),
            "outside 2009-01-01..2100-01-01",
        ),
        (
            "5,100,1,1,99999999999999999,True,True".to_string(),
            "outside",
        ),
        (format!("5,100,1,1,{},True,True", T0 - 1), "time order"),
        ("hello world, this is not a trade".to_string(), "columns"),
        (format!("5,100,1,1,{t5},maybe,True"), "is_buyer_maker"),
        (format!("5,1e,1,1,{t5},True,True"), "not a number"),
    ];
    for (i, (bad, want)) in cases.iter().enumerate() {
        let name = format!("BTCUSDT-trades-2025-04-{:02}.csv", i + 1);
        let text = format!(
            "{good_rows}{bad}\n{}",
            trades_text(1, false, "spot-trades")
                .replace("1000,", "6,")
                .replace(&T0.to_string(), &(T0 + 9_000).to_string())
        );
        let path = write(dir.path(), &name, &text);
        let out = run(cfg(vec![path])).await;
        let err = format!("{:#}", out.result.unwrap_err());
        assert!(err.contains(&format!("{name}:5:")), "{err}");
        assert!(err.contains(want), "{want}: {err}");
        assert!(err.contains("--skip-bad"), "{err}");
        assert_eq!(out.events.len(), 4, "{err}");
        assert!(out.finished, "sink.finish() is called on failure");
        assert!(
            matches!(&out.state, SourceState::Failed(r) if r.contains(&format!("{name}:5:"))),
            "{:?}",
            out.state
        );
    }
}

#[tokio::test]
async fn bad_rows_in_klines_and_zips_name_the_entry_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let mut text = klines_text(3, 60_000, false, true);
    // high below low
    text.push_str(&format!(
        "{},100,90,95,96,1,{},1,1,1,1,0\n",
        T0 + 180_000,
        T0 + 239_999
    ));
    let path = write_zip(
        dir.path(),
        "BTCUSDT-1m-2025-03-01.zip",
        "BTCUSDT-1m-2025-03-01.csv",
        &text,
    );
    let out = run(cfg(vec![path])).await;
    let err = format!("{:#}", out.result.unwrap_err());
    assert!(
        err.contains("BTCUSDT-1m-2025-03-01.zip") && err.contains("BTCUSDT-1m-2025-03-01.csv:5:"),
        "{err}"
    );
    assert!(err.contains("inconsistent candle"), "{err}");
    assert_eq!(out.events.len(), 3);

    // A repeated candle is out of order.
    let mut text = klines_text(2, 60_000, false, false);
    text.push_str(klines_text(1, 60_000, false, false).trim_end());
    let path = write(dir.path(), "BTCUSDT-1m-2025-03-02.csv", &text);
    let err = format!("{:#}", run(cfg(vec![path])).await.result.unwrap_err());
    assert!(
        err.contains("BTCUSDT-1m-2025-03-02.csv:3:") && err.contains("time order"),
        "{err}"
    );
}

#[tokio::test]
async fn skip_bad_counts_and_continues() {
    let dir = tempfile::tempdir().unwrap();
    let mut rows: Vec<String> = trades_text(8, true, "spot-trades")
        .lines()
        .map(String::from)
        .collect();
    rows.insert(2, "3,NaN,1,1,1740787200500000,True,True".into()); // line 3
    rows.insert(5, "garbage".into()); // line 6
    rows.insert(7, "".into()); // blank lines are not rows
    rows.insert(8, format!("9,100,1,1,{},True,True", T0 - 60_000)); // line 9, out of order
    let path = write(
        dir.path(),
        "BTCUSDT-trades-2025-03-01.csv",
        &(rows.join("\r\n") + "\r\n"),
    );
    let mut c = cfg(vec![path]);
    c.skip_bad = true;
    let out = run(c).await;
    out.result.unwrap();
    assert_eq!(out.state, SourceState::Finished);
    assert_eq!(out.events.len(), 8);
    assert_eq!(out.report.rows.load(Ordering::Relaxed), 8);
    assert_eq!(out.report.bad_rows.load(Ordering::Relaxed), 3);
    let samples = out.report.bad_samples();
    assert_eq!(samples.len(), 3);
    for (s, line) in samples.iter().zip([3, 6, 9]) {
        assert!(
            s.contains(&format!("BTCUSDT-trades-2025-03-01.csv:{line}:")),
            "{s}"
        );
    }
    assert!(out.report.summary().contains("skipped 3 bad row(s)"));
}

#[test]
fn speeds_parse() {
    assert_eq!("1".parse::<Speed>(), Ok(Speed::RealTime));
    assert_eq!("1x".parse::<Speed>(), Ok(Speed::RealTime));
    assert_eq!("10x".parse::<Speed>(), Ok(Speed::Factor(10.0)));
    assert_eq!("100x".parse::<Speed>(), Ok(Speed::Factor(100.0)));
    assert_eq!("100".parse::<Speed>(), Ok(Speed::Factor(100.0)));
    assert_eq!("max".parse::<Speed>(), Ok(Speed::Max));
    for bad in ["fast", "0x", "-10x", ""] {
        assert!(
            bad.parse::<Speed>().unwrap_err().contains("invalid speed"),
            "{bad}"
        );
    }
}

/// Runs a paced replay with a consumer that notes when (on tokio's clock) each batch arrives.
async fn paced(path: PathBuf, speed: Speed) -> (Duration, Vec<(Duration, usize)>) {
    let mut c = cfg(vec![path]);
    c.speed = speed;
    let src = ReplaySource::new(c).unwrap();
    let (tx, rx) = ring(4);
    let sink = EventSink::new(
        "replay",
        tx,
        Overflow::Block,
        Arc::new(PipelineStats::default()),
        HealthBoard::default(),
    );
    let start = tokio::time::Instant::now();
    let consumer = tokio::spawn(async move {
        let mut seen = Vec::new();
        while let Ok(Ingest::Events(b)) = rx.recv_async().await {
            seen.push((start.elapsed(), b.len()));
        }
        seen
    });
    Box::new(src).run(sink).await.unwrap();
    let took = start.elapsed();
    (took, consumer.await.unwrap())
}

#[tokio::test(start_paused = true)]
async fn ten_x_replays_rows_a_second_apart_every_tenth_of_a_second() {
    let dir = tempfile::tempdir().unwrap();
    let path = write(
        dir.path(),
        "BTCUSDT-1s-2025-03-01.csv",
        &klines_text(6, 1_000, true, false),
    );
    let (took, seen) = paced(path.clone(), Speed::Factor(10.0)).await;
    assert_eq!(seen.len(), 6, "{seen:?}");
    for (i, (at, n)) in seen.iter().enumerate() {
        assert_eq!(*n, 1);
        let want = Duration::from_millis(100 * i as u64);
        assert!(
            at.abs_diff(want) < Duration::from_millis(5),
            "row {i} at {at:?}, want {want:?}"
        );
    }
    assert!(
        took.abs_diff(Duration::from_millis(500)) < Duration::from_millis(5),
        "{took:?}"
    );

    let (took, _) = paced(path.clone(), Speed::RealTime).await;
    assert!(
        took.abs_diff(Duration::from_secs(5)) < Duration::from_millis(5),
        "{took:?}"
    );
    let (took, seen) = paced(path, Speed::Max).await;
    assert_eq!(took, Duration::ZERO);
    assert_eq!(seen.iter().map(|s| s.1).sum::<usize>(), 6);
}

#[tokio::test(start_paused = true)]
async fn dense_rows_are_sent_in_groups_not_one_sleep_per_row() {
    let dir = tempfile::tempdir().unwrap();
    // 2,000 trades 1 ms apart: two seconds at real time.
    let mut text = String::new();
    for i in 0..2000i64 {
        text.push_str(&format!("{i},100,1,100,{},True,True\n", T0 + i));
    }
    let path = write(dir.path(), "BTCUSDT-trades-2025-03-01.csv", &text);
    let (took, seen) = paced(path, Speed::RealTime).await;
    assert!(
        took.abs_diff(Duration::from_millis(1999)) < Duration::from_millis(15),
        "{took:?}"
    );
    assert_eq!(seen.iter().map(|s| s.1).sum::<usize>(), 2000);
    assert!(seen.len() <= 250, "{} sends for 2000 rows", seen.len());
}

/// The real dumps in ../shared/fixtures/binance_csv: every row parses and the first and last
/// candles equal the file's text.
#[tokio::test]
async fn real_binance_dumps_replay_exactly() {
    let Some(fixtures) = tickwatch::testdata::fixtures() else {
        return;
    };
    let dir = fixtures.join("binance_csv");
    let cases = [
        (
            "ADABTC-1m-2021-11-27.first10rows.csv",
            "ADABTC",
            Venue::Binance,
        ),
        (
            "ADABTC-1m-2021-11-28.first10rows.csv",
            "ADABTC",
            Venue::Binance,
        ),
        (
            "LINKUSDT-1m-2023-02-01.usdm-futures.csv",
            "LINKUSDT",
            Venue::BinanceFutures,
        ),
    ];
    for (name, sym, venue) in cases {
        let path = dir.join(name);
        let text = std::fs::read_to_string(&path).unwrap();
        let rows: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with(|c: char| c.is_ascii_digit()))
            .collect();
        let info = detect(&path).unwrap();
        assert_eq!(info.kind, DumpKind::Klines(Interval::M1));
        let out = run(cfg(vec![path])).await;
        out.result.unwrap();
        assert_eq!(out.events.len(), rows.len(), "{name}");
        assert_eq!(out.report.bad_rows.load(Ordering::Relaxed), 0);
        for (ev, row) in [
            (&out.events[0], rows[0]),
            (out.events.last().unwrap(), rows[rows.len() - 1]),
        ] {
            assert_eq!(ev.symbol.as_str(), sym);
            assert_eq!(ev.venue, venue);
            let f: Vec<&str> = row.split(',').collect();
            let (iv, c) = candle(ev);
            assert_eq!(iv, Interval::M1);
            assert_eq!(ev.exch_ms.to_string(), f[0]);
            assert_eq!(c.open_ms.to_string(), f[0]);
            let num = |s: &str| s.parse::<f64>().unwrap();
            assert_eq!(
                (
                    c.open,
                    c.high,
                    c.low,
                    c.close,
                    c.volume,
                    c.trades.to_string()
                ),
                (
                    num(f[1]),
                    num(f[2]),
                    num(f[3]),
                    num(f[4]),
                    num(f[5]),
                    f[8].to_string()
                ),
                "{name}: {row}"
            );
        }
    }
}
