//! Read queries (history backfill, export, list). Bound parameters only.

use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;

use rusqlite::types::Type;
use rusqlite::{Connection, Row, params};

use crate::domain::{AlertRecord, RuleRecord};
use crate::domain::{Candle, Interval, Symbol, TsMs, Venue, VenueSymbol};
use crate::store::StoreError;

/// A stored candle with the indicator values stored for it (by name).
#[derive(Debug, Clone, PartialEq)]
pub struct CandleWithIndicators {
    pub candle: Candle,
    pub values: BTreeMap<String, f64>,
}

/// Candles of `symbol` at `interval` (of one venue, or of all venues that have it) with
/// `from_ms <= open_ms <= to_ms`, ascending by `open_ms` (then venue). With `limit`, the latest
/// `limit` candles of that range are returned, still ascending: what a chart needs to extend
/// its history back from `to_ms`.
pub fn candles(
    conn: &Connection,
    venue: Option<Venue>,
    symbol: Symbol,
    interval: Interval,
    from_ms: Option<TsMs>,
    to_ms: Option<TsMs>,
    limit: Option<usize>,
) -> Result<Vec<(Venue, CandleWithIndicators)>, StoreError> {
    let err = |e| StoreError::query("reading candles", e);
    let venue_s = venue.map(Venue::as_str);
    let from = from_ms.unwrap_or(i64::MIN);
    let to = to_ms.unwrap_or(i64::MAX);
    let limit = limit.map_or(-1, |l| i64::try_from(l).unwrap_or(i64::MAX));
    // `?1 IS NULL OR venue = ?1` keeps one statement for both cases; SQLite still uses the
    // primary key when a venue is given and the symbol index otherwise.
    let mut stmt = conn
        .prepare_cached(
            "SELECT venue, open_ms, open, high, low, close, volume, trades FROM candles
             WHERE (?1 IS NULL OR venue = ?1) AND symbol = ?2 AND interval = ?3
               AND open_ms BETWEEN ?4 AND ?5
             ORDER BY open_ms DESC, venue DESC LIMIT ?6",
        )
        .map_err(err)?;
    let mut out = stmt
        .query_map(
            params![venue_s, symbol.as_str(), interval.as_str(), from, to, limit],
            |r| {
                Ok((
                    venue_col(r, 0)?,
                    CandleWithIndicators {
                        candle: Candle {
                            open_ms: r.get(1)?,
                            open: r.get(2)?,
                            high: r.get(3)?,
                            low: r.get(4)?,
                            close: r.get(5)?,
                            volume: r.get(6)?,
                            trades: u64::try_from(r.get::<_, i64>(7)?).unwrap_or(0),
                        },
                        values: BTreeMap::new(),
                    },
                ))
            },
        )
        .map_err(err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(err)?;
    out.reverse();
    let mut values = conn
        .prepare_cached(
            "SELECT open_ms, name, value FROM indicator_values
             WHERE venue = ?1 AND symbol = ?2 AND interval = ?3 AND open_ms BETWEEN ?4 AND ?5",
        )
        .map_err(err)?;
    attach_values(&mut out, |v, lo, hi| {
        values
            .query_map(
                params![v.as_str(), symbol.as_str(), interval.as_str(), lo, hi],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .and_then(|rows| rows.collect::<Result<Vec<_>, _>>())
            .map_err(err)
    })?;
    Ok(out)
}

/// Attaches the stored indicator values to `out` (candles of one symbol and interval,
/// ascending): one range read per venue present (at most a handful), not one per candle.
/// `values(venue, lo, hi)` gives the (open_ms, name, value) rows of that venue's range; shared
/// by the SQLite and PostgreSQL readers.
pub fn attach_values<E>(
    out: &mut [(Venue, CandleWithIndicators)],
    mut values: impl FnMut(Venue, TsMs, TsMs) -> Result<Vec<(TsMs, String, f64)>, E>,
) -> Result<(), E> {
    let (Some(first), Some(last)) = (out.first(), out.last()) else {
        return Ok(());
    };
    let (lo, hi) = (first.1.candle.open_ms, last.1.candle.open_ms);
    let index: HashMap<(Venue, TsMs), usize> = out
        .iter()
        .enumerate()
        .map(|(i, (v, c))| ((*v, c.candle.open_ms), i))
        .collect();
    let mut venues: Vec<Venue> = out.iter().map(|(v, _)| *v).collect();
    venues.sort();
    venues.dedup();
    for v in venues {
        for (open_ms, name, value) in values(v, lo, hi)? {
            if let Some(&i) = index.get(&(v, open_ms)) {
                out[i].1.values.insert(name, value);
            }
        }
    }
    Ok(())
}

/// Venues that hold candles or trades of `symbol`: for "BTCUSDT exists at binance and
/// coinbase: pass --venue".
pub fn venues_for(conn: &Connection, symbol: Symbol) -> Result<Vec<Venue>, StoreError> {
    let err = |e| StoreError::query("looking up venues", e);
    // One primary-key probe per venue and table, instead of a scan of all trades.
    let mut found = Vec::new();
    for venue in Venue::ALL {
        let mut any = false;
        for sql in [
            "SELECT EXISTS (SELECT 1 FROM candles WHERE venue = ?1 AND symbol = ?2)",
            "SELECT EXISTS (SELECT 1 FROM trades WHERE venue = ?1 AND symbol = ?2)",
        ] {
            let exists: bool = conn
                .prepare_cached(sql)
                .and_then(|mut s| {
                    s.query_row(params![venue.as_str(), symbol.as_str()], |r| r.get(0))
                })
                .map_err(err)?;
            if exists {
                any = true;
                break;
            }
        }
        if any {
            found.push(venue);
        }
    }
    Ok(found)
}

/// Every (venue, symbol) in the database with its number of candles (0 when only trades are
/// stored), sorted: to say which symbols exist when an unknown one is asked for.
pub fn symbols(conn: &Connection) -> Result<Vec<(Venue, Symbol, u64)>, StoreError> {
    let err = |e| StoreError::query("listing symbols", e);
    let mut out: BTreeMap<(Venue, Symbol), u64> = BTreeMap::new();
    let mut stmt = conn
        .prepare_cached("SELECT venue, symbol, COUNT(*) FROM candles GROUP BY venue, symbol")
        .map_err(err)?;
    let rows = stmt
        .query_map([], |r| {
            Ok((
                venue_col(r, 0)?,
                symbol_col(r, 1)?,
                u64::try_from(r.get::<_, i64>(2)?).unwrap_or(0),
            ))
        })
        .map_err(err)?;
    for row in rows {
        let (v, s, n) = row.map_err(err)?;
        out.insert((v, s), n);
    }
    // Distinct (venue, symbol) of trades by hopping along the primary key (a loose index scan):
    // a handful of probes rather than reading millions of trades.
    let mut next = conn
        .prepare_cached(
            "SELECT venue, symbol FROM trades WHERE (venue, symbol) > (?1, ?2)
             ORDER BY venue, symbol LIMIT 1",
        )
        .map_err(err)?;
    let (mut v, mut s) = (String::new(), String::new());
    loop {
        let row = next
            .query_map(params![v, s], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
            })
            .map_err(err)?
            .next()
            .transpose()
            .map_err(err)?;
        let Some((nv, ns)) = row else { break };
        let venue = Venue::from_str(&nv).map_err(|e| bad_value("venue", e))?;
        let symbol = Symbol::new(&ns).map_err(|e| bad_value("symbol", e.to_string()))?;
        out.entry((venue, symbol)).or_insert(0);
        (v, s) = (nv, ns);
    }
    Ok(out.into_iter().map(|((v, s), n)| (v, s, n)).collect())
}

/// Stored alerts, newest first, optionally only those at or after `since_ms`.
pub fn alerts(
    conn: &Connection,
    since_ms: Option<TsMs>,
    limit: Option<usize>,
) -> Result<Vec<AlertRecord>, StoreError> {
    let err = |e| StoreError::query("reading alerts", e);
    let limit = limit.map_or(-1, |l| i64::try_from(l).unwrap_or(i64::MAX));
    let mut stmt = conn
        .prepare_cached(
            "SELECT alert_id, ts_ms, venue, symbol, rule, value, message, delivered, severity FROM alerts
             WHERE ts_ms >= ?1 ORDER BY ts_ms DESC, alert_id DESC LIMIT ?2",
        )
        .map_err(err)?;
    stmt.query_map(params![since_ms.unwrap_or(i64::MIN), limit], |r| {
        Ok(AlertRecord {
            alert_id: r.get(0)?,
            ts_ms: r.get(1)?,
            key: VenueSymbol::new(venue_col(r, 2)?, symbol_col(r, 3)?),
            rule: r.get(4)?,
            value: r.get::<_, Option<f64>>(5)?.unwrap_or(f64::NAN),
            message: r.get(6)?,
            delivered: r.get(7)?,
            severity: r
                .get::<_, String>(8)?
                .parse()
                .unwrap_or(crate::alerts::Severity::Warning),
        })
    })
    .map_err(err)?
    .collect::<Result<Vec<_>, _>>()
    .map_err(err)
}

/// One stored delivery outcome of an alert.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredDelivery {
    pub alert_id: String,
    pub sink: String,
    pub ts_ms: TsMs,
    pub outcome: crate::alerts::DeliveryOutcome,
}

/// Delivery outcomes of the alerts fired at or after `since_ms`, by alert id, sinks in name
/// order.
pub fn deliveries(
    conn: &Connection,
    since_ms: Option<TsMs>,
) -> Result<HashMap<String, Vec<StoredDelivery>>, StoreError> {
    let err = |e| StoreError::query("reading alert deliveries", e);
    let mut stmt = conn
        .prepare_cached(
            "SELECT d.alert_id, d.sink, d.ts_ms, d.status, d.error
             FROM alert_deliveries d JOIN alerts a ON a.alert_id = d.alert_id
             WHERE a.ts_ms >= ?1 ORDER BY d.alert_id, d.sink",
        )
        .map_err(err)?;
    let rows = stmt
        .query_map([since_ms.unwrap_or(i64::MIN)], |r| {
            Ok(StoredDelivery {
                alert_id: r.get(0)?,
                sink: r.get(1)?,
                ts_ms: r.get(2)?,
                outcome: crate::alerts::DeliveryOutcome::from_stored(
                    &r.get::<_, String>(3)?,
                    r.get(4)?,
                ),
            })
        })
        .map_err(err)?;
    let mut out: HashMap<String, Vec<StoredDelivery>> = HashMap::new();
    for row in rows {
        let d = row.map_err(err)?;
        out.entry(d.alert_id.clone()).or_default().push(d);
    }
    Ok(out)
}

/// Every stored alert rule, oldest first, with the time it last fired. A row this version
/// cannot read (a spec written by a newer tickwatch, or edited by hand) is skipped with a
/// warning rather than keeping every other rule from loading.
pub fn rules(conn: &Connection) -> Result<Vec<RuleRecord>, StoreError> {
    let err = |e| StoreError::query("reading alert rules", e);
    let mut stmt = conn
        .prepare_cached(
            "SELECT r.rule_id, r.origin, r.spec, r.state, r.snoozed_until_ms, r.created_ms,
                    r.updated_ms, (SELECT MAX(a.ts_ms) FROM alerts a WHERE a.rule = r.rule_id)
             FROM alert_rules r ORDER BY r.created_ms, r.rule_id",
        )
        .map_err(err)?;
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, Option<TsMs>>(4)?,
                r.get::<_, TsMs>(5)?,
                r.get::<_, TsMs>(6)?,
                r.get::<_, Option<TsMs>>(7)?,
            ))
        })
        .map_err(err)?;
    let mut out = Vec::new();
    for row in rows {
        let (rule_id, origin, spec, state, snoozed, created, updated, fired) = row.map_err(err)?;
        let parsed = origin.parse().and_then(|origin| {
            let spec = serde_json::from_str(&spec).map_err(|e| format!("spec: {e}"))?;
            Ok((origin, spec, state.parse()?))
        });
        match parsed {
            Ok((origin, spec, state)) => out.push(RuleRecord {
                rule_id,
                origin,
                spec,
                state,
                snoozed_until_ms: snoozed,
                created_ms: created,
                updated_ms: updated,
                last_fired_ms: fired,
            }),
            Err(e) => tracing::warn!("stored alert rule {rule_id:?} skipped: {e}"),
        }
    }
    Ok(out)
}

/// Number of stored trades of one instrument.
pub fn trade_count(conn: &Connection, venue: Venue, symbol: Symbol) -> Result<u64, StoreError> {
    let n: i64 = conn
        .prepare_cached("SELECT COUNT(*) FROM trades WHERE venue = ?1 AND symbol = ?2")
        .and_then(|mut s| s.query_row(params![venue.as_str(), symbol.as_str()], |r| r.get(0)))
        .map_err(|e| StoreError::query("counting trades", e))?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// What is stored of one series: its first and last candle open times and its number of
/// candles.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredRange {
    pub key: VenueSymbol,
    pub interval: Interval,
    pub first_ms: TsMs,
    pub last_ms: TsMs,
    pub count: u64,
}

impl StoredRange {
    /// When the last candle ends.
    pub fn end_ms(&self) -> TsMs {
        self.last_ms + self.interval.ms()
    }
}

/// Every stored series (venue, symbol, interval) with its range, by venue, symbol, interval.
pub fn candle_ranges(conn: &Connection) -> Result<Vec<StoredRange>, StoreError> {
    let err = |e| StoreError::query("reading the stored candle ranges", e);
    let mut stmt = conn
        .prepare_cached(
            "SELECT venue, symbol, interval, MIN(open_ms), MAX(open_ms), COUNT(*) FROM candles
             GROUP BY venue, symbol, interval",
        )
        .map_err(err)?;
    let rows = stmt
        .query_map([], |r| {
            let iv: String = r.get(2)?;
            Ok((
                venue_col(r, 0)?,
                symbol_col(r, 1)?,
                iv,
                r.get::<_, i64>(3)?,
                r.get::<_, i64>(4)?,
                r.get::<_, i64>(5)?,
            ))
        })
        .map_err(err)?;
    let mut out = Vec::new();
    for row in rows {
        let (venue, symbol, iv, first_ms, last_ms, n) = row.map_err(err)?;
        // an interval this version does not know is not a series it can use
        let Ok(interval) = iv.parse::<Interval>() else {
            continue;
        };
        out.push(StoredRange {
            key: VenueSymbol::new(venue, symbol),
            interval,
            first_ms,
            last_ms,
            count: u64::try_from(n).unwrap_or(0),
        });
    }
    out.sort_by_key(|r| (r.key.venue, r.key.symbol, r.interval));
    Ok(out)
}

/// Stored trades of one instrument with `from_ms <= ts_ms <= to_ms`, in time (then id) order,
/// those after `after` (a time and trade id: where the previous page ended), at most `limit`:
/// a long range is read page by page.
pub fn trades_page(
    conn: &Connection,
    key: VenueSymbol,
    from_ms: TsMs,
    to_ms: TsMs,
    after: Option<(TsMs, u64)>,
    limit: usize,
) -> Result<Vec<(TsMs, crate::domain::TradeTick)>, StoreError> {
    let err = |e| StoreError::query("reading trades", e);
    let (after_ts, after_id) = match after {
        Some((t, id)) => (t, i64::try_from(id).unwrap_or(i64::MAX)),
        None => (i64::MIN, i64::MIN),
    };
    let lo = from_ms.max(after_ts);
    let mut stmt = conn
        .prepare_cached(
            "SELECT ts_ms, trade_id, price, qty, taker_side FROM trades
             WHERE venue = ?1 AND symbol = ?2 AND ts_ms BETWEEN ?3 AND ?4
               AND (ts_ms > ?5 OR trade_id > ?6)
             ORDER BY ts_ms, trade_id LIMIT ?7",
        )
        .map_err(err)?;
    let rows = stmt
        .query_map(
            params![
                key.venue.as_str(),
                key.symbol.as_str(),
                lo,
                to_ms,
                after_ts,
                after_id,
                i64::try_from(limit).unwrap_or(i64::MAX)
            ],
            |r| {
                let side: String = r.get(4)?;
                Ok((
                    r.get::<_, i64>(0)?,
                    crate::domain::TradeTick {
                        trade_id: u64::try_from(r.get::<_, i64>(1)?).unwrap_or(0),
                        price: r.get(2)?,
                        qty: r.get(3)?,
                        side: crate::domain::Side::from_stored(&side),
                    },
                ))
            },
        )
        .map_err(err)?;
    rows.collect::<Result<Vec<_>, _>>().map_err(err)
}

/// The highest stored trade id of one instrument (where a gap fill or a resume starts).
pub fn max_trade_id(
    conn: &Connection,
    venue: Venue,
    symbol: Symbol,
) -> Result<Option<u64>, StoreError> {
    let id: Option<i64> = conn
        .prepare_cached("SELECT MAX(trade_id) FROM trades WHERE venue = ?1 AND symbol = ?2")
        .and_then(|mut s| s.query_row(params![venue.as_str(), symbol.as_str()], |r| r.get(0)))
        .map_err(|e| StoreError::query("reading the last trade id", e))?;
    Ok(id.and_then(|i| u64::try_from(i).ok()))
}

/// One stored book level: venue, symbol, time, side (`bid`/`ask`), level, price, size.
pub type BookLevelRow = (Venue, Symbol, TsMs, String, i64, f64, f64);

/// Rows ordered by venue, time, side and level, grouped into one record per book and time.
pub fn group_book_rows(
    rows: impl IntoIterator<Item = BookLevelRow>,
) -> Vec<crate::domain::BookRecord> {
    let mut out: Vec<crate::domain::BookRecord> = Vec::new();
    for (venue, symbol, ts_ms, side, _level, price, qty) in rows {
        let key = VenueSymbol::new(venue, symbol);
        let same = out.last().is_some_and(|b| b.key == key && b.ts_ms == ts_ms);
        if !same {
            out.push(crate::domain::BookRecord {
                key,
                ts_ms,
                bids: Vec::new(),
                asks: Vec::new(),
            });
        }
        if let Some(b) = out.last_mut() {
            let level = crate::domain::Level { price, qty };
            if side == "bid" {
                b.bids.push(level);
            } else {
                b.asks.push(level);
            }
        }
    }
    // by time across venues, as a replay plays them
    out.sort_by_key(|b| b.ts_ms);
    out
}

/// Stored book snapshots of `symbol` (one venue, or every venue that has it) with
/// `from_ms <= ts_ms <= to_ms`, by time. A database from before book snapshots has none.
pub fn book_snapshots(
    conn: &Connection,
    venue: Option<Venue>,
    symbol: Symbol,
    from_ms: Option<TsMs>,
    to_ms: Option<TsMs>,
) -> Result<Vec<crate::domain::BookRecord>, StoreError> {
    let err = |e| StoreError::query("reading book snapshots", e);
    let has_table: bool = conn
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'book_snapshots')",
            [],
            |r| r.get(0),
        )
        .map_err(err)?;
    if !has_table {
        return Ok(Vec::new());
    }
    let mut stmt = conn
        .prepare_cached(
            "SELECT venue, symbol, ts_ms, side, level, price, qty FROM book_snapshots
             WHERE symbol = ?1 AND (?2 IS NULL OR venue = ?2)
               AND ts_ms >= ?3 AND ts_ms <= ?4
             ORDER BY venue, ts_ms, side, level",
        )
        .map_err(err)?;
    let rows = stmt
        .query_map(
            params![
                symbol.as_str(),
                venue.map(|v| v.as_str()),
                from_ms.unwrap_or(TsMs::MIN),
                to_ms.unwrap_or(TsMs::MAX)
            ],
            |r| {
                Ok((
                    venue_col(r, 0)?,
                    symbol_col(r, 1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, f64>(5)?,
                    r.get::<_, f64>(6)?,
                ))
            },
        )
        .map_err(err)?
        .collect::<Result<Vec<_>, _>>()
        .map_err(err)?;
    Ok(group_book_rows(rows))
}

fn bad_value(what: &str, detail: String) -> StoreError {
    StoreError::query(
        &format!("reading a {what} written by another program"),
        rusqlite::Error::FromSqlConversionFailure(0, Type::Text, detail.into()),
    )
}

fn venue_col(r: &Row, i: usize) -> rusqlite::Result<Venue> {
    let s = r.get_ref(i)?.as_str()?;
    Venue::from_str(s)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(i, Type::Text, e.into()))
}

fn symbol_col(r: &Row, i: usize) -> rusqlite::Result<Symbol> {
    let s = r.get_ref(i)?.as_str()?;
    Symbol::new(s).map_err(|e| rusqlite::Error::FromSqlConversionFailure(i, Type::Text, e.into()))
}
