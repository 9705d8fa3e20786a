//! Where the database lives and how a connection to it is opened and tuned.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::StoreError;
use super::schema;

/// How long a statement waits for another connection's lock before failing with "locked".
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(2);

/// `<platform data dir>/tickwatch/tickwatch.db` (Linux: `~/.local/share/tickwatch/`), or
/// `./tickwatch.db` when the platform has no home directory.
pub fn default_db_path() -> PathBuf {
    data_dir().join("tickwatch.db")
}

/// `demo.db` beside the default database: simulated and replayed data go there so they never
/// mix with recorded history unless the user points `--db` at it.
pub fn demo_db_path() -> PathBuf {
    data_dir().join("demo.db")
}

/// Where replays write unless `--db` says otherwise: kept apart from the live history.
pub fn replay_db_path() -> PathBuf {
    data_dir().join("replay.db")
}

fn data_dir() -> PathBuf {
    directories::ProjectDirs::from("", "", "tickwatch")
        .map(|d| d.data_dir().to_path_buf())
        .unwrap_or_else(|| PathBuf::from("."))
}

/// Opens (creating it and its directory if needed) the database for writing: WAL,
/// `synchronous=NORMAL` (a crash loses at most the last commits, never consistency), a busy
/// timeout, and migrations. Errors are sorted into read-only, locked, newer schema, I/O.
pub fn open(path: &Path) -> Result<Connection, StoreError> {
    open_with_flags(path, OpenFlags::default())
}

/// [`open`] with explicit SQLite open flags (e.g. `SQLITE_OPEN_READ_ONLY` to check how a
/// write-protected file is reported even when running as root, which ignores file modes).
pub fn open_with_flags(path: &Path, flags: OpenFlags) -> Result<Connection, StoreError> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
            path: path.to_path_buf(),
            source,
        })?;
    }
    let err = |e| StoreError::from_sqlite(path, e);
    let mut conn = Connection::open_with_flags(path, flags).map_err(err)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(err)?;
    // SQLite silently falls back to read-only on a write-protected file; say so now rather
    // than at the first batch.
    if conn.is_readonly("main").map_err(err)? {
        return Err(StoreError::ReadOnly {
            path: path.to_path_buf(),
            detail: "the file or its directory is write-protected".to_string(),
        });
    }
    // Larger pages mean fewer page splits on the append-heavy trade b-trees. It only takes
    // effect on a new, empty file (before WAL is switched on) and is ignored otherwise.
    conn.pragma_update(None, "page_size", 16384).map_err(err)?;
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))
        .map_err(err)?;
    if !mode.eq_ignore_ascii_case("wal") {
        tracing::warn!(path = %path.display(), mode, "database is not in WAL mode");
    }
    tune(&conn).map_err(err)?;
    schema::migrate(&mut conn, path)?;
    Ok(conn)
}

/// Per-connection settings for the write path. NORMAL sync in WAL mode fsyncs only at
/// checkpoints: a power cut may lose the last commits but never corrupts the file.
fn tune(conn: &Connection) -> rusqlite::Result<()> {
    conn.execute_batch(
        "PRAGMA synchronous = NORMAL;
         PRAGMA foreign_keys = ON;
         PRAGMA temp_store = MEMORY;
         PRAGMA cache_size = -32768;",
    )?;
    conn.set_prepared_statement_cache_capacity(32);
    Ok(())
}

/// Opens an existing database for reading (export, list, history backfill). A missing file is
/// an error that says how to create one, not a new empty database.
pub fn open_readonly(path: &Path) -> Result<Connection, StoreError> {
    if !path.exists() {
        return Err(StoreError::NotFound {
            path: path.to_path_buf(),
        });
    }
    let err = |e| StoreError::from_sqlite(path, e);
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(err)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(err)?;
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(err)?;
    if version > schema::SCHEMA_VERSION {
        return Err(StoreError::NewerSchema {
            path: path.to_path_buf(),
            found: version,
            known: schema::SCHEMA_VERSION,
        });
    }
    if version < schema::SCHEMA_VERSION {
        return Err(StoreError::NotADatabase {
            path: path.to_path_buf(),
            detail: format!(
                "schema version {version}, expected {}; open it once with `tickwatch record --db` to migrate it",
                schema::SCHEMA_VERSION
            ),
        });
    }
    Ok(conn)
}
