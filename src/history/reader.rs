//! One read-only connection to the database, kept open across requests: opened when the file
//! appears, re-opened after an error or when the file is replaced, and every failure turned into
//! a sentence that names the file and what to do.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, ErrorCode, OpenFlags, Transaction, TransactionBehavior};

use super::query::{read_last_closes, read_slice};
use super::{HistoryRequest, HistorySlice, StoredClose};
use crate::domain::VenueSymbol;
use crate::store::{BUSY_TIMEOUT, SCHEMA_VERSION, StoreError};

/// Reads history for the chart, synchronously. The [`super::HistoryLoader`] thread owns one;
/// benchmarks and tools may use it directly.
pub struct HistoryReader {
    path: PathBuf,
    open: Option<Open>,
}

struct Open {
    conn: Connection,
    /// Which file the connection has open, to notice the path now naming another file (deleted
    /// and created again).
    file: Option<FileId>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileId {
    dev: u64,
    ino: u64,
}

#[cfg(unix)]
fn file_id(meta: &std::fs::Metadata) -> Option<FileId> {
    use std::os::unix::fs::MetadataExt;
    Some(FileId {
        dev: meta.dev(),
        ino: meta.ino(),
    })
}

#[cfg(not(unix))]
fn file_id(_meta: &std::fs::Metadata) -> Option<FileId> {
    None
}

/// Why a request could not be answered; rendered with the file's name by [`Failure::describe`].
#[derive(Debug)]
enum Failure {
    Io(std::io::Error),
    Sqlite(rusqlite::Error),
    NewerSchema(i64),
    Foreign(i64),
}

impl From<rusqlite::Error> for Failure {
    fn from(e: rusqlite::Error) -> Failure {
        Failure::Sqlite(e)
    }
}

impl HistoryReader {
    /// A reader for the database at `path`, which need not exist yet. Nothing is opened until
    /// the first [`HistoryReader::load`].
    pub fn new(path: PathBuf) -> HistoryReader {
        HistoryReader { path, open: None }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// True while a connection is open (kept across requests).
    pub fn is_open(&self) -> bool {
        self.open.is_some()
    }

    /// Answers one request. A database that does not exist yet, or that exists but has no
    /// tables yet (being created), holds nothing: an empty slice, not an error. After an error
    /// the connection is dropped and the next request opens it again.
    pub fn load(&mut self, req: &HistoryRequest) -> Result<HistorySlice, String> {
        match self.try_load(req) {
            Ok(slice) => Ok(slice),
            Err(f) => {
                self.open = None;
                Err(describe(&self.path, &f))
            }
        }
    }

    /// The newest stored close of each of `keys` that has any (for the watchlist while no live
    /// data have come). Same rules as [`HistoryReader::load`]: nothing stored is not an error.
    pub fn last_closes(&mut self, keys: &[VenueSymbol]) -> Result<Vec<StoredClose>, String> {
        match self.with_snapshot(|tx| read_last_closes(tx, keys)) {
            Ok(v) => Ok(v),
            Err(f) => {
                self.open = None;
                Err(describe(&self.path, &f))
            }
        }
    }

    fn try_load(&mut self, req: &HistoryRequest) -> Result<HistorySlice, Failure> {
        self.with_snapshot(|tx| read_slice(tx, req))
    }

    /// Runs `read` on one read snapshot of the database, opening (or re-opening) it first; a
    /// database that does not exist yet or has no tables yet gives `T::default()`.
    fn with_snapshot<T: Default>(
        &mut self,
        read: impl FnOnce(&Transaction) -> rusqlite::Result<T>,
    ) -> Result<T, Failure> {
        let meta = match std::fs::metadata(&self.path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                self.open = None;
                return Ok(T::default());
            }
            Err(e) => return Err(Failure::Io(e)),
        };
        if meta.is_dir() {
            return Err(Failure::Io(std::io::Error::new(
                std::io::ErrorKind::IsADirectory,
                "a directory, not a database file",
            )));
        }
        let file = file_id(&meta);
        if self.open.as_ref().is_some_and(|o| o.file != file) {
            self.open = None;
        }
        let open = match &mut self.open {
            Some(o) => o,
            slot @ None => slot.insert(Open {
                conn: open_conn(&self.path)?,
                file,
            }),
        };
        // One snapshot for every statement of the request; WAL readers neither wait for the
        // writer nor hold it up beyond this request.
        let tx = Transaction::new_unchecked(&open.conn, TransactionBehavior::Deferred)?;
        let version: i64 = tx
            .prepare_cached("PRAGMA user_version")?
            .query_row([], |r| r.get(0))?;
        if version > SCHEMA_VERSION {
            return Err(Failure::NewerSchema(version));
        }
        if version < 1 {
            // A file the writer has only just created is empty; anything else at version 0 was
            // not written by tickwatch.
            let tables: i64 = tx
                .prepare_cached("SELECT count(*) FROM sqlite_schema")?
                .query_row([], |r| r.get(0))?;
            if tables == 0 {
                drop(tx);
                self.open = None;
                return Ok(T::default());
            }
            return Err(Failure::Foreign(version));
        }
        // Every version since 1 has `candles` and `indicator_values` with these columns (new
        // versions only add), so an older file reads as well as a current one.
        let out = read(&tx)?;
        tx.finish()?;
        Ok(out)
    }
}

fn open_conn(path: &Path) -> Result<Connection, Failure> {
    // SQLite reports an unreadable file as "unable to open database file"; reading it first
    // names the cause.
    std::fs::File::open(path).map_err(Failure::Io)?;
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    // WAL readers do not wait for writers; this only covers a database some other program
    // switched out of WAL mode, or one holding an exclusive lock.
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // A month of 1m candles of one symbol spans ~3.5 MB of pages; SQLite's default 2 MB cache
    // would read them from the OS again at every request.
    conn.pragma_update(None, "cache_size", -16384)?;
    conn.set_prepared_statement_cache_capacity(16);
    Ok(conn)
}

/// The failure in words, naming the file and what to do.
fn describe(path: &Path, f: &Failure) -> String {
    let shown = path.display();
    match f {
        Failure::Io(e) if e.kind() == std::io::ErrorKind::PermissionDenied => format!(
            "cannot read database {shown} ({e}): make it and its directory readable by this user, or pass --db OTHER.db"
        ),
        Failure::Io(e) if e.kind() == std::io::ErrorKind::IsADirectory => {
            format!("{shown} is a directory, not a database: pass --db with a file")
        }
        Failure::Io(e) => {
            format!("cannot read database {shown} ({e}): check the path, or pass --db OTHER.db")
        }
        Failure::NewerSchema(found) => StoreError::NewerSchema {
            path: path.to_path_buf(),
            found: *found,
            known: SCHEMA_VERSION,
        }
        .to_string(),
        Failure::Foreign(version) => StoreError::NotADatabase {
            path: path.to_path_buf(),
            detail: format!("schema version {version} and tables tickwatch did not make"),
        }
        .to_string(),
        Failure::Sqlite(e) => match e.sqlite_error_code() {
            Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => {
                StoreError::NotADatabase {
                    path: path.to_path_buf(),
                    detail: e.to_string(),
                }
                .to_string()
            }
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => format!(
                "database {shown} is locked by another process that is not using WAL mode: chart history loads once it is released; stop that process or pass --db OTHER.db"
            ),
            Some(
                ErrorCode::PermissionDenied
                | ErrorCode::CannotOpen
                | ErrorCode::ReadOnly
                | ErrorCode::AuthorizationForStatementDenied,
            ) => format!(
                "cannot read database {shown} ({e}): make it, its -wal and -shm files and its directory readable by this user, or pass --db OTHER.db"
            ),
            _ => format!(
                "reading chart history from {shown} failed ({e}); it is tried again at the next pan or zoom, or pass --db OTHER.db"
            ),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permission_denied_says_to_make_the_file_readable() {
        let p = Path::new("/data/t.db");
        let msg = describe(
            p,
            &Failure::Io(std::io::Error::from(std::io::ErrorKind::PermissionDenied)),
        );
        assert!(
            msg.contains("/data/t.db") && msg.contains("readable"),
            "{msg}"
        );
        let msg = describe(
            p,
            &Failure::Sqlite(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CANTOPEN),
                None,
            )),
        );
        assert!(
            msg.contains("/data/t.db") && msg.contains("readable"),
            "{msg}"
        );
    }

    #[test]
    fn newer_and_foreign_schemas_name_the_file() {
        let p = Path::new("/data/t.db");
        let msg = describe(p, &Failure::NewerSchema(SCHEMA_VERSION + 1));
        assert!(
            msg.contains("/data/t.db") && msg.contains("upgrade tickwatch"),
            "{msg}"
        );
        let msg = describe(p, &Failure::Foreign(0));
        assert!(
            msg.contains("/data/t.db") && msg.contains("not a tickwatch database"),
            "{msg}"
        );
    }

    #[test]
    fn a_missing_database_is_empty_and_opens_nothing() {
        let dir = std::env::temp_dir().join(format!("tickwatch-history-{}", std::process::id()));
        let mut r = HistoryReader::new(dir.join("none.db"));
        let req = HistoryRequest {
            id: 1,
            key: crate::domain::VenueSymbol::new(
                crate::domain::Venue::Sim,
                crate::domain::Symbol::new("A").unwrap(),
            ),
            interval: crate::domain::Interval::M1,
            from_ms: 0,
            to_ms: 60_000,
            bucket_ms: 60_000,
            columns: std::sync::Arc::from(Vec::<String>::new()),
        };
        assert_eq!(r.load(&req), Ok(HistorySlice::default()));
        assert!(!r.is_open());
        assert!(!dir.exists(), "a reader must not create anything");
    }
}
