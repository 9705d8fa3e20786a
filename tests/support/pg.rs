//! A real PostgreSQL server for tests: `initdb` + `pg_ctl` in a temporary directory, on a free
//! loopback port, password authentication over TCP (so tickwatch's PGPASSWORD path is what
//! connects). Run as root (CI), the server runs as the `postgres` user, since PostgreSQL refuses
//! root. [`shared`] is one server per test binary, stopped when the binary exits; [`PgServer::
//! start`] is a server of the test's own (to stop and restart it).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

/// The superuser the tests (and tickwatch under test) connect as, and its password.
pub const USER: &str = "tickwatch";
pub const PASSWORD: &str = "tw-test-secret-7d1f";

pub struct PgServer {
    _dir: tempfile::TempDir,
    pub data: PathBuf,
    pub port: u16,
    /// The superuser and its password ([`USER`] and [`PASSWORD`] unless [`PgServer::start_as`]).
    pub user: String,
    password: String,
    bin: PathBuf,
    run_as: Option<&'static str>,
    stopped_on_drop: bool,
    /// Server options added at every start (TLS).
    extra: String,
}

/// Where the server binaries are: on PATH, else Debian's /usr/lib/postgresql/N/bin.
fn bin_dir() -> Option<PathBuf> {
    if let Ok(out) = Command::new("sh")
        .args(["-c", "command -v initdb"])
        .output()
    {
        let p = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if !p.is_empty() {
            let real = std::fs::canonicalize(&p).unwrap_or_else(|_| PathBuf::from(&p));
            return real.parent().map(Path::to_path_buf);
        }
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.path().join("bin"))
        .filter(|b| b.join("initdb").exists())
        .collect();
    found.sort();
    found.pop()
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl PgServer {
    /// Starts a server of the test's own; `None` (after `cannot_run`) when PostgreSQL is not
    /// installed.
    pub fn start() -> Option<PgServer> {
        PgServer::start_as(USER, PASSWORD, None)
    }

    /// Starts a server as the official `postgres` image's entrypoint initialises one: `initdb`
    /// with superuser `user` and its `password` (POSTGRES_USER, POSTGRES_PASSWORD), password
    /// authentication over TCP, and database `db` created when given (POSTGRES_DB).
    pub fn start_as(user: &str, password: &str, db: Option<&str>) -> Option<PgServer> {
        let Some(bin) = bin_dir() else {
            tickwatch::testdata::cannot_run(
                "PostgreSQL server binaries (initdb, pg_ctl) are not installed: apt-get install postgresql",
            );
            return None;
        };
        let dir = tempfile::Builder::new().prefix("tw-pg").tempdir().unwrap();
        let run_as = is_root().then_some("postgres");
        let data = dir.path().join("data");
        let pwfile = dir.path().join("pw");
        std::fs::write(&pwfile, password).unwrap();
        if run_as.is_some() {
            chown_postgres(dir.path());
        }
        let mut s = PgServer {
            data,
            port: free_port(),
            user: user.to_string(),
            password: password.to_string(),
            bin,
            run_as,
            _dir: dir,
            stopped_on_drop: true,
            extra: String::new(),
        };
        let out = s
            .cmd("initdb")
            .arg("-D")
            .arg(&s.data)
            .args(["-U", user, "-E", "UTF8", "--no-sync", "--auth-local=trust"])
            .arg("--auth-host=scram-sha-256")
            .arg(format!("--pwfile={}", pwfile.display()))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        s.start_again();
        if let Some(db) = db.filter(|d| *d != "postgres") {
            s.client("postgres")
                .batch_execute(&format!("CREATE DATABASE \"{db}\""))
                .unwrap();
        }
        Some(s)
    }

    /// Turns TLS on with `cert` and `key` (PEM) and restarts: `tls_user` (made here, with
    /// [`PASSWORD`], owning database `tls_user`) may connect over TCP only with TLS; the test
    /// superuser still connects without.
    pub fn enable_tls(&mut self, cert: &Path, key: &Path, tls_user: &str) {
        let mut c = self.client("postgres");
        c.batch_execute(&format!(
            "CREATE ROLE {tls_user} LOGIN PASSWORD '{PASSWORD}'"
        ))
        .unwrap();
        c.batch_execute(&format!("CREATE DATABASE {tls_user} OWNER {tls_user}"))
            .unwrap();
        self.stop();
        std::fs::copy(cert, self.data.join("server.crt")).unwrap();
        std::fs::copy(key, self.data.join("server.key")).unwrap();
        {
            use std::os::unix::fs::PermissionsExt;
            let key = self.data.join("server.key");
            std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        self.hba_first(&format!(
            "hostnossl all {tls_user} 127.0.0.1/32 reject\n\
             hostssl all {tls_user} 127.0.0.1/32 scram-sha-256\n"
        ));
        self.extra = " -c ssl=on".into();
        self.start_again();
    }

    /// After [`PgServer::enable_tls`]: user `cert_user` (made here, owning database
    /// `cert_user`, no password) logs in over TCP only with TLS and a client certificate that
    /// `ca` (PEM) signed and whose CN is the user name (`pg_hba.conf` method `cert`).
    pub fn enable_client_certs(&mut self, ca: &Path, cert_user: &str) {
        let mut c = self.client("postgres");
        c.batch_execute(&format!("CREATE ROLE {cert_user} LOGIN"))
            .unwrap();
        c.batch_execute(&format!("CREATE DATABASE {cert_user} OWNER {cert_user}"))
            .unwrap();
        self.stop();
        std::fs::copy(ca, self.data.join("root.crt")).unwrap();
        self.hba_first(&format!(
            "hostnossl all {cert_user} 127.0.0.1/32 reject\n\
             hostssl all {cert_user} 127.0.0.1/32 cert\n"
        ));
        self.extra.push_str(" -c ssl_ca_file=root.crt");
        self.start_again();
    }

    /// Puts `lines` before the rules of the (stopped) server's `pg_hba.conf`, and gives the
    /// data directory back to the server's user.
    fn hba_first(&self, lines: &str) {
        let hba = self.data.join("pg_hba.conf");
        let rules = std::fs::read_to_string(&hba).unwrap();
        std::fs::write(&hba, format!("{lines}{rules}")).unwrap();
        if self.run_as.is_some() {
            chown_postgres(&self.data);
        }
    }

    /// One of the server's own programs (pg_isready, psql...).
    pub fn tool(&self, name: &str) -> PathBuf {
        self.bin.join(name)
    }

    /// The directory of the server's Unix socket (PGHOST for a local client).
    pub fn socket_dir(&self) -> &Path {
        &self.data
    }

    fn cmd(&self, tool: &str) -> Command {
        let exe = self.bin.join(tool);
        let mut c = match self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(exe);
                c
            }
            None => Command::new(exe),
        };
        c.stdin(Stdio::null());
        c
    }

    /// (Re)starts the server on its port and waits until it accepts connections.
    pub fn start_again(&mut self) {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off -c max_connections=200{}",
            self.port,
            self.data.display(),
            self.extra
        );
        let out = self
            .cmd("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .args(["-o", &opts, "-l"])
            .arg(self.data.join("server.log"))
            .args(["-w", "-t", "60", "start"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "pg_ctl start: {}{}",
            String::from_utf8_lossy(&out.stdout),
            std::fs::read_to_string(self.data.join("server.log")).unwrap_or_default()
        );
    }

    /// Stops the server (fast: disconnects clients, as a restart or a crash would).
    pub fn stop(&self) {
        let _ = self
            .cmd("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .args(["-m", "fast", "-w", "stop"])
            .output();
    }

    /// A URL for `db` as the test superuser (no password in it: tests set PGPASSWORD).
    pub fn url(&self, db: &str) -> String {
        format!("postgres://{}@127.0.0.1:{}/{db}", self.user, self.port)
    }

    /// A client connection to `db`.
    pub fn client(&self, db: &str) -> postgres::Client {
        postgres::Config::new()
            .host("127.0.0.1")
            .port(self.port)
            .user(&self.user)
            .password(&self.password)
            .dbname(db)
            .connect(postgres::NoTls)
            .unwrap_or_else(|e| panic!("connect to {db}: {e}"))
    }

    /// A new empty database; returns its name.
    pub fn create_db(&self) -> String {
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "tw_{}_{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        );
        self.client("postgres")
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap();
        name
    }

    /// One integer from `sql` on `db`.
    pub fn query_i64(&self, db: &str, sql: &str) -> i64 {
        let row = self.client(db).query_one(sql, &[]).unwrap();
        row.try_get::<_, i64>(0)
            .or_else(|_| row.try_get::<_, i32>(0).map(i64::from))
            .unwrap()
    }

    /// The server's own log, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.data.join("server.log")).unwrap_or_default()
    }
}

impl Drop for PgServer {
    fn drop(&mut self) {
        if self.stopped_on_drop {
            let _ = self
                .cmd("pg_ctl")
                .arg("-D")
                .arg(&self.data)
                .args(["-m", "immediate", "-w", "stop"])
                .output();
        }
    }
}

fn chown_postgres(dir: &Path) {
    let st = Command::new("chown")
        .args(["-R", "postgres:postgres"])
        .arg(dir)
        .status()
        .unwrap();
    assert!(st.success());
}

/// One server for the whole test binary. Statics are never dropped, so a watcher process
/// stops the server when this process has exited.
pub fn shared() -> Option<&'static PgServer> {
    static SERVER: OnceLock<Option<PgServer>> = OnceLock::new();
    SERVER
        .get_or_init(|| {
            let mut s = PgServer::start()?;
            s.stopped_on_drop = false;
            let pid = std::process::id();
            let stop = format!(
                "while kill -0 {pid} 2>/dev/null; do sleep 1; done; {} -D {} -m immediate stop >/dev/null 2>&1; rm -rf {}",
                s.cmd_line("pg_ctl"),
                s.data.display(),
                s._dir.path().display()
            );
            // setsid: the watcher outlives this process and its process group.
            let _ = Command::new("setsid")
                .args(["sh", "-c", &stop])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn();
            Some(s)
        })
        .as_ref()
}

impl PgServer {
    fn cmd_line(&self, tool: &str) -> String {
        let exe = self.bin.join(tool).display().to_string();
        match self.run_as {
            Some(u) => format!("runuser -u {u} -- {exe}"),
            None => exe,
        }
    }
}
