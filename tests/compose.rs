//! compose.yaml cannot run here (no image registry, no Docker engine), so its services run as
//! plain processes with their own commands and configuration, read from the file itself:
//! PostgreSQL initialised as the official image does from the `postgres` service's environment,
//! `nats-server` with the `nats` service's command, and the `tickwatch` service's command with
//! its environment, its mounted config and the Dockerfile's ENTRYPOINT, HOME and HEALTHCHECK.
//! Host names of services and container ports become 127.0.0.1 and free ports; volumes become
//! temporary directories. So the files cannot drift from what works: a wrong flag, URL, user,
//! database, password variable, volume path or port in them fails here.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde::Deserialize;
use support::pg::PgServer;

#[derive(Debug, Deserialize)]
struct Compose {
    services: BTreeMap<String, Service>,
    #[serde(default)]
    volumes: BTreeMap<String, Option<serde_yaml_ng::Value>>,
}

/// The keys of a service this test runs (compose's other keys are not read).
#[derive(Debug, Deserialize)]
struct Service {
    #[serde(default)]
    command: Vec<String>,
    #[serde(default)]
    environment: BTreeMap<String, String>,
    #[serde(default)]
    volumes: Vec<String>,
    #[serde(default)]
    ports: Vec<String>,
    healthcheck: Option<Healthcheck>,
    stop_grace_period: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Healthcheck {
    test: Vec<String>,
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn compose() -> Compose {
    let text = std::fs::read_to_string(root().join("compose.yaml")).unwrap();
    serde_yaml_ng::from_str(&text).unwrap()
}

/// Compose's variable interpolation: `${NAME}`, `${NAME:-default}`, `${NAME:?message}` (an
/// error when NAME is unset or empty, as `docker compose` stops with the message).
fn interpolate(s: &str, env: &HashMap<&str, String>) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("${") {
        out.push_str(&rest[..i]);
        let end = rest[i..].find('}').ok_or(format!("unclosed ${{ in {s}"))? + i;
        let expr = &rest[i + 2..end];
        let (name, op) = match expr.find(':') {
            Some(j) => (&expr[..j], Some(&expr[j..])),
            None => (expr, None),
        };
        let value = env.get(name).filter(|v| !v.is_empty());
        match (value, op) {
            (Some(v), _) => out.push_str(v),
            (None, Some(o)) if o.starts_with(":-") => out.push_str(&o[2..]),
            (None, Some(o)) if o.starts_with(":?") => return Err(o[2..].to_string()),
            (None, _) => {}
        }
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// A published port "IP:HOST_PORT:CONTAINER_PORT" as (ip, container port).
fn published(port: &str) -> (String, u16) {
    let parts: Vec<&str> = port.split(':').collect();
    assert_eq!(parts.len(), 3, "publish ports as IP:HOST:CONTAINER: {port}");
    (parts[0].to_string(), parts[2].parse().unwrap())
}

/// What a service's paths and addresses become here: container paths under its volumes map to
/// host paths, `HOST:PORT` of a service (or of the container itself) maps to 127.0.0.1 and
/// the test's port.
#[derive(Default)]
struct Mapping {
    paths: Vec<(String, PathBuf)>,
    addrs: Vec<(String, String)>,
}

impl Mapping {
    fn arg(&self, a: &str) -> String {
        let mut a = a.to_string();
        for (from, to) in &self.addrs {
            a = a.replace(from, to);
        }
        for (target, host) in &self.paths {
            if a == *target {
                return host.display().to_string();
            }
            if let Some(rest) = a.strip_prefix(&format!("{target}/")) {
                return host.join(rest).display().to_string();
            }
        }
        a
    }

    fn path(&self, p: &str) -> PathBuf {
        PathBuf::from(self.arg(p))
    }
}

/// The Dockerfile's exec-form instruction `op` (its first line), as arguments.
fn dockerfile_exec(op: &str) -> Vec<String> {
    let text = std::fs::read_to_string(root().join("Dockerfile")).unwrap();
    let mut joined = String::new();
    for line in text.lines().filter(|l| !l.trim_start().starts_with('#')) {
        match line.trim_end().strip_suffix('\\') {
            Some(part) => joined.push_str(part),
            None => {
                joined.push_str(line);
                joined.push('\n');
            }
        }
    }
    let line = joined
        .lines()
        .find(|l| l.starts_with(&format!("{op} ")))
        .unwrap_or_else(|| panic!("no {op} in the Dockerfile"));
    let json = &line[line.find('[').unwrap()..];
    serde_json::from_str(json).unwrap()
}

/// The Dockerfile's `ENV NAME=value`.
fn dockerfile_env(name: &str) -> String {
    let text = std::fs::read_to_string(root().join("Dockerfile")).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("ENV {name}=")))
        .unwrap_or_else(|| panic!("no ENV {name}= in the Dockerfile"))
        .trim()
        .to_string()
}

fn wait_port(port: u16, what: &str) {
    let t = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            t.elapsed() < Duration::from_secs(15),
            "{what} did not start"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// GET `path` over plain HTTP/1.1; the status code and body.
fn http_get(port: u16, path: &str) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    let code = text.split_whitespace().nth(1).unwrap().parse().unwrap();
    let body = text.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    (code, body.to_string())
}

/// A metric's value in Prometheus text (the first sample whose name and labels are `series`).
fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

fn poll<T>(secs: u64, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let t = Instant::now();
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(t.elapsed() < Duration::from_secs(secs), "timed out: {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Kills a child on every exit path of the test (a failed assertion included).
struct Reaped(Option<Child>);

impl Drop for Reaped {
    fn drop(&mut self) {
        if let Some(c) = self.0.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// "30s", "1m30s" as seconds.
fn seconds(d: &str) -> u64 {
    let mut total = 0;
    let mut n = String::new();
    for c in d.chars() {
        match c {
            '0'..='9' => n.push(c),
            'h' | 'm' | 's' => {
                let mult = match c {
                    'h' => 3600,
                    'm' => 60,
                    _ => 1,
                };
                total += n.parse::<u64>().unwrap() * mult;
                n.clear();
            }
            _ => panic!("duration {d}"),
        }
    }
    total
}

#[test]
fn every_published_port_is_on_loopback_and_the_password_is_required() {
    let c = compose();
    for (name, svc) in &c.services {
        for p in &svc.ports {
            let p = interpolate(p, &HashMap::new()).unwrap();
            assert_eq!(published(&p).0, "127.0.0.1", "{name}: {p}");
        }
    }
    // without TICKWATCH_DB_PASSWORD, compose refuses to start, naming it
    let pw = &c.services["postgres"].environment["POSTGRES_PASSWORD"];
    let err = interpolate(pw, &HashMap::new()).unwrap_err();
    assert!(err.contains("TICKWATCH_DB_PASSWORD"), "{err}");
    // tickwatch reads the same password, from PGPASSWORD (never from its command line)
    let tw = &c.services["tickwatch"];
    assert_eq!(&tw.environment["PGPASSWORD"], pw);
    assert!(tw.command.iter().all(|a| !a.contains("PASSWORD")));
    // the default config mount is the one the image holds
    let mount = tw
        .volumes
        .iter()
        .find(|v| v.contains(":/etc/tickwatch/config.toml"))
        .unwrap();
    let mount = interpolate(mount, &HashMap::new()).unwrap();
    assert_eq!(mount.split(':').next(), Some("./assets/container.toml"));
}

/// The compose file's services, run as processes: the recorder stores into the PostgreSQL,
/// publishes to the NATS that a monitor (with assets/remote-monitor.toml) reads, answers on its
/// metrics port, passes the Dockerfile's HEALTHCHECK, and stops cleanly on SIGTERM within the
/// compose file's stop_grace_period.
#[test]
fn the_compose_services_run_as_processes_and_work_together() {
    let Some(nats_bin) = support::nats::binary() else {
        support::cannot_run("nats-server is not installed (Debian package nats-server)");
        return;
    };
    let c = compose();
    let dir = tempfile::tempdir().unwrap();
    let password = "compose-test-secret-41c9";

    // The config the tickwatch service mounts, through the compose file's own variable for
    // it. No internet here, so the test's copy of the default config (assets/container.toml)
    // differs only in its sources line (the simulator instead of Binance) and an appended
    // [sim] section that starts it without an hour of history.
    let shipped = std::fs::read_to_string(root().join("assets/container.toml")).unwrap();
    let sources_lines: Vec<&str> = shipped
        .lines()
        .filter(|l| l.starts_with("sources ="))
        .collect();
    assert_eq!(sources_lines.len(), 1, "{shipped}");
    let config = shipped.replace(sources_lines[0], "sources = [\"sim\"]")
        + "\n[sim]\nsymbols = [\"BTCUSDT\", \"ETHUSDT\"]\nrate = 20.0\nhistory_secs = 0\n";
    let config_path = dir.path().join("container-sim.toml");
    std::fs::write(&config_path, config).unwrap();
    let env: HashMap<&str, String> = [
        ("TICKWATCH_DB_PASSWORD", password.to_string()),
        ("TICKWATCH_CONFIG", config_path.display().to_string()),
    ]
    .into();

    // postgres: initialised as the official image's entrypoint does from its environment
    let pg_svc = &c.services["postgres"];
    let pg_env = |k: &str| interpolate(&pg_svc.environment[k], &env).unwrap();
    let (pg_user, pg_db) = (pg_env("POSTGRES_USER"), pg_env("POSTGRES_DB"));
    assert_eq!(pg_env("POSTGRES_PASSWORD"), password);
    let Some(pg) = PgServer::start_as(&pg_user, password, Some(&pg_db)) else {
        return;
    };
    let pg_port = pg.port;

    // every service's container ports, and the free ports standing in for them (the
    // image's 5432: the test server's port)
    let mut ports: HashMap<(String, u16), u16> = HashMap::new();
    for (name, svc) in &c.services {
        for p in &svc.ports {
            let (_, container) = published(&interpolate(p, &env).unwrap());
            let port = if name == "postgres" && container == 5432 {
                pg_port
            } else {
                support::pg::free_port()
            };
            ports.insert((name.clone(), container), port);
        }
    }
    assert!(ports.contains_key(&("postgres".to_string(), 5432)));
    let mapping = |service: &str, svc: &Service| {
        let mut m = Mapping::default();
        for ((name, container), port) in &ports {
            let here = format!("127.0.0.1:{port}");
            if name == service {
                for host in ["0.0.0.0", "127.0.0.1", "localhost"] {
                    m.addrs.push((format!("{host}:{container}"), here.clone()));
                }
            } else {
                m.addrs.push((format!("{name}:{container}"), here.clone()));
            }
        }
        for v in &svc.volumes {
            let v = interpolate(v, &env).unwrap();
            let parts: Vec<&str> = v.split(':').collect();
            let host = if c.volumes.contains_key(parts[0]) {
                let d = dir.path().join("volumes").join(parts[0]);
                std::fs::create_dir_all(&d).unwrap();
                d
            } else {
                let p = root().join(parts[0]);
                assert!(p.exists(), "{service} mounts {}: no such file", parts[0]);
                p
            };
            m.paths.push((parts[1].to_string(), host));
        }
        // longest container path first, so /a/b wins over /a
        m.paths.sort_by_key(|(t, _)| std::cmp::Reverse(t.len()));
        m
    };

    // its healthcheck, as compose runs it inside the container (PGPORT: the image's 5432 here)
    let check = &pg_svc.healthcheck.as_ref().unwrap().test;
    assert_eq!(check[0], "CMD");
    let out = Command::new(pg.tool(&check[1]))
        .args(&check[2..])
        .env("PGPORT", pg_port.to_string())
        .output()
        .unwrap();
    assert!(out.status.success(), "postgres healthcheck: {out:?}");

    // nats: the service's command, its store volume and its port mapped
    let nats_svc = &c.services["nats"];
    let nm = mapping("nats", nats_svc);
    assert_eq!(nats_svc.command[0], "nats-server");
    assert!(
        !nats_svc.command.iter().any(|a| a == "-p" || a == "-a"),
        "the test sets the address and port itself"
    );
    let nats_port = ports[&("nats".to_string(), 4222)];
    let nats = Reaped(Some(
        Command::new(&nats_bin)
            .args(nats_svc.command[1..].iter().map(|a| nm.arg(a)))
            .args(["-a", "127.0.0.1", "-p", &nats_port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    ));
    wait_port(nats_port, "nats-server");
    assert!(
        std::fs::read_dir(dir.path().join("volumes/nats-data"))
            .unwrap()
            .next()
            .is_some(),
        "the nats store is not on its volume"
    );

    // tickwatch: ENTRYPOINT + the service's command, its environment alone (as in a
    // container), HOME and WORKDIR from the Dockerfile, on its volumes
    let tw_svc = &c.services["tickwatch"];
    let tm = mapping("tickwatch", tw_svc);
    assert_eq!(dockerfile_exec("ENTRYPOINT"), ["tickwatch"]);
    let args: Vec<String> = tw_svc.command.iter().map(|a| tm.arg(a)).collect();
    for a in &args {
        assert!(
            !a.contains("@postgres:") && !a.contains("//nats:"),
            "unmapped: {a}"
        );
    }
    let home = tm.path(&dockerfile_env("HOME"));
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tickwatch"));
    cmd.args(&args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", &home)
        .current_dir(&home)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    for (k, v) in &tw_svc.environment {
        cmd.env(k, interpolate(v, &env).unwrap());
    }
    let mut rec = Reaped(Some(cmd.spawn().unwrap()));

    // it stores trades in the PostgreSQL
    poll(20, "trades in PostgreSQL", || {
        let child = rec.0.as_mut().unwrap();
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            let _ = child.stderr.take().unwrap().read_to_string(&mut err);
            panic!("tickwatch record exited ({status}):\n{err}");
        }
        let mut client = postgres::Config::new()
            .host("127.0.0.1")
            .port(pg_port)
            .user(&pg_user)
            .password(password)
            .dbname(&pg_db)
            .connect(postgres::NoTls)
            .ok()?;
        let n: i64 = client
            .query_one("SELECT count(*) FROM trades", &[])
            .ok()?
            .get(0);
        (n >= 100).then_some(n)
    });

    // its metrics answer on the published port, and say what it does
    let metrics_port = ports[&("tickwatch".to_string(), 9464)];
    let text = poll(10, "metrics with rows written", || {
        let (code, body) = http_get(metrics_port, "/metrics");
        assert_eq!(code, 200, "{body}");
        (metric(&body, "tickwatch_store_rows_written_total").unwrap_or(0.0) > 0.0).then_some(body)
    });
    assert_eq!(
        metric(
            &text,
            "tickwatch_source_state{source=\"sim\",state=\"live\"}"
        ),
        Some(1.0),
        "{text}"
    );
    // the Dockerfile's HEALTHCHECK command, with its own arguments
    let health = dockerfile_exec("HEALTHCHECK");
    assert_eq!(health[0], "tickwatch");
    let out = Command::new(env!("CARGO_BIN_EXE_tickwatch"))
        .args(health[1..].iter().map(|a| tm.arg(a)))
        .output()
        .unwrap();
    assert!(out.status.success(), "HEALTHCHECK: {out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ok");

    // a monitor attached as compose.yaml says (assets/remote-monitor.toml, whose NATS URL is
    // the ssh tunnel's end on 127.0.0.1:4222: the test's port here), with its own database
    let reader_dir = dir.path().join("laptop");
    std::fs::create_dir_all(&reader_dir).unwrap();
    let remote = std::fs::read_to_string(root().join("assets/remote-monitor.toml")).unwrap();
    assert!(remote.contains("\"nats://127.0.0.1:4222\""), "{remote}");
    let reader_config = reader_dir.join("remote-monitor.toml");
    std::fs::write(
        &reader_config,
        remote.replace("127.0.0.1:4222", &format!("127.0.0.1:{nats_port}")),
    )
    .unwrap();
    let reader_db = reader_dir.join("laptop.db");
    let mut reader = Reaped(Some(
        support::tickwatch_cmd(&reader_dir)
            .arg("--config")
            .arg(&reader_config)
            .arg("--db")
            .arg(&reader_db)
            .arg("record")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    ));
    poll(20, "trades at the attached monitor", || {
        (support::query_i64(&reader_db, "SELECT COUNT(*) FROM trades")? > 0).then_some(())
    });

    // `docker compose stop`: SIGTERM, and the stop_grace_period before a kill
    let grace = seconds(tw_svc.stop_grace_period.as_deref().unwrap_or("10s"));
    let child = rec.0.as_mut().unwrap();
    support::signal(child.id(), "TERM");
    let (status, took) = support::wait_exit(child, grace, "tickwatch record after SIGTERM");
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    rec.0 = None;
    assert!(status.success(), "record: {status}\n{stderr}");
    assert!(stderr.contains("not published 0"), "{stderr}");
    assert!(
        !stderr.contains(password),
        "the password was shown:\n{stderr}"
    );
    let log_file = &args[args.iter().position(|a| a == "--log-file").unwrap() + 1];
    let log = std::fs::read_to_string(log_file).unwrap();
    assert!(!log.contains(password), "the password was logged");
    let stored = pg.query_i64(&pg_db, "SELECT count(*) FROM trades");
    let candles = pg.query_i64(&pg_db, "SELECT count(*) FROM candles");
    assert!(candles > 0, "no candles stored");

    // every trade the recorder stored reached the attached monitor through NATS
    poll(20, "the monitor catching up", || {
        let n = support::query_i64(&reader_db, "SELECT COUNT(*) FROM trades")?;
        assert!(
            n <= stored,
            "the monitor has {n} trades, the recorder {stored}"
        );
        (n == stored).then_some(())
    });
    let child = reader.0.as_mut().unwrap();
    support::signal(child.id(), "TERM");
    let (status, _) = support::wait_exit(child, 20, "the attached monitor");
    assert!(status.success(), "the attached monitor: {status}");
    reader.0 = None;
    drop(nats);
    eprintln!(
        "compose: {stored} trades and {candles} candles in PostgreSQL, all at the attached monitor; record stopped in {:.1} s",
        took.as_secs_f64()
    );
}

/// The README's "Running on a server" shows the compose service's real command line.
#[test]
fn the_readme_shows_the_compose_command() {
    let c = compose();
    let cmd = &c.services["tickwatch"].command;
    let value = |flag: &str| &cmd[cmd.iter().position(|a| a == flag).unwrap() + 1];
    let shown = format!(
        "`record --db {} --publish {} --metrics {}`",
        value("--db"),
        value("--publish"),
        value("--metrics")
    );
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let section = &readme[readme.find("## Running on a server").unwrap()..];
    assert!(section.contains(&shown), "the README should show {shown}");
    assert!(section.contains("assets/remote-monitor.toml"));
}
