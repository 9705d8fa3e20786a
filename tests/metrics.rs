//! `--metrics`: the real `record` on the simulator serves the Prometheus text format. Every
//! line of a scrape is valid exposition, counters grow between scrapes, the source's state and
//! the alert sink's outcomes are there, hostile clients (a slowloris, a huge request, a flood
//! of idle connections) do not take the endpoint down, and SIGTERM still stops `record`
//! promptly. A taken port or a bad address is a clear error that names it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::{BTreeMap, HashSet};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use support::{signal, tickwatch_cmd, wait_exit};

/// One sample: name, labels (sorted), value.
#[derive(Debug, Clone)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// Parses a scrape strictly by the text format 0.0.4, panicking on the first line that is not
/// valid: `# HELP`/`# TYPE` before a family's samples, each family declared once and its
/// samples together, names and label names of the allowed characters, label values with only
/// the three escapes, counters named `_total`.
fn parse_exposition(text: &str) -> Vec<Sample> {
    assert!(text.ends_with('\n'), "a scrape ends with a line feed");
    let mut types: BTreeMap<String, String> = BTreeMap::new();
    let mut helped = HashSet::new();
    let mut closed = HashSet::new();
    let mut current = String::new();
    let mut out = Vec::new();
    let is_name = |s: &str, colon: bool| {
        let mut c = s.chars();
        c.next()
            .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || (colon && c == ':'))
            && c.all(|c| c.is_ascii_alphanumeric() || c == '_' || (colon && c == ':'))
    };
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').unwrap_or((rest, ""));
            assert!(is_name(name, true), "bad name: {line}");
            assert!(helped.insert(name.to_string()), "HELP twice: {line}");
            // only \\ and \n escapes in help
            let mut chars = help.chars();
            while let Some(c) = chars.next() {
                if c == '\\' {
                    assert!(
                        matches!(chars.next(), Some('\\' | 'n')),
                        "bad escape: {line}"
                    );
                }
            }
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap_or_else(|| panic!("{line}"));
            assert!(is_name(name, true), "bad name: {line}");
            assert!(
                ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind),
                "bad type: {line}"
            );
            assert!(!types.contains_key(name), "TYPE twice: {line}");
            assert_eq!(kind == "counter", name.ends_with("_total"), "{line}");
            if !current.is_empty() {
                closed.insert(current.clone());
            }
            current = name.to_string();
            types.insert(name.to_string(), kind.to_string());
            continue;
        }
        assert!(!line.starts_with('#') || line.starts_with("# "), "{line}");
        if line.starts_with('#') {
            continue;
        }
        // name{labels} value [timestamp]
        let name_end = line.find(['{', ' ']).unwrap_or_else(|| panic!("{line}"));
        let name = &line[..name_end];
        assert!(is_name(name, true), "bad sample name: {line}");
        assert_eq!(name, current, "sample outside its family: {line}");
        assert!(!closed.contains(name), "family split: {line}");
        let mut labels = BTreeMap::new();
        let mut rest = &line[name_end..];
        if let Some(r) = rest.strip_prefix('{') {
            let mut r = r;
            loop {
                if let Some(after) = r.strip_prefix('}') {
                    r = after;
                    break;
                }
                let eq = r.find('=').unwrap_or_else(|| panic!("{line}"));
                let key = &r[..eq];
                assert!(is_name(key, false), "bad label name {key:?}: {line}");
                r = r[eq + 1..]
                    .strip_prefix('"')
                    .unwrap_or_else(|| panic!("label value not quoted: {line}"));
                let mut value = String::new();
                let mut chars = r.char_indices();
                let end = loop {
                    match chars.next() {
                        Some((_, '\\')) => match chars.next() {
                            Some((_, '\\')) => value.push('\\'),
                            Some((_, '"')) => value.push('"'),
                            Some((_, 'n')) => value.push('\n'),
                            other => panic!("bad escape {other:?}: {line}"),
                        },
                        Some((i, '"')) => break i,
                        Some((_, c)) => value.push(c),
                        None => panic!("unterminated label value: {line}"),
                    }
                };
                assert!(labels.insert(key.to_string(), value).is_none(), "{line}");
                r = &r[end + 1..];
                r = r.strip_prefix(',').unwrap_or(r);
            }
            rest = r;
        }
        let rest = rest
            .strip_prefix(' ')
            .unwrap_or_else(|| panic!("no space before the value: {line}"));
        let mut parts = rest.split(' ');
        let value = match parts.next().unwrap() {
            "NaN" => f64::NAN,
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("bad value: {line}")),
        };
        if let Some(ts) = parts.next() {
            ts.parse::<i64>()
                .unwrap_or_else(|_| panic!("bad timestamp: {line}"));
        }
        assert!(parts.next().is_none(), "{line}");
        if types[name] == "counter" {
            assert!(value >= 0.0, "negative counter: {line}");
        }
        out.push(Sample {
            name: name.to_string(),
            labels,
            value,
        });
    }
    for name in types.keys() {
        assert!(helped.contains(name), "{name} has no HELP");
    }
    out
}

/// An HTTP answer: status, headers (lower-case names), body.
struct Answer {
    status: u16,
    headers: BTreeMap<String, String>,
    body: String,
}

/// Sends `request` as is and reads the answer to the end (the server closes).
fn http(addr: &str, request: &[u8]) -> std::io::Result<Answer> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    s.write_all(request)?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let raw = String::from_utf8(raw).expect("utf-8 answer");
    // a connection closed without an answer (the endpoint was busy)
    let Some((head, body)) = raw.split_once("\r\n\r\n") else {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    };
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))
        .collect();
    Ok(Answer {
        status,
        headers,
        body: body.to_string(),
    })
}

fn get(addr: &str, path: &str) -> Answer {
    http(
        addr,
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n").as_bytes(),
    )
    .unwrap_or_else(|e| panic!("GET {path}: {e}"))
}

/// A scrape, checked line by line.
fn scrape(addr: &str) -> Vec<Sample> {
    let a = get(addr, "/metrics");
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(
        a.headers.get("content-type").map(String::as_str),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    assert_eq!(
        a.headers.get("content-length"),
        Some(&a.body.len().to_string())
    );
    parse_exposition(&a.body)
}

fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples
        .iter()
        .find(|s| {
            s.name == name
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.value)
}

const CONFIG: &str = "sources = [\"sim\"]\n\
    [sim]\nsymbols = [\"BTCUSDT\", \"ETHUSDT\"]\nhistory_secs = 0\nrate = 20\n\
    [notify]\ndesktop = false\nterminal = \"off\"\n\
    [[notify.command]]\nname = \"ok\"\nprogram = \"/bin/true\"\n\
    [[alerts]]\nname = \"any\"\nkind = \"price_above\"\nvalue = 0.001\n";

/// `record` on the simulator with `--metrics 127.0.0.1:0` (the system picks a free port, so
/// tests never race for one); returns the child, its stderr file and the address it serves.
fn start_record(dir: &Path) -> (Child, std::path::PathBuf, String) {
    let cfg = dir.join("config.toml");
    std::fs::write(&cfg, CONFIG).unwrap();
    let stderr = dir.join("stderr.txt");
    let mut child = tickwatch_cmd(dir)
        .arg("--config")
        .arg(&cfg)
        .arg("--db")
        .arg(dir.join("m.db"))
        .args(["record", "--stats-every", "60", "--metrics", "127.0.0.1:0"])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .spawn()
        .unwrap();
    let addr = support::metrics_addr(&mut child, &stderr);
    (child, stderr, addr)
}

/// Polls scrapes until `ok` holds, for up to `secs`.
fn scrape_until(addr: &str, secs: u64, what: &str, ok: impl Fn(&[Sample]) -> bool) -> Vec<Sample> {
    let t = Instant::now();
    loop {
        let s = scrape(addr);
        if ok(&s) {
            return s;
        }
        assert!(t.elapsed() < Duration::from_secs(secs), "{what}: {s:#?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn record_serves_valid_growing_metrics_survives_hostile_clients_and_stops_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let (mut child, stderr, addr) = start_record(dir.path());

    let events = |s: &[Sample]| {
        value(s, "tickwatch_source_events_total", &[("source", "sim")]).unwrap_or(0.0)
    };
    // a configured sink's outcomes are series from the start, before any alert
    scrape_until(&addr, 10, "the sink's zero series", |s| {
        value(
            s,
            "tickwatch_alert_deliveries_total",
            &[("sink", "command:ok"), ("outcome", "failed")],
        )
        .is_some()
    });
    let first = scrape_until(&addr, 20, "events, rows and a delivery", |s| {
        events(s) > 0.0
            && value(s, "tickwatch_store_rows_written_total", &[]).unwrap_or(0.0) > 0.0
            && value(
                s,
                "tickwatch_alert_deliveries_total",
                &[("sink", "command:ok"), ("outcome", "sent")],
            )
            .unwrap_or(0.0)
                > 0.0
    });
    assert_eq!(
        value(
            &first,
            "tickwatch_source_state",
            &[("source", "sim"), ("state", "live")]
        ),
        Some(1.0),
        "{first:#?}"
    );
    let states: f64 = first
        .iter()
        .filter(|s| s.name == "tickwatch_source_state" && s.labels["source"] == "sim")
        .map(|s| s.value)
        .sum();
    assert_eq!(states, 1.0, "exactly one state is current");
    assert_eq!(
        value(
            &first,
            "tickwatch_component_state",
            &[("component", "db"), ("state", "live")]
        ),
        Some(1.0)
    );
    assert!(value(&first, "tickwatch_alerts_fired_total", &[]).unwrap() > 0.0);
    for name in [
        "tickwatch_ring_dropped_events_total",
        "tickwatch_trades_lost_total",
        "tickwatch_store_rows_pending",
        "tickwatch_store_rows_dropped_total",
        "tickwatch_events_in_total",
    ] {
        assert!(value(&first, name, &[]).is_some(), "{name} missing");
    }

    // every metric is documented in the README's table
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    for s in &first {
        assert!(
            readme.contains(&format!("| `{}` |", s.name)),
            "{} is not in the README's metrics table",
            s.name
        );
    }

    // counters only grow, and the ones a running simulator moves do grow
    std::thread::sleep(Duration::from_millis(1_500));
    let second = scrape(&addr);
    assert!(events(&second) > events(&first));
    for name in [
        "tickwatch_events_processed_total",
        "tickwatch_store_rows_written_total",
    ] {
        assert!(
            value(&second, name, &[]) > value(&first, name, &[]),
            "{name} did not grow"
        );
    }
    for s in first.iter().filter(|s| s.name.ends_with("_total")) {
        let labels: Vec<(&str, &str)> = s
            .labels
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let later = value(&second, &s.name, &labels).unwrap_or_else(|| panic!("{s:?} gone"));
        assert!(later >= s.value, "{s:?} went down to {later}");
    }

    // the other routes
    let health = get(&addr, "/healthz");
    assert_eq!((health.status, health.body.as_str()), (200, "ok\n"));
    // the container's HEALTHCHECK command agrees
    let check = tickwatch_cmd(dir.path())
        .args(["healthcheck", "--addr", &addr])
        .output()
        .unwrap();
    assert!(check.status.success(), "{check:?}");
    assert_eq!(String::from_utf8_lossy(&check.stdout), "ok\n");
    assert_eq!(get(&addr, "/").status, 404);
    let post = http(
        &addr,
        b"POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
    )
    .unwrap();
    assert_eq!(post.status, 405);
    assert_eq!(
        post.headers.get("allow").map(String::as_str),
        Some("GET, HEAD")
    );

    // a slowloris: a byte every 100 ms, never finishing its head
    let slow_addr = addr.clone();
    let slowloris = std::thread::spawn(move || {
        let mut s = TcpStream::connect(&slow_addr).unwrap();
        let _ = s.write_all(b"GET /metrics HTTP/1.1\r\nX-Slow: ");
        for _ in 0..150 {
            if s.write_all(b"a").is_err() {
                return true; // closed by the server
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    });
    // a huge request head: answered 431 (or cut) after a few kB, never read whole
    let mut huge = TcpStream::connect(&addr).unwrap();
    huge.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut sent = 0usize;
    let _ = huge.write_all(b"GET /metrics HTTP/1.1\r\nX-Big: ");
    let chunk = vec![b'x'; 64 * 1024];
    while sent < 16 * 1024 * 1024 {
        if huge.write_all(&chunk).is_err() {
            break;
        }
        sent += chunk.len();
    }
    assert!(
        sent < 16 * 1024 * 1024,
        "the endpoint read 16 MB of a request head"
    );
    let mut answer = Vec::new();
    let _ = huge.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 431 "),
        "{answer}"
    );
    // meanwhile scrapes are answered
    assert!(events(&scrape(&addr)) > 0.0);
    // a flood of idle connections, more than it serves at once: a scrape gets through once
    // their time is up (5 s), not never
    let idle: Vec<TcpStream> = (0..48)
        .map(|_| TcpStream::connect(&addr).unwrap())
        .collect();
    let t = Instant::now();
    let through = loop {
        match http(&addr, b"GET /metrics HTTP/1.1\r\n\r\n") {
            Ok(a) if a.status == 200 => break t.elapsed(),
            _ => {}
        }
        assert!(
            t.elapsed() < Duration::from_secs(15),
            "no scrape through the flood"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    drop(idle);
    eprintln!("scrape through 48 idle connections after {through:?}");
    assert!(slowloris.join().unwrap(), "the slowloris was never cut off");

    // SIGTERM stops it promptly, and cleanly
    signal(child.id(), "TERM");
    let (st, took) = wait_exit(&mut child, 20, "record after SIGTERM");
    let err = std::fs::read_to_string(&stderr).unwrap_or_default();
    assert!(st.success(), "{st}: {err}");
    assert!(
        took < Duration::from_secs(15),
        "stopping took {took:?}: {err}"
    );
    assert!(
        TcpStream::connect(&addr).is_err(),
        "the endpoint is closed with the process"
    );
    let check = tickwatch_cmd(dir.path())
        .args(["healthcheck", "--addr", &addr, "--timeout", "2"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&check.stderr);
    assert_eq!(check.status.code(), Some(1), "{err}");
    assert!(err.contains(&format!("no answer from {addr}")), "{err}");
}

/// A port already in use, or an address that is not one, stops `record` at once with a
/// message that names it (exit 1 and 2); the monitor says the same before taking the screen.
#[test]
fn a_taken_port_or_a_bad_address_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config.toml");
    std::fs::write(&cfg, CONFIG).unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let run = |args: &[&str]| {
        let out = tickwatch_cmd(dir.path())
            .arg("--config")
            .arg(&cfg)
            .arg("--db")
            .arg(dir.path().join("m.db"))
            .args(args)
            .stdin(Stdio::null())
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let (code, err) = run(&["record", "--metrics", &addr]);
    assert_eq!(code, Some(1), "{err}");
    assert!(
        err.contains(&format!("cannot listen for metrics on {addr}")) && err.contains("free port"),
        "{err}"
    );
    let (code, err) = run(&["record", "--metrics", "localhost"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("\"localhost\"") && err.contains("HOST:PORT"),
        "{err}"
    );
    let (code, err) = run(&["--demo", "--metrics", &addr]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains(&addr), "{err}");
    let (code, err) = run(&["healthcheck", "--addr", "nonsense"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("HOST:PORT"), "{err}");
    // something that is not tickwatch on the port
    let (code, err) = run(&["healthcheck", "--addr", &addr, "--timeout", "1"]);
    assert_eq!(code, Some(1), "{err}");
    // `[metrics] listen` in the config is used by record
    std::fs::write(&cfg, format!("{CONFIG}[metrics]\nlisten = \"{addr}\"\n")).unwrap();
    let (code, err) = run(&["record"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains(&addr), "{err}");
}

/// `tickwatch --demo --db DB --metrics 127.0.0.1:0` in tmux; the address it serves, from its
/// log (the monitor owns the screen). None where tmux is missing (SKIPPED).
fn monitor_with_metrics(
    dir: &Path,
    db: &str,
) -> Option<(support::tmux::Tmux, std::path::PathBuf, String)> {
    let (t, exit_file) = support::tmux::start_with(
        dir,
        100,
        32,
        &format!("--demo --db '{db}' --metrics 127.0.0.1:0"),
        "",
    )?;
    let log = dir.join("tw.log");
    let start = Instant::now();
    loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if let Some(a) = text
            .split("metrics on http://")
            .nth(1)
            .and_then(|r| r.split("/metrics").next())
        {
            return Some((t, exit_file, a.to_string()));
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no address in the log: {text}\n{}",
            t.capture()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The monitor serves the same endpoint while its screen runs, and closes it when it quits.
#[test]
fn the_monitor_serves_metrics_while_it_runs() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("demo.db");
    let Some((t, exit_file, addr)) = monitor_with_metrics(dir.path(), &db.to_string_lossy()) else {
        return;
    };
    let first = scrape_until(&addr, 20, "the simulator live", |s| {
        value(
            s,
            "tickwatch_source_state",
            &[("source", "sim"), ("state", "live")],
        ) == Some(1.0)
    });
    let events = |s: &[Sample]| value(s, "tickwatch_source_events_total", &[("source", "sim")]);
    std::thread::sleep(Duration::from_millis(1_500));
    assert!(events(&scrape(&addr)) > events(&first));
    assert_eq!(get(&addr, "/healthz").status, 200);
    t.keys(&["q"]);
    assert_eq!(support::tmux::wait_exit(&exit_file), 0);
    assert!(
        TcpStream::connect(&addr).is_err(),
        "closed with the monitor"
    );
}

/// A monitor whose database cannot be used runs in memory: its metrics say the db failed and
/// `/healthz` answers 503 with the reason, while the data still flow.
#[test]
fn healthz_is_503_while_the_database_has_failed() {
    let dir = tempfile::tempdir().unwrap();
    let Some((t, exit_file, addr)) = monitor_with_metrics(dir.path(), "/proc/tickwatch-test/x.db")
    else {
        return;
    };
    let s = scrape_until(&addr, 20, "the simulator live", |s| {
        value(
            s,
            "tickwatch_source_state",
            &[("source", "sim"), ("state", "live")],
        ) == Some(1.0)
    });
    assert_eq!(
        value(
            &s,
            "tickwatch_component_state",
            &[("component", "db"), ("state", "failed")]
        ),
        Some(1.0)
    );
    let h = get(&addr, "/healthz");
    assert_eq!(h.status, 503, "{}", h.body);
    assert!(h.body.contains("running in memory"), "{}", h.body);
    let check = tickwatch_cmd(dir.path())
        .args(["healthcheck", "--addr", &addr])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&check.stderr);
    assert_eq!(check.status.code(), Some(1), "{err}");
    assert!(
        err.contains("unhealthy (503)") && err.contains("running in memory"),
        "{err}"
    );
    t.keys(&["q"]);
    assert_eq!(support::tmux::wait_exit(&exit_file), 0);
}
