//! What can go wrong with the database, split by what the user has to do about it.

use std::path::{Path, PathBuf};

use rusqlite::ErrorCode;

/// A storage failure. Callers branch on the kind (the monitor keeps running in memory, a
/// headless command exits non-zero); the message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "database {} is read-only ({detail}): make the file and its directory writable, or pass --db OTHER.db",
        path.display()
    )]
    ReadOnly { path: PathBuf, detail: String },
    #[error(
        "database {} is locked by another process (another tickwatch record?): stop it or pass --db OTHER.db",
        path.display()
    )]
    Locked { path: PathBuf },
    #[error(
        "database {} has schema version {found}, newer than this tickwatch knows ({known}): upgrade tickwatch or pass --db OTHER.db",
        path.display()
    )]
    NewerSchema {
        path: PathBuf,
        found: i64,
        known: i64,
    },
    #[error(
        "no database at {}: run `tickwatch record` or `tickwatch replay --db {}` first, or pass --db",
        path.display(), path.display()
    )]
    NotFound { path: PathBuf },
    #[error(
        "{} is not a tickwatch database or is damaged ({detail}): pass --db with another file",
        path.display()
    )]
    NotADatabase { path: PathBuf, detail: String },
    #[error("database {}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(
        "PostgreSQL {shown}: holds no tickwatch history yet: run `tickwatch record --db {shown}` (or replay, or backfill) first"
    )]
    NoHistory { shown: String },
    #[error("--db {shown}: {detail}")]
    BadLocation { shown: String, detail: String },
    /// A PostgreSQL failure; `what` says what happened and what to do, without the password.
    #[error("PostgreSQL {shown}: {what}")]
    Postgres { shown: String, what: String },
    /// A stored row that does not make sense (written by another program, or by hand).
    #[error("{what}: correct or delete that row")]
    Invalid { what: String },
    #[error("{context}: {source}")]
    Sql {
        context: String,
        #[source]
        source: rusqlite::Error,
    },
}

impl StoreError {
    /// Sorts a SQLite error on `path` into the kinds a caller branches on.
    pub fn from_sqlite(path: &Path, err: rusqlite::Error) -> StoreError {
        let path = path.to_path_buf();
        match err.sqlite_error_code() {
            Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
                StoreError::Locked { path }
            }
            Some(ErrorCode::ReadOnly | ErrorCode::PermissionDenied) => StoreError::ReadOnly {
                path,
                detail: err.to_string(),
            },
            Some(ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt) => {
                StoreError::NotADatabase {
                    path,
                    detail: err.to_string(),
                }
            }
            Some(ErrorCode::CannotOpen) if read_only_on_disk(&path) => StoreError::ReadOnly {
                path,
                detail: err.to_string(),
            },
            _ => StoreError::Sql {
                context: format!("database {}", path.display()),
                source: err,
            },
        }
    }

    /// A read-side error, with what was being asked.
    pub fn query(context: &str, err: rusqlite::Error) -> StoreError {
        StoreError::Sql {
            context: context.to_string(),
            source: err,
        }
    }
}

/// True when the file or, for a file not yet created, its directory is write-protected.
fn read_only_on_disk(path: &Path) -> bool {
    let target = if path.exists() {
        path.to_path_buf()
    } else {
        match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        }
    };
    std::fs::metadata(target)
        .map(|m| m.permissions().readonly())
        .unwrap_or(false)
}

/// A short reason for the status bar, naming the usual causes in words.
pub fn describe_write_error(err: &rusqlite::Error) -> String {
    match err.sqlite_error_code() {
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
            "database locked by another process".to_string()
        }
        Some(ErrorCode::DiskFull) => "disk full".to_string(),
        Some(ErrorCode::ReadOnly | ErrorCode::PermissionDenied) => {
            format!("database is read-only ({err})")
        }
        _ => format!("write failed: {err}"),
    }
}
