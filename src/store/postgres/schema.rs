//! The PostgreSQL schema: the same tables and columns as SQLite (see `SCHEMA_DOC`) plus a
//! `ts timestamptz` column on every time-keyed table for Grafana and pandas; trades partitioned
//! by day. Versioned migrations in `tickwatch_schema`, applied under an advisory lock so that
//! several recorders starting at once migrate once.

use postgres::Client;

use super::connect::query_error;
use crate::store::{PgTarget, StoreError};

/// Migration scripts in order; `tickwatch_schema.version` is the number applied. Never edit a
/// released script: append a new one.
pub const MIGRATIONS: &[&str] = &[
    // 1: everything SQLite has at its version 4.
    "
    CREATE TABLE trades (
        venue      text             NOT NULL,
        symbol     text             NOT NULL,
        trade_id   bigint           NOT NULL,
        ts_ms      bigint           NOT NULL,
        price      double precision NOT NULL,
        qty        double precision NOT NULL,
        taker_side text             NOT NULL,
        ts         timestamptz      NOT NULL,
        PRIMARY KEY (venue, symbol, trade_id, ts)
    ) PARTITION BY RANGE (ts);
    CREATE INDEX trades_by_time ON trades (venue, symbol, ts_ms);

    CREATE TABLE candles (
        venue    text             NOT NULL,
        symbol   text             NOT NULL,
        interval text             NOT NULL,
        open_ms  bigint           NOT NULL,
        open     double precision NOT NULL,
        high     double precision NOT NULL,
        low      double precision NOT NULL,
        close    double precision NOT NULL,
        volume   double precision NOT NULL,
        trades   bigint           NOT NULL,
        ts       timestamptz      NOT NULL,
        PRIMARY KEY (venue, symbol, interval, open_ms)
    );
    CREATE INDEX candles_by_symbol ON candles (symbol, interval, open_ms);

    CREATE TABLE indicator_values (
        venue    text             NOT NULL,
        symbol   text             NOT NULL,
        interval text             NOT NULL,
        open_ms  bigint           NOT NULL,
        name     text             NOT NULL,
        value    double precision NOT NULL,
        ts       timestamptz      NOT NULL,
        PRIMARY KEY (venue, symbol, interval, open_ms, name)
    );

    CREATE TABLE alerts (
        alert_id  text             NOT NULL PRIMARY KEY,
        ts_ms     bigint           NOT NULL,
        venue     text             NOT NULL,
        symbol    text             NOT NULL,
        rule      text             NOT NULL,
        value     double precision,
        message   text             NOT NULL,
        delivered text             NOT NULL DEFAULT '',
        severity  text             NOT NULL DEFAULT 'warning',
        ts        timestamptz      NOT NULL
    );
    CREATE INDEX alerts_by_time ON alerts (ts_ms);
    CREATE INDEX alerts_by_rule ON alerts (rule, ts_ms);

    CREATE TABLE alert_deliveries (
        alert_id text        NOT NULL,
        sink     text        NOT NULL,
        ts_ms    bigint      NOT NULL,
        ok       integer     NOT NULL,
        error    text,
        status   text        NOT NULL DEFAULT 'failed'
                 CHECK (status IN ('sent', 'failed', 'skipped')),
        ts       timestamptz NOT NULL,
        PRIMARY KEY (alert_id, sink)
    );

    CREATE TABLE alert_rules (
        rule_id          text   NOT NULL PRIMARY KEY,
        origin           text   NOT NULL DEFAULT 'monitor',
        spec             text   NOT NULL,
        state            text   NOT NULL DEFAULT 'armed',
        snoozed_until_ms bigint,
        created_ms       bigint NOT NULL,
        updated_ms       bigint NOT NULL
    );

    CREATE TABLE watchlist_edits (
        list    text   NOT NULL,
        venue   text   NOT NULL,
        symbol  text   NOT NULL,
        change  text   NOT NULL CHECK (change IN ('add', 'remove')),
        ts_ms   bigint NOT NULL,
        PRIMARY KEY (list, venue, symbol)
    );

    CREATE VIEW candles_with_indicators AS
    SELECT c.venue, c.symbol, c.interval, c.open_ms, c.ts,
           c.open, c.high, c.low, c.close, c.volume, c.trades,
           (SELECT jsonb_object_agg(i.name, i.value) FROM indicator_values i
             WHERE i.venue = c.venue AND i.symbol = c.symbol
               AND i.interval = c.interval AND i.open_ms = c.open_ms) AS indicators
    FROM candles c;
    ",
    // 2: the top levels of local order books (SQLite's version 5).
    "
    CREATE TABLE book_snapshots (
        venue   text             NOT NULL,
        symbol  text             NOT NULL,
        ts_ms   bigint           NOT NULL,
        ts      timestamptz      NOT NULL,
        side    text             NOT NULL CHECK (side IN ('bid', 'ask')),
        level   integer          NOT NULL,
        price   double precision NOT NULL,
        qty     double precision NOT NULL,
        PRIMARY KEY (venue, symbol, ts_ms, side, level)
    );
    ",
    // 3: the portfolio's ledger (SQLite's version 6).
    "
    CREATE TABLE portfolio_entries (
        entry_id  text             NOT NULL PRIMARY KEY,
        source    text             NOT NULL,
        ts_ms     bigint           NOT NULL,
        ts        timestamptz      NOT NULL,
        action    text             NOT NULL CHECK (action IN ('buy', 'sell', 'deposit', 'withdrawal')),
        asset     text             NOT NULL,
        qty       double precision NOT NULL,
        quote     text,
        price     double precision,
        fee       double precision NOT NULL DEFAULT 0,
        fee_asset text,
        venue     text,
        symbol    text,
        added_ms  bigint           NOT NULL
    );
    ",
];

/// The schema version this binary writes.
pub const SCHEMA_VERSION: i32 = MIGRATIONS.len() as i32;

/// Key of the advisory lock that serializes migrations and partition creation between
/// processes ("tickwatc" in ASCII).
pub const LOCK_KEY: i64 = 0x7469_636b_7761_7463;

/// The applied version, or `None` when the database holds no tickwatch schema.
pub fn version(client: &mut Client) -> Result<Option<i32>, postgres::Error> {
    let exists: bool = client
        .query_one("SELECT to_regclass('tickwatch_schema') IS NOT NULL", &[])?
        .get(0);
    if !exists {
        return Ok(None);
    }
    let row = client.query_opt("SELECT max(version) FROM tickwatch_schema", &[])?;
    Ok(row.and_then(|r| r.get::<_, Option<i32>>(0)))
}

/// Brings the database up to [`SCHEMA_VERSION`], refusing a newer one, each migration in its own
/// transaction with its version row.
pub fn migrate(client: &mut Client, t: &PgTarget) -> Result<(), StoreError> {
    let err = |e: postgres::Error| migrate_error(t, &e);
    if let Some(found) = version(client).map_err(err)?
        && found > SCHEMA_VERSION
    {
        return Err(newer(t, found));
    }
    if version(client).map_err(err)? == Some(SCHEMA_VERSION) {
        return Ok(());
    }
    client
        .execute("SELECT pg_advisory_lock($1)", &[&LOCK_KEY])
        .map_err(err)?;
    let result = migrate_locked(client, t);
    let _ = client.execute("SELECT pg_advisory_unlock($1)", &[&LOCK_KEY]);
    result
}

fn migrate_locked(client: &mut Client, t: &PgTarget) -> Result<(), StoreError> {
    let err = |e: postgres::Error| migrate_error(t, &e);
    client
        .batch_execute("CREATE TABLE IF NOT EXISTS tickwatch_schema (version integer NOT NULL)")
        .map_err(err)?;
    loop {
        let current = version(client).map_err(err)?.unwrap_or(0);
        if current > SCHEMA_VERSION {
            return Err(newer(t, current));
        }
        let Some(script) = usize::try_from(current)
            .ok()
            .and_then(|v| MIGRATIONS.get(v))
        else {
            return Ok(());
        };
        let mut tx = client.transaction().map_err(err)?;
        tx.batch_execute(script).map_err(err)?;
        tx.execute(
            "INSERT INTO tickwatch_schema (version) VALUES ($1)",
            &[&(current + 1)],
        )
        .map_err(err)?;
        tx.commit().map_err(err)?;
        tracing::info!(db = %t.shown(), version = current + 1, "database migrated");
    }
}

fn newer(t: &PgTarget, found: i32) -> StoreError {
    StoreError::Postgres {
        shown: t.shown().to_string(),
        what: format!(
            "schema version {found} is newer than this tickwatch knows ({SCHEMA_VERSION}): upgrade tickwatch or name another database"
        ),
    }
}

fn migrate_error(t: &PgTarget, e: &postgres::Error) -> StoreError {
    if let Some(db) = e.as_db_error()
        && (*db.code() == postgres::error::SqlState::INSUFFICIENT_PRIVILEGE
            || *db.code() == postgres::error::SqlState::READ_ONLY_SQL_TRANSACTION)
    {
        return StoreError::Postgres {
            shown: t.shown().to_string(),
            what: format!(
                "user {:?} may not create tickwatch's tables ({}): run `tickwatch record` once as the database owner, or grant this user CREATE on the schema",
                t.user,
                db.message()
            ),
        };
    }
    query_error(t, "setting up the schema", e)
}

/// Checks, for a reader, that the database holds a schema this binary reads.
pub fn check_readable(client: &mut Client, t: &PgTarget) -> Result<(), StoreError> {
    match version(client).map_err(|e| query_error(t, "reading the schema version", &e))? {
        None => Err(StoreError::NoHistory {
            shown: t.shown().to_string(),
        }),
        Some(v) if v > SCHEMA_VERSION => Err(newer(t, v)),
        Some(v) if v < SCHEMA_VERSION => Err(StoreError::Postgres {
            shown: t.shown().to_string(),
            what: format!(
                "schema version {v}, expected {SCHEMA_VERSION}: run `tickwatch record --db {}` once to migrate it",
                t.shown()
            ),
        }),
        Some(_) => Ok(()),
    }
}

/// The reference of the PostgreSQL differences, in Markdown, for the README.
pub const SCHEMA_DOC: &str = r#"### PostgreSQL

`--db postgres://USER@HOST:PORT/DBNAME` (or `[storage] db = "postgres://…"`) stores the same tables
and columns as SQLite, with PostgreSQL types (`bigint` for `*_ms` and ids, `double precision`
for prices and values, `text`), plus a **`ts timestamptz`** column on `trades` (trade time),
`candles` and `indicator_values` (candle open time), `alerts` (fired) and `alert_deliveries`
(recorded), `book_snapshots` and `portfolio_entries`, for Grafana's time filters and `pandas.read_sql`. `alert_deliveries.ok` is an
`integer` 0/1 as in SQLite. The view `candles_with_indicators` carries `indicators` as `jsonb`.

- **Schema version** is the highest row of `tickwatch_schema`; tickwatch migrates older
  databases forward (under an advisory lock, so several recorders may start at once) and refuses
  newer ones.
- **`trades` is partitioned by day** on `ts` (`trades_pYYYYMMDD`, created ahead of time and on
  demand for older data). Its primary key is `(venue, symbol, trade_id, ts)`: a trade stored
  twice (a repeated replay, two recorders of the same symbols) is kept once.
- **Retention**: `[storage] retention_days = N` drops whole trade partitions older than N days
  (about once a minute while `record` or the monitor writes). Candles, indicator values and
  alerts are kept.
- **Password**: from `PGPASSWORD` or the password file (`PGPASSFILE`, default `~/.pgpass`, mode
  0600), never from the URL (a URL with a password is refused: command lines are visible to
  every user of the machine). No message or log shows it.
"#;
