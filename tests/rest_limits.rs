//! Every HTTP request of tickwatch against servers that misbehave: an answer that never ends or
//! announces 10 GB is cut at the cap with an error naming the endpoint and the cap, and memory
//! stays small; a server that accepts and never answers (or stalls mid-body) fails the request
//! within the configured timeout, with an error naming the endpoint and the timeout. Covers the
//! Binance, Coinbase and Alpha Vantage REST clients and the webhook sink.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use support::http::{FaultServer, HttpFault};
use tickwatch::alerts::Severity;
use tickwatch::alerts::sinks::{Notice, NotifySection, Sink};
use tickwatch::domain::AlertRecord;
use tickwatch::domain::{Interval, Symbol, Venue, VenueSymbol};
use tickwatch::sources::alphavantage::{AlphaVantageConfig, ApiKey, Client};
use tickwatch::sources::binance::{self, BinanceConfig};
use tickwatch::sources::coinbase::{self, CoinbaseConfig};

const T0: i64 = 1_700_000_040_000;
const MIB: u64 = 1 << 20;
/// What a flood sends at most: far past the 16 MiB cap, small enough that a client reading it
/// all (the old code did) does not take the machine down.
const FLOOD: u64 = 160 * MIB;
const KEY: &str = "SECRETKEY123";

fn sym(s: &str) -> Symbol {
    Symbol::new(s).unwrap()
}

/// The process's resident memory, sampled every 2 ms on a thread: the peak above the start.
struct RssWatch {
    start: u64,
    peak: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    let kb: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
    kb * 1024
}

impl RssWatch {
    fn start() -> RssWatch {
        let start = rss_bytes();
        let peak = Arc::new(AtomicU64::new(start));
        let stop = Arc::new(AtomicBool::new(false));
        let (p, s) = (peak.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                p.fetch_max(rss_bytes(), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(2));
            }
        });
        RssWatch {
            start,
            peak,
            stop,
            thread: Some(thread),
        }
    }

    /// The highest resident memory seen above the start.
    fn growth(mut self) -> u64 {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.take().unwrap().join().unwrap();
        self.peak
            .load(Ordering::Relaxed)
            .max(rss_bytes())
            .saturating_sub(self.start)
    }
}

fn alert() -> AlertRecord {
    AlertRecord {
        alert_id: "1700000000000-binance-BTCUSDT-anomaly".into(),
        ts_ms: 1_700_000_000_000,
        key: VenueSymbol::new(Venue::Binance, sym("BTCUSDT")),
        rule: "anomaly".into(),
        value: 7.5,
        message: "BTCUSDT anomaly: return z-score +7.5 (|z| >= 6)".into(),
        delivered: String::new(),
        severity: Severity::Warning,
    }
}

/// The webhook sink of a `[notify]` section posting to `url`.
fn webhook(url: &str, timeout_secs: u64) -> Sink {
    #[derive(serde::Deserialize)]
    struct Doc {
        notify: NotifySection,
    }
    let text = format!(
        "[notify]\ndesktop = false\n[[notify.webhook]]\nname = \"w\"\nurl = \"{url}/hook\"\ntimeout_secs = {timeout_secs}\n"
    );
    let section = toml::from_str::<Doc>(&text).unwrap().notify;
    section.validate().unwrap();
    let cfg = section.resolve(&|_| None);
    Sink::build(&cfg.sinks[0])
}

/// An error about an answer over the cap: it names the endpoint and the cap.
fn assert_capped(err: &str, endpoint: &str, announced: Option<u64>) {
    assert!(err.contains(endpoint), "{err}");
    assert!(err.contains("over the 16 MiB tickwatch reads"), "{err}");
    if announced.is_some() {
        assert!(err.contains("it announced 10 GiB"), "{err}");
    }
    assert!(!err.contains(KEY), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_that_never_end_or_announce_10_gb_stop_at_the_cap_for_every_client() {
    let rss = RssWatch::start();
    for announced in [Some(10u64 << 30), None] {
        let srv = FaultServer::start(HttpFault::Flood {
            status: 200,
            announced,
            send: FLOOD,
        })
        .await;

        let rest = binance::RestClient::new(&srv.url).unwrap();
        let err = rest
            .klines(sym("BTCUSDT"), Interval::M1, T0, None, |_| {})
            .await
            .unwrap_err();
        assert_capped(
            &err.to_string(),
            &format!("{}/api/v3/klines", srv.url),
            announced,
        );
        assert!(!err.is_retryable(), "the same server would send it again");

        let rest = coinbase::RestClient::new(&srv.url).unwrap();
        let err = rest.trades(sym("BTC-USD"), None, |_| {}).await.unwrap_err();
        assert_capped(
            &err.to_string(),
            &format!("{}/products/BTC-USD/trades", srv.url),
            announced,
        );
        assert!(!err.is_retryable());

        let av = Client::new(&srv.url, ApiKey::new(KEY), "5min", Duration::from_secs(10)).unwrap();
        let err = av.global_quote(sym("IBM")).await.unwrap_err();
        assert_capped(&err.to_string(), &format!("{}/query", srv.url), announced);

        assert_eq!(srv.requests(), 3);
        // the clients stopped reading at the cap: what went into the connections is at most the
        // cap and the kernel's buffers for each, not the flood
        let sent = srv.bytes_sent();
        eprintln!("announced {announced:?}: {} KiB went out", sent / 1024);
        assert!(sent < 3 * 32 * MIB, "{} MiB sent", sent / MIB);
    }

    // error answers are read only as far as they explain themselves
    let srv = FaultServer::start(HttpFault::Flood {
        status: 502,
        announced: None,
        send: FLOOD,
    })
    .await;
    let err = binance::RestClient::new(&srv.url)
        .unwrap()
        .klines(sym("BTCUSDT"), Interval::M1, T0, None, |_| {})
        .await
        .unwrap_err();
    assert!(err.to_string().starts_with("HTTP 502 from"), "{err}");
    let err = webhook(&srv.url, 10)
        .deliver(&Notice::of(alert()))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("HTTP 502 from 127.0.0.1"), "{err}");
    let sent = srv.bytes_sent();
    eprintln!("error answers: {} KiB went out", sent / 1024);
    assert!(sent < 2 * 16 * MIB, "{} MiB sent", sent / MIB);

    let growth = rss.growth();
    eprintln!("resident memory grew by {} KiB at most", growth / 1024);
    assert!(
        growth < 64 * MIB,
        "resident memory grew by {} MiB",
        growth / MIB
    );
}

/// Runs `f`, returning its error and how long it took.
async fn timed<T: std::fmt::Debug, E: ToString>(
    f: impl std::future::Future<Output = Result<T, E>>,
) -> (String, Duration) {
    let start = Instant::now();
    let r = f.await;
    let took = start.elapsed();
    (r.map(|_| ()).err().unwrap().to_string(), took)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_never_answers_fails_every_request_within_its_timeout() {
    let silent = FaultServer::start(HttpFault::Silent).await;
    let stalled = FaultServer::start(HttpFault::StallBody).await;
    // the timeouts come from the config, as a user sets them
    let binance_cfg = |url: &str| -> BinanceConfig {
        toml::from_str(&format!("rest_url = \"{url}\"\nrest_timeout_secs = 1")).unwrap()
    };
    let coinbase_cfg: CoinbaseConfig = toml::from_str(&format!(
        "rest_url = \"{}\"\nrest_timeout_secs = 1",
        silent.url
    ))
    .unwrap();
    let av_cfg: AlphaVantageConfig = toml::from_str(&format!(
        "base_url = \"{}\"\nrequest_timeout_ms = 1000",
        silent.url
    ))
    .unwrap();
    binance_cfg(&silent.url).validate().unwrap();
    coinbase_cfg.validate().unwrap();

    let b_silent = binance::RestClient::from_config(&binance_cfg(&silent.url)).unwrap();
    let b_stalled = binance::RestClient::from_config(&binance_cfg(&stalled.url)).unwrap();
    let cb = coinbase::RestClient::from_config(&coinbase_cfg).unwrap();
    let av = Client::new(
        &av_cfg.base_url,
        ApiKey::new(KEY),
        &av_cfg.interval,
        Duration::from_millis(av_cfg.request_timeout_ms),
    )
    .unwrap();
    let hook = webhook(&silent.url, 1);
    let notice = Notice::of(alert());
    let (a, b, c, d, e) = tokio::join!(
        timed(b_silent.klines(sym("BTCUSDT"), Interval::M1, T0, None, |_| {})),
        timed(b_stalled.klines(sym("BTCUSDT"), Interval::M1, T0, None, |_| {})),
        timed(cb.product_status(sym("BTC-USD"), |_| {})),
        timed(av.global_quote(sym("IBM"))),
        timed(hook.deliver(&notice)),
    );
    let want = [
        (a, format!("{}/api/v3/klines", silent.url), "within 1 s"),
        (b, format!("{}/api/v3/klines", stalled.url), "within 1 s"),
        (c, format!("{}/products/BTC-USD", silent.url), "within 1 s"),
        (d, format!("{}/query", silent.url), "within 1 s"),
        (e, "127.0.0.1".to_string(), "within 1 s"),
    ];
    for ((err, took), endpoint, timeout) in want {
        assert!(err.contains(&endpoint), "{err}");
        assert!(err.contains(timeout), "{err}");
        assert!(
            err.contains("timed out") || err.contains("no answer"),
            "{err}"
        );
        assert!(!err.contains(KEY), "{err}");
        // a generous bound: the promise is one second
        assert!(took < Duration::from_secs(8), "{err} after {took:?}");
        assert!(took >= Duration::from_millis(900), "{err} after {took:?}");
    }
}
