//! Local protocol servers for source tests: a scriptable WebSocket server and a minimal HTTP/1.1
//! server, both on 127.0.0.1:0, with faults injected on demand. Venue-neutral; `binance` holds
//! Binance's formats and an in-memory market that answers its REST API.

#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::result_large_err
)]

pub mod alphavantage;
pub mod binance;
pub mod bybit;
pub mod coinbase;
pub mod dbus;
pub mod http;
pub mod kraken;
pub mod nats;
pub mod okx;
pub mod pg;
pub mod smtp;
pub mod tmpfs;
pub mod tmux;
pub mod venue;
pub mod ws;

use std::time::Duration;

/// The real binary, sandboxed in `dir`: its own HOME and XDG directories (so no user config
/// or database is touched), a log file there, and nothing from the test's own environment that
/// would change what it does (log level, colours, ssh or tmux detection, a D-Bus session):
/// a test that wants one sets it again.
pub fn tickwatch_cmd(dir: &std::path::Path) -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_tickwatch"));
    c.current_dir(dir)
        .arg("--log-file")
        .arg(dir.join("tickwatch.log"))
        .env("HOME", dir)
        .env("XDG_DATA_HOME", dir.join("data"))
        .env("XDG_CONFIG_HOME", dir.join("cfg"));
    for var in [
        "RUST_LOG",
        "TICKWATCH_LOG",
        "NO_COLOR",
        "SSH_CONNECTION",
        "SSH_TTY",
        "TMUX",
        "KITTY_WINDOW_ID",
        "DBUS_SESSION_BUS_ADDRESS",
        "PGPASSWORD",
        "PGPASSFILE",
        "PGUSER",
        "PGHOST",
        "PGDATABASE",
        "PGSSLCERT",
        "PGSSLKEY",
        "PGSSLMODE",
        "PGSSLROOTCERT",
    ] {
        c.env_remove(var);
    }
    c
}

/// A check that cannot run here: says SKIPPED on a developer's machine, fails under CI.
pub use tickwatch::testdata::cannot_run;

/// One integer from `sql` in the database at `db`, read-only (while a writer runs), or None
/// while it cannot be read yet.
pub fn query_i64(db: &std::path::Path, sql: &str) -> Option<i64> {
    let conn = rusqlite::Connection::open_with_flags(
        db,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .ok()?;
    conn.busy_timeout(Duration::from_secs(2)).ok()?;
    conn.query_row(sql, [], |r| r.get(0)).ok()
}

/// Peak and current resident memory of a process, in kB (VmHWM, VmRSS).
pub fn memory_kb(pid: u32) -> Option<(u64, u64)> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
    };
    Some((field("VmHWM:")?, field("VmRSS:")?))
}

/// Sends SIGTERM (or another signal) to `pid`.
pub fn signal(pid: u32, sig: &str) {
    let ok = std::process::Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "kill -{sig} {pid} failed");
}

/// Waits up to `secs` for `child` to exit; returns its status and how long it took, or kills
/// it and panics.
pub fn wait_exit(
    child: &mut std::process::Child,
    secs: u64,
    what: &str,
) -> (std::process::ExitStatus, Duration) {
    let t = std::time::Instant::now();
    loop {
        if let Some(st) = child.try_wait().unwrap() {
            return (st, t.elapsed());
        }
        if t.elapsed() > Duration::from_secs(secs) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what}: still running {secs} s later (killed)");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Polls `f` every 5 ms until it returns Some, or panics after `secs` seconds with `what`.
pub async fn wait_for<T>(secs: u64, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("timed out after {secs} s waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Source state changes as the health board logs them (`tracing` events with a `source` field),
/// captured process-wide so that no transition is missed however short it is.
pub mod states {
    use std::sync::{Mutex, OnceLock};

    use tracing::field::{Field, Visit};
    use tracing_subscriber::Layer;
    use tracing_subscriber::layer::{Context, SubscriberExt};

    static LOG: OnceLock<Mutex<Vec<(String, String)>>> = OnceLock::new();

    struct Capture;

    #[derive(Default)]
    struct Fields {
        source: Option<String>,
        message: String,
    }

    impl Visit for Fields {
        fn record_str(&mut self, field: &Field, value: &str) {
            if field.name() == "source" {
                self.source = Some(value.to_string());
            }
        }
        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            match field.name() {
                "message" => self.message = format!("{value:?}"),
                "source" => self.source = Some(format!("{value:?}").trim_matches('"').to_string()),
                _ => {}
            }
        }
    }

    impl<S: tracing::Subscriber> Layer<S> for Capture {
        fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
            if event.metadata().target() != "tickwatch::pipeline" {
                return;
            }
            let mut f = Fields::default();
            event.record(&mut f);
            if let (Some(src), Some(log)) = (f.source, LOG.get()) {
                log.lock().unwrap().push((src, f.message));
            }
        }
    }

    /// Starts capturing (once per test binary).
    pub fn capture() {
        LOG.get_or_init(|| {
            let _ = tracing::subscriber::set_global_default(
                tracing_subscriber::registry().with(Capture),
            );
            Mutex::new(Vec::new())
        });
    }

    /// The state lines logged for source `name`, in order.
    pub fn of(name: &str) -> Vec<String> {
        LOG.get()
            .map(|l| {
                l.lock()
                    .unwrap()
                    .iter()
                    .filter(|(s, _)| s == name)
                    .map(|(_, m)| m.clone())
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// The address `record --metrics 127.0.0.1:0` serves, read from its stderr (written to the
/// file `stderr`); panics with that text if the child ends or 20 s pass first.
pub fn metrics_addr(child: &mut std::process::Child, stderr: &std::path::Path) -> String {
    let t = std::time::Instant::now();
    loop {
        let text = std::fs::read_to_string(stderr).unwrap_or_default();
        if let Some(a) = text
            .split("metrics on http://")
            .nth(1)
            .and_then(|r| r.split("/metrics").next())
        {
            return a.to_string();
        }
        if let Some(st) = child.try_wait().unwrap() {
            panic!("record ended ({st}): {text}");
        }
        assert!(
            t.elapsed() < Duration::from_secs(20),
            "no metrics address: {text}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}
