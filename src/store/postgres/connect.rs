//! Connecting to PostgreSQL, and sorting its errors into what the user has to do. No message
//! carries the password: the URL is shown as `postgres://user@host:port/db`.

use postgres::error::SqlState;
use postgres::{Client, NoTls};

use crate::store::backend::{FailureKind, WriteFailure};
use crate::store::{PgTarget, StoreError};

/// Opens a connection. `read_only` sessions cannot write even by mistake.
pub fn connect(t: &PgTarget, read_only: bool) -> Result<Client, StoreError> {
    let connected = match t.tls() {
        crate::store::TlsMode::Disable => t.config().connect(NoTls),
        _ => t.config().connect(super::tls::connector(t)?),
    };
    let mut client = connected.map_err(|e| connect_error(t, &e))?;
    let mut setup = String::from("SET TIME ZONE 'UTC'; SET lock_timeout = '10s';");
    if read_only {
        setup.push_str("SET default_transaction_read_only = on;");
    }
    client
        .batch_execute(&setup)
        .map_err(|e| connect_error(t, &e))?;
    Ok(client)
}

/// A failed connection attempt, in words that say what to do.
pub fn connect_error(t: &PgTarget, e: &postgres::Error) -> StoreError {
    StoreError::Postgres {
        shown: t.shown().to_string(),
        what: connect_advice(t, e),
    }
}

fn connect_advice(t: &PgTarget, e: &postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        let code = db.code();
        if *code == SqlState::INVALID_PASSWORD {
            return format!(
                "password authentication failed for user {:?}: set PGPASSWORD or put the password in ~/.pgpass (mode 0600){}{}",
                t.user,
                if t.has_password() {
                    ""
                } else {
                    "; none was found there"
                },
                // clientcert=verify-full reports a certificate naming another user this way
                if t.client_cert().is_some() {
                    "; or the client certificate's CN is not the user name"
                } else {
                    ""
                }
            );
        }
        // "no encryption" ends every refusal of a plain connection; only with sslmode=disable
        // was TLS never tried
        if *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION
            && t.tls() == crate::store::TlsMode::Disable
            && db.message().contains("no encryption")
        {
            return format!(
                "the server refused user {:?} without TLS ({}): check the server's pg_hba.conf, or drop sslmode=disable (or write sslmode=verify-full with sslrootcert) if it takes this user only over TLS",
                t.user,
                db.message()
            );
        }
        if *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION
            && db.message().contains("client certificate")
        {
            return match t.client_cert() {
                None => format!(
                    "the server logs user {:?} in by client certificate ({}): add sslcert=/path/client.crt&sslkey=/path/client.key to the URL (or set PGSSLCERT and PGSSLKEY)",
                    t.user,
                    db.message()
                ),
                Some(c) => format!(
                    "the server refused the client certificate {} ({}): it must be signed by a CA in the server's ssl_ca_file",
                    c.cert.display(),
                    db.message()
                ),
            };
        }
        if *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION
            && db.message().contains("certificate authentication failed")
        {
            return format!(
                "the client certificate does not name user {:?} ({}): its CN must be the user name, or the server's pg_ident.conf must map it",
                t.user,
                db.message()
            );
        }
        if *code == SqlState::INVALID_AUTHORIZATION_SPECIFICATION {
            return format!(
                "the server refused user {:?} ({}): check the user and the server's pg_hba.conf",
                t.user,
                db.message()
            );
        }
        if *code == SqlState::INVALID_CATALOG_NAME {
            return format!(
                "database {:?} does not exist: create it (`createdb {}`) or name another in the URL",
                t.dbname, t.dbname
            );
        }
        if *code == SqlState::CANNOT_CONNECT_NOW || *code == SqlState::ADMIN_SHUTDOWN {
            return format!(
                "the server is starting or shutting down ({}): try again in a moment",
                db.message()
            );
        }
        if *code == SqlState::TOO_MANY_CONNECTIONS {
            return format!(
                "too many connections ({}): raise max_connections or stop other clients",
                db.message()
            );
        }
        return db.message().to_string();
    }
    let text = short(e);
    if let Some(advice) = tls_advice(t, e) {
        return advice;
    }
    if text.contains("password missing") {
        return format!(
            "the server asks a password for user {:?} and none was given: set PGPASSWORD or put it in ~/.pgpass (mode 0600)",
            t.user
        );
    }
    if text.contains("timed out") || text.contains("timeout") {
        return "no answer within the connect timeout: check the host and port, and that a firewall lets the connection through".into();
    }
    format!("cannot connect ({text}): is the server running and listening there?")
}

/// What to do about a failed TLS handshake or a server without TLS, if that is what `e` is.
fn tls_advice(t: &PgTarget, e: &postgres::Error) -> Option<String> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    let text = std::iter::from_fn(|| {
        let s = source?;
        source = s.source();
        Some(s.to_string())
    })
    .chain(std::iter::once(e.to_string()))
    .collect::<Vec<_>>()
    .join(": ");
    let mode = t.tls().as_str();
    if text.contains("server does not support TLS") {
        return Some(format!(
            "the server does not offer TLS and sslmode={mode} requires it: turn ssl on in the server's postgresql.conf, or connect through an ssh tunnel with sslmode=prefer"
        ));
    }
    if text.contains("alert") {
        // the server ended the handshake, and the alert's name says why
        let what = crate::format::visible(&text);
        let refused = ["UnknownCA", "BadCertificate", "CertificateUnknown"]
            .iter()
            .any(|a| text.contains(a));
        return Some(match t.client_cert() {
            Some(c) if refused => format!(
                "the server refused the client certificate {} ({what}): it must be signed by a CA in the server's ssl_ca_file",
                c.cert.display()
            ),
            Some(c) if text.contains("CertificateExpired") => format!(
                "the client certificate {} has expired ({what}): renew it",
                c.cert.display()
            ),
            Some(c) if text.contains("UnsupportedCertificate") => format!(
                "the server cannot use the client certificate {} ({what}): it must allow client authentication (extendedKeyUsage clientAuth)",
                c.cert.display()
            ),
            None if text.contains("CertificateRequired") => format!(
                "the server asks for a client certificate ({what}): add sslcert=/path/client.crt&sslkey=/path/client.key to the URL"
            ),
            _ => format!("the server refused the TLS connection ({what}) with sslmode={mode}"),
        });
    }
    if text.contains("certificate") || text.contains("Certificate") {
        let what = crate::format::visible(&text);
        return Some(match t.tls() {
            crate::store::TlsMode::VerifyFull => format!(
                "the server's TLS certificate was refused ({what}): sslrootcert must name the CA that signed it, and the certificate must name the host in the URL (or use sslmode=verify-ca to check the CA only)"
            ),
            _ => format!(
                "the server's TLS certificate was refused ({what}): sslrootcert must name the CA that signed it"
            ),
        });
    }
    if text.contains("tls") || text.contains("TLS") || text.contains("handshake") {
        return Some(format!(
            "the TLS handshake failed ({}) with sslmode={mode}",
            crate::format::visible(&text)
        ));
    }
    None
}

/// Sorts an error during a write for the storage thread.
pub fn write_failure(e: &postgres::Error) -> WriteFailure {
    let kind = classify(e);
    let reason = match (kind, e.as_db_error()) {
        (FailureKind::Disconnected, _) => format!("PostgreSQL unreachable ({})", short(e)),
        (_, Some(db)) if *db.code() == SqlState::DISK_FULL => {
            "PostgreSQL's disk is full: free space on the server".to_string()
        }
        (_, Some(db))
            if *db.code() == SqlState::INSUFFICIENT_PRIVILEGE
                || *db.code() == SqlState::READ_ONLY_SQL_TRANSACTION =>
        {
            format!(
                "this PostgreSQL user may not write ({}): grant it INSERT, UPDATE and DELETE on tickwatch's tables, or use another user",
                db.message()
            )
        }
        (_, Some(db)) => format!("PostgreSQL: {}", db.message()),
        (_, None) => format!("PostgreSQL: {}", short(e)),
    };
    WriteFailure { kind, reason }
}

fn classify(e: &postgres::Error) -> FailureKind {
    if e.is_closed() {
        return FailureKind::Disconnected;
    }
    match e.as_db_error() {
        None => FailureKind::Disconnected,
        Some(db) => {
            let code = db.code();
            let class = &code.code()[..2];
            if class == "08"
                || *code == SqlState::ADMIN_SHUTDOWN
                || *code == SqlState::CRASH_SHUTDOWN
                || *code == SqlState::CANNOT_CONNECT_NOW
            {
                FailureKind::Disconnected
            } else if *code == SqlState::DISK_FULL
                || *code == SqlState::INSUFFICIENT_PRIVILEGE
                || *code == SqlState::READ_ONLY_SQL_TRANSACTION
                || class == "58"
                || class == "XX"
            {
                FailureKind::Unwritable
            } else {
                FailureKind::Retry
            }
        }
    }
}

/// The error's own text, one line.
fn short(e: &postgres::Error) -> String {
    let mut s = e.to_string();
    if let Some(src) = std::error::Error::source(e) {
        let src = src.to_string();
        if !s.contains(&src) {
            s = format!("{s}: {src}");
        }
    }
    s.replace('\n', " ")
}

/// A read-side error.
pub fn query_error(t: &PgTarget, context: &str, e: &postgres::Error) -> StoreError {
    StoreError::Postgres {
        shown: t.shown().to_string(),
        what: format!("{context}: {}", short(e)),
    }
}
