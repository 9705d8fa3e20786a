//! Secrets stay where they belong: no request follows a redirect to another host (an Alpha
//! Vantage key in the query, a webhook's token in its path, the alert it posts), no Referer
//! repeats a URL, and an SMTP login is never sent in clear to a host that is not loopback
//! unless the user says so.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;
use std::time::Duration;

use support::http::{Posted, RecordingServer, Response};

/// A server that records everything and answers 200: where a leaked secret would land.
async fn elsewhere() -> RecordingServer {
    RecordingServer::start(Arc::new(|_p: &Posted, _n| Response::json(200, "{}"))).await
}

fn redirect(status: u16, to: &str) -> Response {
    Response::json(status, "").header("Location", to)
}

/// The port of a `http://127.0.0.1:PORT` URL.
fn port(url: &str) -> u16 {
    url.rsplit(':').next().unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_webhook_follows_no_redirect_to_another_host_and_sends_no_referer() {
    let other = elsewhere().await;
    let to_ip = format!("{}/stolen", other.url);
    let to_name = format!("http://localhost:{}/stolen", port(&other.url));
    let hook = RecordingServer::start(Arc::new(move |p: &Posted, _n| {
        if p.path.starts_with("/hook307/") {
            redirect(307, &to_ip)
        } else if p.path.starts_with("/hook302/") {
            redirect(302, &to_name)
        } else if p.path.starts_with("/moved/") {
            // the same host: followed, body and all
            redirect(308, "/landed")
        } else {
            Response::json(200, "ok")
        }
    }))
    .await;
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.toml");
    std::fs::write(
        &cfg,
        format!(
            "sources = [\"sim\"]\n[notify]\ndesktop = false\nterminal = \"off\"\n\
             [[notify.webhook]]\nname = \"t307\"\nurl = \"{0}/hook307/TOKEN307\"\n\
             [[notify.webhook]]\nname = \"t302\"\nurl = \"{0}/hook302/TOKEN302\"\n\
             [[notify.webhook]]\nname = \"same\"\nurl = \"{0}/moved/TOKENSAME\"\n",
            hook.url
        ),
    )
    .unwrap();
    let out = support::tickwatch_cmd(dir.path())
        .arg("--config")
        .arg(&cfg)
        .args(["alerts", "test"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{stdout}");
    assert!(
        other.posts().is_empty(),
        "a redirect target on another host got {:?}",
        other.posts()
    );
    let line = |name: &str| {
        stdout
            .lines()
            .find(|l| l.starts_with(&format!("webhook:{name} ")))
            .unwrap_or_else(|| panic!("no line for {name}: {stdout}"))
            .to_string()
    };
    let l307 = line("t307");
    assert!(
        l307.contains(&format!(
            "HTTP 307 redirect to {}/stolen not followed",
            other.url
        )),
        "{l307}"
    );
    let l302 = line("t302");
    assert!(l302.contains("redirect to http://localhost:"), "{l302}");
    assert!(!stdout.contains("TOKEN"), "{stdout}");
    assert!(line("same").contains(" ok "), "{stdout}");
    let landed: Vec<Posted> = hook
        .posts()
        .into_iter()
        .filter(|p| p.path == "/landed")
        .collect();
    assert_eq!(landed.len(), 1, "{:?}", hook.posts());
    assert!(landed[0].body.contains("Test alert"), "{:?}", landed[0]);
    assert_eq!(landed[0].header("referer"), None, "{:?}", landed[0]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_alpha_vantage_key_follows_no_redirect_to_another_host() {
    const KEY: &str = "SECRETKEY123";
    let other = elsewhere().await;
    for target in [
        format!("{}/query", other.url),
        format!("http://localhost:{}/query", port(&other.url)),
    ] {
        let to = target.clone();
        let av = RecordingServer::start(Arc::new(move |_p: &Posted, _n| redirect(302, &to))).await;
        let client = tickwatch::sources::alphavantage::Client::new(
            &av.url,
            tickwatch::sources::alphavantage::ApiKey::new(KEY),
            "5min",
            Duration::from_secs(5),
        )
        .unwrap();
        let symbol = tickwatch::domain::Symbol::new("IBM").unwrap();
        let err = client.global_quote(symbol).await.unwrap_err().to_string();
        assert!(
            err.contains("redirect to") && err.contains("not followed"),
            "{err}"
        );
        assert!(!err.contains(KEY), "{err}");
        assert_eq!(av.posts().len(), 1);
        assert!(av.posts()[0].path.contains(KEY));
    }
    assert!(
        other.posts().is_empty(),
        "a redirect target on another host got {:?}",
        other.posts()
    );
}

#[test]
fn an_smtp_login_is_not_sent_in_clear_to_a_host_that_is_not_loopback() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("c.toml");
    // 192.0.2.1 (TEST-NET-1) is never reached: the login is refused before any connection
    std::fs::write(
        &cfg,
        "sources = [\"sim\"]\n[notify]\ndesktop = false\nterminal = \"off\"\n\
         [notify.email]\nhost = \"192.0.2.1\"\ntls = \"none\"\ntimeout_secs = 2\n\
         from = \"a@example.com\"\nto = [\"b@example.com\"]\n",
    )
    .unwrap();
    let out = support::tickwatch_cmd(dir.path())
        .arg("--config")
        .arg(&cfg)
        .args(["alerts", "test"])
        .env("TICKWATCH_SMTP_USER", "user")
        .env("TICKWATCH_SMTP_PASSWORD", "s3cret")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "{stdout}");
    assert!(stdout.contains("in clear to 192.0.2.1"), "{stdout}");
    assert!(
        stdout.contains("allow_plaintext_credentials = true"),
        "{stdout}"
    );
    assert!(!stdout.contains("s3cret"), "{stdout}");
}
