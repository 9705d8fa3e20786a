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
            "/CN=localhost",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
        ],
    );
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\n\
         keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            &format!("{ca}.pem"),
            "-CAkey",
            &format!("{ca}.key"),
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
            "-out",
            "server.crt",
        ],
    );
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
    let out = tickwatch_cmd(dir)
        .env("PGPASSWORD", PASSWORD)
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

#[test]
fn tls_to_postgres_checks_what_sslmode_asks_and_says_what_to_do() {
    let Some(mut pg) = PgServer::start() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    make_ca(d, "ca");
    make_ca(d, "other-ca");
    make_server_cert(d, "ca");
    pg.enable_tls(&d.join("server.crt"), &d.join("server.key"), TLS_USER);
    let dump = dump(d);
    let ca = d.join("ca.pem");
    let other = d.join("other-ca.pem");
    let port = pg.port;
    let url =
        |host: &str, query: &str| format!("postgres://{TLS_USER}@{host}:{port}/{TLS_USER}?{query}");
    let verify_full = |root: &Path| format!("sslmode=verify-full&sslrootcert={}", root.display());
    let stored = || {
        let c = pg.query_i64(TLS_USER, "SELECT (to_regclass('trades') IS NOT NULL)::int");
        if c == 0 {
            0
        } else {
            pg.query_i64(TLS_USER, "SELECT count(*) FROM trades")
        }
    };

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
