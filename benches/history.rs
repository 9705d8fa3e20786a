#![allow(clippy::unwrap_used, clippy::expect_used)]
// SCRATCH experiment: strategies for the month-of-1m history query.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use rusqlite::{Connection, OpenFlags, params};
use tickwatch::domain::{Candle, Interval, Symbol, Venue, VenueSymbol};
use tickwatch::indicators::{IndicatorSet, IndicatorSpec};
use tickwatch::store::{self, ClosedCandle, StoreBatch};

const T0: i64 = 1_700_006_400_000; // a whole day
const DAY: i64 = 86_400_000;

fn fill(path: &Path) {
    let mut conn = store::open(path).unwrap();
    let specs = IndicatorSpec::default_set();
    for (sym, iv, n) in [
        ("BTCUSDT", Interval::M1, 30 * 1440),
        ("BTCUSDT", Interval::M5, 30 * 288),
        ("ETHUSDT", Interval::M1, 30 * 1440),
    ] {
        let key = VenueSymbol::new(Venue::Binance, Symbol::new(sym).unwrap());
        let mut set = IndicatorSet::new(&specs).unwrap();
        let cols = set.columns();
        let mut price = 30_000.0f64;
        let mut batch = Vec::new();
        for i in 0..n {
            let open = price;
            price *= 1.0 + ((i as f64 * 0.7).sin() * 0.001);
            let c = Candle {
                open_ms: T0 + i * iv.ms(),
                open,
                high: open.max(price) * 1.0005,
                low: open.min(price) * 0.9995,
                close: price,
                volume: 1.0 + (i % 17) as f64 * 0.37,
                trades: 10 + (i % 13) as u64,
            };
            let values = set.update(price);
            batch.push(ClosedCandle {
                key,
                interval: iv,
                candle: c,
                columns: Arc::clone(&cols),
                values,
            });
            if batch.len() == 2000 {
                store::write_batches(
                    &mut conn,
                    &[StoreBatch {
                        candles: std::mem::take(&mut batch),
                        ..StoreBatch::default()
                    }],
                )
                .unwrap();
            }
        }
        store::write_batches(
            &mut conn,
            &[StoreBatch {
                candles: batch,
                ..StoreBatch::default()
            }],
        )
        .unwrap();
    }
}

fn ro(path: &Path) -> Connection {
    let c = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .unwrap();
    c.set_prepared_statement_cache_capacity(32);
    c
}

fn time(name: &str, mut f: impl FnMut() -> usize) {
    let mut v = Vec::new();
    let mut n = 0;
    for _ in 0..15 {
        let t = Instant::now();
        n = f();
        v.push(t.elapsed().as_secs_f64() * 1e3);
    }
    v.sort_by(f64::total_cmp);
    println!("{name:40} median {:8.2} ms  min {:8.2}  (n={n})", v[v.len() / 2], v[0]);
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("h.db");
    let t = Instant::now();
    fill(&path);
    println!("fill {:?}", t.elapsed());
    let from = T0;
    let to = T0 + 30 * DAY;
    let bucket = 216 * 60_000;
    let cols: Vec<String> = IndicatorSpec::default_set()
        .iter()
        .flat_map(IndicatorSpec::columns)
        .collect();
    let cols: Arc<[String]> = cols.into();

    time("baseline (open + candles + bucketize)", || {
        let conn = store::open_readonly(&path).unwrap();
        let rows = store::queries::candles(
            &conn,
            Some(Venue::Binance),
            Symbol::new("BTCUSDT").unwrap(),
            Interval::M1,
            Some(from),
            Some(to - 1),
            None,
        )
        .unwrap();
        rows.len()
    });

    let key = VenueSymbol::new(Venue::Binance, Symbol::new("BTCUSDT").unwrap());
    let mut reader = tickwatch::history::HistoryReader::new(path.clone());
    let req = tickwatch::history::HistoryRequest {
        id: 1,
        key,
        interval: Interval::M1,
        from_ms: from,
        to_ms: to,
        bucket_ms: bucket,
        columns: cols.clone(),
    };
    time("reader month 200 buckets (default cache)", || reader.load(&req).unwrap().candles.len());
    let req5 = tickwatch::history::HistoryRequest {
        interval: Interval::M5,
        from_ms: to - 4 * 3_600_000,
        to_ms: to,
        bucket_ms: 300_000,
        ..req.clone()
    };
    time("reader 4h of 5m raw", || reader.load(&req5).unwrap().candles.len());
    let reqraw = tickwatch::history::HistoryRequest {
        bucket_ms: 60_000,
        ..req.clone()
    };
    time("reader month raw", || reader.load(&reqraw).unwrap().candles.len());
    for per in [2, 3, 4, 6, 8] {
        let r = tickwatch::history::HistoryRequest {
            bucket_ms: per * 60_000,
            ..req.clone()
        };
        time(&format!("reader month {per} per bucket"), || reader.load(&r).unwrap().candles.len());
    }
    let conn = ro(&path);
    if std::env::var("PRAGMAS").is_ok() {
        conn.execute_batch(&std::env::var("PRAGMAS").unwrap()).unwrap();
    }
    time("scan candles only (rust fold)", || {
        let mut st = conn
            .prepare_cached(
                "SELECT open_ms, open, high, low, close, volume, trades FROM candles
                 WHERE venue = ?1 AND symbol = ?2 AND interval = ?3 AND open_ms >= ?4 AND open_ms < ?5
                 ORDER BY open_ms",
            )
            .unwrap();
        let mut rows = st
            .query(params!["binance", "BTCUSDT", "1m", from, to])
            .unwrap();
        let mut n = 0;
        let mut acc = 0.0;
        while let Some(r) = rows.next().unwrap() {
            let o: i64 = r.get(0).unwrap();
            let a: f64 = r.get(1).unwrap();
            let b: f64 = r.get(2).unwrap();
            let c: f64 = r.get(3).unwrap();
            let d: f64 = r.get(4).unwrap();
            let e: f64 = r.get(5).unwrap();
            let f: i64 = r.get(6).unwrap();
            acc += a + b + c + d + e + f as f64 + o as f64;
            n += 1;
        }
        std::hint::black_box(acc);
        n
    });
    time("group by in SQL", || {
        let mut st = conn
            .prepare_cached(
                "SELECT open_ms - (open_ms % ?6) AS b, min(open_ms), max(open_ms), max(high), min(low), sum(volume), sum(trades), count(*) FROM candles
                 WHERE venue = ?1 AND symbol = ?2 AND interval = ?3 AND open_ms >= ?4 AND open_ms < ?5
                 GROUP BY b ORDER BY b",
            )
            .unwrap();
        let mut rows = st
            .query(params!["binance", "BTCUSDT", "1m", from, to, bucket])
            .unwrap();
        let mut n = 0;
        while let Some(r) = rows.next().unwrap() {
            let _: i64 = r.get(1).unwrap();
            n += 1;
        }
        n
    });
    time("per-bucket aggregate queries", || {
        let mut agg = conn
            .prepare_cached(
                "SELECT count(*), max(high), min(low), sum(volume), sum(trades),
                   (SELECT open FROM candles WHERE venue = ?1 AND symbol = ?2 AND interval = ?3 AND open_ms >= ?4 AND open_ms < ?5 ORDER BY open_ms LIMIT 1),
                   (SELECT close FROM candles WHERE venue = ?1 AND symbol = ?2 AND interval = ?3 AND open_ms >= ?4 AND open_ms < ?5 ORDER BY open_ms DESC LIMIT 1),
                   max(open_ms)
                 FROM candles
                 WHERE venue = ?1 AND symbol = ?2 AND interval = ?3 AND open_ms >= ?4 AND open_ms < ?5",
            )
            .unwrap();
        let mut n = 0;
        let mut b = from - from % bucket;
        while b < to {
            let (lo, hi) = (b.max(from), (b + bucket).min(to));
            let c: i64 = agg
                .query_row(params!["binance", "BTCUSDT", "1m", lo, hi], |r| r.get(0))
                .unwrap();
            n += c as usize;
            b += bucket;
        }
        n
    });
    for per in [216i64, 6, 3] {
        let bucket = per * 60_000;
        let mut ends = Vec::new();
        let mut b = from - from % bucket;
        while b < to {
            ends.push((b + bucket).min(to) - 60_000);
            b += bucket;
        }
        time(&format!("probe each, {} ends", ends.len()), || {
            let mut st = conn
                .prepare_cached(
                    "SELECT name, value FROM indicator_values
                     WHERE venue = ?1 AND symbol = ?2 AND interval = ?3 AND open_ms = ?4",
                )
                .unwrap();
            let mut n = 0;
            for &last in &ends {
                let mut rows = st.query(params!["binance", "BTCUSDT", "1m", last]).unwrap();
                while let Some(r) = rows.next().unwrap() {
                    let name = r.get_ref(0).unwrap().as_str().unwrap();
                    if cols.iter().any(|c| c == name) {
                        let _: f64 = r.get(1).unwrap();
                        n += 1;
                    }
                }
            }
            n
        });
        time(&format!("json_each, {} ends", ends.len()), || {
            let list = serde_json::to_string(&ends).unwrap();
            let mut st = conn
                .prepare_cached(
                    "SELECT open_ms, name, value FROM indicator_values
                     WHERE venue = ?1 AND symbol = ?2 AND interval = ?3
                       AND open_ms IN (SELECT value FROM json_each(?4))",
                )
                .unwrap();
            let mut n = 0;
            let mut rows = st.query(params!["binance", "BTCUSDT", "1m", list]).unwrap();
            while let Some(r) = rows.next().unwrap() {
                let o: i64 = r.get(0).unwrap();
                let name = r.get_ref(1).unwrap().as_str().unwrap();
                if cols.iter().any(|c| c == name) && ends.binary_search(&o).is_ok() {
                    let _: f64 = r.get(2).unwrap();
                    n += 1;
                }
            }
            n
        });
    }
    time("scan all indicator rows names (worst fallback)", || {
        let mut st = conn
            .prepare_cached(
                "SELECT open_ms, name, value FROM indicator_values
                 WHERE venue = ?1 AND symbol = ?2 AND interval = ?3 AND open_ms >= ?4 AND open_ms < ?5",
            )
            .unwrap();
        let mut n = 0;
        let mut rows = st.query(params!["binance", "BTCUSDT", "1m", from, to]).unwrap();
        while let Some(r) = rows.next().unwrap() {
            let name = r.get_ref(1).unwrap().as_str().unwrap();
            if name == "nope" {
                n += 1;
            }
            n += 1;
        }
        n
    });
    time("count name='nope' per range (C only)", || {
        let mut st = conn
            .prepare_cached(
                "SELECT count(*) FROM indicator_values
                 WHERE venue = ?1 AND symbol = ?2 AND interval = ?3 AND open_ms >= ?4 AND open_ms < ?5 AND name = ?6",
            )
            .unwrap();
        let n: i64 = st
            .query_row(params!["binance", "BTCUSDT", "1m", from, to, "nope"], |r| r.get(0))
            .unwrap();
        n as usize
    });
}
