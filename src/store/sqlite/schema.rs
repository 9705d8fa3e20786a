//! The database schema: versioned migrations keyed on `PRAGMA user_version`, and its
//! documentation (the database is a public interface: sqlite3, pandas and Grafana read it).

use std::path::Path;

use rusqlite::{Connection, TransactionBehavior};

use crate::store::StoreError;

/// Migration scripts in order; the database's `user_version` is the number applied. Never edit
/// a released script: append a new one.
pub const MIGRATIONS: &[&str] = &[
    // 1: trades, candles, indicator values, alerts and their deliveries.
    "
    CREATE TABLE trades (
        venue      TEXT    NOT NULL,
        symbol     TEXT    NOT NULL,
        trade_id   INTEGER NOT NULL,
        ts_ms      INTEGER NOT NULL,
        price      REAL    NOT NULL,
        qty        REAL    NOT NULL,
        taker_side TEXT    NOT NULL,
        PRIMARY KEY (venue, symbol, trade_id)
    ) WITHOUT ROWID;
    CREATE INDEX trades_by_time ON trades (venue, symbol, ts_ms);

    CREATE TABLE candles (
        venue    TEXT    NOT NULL,
        symbol   TEXT    NOT NULL,
        interval TEXT    NOT NULL,
        open_ms  INTEGER NOT NULL,
        open     REAL    NOT NULL,
        high     REAL    NOT NULL,
        low      REAL    NOT NULL,
        close    REAL    NOT NULL,
        volume   REAL    NOT NULL,
        trades   INTEGER NOT NULL,
        PRIMARY KEY (venue, symbol, interval, open_ms)
    ) WITHOUT ROWID;
    CREATE INDEX candles_by_symbol ON candles (symbol, interval, open_ms);

    CREATE TABLE indicator_values (
        venue    TEXT    NOT NULL,
        symbol   TEXT    NOT NULL,
        interval TEXT    NOT NULL,
        open_ms  INTEGER NOT NULL,
        name     TEXT    NOT NULL,
        value    REAL    NOT NULL,
        PRIMARY KEY (venue, symbol, interval, open_ms, name)
    ) WITHOUT ROWID;

    CREATE TABLE alerts (
        alert_id  TEXT    NOT NULL PRIMARY KEY,
        ts_ms     INTEGER NOT NULL,
        venue     TEXT    NOT NULL,
        symbol    TEXT    NOT NULL,
        rule      TEXT    NOT NULL,
        value     REAL,
        message   TEXT    NOT NULL,
        delivered TEXT    NOT NULL DEFAULT ''
    );
    CREATE INDEX alerts_by_time ON alerts (ts_ms);

    CREATE TABLE alert_deliveries (
        alert_id TEXT    NOT NULL,
        sink     TEXT    NOT NULL,
        ts_ms    INTEGER NOT NULL,
        ok       INTEGER NOT NULL,
        error    TEXT,
        PRIMARY KEY (alert_id, sink)
    ) WITHOUT ROWID;

    CREATE VIEW candles_with_indicators AS
    SELECT c.venue, c.symbol, c.interval, c.open_ms,
           c.open, c.high, c.low, c.close, c.volume, c.trades,
           (SELECT json_group_object(i.name, i.value) FROM indicator_values i
             WHERE i.venue = c.venue AND i.symbol = c.symbol
               AND i.interval = c.interval AND i.open_ms = c.open_ms) AS indicators
    FROM candles c;
    ",
    // 2: alert severity; rules created in the monitor, with their lifecycle state.
    "
    ALTER TABLE alerts ADD COLUMN severity TEXT NOT NULL DEFAULT 'warning';

    CREATE TABLE alert_rules (
        rule_id          TEXT    NOT NULL PRIMARY KEY,
        origin           TEXT    NOT NULL DEFAULT 'monitor',
        spec             TEXT    NOT NULL,
        state            TEXT    NOT NULL DEFAULT 'armed',
        snoozed_until_ms INTEGER,
        created_ms       INTEGER NOT NULL,
        updated_ms       INTEGER NOT NULL
    );
    ",
    // 3: symbols added to and removed from watchlists in the monitor.
    "
    CREATE TABLE watchlist_edits (
        list    TEXT    NOT NULL,
        venue   TEXT    NOT NULL,
        symbol  TEXT    NOT NULL,
        change  TEXT    NOT NULL CHECK (change IN ('add', 'remove')),
        ts_ms   INTEGER NOT NULL,
        PRIMARY KEY (list, venue, symbol)
    ) WITHOUT ROWID;
    ",
    // 4: a delivery outcome is sent, failed or skipped. Earlier versions stored skips (dedupe)
    // as failures whose error began with "skipped: ": they become skips, here and in the
    // alerts' `delivered` lists.
    "
    ALTER TABLE alert_deliveries ADD COLUMN status TEXT NOT NULL DEFAULT 'failed'
        CHECK (status IN ('sent', 'failed', 'skipped'));
    UPDATE alert_deliveries SET status = 'sent' WHERE ok <> 0;
    UPDATE alert_deliveries SET status = 'skipped', error = substr(error, 10)
        WHERE ok = 0 AND error LIKE 'skipped: %';
    UPDATE alerts SET delivered = replace(delivered, '(failed: skipped: ', '(skipped: ')
        WHERE delivered LIKE '%(failed: skipped: %';
    ",
    // 5: the top levels of local order books (`[storage] book_snapshot_secs`).
    "
    CREATE TABLE book_snapshots (
        venue   TEXT    NOT NULL,
        symbol  TEXT    NOT NULL,
        ts_ms   INTEGER NOT NULL,
        side    TEXT    NOT NULL CHECK (side IN ('bid', 'ask')),
        level   INTEGER NOT NULL,
        price   REAL    NOT NULL,
        qty     REAL    NOT NULL,
        PRIMARY KEY (venue, symbol, ts_ms, side, level)
    ) WITHOUT ROWID;
    ",
    // 6: the portfolio's ledger: entries imported or made in the monitor.
    "
    CREATE TABLE portfolio_entries (
        entry_id  TEXT    NOT NULL PRIMARY KEY,
        source    TEXT    NOT NULL,
        ts_ms     INTEGER NOT NULL,
        action    TEXT    NOT NULL CHECK (action IN ('buy', 'sell', 'deposit', 'withdrawal')),
        asset     TEXT    NOT NULL,
        qty       REAL    NOT NULL,
        quote     TEXT,
        price     REAL,
        fee       REAL    NOT NULL DEFAULT 0,
        fee_asset TEXT,
        venue     TEXT,
        symbol    TEXT,
        added_ms  INTEGER NOT NULL
    );
    CREATE INDEX portfolio_entries_by_time ON portfolio_entries (ts_ms);
    ",
];

/// The schema version this binary writes (the number of migrations).
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Brings the database at `path` (already open on `conn`) up to [`SCHEMA_VERSION`], each
/// migration in its own transaction together with its `user_version` bump. The first step is a
/// write lock (`BEGIN IMMEDIATE`) so that a database held by another writer, or a read-only
/// one, is reported here rather than at the first batch.
pub fn migrate(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let err = |e| StoreError::from_sqlite(path, e);
    loop {
        let tx = conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(err)?;
        let version: i64 = tx
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(err)?;
        if version > SCHEMA_VERSION {
            return Err(StoreError::NewerSchema {
                path: path.to_path_buf(),
                found: version,
                known: SCHEMA_VERSION,
            });
        }
        let Some(script) = usize::try_from(version)
            .ok()
            .and_then(|v| MIGRATIONS.get(v))
        else {
            // Up to date (or a negative version, which no tickwatch writes: leave it alone and
            // let the first statement on a missing table say so).
            return tx.commit().map_err(err);
        };
        tx.execute_batch(script).map_err(err)?;
        tx.pragma_update(None, "user_version", version + 1)
            .map_err(err)?;
        tx.commit().map_err(err)?;
        tracing::info!(path = %path.display(), version = version + 1, "database migrated");
    }
}

/// The reference of every table and column, in Markdown, for the README.
pub const SCHEMA_DOC: &str = r#"### Database schema (version 6)

One SQLite file (WAL mode), default `<data dir>/tickwatch/tickwatch.db` (Linux:
`~/.local/share/tickwatch/tickwatch.db`); the demo writes to `demo.db` and replays to `replay.db`
beside it unless `--db PATH` says otherwise. `PRAGMA user_version` is the schema version; tickwatch
migrates older files forward and refuses newer ones. Columns are stable: new versions only add.

Conventions: every `*_ms` column is milliseconds since the Unix epoch, UTC
(`datetime(ts_ms / 1000, 'unixepoch')` in sqlite3, `pd.to_datetime(df.ts_ms, unit="ms")` in
pandas). `venue` is one of `binance`, `binance-futures`, `coinbase`, `alphavantage`, `sim`.
`symbol` is the venue's symbol, upper-case (`BTCUSDT`, `BTC-USD`, `AAPL`). `interval` is one of
`1s`, `1m`, `5m`, `15m`, `1h`, `4h`, `1d`. Prices are in the quote currency, quantities and
volumes in the base asset.

**`trades`** — every trade received; one row per (venue, symbol, trade_id).

| column | type | meaning |
|---|---|---|
| venue | TEXT | where the trade happened |
| symbol | TEXT | instrument |
| trade_id | INTEGER | the venue's trade id (Binance aggTrade: the aggregate id) |
| ts_ms | INTEGER | exchange time of the trade |
| price | REAL | trade price |
| qty | REAL | trade quantity |
| taker_side | TEXT | `buy`: the buyer was the taker (price lifted); `sell`: the seller was the taker (price hit); `unknown` when the venue does not say |

**`candles`** — OHLCV candles, written when a candle closes; one row per (venue, symbol,
interval, open_ms).

| column | type | meaning |
|---|---|---|
| venue, symbol | TEXT | instrument |
| interval | TEXT | candle length |
| open_ms | INTEGER | start of the candle (UTC-aligned); it covers `[open_ms, open_ms + length)` |
| open, high, low, close | REAL | prices |
| volume | REAL | traded base quantity |
| trades | INTEGER | number of trades (0 for a flat candle carried through a period without trades) |

**`indicator_values`** — indicator values at the close of each candle, long format: one row
per (venue, symbol, interval, open_ms, name). Only defined values are stored (none while an
indicator warms up). Join to `candles` on (venue, symbol, interval, open_ms).

| column | type | meaning |
|---|---|---|
| venue, symbol, interval, open_ms | | the candle |
| name | TEXT | indicator column, as shown on screen (e.g. `rsi14`, `ema20`, `macd`, `bb20_upper`, `z`) |
| value | REAL | its value at the candle's close |

**`candles_with_indicators`** (view) — `candles` plus `indicators`, a JSON object of that
candle's values (`{"rsi14":55.1,...}`), e.g.
`SELECT open_ms, close, indicators ->> 'rsi14' FROM candles_with_indicators WHERE symbol = 'BTCUSDT' AND interval = '1m'`.

**`alerts`** — every alert fired.

| column | type | meaning |
|---|---|---|
| alert_id | TEXT | unique id, stable for (time, venue, symbol, rule) |
| ts_ms | INTEGER | when the alert fired (time of the triggering data) |
| venue, symbol | TEXT | instrument |
| rule | TEXT | the rule that fired, as written in the config |
| value | REAL | the value that crossed the threshold (NULL if not a number) |
| message | TEXT | the text shown and sent |
| delivered | TEXT | where it went, comma-separated: `tui,desktop`; a failed sink reads `webhook:ops(failed: reason)`, a skipped one `email(skipped: reason)` |
| severity | TEXT | `info`, `warning` or `critical` (added in version 2) |

**`alert_deliveries`** — the outcome of each alert at each notification sink that takes its
severity: one row per (alert_id, sink).

| column | type | meaning |
|---|---|---|
| alert_id | TEXT | `alerts.alert_id` |
| sink | TEXT | `desktop`, `terminal`, `webhook:NAME`, `email`, `command:NAME` |
| ts_ms | INTEGER | when the outcome was recorded |
| ok | INTEGER | 1 sent, 0 failed or skipped |
| error | TEXT | why it failed or was skipped, NULL when sent |
| status | TEXT | `sent`, `failed` (the sink could not take it) or `skipped` (not sent: dedupe, rate limit, a full queue, or tickwatch stopped first) (added in version 4) |

**`alert_rules`** (version 2) — alert rules and their lifecycle state, so that rules made in
the monitor, snoozes and acknowledgements survive a restart. Rules from `config.toml` are
defined by the config file; their rows here only carry their state.

| column | type | meaning |
|---|---|---|
| rule_id | TEXT | the rule's name, unique |
| origin | TEXT | `monitor` (made in the monitor) or `config` (from config.toml) |
| spec | TEXT | the rule as JSON, with the same keys as an `[[alerts]]` entry in config.toml |
| state | TEXT | `armed`, `triggered`, `snoozed` or `expired` |
| snoozed_until_ms | INTEGER | end of a snooze, NULL when not snoozed |
| created_ms, updated_ms | INTEGER | when the rule was created and last changed |

**`watchlist_edits`** (version 3) — symbols added to or removed from a watchlist in the monitor
(`a` and `Del`), applied over config.toml at the next start; one row per (list, venue, symbol),
the latest change winning.

| column | type | meaning |
|---|---|---|
| list | TEXT | the watchlist's name; `all` is the list of every subscribed symbol |
| venue, symbol | TEXT | instrument |
| change | TEXT | `add` or `remove` |
| ts_ms | INTEGER | when it was made |

**`book_snapshots`** (version 5) — the top levels of each local order book (`[<venue>] depth =
true`), stored every `[storage] book_snapshot_secs` seconds (0, the default: none) while the book
is in sync; a book that lost updates is never stored. One row per level; `tickwatch export
--book` writes them out and `tickwatch replay` plays such a file back.

| column | type | meaning |
|---|---|---|
| venue, symbol | TEXT | instrument |
| ts_ms | INTEGER | when the book was published (local time, ms since the Unix epoch) |
| side | TEXT | `bid` or `ask` |
| level | INTEGER | 0 is the best price of the side, 1 the next, up to `book_snapshot_levels` − 1 |
| price, qty | REAL | the level's price and size (base units) |

**`portfolio_entries`** (version 6) — the portfolio's ledger as imported (`tickwatch portfolio
import`) or entered in the monitor; entries written in config.toml are not stored (the file
defines them). Importing a file again adds nothing: each entry's id is the exchange's, or a
digest of its row.

| column | type | meaning |
|---|---|---|
| entry_id | TEXT | stable identity, unique |
| source | TEXT | where it came from: `monitor`, `binance-trades:FILE`, `coinbase:FILE` |
| ts_ms | INTEGER | when it happened |
| action | TEXT | `buy`, `sell`, `deposit` or `withdrawal` |
| asset | TEXT | the asset bought, sold, deposited or withdrawn (`BTC`, `USD`, `AAPL`) |
| qty | REAL | how much of it, above zero |
| quote | TEXT | buy and sell: the asset paid or received (`USDT`) |
| price | REAL | buy and sell: one `asset` in `quote`; deposit: its cost per unit in the base currency, when known |
| fee, fee_asset | REAL, TEXT | the fee and the asset it was paid in |
| venue, symbol | TEXT | the market traded, when known |
| added_ms | INTEGER | when it was added |
"#;
