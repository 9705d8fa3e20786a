//! Where the database lives and how a connection to it is opened and tuned.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::schema;
use crate::store::StoreError;

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
    // A database of a newer tickwatch is refused before anything touches it: opening it for
    // writing would switch it to WAL and leave -wal and -shm files beside it.
    if let Some(found) = header_version(path)
        && found > schema::SCHEMA_VERSION
    {
        return Err(StoreError::NewerSchema {
            path: path.to_path_buf(),
            found,
            known: schema::SCHEMA_VERSION,
        });
    }
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

/// The schema version (`PRAGMA user_version`) in the header of the SQLite file at `path`, read
/// as plain bytes so that nothing is created or changed; None when it is no SQLite file (yet).
/// A version changed by a transaction still in the -wal file shows only after a checkpoint:
/// [`schema::migrate`] checks again under its lock.
fn header_version(path: &Path) -> Option<i64> {
    use std::io::Read;
    let mut head = [0u8; 64];
    std::fs::File::open(path).ok()?.read_exact(&mut head).ok()?;
    if &head[..16] != b"SQLite format 3\0" {
        return None;
    }
    Some(i64::from(i32::from_be_bytes([
        head[60], head[61], head[62], head[63],
    ])))
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
/// an error that says how to create one, not a new empty database. Nothing is written: on a
/// read-only mount, where SQLite cannot create the -shm file a WAL database needs, the file is
/// read as immutable (correct there, since nothing can change it) when no -wal file holds
/// commits that only it has.
pub fn open_readonly(path: &Path) -> Result<Connection, StoreError> {
    if !path.exists() {
        return Err(StoreError::NotFound {
            path: path.to_path_buf(),
        });
    }
    let err = |e| StoreError::from_sqlite(path, e);
    let (conn, version) = match reader(path, false) {
        Ok(ok) => ok,
        Err(e) if cannot_open(&e) && !wal_has_commits(path) => {
            reader(path, true).map_err(|_| err(e))?
        }
        Err(e) => return Err(err(e)),
    };
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

/// A read-only connection to `path` (as immutable, or not) and its schema version: the version
/// is read here because SQLite opens lazily and a WAL database fails only at its first read.
fn reader(path: &Path, immutable: bool) -> rusqlite::Result<(Connection, i64)> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = if immutable {
        Connection::open_with_flags(
            format!("file:{}?immutable=1", uri_path(path)),
            flags | OpenFlags::SQLITE_OPEN_URI,
        )?
    } else {
        Connection::open_with_flags(path, flags)?
    };
    conn.busy_timeout(BUSY_TIMEOUT)?;
    let version = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    Ok((conn, version))
}

/// SQLite could not open the file or its -shm for reading (a read-only directory).
fn cannot_open(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::CannotOpen | rusqlite::ErrorCode::ReadOnly)
    )
}

/// A non-empty -wal file beside `path`: commits an immutable read would not see.
fn wal_has_commits(path: &Path) -> bool {
    let mut wal = path.as_os_str().to_os_string();
    wal.push("-wal");
    std::fs::metadata(PathBuf::from(wal)).is_ok_and(|m| m.len() > 0)
}

/// `path` for a `file:` URI: absolute, every byte outside `A-Za-z0-9-._~/` percent-encoded.
fn uri_path(path: &Path) -> String {
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    #[cfg(unix)]
    let bytes = std::os::unix::ffi::OsStrExt::as_bytes(abs.as_os_str()).to_vec();
    #[cfg(not(unix))]
    let bytes = abs.to_string_lossy().replace('\\', "/").into_bytes();
    let mut out = String::new();
    for b in bytes {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
