#![allow(clippy::unwrap_used, clippy::expect_used)]
//! SMS through Twilio and Telegram messages, against local stand-ins for both APIs on
//! 127.0.0.1: they check the method, path, content type, form or JSON fields and the basic
//! auth header, and answer with the services' own error bodies (Twilio's `code`/`message`,
//! Telegram's `retry_after`). The real binary's `alerts test` reaches both, and no secret ever
//! shows in its output or log.

mod support;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use support::http::{PostHandler, Posted, RecordingServer, Response};
use tickwatch::alerts::Severity;
use tickwatch::alerts::notifier::{self, DeliveryPolicy, NotifyConfig};
use tickwatch::alerts::sinks::NotifySection;
use tickwatch::domain::{AlertRecord, OutputBatch, Symbol, Venue, VenueSymbol};
use tickwatch::pipeline::{HealthBoard, PipelineStats};
use tickwatch::store::StoreWriter;

const SID: &str = "AC0123456789abcdef0123456789abcdef";
const AUTH_TOKEN: &str = "twilio-s3cret-token";
const BOT_TOKEN: &str = "123456:AAsecret-bot_TOKEN";

fn alert(i: u32, message: &str) -> AlertRecord {
    AlertRecord {
        alert_id: format!(
            "{}-binance-BTCUSDT-anomaly",
            1_700_000_000_000u64 + u64::from(i)
        ),
        ts_ms: 1_700_000_000_000 + i64::from(i),
        key: VenueSymbol::new(Venue::Binance, Symbol::new("BTCUSDT").unwrap()),
        rule: "anomaly".into(),
        value: 7.5,
        message: message.into(),
        delivered: "tui".into(),
        severity: Severity::Critical,
    }
}

fn secrets(k: &str) -> Option<String> {
    match k {
        "TWILIO_ACCOUNT_SID" => Some(SID.into()),
        "TWILIO_AUTH_TOKEN" => Some(AUTH_TOKEN.into()),
        "TELEGRAM_BOT_TOKEN" => Some(BOT_TOKEN.into()),
        _ => None,
    }
}

fn twilio_section(base_url: &str) -> String {
    format!(
        "[[notify.twilio]]\nname = \"sms\"\nto = \"+15551230000\"\nfrom = \"+15550001111\"\nbase_url = \"{base_url}\"\n"
    )
}

fn telegram_section(name: &str, base_url: &str) -> String {
    format!(
        "[[notify.telegram]]\nname = \"{name}\"\nchat_id = -1001234567890\nbase_url = \"{base_url}\"\n"
    )
}

/// The sinks of `[notify]` text (validated), with the test secrets in the environment, and a
/// quick retry policy: `attempts` tries, `backoff_ms` before the first retry.
fn config(sinks: &str, attempts: u32, backoff_ms: u64) -> NotifyConfig {
    #[derive(serde::Deserialize)]
    struct Doc {
        notify: NotifySection,
    }
    let text = format!("[notify]\ndesktop = false\n{sinks}");
    let n = toml::from_str::<Doc>(&text).unwrap().notify;
    n.validate().unwrap();
    let mut cfg = n.resolve(&secrets);
    assert!(cfg.setup_errors().is_empty(), "{:?}", cfg.setup_errors());
    cfg.policy = DeliveryPolicy {
        attempts,
        backoff: Duration::from_millis(backoff_ms),
        dedupe: Duration::ZERO,
        per_minute: 0,
        queue: 64,
        stop_grace: Duration::from_secs(20),
    };
    cfg
}

/// Runs the notifier over `alerts` with a store, to the end; returns the stored `delivered`
/// column of each alert and the failure count.
async fn deliver(cfg: NotifyConfig, alerts: &[AlertRecord]) -> (Vec<String>, u64) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("alerts.db");
    let store = StoreWriter::spawn(&db, Arc::default(), HealthBoard::default()).unwrap();
    store
        .sender()
        .send_blocking(OutputBatch {
            alerts: alerts.to_vec(),
            ..Default::default()
        })
        .unwrap();
    let (tx, rx) = flume::bounded(64);
    let stats = Arc::new(PipelineStats::default());
    let task = tokio::spawn(notifier::run(
        cfg,
        rx,
        Some(store.sender()),
        HealthBoard::default(),
        stats.clone(),
    ));
    for a in alerts {
        tx.send(a.clone()).unwrap();
    }
    drop(tx);
    tokio::time::timeout(Duration::from_secs(25), task)
        .await
        .expect("the notifier finishes")
        .unwrap();
    store.close().unwrap();
    let conn = rusqlite::Connection::open(&db).unwrap();
    let delivered = alerts
        .iter()
        .map(|a| {
            conn.query_row(
                "SELECT delivered FROM alerts WHERE alert_id = ?1",
                [&a.alert_id],
                |r| r.get(0),
            )
            .unwrap()
        })
        .collect();
    (delivered, PipelineStats::get(&stats.deliveries_failed))
}

fn handler(f: impl Fn(&Posted, usize) -> Response + Send + Sync + 'static) -> PostHandler {
    Arc::new(f)
}

/// The fields of a form-encoded body.
fn form(body: &str) -> HashMap<String, String> {
    reqwest::Url::parse(&format!("http://x/?{body}"))
        .unwrap()
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

/// Twilio's answer to a message it took (trimmed).
fn twilio_created() -> Response {
    Response::json(
        201,
        r#"{"sid": "SM0123456789abcdef0123456789abcdef", "status": "queued"}"#,
    )
}

fn twilio_path() -> String {
    format!("/2010-04-01/Accounts/{SID}/Messages.json")
}

/// The checks a Twilio stand-in makes of every request: what Twilio itself requires.
fn assert_twilio_request(p: &Posted) {
    assert_eq!(p.method, "POST");
    assert_eq!(p.path, twilio_path());
    assert_eq!(
        p.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{SID}:{AUTH_TOKEN}"));
    assert_eq!(
        p.header("authorization"),
        Some(format!("Basic {basic}").as_str())
    );
}

// ---------------------------------------------------------------------------------------------
// Twilio

#[tokio::test]
async fn twilio_gets_the_form_fields_and_basic_auth_and_a_long_text_is_cut() {
    let server = RecordingServer::start(handler(|p, _| {
        assert_twilio_request(p);
        twilio_created()
    }))
    .await;
    let short = alert(1, "BTCUSDT anomaly: return z-score +7.5 (|z| >= 6)");
    let long = alert(2, &"BTCUSDT jumped again; ".repeat(40));
    let cfg = config(&twilio_section(&server.url), 1, 10);
    let (delivered, failed) = deliver(cfg, &[short, long]).await;
    assert_eq!(delivered, ["tui,twilio:sms", "tui,twilio:sms"]);
    assert_eq!(failed, 0);
    let posts = server.posts();
    assert_eq!(posts.len(), 2);
    let f = form(&posts[0].body);
    assert_eq!(f["To"], "+15551230000");
    assert_eq!(f["From"], "+15550001111");
    assert_eq!(
        f["Body"],
        "tickwatch critical: BTCUSDT anomaly: return z-score +7.5 (|z| >= 6)"
    );
    assert_eq!(f.len(), 3, "{f:?}");
    // 2 segments by default: 306 GSM-7 characters, the cut visible at the end
    let body = &form(&posts[1].body)["Body"];
    assert!(body.ends_with("...(cut)"), "{body}");
    assert_eq!(body.chars().count(), 306, "{body}");
    assert!(body.starts_with("tickwatch critical: BTCUSDT jumped again; "));
}

#[tokio::test]
async fn a_twilio_400_is_tried_once_and_its_code_and_message_are_stored() {
    let server = RecordingServer::start(handler(|p, _| {
        assert_twilio_request(p);
        Response::json(
            400,
            r#"{"code": 21211, "message": "The 'To' number +15551230000 is not a valid phone number.\u001b[2J", "more_info": "https://www.twilio.com/docs/errors/21211", "status": 400}"#,
        )
    }))
    .await;
    let cfg = config(&twilio_section(&server.url), 3, 10);
    let (delivered, failed) = deliver(cfg, &[alert(1, "m")]).await;
    assert_eq!(server.posts().len(), 1, "a 4xx is not retried");
    assert_eq!(failed, 1);
    assert_eq!(
        delivered[0],
        // (the `delivered` column shows a reason's parentheses as brackets)
        "tui,twilio:sms(failed: Twilio error 21211 [HTTP 400]: The 'To' number +15551230000 is not a valid phone number.\\x1b[2J [https://www.twilio.com/docs/errors/21211])"
    );
}

#[tokio::test]
async fn twilio_5xx_and_429_are_retried_after_the_asked_delay() {
    let server = RecordingServer::start(handler(|p, seen| {
        assert_twilio_request(p);
        match seen {
            0 => Response::json(
                500,
                r#"{"code": 20500, "message": "Internal Server Error"}"#,
            ),
            1 => Response::json(429, r#"{"code": 20429, "message": "Too Many Requests"}"#)
                .header("Retry-After", 2),
            _ => twilio_created(),
        }
    }))
    .await;
    let cfg = config(&twilio_section(&server.url), 3, 100);
    let (delivered, failed) = deliver(cfg, &[alert(1, "m")]).await;
    assert_eq!(delivered, ["tui,twilio:sms"]);
    assert_eq!(failed, 0);
    let posts = server.posts();
    assert_eq!(posts.len(), 3);
    let after_500 = posts[1].at - posts[0].at;
    let after_429 = posts[2].at - posts[1].at;
    assert!(after_500 >= Duration::from_millis(100), "{after_500:?}");
    assert!(
        after_429 >= Duration::from_secs(2),
        "Retry-After: 2 is honoured over the 400 ms backoff: {after_429:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Telegram

/// The checks a Telegram stand-in makes of every request; returns its JSON body.
fn telegram_request(p: &Posted) -> serde_json::Value {
    assert_eq!(p.method, "POST");
    assert_eq!(p.path, format!("/bot{BOT_TOKEN}/sendMessage"));
    assert_eq!(p.header("content-type"), Some("application/json"));
    serde_json::from_str(&p.body).unwrap()
}

#[tokio::test]
async fn telegram_gets_chat_and_text_and_waits_out_retry_after() {
    let server = RecordingServer::start(handler(|p, seen| {
        telegram_request(p);
        if seen == 0 {
            Response::json(
                429,
                r#"{"ok":false,"error_code":429,"description":"Too Many Requests: retry after 2","parameters":{"retry_after":2}}"#,
            )
        } else {
            Response::json(200, r#"{"ok":true,"result":{"message_id":7}}"#)
        }
    }))
    .await;
    let long = alert(1, &"<b>not markup</b> & *plain* ".repeat(200));
    let cfg = config(&telegram_section("me", &server.url), 3, 50);
    let (delivered, failed) = deliver(cfg, &[long]).await;
    assert_eq!(delivered, ["tui,telegram:me"]);
    assert_eq!(failed, 0);
    let posts = server.posts();
    assert_eq!(posts.len(), 2);
    let gap = posts[1].at - posts[0].at;
    assert!(
        gap >= Duration::from_secs(2),
        "retry_after 2 is honoured over the 50 ms backoff: {gap:?}"
    );
    let body = telegram_request(&posts[1]);
    assert_eq!(body["chat_id"], -1001234567890i64);
    assert_eq!(body.as_object().unwrap().len(), 2, "no parse_mode: {body}");
    let text = body["text"].as_str().unwrap();
    assert!(text.starts_with("tickwatch critical: <b>not markup</b> & *plain*"));
    assert!(text.ends_with("...(cut)"), "{text}");
    assert!(text.chars().count() <= 4096 && text.chars().count() > 4000);
}

#[tokio::test]
async fn a_telegram_chat_not_found_is_tried_once_and_named() {
    let server = RecordingServer::start(handler(|p, _| {
        telegram_request(p);
        Response::json(
            400,
            r#"{"ok":false,"error_code":400,"description":"Bad Request: chat not found"}"#,
        )
    }))
    .await;
    let cfg = config(&telegram_section("me", &server.url), 3, 10);
    let (delivered, failed) = deliver(cfg, &[alert(1, "m")]).await;
    assert_eq!(server.posts().len(), 1, "a 400 is not retried");
    assert_eq!(failed, 1);
    assert_eq!(
        delivered[0],
        "tui,telegram:me(failed: Telegram HTTP 400: Bad Request: chat not found [check chat_id = -1001234567890 and that the bot was added to that chat or was sent /start])"
    );
}

// ---------------------------------------------------------------------------------------------
// `tickwatch alerts test`, the real binary

fn tickwatch(dir: &Path, cfg: &Path) -> std::process::Command {
    let mut c = support::tickwatch_cmd(dir);
    for var in [
        "TWILIO_ACCOUNT_SID",
        "TWILIO_AUTH_TOKEN",
        "TELEGRAM_BOT_TOKEN",
    ] {
        c.env_remove(var);
    }
    c.arg("--config").arg(cfg).args(["alerts", "test"]);
    c
}

async fn output(mut c: std::process::Command) -> std::process::Output {
    tokio::task::spawn_blocking(move || c.output().unwrap())
        .await
        .unwrap()
}

fn write_config(dir: &Path, text: &str) -> PathBuf {
    let path = dir.join("c.toml");
    std::fs::write(&path, format!("[notify]\ndesktop = false\n{text}")).unwrap();
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_test_reaches_both_and_no_secret_is_ever_shown() {
    let twilio = RecordingServer::start(handler(|p, _| {
        assert_twilio_request(p);
        twilio_created()
    }))
    .await;
    let telegram = RecordingServer::start(handler(|p, _| {
        // a wrong token is a 404 at Telegram
        if p.path == format!("/bot{BOT_TOKEN}/sendMessage") {
            Response::json(200, r#"{"ok":true,"result":{"message_id":1}}"#)
        } else {
            Response::json(
                404,
                r#"{"ok":false,"error_code":404,"description":"Not Found"}"#,
            )
        }
    }))
    .await;
    // a port nobody listens on: reqwest's error would name the URL, and the token with it
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let gone = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(
        dir.path(),
        &format!(
            "{}{}{}",
            twilio_section(&twilio.url),
            telegram_section("me", &telegram.url),
            telegram_section("gone", &gone)
        ),
    );
    let run = |bot_token: &'static str| {
        let mut c = tickwatch(dir.path(), &cfg);
        c.env("TWILIO_ACCOUNT_SID", SID)
            .env("TWILIO_AUTH_TOKEN", AUTH_TOKEN)
            .env("TELEGRAM_BOT_TOKEN", bot_token);
        output(c)
    };
    let wrong = "999:AAwrong-token";
    for (token, me) in [
        (BOT_TOKEN, "telegram:me ok (".to_string()),
        (
            wrong,
            "telegram:me failed: Telegram HTTP 404: Not Found (the bot token in TELEGRAM_BOT_TOKEN was refused: check it with @BotFather)".to_string(),
        ),
    ] {
        let out = run(token).await;
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
        let lines: Vec<&str> = stdout.lines().collect();
        assert_eq!(lines.len(), 3, "{stdout}");
        assert!(lines[0].starts_with("twilio:sms ok ("), "{stdout}");
        assert!(lines[1].starts_with(&me), "{stdout}");
        assert!(
            lines[2].starts_with("telegram:gone failed: cannot connect to 127.0.0.1: "),
            "{stdout}"
        );
        let log = std::fs::read_to_string(dir.path().join("tickwatch.log")).unwrap_or_default();
        for secret in [SID, AUTH_TOKEN, token, "AAsecret", "AAwrong"] {
            for (what, text) in [("stdout", &stdout), ("stderr", &stderr), ("log", &log)] {
                assert!(!text.contains(secret), "{secret} in {what}: {text}");
            }
        }
    }
    let posts = twilio.posts();
    assert_eq!(posts.len(), 2);
    let body = &form(&posts[0].body)["Body"];
    assert!(
        body.starts_with("tickwatch info: Test alert from"),
        "{body}"
    );
}

#[tokio::test]
async fn a_missing_secret_is_an_error_naming_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = write_config(
        dir.path(),
        &format!(
            "{}{}",
            twilio_section("http://127.0.0.1:9"),
            telegram_section("me", "http://127.0.0.1:9")
        ),
    );
    let mut c = tickwatch(dir.path(), &cfg);
    c.env("TWILIO_ACCOUNT_SID", SID);
    let out = output(c).await;
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("twilio:sms: TWILIO_AUTH_TOKEN is not set: export your auth token"),
        "{stderr}"
    );
    assert!(
        stderr.contains("telegram:me: TELEGRAM_BOT_TOKEN is not set"),
        "{stderr}"
    );
    assert!(!stderr.contains(SID), "{stderr}");
    assert!(out.stdout.is_empty());
}
