//! The storage thread's side of PostgreSQL: batches in one transaction per connection, trades and candles by
//! binary COPY, idempotent (`ON CONFLICT`), partitions created before the rows that need them.

use std::collections::{BTreeSet, HashSet};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use postgres::error::SqlState;

use postgres::{Client, Transaction};

use super::connect::{connect, write_failure};
use super::copy::CopyOut;
use super::schema::{LOCK_KEY, migrate};
use crate::alerts::DeliveryOutcome;
use crate::domain::{
    AlertRecord, ClosedCandle, DeliveryRecord, OutputBatch, RuleChange, TradeRecord, WatchlistEdit,
    now_ms,
};
use crate::store::backend::{BatchStore, FailureKind, WriteFailure};
use crate::store::sqlite::write_batch::with_delivery;
use crate::store::{PgTarget, StoreError, WriteCounts};

const DAY_MS: i64 = 86_400_000;

/// Days of partitions created ahead of today.
const DAYS_AHEAD: i64 = 3;

/// `ms` since the epoch as a `timestamptz` value.
pub fn ts(ms: i64) -> SystemTime {
    match u64::try_from(ms) {
        Ok(ms) => UNIX_EPOCH + Duration::from_millis(ms),
        Err(_) => UNIX_EPOCH - Duration::from_millis(ms.unsigned_abs()),
    }
}

/// Temporary tables the binary COPY lands in before `INSERT … ON CONFLICT`; emptied at commit.
const TEMP_TABLES: &str = "
    CREATE TEMP TABLE IF NOT EXISTS tw_trades (
        venue text, symbol text, trade_id bigint, ts_ms bigint, price double precision,
        qty double precision, taker_side text, ts timestamptz) ON COMMIT DELETE ROWS;
    CREATE TEMP TABLE IF NOT EXISTS tw_candles (
        ord bigint, venue text, symbol text, interval text, open_ms bigint,
        open double precision, high double precision, low double precision,
        close double precision, volume double precision, trades bigint, ts timestamptz)
        ON COMMIT DELETE ROWS;
    CREATE TEMP TABLE IF NOT EXISTS tw_values (
        ord bigint, venue text, symbol text, interval text, open_ms bigint, name text,
        value double precision, ts timestamptz) ON COMMIT DELETE ROWS;";

const TRADE_COLUMNS: &str = "venue, symbol, trade_id, ts_ms, price, qty, taker_side, ts";

/// One connection for writing, with the partitions it knows exist.
pub struct PgBatches {
    target: PgTarget,
    client: Client,
    /// A second connection for candles and indicator values, and the earliest trades of a large
    /// group, written in parallel with the other trades (the server works on both at once).
    candle_client: Client,
    /// Days (ms since epoch / DAY_MS) whose trade partition exists.
    partitions: HashSet<i64>,
    retention_days: Option<u32>,
    /// The share of a large group's trades written on the second connection (see
    /// `write_all`), adjusted after each such group.
    side_share: f64,
}

/// Groups with fewer trades than this are not split between the connections: the second
/// connection's COPY would cost more than it saves (live groups are mostly this small).
const SPLIT_MIN_TRADES: usize = 4096;

/// The second connection's share of the first large group; `rebalance` finds the right one
/// within a few groups (about 0.18 for a Binance replay with the default indicators on 2 cores,
/// 0.5 for trades without candles).
const SIDE_SHARE_START: f64 = 0.1;

impl PgBatches {
    /// Connects, migrates, checks that this user may write, and creates the partitions ahead.
    pub fn open(target: &PgTarget) -> Result<PgBatches, StoreError> {
        // the candle connection is made while the first one migrates: a replay's first rows
        // wait for both
        let (main, candle_client) = std::thread::scope(|scope| {
            let second = scope.spawn(|| connect(target, false));
            let main = Self::open_main(target);
            let second = second.join().unwrap_or_else(|_| {
                Err(StoreError::Postgres {
                    shown: target.shown().to_string(),
                    what: "the second connection's thread panicked".into(),
                })
            });
            (main, second)
        });
        let (client, known) = main?;
        let candle_client = candle_client?;
        let mut me = PgBatches {
            target: target.clone(),
            client,
            candle_client,
            partitions: known
                .iter()
                .filter_map(|r| partition_day(r.get::<_, &str>(0)))
                .collect(),
            retention_days: target.retention_days,
            side_share: SIDE_SHARE_START,
        };
        let today = now_ms().div_euclid(DAY_MS);
        me.ensure_partitions((today..=today + DAYS_AHEAD).collect())
            .map_err(|f| StoreError::Postgres {
                shown: target.shown().to_string(),
                what: f.reason,
            })?;
        if let Err(e) = me.apply_retention() {
            tracing::warn!("storage: retention: {e}");
        }
        Ok(me)
    }

    /// The writing connection, migrated and checked, and the trade partitions that exist already
    /// (no DDL, and no commit to wait for, at start).
    fn open_main(target: &PgTarget) -> Result<(Client, Vec<postgres::Row>), StoreError> {
        let mut client = connect(target, false)?;
        migrate(&mut client, target)?;
        check_writable(&mut client, target)?;
        let known = client
            .query(
                "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
                 WHERE i.inhparent = 'trades'::regclass",
                &[],
            )
            .map_err(|e| super::connect::query_error(target, "listing partitions", &e))?;
        Ok((client, known))
    }

    /// Creates the trade partitions of `days` that are not known to exist, each in its own
    /// short transaction under the advisory lock (two recorders may ask for the same day).
    fn ensure_partitions(&mut self, days: BTreeSet<i64>) -> Result<(), WriteFailure> {
        for day in days {
            if self.partitions.contains(&day) {
                continue;
            }
            let from = day * DAY_MS;
            let name = partition_name(day);
            // DDL takes no bound parameters: the name and bounds are made of digits only.
            let sql = format!(
                "CREATE TABLE IF NOT EXISTS {name} PARTITION OF trades
                 FOR VALUES FROM ('{}') TO ('{}')",
                iso(from),
                iso(from + DAY_MS)
            );
            let mut tx = self.client.transaction().map_err(|e| write_failure(&e))?;
            tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK_KEY])
                .map_err(|e| write_failure(&e))?;
            tx.batch_execute(&sql).map_err(|e| write_failure(&e))?;
            tx.commit().map_err(|e| write_failure(&e))?;
            self.partitions.insert(day);
        }
        Ok(())
    }

    /// Drops trade partitions that end before the retention horizon.
    fn apply_retention(&mut self) -> Result<u64, postgres::Error> {
        let Some(days) = self.retention_days else {
            return Ok(0);
        };
        let horizon_day = now_ms().div_euclid(DAY_MS) - i64::from(days);
        let rows = self.client.query(
            "SELECT c.relname FROM pg_inherits i
             JOIN pg_class c ON c.oid = i.inhrelid
             WHERE i.inhparent = 'trades'::regclass",
            &[],
        )?;
        let mut dropped = 0;
        for row in rows {
            let name: String = row.get(0);
            let Some(day) = partition_day(&name) else {
                continue;
            };
            if day < horizon_day {
                // `name` matched trades_pYYYYMMDD: digits only.
                self.client
                    .batch_execute(&format!("DROP TABLE IF EXISTS {name}"))?;
                self.partitions.remove(&day);
                dropped += 1;
                tracing::info!(partition = %name, "retention: dropped a day of trades");
            }
        }
        Ok(dropped)
    }

    fn write_all(&mut self, batches: &[OutputBatch]) -> Result<WriteCounts, WriteFailure> {
        let days: BTreeSet<i64> = batches
            .iter()
            .flat_map(|b| b.trades.iter())
            .map(|t| t.ts_ms.div_euclid(DAY_MS))
            .collect();
        // One day's trades (the usual batch) go straight into that day's partition, which
        // spares the server routing each row through the parent.
        let into = match (days.len(), days.first()) {
            (1, Some(&day)) => partition_name(day),
            _ => "trades".to_string(),
        };
        self.ensure_partitions(days)?;
        let fail = |e: postgres::Error| write_failure(&e);
        let trades: Vec<&TradeRecord> = batches.iter().flat_map(|b| b.trades.iter()).collect();
        let candles: Vec<&ClosedCandle> = batches.iter().flat_map(|b| b.candles.iter()).collect();
        // The second connection takes the candles and values, then the group's earliest trades
        // (`side_share` of them, see `rebalance`); this one takes the later trades and the rest.
        // Each keeps its trades in order, so this one appends at the right edge of the indexes
        // and the other fills in just before where this one began. The second commits first,
        // once both have written: whatever a crash between the two commits leaves stored is
        // the earlier trades (no hole for a restarted recorder to miss) with the group's
        // candles and values, but not its later trades, alerts and edits; a failure of the
        // other commit has the group written again, the stored rows skipped.
        let split = trades.len() >= SPLIT_MIN_TRADES;
        let cut = if split {
            (trades.len() as f64 * self.side_share) as usize
        } else {
            0
        };
        let (early, late) = trades.split_at(cut.min(trades.len()));
        // A trade in both parts (a venue's repeat, a refill overlapping the stream) would have
        // each connection wait on the other's uncommitted row, while this thread waits for both
        // to finish writing: a deadlock the server cannot see. The later copy is a repeat the
        // store skips anyway, so it is left out here and counted as one.
        let (late, repeats) = without_repeats_of(early, late);
        let (go_tx, go_rx) = std::sync::mpsc::channel::<bool>();
        let (done_tx, done_rx) =
            std::sync::mpsc::channel::<Result<(WriteCounts, Duration), postgres::Error>>();
        let candle_client = &mut self.candle_client;
        let client = &mut self.client;
        let side_into = into.clone();
        let outcome = std::thread::scope(|scope| {
            // owned here, so that a panic on this side drops it and the other side rolls back
            // instead of waiting for a word that never comes
            let go_tx = go_tx;
            let side = scope.spawn(move || -> Result<(), postgres::Error> {
                let started = Instant::now();
                let mut c = WriteCounts::default();
                let written = candle_client.transaction().and_then(|mut tx| {
                    write_candles(&mut tx, &candles, &mut c)?;
                    write_trades(&mut tx, early, &side_into, &mut c)?;
                    Ok(tx)
                });
                let tx = match written {
                    Ok(tx) => {
                        let _ = done_tx.send(Ok((c, started.elapsed())));
                        tx
                    }
                    Err(e) => {
                        let _ = done_tx.send(Err(e));
                        return Ok(());
                    }
                };
                match go_rx.recv() {
                    Ok(true) => tx.commit(),
                    _ => tx.rollback(),
                }
            });
            let started = Instant::now();
            let main = write_main(client, &late, &into, batches);
            let main_took = started.elapsed();
            let side_written = done_rx.recv();
            match (main, side_written) {
                (Ok((tx, mut counts)), Ok(Ok((c, side_took)))) => {
                    let _ = go_tx.send(true);
                    match side.join() {
                        Ok(Ok(())) => {}
                        Ok(Err(e)) => return Err(fail(e)),
                        Err(_) => {
                            return Err(WriteFailure {
                                kind: FailureKind::Retry,
                                reason: "the candle writer panicked".into(),
                            });
                        }
                    }
                    tx.commit().map_err(fail)?;
                    counts.add(&c);
                    counts.trades += repeats;
                    counts.duplicate_trades += repeats;
                    Ok((counts, main_took, side_took))
                }
                (main, side_written) => {
                    let _ = go_tx.send(false);
                    let _ = side.join();
                    match (main, side_written) {
                        (Err(e), _) | (_, Ok(Err(e))) => Err(fail(e)),
                        _ => Err(WriteFailure {
                            kind: FailureKind::Retry,
                            reason: "the candle writer stopped".into(),
                        }),
                    }
                }
            }
        });
        let (counts, main_took, side_took) = outcome?;
        if split {
            self.rebalance(early.len(), late.len(), main_took, side_took);
        }
        Ok(counts)
    }

    /// Moves the share of trades given to the second connection towards the one at which
    /// both finish together, judged from this group: this connection's time per trade, and
    /// what the other spent on candles and values besides its trades. Half a step at a time,
    /// so that one slow group does not swing it; at most half of the trades.
    fn rebalance(&mut self, early: usize, late: usize, main_took: Duration, side_took: Duration) {
        let total = early + late;
        if late == 0 {
            return;
        }
        let per_trade = main_took.as_secs_f64() / late as f64;
        if per_trade <= 0.0 {
            return;
        }
        let side_other = (side_took.as_secs_f64() - per_trade * early as f64).max(0.0);
        let wanted = (0.5 - side_other / (2.0 * per_trade * total as f64)).clamp(0.0, 0.5);
        self.side_share = 0.5 * self.side_share + 0.5 * wanted;
        tracing::debug!(
            early,
            late,
            main_ms = main_took.as_secs_f64() * 1e3,
            side_ms = side_took.as_secs_f64() * 1e3,
            next_share = self.side_share,
            "storage: trades split between the connections"
        );
    }
}

/// `late` without the trades that are also in `early` (same venue, symbol, id and time: the
/// primary key), and how many were left out.
fn without_repeats_of<'a>(
    early: &[&TradeRecord],
    late: &[&'a TradeRecord],
) -> (Vec<&'a TradeRecord>, u64) {
    if early.is_empty() {
        return (late.to_vec(), 0);
    }
    let key = |t: &TradeRecord| (t.key, t.tick.trade_id, t.ts_ms);
    let seen: HashSet<_> = early.iter().map(|t| key(t)).collect();
    let kept: Vec<&TradeRecord> = late
        .iter()
        .copied()
        .filter(|t| !seen.contains(&key(t)))
        .collect();
    let left_out = (late.len() - kept.len()) as u64;
    (kept, left_out)
}

impl BatchStore for PgBatches {
    fn write(&mut self, batches: &[OutputBatch]) -> Result<WriteCounts, WriteFailure> {
        if self.client.is_closed() || self.candle_client.is_closed() {
            return Err(WriteFailure {
                kind: FailureKind::Disconnected,
                reason: "PostgreSQL unreachable (connection closed)".into(),
            });
        }
        let result = self.write_all(batches);
        if result.is_err() {
            // a partition dropped meanwhile (retention by another recorder): look again
            self.partitions.clear();
        }
        result
    }

    fn reconnect(&mut self) -> Result<(), WriteFailure> {
        let fresh = PgBatches::open(&self.target).map_err(|e| WriteFailure {
            kind: FailureKind::Disconnected,
            reason: e.to_string(),
        })?;
        *self = fresh;
        Ok(())
    }

    fn add_portfolio_entries(
        &mut self,
        entries: &[crate::portfolio::Entry],
    ) -> Result<u64, StoreError> {
        super::portfolio::add(&mut self.client, &self.target, entries)
    }

    fn maintain(&mut self) {
        let today = now_ms().div_euclid(DAY_MS);
        if let Err(f) = self.ensure_partitions((today..=today + DAYS_AHEAD).collect()) {
            tracing::warn!("storage: creating trade partitions ahead: {}", f.reason);
        }
        if let Err(e) = self.apply_retention() {
            tracing::warn!("storage: retention: {e}");
        }
    }
}

/// The trades and everything but the candles, in one transaction left open for the caller.
fn write_main<'a>(
    client: &'a mut Client,
    trades: &[&TradeRecord],
    into: &str,
    batches: &[OutputBatch],
) -> Result<(Transaction<'a>, WriteCounts), postgres::Error> {
    let mut tx = client.transaction()?;
    let mut counts = WriteCounts::default();
    write_trades(&mut tx, trades, into, &mut counts)?;
    // The rest is small and keeps the order of the SQLite writer: per batch, alerts, then
    // deliveries, then rules and watchlist edits.
    for b in batches {
        write_alerts(&mut tx, &b.alerts, &mut counts)?;
        write_deliveries(&mut tx, &b.deliveries, &mut counts)?;
        write_rules(&mut tx, &b.rules, &mut counts)?;
        write_watchlist(&mut tx, &b.watchlist, &mut counts)?;
        write_books(&mut tx, &b.books, &mut counts)?;
        super::portfolio::write_changes(&mut tx, &b.portfolio)?;
        counts.rules += b.portfolio.len() as u64;
    }
    Ok((tx, counts))
}

/// A user that may connect but not write (a read-only role) is told so at start, not at the
/// first batch.
fn check_writable(client: &mut Client, t: &PgTarget) -> Result<(), StoreError> {
    let row = client
        .query_one(
            "SELECT has_table_privilege('trades', 'INSERT')
                AND has_table_privilege('candles', 'INSERT')
                AND has_table_privilege('candles', 'UPDATE')
                AND has_table_privilege('alerts', 'INSERT')",
            &[],
        )
        .map_err(|e| super::connect::query_error(t, "checking privileges", &e))?;
    if row.get::<_, bool>(0) {
        return Ok(());
    }
    Err(StoreError::Postgres {
        shown: t.shown().to_string(),
        what: format!(
            "user {:?} may read but not write tickwatch's tables: grant it INSERT, UPDATE and DELETE (export and alerts list only read)",
            t.user
        ),
    })
}

pub fn partition_name(day: i64) -> String {
    let d = chrono::DateTime::<chrono::Utc>::from_timestamp_millis(day * DAY_MS)
        .map(|t| t.format("%Y%m%d").to_string())
        .unwrap_or_else(|| format!("{day}"));
    format!("trades_p{d}")
}

fn partition_day(name: &str) -> Option<i64> {
    let digits = name.strip_prefix("trades_p")?;
    let date = chrono::NaiveDate::parse_from_str(digits, "%Y%m%d").ok()?;
    let ms = date.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis();
    Some(ms.div_euclid(DAY_MS))
}

fn iso(ms: i64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S+00").to_string())
        .unwrap_or_default()
}

/// Writes `trades` by COPY into `into` (the day's partition when they all fall on one day,
/// else `trades`).
fn write_trades(
    tx: &mut Transaction,
    trades: &[&TradeRecord],
    into: &str,
    c: &mut WriteCounts,
) -> Result<(), postgres::Error> {
    if trades.is_empty() {
        return Ok(());
    }
    c.trades += trades.len() as u64;
    // Ids beyond a signed 64-bit integer are skipped and counted, as in SQLite.
    let fits: Vec<&&TradeRecord> = trades
        .iter()
        .filter(|t| i64::try_from(t.tick.trade_id).is_ok())
        .collect();
    c.skipped_trades += (trades.len() - fits.len()) as u64;
    // New trades (the usual case) go straight into the table by COPY; if some are already
    // stored, the savepoint is rolled back and they go through the temporary table and
    // `ON CONFLICT DO NOTHING`.
    let mut direct = tx.transaction()?;
    match copy_trades(&mut direct, into, &fits) {
        Ok(()) => {
            direct.commit()?;
            return Ok(());
        }
        Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => direct.rollback()?,
        Err(e) => return Err(e),
    }
    tx.batch_execute(TEMP_TABLES)?;
    copy_trades(tx, "tw_trades", &fits)?;
    let inserted = tx.execute(
        &format!(
            "INSERT INTO trades ({TRADE_COLUMNS}) SELECT {TRADE_COLUMNS} FROM tw_trades
             ON CONFLICT DO NOTHING"
        ),
        &[],
    )?;
    tx.batch_execute("TRUNCATE tw_trades")?;
    c.duplicate_trades += fits.len() as u64 - inserted;
    Ok(())
}

fn copy_trades(
    tx: &mut Transaction,
    table: &str,
    trades: &[&&TradeRecord],
) -> Result<(), postgres::Error> {
    let sink = tx.copy_in(&format!(
        "COPY {table} ({TRADE_COLUMNS}) FROM STDIN (FORMAT binary)"
    ))?;
    let mut w = CopyOut::new(sink);
    for t in trades {
        w.row(8)?;
        w.text(t.key.venue.as_str());
        w.text(t.key.symbol.as_str());
        w.int8(i64::try_from(t.tick.trade_id).unwrap_or(i64::MAX));
        w.int8(t.ts_ms);
        w.float8(t.tick.price);
        w.float8(t.tick.qty);
        w.text(t.tick.side.as_str());
        w.timestamptz_ms(t.ts_ms);
    }
    w.finish()?;
    Ok(())
}

fn write_candles(
    tx: &mut Transaction,
    candles: &[&ClosedCandle],
    c: &mut WriteCounts,
) -> Result<(), postgres::Error> {
    if candles.is_empty() {
        return Ok(());
    }
    c.candles += candles.len() as u64;
    c.indicator_values += candles
        .iter()
        .map(|cc| {
            cc.values
                .iter()
                .filter(|v| v.is_some_and(f64::is_finite))
                .count() as u64
        })
        .sum::<u64>();
    // Newly closed candles (the usual case) go straight into their tables; a batch that
    // replaces stored ones (or holds one candle twice) goes through the temporary tables and
    // an upsert where the latest version wins, as it would row by row.
    let mut direct = tx.transaction()?;
    match copy_candles(&mut direct, candles, false) {
        Ok(()) => {
            direct.commit()?;
            return Ok(());
        }
        Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => direct.rollback()?,
        Err(e) => return Err(e),
    }
    tx.batch_execute(TEMP_TABLES)?;
    copy_candles(tx, candles, true)?;
    tx.batch_execute(
        "INSERT INTO candles (venue, symbol, interval, open_ms, open, high, low, close, volume, trades, ts)
         SELECT DISTINCT ON (venue, symbol, interval, open_ms)
                venue, symbol, interval, open_ms, open, high, low, close, volume, trades, ts
         FROM tw_candles ORDER BY venue, symbol, interval, open_ms, ord DESC
         ON CONFLICT (venue, symbol, interval, open_ms) DO UPDATE SET
         open = excluded.open, high = excluded.high, low = excluded.low, close = excluded.close,
         volume = excluded.volume, trades = excluded.trades;
         INSERT INTO indicator_values (venue, symbol, interval, open_ms, name, value, ts)
         SELECT DISTINCT ON (venue, symbol, interval, open_ms, name)
                venue, symbol, interval, open_ms, name, value, ts
         FROM tw_values ORDER BY venue, symbol, interval, open_ms, name, ord DESC
         ON CONFLICT (venue, symbol, interval, open_ms, name) DO UPDATE SET value = excluded.value;
         TRUNCATE tw_candles, tw_values;",
    )?;
    Ok(())
}

/// COPYs the candles and their defined values into the tables themselves, or (`staged`) into
/// the temporary tables with their order in the batch.
fn copy_candles(
    tx: &mut Transaction,
    candles: &[&ClosedCandle],
    staged: bool,
) -> Result<(), postgres::Error> {
    let (candle_table, value_table, ord_col) = if staged {
        ("tw_candles", "tw_values", "ord, ")
    } else {
        ("candles", "indicator_values", "")
    };
    let sink = tx.copy_in(&format!(
        "COPY {candle_table} ({ord_col}venue, symbol, interval, open_ms, open, high, low, close, volume, trades, ts)
         FROM STDIN (FORMAT binary)"
    ))?;
    let mut w = CopyOut::new(sink);
    for (ord, cc) in candles.iter().enumerate() {
        let k = &cc.candle;
        candle_key(&mut w, 11, staged.then_some(ord), cc)?;
        w.float8(k.open);
        w.float8(k.high);
        w.float8(k.low);
        w.float8(k.close);
        w.float8(k.volume);
        w.int8(i64::try_from(k.trades).unwrap_or(i64::MAX));
        w.timestamptz_ms(k.open_ms);
    }
    w.finish()?;
    let sink = tx.copy_in(&format!(
        "COPY {value_table} ({ord_col}venue, symbol, interval, open_ms, name, value, ts)
         FROM STDIN (FORMAT binary)"
    ))?;
    let mut w = CopyOut::new(sink);
    for (ord, cc) in candles.iter().enumerate() {
        for (name, value) in cc.columns.iter().zip(cc.values.iter()) {
            // Undefined (warming up) and non-finite values are not stored, as in SQLite.
            let Some(v) = value.filter(|v| v.is_finite()) else {
                continue;
            };
            candle_key(&mut w, 7, staged.then_some(ord), cc)?;
            w.text(name.as_str());
            w.float8(v);
            w.timestamptz_ms(cc.candle.open_ms);
        }
    }
    w.finish()?;
    Ok(())
}

/// Starts a row of `fields` columns (one more with `ord`, the order in the batch) with the
/// candle's key: (ord,) venue, symbol, interval, open_ms.
fn candle_key(
    w: &mut CopyOut,
    fields: i16,
    ord: Option<usize>,
    cc: &ClosedCandle,
) -> Result<(), postgres::Error> {
    w.row(fields + i16::from(ord.is_some()))?;
    if let Some(ord) = ord {
        w.int8(i64::try_from(ord).unwrap_or(i64::MAX));
    }
    w.text(cc.key.venue.as_str());
    w.text(cc.key.symbol.as_str());
    w.text(cc.interval.as_str());
    w.int8(cc.candle.open_ms);
    Ok(())
}

fn write_alerts(
    tx: &mut Transaction,
    alerts: &[AlertRecord],
    c: &mut WriteCounts,
) -> Result<(), postgres::Error> {
    if alerts.is_empty() {
        return Ok(());
    }
    let insert = tx.prepare(
        "INSERT INTO alerts (alert_id, ts_ms, venue, symbol, rule, value, message, delivered, severity, ts)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT DO NOTHING",
    )?;
    let earlier = tx.prepare(
        "SELECT sink, status, error FROM alert_deliveries WHERE alert_id = $1 ORDER BY ts_ms, sink",
    )?;
    let update = tx.prepare("UPDATE alerts SET delivered = $2 WHERE alert_id = $1")?;
    for a in alerts {
        let value = a.value.is_finite().then_some(a.value);
        let inserted = tx.execute(
            &insert,
            &[
                &a.alert_id,
                &a.ts_ms,
                &a.key.venue.as_str(),
                &a.key.symbol.as_str(),
                &a.rule,
                &value,
                &a.message,
                &a.delivered,
                &a.severity.as_str(),
                &ts(a.ts_ms),
            ],
        )?;
        if inserted == 1 {
            // Outcomes recorded before the alert itself was written are folded in now.
            let done = tx.query(&earlier, &[&a.alert_id])?;
            if !done.is_empty() {
                let delivered = done.iter().fold(a.delivered.clone(), |acc, r| {
                    let outcome = DeliveryOutcome::from_stored(r.get::<_, &str>(1), r.get(2));
                    with_delivery(&acc, r.get::<_, &str>(0), &outcome)
                });
                tx.execute(&update, &[&a.alert_id, &delivered])?;
            }
        }
        c.alerts += 1;
    }
    Ok(())
}

fn write_deliveries(
    tx: &mut Transaction,
    deliveries: &[DeliveryRecord],
    c: &mut WriteCounts,
) -> Result<(), postgres::Error> {
    if deliveries.is_empty() {
        return Ok(());
    }
    let upsert = tx.prepare(
        "INSERT INTO alert_deliveries (alert_id, sink, ts_ms, ok, error, status, ts)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (alert_id, sink) DO UPDATE SET
         ts_ms = excluded.ts_ms, ok = excluded.ok, error = excluded.error,
         status = excluded.status, ts = excluded.ts",
    )?;
    let select = tx.prepare("SELECT delivered FROM alerts WHERE alert_id = $1")?;
    let update = tx.prepare("UPDATE alerts SET delivered = $2 WHERE alert_id = $1")?;
    let now = now_ms();
    for d in deliveries {
        let o = &d.outcome;
        let ok = i32::from(o.is_sent());
        tx.execute(
            &upsert,
            &[
                &d.alert_id,
                &d.sink,
                &now,
                &ok,
                &o.reason(),
                &o.status(),
                &ts(now),
            ],
        )?;
        if let Some(row) = tx.query_opt(&select, &[&d.alert_id])? {
            let current: String = row.get(0);
            tx.execute(
                &update,
                &[&d.alert_id, &with_delivery(&current, &d.sink, o)],
            )?;
        }
        c.deliveries += 1;
    }
    Ok(())
}

fn write_rules(
    tx: &mut Transaction,
    rules: &[RuleChange],
    c: &mut WriteCounts,
) -> Result<(), postgres::Error> {
    if rules.is_empty() {
        return Ok(());
    }
    let upsert = tx.prepare(
        "INSERT INTO alert_rules (rule_id, origin, spec, state, snoozed_until_ms, created_ms, updated_ms)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (rule_id) DO UPDATE SET
         origin = excluded.origin, spec = excluded.spec, state = excluded.state,
         snoozed_until_ms = excluded.snoozed_until_ms, updated_ms = excluded.updated_ms",
    )?;
    let delete = tx.prepare("DELETE FROM alert_rules WHERE rule_id = $1")?;
    for change in rules {
        match change {
            RuleChange::Upsert(r) => {
                // A spec is plain data: it always serializes.
                let spec = serde_json::to_string(&r.spec).unwrap_or_default();
                tx.execute(
                    &upsert,
                    &[
                        &r.rule_id,
                        &r.origin.as_str(),
                        &spec,
                        &r.state.as_str(),
                        &r.snoozed_until_ms,
                        &r.created_ms,
                        &r.updated_ms,
                    ],
                )?;
            }
            RuleChange::Delete(id) => {
                tx.execute(&delete, &[id])?;
            }
        }
        c.rules += 1;
    }
    Ok(())
}

fn write_watchlist(
    tx: &mut Transaction,
    edits: &[WatchlistEdit],
    c: &mut WriteCounts,
) -> Result<(), postgres::Error> {
    if edits.is_empty() {
        return Ok(());
    }
    let upsert = tx.prepare(
        "INSERT INTO watchlist_edits (list, venue, symbol, change, ts_ms) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (list, venue, symbol) DO UPDATE SET change = excluded.change, ts_ms = excluded.ts_ms",
    )?;
    for e in edits {
        tx.execute(
            &upsert,
            &[
                &e.list,
                &e.key.venue.as_str(),
                &e.key.symbol.as_str(),
                &if e.added { "add" } else { "remove" },
                &e.ts_ms,
            ],
        )?;
        c.rules += 1;
    }
    Ok(())
}

/// One row per level; a snapshot stored twice (a replay of the same file) is kept once.
fn write_books(
    tx: &mut Transaction,
    books: &[crate::domain::BookRecord],
    c: &mut WriteCounts,
) -> Result<(), postgres::Error> {
    if books.is_empty() {
        return Ok(());
    }
    let insert = tx.prepare(
        "INSERT INTO book_snapshots (venue, symbol, ts_ms, ts, side, level, price, qty)
         VALUES ($1, $2, $3, to_timestamp($3::bigint / 1000.0), $4, $5, $6, $7)
         ON CONFLICT DO NOTHING",
    )?;
    for b in books {
        for (side, levels) in [("bid", &b.bids), ("ask", &b.asks)] {
            for (i, l) in levels.iter().enumerate() {
                tx.execute(
                    &insert,
                    &[
                        &b.key.venue.as_str(),
                        &b.key.symbol.as_str(),
                        &b.ts_ms,
                        &side,
                        &(i as i32),
                        &l.price,
                        &l.qty,
                    ],
                )?;
                c.book_levels += 1;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_names_round_trip() {
        let day = 1_764_979_200_000 / DAY_MS; // 2025-12-06
        assert_eq!(partition_name(day), "trades_p20251206");
        assert_eq!(partition_day("trades_p20251206"), Some(day));
        assert_eq!(partition_day("trades_default"), None);
        assert_eq!(iso(day * DAY_MS), "2025-12-06 00:00:00+00");
    }
}
