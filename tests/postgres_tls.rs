#![allow(clippy::unwrap_used, clippy::expect_used)]
//! TLS to PostgreSQL as a user meets it: a real server with `ssl = on` whose `pg_hba.conf`
//! rejects the test user without TLS, certificates made here with `openssl` (a test CA, a
//! server certificate for `localhost` only, and a second CA that signed nothing). `replay`
//! stores through `verify-full`, `verify-ca`, `require` and the default `prefer`; a wrong CA, a
//! host the certificate does not name, and `sslmode=disable` are each refused with what to do,
//! without the password, and store nothing.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::pg::{PASSWORD, PgServer};
use support::tickwatch_cmd;

const TLS_USER: &str = "tw_tls";
const ROWS: u64 = 50;

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl (Debian package openssl)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA `name`.pem/.key, self-signed.
fn make_ca(dir: &Path, name: &str) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
            "-subj",
            &format!("/CN=tickwatch test {name}"),
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.pem"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
}

/// server.crt/.key signed by `ca`, naming `localhost` only (not 127.0.0.1).
fn make_server_cert(dir: &Path, ca: &str) {
    make_leaf(
        dir,
        ca,
        "server",
        "localhost",
        "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\n\
         keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
    );
}

/// `name`.crt/.key: a client certificate for user `cn`, signed by `ca`, its key mode 0600.
fn make_client_cert(dir: &Path, ca: &str, name: &str, cn: &str) {
    make_leaf(
        dir,
        ca,
        name,
        cn,
        "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=clientAuth\n",
    );
    set_mode(&dir.join(format!("{name}.key")), 0o600);
}

/// `name`.crt/.key: a certificate for `cn` with the extensions `ext`, signed by `ca`.
fn make_leaf(dir: &Path, ca: &str, name: &str, cn: &str, ext: &str) {
    let (key, csr, crt, cnf) = (
        format!("{name}.key"),
        format!("{name}.csr"),
        format!("{name}.crt"),
        format!("{name}-ext.cnf"),
    );
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-subj",
            &format!("/CN={cn}"),
            "-keyout",
            &key,
            "-out",
            &csr,
        ],
    );
    std::fs::write(dir.join(&cnf), ext).unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &format!("{ca}.pem"),
            "-CAkey",
            &format!("{ca}.key"),
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            &cnf,
            "-out",
            &crt,
        ],
    );
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// A Binance aggTrades dump of `ROWS` trades.
fn dump(dir: &Path) -> PathBuf {
    let path = dir.join("BTCUSDT-aggTrades-2024-03-01.csv");
    let t0 = 1_709_251_200_000i64;
    let rows: String = (1..=ROWS)
        .map(|id| {
            format!(
                "{id},{}.5,0.01,{id},{id},{},false,true\n",
                60_000 + id,
                t0 + id as i64 * 1000
            )
        })
        .collect();
    std::fs::write(&path, rows).unwrap();
    path
}

/// `replay --headless` of the dump into `url`: success, and stdout then stderr.
fn replay(dir: &Path, url: &str, dump: &Path) -> (bool, String) {
    replay_env(dir, url, dump, &[])
}

/// [`replay`] with `env` added to the test password.
fn replay_env(dir: &Path, url: &str, dump: &Path, env: &[(&str, PathBuf)]) -> (bool, String) {
    let out = tickwatch_cmd(dir)
        .env("PGPASSWORD", PASSWORD)
        .envs(env.iter().map(|(k, v)| (k, v)))
        .args(["--db", url, "replay", "--headless"])
        .arg(dump)
        .output()
        .unwrap();
    let err = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!err.contains(PASSWORD), "the password was shown:\n{err}");
    (out.status.success(), err)
}

/// A server with TLS on (a certificate for `localhost` signed by `ca`, in the returned
/// directory with `other-ca`), taking `TLS_USER` only over TLS; None where PostgreSQL is absent.
fn tls_server() -> Option<(PgServer, tempfile::TempDir)> {
    let mut pg = PgServer::start()?;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    make_ca(d, "ca");
    make_ca(d, "other-ca");
    make_server_cert(d, "ca");
    pg.enable_tls(&d.join("server.crt"), &d.join("server.key"), TLS_USER);
    Some((pg, dir))
}

/// Trades stored in database `db` (0 before the tables exist).
fn stored(pg: &PgServer, db: &str) -> i64 {
    if pg.query_i64(db, "SELECT (to_regclass('trades') IS NOT NULL)::int") == 0 {
        0
    } else {
        pg.query_i64(db, "SELECT count(*) FROM trades")
    }
}

#[test]
fn tls_to_postgres_checks_what_sslmode_asks_and_says_what_to_do() {
    let Some((pg, dir)) = tls_server() else {
        return;
    };
    let d = dir.path();
    let dump = dump(d);
    let ca = d.join("ca.pem");
    let other = d.join("other-ca.pem");
    let port = pg.port;
    let url =
        |host: &str, query: &str| format!("postgres://{TLS_USER}@{host}:{port}/{TLS_USER}?{query}");
    let verify_full = |root: &Path| format!("sslmode=verify-full&sslrootcert={}", root.display());
    let stored = || stored(&pg, TLS_USER);

    // without TLS the server turns this user away: said, with what to do
    let (ok, err) = replay(d, &url("127.0.0.1", "sslmode=disable"), &dump);
    assert!(
        !ok && err.contains("without TLS") && err.contains("sslmode"),
        "{err}"
    );
    // a CA that did not sign the server's certificate
    let (ok, err) = replay(d, &url("localhost", &verify_full(&other)), &dump);
    assert!(
        !ok && err.contains("certificate was refused") && err.contains("sslrootcert"),
        "{err}"
    );
    // the right CA, but the certificate names localhost, not 127.0.0.1
    let (ok, err) = replay(d, &url("127.0.0.1", &verify_full(&ca)), &dump);
    assert!(
        !ok && err.contains("certificate was refused") && err.contains("verify-ca"),
        "{err}"
    );
    assert_eq!(stored(), 0, "nothing stored by a refused connection");

    // checked in full: stored
    let (ok, err) = replay(d, &url("localhost", &verify_full(&ca)), &dump);
    assert!(ok, "verify-full: {err}\n{}", pg.log());
    assert_eq!(stored(), ROWS as i64);
    // the CA only (any name), encryption only, and the default: each connects (the replay is
    // idempotent: still ROWS)
    for query in [
        format!("sslmode=verify-ca&sslrootcert={}", ca.display()),
        "sslmode=require".to_string(),
        String::new(),
    ] {
        let (ok, err) = replay(d, &url("127.0.0.1", &query), &dump);
        assert!(
            ok,
            "{query}: {err}\n{}",
            std::fs::read_to_string(d.join("tickwatch.log")).unwrap_or_default()
        );
        assert!(
            err.contains(&format!(
                "stored 0 trades ({ROWS} more were stored already)"
            )),
            "{query}: {err}"
        );
    }
    assert_eq!(stored(), ROWS as i64);
    // a root file that is not PEM
    std::fs::write(d.join("junk.pem"), "not a certificate").unwrap();
    let (ok, err) = replay(
        d,
        &url("localhost", &verify_full(&d.join("junk.pem"))),
        &dump,
    );
    assert!(!ok && err.contains("junk.pem"), "{err}");
}

/// A server that logs a user in by client certificate (`pg_hba.conf` method `cert`): the
/// URL's `sslcert` and `sslkey` (or `PGSSLCERT` and `PGSSLKEY`) log in and store; no
/// certificate, one from another CA, one for another user, and a key other users can read are
/// each refused with what to do, storing nothing.
#[test]
fn client_certificates_log_in_where_the_server_asks_for_them() {
    const USER: &str = "tw_cert";
    let Some((mut pg, dir)) = tls_server() else {
        return;
    };
    let d = dir.path();
    make_client_cert(d, "ca", "client", USER);
    make_client_cert(d, "other-ca", "stranger", USER);
    make_client_cert(d, "ca", "someone", "someone_else");
    pg.enable_client_certs(&d.join("ca.pem"), USER);
    let dump = dump(d);
    let port = pg.port;
    let base = format!(
        "postgres://{USER}@localhost:{port}/{USER}?sslmode=verify-full&sslrootcert={}",
        d.join("ca.pem").display()
    );
    let with = |name: &str| {
        format!(
            "{base}&sslcert={}&sslkey={}",
            d.join(format!("{name}.crt")).display(),
            d.join(format!("{name}.key")).display()
        )
    };
    let stored = || stored(&pg, USER);

    // no certificate: the server asks for one, and the error says how to give it
    let (ok, err) = replay(d, &base, &dump);
    assert!(
        !ok && err.contains("client certificate") && err.contains("sslcert="),
        "{err}"
    );
    // signed by a CA the server does not trust
    let (ok, err) = replay(d, &with("stranger"), &dump);
    assert!(
        !ok && err.contains("client certificate") && err.contains("ssl_ca_file"),
        "{err}"
    );
    // the right CA, another user's name
    let (ok, err) = replay(d, &with("someone"), &dump);
    assert!(
        !ok && err.contains("does not name user") && err.contains("CN"),
        "{err}"
    );
    // a key other users can read is refused before anything is sent
    set_mode(&d.join("client.key"), 0o644);
    let (ok, err) = replay(d, &with("client"), &dump);
    assert!(!ok && err.contains("chmod 600"), "{err}");
    set_mode(&d.join("client.key"), 0o600);
    // a certificate without its key
    let (ok, err) = replay(
        d,
        &format!("{base}&sslcert={}", d.join("client.crt").display()),
        &dump,
    );
    assert!(!ok && err.contains("sslkey="), "{err}");
    assert_eq!(stored(), 0, "nothing stored by a refused connection");

    // the certificate in the URL: stored
    let (ok, err) = replay(d, &with("client"), &dump);
    assert!(ok, "sslcert: {err}\n{}", pg.log());
    assert_eq!(stored(), ROWS as i64);
    // the same through the environment, as libpq reads it
    let (ok, err) = replay_env(
        d,
        &base,
        &dump,
        &[
            ("PGSSLCERT", d.join("client.crt")),
            ("PGSSLKEY", d.join("client.key")),
        ],
    );
    assert!(ok, "PGSSLCERT: {err}");
    // and from ~/.postgresql, with nothing named (a read-only key is private enough)
    let home = d.join(".postgresql");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::copy(d.join("client.crt"), home.join("postgresql.crt")).unwrap();
    std::fs::copy(d.join("client.key"), home.join("postgresql.key")).unwrap();
    set_mode(&home.join("postgresql.key"), 0o400);
    let (ok, err) = replay(d, &base, &dump);
    assert!(ok, "~/.postgresql: {err}");
    assert!(
        err.contains(&format!(
            "stored 0 trades ({ROWS} more were stored already)"
        )),
        "{err}"
    );
}
