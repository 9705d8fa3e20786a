#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Alert delivery against real parts: a private D-Bus session bus with a fake notification
//! service watched by dbus-monitor, a local HTTP server for webhooks, a local SMTP server for
//! mail, shell scripts as command hooks, a pseudo-terminal for the OSC sequences, and sinks that
//! fail or hang. Dedupe and the rate limit run on tokio's paused clock.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use support::dbus::{NotificationService, PrivateBus};
use support::http::{PostHandler, RecordingServer, Response};
use support::smtp::{Behaviour, SmtpServer};
use tickwatch::alerts::Severity;
use tickwatch::alerts::notifier::{self, DeliveryPolicy, NotifyConfig};
use tickwatch::alerts::sinks::terminal::{Sequence, TerminalOut, TerminalSpec};
use tickwatch::alerts::sinks::{Notice, NotifySection, Sink, SinkSpec};
use tickwatch::domain::{AlertRecord, OutputBatch};
use tickwatch::domain::{Symbol, Venue, VenueSymbol};
use tickwatch::pipeline::{HealthBoard, PipelineStats, SourceState};
use tickwatch::store::StoreWriter;

// ---------------------------------------------------------------------------------------------
// helpers

fn alert(i: u32, symbol: &str, severity: Severity) -> AlertRecord {
    AlertRecord {
        alert_id: format!(
            "{}-binance-{symbol}-anomaly-{i}",
            1_700_000_000_000u64 + u64::from(i)
        ),
        ts_ms: 1_700_000_000_000 + i64::from(i),
        key: VenueSymbol::new(Venue::Binance, Symbol::new(symbol).unwrap()),
        rule: "anomaly".into(),
        value: 7.5,
        message: format!("{symbol} anomaly: return z-score +7.5 (|z| >= 6) #{i}"),
        delivered: "tui".into(),
        severity,
    }
}

/// `[notify]` text parsed and validated like config.toml, resolved with `env` only.
fn section(toml_text: &str) -> NotifySection {
    #[derive(serde::Deserialize)]
    struct Doc {
        notify: NotifySection,
    }
    let n = toml::from_str::<Doc>(toml_text).unwrap().notify;
    n.validate().unwrap();
    n
}

fn resolve(toml_text: &str, env: &[(&str, &str)]) -> NotifyConfig {
    section(toml_text).resolve(&|k| {
        env.iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| v.to_string())
    })
}

/// The notifier running on the current runtime, fed by `tx`.
struct Running {
    tx: flume::Sender<AlertRecord>,
    task: tokio::task::JoinHandle<()>,
    health: HealthBoard,
    stats: Arc<PipelineStats>,
}

fn start(cfg: NotifyConfig, store: Option<&StoreWriter>) -> Running {
    let (tx, rx) = flume::bounded(1_024);
    let health = HealthBoard::default();
    let stats = Arc::new(PipelineStats::default());
    let task = tokio::spawn(notifier::run(
        cfg,
        rx,
        store.map(StoreWriter::sender),
        health.clone(),
        stats.clone(),
    ));
    Running {
        tx,
        task,
        health,
        stats,
    }
}

impl Running {
    fn state(&self, sink: &str) -> Option<SourceState> {
        self.health
            .snapshot()
            .into_iter()
            .find(|h| h.name == sink)
            .map(|h| h.state)
    }

    fn failed(&self) -> u64 {
        PipelineStats::get(&self.stats.deliveries_failed)
    }

    /// Closes the alert channel and waits for every sink to finish its queue.
    async fn finish(self) -> (HealthBoard, Arc<PipelineStats>) {
        drop(self.tx);
        tokio::time::timeout(Duration::from_secs(60), self.task)
            .await
            .expect("the notifier finishes once the engine is gone")
            .unwrap();
        (self.health, self.stats)
    }
}

fn buffer_terminal(sequences: &[Sequence]) -> (SinkSpec, Arc<Mutex<Vec<u8>>>) {
    let buf: Arc<Mutex<Vec<u8>>> = Arc::default();
    (
        SinkSpec::Terminal(TerminalSpec {
            sequences: sequences.to_vec(),
            tmux: false,
            out: TerminalOut::Buffer(buf.clone()),
        }),
        buf,
    )
}

fn policy(attempts: u32, backoff_ms: u64) -> DeliveryPolicy {
    DeliveryPolicy {
        attempts,
        backoff: Duration::from_millis(backoff_ms),
        dedupe: Duration::ZERO,
        per_minute: 0,
        queue: 64,
        stop_grace: Duration::from_secs(3),
    }
}

fn handler(
    f: impl Fn(&support::http::Posted, usize) -> Response + Send + Sync + 'static,
) -> PostHandler {
    Arc::new(f)
}

/// A store in `dir` holding `alerts` already (deliveries attach to stored alerts).
fn store_with(dir: &Path, alerts: &[AlertRecord]) -> (StoreWriter, PathBuf) {
    let db = dir.join("alerts.db");
    let w = StoreWriter::spawn(&db, Arc::default(), HealthBoard::default()).unwrap();
    w.sender()
        .send_blocking(OutputBatch {
            alerts: alerts.to_vec(),
            ..Default::default()
        })
        .unwrap();
    (w, db)
}

/// (alert_id, sink, ok, error) of every stored delivery, ordered.
fn deliveries(db: &Path) -> Vec<(String, String, bool, Option<String>)> {
    let conn = rusqlite::Connection::open(db).unwrap();
    let mut st = conn
        .prepare("SELECT alert_id, sink, ok, error FROM alert_deliveries ORDER BY alert_id, sink")
        .unwrap();
    st.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn delivered(db: &Path, alert_id: &str) -> String {
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.query_row(
        "SELECT delivered FROM alerts WHERE alert_id = ?1",
        [alert_id],
        |r| r.get(0),
    )
    .unwrap()
}

fn tickwatch(dir: &Path) -> Command {
    support::tickwatch_cmd(dir)
}

/// Runs `c` off the runtime (the test's servers keep answering meanwhile).
async fn output(mut c: Command) -> Output {
    tokio::task::spawn_blocking(move || c.output().unwrap())
        .await
        .unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

// ---------------------------------------------------------------------------------------------
// desktop: a private session bus, a fake notification service, dbus-monitor

/// The line after `string "urgency"` in dbus-monitor's dump of a Notify call.
fn urgency_line(call: &str) -> String {
    let mut lines = call.lines();
    lines.find(|l| l.contains("string \"urgency\""));
    let next = lines.next().unwrap_or_default();
    next.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_desktop_notify_call_carries_summary_body_and_urgency() {
    let bus = PrivateBus::start();
    let service = NotificationService::start(&bus.address).await;
    let monitor = tokio::task::block_in_place(|| bus.monitor());
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.toml");
    std::fs::write(&cfg, "[notify]\ndesktop = true\nterminal = \"off\"\n").unwrap();

    for (severity, byte, expire) in [("info", 0, 10_000), ("critical", 2, 0)] {
        let mut c = tickwatch(dir.path());
        c.arg("--config")
            .arg(&cfg)
            .args([
                "alerts",
                "test",
                "--sink",
                "desktop",
                "--severity",
                severity,
            ])
            .env("DBUS_SESSION_BUS_ADDRESS", &bus.address);
        let out = output(c).await;
        let stdout = text(&out.stdout);
        assert!(out.status.success(), "{stdout}{}", text(&out.stderr));
        assert!(stdout.starts_with("desktop ok ("), "{stdout}");
        assert!(stdout.trim_end().ends_with(" ms)"), "{stdout}");
        let want = if byte == 0 { 1 } else { 2 };
        let calls = tokio::task::block_in_place(|| {
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                // a call is complete once its last argument (the expiry) is printed
                let calls = monitor.notify_calls();
                let complete = calls.iter().filter(|c| c.contains("int32")).count();
                if complete >= want || Instant::now() > deadline {
                    break calls;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        assert_eq!(calls.len(), want, "one Notify call per test: {calls:?}");
        let call = calls.last().unwrap();
        assert!(call.contains("string \"tickwatch\""), "app name:\n{call}");
        assert!(
            call.contains("string \"tickwatch: TEST test\""),
            "summary:\n{call}"
        );
        assert!(
            call.contains(
                "string \"Test alert from `tickwatch alerts test`: if you can read this, this sink works.\n20"
            ),
            "body is the message, a line break and the time:\n{call}"
        );
        assert_eq!(urgency_line(call), format!("variant byte {byte}"), "{call}");
        assert!(call.contains(&format!("int32 {expire}")), "expiry:\n{call}");
    }
    let seen = service.calls();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[0].summary, "tickwatch: TEST test");
    assert_eq!(seen[0].app_name, "tickwatch");
    assert_eq!(
        (seen[0].urgency, seen[1].urgency),
        (Some(0), Some(2)),
        "low for info, critical for critical"
    );
    assert_eq!(
        (seen[0].expire_timeout, seen[1].expire_timeout),
        (10_000, 0)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bus_without_a_notification_service_is_a_reported_failure() {
    let bus = PrivateBus::start();
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.toml");
    std::fs::write(&cfg, "[notify]\nterminal = \"off\"\n").unwrap();
    let mut c = tickwatch(dir.path());
    c.arg("--config")
        .arg(&cfg)
        .args(["alerts", "test"])
        .env("DBUS_SESSION_BUS_ADDRESS", &bus.address);
    let started = Instant::now();
    let out = output(c).await;
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.starts_with("desktop failed: "), "{stdout}");
    assert!(
        text(&out.stderr).contains("1 of 1 sink(s) failed"),
        "{}",
        text(&out.stderr)
    );
    assert!(started.elapsed() < Duration::from_secs(10), "fails fast");
}

// ---------------------------------------------------------------------------------------------
// webhooks

fn webhook(name: &str, url: &str, extra: &str) -> String {
    format!("[[notify.webhook]]\nname = \"{name}\"\nurl = \"{url}\"\n{extra}\n")
}

#[tokio::test]
async fn the_default_webhook_body_is_the_documented_json() {
    let server = RecordingServer::start(handler(|_, _| Response::json(200, "{}"))).await;
    let cfg = resolve(
        &format!(
            "[notify]\ndesktop = false\n{}",
            webhook("plain", &format!("{}/hook", server.url), "")
        ),
        &[],
    );
    let sink = Sink::build(&cfg.sinks[0]);
    assert_eq!(sink.name(), "webhook:plain");
    let a = alert(1, "BTCUSDT", Severity::Warning);
    sink.deliver(&Notice::of(a.clone())).await.unwrap();
    let posts = server.posts();
    assert_eq!(posts.len(), 1);
    let p = &posts[0];
    assert_eq!((p.method.as_str(), p.path.as_str()), ("POST", "/hook"));
    assert_eq!(p.header("content-type"), Some("application/json"));
    let v: serde_json::Value = serde_json::from_str(&p.body).unwrap();
    assert_eq!(
        v,
        serde_json::json!({
            "alert_id": a.alert_id, "time": "2023-11-14T22:13:20.001Z", "ts_ms": a.ts_ms,
            "venue": "binance", "symbol": "BTCUSDT", "rule": "anomaly", "severity": "warning",
            "value": 7.5, "message": a.message, "title": "tickwatch: BTCUSDT anomaly"
        })
    );
}

#[tokio::test]
async fn templates_give_ntfy_slack_and_discord_what_they_expect() {
    let server = RecordingServer::start(handler(|_, _| Response::json(200, "{}"))).await;
    let u = &server.url;
    let cfg = resolve(
        &format!(
            "[notify]\ndesktop = false\n{}{}{}",
            webhook(
                "ntfy",
                &format!("{u}/tickwatch-alerts"),
                "template = \"{message}\"\nheaders = { Title = \"{title}\", Priority = \"{priority}\", Tags = \"chart_with_upwards_trend\" }"
            ),
            webhook(
                "slack",
                &format!("{u}/services/T0/B0/x"),
                "template = '''{\"text\": \"*{title}* ({severity})\\n{message}\"}'''"
            ),
            webhook(
                "discord",
                &format!("{u}/api/webhooks/1/abc"),
                "template = '''{\"content\": \"**{title}**: {message} at {time}\"}'''"
            ),
        ),
        &[],
    );
    let mut a = alert(2, "ETHUSDT", Severity::Critical);
    a.message = "ETHUSDT said \"hi\" \\ then\nleft".into();
    for spec in &cfg.sinks {
        Sink::build(spec)
            .deliver(&Notice::of(a.clone()))
            .await
            .unwrap();
    }
    let posts = server.posts();
    let by = |path: &str| posts.iter().find(|p| p.path == path).unwrap().clone();
    let ntfy = by("/tickwatch-alerts");
    assert_eq!(ntfy.body, a.message, "ntfy gets the message as plain text");
    assert_eq!(
        ntfy.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(ntfy.header("title"), Some("tickwatch: ETHUSDT anomaly"));
    assert_eq!(ntfy.header("priority"), Some("urgent"));
    assert_eq!(ntfy.header("tags"), Some("chart_with_upwards_trend"));
    let slack = by("/services/T0/B0/x");
    assert_eq!(slack.header("content-type"), Some("application/json"));
    let v: serde_json::Value = serde_json::from_str(&slack.body).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"text": format!("*tickwatch: ETHUSDT anomaly* (critical)\n{}", a.message)})
    );
    let discord = by("/api/webhooks/1/abc");
    let v: serde_json::Value = serde_json::from_str(&discord.body).unwrap();
    assert_eq!(
        v["content"],
        format!(
            "**tickwatch: ETHUSDT anomaly**: {} at 2023-11-14T22:13:20.002Z",
            a.message
        )
    );
}

#[tokio::test]
async fn a_5xx_is_retried_with_backoff_and_the_success_is_stored() {
    let server = RecordingServer::start(handler(|_, seen| {
        if seen < 2 {
            Response::json(500, "busy")
        } else {
            Response::json(200, "{}")
        }
    }))
    .await;
    let dir = tempfile::tempdir().unwrap();
    let a = alert(3, "BTCUSDT", Severity::Warning);
    let (store, db) = store_with(dir.path(), std::slice::from_ref(&a));
    let mut cfg = resolve(
        &format!(
            "[notify]\ndesktop = false\n{}",
            webhook("retry", &server.url, "")
        ),
        &[],
    );
    cfg.policy = policy(3, 100);
    let run = start(cfg, Some(&store));
    run.tx.send(a.clone()).unwrap();
    let (health, stats) = run.finish().await;
    let posts = server.posts();
    assert_eq!(posts.len(), 3, "two failures, then the success");
    let gap1 = posts[1].at - posts[0].at;
    let gap2 = posts[2].at - posts[1].at;
    assert!(gap1 >= Duration::from_millis(100), "{gap1:?}");
    assert!(
        gap2 >= Duration::from_millis(400),
        "backoff grows 4x: {gap2:?}"
    );
    assert_eq!(PipelineStats::get(&stats.deliveries_failed), 0);
    assert!(
        health.snapshot().iter().all(|h| h.name != "webhook:retry"),
        "never shown as failed"
    );
    store.close().unwrap();
    assert_eq!(
        deliveries(&db),
        [(a.alert_id.clone(), "webhook:retry".into(), true, None)]
    );
    assert_eq!(delivered(&db, &a.alert_id), "tui,webhook:retry");
}

#[tokio::test]
async fn a_4xx_is_not_retried_and_is_shown_until_the_next_success() {
    let server = RecordingServer::start(handler(|p, _| {
        if p.body.contains("#4") {
            Response::json(400, "topic name invalid\nmore detail")
        } else {
            Response::json(200, "{}")
        }
    }))
    .await;
    let dir = tempfile::tempdir().unwrap();
    let (bad, good) = (
        alert(4, "BTCUSDT", Severity::Warning),
        alert(5, "ETHUSDT", Severity::Warning),
    );
    let (store, db) = store_with(dir.path(), &[bad.clone(), good.clone()]);
    let mut cfg = resolve(
        &format!(
            "[notify]\ndesktop = false\n{}",
            webhook("w", &server.url, "")
        ),
        &[],
    );
    cfg.policy = policy(3, 50);
    let run = start(cfg, Some(&store));
    run.tx.send(bad.clone()).unwrap();
    support::wait_for(10, "the failure on the health board", || {
        matches!(run.state("webhook:w"), Some(SourceState::Failed(_))).then_some(())
    })
    .await;
    let Some(SourceState::Failed(reason)) = run.state("webhook:w") else {
        unreachable!()
    };
    assert_eq!(reason, "HTTP 400 from 127.0.0.1: topic name invalid");
    assert_eq!(run.failed(), 1);
    run.tx.send(good.clone()).unwrap();
    support::wait_for(10, "the recovery", || {
        (run.state("webhook:w") == Some(SourceState::Live)).then_some(())
    })
    .await;
    let _ = run.finish().await;
    assert_eq!(server.posts().len(), 2, "the 400 was not retried");
    store.close().unwrap();
    assert_eq!(
        delivered(&db, &bad.alert_id),
        "tui,webhook:w(failed: HTTP 400 from 127.0.0.1: topic name invalid)"
    );
    assert_eq!(delivered(&db, &good.alert_id), "tui,webhook:w");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_webhook_times_out_without_delaying_the_other_sinks() {
    let slow = RecordingServer::start(handler(|_, _| {
        Response::json(200, "{}").delayed(Duration::from_secs(3600))
    }))
    .await;
    let fast = RecordingServer::start(handler(|_, _| Response::json(200, "{}"))).await;
    let mut cfg = resolve(
        &format!(
            "[notify]\ndesktop = false\n{}{}",
            webhook("slow", &slow.url, "timeout_secs = 1"),
            webhook("fast", &fast.url, "")
        ),
        &[],
    );
    let (term, buf) = buffer_terminal(&[Sequence::Osc9]);
    cfg.sinks.push(term);
    cfg.policy = DeliveryPolicy {
        // every try of the slow one runs to its timeout before the notifier ends
        stop_grace: Duration::from_secs(30),
        ..policy(2, 100)
    };
    let run = start(cfg, None);
    let started = tokio::time::Instant::now();
    for i in 0..3 {
        run.tx
            .send(alert(10 + i, "BTCUSDT", Severity::Info))
            .unwrap();
    }
    support::wait_for(5, "every alert at the fast sinks", || {
        (fast.posts().len() == 3 && !buf.lock().unwrap().is_empty()).then_some(())
    })
    .await;
    assert!(
        started.elapsed() < Duration::from_millis(900),
        "the other sinks did not wait for the hanging one: {:?}",
        started.elapsed()
    );
    let (health, stats) = run.finish().await;
    let reason = health
        .snapshot()
        .into_iter()
        .find(|h| h.name == "webhook:slow")
        .map(|h| h.state);
    assert_eq!(
        reason,
        Some(SourceState::Failed(
            "no answer from 127.0.0.1 within 1 s (after 2 attempts)".into()
        ))
    );
    assert_eq!(PipelineStats::get(&stats.deliveries_failed), 3);
    assert_eq!(slow.posts().len(), 6, "each alert tried twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_sink_queue_skips_and_stores_instead_of_blocking() {
    let slow = RecordingServer::start(handler(|_, _| {
        Response::json(200, "{}").delayed(Duration::from_secs(3600))
    }))
    .await;
    let dir = tempfile::tempdir().unwrap();
    let alerts: Vec<AlertRecord> = (0..10)
        .map(|i| alert(20 + i, "BTCUSDT", Severity::Info))
        .collect();
    let (store, db) = store_with(dir.path(), &alerts);
    let mut cfg = resolve(
        &format!(
            "[notify]\ndesktop = false\n{}",
            webhook("stuck", &slow.url, "timeout_secs = 30")
        ),
        &[],
    );
    cfg.policy = DeliveryPolicy {
        queue: 2,
        stop_grace: Duration::from_secs(1),
        ..policy(1, 0)
    };
    let (term, buf) = buffer_terminal(&[Sequence::Bell]);
    cfg.sinks.push(term);
    let run = start(cfg, Some(&store));
    for a in &alerts {
        run.tx.send(a.clone()).unwrap();
        // slow enough for the terminal to keep up; the webhook stays stuck on the first
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    // the terminal gets all ten while the webhook is stuck on the first
    support::wait_for(5, "ten bells", || {
        (buf.lock().unwrap().len() == 10).then_some(())
    })
    .await;
    assert_eq!(run.state("webhook:stuck"), None, "a skip is not a failure");
    let (_, stats) = run.finish().await;
    assert_eq!(PipelineStats::get(&stats.deliveries_failed), 0);
    store.close().unwrap();
    let conn = rusqlite::Connection::open(&db).unwrap();
    let mut st = conn
        .prepare(
            "SELECT alert_id, status, error FROM alert_deliveries WHERE sink = 'webhook:stuck'
             ORDER BY alert_id",
        )
        .unwrap();
    let rows: Vec<(String, String, String)> = st
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(rows.len(), 10, "{rows:?}");
    assert!(
        rows.iter().all(|(_, status, _)| status == "skipped"),
        "{rows:?}"
    );
    // the first was in flight, two waited in the queue, seven found it full
    assert_eq!(
        rows[0].2,
        "tickwatch stopped before it was sent (no answer yet from the sink)"
    );
    for (_, _, reason) in &rows[1..3] {
        assert_eq!(reason, "tickwatch stopped before it was sent");
    }
    for (_, _, reason) in &rows[3..] {
        assert_eq!(
            reason,
            "the sink's queue is full (2 alerts already waiting)"
        );
    }
    // in the order the outcomes came in
    let shown = delivered(&db, &alerts[9].alert_id);
    let mut entries: Vec<&str> = shown.split(',').collect();
    entries.sort_unstable();
    assert_eq!(
        entries,
        [
            "terminal",
            "tui",
            "webhook:stuck(skipped: the sink's queue is full [2 alerts already waiting])"
        ]
    );
}

// ---------------------------------------------------------------------------------------------
// email

fn email_section(port: u16, extra: &str) -> String {
    format!(
        "[notify]\ndesktop = false\n[notify.email]\nhost = \"127.0.0.1\"\nport = {port}\ntls = \"none\"\n\
         from = \"tickwatch <alerts@example.com>\"\nto = [\"me@example.com\", \"Ops <ops@example.com>\"]\n{extra}\n"
    )
}

#[tokio::test]
async fn the_mail_reaches_the_smtp_server_with_headers_body_and_login() {
    let smtp = SmtpServer::start(Behaviour::Accept).await;
    let cfg = resolve(
        &email_section(
            smtp.port(),
            "username_env = \"TW_USER\"\npassword_env = \"TW_PASS\"",
        ),
        &[("TW_USER", "alice"), ("TW_PASS", "s3cret")],
    );
    let sink = Sink::build(&cfg.sinks[0]);
    assert_eq!(sink.name(), "email");
    let a = alert(30, "BTCUSDT", Severity::Critical);
    sink.deliver(&Notice::of(a.clone())).await.unwrap();
    let mails = smtp.mails();
    assert_eq!(mails.len(), 1);
    let m = &mails[0];
    assert_eq!(
        m.auth.as_deref(),
        Some("alice:s3cret"),
        "credentials from the environment"
    );
    assert_eq!(m.from, "<alerts@example.com>");
    assert_eq!(m.to, ["<me@example.com>", "<ops@example.com>"]);
    assert_eq!(
        m.header("Subject").as_deref(),
        Some("tickwatch: BTCUSDT anomaly [critical]")
    );
    assert_eq!(
        m.header("From").as_deref(),
        Some("tickwatch <alerts@example.com>")
    );
    let to = m.header("To").unwrap();
    assert!(
        to.contains("me@example.com") && to.contains("Ops <ops@example.com>"),
        "{to}"
    );
    assert!(
        m.header("Date").is_some() && m.header("Message-ID").is_some(),
        "{}",
        m.data
    );
    assert!(m.header("Content-Type").unwrap().starts_with("text/plain"));
    let body = m.body();
    assert!(body.starts_with(&format!("{}\r\n", a.message)), "{body}");
    for line in [
        "Symbol:   BTCUSDT (binance)",
        "Rule:     anomaly",
        "Severity: critical",
        "Value:    7.5",
        "Time:     2023-11-14T22:13:20.030Z",
        &format!("Alert id: {}", a.alert_id),
    ] {
        assert!(body.contains(line), "{line:?} in\n{body}");
    }
}

#[tokio::test]
async fn smtp_rejections_are_permanent_and_temporary_failures_are_retried() {
    let rejecting = SmtpServer::start(Behaviour::RejectRecipients).await;
    let mut cfg = resolve(&email_section(rejecting.port(), ""), &[]);
    cfg.policy = policy(3, 50);
    let run = start(cfg, None);
    run.tx.send(alert(31, "BTCUSDT", Severity::Info)).unwrap();
    let (health, _) = run.finish().await;
    assert_eq!(
        *rejecting.connections.lock().unwrap(),
        1,
        "a 550 is not retried"
    );
    let state = health
        .snapshot()
        .into_iter()
        .find(|h| h.name == "email")
        .unwrap()
        .state;
    match state {
        SourceState::Failed(r) => assert!(r.contains("SMTP 127.0.0.1") && r.contains("550"), "{r}"),
        other => panic!("{other:?}"),
    }

    let tempfail = SmtpServer::start(Behaviour::TempFailData).await;
    let mut cfg = resolve(&email_section(tempfail.port(), ""), &[]);
    cfg.policy = policy(3, 50);
    let run = start(cfg, None);
    run.tx.send(alert(32, "BTCUSDT", Severity::Info)).unwrap();
    let (health, stats) = run.finish().await;
    assert_eq!(
        *tempfail.connections.lock().unwrap(),
        3,
        "a 451 is tried 3 times"
    );
    assert_eq!(PipelineStats::get(&stats.deliveries_failed), 1);
    let state = health
        .snapshot()
        .into_iter()
        .find(|h| h.name == "email")
        .unwrap()
        .state;
    match state {
        SourceState::Failed(r) => assert!(
            r.contains("451") && r.ends_with("(after 3 attempts)"),
            "{r}"
        ),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_silent_smtp_server_times_out() {
    let silent = SmtpServer::start(Behaviour::Silent).await;
    let cfg = resolve(&email_section(silent.port(), "timeout_secs = 1"), &[]);
    let sink = Sink::build(&cfg.sinks[0]);
    let started = Instant::now();
    let e = sink
        .deliver(&Notice::of(alert(33, "BTCUSDT", Severity::Info)))
        .await
        .unwrap_err();
    assert!(e.transient, "{e:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

// ---------------------------------------------------------------------------------------------
// command hooks

fn script(dir: &Path, name: &str, body: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
    p
}

fn command_section(name: &str, script: &Path, args: &[&Path], extra: &str) -> String {
    let mut all = vec![format!("{:?}", script.display().to_string())];
    all.extend(
        args.iter()
            .map(|a| format!("{:?}", a.display().to_string())),
    );
    format!(
        "[[notify.command]]\nname = \"{name}\"\nprogram = \"/bin/sh\"\nargs = [{}]\n{extra}\n",
        all.join(", ")
    )
}

#[tokio::test]
async fn a_command_gets_the_alert_in_its_environment_and_on_stdin() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.txt");
    let hook = script(
        dir.path(),
        "hook.sh",
        "env | grep '^TICKWATCH_ALERT_' | LC_ALL=C sort > \"$1\"\necho --- >> \"$1\"\ncat >> \"$1\"",
    );
    let cfg = resolve(
        &format!(
            "[notify]\ndesktop = false\n{}",
            command_section("log", &hook, &[&out], "")
        ),
        &[],
    );
    let sink = Sink::build(&cfg.sinks[0]);
    assert_eq!(sink.name(), "command:log");
    let a = alert(40, "SOLUSDT", Severity::Warning);
    sink.deliver(&Notice::of(a.clone())).await.unwrap();
    let written = std::fs::read_to_string(&out).unwrap();
    let (env, stdin) = written.split_once("---\n").unwrap();
    let env: Vec<&str> = env.lines().collect();
    assert_eq!(
        env,
        [
            format!("TICKWATCH_ALERT_ID={}", a.alert_id).as_str(),
            format!("TICKWATCH_ALERT_MESSAGE={}", a.message).as_str(),
            "TICKWATCH_ALERT_RULE=anomaly",
            "TICKWATCH_ALERT_SEVERITY=warning",
            "TICKWATCH_ALERT_SYMBOL=SOLUSDT",
            "TICKWATCH_ALERT_TIME=2023-11-14T22:13:20.040Z",
            "TICKWATCH_ALERT_TITLE=tickwatch: SOLUSDT anomaly",
            "TICKWATCH_ALERT_VALUE=7.5",
            "TICKWATCH_ALERT_VENUE=binance",
        ]
    );
    let v: serde_json::Value = serde_json::from_str(stdin.trim()).unwrap();
    assert_eq!(v["alert_id"], a.alert_id);
    assert_eq!(v["symbol"], "SOLUSDT");
    assert_eq!(v["value"], 7.5);
    assert!(
        stdin.ends_with('\n') && stdin.lines().count() == 1,
        "one JSON line: {stdin:?}"
    );
}

#[tokio::test]
async fn a_failing_command_reports_its_last_stderr_line() {
    let dir = tempfile::tempdir().unwrap();
    let hook = script(
        dir.path(),
        "fail.sh",
        "echo 'first complaint' >&2\necho 'quota exceeded for today' >&2\necho '' >&2\nexit 3",
    );
    let cfg = resolve(
        &format!(
            "[notify]\ndesktop = false\n{}",
            command_section("fail", &hook, &[], "")
        ),
        &[],
    );
    let e = Sink::build(&cfg.sinks[0])
        .deliver(&Notice::of(alert(41, "BTCUSDT", Severity::Info)))
        .await
        .unwrap_err();
    assert_eq!(
        e.message,
        "/bin/sh failed (exit status 3): quota exceeded for today"
    );
    assert!(!e.transient);
    let missing = resolve(
        "[notify]\ndesktop = false\n[[notify.command]]\nname = \"m\"\nprogram = \"/no/such/program\"\n",
        &[],
    );
    let e = Sink::build(&missing.sinks[0])
        .deliver(&Notice::of(alert(42, "BTCUSDT", Severity::Info)))
        .await
        .unwrap_err();
    assert!(
        e.message.starts_with("cannot run /no/such/program: "),
        "{}",
        e.message
    );
}

/// Whether process `pid` is gone (or a zombie nobody reaped yet).
fn gone(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit(')')
            .next()
            .is_some_and(|rest| rest.trim_start().starts_with('Z')),
    }
}

#[tokio::test]
async fn a_hanging_command_is_killed_with_what_it_started() {
    let dir = tempfile::tempdir().unwrap();
    let pids = dir.path().join("pids");
    let hook = script(
        dir.path(),
        "sleepy.sh",
        "sleep 300 &\necho $! > \"$1\"\nwait",
    );
    let cfg = resolve(
        &format!(
            "[notify]\ndesktop = false\n{}",
            command_section("sleepy", &hook, &[&pids], "timeout_secs = 1")
        ),
        &[],
    );
    let started = Instant::now();
    let e = Sink::build(&cfg.sinks[0])
        .deliver(&Notice::of(alert(43, "BTCUSDT", Severity::Info)))
        .await
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        e.message,
        "/bin/sh did not finish within 1 s and was stopped"
    );
    let sleeper: u32 = std::fs::read_to_string(&pids)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    support::wait_for(5, "the background sleep killed too", || {
        gone(sleeper).then_some(())
    })
    .await;
}

// ---------------------------------------------------------------------------------------------
// terminal

#[tokio::test]
async fn the_terminal_sink_writes_each_protocol_once_per_alert() {
    let (term, buf) = buffer_terminal(&[
        Sequence::Osc9,
        Sequence::Osc777,
        Sequence::Osc99,
        Sequence::Bell,
    ]);
    let run = start(
        NotifyConfig {
            sinks: vec![term],
            policy: policy(1, 0),
        },
        None,
    );
    let mut a = alert(50, "BTCUSDT", Severity::Warning);
    a.message = "z +7.5; \x1b]0;pwned\x07 done".into();
    run.tx.send(a.clone()).unwrap();
    let _ = run.finish().await;
    let id = a.alert_id.clone();
    let want = format!(
        "\x1b]9;tickwatch: BTCUSDT anomaly: z +7.5, ]0,pwned done\x07\
         \x1b]777;notify;tickwatch: BTCUSDT anomaly;z +7.5, ]0,pwned done\x07\
         \x1b]99;i={id}:d=0;tickwatch: BTCUSDT anomaly\x1b\\\
         \x1b]99;i={id}:p=body;z +7.5, ]0,pwned done\x1b\\\
         \x07"
    );
    assert_eq!(text(&buf.lock().unwrap()), want);
}

/// Runs `args` in a pseudo-terminal (util-linux `script`) and returns what the terminal got.
async fn in_pty(dir: &Path, args: &str, env: &[(&str, &str)]) -> (bool, String) {
    let line = format!(
        "{} --log-file {} {args}",
        env!("CARGO_BIN_EXE_tickwatch"),
        dir.join("pty.log").display()
    );
    let mut c = Command::new("script");
    c.current_dir(dir)
        .args(["-qec", &line, "/dev/null"])
        .env("HOME", dir)
        .env("XDG_DATA_HOME", dir.join("data"))
        .env("XDG_CONFIG_HOME", dir.join("cfg"))
        .env_remove("SSH_CONNECTION")
        .env_remove("SSH_TTY")
        .env_remove("TMUX")
        .env_remove("KITTY_WINDOW_ID")
        .env_remove("DBUS_SESSION_BUS_ADDRESS");
    for (k, v) in env {
        c.env(k, v);
    }
    let out = output(c).await;
    (out.status.success(), text(&out.stdout))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headless_the_sequences_go_to_the_controlling_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.toml");
    std::fs::write(&cfg, "[notify]\ndesktop = false\n").unwrap();
    let args = format!("--config {} alerts test", cfg.display());

    // over ssh in an ordinary xterm: OSC 9 and the bell
    let (ok, tty) = in_pty(
        dir.path(),
        &args,
        &[
            ("SSH_CONNECTION", "10.0.0.1 5555 10.0.0.2 22"),
            ("TERM", "xterm-256color"),
        ],
    )
    .await;
    assert!(ok, "{tty:?}");
    assert!(
        tty.contains("\x1b]9;tickwatch: TEST test: Test alert from `tickwatch alerts test`: if you can read this, this sink works.\x07\x07"),
        "{tty:?}"
    );
    assert!(tty.contains("terminal ok ("), "{tty:?}");

    // kitty inside tmux: OSC 99 through the passthrough
    let (ok, tty) = in_pty(
        dir.path(),
        &args,
        &[
            ("SSH_TTY", "/dev/pts/9"),
            ("TERM", "xterm-kitty"),
            ("TMUX", "/tmp/tmux-1000/default,1234,0"),
        ],
    )
    .await;
    assert!(ok, "{tty:?}");
    assert!(tty.contains("\x1bPtmux;\x1b\x1b]99;i=test-"), "{tty:?}");
    assert!(
        tty.contains(":d=0;tickwatch: TEST test\x1b\x1b\\\x1b\\"),
        "{tty:?}"
    );
    assert!(!tty.contains("\x1b]9;"), "one protocol only: {tty:?}");

    // not over ssh: the terminal sink is off, so there is nothing to test
    let (ok, tty) = in_pty(dir.path(), &args, &[("TERM", "xterm-256color")]).await;
    assert!(!ok, "{tty:?}");
    assert!(tty.contains("no alert sinks are configured"), "{tty:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_terminal_the_terminal_sink_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.toml");
    std::fs::write(&cfg, "[notify]\ndesktop = false\nterminal = \"on\"\n").unwrap();
    // setsid: no controlling terminal, whatever runs the tests
    let mut c = Command::new("setsid");
    c.arg("-w").arg(env!("CARGO_BIN_EXE_tickwatch"));
    let t = tickwatch(dir.path());
    for (k, v) in t.get_envs() {
        match v {
            Some(v) => c.env(k, v),
            None => c.env_remove(k),
        };
    }
    c.current_dir(dir.path())
        .args(["--log-file"])
        .arg(dir.path().join("t.log"))
        .arg("--config")
        .arg(&cfg)
        .args(["alerts", "test", "--sink", "terminal"]);
    let out = output(c).await;
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.starts_with("terminal failed: no terminal to write to"),
        "{stdout}"
    );
}

// ---------------------------------------------------------------------------------------------
// dedupe and rate limit, on tokio's paused clock

#[tokio::test(start_paused = true)]
async fn dedupe_and_rate_limit_keep_a_flapping_rule_from_flooding() {
    let dir = tempfile::tempdir().unwrap();
    let btc = alert(60, "BTCUSDT", Severity::Info);
    let btc_again = alert(61, "BTCUSDT", Severity::Info);
    let eth = alert(62, "ETHUSDT", Severity::Info);
    let held = [
        alert(63, "SOLUSDT", Severity::Info),
        alert(64, "XRPUSDT", Severity::Critical),
        alert(65, "ADAUSDT", Severity::Info),
    ];
    let mut all = vec![btc.clone(), btc_again.clone(), eth.clone()];
    all.extend(held.iter().cloned());
    let (store, db) = store_with(dir.path(), &all);
    let (term, buf) = buffer_terminal(&[Sequence::Osc9]);
    let run = start(
        NotifyConfig {
            sinks: vec![term],
            policy: DeliveryPolicy {
                dedupe: Duration::from_secs(15),
                per_minute: 2,
                ..policy(1, 0)
            },
        },
        Some(&store),
    );
    let t0 = tokio::time::Instant::now();
    let count = |b: &Arc<Mutex<Vec<u8>>>| text(&b.lock().unwrap()).matches("\x1b]9;").count();
    run.tx.send(btc.clone()).unwrap();
    support::wait_for(5, "the first", || (count(&buf) == 1).then_some(())).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    run.tx.send(btc_again.clone()).unwrap(); // same rule and symbol 1 s later: skipped
    run.tx.send(eth.clone()).unwrap(); // second slot of the minute
    for a in &held {
        run.tx.send(a.clone()).unwrap(); // beyond 2 per minute: held
    }
    support::wait_for(5, "the second", || (count(&buf) == 2).then_some(())).await;
    tokio::time::sleep(Duration::from_secs(30)).await;
    assert_eq!(count(&buf), 2, "nothing more within the minute");
    support::wait_for(60, "the summary", || (count(&buf) == 3).then_some(())).await;
    let at = t0.elapsed();
    assert!(
        at >= Duration::from_secs(60) && at < Duration::from_secs(61),
        "the summary goes when the first slot frees: {at:?}"
    );
    let (_, stats) = run.finish().await;
    assert_eq!(PipelineStats::get(&stats.deliveries_failed), 0);
    let out = text(&buf.lock().unwrap());
    let notes: Vec<&str> = out.split('\x07').filter(|s| !s.is_empty()).collect();
    assert_eq!(notes.len(), 3, "{out:?}");
    assert!(notes[0].starts_with("\x1b]9;tickwatch: BTCUSDT anomaly: BTCUSDT anomaly"));
    assert!(notes[1].starts_with("\x1b]9;tickwatch: ETHUSDT anomaly: "));
    assert_eq!(
        notes[2],
        format!(
            "\x1b]9;tickwatch: 3 more alerts: 3 alerts held back by the rate limit (2 per minute): {}, {}, {}",
            held[0].message.replace(';', ","),
            held[1].message.replace(';', ","),
            held[2].message.replace(';', ",")
        )
    );
    store.close().unwrap();
    let rows = deliveries(&db);
    assert_eq!(rows.len(), 6, "{rows:?}");
    for (id, sink, ok, err) in &rows {
        assert_eq!(sink, "terminal");
        if *id == btc_again.alert_id {
            assert!(!ok);
            assert_eq!(
                err.as_deref(),
                Some("the same rule on BTCUSDT was delivered 1 s ago (dedupe_secs = 15)")
            );
        } else {
            assert!(ok, "{id}: {err:?}");
        }
    }
    assert_eq!(
        delivered(&db, &btc_again.alert_id),
        "tui,terminal(skipped: the same rule on BTCUSDT was delivered 1 s ago [dedupe_secs = 15])"
    );
    assert_eq!(delivered(&db, &held[1].alert_id), "tui,terminal");
}

// ---------------------------------------------------------------------------------------------
// `tickwatch alerts test`

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_test_reports_each_sink_and_exits_by_the_worst() {
    let server = RecordingServer::start(handler(|p, _| {
        if p.path == "/bad" {
            Response::json(500, "internal trouble")
        } else {
            Response::json(200, "{}")
        }
    }))
    .await;
    let smtp = SmtpServer::start(Behaviour::Accept).await;
    let dir = tempfile::tempdir().unwrap();
    let out_file = dir.path().join("hook.out");
    let hook = script(dir.path(), "hook.sh", "cat > \"$1\"");
    let cfg = dir.path().join("c.toml");
    std::fs::write(
        &cfg,
        format!(
            "{}{}{}{}",
            email_section(smtp.port(), ""),
            webhook("good", &format!("{}/good", server.url), ""),
            webhook("bad", &format!("{}/bad", server.url), ""),
            command_section("hook", &hook, &[&out_file], "")
        ),
    )
    .unwrap();
    let run = |args: &[&str]| {
        let mut c = tickwatch(dir.path());
        c.arg("--config")
            .arg(&cfg)
            .arg("alerts")
            .arg("test")
            .args(args);
        output(c)
    };

    let out = run(&[]).await;
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 4, "{stdout}");
    assert!(lines[0].starts_with("webhook:good ok ("), "{stdout}");
    assert_eq!(
        lines[1],
        "webhook:bad failed: HTTP 500 from 127.0.0.1: internal trouble"
    );
    assert!(lines[2].starts_with("email ok ("), "{stdout}");
    assert!(lines[3].starts_with("command:hook ok ("), "{stdout}");
    assert_eq!(smtp.mails().len(), 1);
    assert_eq!(
        server.posts().iter().filter(|p| p.path == "/bad").count(),
        1,
        "one attempt"
    );
    let sent: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out_file).unwrap()).unwrap();
    assert_eq!(sent["rule"], "test");
    assert_eq!(sent["severity"], "info");

    let out = run(&["--sink", "webhook:good"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).starts_with("webhook:good ok ("));
    assert_eq!(text(&out.stdout).lines().count(), 1);

    let out = run(&["--sink", "webhook:nope"]).await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains(
            "no sink named \"webhook:nope\"; configured: webhook:good, webhook:bad, email, command:hook"
        ),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_bad_notify_section_is_a_config_error_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.toml");
    std::fs::write(
        &cfg,
        "[notify]\ndesktop = false\n\n[[notify.webhook]]\nname = \"ntfy\"\nurl = \"https://ntfy.sh/x\"\ntemplate = \"{symbol} {mesage}\"\n",
    )
    .unwrap();
    let out = tickwatch(dir.path())
        .arg("check-config")
        .arg(&cfg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("c.toml:7:1: "), "{err}");
    assert!(err.contains("unknown placeholder {mesage}"), "{err}");
}
