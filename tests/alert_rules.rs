//! Alert rules end to end: rules made at run time (as the monitor makes them) are stored and
//! come back with their state after a restart; `tickwatch record` re-reads its config file
//! while it runs; `tickwatch alerts list` prints the history with where each alert went.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use tickwatch::alerts::rules::{Origin, RuleConfig, Status};
use tickwatch::alerts::{DeliveryOutcome, Severity};
use tickwatch::domain::VenueSymbol;
use tickwatch::domain::{AlertRecord, DeliveryRecord, OutputBatch, RuleRecord};
use tickwatch::domain::{EventKind, MarketEvent, Side, Symbol, TradeTick, TsMs, Venue, now_ms};
use tickwatch::engine::runner::{Outputs, RunSummary, Runner, StorePolicy};
use tickwatch::engine::{Engine, EngineConfig};
use tickwatch::pipeline::{HealthBoard, Ingest, PipelineStats};
use tickwatch::store::{self, StoreWriter, queries};
use tickwatch::view::{EngineCtl, SnapshotSlot, ViewSnapshot};

fn spec(text: &str) -> RuleConfig {
    toml::from_str(text).unwrap()
}

fn trade(id: u64, ts: TsMs, price: f64) -> MarketEvent {
    MarketEvent {
        venue: Venue::Sim,
        symbol: Symbol::new("X").unwrap(),
        exch_ms: ts,
        recv_ms: ts,
        kind: EventKind::Trade(TradeTick {
            trade_id: id,
            price,
            qty: 1.0,
            side: Side::Buy,
        }),
    }
}

/// The engine thread and the storage thread on one database, as the monitor runs them.
struct Running {
    ctl: flume::Sender<EngineCtl>,
    ingest: flume::Sender<Ingest>,
    slot: SnapshotSlot,
    engine: JoinHandle<RunSummary>,
    writer: StoreWriter,
}

const CONFIG_RULE: &str =
    "name = 'cfg-once'\nkind = 'price_above'\nvalue = 105\nmode = 'once'\ncooldown_secs = 0";

fn start(db: &Path) -> Running {
    let stats = Arc::new(PipelineStats::default());
    let writer = StoreWriter::spawn(db, stats.clone(), HealthBoard::default()).unwrap();
    // what the app does at start: the stored rules and states go into the engine
    let saved = queries::rules(&store::open_readonly(db).unwrap()).unwrap();
    let engine = Engine::new(
        EngineConfig {
            rules: vec![spec(CONFIG_RULE).build().unwrap()],
            saved_rules: saved,
            ..EngineConfig::default()
        },
        stats,
    )
    .unwrap();
    let (ingest, ring_rx) = tickwatch::pipeline::ring(64);
    let (ctl, ctl_rx) = flume::unbounded();
    let slot = SnapshotSlot::default();
    let runner = Runner {
        engine,
        ingest: ring_rx,
        ctl: ctl_rx,
        outputs: Outputs {
            store: Some((writer.sender(), StorePolicy::Block)),
            view: Some(slot.clone()),
            alerts: None,
            publish: None,
        },
        frame: Duration::from_millis(5),
        stop_after_finished: None,
        stop: Default::default(),
        budget: None,
    };
    let engine = std::thread::spawn(move || runner.run());
    Running {
        ctl,
        ingest,
        slot,
        engine,
        writer,
    }
}

impl Running {
    /// Waits until the published snapshot satisfies `pred`.
    fn wait(&self, what: &str, pred: impl Fn(&ViewSnapshot) -> bool) -> ViewSnapshot {
        let end = Instant::now() + Duration::from_secs(10);
        loop {
            let snap = self.slot.latest();
            if pred(&snap) {
                return (*snap).clone();
            }
            assert!(
                Instant::now() < end,
                "timed out waiting for {what}: rules {:?}",
                snap.rules
                    .iter()
                    .map(|r| (&r.name, r.status))
                    .collect::<Vec<_>>()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    fn stop(self) {
        drop(self.ingest);
        self.engine.join().unwrap();
        self.writer.close().unwrap();
    }
}

fn status_of(snap: &ViewSnapshot, name: &str) -> Option<Status> {
    snap.rules.iter().find(|r| r.name == name).map(|r| r.status)
}

#[test]
fn rules_made_at_run_time_and_their_states_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("rules.db");
    let r = start(&db);
    let high = spec(
        "name = 'm-high'\nsymbols = ['X']\nkind = 'price_above'\nvalue = 110\ncooldown_secs = 0",
    );
    let low = spec("name = 'm-low'\nkind = 'price_below'\nvalue = 90");
    r.ctl.send(EngineCtl::AddRule(high.clone())).unwrap();
    r.ctl.send(EngineCtl::AddRule(low.clone())).unwrap();
    r.ctl
        .send(EngineCtl::AddRule(spec(
            "name = 'm-gone'\nkind = 'zscore'\nvalue = 5",
        )))
        .unwrap();
    r.ctl
        .send(EngineCtl::DeleteRule {
            name: "m-gone".into(),
        })
        .unwrap();
    let until = now_ms() + 3_600_000;
    r.ctl
        .send(EngineCtl::Snooze {
            name: "m-low".into(),
            until_ms: Some(until),
        })
        .unwrap();
    r.wait("the rules made at run time", |s| {
        s.rules.len() == 3 && status_of(s, "m-low") == Some(Status::Snoozed)
    });
    let t0 = now_ms();
    r.ingest
        .send(Ingest::Events(vec![
            trade(1, t0, 100.0),
            trade(2, t0 + 1, 111.0),
        ]))
        .unwrap();
    let snap = r.wait("both rules to fire", |s| s.alerts.len() == 2);
    assert_eq!(status_of(&snap, "cfg-once"), Some(Status::Triggered));
    assert_eq!(status_of(&snap, "m-high"), Some(Status::Triggered));
    r.stop();

    // what is stored
    let conn = store::open_readonly(&db).unwrap();
    let rows = queries::rules(&conn).unwrap();
    let by_name = |n: &str| rows.iter().find(|r| r.rule_id == n).cloned();
    assert!(by_name("m-gone").is_none(), "deleted");
    let row: RuleRecord = by_name("m-high").unwrap();
    assert_eq!(
        (row.origin, row.state),
        (Origin::Monitor, Status::Triggered)
    );
    assert_eq!(row.spec, high);
    assert_eq!(row.last_fired_ms, Some(t0 + 1));
    let row = by_name("m-low").unwrap();
    assert_eq!(
        (row.state, row.snoozed_until_ms),
        (Status::Snoozed, Some(until))
    );
    let row = by_name("cfg-once").unwrap();
    assert_eq!((row.origin, row.state), (Origin::Config, Status::Triggered));
    assert_eq!(queries::alerts(&conn, None, None).unwrap().len(), 2);
    drop(conn);

    // a restart: the engine is rebuilt from the database
    let r = start(&db);
    let snap = r.wait("the stored rules", |s| s.rules.len() == 3);
    let names: Vec<&str> = snap.rules.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["cfg-once", "m-high", "m-low"]);
    assert_eq!(status_of(&snap, "cfg-once"), Some(Status::Triggered));
    assert_eq!(status_of(&snap, "m-high"), Some(Status::Triggered));
    assert_eq!(status_of(&snap, "m-low"), Some(Status::Snoozed));
    let m_low = snap.rules.iter().find(|r| r.name == "m-low").unwrap();
    assert_eq!((m_low.origin, &m_low.spec), (Origin::Monitor, &low));
    // still above its level: m-high does not fire again until the price has been back below
    let t1 = now_ms();
    r.ingest
        .send(Ingest::Events(vec![trade(3, t1, 112.0)]))
        .unwrap();
    r.ingest
        .send(Ingest::Events(vec![
            trade(4, t1 + 1, 100.0),
            trade(5, t1 + 2, 115.0),
        ]))
        .unwrap();
    let snap = r.wait("m-high to fire after re-arming", |s| !s.alerts.is_empty());
    let fired: Vec<(&str, f64)> = snap
        .alerts
        .iter()
        .map(|a| (a.rule.as_str(), a.value))
        .collect();
    assert_eq!(fired, [("m-high", 115.0)], "the once rule stays quiet");
    // acknowledged, the once rule is armed again and that is stored too
    r.ctl
        .send(EngineCtl::Acknowledge {
            name: "cfg-once".into(),
        })
        .unwrap();
    r.wait("the acknowledgement", |s| {
        status_of(s, "cfg-once") == Some(Status::Armed)
    });
    r.stop();
    let rows = queries::rules(&store::open_readonly(&db).unwrap()).unwrap();
    let once = rows.iter().find(|r| r.rule_id == "cfg-once").unwrap();
    assert_eq!(once.state, Status::Armed);
}

// ---- hot reload, through the real binary ----

fn tickwatch(dir: &Path) -> Command {
    support::tickwatch_cmd(dir)
}

const BASE: &str = "sources = [\"sim\"]\n[notify]\ndesktop = false\nterminal = \"off\"\n";

/// Writes the config with a modification time that moves forward every time.
fn write_config(path: &Path, text: &str) {
    let previous = std::fs::metadata(path).and_then(|m| m.modified()).ok();
    std::fs::write(path, text).unwrap();
    if let Some(p) = previous {
        let f = std::fs::File::options().write(true).open(path).unwrap();
        f.set_modified(p + Duration::from_secs(1)).unwrap();
    }
}

/// (name, spec value) of the stored rules, or None while the database cannot be read.
fn stored(db: &Path) -> Option<Vec<(String, f64)>> {
    let conn = store::open_readonly(db).ok()?;
    let rows = queries::rules(&conn).ok()?;
    Some(
        rows.into_iter()
            .map(|r| (r.rule_id, r.spec.value))
            .collect(),
    )
}

fn wait_stored(db: &Path, want: &[(&str, f64)]) {
    let want: Vec<(String, f64)> = want.iter().map(|(n, v)| (n.to_string(), *v)).collect();
    let end = Instant::now() + Duration::from_secs(20);
    let mut last = None;
    while Instant::now() < end {
        last = stored(db);
        if let Some(rows) = &last {
            let mut rows = rows.clone();
            rows.sort_by(|a, b| a.0.cmp(&b.0));
            if rows == want {
                return;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("wanted the rules {want:?} stored, found {last:?}");
}

/// Collects a child's stderr lines as they come.
fn collect_stderr(child: &mut Child) -> Arc<Mutex<String>> {
    let text = Arc::new(Mutex::new(String::new()));
    let err = child.stderr.take().unwrap();
    let t = text.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            let mut g = t.lock().unwrap();
            g.push_str(&line);
            g.push('\n');
        }
    });
    text
}

fn wait_text(text: &Mutex<String>, what: &str, pred: impl Fn(&str) -> bool) {
    let end = Instant::now() + Duration::from_secs(20);
    while Instant::now() < end {
        if pred(&text.lock().unwrap()) {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!(
        "timed out waiting for {what}; stderr:\n{}",
        text.lock().unwrap()
    );
}

#[test]
fn record_re_reads_its_config_and_keeps_the_old_rules_when_the_new_file_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    let db = dir.path().join("live.db");
    let rule_a = |v: u32| format!("[[alerts]]\nname = \"a\"\nkind = \"zscore\"\nvalue = {v}\n");
    write_config(&path, &format!("{BASE}{}", rule_a(50)));
    let mut child = tickwatch(dir.path())
        .arg("--config")
        .arg(&path)
        .arg("--db")
        .arg(&db)
        .args(["record", "--stats-every", "0.5"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = collect_stderr(&mut child);
    wait_stored(&db, &[("a", 50.0)]);

    // a valid change: a edited, b added
    write_config(
        &path,
        &format!(
            "{BASE}{}[[alerts]]\nname = \"b\"\nkind = \"stale\"\nvalue = 30\n",
            rule_a(60)
        ),
    );
    wait_stored(&db, &[("a", 60.0), ("b", 30.0)]);

    // a mistake: reported with its line and column, the rules stay
    write_config(
        &path,
        &format!(
            "{BASE}{}[[alerts]]\nname = \"c\"\nkind = \"rsi_above\"\nvalue = 700\n",
            rule_a(70)
        ),
    );
    let want = format!("config: failed: {}:", path.display());
    wait_text(&stderr, "the config error on the health board", |t| {
        t.lines()
            .any(|l| l.contains(&want) && l.contains("between 0 and 100"))
    });
    let line = stderr
        .lock()
        .unwrap()
        .lines()
        .find(|l| l.contains(&want))
        .map(str::to_string)
        .unwrap();
    // the wrong value of the second [[alerts]] entry is on line 12 of this file, column 9
    assert!(
        line.contains(&format!("{}:12:9:", path.display())),
        "{line}"
    );
    std::thread::sleep(Duration::from_secs(3));
    wait_stored(&db, &[("a", 60.0), ("b", 30.0)]);

    // fixed: applied, and the board says so
    write_config(&path, &format!("{BASE}{}", rule_a(80)));
    wait_stored(&db, &[("a", 80.0)]);
    wait_text(&stderr, "the config entry back to live", |t| {
        t.lines().last().is_some_and(|l| l.contains("config: live"))
    });

    let status = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    assert!(child.wait().unwrap().success());
}

// ---- alerts list ----

fn alert(id: &str, ts: TsMs, rule: &str, message: &str, severity: Severity) -> AlertRecord {
    AlertRecord {
        alert_id: id.into(),
        ts_ms: ts,
        key: VenueSymbol::new(Venue::Binance, Symbol::new("BTCUSDT").unwrap()),
        rule: rule.into(),
        value: 70_123.5,
        message: message.into(),
        delivered: "tui".into(),
        severity,
    }
}

/// 2025-03-01T00:00:00Z
const DAY: TsMs = 1_740_787_200_000;

fn history_db(dir: &Path) -> std::path::PathBuf {
    let db = dir.join("history.db");
    let mut conn = store::open(&db).unwrap();
    let batch = OutputBatch {
        alerts: vec![
            alert(
                "a1",
                DAY - 3_600_000,
                "old",
                "BTCUSDT yesterday",
                Severity::Info,
            ),
            alert(
                "a2",
                DAY + 60_000,
                "btc-70k",
                "BTCUSDT price 70123.5 rose above 70000, \"fast\"",
                Severity::Critical,
            ),
        ],
        deliveries: vec![
            DeliveryRecord {
                alert_id: "a2".into(),
                sink: "desktop".into(),
                outcome: DeliveryOutcome::Sent,
            },
            DeliveryRecord {
                alert_id: "a2".into(),
                sink: "webhook:ops".into(),
                outcome: DeliveryOutcome::Failed("HTTP 500".into()),
            },
        ],
        ..OutputBatch::default()
    };
    store::write_batches(&mut conn, &[batch]).unwrap();
    db
}

fn list(dir: &Path, db: &Path, args: &[&str]) -> String {
    let out = tickwatch(dir)
        .arg("--db")
        .arg(db)
        .args(["alerts", "list"])
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn alerts_list_prints_the_history_with_where_each_alert_went() {
    let dir = tempfile::tempdir().unwrap();
    let db = history_db(dir.path());

    let csv = list(dir.path(), &db, &["--format", "csv"]);
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "time,ts_ms,severity,venue,symbol,rule,value,message,delivered"
    );
    assert_eq!(lines.len(), 3, "{csv}");
    assert_eq!(
        lines[1],
        "2025-03-01T00:01:00.000Z,1740787260000,critical,binance,BTCUSDT,btc-70k,70123.5,\
         \"BTCUSDT price 70123.5 rose above 70000, \"\"fast\"\"\",\
         \"tui,desktop,webhook:ops(failed: HTTP 500)\"",
        "newest first, quoted where needed"
    );
    assert!(
        lines[2].contains(",info,") && lines[2].contains(",old,"),
        "{csv}"
    );

    let since = list(
        dir.path(),
        &db,
        &["--format", "csv", "--since", "2025-03-01"],
    );
    assert_eq!(since.lines().count(), 2, "{since}");

    let json = list(dir.path(), &db, &["--format", "json"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let a = &v[0];
    assert_eq!(a["alert_id"], "a2");
    assert_eq!(a["severity"], "critical");
    assert_eq!(a["symbol"], "BTCUSDT");
    assert_eq!(a["value"], 70123.5);
    assert_eq!(a["deliveries"][0]["sink"], "desktop");
    assert_eq!(a["deliveries"][0]["ok"], true);
    assert_eq!(a["deliveries"][1]["sink"], "webhook:ops");
    assert_eq!(a["deliveries"][1]["ok"], false);
    assert_eq!(a["deliveries"][1]["error"], "HTTP 500");
    assert_eq!(v[1]["deliveries"], serde_json::json!([]));
    assert_eq!(v.as_array().unwrap().len(), 2);

    let table = list(dir.path(), &db, &["--format", "table", "--limit", "1"]);
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 2, "{table}");
    assert!(lines[0].starts_with("TIME (UTC)"), "{table}");
    for part in [
        "2025-03-01 00:01:00",
        "critical",
        "binance:BTCUSDT",
        "btc-70k",
        "webhook:ops(failed",
    ] {
        assert!(lines[1].contains(part), "{part}: {table}");
    }

    // mistakes are the user's: exit code 2
    let out = tickwatch(dir.path())
        .arg("--db")
        .arg(&db)
        .args(["alerts", "list", "--since", "last tuesday"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--since"));
    let out = tickwatch(dir.path())
        .arg("--db")
        .arg(dir.path().join("missing.db"))
        .args(["alerts", "list"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.db"));
}
