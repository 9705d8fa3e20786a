//! Where history lives: an SQLite file (the embedded default) or a PostgreSQL database named by a
//! `postgres://user@host:port/dbname` URL. The password never travels on the command line: it
//! comes from `PGPASSWORD` or the password file (`PGPASSFILE`, default `~/.pgpass`), and no
//! message, log line or status shows it.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use super::StoreError;

/// A database: a file, or a PostgreSQL server.
#[derive(Clone)]
pub enum Location {
    Sqlite(PathBuf),
    Postgres(Box<PgTarget>),
}

impl std::fmt::Debug for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl Location {
    /// A `--db` or `[storage] db` value: a `postgres://` (or `postgresql://`) URL, else a path.
    pub fn parse(value: &Path) -> Result<Location, StoreError> {
        match value.to_str() {
            Some(s) if is_postgres_url(s) => Ok(Location::Postgres(Box::new(PgTarget::parse(s)?))),
            _ => Ok(Location::Sqlite(value.to_path_buf())),
        }
    }

    /// What to call it in messages: the path, or the URL without any password.
    pub fn describe(&self) -> String {
        match self {
            Location::Sqlite(p) => p.display().to_string(),
            Location::Postgres(t) => t.shown.clone(),
        }
    }

    pub fn sqlite_path(&self) -> Option<&Path> {
        match self {
            Location::Sqlite(p) => Some(p),
            Location::Postgres(_) => None,
        }
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self, Location::Postgres(_))
    }
}

/// True for values that name a PostgreSQL server rather than a file.
pub fn is_postgres_url(s: &str) -> bool {
    let lower = s.get(..13).unwrap_or(s).to_ascii_lowercase();
    lower.starts_with("postgres://") || lower.starts_with("postgresql://")
}

/// How a connection to PostgreSQL is encrypted: the URL's `sslmode`, read as libpq reads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsMode {
    /// Plain text.
    Disable,
    /// TLS when the server offers it, else plain text; the certificate is not checked (libpq's
    /// default, and ours).
    Prefer,
    /// TLS or no connection; the certificate is not checked.
    Require,
    /// TLS with a certificate signed by a trusted CA (`sslrootcert`, else the system's).
    VerifyCa,
    /// As `VerifyCa`, and the certificate names the host connected to.
    VerifyFull,
}

impl TlsMode {
    fn parse(v: &str) -> Result<TlsMode, String> {
        Ok(match v {
            "disable" => TlsMode::Disable,
            // libpq's `allow` tries plain text first; we try TLS first, which is safer
            "allow" | "prefer" => TlsMode::Prefer,
            "require" => TlsMode::Require,
            "verify-ca" => TlsMode::VerifyCa,
            "verify-full" => TlsMode::VerifyFull,
            _ => {
                return Err(format!(
                    "sslmode={}: write disable, prefer, require, verify-ca or verify-full",
                    crate::format::visible(v)
                ));
            }
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TlsMode::Disable => "disable",
            TlsMode::Prefer => "prefer",
            TlsMode::Require => "require",
            TlsMode::VerifyCa => "verify-ca",
            TlsMode::VerifyFull => "verify-full",
        }
    }
}

/// Where trusted CA certificates come from for `verify-ca` and `verify-full`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootCerts {
    /// The operating system's store (`sslrootcert=system`, or no `sslrootcert`).
    System,
    /// A PEM file of one or more CA certificates (`sslrootcert=/path/ca.pem`).
    File(PathBuf),
}

/// A client certificate and its private key (PEM files), for servers that log users in by
/// certificate (`pg_hba.conf` method `cert`, or `clientcert=verify-full`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCert {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// What a URL's query says about TLS, taken out of it.
struct TlsParams {
    /// The URL without them.
    url: String,
    mode: TlsMode,
    roots: Option<RootCerts>,
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
}

/// Takes `sslmode`, `sslrootcert`, `sslcert` and `sslkey` out of a URL's query (the PostgreSQL
/// client library reads none of the last three, nor `verify-*`).
fn take_tls_params(url: &str) -> Result<TlsParams, String> {
    let Some((base, query)) = url.split_once('?') else {
        return Ok(TlsParams {
            url: url.to_string(),
            mode: TlsMode::Prefer,
            roots: None,
            cert: None,
            key: None,
        });
    };
    let mut mode = None;
    let mut roots = None;
    let (mut cert, mut key) = (None, None);
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        // the client library decodes keys too: `ssl%6Dode` is sslmode
        match percent_decode(k).as_str() {
            "sslmode" => mode = Some(TlsMode::parse(&percent_decode(v))?),
            "sslrootcert" if v == "system" => roots = Some(RootCerts::System),
            "sslrootcert" if v.is_empty() => {
                return Err("sslrootcert is empty: name a PEM file of CA certificates, or write sslrootcert=system".into());
            }
            "sslrootcert" => roots = Some(RootCerts::File(PathBuf::from(percent_decode(v)))),
            k @ ("sslcert" | "sslkey") if v.is_empty() => {
                return Err(format!(
                    "{k} is empty: name a PEM file (sslcert the client certificate, sslkey its private key)"
                ));
            }
            "sslpassword" => {
                return Err(
                    "sslpassword: an encrypted client key is not supported: write the key out unencrypted (`openssl pkey -in client.key -out client-plain.key`, then chmod 600 it) and name that in sslkey".into(),
                );
            }
            "sslcert" => cert = Some(PathBuf::from(percent_decode(v))),
            "sslkey" => key = Some(PathBuf::from(percent_decode(v))),
            _ => kept.push(pair),
        }
    }
    let mode = match (mode, &roots) {
        // libpq: the system's CAs vouch for names, so they are only used with verify-full (the
        // default with sslrootcert=system); any certificate a public CA issued would pass a
        // check of the CA alone
        (None | Some(TlsMode::VerifyFull), Some(RootCerts::System)) => TlsMode::VerifyFull,
        (Some(m), Some(RootCerts::System)) => {
            return Err(format!(
                "sslrootcert=system trusts every public CA, so it needs sslmode=verify-full (the server's name checked), not sslmode={}",
                m.as_str()
            ));
        }
        // libpq: with a root certificate named, `require` checks the CA as `verify-ca` does
        (Some(TlsMode::Require), Some(_)) => TlsMode::VerifyCa,
        (m @ (None | Some(TlsMode::Disable | TlsMode::Prefer)), Some(_)) => {
            return Err(format!(
                "sslrootcert is given but sslmode={} does not check certificates: add sslmode=verify-full (or verify-ca)",
                m.unwrap_or(TlsMode::Prefer).as_str()
            ));
        }
        (Some(TlsMode::VerifyCa), None) => {
            return Err(
                "sslmode=verify-ca needs sslrootcert=/path/ca.pem, the CA that signed the server's certificate (with the system's CAs, use verify-full)".into(),
            );
        }
        (m, _) => m.unwrap_or(TlsMode::Prefer),
    };
    let url = if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok(TlsParams {
        url,
        mode,
        roots,
        cert,
        key,
    })
}

/// The client certificate to offer, found as libpq finds it: the URL's `sslcert` and `sslkey`,
/// else `PGSSLCERT` and `PGSSLKEY`, else `~/.postgresql/postgresql.crt` and `.key` when they
/// exist. None when there is no certificate to offer: a key is only ever offered with one, so a
/// `PGSSLKEY` without a certificate is left alone, while a URL naming only `sslkey` is an error.
fn client_cert(cert: Option<PathBuf>, key: Option<PathBuf>) -> Result<Option<ClientCert>, String> {
    let env = |name: &str| {
        std::env::var_os(name)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    // the home directory as the password file's is found
    let home = directories::BaseDirs::new().map(|d| d.home_dir().join(".postgresql"));
    let existing = |name: &str| home.as_ref().map(|h| h.join(name)).filter(|p| p.exists());
    let key_in_url = key.clone();
    let cert = cert
        .or_else(|| env("PGSSLCERT"))
        .or_else(|| existing("postgresql.crt"));
    let key = key
        .or_else(|| env("PGSSLKEY"))
        .or_else(|| existing("postgresql.key"));
    match (cert, key) {
        (Some(cert), Some(key)) => Ok(Some(ClientCert { cert, key })),
        (Some(cert), None) => Err(format!(
            "sslcert={} is given without its private key: add sslkey=/path/client.key",
            cert.display()
        )),
        (None, _) => match key_in_url {
            Some(key) => Err(format!(
                "sslkey={} is given without a certificate: add sslcert=/path/client.crt",
                key.display()
            )),
            None => Ok(None),
        },
    }
}

/// `%XX` escapes decoded (a path in a URL query may carry them).
fn percent_decode(v: &str) -> String {
    percent_encoding::percent_decode_str(v)
        .decode_utf8_lossy()
        .into_owned()
}

/// A PostgreSQL server and database, ready to connect (password resolved).
#[derive(Clone)]
pub struct PgTarget {
    config: postgres::Config,
    tls: TlsMode,
    roots: Option<RootCerts>,
    client_cert: Option<ClientCert>,
    /// `postgres://user@host:port/dbname`: safe to show.
    shown: String,
    pub user: String,
    pub dbname: String,
    /// Trade partitions older than this many days are dropped (`[storage] retention_days`).
    pub retention_days: Option<u32>,
}

impl PgTarget {
    /// Parses a URL, refusing a password in it, and fills user, database and password the way
    /// libpq does (`PGUSER`/`$USER`, the user name, `PGPASSWORD` or the password file).
    pub fn parse(url: &str) -> Result<PgTarget, StoreError> {
        let bad = |detail: String| StoreError::BadLocation {
            shown: redact_url(url),
            detail,
        };
        let TlsParams {
            url: plain_url,
            mode: tls,
            roots,
            cert,
            key,
        } = take_tls_params(url).map_err(bad)?;
        let mut config = postgres::Config::from_str(&plain_url).map_err(|e| bad(e.to_string()))?;
        if config.get_password().is_some() {
            return Err(bad(
                "a password in the URL would be visible to every user of this machine (ps, shell history): remove it and set PGPASSWORD or add it to ~/.pgpass".into(),
            ));
        }
        // as libpq: a Unix socket is never encrypted, whatever sslmode says
        let unix = matches!(
            config.get_hosts().first(),
            Some(postgres::config::Host::Unix(_))
        );
        let tls = if unix { TlsMode::Disable } else { tls };
        // as libpq: a certificate is only ever offered inside TLS
        let client_cert = match tls {
            TlsMode::Disable => None,
            _ => client_cert(cert, key).map_err(bad)?,
        };
        config.ssl_mode(match tls {
            TlsMode::Disable => postgres::config::SslMode::Disable,
            TlsMode::Prefer => postgres::config::SslMode::Prefer,
            _ => postgres::config::SslMode::Require,
        });
        let user = match config.get_user() {
            Some(u) => u.to_string(),
            None => std::env::var("PGUSER")
                .or_else(|_| std::env::var("USER"))
                .map_err(|_| bad("no user: write postgres://USER@host/db".into()))?,
        };
        config.user(&user);
        let dbname = config.get_dbname().unwrap_or(&user).to_string();
        config.dbname(&dbname);
        if config.get_hosts().is_empty() {
            config.host("localhost");
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(5));
        }
        config.keepalives(true);
        config.keepalives_idle(Duration::from_secs(30));
        config.application_name("tickwatch");
        let host = host_name(&config);
        let port = config.get_ports().first().copied().unwrap_or(5432);
        if let Some(pw) = password_for(&host, port, &dbname, &user) {
            config.password(pw);
        }
        let shown = format!("postgres://{user}@{host}:{port}/{dbname}");
        Ok(PgTarget {
            config,
            tls,
            roots,
            client_cert,
            shown,
            user,
            dbname,
            retention_days: None,
        })
    }

    pub fn config(&self) -> &postgres::Config {
        &self.config
    }

    /// The URL's `sslmode` (prefer when not given).
    pub fn tls(&self) -> TlsMode {
        self.tls
    }

    /// Trusted CAs for `verify-ca` and `verify-full`: the URL's `sslrootcert`, else the
    /// system's.
    pub fn roots(&self) -> RootCerts {
        self.roots.clone().unwrap_or(RootCerts::System)
    }

    /// The client certificate offered to the server, if any (see [`ClientCert`]).
    pub fn client_cert(&self) -> Option<&ClientCert> {
        self.client_cert.as_ref()
    }

    pub fn shown(&self) -> &str {
        &self.shown
    }

    /// Sets the password (for embedding and tests; commands take it from `PGPASSWORD` or the
    /// password file).
    pub fn set_password(&mut self, password: &str) {
        self.config.password(password);
    }

    pub fn has_password(&self) -> bool {
        self.config.get_password().is_some()
    }
}

/// The host as libpq matches it against the password file: a socket directory counts as
/// `localhost`.
fn host_name(config: &postgres::Config) -> String {
    match config.get_hosts().first() {
        Some(postgres::config::Host::Tcp(h)) => h.clone(),
        _ => "localhost".to_string(),
    }
}

/// Bytes of the password file read at most.
const MAX_PGPASS: u64 = 1 << 20;

/// `PGPASSWORD`, else the first matching line of the password file.
fn password_for(host: &str, port: u16, db: &str, user: &str) -> Option<String> {
    if let Ok(pw) = std::env::var("PGPASSWORD")
        && !pw.is_empty()
    {
        return Some(pw);
    }
    let file = match std::env::var_os("PGPASSFILE") {
        Some(f) => PathBuf::from(f),
        None => directories::BaseDirs::new()?.home_dir().join(".pgpass"),
    };
    // a password file is a few lines; one that is not is not read past this
    let mut text = String::new();
    std::io::Read::read_to_string(
        &mut std::io::Read::take(std::fs::File::open(&file).ok()?, MAX_PGPASS),
        &mut text,
    )
    .ok()?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(&file)
            && meta.permissions().mode() & 0o077 != 0
        {
            // libpq ignores such a file too: a password others can read is no secret.
            tracing::warn!(
                "password file {} has group or world access and is ignored: chmod 0600 it",
                file.display()
            );
            return None;
        }
    }
    pgpass_lookup(&text, host, port, db, user)
}

/// The password of the first `host:port:database:user:password` line that matches (`*` matches
/// anything; `\:` and `\\` are escapes), as libpq reads `~/.pgpass`.
pub fn pgpass_lookup(text: &str, host: &str, port: u16, db: &str, user: &str) -> Option<String> {
    let port = port.to_string();
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let fields = split_pgpass(line);
        let [h, p, d, u, pw] = fields.as_slice() else {
            continue;
        };
        let ok = |f: &str, v: &str| f == "*" || f == v;
        if ok(h, host) && ok(p, &port) && ok(d, db) && ok(u, user) {
            return Some(pw.clone());
        }
    }
    None
}

fn split_pgpass(line: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(n) = chars.next()
                    && let Some(last) = out.last_mut()
                {
                    last.push(n);
                }
            }
            ':' if out.len() < 5 => out.push(String::new()),
            c => {
                if let Some(last) = out.last_mut() {
                    last.push(c);
                }
            }
        }
    }
    out
}

/// The URL with any `user:password@` reduced to `user@` and `password=` parameters masked, for
/// error messages about a URL that could not be parsed.
pub fn redact_url(url: &str) -> String {
    let mut out = url.to_string();
    if let Some(scheme_end) = out.find("://") {
        let rest_start = scheme_end + 3;
        let authority_end = out[rest_start..]
            .find(['/', '?'])
            .map_or(out.len(), |i| rest_start + i);
        if let Some(at) = out[rest_start..authority_end].rfind('@') {
            let userinfo = &out[rest_start..rest_start + at];
            if let Some(colon) = userinfo.find(':') {
                out.replace_range(rest_start + colon..rest_start + at, ":***");
            }
        }
    }
    if let Some(q) = out.find('?') {
        let (base, query) = out.split_at(q + 1);
        let masked: Vec<String> = query
            .split('&')
            .map(|kv| match kv.split_once('=') {
                // password, sslpassword (a key's passphrase): never shown
                Some((k, _)) if k.to_ascii_lowercase().ends_with("password") => {
                    format!("{k}=***")
                }
                _ => kv.to_string(),
            })
            .collect();
        out = format!("{base}{}", masked.join("&"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pgpass_lines_match_like_libpq() {
        let text =
            "# comment\nother:5432:*:bob:no\nlocalhost:5433:tw:bob:s\\:ecret\n*:*:*:*:fallback\n";
        assert_eq!(
            pgpass_lookup(text, "localhost", 5433, "tw", "bob").as_deref(),
            Some("s:ecret")
        );
        assert_eq!(
            pgpass_lookup(text, "localhost", 5432, "tw", "bob").as_deref(),
            Some("fallback")
        );
        assert_eq!(pgpass_lookup("a:b:c", "a", 1, "c", "d"), None);
    }

    #[test]
    fn passwords_are_masked_in_shown_urls() {
        assert_eq!(
            redact_url("postgres://bob:hunter2@db:5432/tw"),
            "postgres://bob:***@db:5432/tw"
        );
        assert_eq!(
            redact_url("postgres://db/tw?user=bob&password=hunter2"),
            "postgres://db/tw?user=bob&password=***"
        );
        assert_eq!(redact_url("postgres://bob@db/tw"), "postgres://bob@db/tw");
    }

    #[test]
    fn a_password_in_the_url_is_refused_without_showing_it() {
        let err = PgTarget::parse("postgres://bob:hunter2@127.0.0.1:5432/tw")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(err.contains("PGPASSWORD"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
        let err = PgTarget::parse("postgres://127.0.0.1/tw?user=bob&password=hunter2")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            !err.contains("hunter2") && err.contains("PGPASSWORD"),
            "{err}"
        );
    }

    #[test]
    fn sslcert_and_sslkey_name_the_client_certificate() {
        let t = |url: &str| PgTarget::parse(url).map_err(|e| e.to_string());
        let p = t("postgres://bob@h/tw?sslmode=require&sslcert=/a/c%20d.crt&sslkey=/a/c.key&connect_timeout=3")
            .unwrap();
        assert_eq!(
            p.client_cert(),
            Some(&ClientCert {
                cert: "/a/c d.crt".into(),
                key: "/a/c.key".into()
            })
        );
        assert_eq!(
            p.config().get_connect_timeout(),
            Some(&Duration::from_secs(3))
        );
        // never offered outside TLS
        let p = t("postgres://bob@h/tw?sslmode=disable&sslcert=/a/c.crt&sslkey=/a/c.key").unwrap();
        assert_eq!(p.client_cert(), None);
        let e = t("postgres://bob@h/tw?sslkey=/a/c.key").err().unwrap();
        assert!(
            e.contains("without a certificate") && e.contains("sslcert="),
            "{e}"
        );
        let e = t("postgres://bob@h/tw?sslcert=").err().unwrap();
        assert!(e.contains("sslcert is empty"), "{e}");
        // an encrypted key's passphrase: refused, and never shown
        let e = t("postgres://bob@h/tw?sslmode=require&sslpassword=s3cret")
            .err()
            .unwrap();
        assert!(
            e.contains("encrypted client key") && !e.contains("s3cret"),
            "{e}"
        );
        assert_eq!(
            redact_url("postgres://h/tw?sslpassword=s3cret&password=x&user=bob"),
            "postgres://h/tw?sslpassword=***&password=***&user=bob"
        );
    }

    #[test]
    fn sslmode_and_sslrootcert_are_read_as_libpq_reads_them() {
        let t = |url: &str| PgTarget::parse(url).map_err(|e| e.to_string());
        let p = t("postgres://bob@db.example:5432/tw").unwrap();
        assert_eq!(p.tls(), TlsMode::Prefer);
        assert_eq!(p.roots(), RootCerts::System);
        let p = t("postgres://bob@db.example/tw?sslmode=require").unwrap();
        assert_eq!(p.tls(), TlsMode::Require);
        // a root certificate makes `require` check the CA; other parameters are kept
        let p = t("postgres://bob@db.example/tw?connect_timeout=3&sslmode=require&sslrootcert=/etc/ca%20x.pem")
            .unwrap();
        assert_eq!(p.tls(), TlsMode::VerifyCa);
        assert_eq!(p.roots(), RootCerts::File("/etc/ca x.pem".into()));
        assert_eq!(
            p.config().get_connect_timeout(),
            Some(&Duration::from_secs(3))
        );
        let p = t("postgres://bob@db.example/tw?sslmode=verify-full&sslrootcert=system").unwrap();
        assert_eq!(
            (p.tls(), p.roots()),
            (TlsMode::VerifyFull, RootCerts::System)
        );
        // the system's CAs only with the name checked
        let p = t("postgres://bob@db.example/tw?sslrootcert=system").unwrap();
        assert_eq!(p.tls(), TlsMode::VerifyFull);
        for weak in ["require", "verify-ca", "prefer"] {
            let e = t(&format!(
                "postgres://bob@h/tw?sslmode={weak}&sslrootcert=system"
            ))
            .err()
            .unwrap();
            assert!(e.contains("needs sslmode=verify-full"), "{e}");
        }
        let e = t("postgres://bob@h/tw?sslmode=verify-ca").err().unwrap();
        assert!(e.contains("needs sslrootcert="), "{e}");
        assert_eq!(
            t("postgres://bob@h/tw?sslmode=verify-full")
                .unwrap()
                .roots(),
            RootCerts::System
        );
        // an encoded key is still sslmode
        assert_eq!(
            t("postgres://bob@h/tw?ssl%6Dode=require").unwrap().tls(),
            TlsMode::Require
        );
        // a Unix socket is not encrypted (libpq ignores sslmode there too)
        assert_eq!(
            t("postgresql://bob@%2Frun%2Fpostgresql/tw?sslmode=require")
                .unwrap()
                .tls(),
            TlsMode::Disable
        );
        assert_eq!(
            t("postgres://bob@h/tw?sslmode=disable").unwrap().tls(),
            TlsMode::Disable
        );
        let e = t("postgres://bob@h/tw?sslmode=strict").err().unwrap();
        assert!(e.contains("verify-full"), "{e}");
        let e = t("postgres://bob@h/tw?sslrootcert=/ca.pem").err().unwrap();
        assert!(e.contains("sslmode=verify-full"), "{e}");
        let e = t("postgres://bob@h/tw?sslmode=verify-ca&sslrootcert=")
            .err()
            .unwrap();
        assert!(e.contains("sslrootcert is empty"), "{e}");
    }

    #[test]
    fn paths_and_urls_are_told_apart() {
        assert!(is_postgres_url("postgres://x@h/db"));
        assert!(is_postgres_url("PostgreSQL://x@h/db"));
        assert!(!is_postgres_url("/tmp/postgres://x"));
        assert!(!is_postgres_url("tick.db"));
        let loc = Location::parse(Path::new("postgres://tw@127.0.0.1:6543/hist"))
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(loc.describe(), "postgres://tw@127.0.0.1:6543/hist");
    }
}
