//! Writes batches into one transaction with cached prepared statements. Idempotent: trades and
//! alerts already stored are ignored, candles and indicator values are replaced by the same
//! values, so replaying the same data again completes a database without duplicates.

use std::sync::LazyLock;

use rusqlite::{Connection, Statement, Transaction, TransactionBehavior, params};

use crate::alerts::DeliveryOutcome;
use crate::domain::now_ms;
use crate::domain::{
    AlertRecord, ClosedCandle, DeliveryRecord, OutputBatch, RuleChange, TradeRecord,
};

const INSERT_TRADE: &str = "INSERT OR IGNORE INTO trades
    (venue, symbol, trade_id, ts_ms, price, qty, taker_side) VALUES (?, ?, ?, ?, ?, ?, ?)";

/// Trades per multi-row INSERT: one statement step per this many rows instead of per row.
const TRADES_PER_STMT: usize = 32;

/// `INSERT_TRADE` with `TRADES_PER_STMT` rows of placeholders (only placeholders are generated,
/// never values).
static INSERT_TRADES: LazyLock<String> = LazyLock::new(|| {
    let rows = vec!["(?, ?, ?, ?, ?, ?, ?)"; TRADES_PER_STMT].join(", ");
    format!(
        "INSERT OR IGNORE INTO trades (venue, symbol, trade_id, ts_ms, price, qty, taker_side) VALUES {rows}"
    )
});

const UPSERT_CANDLE: &str = "INSERT INTO candles
    (venue, symbol, interval, open_ms, open, high, low, close, volume, trades)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
    ON CONFLICT (venue, symbol, interval, open_ms) DO UPDATE SET
    open = excluded.open, high = excluded.high, low = excluded.low, close = excluded.close,
    volume = excluded.volume, trades = excluded.trades";

const UPSERT_VALUE: &str = "INSERT INTO indicator_values
    (venue, symbol, interval, open_ms, name, value) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
    ON CONFLICT (venue, symbol, interval, open_ms, name) DO UPDATE SET value = excluded.value";

const INSERT_ALERT: &str = "INSERT OR IGNORE INTO alerts
    (alert_id, ts_ms, venue, symbol, rule, value, message, delivered, severity)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";

const UPSERT_DELIVERY: &str = "INSERT INTO alert_deliveries
    (alert_id, sink, ts_ms, ok, error, status) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
    ON CONFLICT (alert_id, sink) DO UPDATE SET
    ts_ms = excluded.ts_ms, ok = excluded.ok, error = excluded.error, status = excluded.status";

const UPSERT_RULE: &str = "INSERT INTO alert_rules
    (rule_id, origin, spec, state, snoozed_until_ms, created_ms, updated_ms)
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
    ON CONFLICT (rule_id) DO UPDATE SET
    origin = excluded.origin, spec = excluded.spec, state = excluded.state,
    snoozed_until_ms = excluded.snoozed_until_ms, updated_ms = excluded.updated_ms";

const DELETE_RULE: &str = "DELETE FROM alert_rules WHERE rule_id = ?1";

const SELECT_DELIVERED: &str = "SELECT delivered FROM alerts WHERE alert_id = ?1";
const UPDATE_DELIVERED: &str = "UPDATE alerts SET delivered = ?2 WHERE alert_id = ?1";
const SELECT_EARLIER_DELIVERIES: &str =
    "SELECT sink, status, error FROM alert_deliveries WHERE alert_id = ?1 ORDER BY ts_ms, sink";

/// What one transaction wrote.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct WriteCounts {
    /// Trade rows handed in (new and already stored).
    pub trades: u64,
    /// Trades that were already stored and so ignored.
    pub duplicate_trades: u64,
    /// Trades whose id does not fit SQLite's signed 64-bit integer (never seen from a venue).
    pub skipped_trades: u64,
    pub candles: u64,
    pub indicator_values: u64,
    pub alerts: u64,
    pub deliveries: u64,
    /// Alert rules written or deleted, and watchlist edits.
    pub rules: u64,
    /// Order book levels (`book_snapshots` rows) handed in.
    pub book_levels: u64,
}

impl WriteCounts {
    pub fn add(&mut self, o: &WriteCounts) {
        self.trades += o.trades;
        self.duplicate_trades += o.duplicate_trades;
        self.skipped_trades += o.skipped_trades;
        self.candles += o.candles;
        self.indicator_values += o.indicator_values;
        self.alerts += o.alerts;
        self.deliveries += o.deliveries;
        self.rules += o.rules;
        self.book_levels += o.book_levels;
    }
}

/// Writes `batches` in order in one `BEGIN IMMEDIATE` transaction; nothing is written if any
/// statement fails.
pub fn write_batches(
    conn: &mut Connection,
    batches: &[OutputBatch],
) -> rusqlite::Result<WriteCounts> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut counts = WriteCounts::default();
    for batch in batches {
        write_trades(&tx, &batch.trades, &mut counts)?;
        write_candles(&tx, &batch.candles, &mut counts)?;
        write_alerts(&tx, &batch.alerts, &mut counts)?;
        write_deliveries(&tx, &batch.deliveries, &mut counts)?;
        write_rules(&tx, &batch.rules, &mut counts)?;
        write_watchlist(&tx, &batch.watchlist, &mut counts)?;
        write_books(&tx, &batch.books, &mut counts)?;
        super::portfolio::write_changes(&tx, &batch.portfolio)?;
        counts.rules += batch.portfolio.len() as u64;
    }
    tx.commit()?;
    Ok(counts)
}

fn write_trades(
    tx: &Transaction,
    trades: &[TradeRecord],
    c: &mut WriteCounts,
) -> rusqlite::Result<()> {
    if trades.is_empty() {
        return Ok(());
    }
    c.trades += trades.len() as u64;
    // Ids beyond SQLite's signed 64-bit integers are skipped (and counted) rather than failing
    // the whole batch; no venue issues such ids.
    let fits = |t: &&TradeRecord| i64::try_from(t.tick.trade_id).is_ok();
    let skipped = trades.iter().filter(|t| !fits(t)).count();
    c.skipped_trades += skipped as u64;
    let mut chunk: Vec<&TradeRecord> = Vec::with_capacity(TRADES_PER_STMT);
    let mut many = tx.prepare_cached(&INSERT_TRADES)?;
    let mut one = tx.prepare_cached(INSERT_TRADE)?;
    let mut inserted = 0;
    for t in trades.iter().filter(fits) {
        chunk.push(t);
        if chunk.len() == TRADES_PER_STMT {
            inserted += insert_trades(&mut many, &chunk)?;
            chunk.clear();
        }
    }
    for t in chunk {
        inserted += insert_trades(&mut one, &[t])?;
    }
    c.duplicate_trades += (trades.len() - skipped - inserted) as u64;
    Ok(())
}

/// Binds `rows` into `stmt` (which has exactly 7 placeholders per row) and runs it; returns
/// the rows inserted (the others were already stored).
fn insert_trades(stmt: &mut Statement, rows: &[&TradeRecord]) -> rusqlite::Result<usize> {
    for (i, t) in rows.iter().enumerate() {
        let p = i * 7;
        stmt.raw_bind_parameter(p + 1, t.key.venue.as_str())?;
        stmt.raw_bind_parameter(p + 2, t.key.symbol.as_str())?;
        stmt.raw_bind_parameter(p + 3, i64::try_from(t.tick.trade_id).unwrap_or(i64::MAX))?;
        stmt.raw_bind_parameter(p + 4, t.ts_ms)?;
        stmt.raw_bind_parameter(p + 5, t.tick.price)?;
        stmt.raw_bind_parameter(p + 6, t.tick.qty)?;
        stmt.raw_bind_parameter(p + 7, t.tick.side.as_str())?;
    }
    stmt.raw_execute()
}

fn write_candles(
    tx: &Transaction,
    candles: &[ClosedCandle],
    c: &mut WriteCounts,
) -> rusqlite::Result<()> {
    if candles.is_empty() {
        return Ok(());
    }
    let mut candle_stmt = tx.prepare_cached(UPSERT_CANDLE)?;
    let mut value_stmt = tx.prepare_cached(UPSERT_VALUE)?;
    for cc in candles {
        let (venue, symbol, interval) = (
            cc.key.venue.as_str(),
            cc.key.symbol.as_str(),
            cc.interval.as_str(),
        );
        let k = &cc.candle;
        candle_stmt.execute(params![
            venue,
            symbol,
            interval,
            k.open_ms,
            k.open,
            k.high,
            k.low,
            k.close,
            k.volume,
            i64::try_from(k.trades).unwrap_or(i64::MAX),
        ])?;
        c.candles += 1;
        for (name, value) in cc.columns.iter().zip(cc.values.iter()) {
            // Undefined (warming up) and non-finite values are not stored: NaN would read back
            // as NULL and break the NOT NULL contract of the column.
            if let Some(v) = value.filter(|v| v.is_finite()) {
                value_stmt.execute(params![venue, symbol, interval, k.open_ms, name, v])?;
                c.indicator_values += 1;
            }
        }
    }
    Ok(())
}

fn write_alerts(
    tx: &Transaction,
    alerts: &[AlertRecord],
    c: &mut WriteCounts,
) -> rusqlite::Result<()> {
    if alerts.is_empty() {
        return Ok(());
    }
    let mut stmt = tx.prepare_cached(INSERT_ALERT)?;
    let mut earlier = tx.prepare_cached(SELECT_EARLIER_DELIVERIES)?;
    let mut update = tx.prepare_cached(UPDATE_DELIVERED)?;
    for a in alerts {
        let inserted = stmt.execute(params![
            a.alert_id,
            a.ts_ms,
            a.key.venue.as_str(),
            a.key.symbol.as_str(),
            a.rule,
            a.value.is_finite().then_some(a.value),
            a.message,
            a.delivered,
            a.severity.as_str(),
        ])?;
        if inserted == 1 {
            // The notifier may have delivered (and recorded) the alert before the engine's batch
            // with the alert itself was written: fold those outcomes in now.
            let done = earlier
                .query_map([&a.alert_id], |r| {
                    let outcome = DeliveryOutcome::from_stored(&r.get::<_, String>(1)?, r.get(2)?);
                    Ok((r.get::<_, String>(0)?, outcome))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            if !done.is_empty() {
                let delivered = done
                    .iter()
                    .fold(a.delivered.clone(), |acc, (sink, outcome)| {
                        with_delivery(&acc, sink, outcome)
                    });
                update.execute(params![a.alert_id, delivered])?;
            }
        }
        c.alerts += 1;
    }
    Ok(())
}

fn write_deliveries(
    tx: &Transaction,
    deliveries: &[DeliveryRecord],
    c: &mut WriteCounts,
) -> rusqlite::Result<()> {
    if deliveries.is_empty() {
        return Ok(());
    }
    let mut upsert = tx.prepare_cached(UPSERT_DELIVERY)?;
    let mut select = tx.prepare_cached(SELECT_DELIVERED)?;
    let mut update = tx.prepare_cached(UPDATE_DELIVERED)?;
    let now = now_ms();
    for d in deliveries {
        let o = &d.outcome;
        upsert.execute(params![
            d.alert_id,
            d.sink,
            now,
            o.is_sent(),
            o.reason(),
            o.status()
        ])?;
        let current: Option<String> = select
            .query_map([&d.alert_id], |r| r.get(0))?
            .next()
            .transpose()?;
        // A delivery for an alert that was never stored (its batch dropped) keeps its row in
        // alert_deliveries; there is no alert line to annotate.
        if let Some(current) = current {
            update.execute(params![
                d.alert_id,
                with_delivery(&current, &d.sink, &d.outcome)
            ])?;
        }
        c.deliveries += 1;
    }
    Ok(())
}

const UPSERT_WATCH: &str = "INSERT INTO watchlist_edits (list, venue, symbol, change, ts_ms)
     VALUES (?1, ?2, ?3, ?4, ?5)
     ON CONFLICT (list, venue, symbol) DO UPDATE SET change = excluded.change, ts_ms = excluded.ts_ms";

fn write_watchlist(
    tx: &Transaction,
    edits: &[crate::domain::WatchlistEdit],
    c: &mut WriteCounts,
) -> rusqlite::Result<()> {
    if edits.is_empty() {
        return Ok(());
    }
    let mut upsert = tx.prepare_cached(UPSERT_WATCH)?;
    for e in edits {
        upsert.execute(params![
            e.list,
            e.key.venue.as_str(),
            e.key.symbol.as_str(),
            if e.added { "add" } else { "remove" },
            e.ts_ms,
        ])?;
        c.rules += 1;
    }
    Ok(())
}

const INSERT_BOOK_LEVEL: &str = "INSERT OR IGNORE INTO book_snapshots
    (venue, symbol, ts_ms, side, level, price, qty) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";

/// One row per level; a snapshot stored twice (a replay of the same file) is kept once.
fn write_books(
    tx: &Transaction,
    books: &[crate::domain::BookRecord],
    c: &mut WriteCounts,
) -> rusqlite::Result<()> {
    if books.is_empty() {
        return Ok(());
    }
    let mut insert = tx.prepare_cached(INSERT_BOOK_LEVEL)?;
    for b in books {
        for (side, levels) in [("bid", &b.bids), ("ask", &b.asks)] {
            for (i, l) in levels.iter().enumerate() {
                insert.execute(params![
                    b.key.venue.as_str(),
                    b.key.symbol.as_str(),
                    b.ts_ms,
                    side,
                    i as i64,
                    l.price,
                    l.qty,
                ])?;
                c.book_levels += 1;
            }
        }
    }
    Ok(())
}

fn write_rules(
    tx: &Transaction,
    rules: &[RuleChange],
    c: &mut WriteCounts,
) -> rusqlite::Result<()> {
    if rules.is_empty() {
        return Ok(());
    }
    let mut upsert = tx.prepare_cached(UPSERT_RULE)?;
    let mut delete = tx.prepare_cached(DELETE_RULE)?;
    for change in rules {
        match change {
            RuleChange::Upsert(r) => {
                // A spec is plain data (strings, numbers, enums): it always serializes.
                let spec = serde_json::to_string(&r.spec)
                    .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
                upsert.execute(params![
                    r.rule_id,
                    r.origin.as_str(),
                    spec,
                    r.state.as_str(),
                    r.snoozed_until_ms,
                    r.created_ms,
                    r.updated_ms,
                ])?;
            }
            RuleChange::Delete(id) => {
                delete.execute([id])?;
            }
        }
        c.rules += 1;
    }
    Ok(())
}

/// The `delivered` list with `sink`'s entry replaced by its latest outcome, so that recording
/// the same outcome twice changes nothing. Entries are `sink` (sent), `sink(failed: reason)`
/// or `sink(skipped: reason)`; the reason is kept free of the list's separators.
pub fn with_delivery(current: &str, sink: &str, outcome: &DeliveryOutcome) -> String {
    let entry = match outcome.reason() {
        None => sink.to_string(),
        Some(e) => {
            let reason: String = e
                .chars()
                .map(|ch| match ch {
                    ',' => ';',
                    '(' => '[',
                    ')' => ']',
                    '\n' | '\r' => ' ',
                    ch => ch,
                })
                .take(200)
                .collect();
            format!("{sink}({}: {reason})", outcome.status())
        }
    };
    let mut parts: Vec<&str> = current
        .split(',')
        .filter(|p| !p.is_empty() && p.split('(').next() != Some(sink))
        .collect();
    parts.push(&entry);
    parts.join(",")
}

#[cfg(test)]
mod tests {
    use super::with_delivery;
    use crate::alerts::DeliveryOutcome::{Failed, Sent, Skipped};

    #[test]
    fn delivered_list_replaces_the_sinks_entry() {
        assert_eq!(with_delivery("", "tui", &Sent), "tui");
        assert_eq!(with_delivery("tui", "desktop", &Sent), "tui,desktop");
        let failed = with_delivery("tui", "webhook", &Failed("HTTP 500 (a, b)".into()));
        assert_eq!(failed, "tui,webhook(failed: HTTP 500 [a; b])");
        assert_eq!(with_delivery(&failed, "webhook", &Sent), "tui,webhook");
        assert_eq!(
            with_delivery("tui,desktop", "desktop", &Sent),
            "tui,desktop"
        );
        assert_eq!(
            with_delivery("tui", "email", &Skipped("dedupe (15 s)".into())),
            "tui,email(skipped: dedupe [15 s])"
        );
    }
}
