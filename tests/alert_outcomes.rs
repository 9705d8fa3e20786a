#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Every fired alert ends with exactly one stored outcome per sink that wants it (sent, failed
//! or skipped), at the worst moments: the store's queue full while outcomes come in, a dead
//! webhook with a backlog when tickwatch stops, the engine's queue to the notifier full. Skips
//! (dedupe, rate limit, shutdown) are stored and listed as skips, never counted as failures.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::http::{PostHandler, RecordingServer, Response};
use tickwatch::alerts::Severity;
use tickwatch::alerts::notifier::{self, DeliveryPolicy, NotifyConfig};
use tickwatch::alerts::rules::{RuleConfig, RuleKind};
use tickwatch::alerts::sinks::terminal::{Sequence, TerminalOut, TerminalSpec};
use tickwatch::alerts::sinks::{NotifySection, SinkSpec};
use tickwatch::domain::{AlertRecord, OutputBatch};
use tickwatch::domain::{EventKind, MarketEvent, Side, Symbol, TradeTick, Venue, VenueSymbol};
use tickwatch::engine::runner::{Outputs, Runner, StorePolicy};
use tickwatch::engine::{Engine, EngineConfig};
use tickwatch::pipeline::{HealthBoard, Ingest, PipelineStats};
use tickwatch::store::{StoreWriter, WriterConfig};

// ---------------------------------------------------------------------------------------------
// helpers

fn alert(i: u32, symbol: &str) -> AlertRecord {
    AlertRecord {
        alert_id: format!(
            "{}-binance-{symbol}-anomaly",
            1_700_000_000_000u64 + u64::from(i)
        ),
        ts_ms: 1_700_000_000_000 + i64::from(i),
        key: VenueSymbol::new(Venue::Binance, Symbol::new(symbol).unwrap()),
        rule: "anomaly".into(),
        value: 7.5,
        message: format!("{symbol} anomaly #{i}"),
        delivered: "tui".into(),
        severity: Severity::Warning,
    }
}

fn alerts(n: u32) -> Vec<AlertRecord> {
    (0..n).map(|i| alert(i, &format!("S{i}USDT"))).collect()
}

/// No dedupe, no rate limit, no retry: each alert is one delivery.
fn plain() -> DeliveryPolicy {
    DeliveryPolicy {
        attempts: 1,
        dedupe: Duration::ZERO,
        per_minute: 0,
        ..DeliveryPolicy::default()
    }
}

fn bells() -> (SinkSpec, Arc<Mutex<Vec<u8>>>) {
    let buf: Arc<Mutex<Vec<u8>>> = Arc::default();
    let spec = SinkSpec::Terminal(TerminalSpec {
        sequences: vec![Sequence::Bell],
        tmux: false,
        out: TerminalOut::Buffer(buf.clone()),
    });
    (spec, buf)
}

fn notify(toml_text: &str) -> NotifyConfig {
    #[derive(serde::Deserialize)]
    struct Doc {
        notify: NotifySection,
    }
    let n = toml::from_str::<Doc>(toml_text).unwrap().notify;
    n.validate().unwrap();
    n.resolve(&|_| None)
}

fn handler(
    f: impl Fn(&support::http::Posted, usize) -> Response + Send + Sync + 'static,
) -> PostHandler {
    Arc::new(f)
}

/// A webhook that accepts the request and never answers.
async fn dead_server() -> RecordingServer {
    RecordingServer::start(handler(|_, _| {
        Response::json(200, "{}").delayed(Duration::from_secs(3600))
    }))
    .await
}

async fn ok_server() -> RecordingServer {
    RecordingServer::start(handler(|_, _| Response::json(200, "{}"))).await
}

/// A writer on a database in `dir` with `alerts` queued to it already.
fn store_with(dir: &Path, alerts: &[AlertRecord], config: WriterConfig) -> (StoreWriter, PathBuf) {
    let db = dir.join("outcomes.db");
    let w = StoreWriter::spawn_with(
        &db,
        Arc::default(),
        HealthBoard::default(),
        config,
        Default::default(),
    )
    .unwrap();
    w.sender()
        .send_blocking(OutputBatch {
            alerts: alerts.to_vec(),
            ..Default::default()
        })
        .unwrap();
    (w, db)
}

/// (alert_id, sink, status, error) of every stored outcome, ordered.
fn outcomes(db: &Path) -> Vec<(String, String, String, Option<String>)> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut st = conn
        .prepare(
            "SELECT alert_id, sink, status, error FROM alert_deliveries ORDER BY alert_id, sink",
        )
        .unwrap();
    st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn stored_alert_ids(db: &Path) -> Vec<String> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut st = conn
        .prepare("SELECT alert_id FROM alerts ORDER BY alert_id")
        .unwrap();
    st.query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn tickwatch(dir: &Path) -> Command {
    support::tickwatch_cmd(dir)
}

fn alerts_list(dir: &Path, db: &Path, format: &str) -> String {
    let out = tickwatch(dir)
        .arg("--db")
        .arg(db)
        .args(["alerts", "list", "--format", format])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

// ---------------------------------------------------------------------------------------------
// the store's queue is full while outcomes come in

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_outcome_is_stored_while_the_store_queue_is_full() {
    let dir = tempfile::tempdir().unwrap();
    let fired = alerts(20);
    // a one-batch queue, and another connection holding the write lock: the writer's first
    // transaction (the alerts) waits for it and the queue fills, as at start-up while history
    // is written
    let config = WriterConfig {
        channel_batches: 1,
        ..WriterConfig::default()
    };
    let db = dir.path().join("outcomes.db");
    let writer = StoreWriter::spawn_with(
        &db,
        Arc::default(),
        HealthBoard::default(),
        config,
        Default::default(),
    )
    .unwrap();
    let lock = rusqlite::Connection::open(&db).unwrap();
    lock.execute_batch("BEGIN IMMEDIATE").unwrap();
    writer
        .sender()
        .send_blocking(OutputBatch {
            alerts: fired.clone(),
            ..Default::default()
        })
        .unwrap();
    // the writer has taken the alerts and, past its batching delay, waits for the lock
    let sender = writer.sender();
    support::wait_for(10, "the writer to take the alerts", || {
        (sender.pending_batches() == 0).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;

    let (term, buf) = bells();
    let (tx, rx) = flume::bounded(1_024);
    let stats = Arc::new(PipelineStats::default());
    let task = tokio::spawn(notifier::run(
        NotifyConfig {
            sinks: vec![term],
            policy: plain(),
        },
        rx,
        Some(writer.sender()),
        HealthBoard::default(),
        stats.clone(),
    ));
    for a in &fired {
        tx.send(a.clone()).unwrap();
    }
    support::wait_for(10, "the store's queue full", || {
        (sender.pending_batches() == 1).then_some(())
    })
    .await;
    // outcomes keep coming while the queue is full
    tokio::time::sleep(Duration::from_millis(300)).await;
    lock.execute_batch("COMMIT").unwrap();
    drop(lock);
    support::wait_for(10, "twenty bells", || {
        (buf.lock().unwrap().len() == 20).then_some(())
    })
    .await;
    drop(tx);
    tokio::time::timeout(Duration::from_secs(20), task)
        .await
        .expect("the notifier ends once the engine is gone")
        .unwrap();
    writer.close().unwrap();

    assert_eq!(PipelineStats::get(&stats.store_dropped), 0);
    let rows = outcomes(&db);
    assert_eq!(rows.len(), 20, "one outcome per alert: {rows:?}");
    for (id, sink, status, error) in &rows {
        assert_eq!(
            (sink.as_str(), status.as_str(), error),
            ("terminal", "sent", &None),
            "{id}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// stopping with a dead webhook and a backlog

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_webhook_with_a_backlog_still_gives_each_alert_one_outcome_at_stop() {
    let dead = dead_server().await;
    let ok = ok_server().await;
    let dir = tempfile::tempdir().unwrap();
    let fired = alerts(12);
    let (writer, db) = store_with(dir.path(), &fired, WriterConfig::default());
    // the dead one hangs each try for its 10 s timeout, 3 tries with 1 s and 4 s between
    let mut cfg = notify(&format!(
        "[notify]\ndesktop = false\n\
         [[notify.webhook]]\nname = \"dead\"\nurl = \"{}/hook\"\ntimeout_secs = 10\n\
         [[notify.webhook]]\nname = \"ok\"\nurl = \"{}/hook\"\n",
        dead.url, ok.url
    ));
    cfg.policy = DeliveryPolicy {
        attempts: 3,
        backoff: Duration::from_secs(1),
        ..plain()
    };
    assert_eq!(cfg.policy.stop_grace, notifier::STOP_GRACE);
    let (tx, rx) = flume::bounded(1_024);
    let stats = Arc::new(PipelineStats::default());
    let task = tokio::spawn(notifier::run(
        cfg,
        rx,
        Some(writer.sender()),
        HealthBoard::default(),
        stats.clone(),
    ));
    for a in &fired {
        tx.send(a.clone()).unwrap();
    }
    support::wait_for(10, "every alert at the healthy webhook", || {
        (ok.posts().len() == 12).then_some(())
    })
    .await;
    // the engine stops with 11 alerts queued for the dead webhook and one in flight
    let stopping = Instant::now();
    drop(tx);
    tokio::time::timeout(Duration::from_secs(20), task)
        .await
        .expect("the notifier stops within seconds even with a dead webhook")
        .unwrap();
    let took = stopping.elapsed();
    assert!(
        took < notifier::STOP_WAIT + Duration::from_secs(3),
        "stopping took {took:?}"
    );
    writer.close().unwrap();

    assert_eq!(dead.posts().len(), 1, "one try under way at the stop");
    let rows = outcomes(&db);
    assert_eq!(rows.len(), 24, "one outcome per alert and sink: {rows:?}");
    for a in &fired {
        let mine: Vec<_> = rows.iter().filter(|r| r.0 == a.alert_id).collect();
        assert_eq!(mine.len(), 2, "{mine:?}");
        let (_, sink, status, _) = mine[1];
        assert_eq!((sink.as_str(), status.as_str()), ("webhook:ok", "sent"));
        let (_, sink, status, reason) = mine[0];
        assert_eq!(sink, "webhook:dead");
        assert_eq!(status, "skipped");
        let reason = reason.as_deref().unwrap();
        assert!(
            reason.starts_with(notifier::STOPPED),
            "{}: {reason}",
            a.alert_id
        );
    }
    // skips are not failures
    assert_eq!(PipelineStats::get(&stats.deliveries_failed), 0);
}

/// The whole program: `tickwatch record` stopped with SIGTERM while a dead webhook has a
/// backlog. It exits within seconds and `alerts list` shows one outcome per alert and sink.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn record_stopped_with_a_dead_webhook_stores_an_outcome_for_every_alert() {
    let dead = dead_server().await;
    let ok = ok_server().await;
    let dir = tempfile::tempdir().unwrap();
    let symbols: Vec<String> = (0..12).map(|i| format!("\"T{i}USDT\"")).collect();
    let cfg = dir.path().join("config.toml");
    std::fs::write(
        &cfg,
        format!(
            "sources = [\"sim\"]\n\
             [sim]\nsymbols = [{}]\nhistory_secs = 0\n\
             [notify]\ndesktop = false\nterminal = \"off\"\ndedupe_secs = 0\nrate_limit_per_minute = 0\n\
             [[notify.webhook]]\nname = \"dead\"\nurl = \"{}/hook\"\ntimeout_secs = 10\n\
             [[notify.webhook]]\nname = \"ok\"\nurl = \"{}/hook\"\n\
             [[alerts]]\nname = \"any\"\nkind = \"price_above\"\nvalue = 0.001\n",
            symbols.join(", "),
            dead.url,
            ok.url
        ),
    )
    .unwrap();
    let db = dir.path().join("live.db");
    let stderr = dir.path().join("stderr.txt");
    let mut child = tickwatch(dir.path())
        .arg("--config")
        .arg(&cfg)
        .arg("--db")
        .arg(&db)
        .args(["record", "--stats-every", "60"])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr).unwrap())
        .spawn()
        .unwrap();
    support::wait_for(20, "an alert per symbol at the healthy webhook", || {
        if let Some(exit) = child.try_wait().unwrap() {
            panic!(
                "tickwatch ended early ({exit}): {}",
                std::fs::read_to_string(&stderr).unwrap_or_default()
            );
        }
        (ok.posts().len() >= 12).then_some(())
    })
    .await;
    let stopping = Instant::now();
    let status = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .unwrap();
    assert!(status.success());
    let exit = support::wait_for(20, "tickwatch to exit", || child.try_wait().unwrap()).await;
    let took = stopping.elapsed();
    assert!(exit.success(), "{exit:?}");
    assert!(took < Duration::from_secs(12), "stopping took {took:?}");

    let json = alerts_list(dir.path(), &db, "json");
    let list: serde_json::Value = serde_json::from_str(&json).unwrap();
    let list = list.as_array().unwrap();
    assert!(list.len() >= 12, "{json}");
    assert_eq!(ok.posts().len(), list.len(), "{json}");
    for a in list {
        let ds = a["deliveries"].as_array().unwrap();
        let by = |sink: &str| -> Vec<&serde_json::Value> {
            ds.iter().filter(|d| d["sink"] == sink).collect()
        };
        let dead_out = by("webhook:dead");
        assert_eq!(dead_out.len(), 1, "{a}");
        let status = dead_out[0]["status"].as_str().unwrap();
        let reason = dead_out[0]["reason"].as_str().unwrap();
        assert!(
            (status == "skipped" && reason.starts_with(notifier::STOPPED)) || status == "failed",
            "{a}"
        );
        let ok_out = by("webhook:ok");
        assert_eq!(ok_out.len(), 1, "{a}");
        assert_eq!(ok_out[0]["status"], "sent", "{a}");
        assert_eq!(ds.len(), 2, "{a}");
    }
}

// ---------------------------------------------------------------------------------------------
// skips are stored and listed as skips

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dedupe_and_rate_limit_skips_are_listed_as_skips_not_failures() {
    let dir = tempfile::tempdir().unwrap();
    let first = alert(1, "BTCUSDT");
    let again = alert(2, "BTCUSDT");
    let held = alert(3, "ETHUSDT");
    let all = [first.clone(), again.clone(), held.clone()];
    let (writer, db) = store_with(dir.path(), &all, WriterConfig::default());
    let (term, buf) = bells();
    let health = HealthBoard::default();
    let stats = Arc::new(PipelineStats::default());
    let (tx, rx) = flume::bounded(1_024);
    let task = tokio::spawn(notifier::run(
        NotifyConfig {
            sinks: vec![term],
            policy: DeliveryPolicy {
                dedupe: Duration::from_secs(15),
                per_minute: 1,
                ..plain()
            },
        },
        rx,
        Some(writer.sender()),
        health.clone(),
        stats.clone(),
    ));
    tx.send(first.clone()).unwrap();
    support::wait_for(5, "the first", || {
        (buf.lock().unwrap().len() == 1).then_some(())
    })
    .await;
    tx.send(again.clone()).unwrap(); // the same rule and symbol: skipped by the dedupe
    tx.send(held.clone()).unwrap(); // beyond 1 a minute: held, then stopped before it went
    drop(tx);
    tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("the notifier does not wait out the rate limit's minute")
        .unwrap();
    writer.close().unwrap();

    assert_eq!(PipelineStats::get(&stats.deliveries_failed), 0);
    assert!(
        health.snapshot().iter().all(|h| h.name != "terminal"),
        "skips are not shown as a failing sink"
    );
    let rows = outcomes(&db);
    assert_eq!(rows.len(), 3, "{rows:?}");
    assert_eq!(rows[0].2, "sent");
    assert_eq!(rows[1].2, "skipped");
    assert!(
        rows[1]
            .3
            .as_deref()
            .unwrap()
            .starts_with("the same rule on BTCUSDT was delivered 0 s ago"),
        "{rows:?}"
    );
    assert_eq!(rows[2].2, "skipped");
    assert_eq!(
        rows[2].3.as_deref(),
        Some("tickwatch stopped before it was sent (held by the rate limit)")
    );

    let dedupe_shown =
        "tui,terminal(skipped: the same rule on BTCUSDT was delivered 0 s ago [dedupe_secs = 15])";
    let held_shown =
        "tui,terminal(skipped: tickwatch stopped before it was sent [held by the rate limit])";
    let csv = alerts_list(dir.path(), &db, "csv");
    let line = |id: &AlertRecord| {
        csv.lines()
            .find(|l| l.contains(&id.message))
            .unwrap_or_else(|| panic!("{} missing: {csv}", id.message))
            .to_string()
    };
    assert!(line(&first).ends_with(",\"tui,terminal\""), "{csv}");
    assert!(
        line(&again).ends_with(&format!(",\"{dedupe_shown}\"")),
        "{csv}"
    );
    assert!(
        line(&held).ends_with(&format!(",\"{held_shown}\"")),
        "{csv}"
    );
    assert!(!csv.contains("failed"), "{csv}");

    let table = alerts_list(dir.path(), &db, "table");
    assert!(table.contains(dedupe_shown), "{table}");
    assert!(table.contains(held_shown), "{table}");
    assert!(!table.contains("failed"), "{table}");

    let json = alerts_list(dir.path(), &db, "json");
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let skipped = v
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["alert_id"] == again.alert_id.as_str())
        .unwrap();
    let d = &skipped["deliveries"][0];
    assert_eq!(d["status"], "skipped", "{json}");
    assert_eq!(d["ok"], false, "{json}");
    assert_eq!(d["error"], serde_json::Value::Null, "{json}");
    assert!(
        d["reason"]
            .as_str()
            .unwrap()
            .starts_with("the same rule on BTCUSDT"),
        "{json}"
    );
}

// ---------------------------------------------------------------------------------------------
// the engine's queue to the notifier is full

fn trade(symbol: &str, id: u64, ts: i64, price: f64) -> MarketEvent {
    MarketEvent {
        venue: Venue::Sim,
        symbol: Symbol::new(symbol).unwrap(),
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_from_the_engine_to_the_notifier_loses_no_alert() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("engine.db");
    let stats = Arc::new(PipelineStats::default());
    let writer = StoreWriter::spawn(&db, stats.clone(), HealthBoard::default()).unwrap();
    let rule = RuleConfig {
        name: Some("above".into()),
        ..RuleConfig::new(RuleKind::PriceAbove, 105.0)
    }
    .build()
    .unwrap();
    let engine = Engine::new(
        EngineConfig {
            rules: vec![rule],
            ..EngineConfig::default()
        },
        stats.clone(),
    )
    .unwrap();
    // 20 symbols cross the level at once: 20 alerts in one go into a queue of 2
    let t0 = tickwatch::domain::now_ms();
    let events: Vec<MarketEvent> = (0..20u64)
        .flat_map(|i| {
            let s = format!("X{i}");
            [trade(&s, 1, t0 - 1_000, 100.0), trade(&s, 2, t0, 110.0)]
        })
        .collect();
    let (ingest, ring_rx) = tickwatch::pipeline::ring(64);
    ingest.send(Ingest::Events(events)).unwrap();
    drop(ingest);
    let (_ctl, ctl_rx) = flume::unbounded();
    let (alert_tx, alert_rx) = flume::bounded(2);
    let runner = Runner {
        engine,
        ingest: ring_rx,
        ctl: ctl_rx,
        outputs: Outputs {
            store: Some((writer.sender(), StorePolicy::Block)),
            view: None,
            alerts: Some(alert_tx),
            publish: None,
        },
        frame: Duration::from_millis(5),
        stop_after_finished: None,
        stop: Default::default(),
        budget: None,
    };
    let engine = std::thread::spawn(move || runner.run());
    // the notifier is late (busy, or still starting): the queue stays full for a while
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (term, buf) = bells();
    let task = tokio::spawn(notifier::run(
        NotifyConfig {
            sinks: vec![term],
            policy: plain(),
        },
        alert_rx,
        Some(writer.sender()),
        HealthBoard::default(),
        stats.clone(),
    ));
    let summary = tokio::task::spawn_blocking(move || engine.join().unwrap())
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(20), task)
        .await
        .expect("the notifier ends after the engine")
        .unwrap();
    writer.close().unwrap();

    assert_eq!(summary.alerts, 20);
    assert_eq!(
        buf.lock().unwrap().len(),
        20,
        "every alert reached the sink"
    );
    let ids = stored_alert_ids(&db);
    assert_eq!(ids.len(), 20);
    let rows = outcomes(&db);
    for id in &ids {
        let mine: Vec<_> = rows.iter().filter(|r| &r.0 == id).collect();
        assert_eq!(mine.len(), 1, "{id}: {rows:?}");
        assert_eq!(
            (mine[0].1.as_str(), mine[0].2.as_str()),
            ("terminal", "sent")
        );
    }
    assert_eq!(PipelineStats::get(&stats.deliveries_failed), 0);
}
