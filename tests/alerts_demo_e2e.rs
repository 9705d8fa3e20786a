//! The issue's "done when" for alert delivery, with real parts: `tickwatch --demo` in a real
//! pseudo-terminal (util-linux `script`) as if over ssh raises an anomaly alert that reaches the
//! terminal as an OSC 9 notification, a local webhook server and a local SMTP server, once per
//! rule and symbol within the cooldown, and `alerts list` shows where each went.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use support::http::{RecordingServer, Response};
use support::smtp::{Behaviour, SmtpServer};

fn have(program: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(format!("command -v {program}"))
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_demo_anomaly_reaches_the_terminal_a_webhook_and_email_once_per_cooldown() {
    assert!(
        have("script"),
        "util-linux `script` is needed (.ci/run installs bsdutils)"
    );
    let dir = tempfile::tempdir().unwrap();
    let hook = RecordingServer::start(Arc::new(|_, _| Response::json(200, "{}"))).await;
    let smtp = SmtpServer::start(Behaviour::Accept).await;
    let cfg = dir.path().join("demo.toml");
    std::fs::write(
        &cfg,
        format!(
            r#"[notify]
desktop = false
terminal = "auto"
terminal_sequences = ["osc9", "bell"]

[[notify.webhook]]
name = "hook"
url = "{url}/alert"

[notify.email]
host = "127.0.0.1"
port = {port}
tls = "none"
from = "tickwatch <tw@example.com>"
to = ["me@example.com"]

[[alerts]]
name = "anomaly"
kind = "zscore"
value = 4
cooldown_secs = 3600
"#,
            url = hook.url,
            port = smtp.port()
        ),
    )
    .unwrap();
    let db = dir.path().join("demo-e2e.db");
    let raw = dir.path().join("terminal.raw");
    let bin = env!("CARGO_BIN_EXE_tickwatch");
    let inner = format!(
        "stty cols 120 rows 40; exec {bin} --demo --config {} --db {} --log-file {}",
        cfg.display(),
        db.display(),
        dir.path().join("tw.log").display()
    );
    let mut child = Command::new("script")
        .args(["-qfec", &inner])
        .arg(&raw)
        .current_dir(dir.path())
        .env("SSH_CONNECTION", "10.0.0.2 50000 10.0.0.1 22")
        .env("TERM", "xterm-256color")
        .env_remove("TMUX")
        .env_remove("KITTY_WINDOW_ID")
        .env("XDG_DATA_HOME", dir.path().join("data"))
        .env("XDG_CONFIG_HOME", dir.path().join("cfg"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();

    // the simulator jumps about once a minute per symbol: wait for the first alert everywhere
    let deadline = tokio::time::Instant::now() + Duration::from_secs(150);
    while (hook.posts().is_empty() || smtp.mails().is_empty())
        && tokio::time::Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // a little more, so deliveries of a second alert (if any) land too
    tokio::time::sleep(Duration::from_secs(2)).await;
    // SIGTERM to tickwatch itself (not to `script`, which would take the terminal away)
    let status = Command::new("pkill")
        .args(["-TERM", "-f"])
        .arg(format!("^{bin} --demo --config {}", cfg.display()))
        .status()
        .unwrap();
    assert!(status.success(), "tickwatch was not running");
    let _ = child.wait();

    let posts = hook.posts();
    let mails = smtp.mails();
    assert!(!posts.is_empty(), "no webhook POST within 150 s");
    assert!(!mails.is_empty(), "no mail within 150 s");

    // the stored alerts, with where each went
    let out = Command::new(bin)
        .args(["alerts", "list", "--format", "json", "--db"])
        .arg(&db)
        .arg("--log-file")
        .arg(dir.path().join("list.log"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let alerts = list.as_array().unwrap();
    assert!(!alerts.is_empty());
    // once per cooldown: one alert per symbol at most, and one delivery each per sink
    let mut symbols: Vec<&str> = alerts
        .iter()
        .map(|a| a["symbol"].as_str().unwrap())
        .collect();
    symbols.sort();
    let n = symbols.len();
    symbols.dedup();
    assert_eq!(
        symbols.len(),
        n,
        "an alert repeated within its cooldown: {list}"
    );
    assert_eq!(posts.len(), n, "webhook POSTs vs alerts: {list}");
    assert_eq!(mails.len(), n, "mails vs alerts: {list}");
    for a in alerts {
        let delivered = a["delivered"].as_str().unwrap();
        for sink in ["tui", "terminal", "webhook:hook", "email"] {
            assert!(
                delivered.split(',').any(|d| d == sink),
                "{sink} missing from {delivered}"
            );
        }
        let msg = a["message"].as_str().unwrap();
        assert!(
            posts
                .iter()
                .any(|p| p.body.contains(a["symbol"].as_str().unwrap())),
            "no POST for {msg}"
        );
    }
    assert!(
        posts[0].body.contains("\"rule\":\"anomaly\""),
        "{}",
        posts[0].body
    );
    assert!(mails[0].data.contains("anomaly"), "{}", mails[0].data);

    // the terminal got OSC 9 (and the bell) for each alert, between frames
    let bytes = std::fs::read(&raw).unwrap();
    let osc9 = bytes.windows(4).filter(|w| w == b"\x1b]9;").count();
    assert_eq!(osc9, n, "OSC 9 notifications vs alerts");
    // the screen was restored at the end
    let text = String::from_utf8_lossy(&bytes);
    assert!(
        text.contains("\u{1b}[?1049l"),
        "the alternate screen was not left"
    );
}
