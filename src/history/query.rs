//! The SQL behind one history request, on one read snapshot: a primary-key range scan of the
//! candles folded into buckets as the rows stream in, then the indicator values each bucket
//! shows. A bucket shows its last member's values, so with many candles per bucket only the
//! bucket ends are probed (~200 probes for a chart instead of ~430,000 value rows for a month of
//! 1m candles); with few per bucket one range scan of the values is cheaper.

use rusqlite::{Connection, params};

use super::bucket::bucket_start;
use super::{HistoryRequest, HistorySlice, StoredClose};
use crate::domain::{Candle, Interval, TsMs, VenueSymbol};
use crate::view::ChartCandle;

/// Oldest stored candle of a series: one seek on the primary key.
const FIRST_OPEN: &str = "SELECT open_ms FROM candles
    WHERE venue = ?1 AND symbol = ?2 AND interval = ?3
    ORDER BY open_ms LIMIT 1";

/// Newest stored candle of a series: one seek on the primary key.
const LAST_OPEN: &str = "SELECT open_ms FROM candles
    WHERE venue = ?1 AND symbol = ?2 AND interval = ?3
    ORDER BY open_ms DESC LIMIT 1";

/// Newest stored candle of a series with its close.
const LAST_CLOSE: &str = "SELECT open_ms, close FROM candles
    WHERE venue = ?1 AND symbol = ?2 AND interval = ?3
    ORDER BY open_ms DESC LIMIT 1";

/// A primary-key range, already in `open_ms` order.
const CANDLE_RANGE: &str = "SELECT open_ms, open, high, low, close, volume, trades FROM candles
    WHERE venue = ?1 AND symbol = ?2 AND interval = ?3 AND open_ms >= ?4 AND open_ms < ?5
    ORDER BY open_ms";

/// The values of the candles whose `open_ms` are in the JSON array `?4` (one bound parameter):
/// one primary-key seek per candle, then its ~10 rows, in one statement.
const VALUES_AT: &str = "SELECT open_ms, name, value FROM indicator_values
    WHERE venue = ?1 AND symbol = ?2 AND interval = ?3
      AND open_ms IN (SELECT value FROM json_each(?4))";

/// Every value of a range, in primary-key order.
const VALUES_RANGE: &str = "SELECT open_ms, name, value FROM indicator_values
    WHERE venue = ?1 AND symbol = ?2 AND interval = ?3 AND open_ms >= ?4 AND open_ms < ?5
    ORDER BY open_ms";

/// The values of some columns (names in the JSON array `?6`) in a range, newest first: the
/// primary key narrows to the range, the names are filtered inside SQLite.
const LATEST_VALUES: &str = "SELECT name, value FROM indicator_values
    WHERE venue = ?1 AND symbol = ?2 AND interval = ?3 AND open_ms >= ?4 AND open_ms < ?5
      AND name IN (SELECT value FROM json_each(?6))
    ORDER BY open_ms DESC";

/// Below this many candles per bucket, one scan of every value in the range beats probing the
/// bucket ends: a probe costs ~2.6 µs, scanning one candle's ~10 values ~1.1 µs (a month of 1m
/// candles with the default indicators; 3 per bucket: 51 ms probing against 85 ms scanning).
const PROBE_FROM_CANDLES_PER_BUCKET: usize = 3;

/// One series: the primary-key prefix of `candles` and `indicator_values`.
#[derive(Clone, Copy)]
struct Series<'a> {
    venue: &'a str,
    symbol: &'a str,
    interval: &'a str,
}

/// A bucket being built, with where its members begin and end.
pub(super) struct Bucket {
    pub out: ChartCandle,
    pub first_ms: TsMs,
    pub last_ms: TsMs,
    pub members: usize,
}

/// Folds one stored candle (in `open_ms` order) into `buckets` as [`super::bucketize`] does.
pub(super) fn fold_candle(buckets: &mut Vec<Bucket>, c: Candle, req: &HistoryRequest) {
    let start = bucket_start(c.open_ms, req.bucket_ms);
    match buckets.last_mut() {
        Some(b) if b.out.candle.open_ms == start => {
            b.out.candle.merge(&c);
            b.last_ms = c.open_ms;
            b.members += 1;
        }
        _ => buckets.push(Bucket {
            out: ChartCandle {
                candle: Candle {
                    open_ms: start,
                    ..c
                },
                values: vec![None; req.columns.len()].into_boxed_slice(),
                closed: true,
            },
            first_ms: c.open_ms,
            last_ms: c.open_ms,
            members: 1,
        }),
    }
}

/// Below this many candles per bucket, read every value of the range; from it, only the
/// bucket ends (shared with the PostgreSQL reader).
pub(super) fn probe_bucket_ends(source_candles: usize, buckets: usize) -> bool {
    buckets > 0 && source_candles / buckets >= PROBE_FROM_CANDLES_PER_BUCKET
}

/// Answers `req` from `conn` (the caller holds the read transaction).
pub(super) fn read_slice(
    conn: &Connection,
    req: &HistoryRequest,
) -> rusqlite::Result<HistorySlice> {
    let s = Series {
        venue: req.key.venue.as_str(),
        symbol: req.key.symbol.as_str(),
        interval: req.interval.as_str(),
    };
    let first_stored_ms = open_ms_at(conn, s, FIRST_OPEN)?;
    let last_stored_ms = match first_stored_ms {
        Some(_) => open_ms_at(conn, s, LAST_OPEN)?,
        None => None,
    };
    if first_stored_ms.is_none() || req.to_ms <= req.from_ms {
        return Ok(HistorySlice {
            first_stored_ms,
            last_stored_ms,
            ..HistorySlice::default()
        });
    }
    let (mut buckets, source_candles) = scan_buckets(conn, s, req)?;
    if !req.columns.is_empty() && !buckets.is_empty() {
        if source_candles / buckets.len() >= PROBE_FROM_CANDLES_PER_BUCKET {
            values_at_bucket_ends(conn, s, req, &mut buckets)?;
        } else {
            values_from_range(conn, s, req, &mut buckets)?;
        }
    }
    Ok(HistorySlice {
        candles: buckets.into_iter().map(|b| b.out).collect(),
        source_candles,
        first_stored_ms,
        last_stored_ms,
    })
}

/// The newest stored close of each of `keys`: of every interval's newest candle, the one that
/// ends last (one primary-key seek per interval).
pub(super) fn read_last_closes(
    conn: &Connection,
    keys: &[VenueSymbol],
) -> rusqlite::Result<Vec<StoredClose>> {
    let mut stmt = conn.prepare_cached(LAST_CLOSE)?;
    let mut out = Vec::new();
    for key in keys {
        let mut best: Option<StoredClose> = None;
        for interval in Interval::ALL {
            let mut rows = stmt.query(params![
                key.venue.as_str(),
                key.symbol.as_str(),
                interval.as_str()
            ])?;
            if let Some(r) = rows.next()? {
                best = later_close(best, *key, interval, r.get(0)?, r.get(1)?);
            }
        }
        out.extend(best);
    }
    Ok(out)
}

/// Of `best` and the newest candle of `interval` (opened at `open_ms`, closed at `close`), the
/// one that ends last: a key's stored last price (shared with the PostgreSQL reader).
pub(super) fn later_close(
    best: Option<StoredClose>,
    key: VenueSymbol,
    interval: Interval,
    open_ms: TsMs,
    close: f64,
) -> Option<StoredClose> {
    let end_ms = open_ms.saturating_add(interval.ms());
    if close.is_finite() && best.is_none_or(|b| end_ms > b.end_ms) {
        Some(StoredClose { key, close, end_ms })
    } else {
        best
    }
}

/// The `open_ms` of the series' candle that `sql` ([`FIRST_OPEN`] or [`LAST_OPEN`]) seeks.
fn open_ms_at(conn: &Connection, s: Series, sql: &str) -> rusqlite::Result<Option<TsMs>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let mut rows = stmt.query(params![s.venue, s.symbol, s.interval])?;
    rows.next()?.map(|r| r.get(0)).transpose()
}

/// The candles of the range folded into buckets exactly as [`super::bucketize`] folds them
/// (`Candle::merge`, in order), without materialising them first.
fn scan_buckets(
    conn: &Connection,
    s: Series,
    req: &HistoryRequest,
) -> rusqlite::Result<(Vec<Bucket>, usize)> {
    let mut stmt = conn.prepare_cached(CANDLE_RANGE)?;
    let mut rows = stmt.query(params![
        s.venue,
        s.symbol,
        s.interval,
        req.from_ms,
        req.to_ms
    ])?;
    let mut buckets: Vec<Bucket> = Vec::new();
    let mut n = 0;
    while let Some(r) = rows.next()? {
        let c = Candle {
            open_ms: r.get(0)?,
            open: r.get(1)?,
            high: r.get(2)?,
            low: r.get(3)?,
            close: r.get(4)?,
            volume: r.get(5)?,
            trades: u64::try_from(r.get::<_, i64>(6)?).unwrap_or(0),
        };
        n += 1;
        fold_candle(&mut buckets, c, req);
    }
    Ok((buckets, n))
}

/// Position of a stored value's name among the requested columns (a dozen at most: a linear
/// search beats hashing).
pub(super) fn column_of(columns: &[String], name: &str) -> Option<usize> {
    columns.iter().position(|c| c == name)
}

/// Each bucket's values from its last member, then, for a column that member lacks (an
/// indicator warming up, a non-finite value that was not stored), the latest earlier value in
/// the bucket: what [`super::bucketize`] keeps.
fn values_at_bucket_ends(
    conn: &Connection,
    s: Series,
    req: &HistoryRequest,
    buckets: &mut [Bucket],
) -> rusqlite::Result<()> {
    let cols = &req.columns;
    {
        let ends = json_array(buckets.iter().map(|b| b.last_ms));
        let mut at = conn.prepare_cached(VALUES_AT)?;
        let mut rows = at.query(params![s.venue, s.symbol, s.interval, ends])?;
        while let Some(r) = rows.next()? {
            let open_ms: TsMs = r.get(0)?;
            let Some(i) = column_of(cols, r.get_ref(1)?.as_str()?) else {
                continue;
            };
            if let Some(b) = bucket_ending_at(buckets, open_ms) {
                b.out.values[i] = Some(r.get(2)?);
            }
        }
    }
    // A bucket whose last member lacks a column (an indicator warming up, a value that was not
    // finite and so not stored, an indicator added after this history was written) shows the
    // latest earlier value in the bucket: one scan of that bucket's values, newest first,
    // stopping once every missing column is found.
    let mut latest = conn.prepare_cached(LATEST_VALUES)?;
    let mut missing: Vec<usize> = Vec::new();
    for b in buckets.iter_mut().filter(|b| b.members > 1) {
        missing.clear();
        missing.extend((0..cols.len()).filter(|&i| b.out.values[i].is_none()));
        if missing.is_empty() {
            continue;
        }
        let names = json_strings(missing.iter().map(|&i| cols[i].as_str()));
        let mut rows = latest.query(params![
            s.venue, s.symbol, s.interval, b.first_ms, b.last_ms, names
        ])?;
        while let Some(r) = rows.next()? {
            let Some(i) = column_of(cols, r.get_ref(0)?.as_str()?) else {
                continue;
            };
            if b.out.values[i].is_none() {
                b.out.values[i] = Some(r.get(1)?);
                missing.retain(|&m| m != i);
                if missing.is_empty() {
                    break;
                }
            }
        }
    }
    Ok(())
}

/// `[1,2,3]`, bound as one parameter (integers need no escaping).
fn json_array(values: impl Iterator<Item = TsMs>) -> String {
    use std::fmt::Write;
    let mut out = String::from("[");
    for (i, v) in values.enumerate() {
        if i > 0 {
            out.push(',');
        }
        let _ = write!(out, "{v}");
    }
    out.push(']');
    out
}

/// `["a","b"]`, bound as one parameter; serde_json escapes the names.
fn json_strings<'a>(names: impl Iterator<Item = &'a str>) -> String {
    serde_json::to_string(&names.collect::<Vec<_>>()).unwrap_or_else(|_| "[]".to_string())
}

/// Every value of the range in one scan, the later member's overriding the earlier's.
fn values_from_range(
    conn: &Connection,
    s: Series,
    req: &HistoryRequest,
    buckets: &mut [Bucket],
) -> rusqlite::Result<()> {
    let cols = &req.columns;
    let mut stmt = conn.prepare_cached(VALUES_RANGE)?;
    let mut rows = stmt.query(params![
        s.venue,
        s.symbol,
        s.interval,
        req.from_ms,
        req.to_ms
    ])?;
    let mut k = 0;
    while let Some(r) = rows.next()? {
        let Some(b) = bucket_at(buckets, &mut k, r.get(0)?) else {
            continue;
        };
        if let Some(i) = column_of(cols, r.get_ref(1)?.as_str()?) {
            b.out.values[i] = Some(r.get(2)?);
        }
    }
    Ok(())
}

/// The bucket whose last member opened at `open_ms` (bucket ends ascend: a binary search).
pub(super) fn bucket_ending_at(buckets: &mut [Bucket], open_ms: TsMs) -> Option<&mut Bucket> {
    let k = buckets.binary_search_by_key(&open_ms, |b| b.last_ms).ok()?;
    buckets.get_mut(k)
}

/// In a scan of values in `open_ms` order, the bucket whose members include `open_ms`, moving
/// `k` on as the scan passes bucket ends; None for a value outside every bucket's members.
pub(super) fn bucket_at<'a>(
    buckets: &'a mut [Bucket],
    k: &mut usize,
    open_ms: TsMs,
) -> Option<&'a mut Bucket> {
    while buckets.get(*k).is_some_and(|b| b.last_ms < open_ms) {
        *k += 1;
    }
    buckets.get_mut(*k).filter(|b| open_ms >= b.first_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every statement is a primary-key search: no table scan, no sort.
    #[test]
    fn every_query_is_a_primary_key_search() {
        let conn = Connection::open_in_memory().unwrap();
        for script in crate::store::MIGRATIONS {
            conn.execute_batch(script).unwrap();
        }
        for sql in [
            FIRST_OPEN,
            CANDLE_RANGE,
            VALUES_AT,
            VALUES_RANGE,
            LATEST_VALUES,
        ] {
            let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
            let n = stmt.parameter_count();
            let args: Vec<i64> = vec![1; n];
            let plan: Vec<String> = stmt
                .query_map(rusqlite::params_from_iter(args), |r| r.get(3))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            let table = plan
                .iter()
                .find(|p| !p.contains("json_each") && !p.contains("LIST SUBQUERY"));
            assert!(
                table.is_some_and(|p| p.starts_with("SEARCH") && p.contains("PRIMARY KEY")),
                "{sql}: {plan:?}"
            );
            assert!(
                !plan.iter().any(|p| p.contains("TEMP B-TREE")),
                "{sql}: {plan:?}"
            );
        }
    }

    #[test]
    fn json_parameters() {
        assert_eq!(json_array([1, -2, 30].into_iter()), "[1,-2,30]");
        assert_eq!(json_array(std::iter::empty()), "[]");
        assert_eq!(json_strings(["a", "b\"c"].into_iter()), r#"["a","b\"c"]"#);
    }
}
