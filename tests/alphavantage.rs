//! The Alpha Vantage source against a local HTTP server and a clock that jumps: the requests it
//! makes (key included), the events, no candle twice, the per-minute spacing, the daily limit,
//! the per-minute notice, unknown symbols, a refused key, slow and failing answers, and the key
//! never shown.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::alphavantage::{
    Av, KEY, MIDNIGHT_AFTER_T0, T0, TestClock, daily_limit, note_per_minute,
};
use support::http::{HttpServer, Response};
use support::wait_for;
use tickwatch::domain::{EventKind, Interval, MarketEvent, Venue};
use tickwatch::pipeline::{
    EventSink, HealthBoard, Ingest, Overflow, PipelineStats, SourceState, describe, ring,
};
use tickwatch::sources::Source;
use tickwatch::sources::alphavantage::{AlphaVantageConfig, AlphaVantageSource, MISSING_KEY, Mode};

struct Harness {
    name: String,
    events: Arc<Mutex<Vec<MarketEvent>>>,
    states: Arc<Mutex<Vec<SourceState>>>,
    details: Arc<Mutex<Vec<String>>>,
    finished: Arc<Mutex<bool>>,
    board: HealthBoard,
    run: tokio::task::JoinHandle<anyhow::Result<()>>,
    clock: TestClock,
    srv: HttpServer,
}

impl Harness {
    fn requests(&self) -> Vec<(String, String)> {
        self.srv
            .requests("/query")
            .iter()
            .map(|r| {
                (
                    r.query.get("function").cloned().unwrap_or_default(),
                    r.query.get("symbol").cloned().unwrap_or_default(),
                )
            })
            .collect()
    }

    async fn wait_requests(&self, n: usize) {
        wait_for(5, &format!("{n} requests"), || {
            (self.srv.requests("/query").len() >= n).then_some(())
        })
        .await;
    }

    /// Waits a little and checks that no request beyond the first `n` went out.
    async fn no_more_requests(&self, n: usize, what: &str) {
        tokio::time::sleep(Duration::from_millis(150)).await;
        assert_eq!(self.requests().len(), n, "{what}: {:?}", self.requests());
    }

    async fn wait_state(&self, what: &str, f: impl Fn(&SourceState) -> bool) -> SourceState {
        wait_for(5, what, || {
            self.states.lock().unwrap().iter().find(|s| f(s)).cloned()
        })
        .await
    }

    fn health(&self) -> tickwatch::pipeline::SourceHealth {
        self.board
            .snapshot()
            .into_iter()
            .find(|h| h.name == self.name)
            .unwrap()
    }

    fn last_error(&self) -> String {
        self.health().last_error.unwrap_or_default()
    }

    fn detail(&self) -> String {
        self.health().detail.unwrap_or_default()
    }

    fn candles(&self, symbol: &str) -> Vec<(i64, f64, bool)> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e.symbol.as_str() == symbol)
            .filter_map(|e| match e.kind {
                EventKind::Candle {
                    interval,
                    candle,
                    closed,
                } => {
                    assert_eq!(interval, Interval::M5);
                    assert_eq!(e.exch_ms, candle.open_ms);
                    Some((candle.open_ms, candle.close, closed))
                }
                _ => None,
            })
            .collect()
    }

    fn stats(&self, symbol: &str) -> Vec<(f64, f64)> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e.symbol.as_str() == symbol)
            .filter_map(|e| match e.kind {
                EventKind::Stats24h(s) => Some((s.last, s.open)),
                _ => None,
            })
            .collect()
    }

    /// Neither `key` nor the accepted key appears in anything the health board or the log shows.
    fn assert_key_hidden(&self, key: &str) {
        let h = self.health();
        let mut texts = vec![
            describe(&h.state, 0),
            h.detail.clone().unwrap_or_default(),
            h.last_error.clone().unwrap_or_default(),
        ];
        texts.extend(self.states.lock().unwrap().iter().map(|s| describe(s, 0)));
        texts.extend(self.details.lock().unwrap().iter().cloned());
        texts.extend(support::states::of(&self.name));
        for t in &texts {
            assert!(!t.contains(key), "the key shows in {t:?}");
            assert!(!t.contains(KEY), "the key shows in {t:?}");
        }
    }
}

fn config(srv: &HttpServer, symbols: &[&str]) -> AlphaVantageConfig {
    AlphaVantageConfig {
        base_url: srv.url.clone(),
        symbols: symbols.iter().map(|s| s.to_string()).collect(),
        request_timeout_ms: 2_000,
        backoff_initial_ms: 40,
        backoff_max_ms: 200,
        ..AlphaVantageConfig::default()
    }
}

async fn start(
    name: &str,
    venue: &Arc<Av>,
    cfg: impl FnOnce(&HttpServer) -> AlphaVantageConfig,
    env_key: &str,
) -> Harness {
    support::states::capture();
    let srv = HttpServer::start(venue.handler()).await;
    let clock = TestClock::at(T0);
    let src = AlphaVantageSource::with_env_key(cfg(&srv), Some(env_key.into()))
        .unwrap()
        .with_clock(clock.clock(), Duration::from_millis(10));
    assert_eq!(src.overflow(), Overflow::Block);
    let (tx, rx) = ring(64);
    let board = HealthBoard::default();
    let sink = EventSink::new(
        name,
        tx,
        Overflow::Block,
        Arc::new(PipelineStats::default()),
        board.clone(),
    );
    let run = tokio::spawn(Box::new(src).run(sink));
    let events: Arc<Mutex<Vec<MarketEvent>>> = Arc::default();
    let finished = Arc::new(Mutex::new(false));
    let (ev2, fin2) = (events.clone(), finished.clone());
    tokio::spawn(async move {
        loop {
            match rx.recv_async().await {
                Ok(Ingest::Events(evs)) => ev2.lock().unwrap().extend(evs),
                Ok(Ingest::Finished(_)) => *fin2.lock().unwrap() = true,
                Ok(Ingest::RemoteAlerts(_) | Ingest::Books(_)) => {}
                Err(_) => return,
            }
        }
    });
    let states: Arc<Mutex<Vec<SourceState>>> = Arc::default();
    let details: Arc<Mutex<Vec<String>>> = Arc::default();
    let (st2, d2, b2, n2) = (
        states.clone(),
        details.clone(),
        board.clone(),
        name.to_string(),
    );
    tokio::spawn(async move {
        loop {
            if let Some(h) = b2.snapshot().into_iter().find(|h| h.name == n2) {
                let mut s = st2.lock().unwrap();
                if s.last() != Some(&h.state) {
                    s.push(h.state);
                }
                let mut d = d2.lock().unwrap();
                if let Some(text) = h.detail
                    && d.last() != Some(&text)
                {
                    d.push(text);
                }
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    });
    Harness {
        name: name.into(),
        events,
        states,
        details,
        finished,
        board,
        run,
        clock,
        srv,
    }
}

/// 2024-01-05 `hh:mm` US/Eastern (EST, UTC-5) in ms UTC.
fn est(hh: i64, mm: i64) -> i64 {
    T0 + ((hh - 10) * 60 + mm) * 60_000
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn candles_then_quotes_with_the_key_each_candle_once() {
    let venue = Av::new();
    for (t, c) in [("09:30", 161.0), ("09:35", 161.5), ("09:40", 162.0)] {
        venue.bar("IBM", &format!("2024-01-05 {t}:00"), c);
    }
    for (t, c) in [("09:30", 185.0), ("09:35", 185.5)] {
        venue.bar("AAPL", &format!("2024-01-05 {t}:00"), c);
    }
    venue.quote("IBM", 162.74, 161.52);
    let h = start(
        "av-main",
        &venue,
        |srv| AlphaVantageConfig {
            // the environment's key wins over the file's
            api_key: Some("FILEKEY".into()),
            ..config(srv, &["IBM", "AAPL"])
        },
        KEY,
    )
    .await;

    // candles first, at once, with every parameter and the key
    h.wait_requests(1).await;
    let first = h.srv.requests("/query")[0].clone();
    assert_eq!(first.query["function"], "TIME_SERIES_INTRADAY");
    assert_eq!(first.query["symbol"], "IBM");
    assert_eq!(first.query["interval"], "5min");
    assert_eq!(first.query["outputsize"], "compact");
    assert_eq!(first.query["apikey"], KEY);
    // 5 a minute: the second request waits 12 s on the clock
    h.no_more_requests(1, "before 12 s").await;
    h.clock.advance(12_000);
    h.wait_requests(2).await;
    assert_eq!(
        h.requests()[1],
        ("TIME_SERIES_INTRADAY".into(), "AAPL".into())
    );
    h.wait_state("live", |s| *s == SourceState::Live).await;
    wait_for(5, "AAPL candles", || {
        (h.candles("AAPL").len() == 2).then_some(())
    })
    .await;
    assert_eq!(
        h.candles("IBM"),
        vec![
            (est(9, 30), 161.0, true),
            (est(9, 35), 161.5, true),
            (est(9, 40), 162.0, false)
        ]
    );
    assert!(
        h.events
            .lock()
            .unwrap()
            .iter()
            .all(|e| e.venue == Venue::AlphaVantage)
    );

    // the rest of the day's 23 requests are spread over the 14 h left: ~35 min apart
    h.no_more_requests(2, "between polls").await;
    let d = h.detail();
    assert!(
        d.starts_with("2 symbols, 23/25 requests left today, next poll in 35 min (IBM quote)"),
        "{d}"
    );

    // a quote: Stats24h with the price, against the previous close
    h.clock.advance(40 * 60_000);
    h.wait_requests(3).await;
    assert_eq!(h.requests()[2], ("GLOBAL_QUOTE".into(), "IBM".into()));
    wait_for(5, "IBM quote", || {
        (!h.stats("IBM").is_empty()).then_some(())
    })
    .await;
    assert_eq!(h.stats("IBM"), vec![(162.74, 161.52)]);
    h.clock.advance(40 * 60_000);
    h.wait_requests(4).await;
    assert_eq!(h.requests()[3], ("GLOBAL_QUOTE".into(), "AAPL".into()));
    h.no_more_requests(4, "one request per gap").await;

    // candles again: the in-progress bar closes once, the new one is in progress, nothing repeats
    venue.bar("IBM", "2024-01-05 09:45:00", 162.5);
    h.clock.advance(40 * 60_000);
    h.wait_requests(5).await;
    assert_eq!(
        h.requests()[4],
        ("TIME_SERIES_INTRADAY".into(), "IBM".into())
    );
    wait_for(5, "IBM 09:45", || {
        (h.candles("IBM").len() == 5).then_some(())
    })
    .await;
    assert_eq!(
        h.candles("IBM")[3..],
        [(est(9, 40), 162.0, true), (est(9, 45), 162.5, false)]
    );
    let closed: Vec<i64> = h
        .candles("IBM")
        .iter()
        .filter(|c| c.2)
        .map(|c| c.0)
        .collect();
    assert_eq!(closed, vec![est(9, 30), est(9, 35), est(9, 40)]);
    assert!(
        h.srv
            .requests("/query")
            .iter()
            .all(|r| r.query["apikey"] == KEY)
    );
    wait_for(5, "20 left", || {
        h.detail()
            .contains("20/25 requests left today")
            .then_some(())
    })
    .await;
    h.assert_key_hidden("FILEKEY");
    h.run.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daily_limit_waits_for_midnight_eastern() {
    let venue = Av::new();
    venue.then(Response::json(200, daily_limit(KEY)));
    let h = start(
        "av-daily",
        &venue,
        |srv| AlphaVantageConfig {
            mode: Mode::Quote,
            ..config(srv, &["IBM"])
        },
        KEY,
    )
    .await;
    let st = h
        .wait_state("rate-limited", |s| {
            matches!(s, SourceState::RateLimited { .. })
        })
        .await;
    assert_eq!(
        st,
        SourceState::RateLimited {
            until_ms: MIDNIGHT_AFTER_T0
        }
    );
    let e = h.last_error();
    assert!(
        e.contains("daily limit") && e.contains("midnight US/Eastern"),
        "{e}"
    );
    // nothing more today, however much time passes
    h.no_more_requests(1, "right after the limit").await;
    h.clock.advance(3 * 3_600_000);
    h.no_more_requests(1, "three hours later").await;
    assert!(
        h.detail().contains("0/25 requests left today"),
        "{}",
        h.detail()
    );
    // a new quota day: polling resumes
    h.clock.set(MIDNIGHT_AFTER_T0 + 1_000);
    h.wait_requests(2).await;
    h.wait_state("live", |s| *s == SourceState::Live).await;
    assert_eq!(h.requests()[1], ("GLOBAL_QUOTE".into(), "IBM".into()));
    wait_for(5, "detail", || {
        h.detail()
            .contains("24/25 requests left today")
            .then_some(())
    })
    .await;
    h.assert_key_hidden(KEY);
    h.run.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_per_minute_note_waits_for_the_next_minute() {
    let venue = Av::new();
    venue.then(Response::json(200, note_per_minute()));
    let h = start(
        "av-note",
        &venue,
        |srv| AlphaVantageConfig {
            mode: Mode::Quote,
            ..config(srv, &["IBM"])
        },
        KEY,
    )
    .await;
    let st = h
        .wait_state("rate-limited", |s| {
            matches!(s, SourceState::RateLimited { .. })
        })
        .await;
    // T0 is on a minute: the next one, plus a second
    assert_eq!(
        st,
        SourceState::RateLimited {
            until_ms: T0 + 61_000
        }
    );
    assert!(h.last_error().contains("slow down"), "{}", h.last_error());
    h.no_more_requests(1, "within the minute").await;
    h.clock.advance(61_000);
    h.wait_requests(2).await;
    // the same request again, and it went through
    assert_eq!(h.requests()[1], ("GLOBAL_QUOTE".into(), "IBM".into()));
    h.wait_state("live", |s| *s == SourceState::Live).await;
    wait_for(5, "quote", || (!h.stats("IBM").is_empty()).then_some(())).await;
    h.run.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_symbol_is_named_and_dropped_and_the_others_go_on() {
    let venue = Av::new();
    venue.unknown("FOO");
    venue.unknown("BAR");
    venue.bar("IBM", "2024-01-05 09:30:00", 161.0);
    let h = start(
        "av-unknown",
        &venue,
        |srv| AlphaVantageConfig {
            requests_per_minute: 6_000,
            ..config(srv, &["IBM", "FOO", "AAPL"])
        },
        KEY,
    )
    .await;
    h.wait_requests(3).await;
    wait_for(5, "FOO named", || {
        h.last_error().contains("FOO").then_some(())
    })
    .await;
    let e = h.last_error();
    assert!(
        e.contains("does not know symbol FOO") && e.contains("[alphavantage].symbols"),
        "{e}"
    );
    // later polls: IBM and AAPL only
    for n in 4..=7 {
        h.clock.advance(60 * 60_000);
        h.wait_requests(n).await;
    }
    let after: Vec<String> = h.requests()[3..].iter().map(|r| r.1.clone()).collect();
    assert_eq!(after, vec!["IBM", "AAPL", "IBM", "AAPL"]);
    assert!(
        h.detail().starts_with("2 symbols (unknown: FOO)"),
        "{}",
        h.detail()
    );
    assert!(matches!(h.health().state, SourceState::Live));
    h.run.abort();

    // an empty GLOBAL_QUOTE is an unknown symbol too; with none left the source fails
    let h = start(
        "av-unknown-quote",
        &venue,
        |srv| AlphaVantageConfig {
            mode: Mode::Quote,
            requests_per_minute: 6_000,
            ..config(srv, &["BAR"])
        },
        KEY,
    )
    .await;
    let st = h
        .wait_state("failed", |s| matches!(s, SourceState::Failed(_)))
        .await;
    let SourceState::Failed(reason) = st else {
        unreachable!()
    };
    assert!(reason.contains("does not know BAR"), "{reason}");
    assert!(h.last_error().contains("BAR"));
    assert!(h.run.await.unwrap().is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_key_fails_with_a_clear_message() {
    let venue = Av::new();
    let h = start(
        "av-badkey",
        &venue,
        |srv| config(srv, &["IBM", "AAPL"]),
        "WRONGKEY999",
    )
    .await;
    let st = h
        .wait_state("failed", |s| matches!(s, SourceState::Failed(_)))
        .await;
    let SourceState::Failed(reason) = st else {
        unreachable!()
    };
    assert!(reason.contains("refused the API key"), "{reason}");
    assert!(reason.contains("ALPHAVANTAGE_API_KEY"), "{reason}");
    let mut h = h;
    let result = tokio::time::timeout(Duration::from_secs(5), &mut h.run)
        .await
        .unwrap()
        .unwrap();
    assert!(
        result
            .unwrap_err()
            .to_string()
            .contains("refused the API key")
    );
    // the source sent Finished before it returned; the reader task takes it a moment later
    let told = tokio::time::timeout(Duration::from_secs(5), async {
        while !*h.finished.lock().unwrap() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    assert!(told.is_ok(), "the engine is told the source ended");
    assert_eq!(h.srv.requests("/query")[0].query["apikey"], "WRONGKEY999");
    h.clock.advance(3_600_000);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        h.requests().len(),
        1,
        "no request after the key was refused"
    );
    h.assert_key_hidden("WRONGKEY999");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_failing_answers_back_off_then_recover() {
    let venue = Av::new();
    venue.then(Response::json(200, "{}").delayed(Duration::from_millis(800)));
    venue.then(Response::json(
        503,
        format!("upstream down for apikey={KEY}"),
    ));
    let h = start(
        "av-slow",
        &venue,
        |srv| AlphaVantageConfig {
            mode: Mode::Quote,
            requests_per_minute: 6_000,
            request_timeout_ms: 250,
            ..config(srv, &["IBM"])
        },
        KEY,
    )
    .await;
    let st = h
        .wait_state("timed out", |s| {
            matches!(s, SourceState::Reconnecting { .. })
        })
        .await;
    let SourceState::Reconnecting {
        reason, attempt, ..
    } = st
    else {
        unreachable!()
    };
    assert_eq!(attempt, 1);
    assert!(
        reason.starts_with("request timed out: no complete answer from http://127.0.0.1:")
            && reason.ends_with("/query within 250 ms"),
        "{reason}"
    );
    let st = h
        .wait_state("HTTP 503", |s| {
            matches!(s, SourceState::Reconnecting { attempt: 2, .. })
        })
        .await;
    let SourceState::Reconnecting { reason, .. } = st else {
        unreachable!()
    };
    assert!(reason.contains("HTTP 503"), "{reason}");
    h.wait_state("live", |s| *s == SourceState::Live).await;
    wait_for(5, "quote", || (!h.stats("IBM").is_empty()).then_some(())).await;
    // each retry waited for its backoff (40 ms doubling, jittered down to half)
    let at: Vec<_> = h.srv.requests("/query").iter().map(|r| r.at).collect();
    assert_eq!(at.len(), 3);
    assert!(
        at[1] - at[0] >= Duration::from_millis(250),
        "{:?}",
        at[1] - at[0]
    );
    assert!(
        at[2] - at[1] >= Duration::from_millis(40),
        "{:?}",
        at[2] - at[1]
    );
    assert!(h.last_error().contains("HTTP 503"), "{}", h.last_error());
    h.assert_key_hidden(KEY);
    h.run.abort();
}

#[test]
fn without_a_key_new_fails_with_the_clear_message() {
    let cfg = AlphaVantageConfig::default();
    let err = AlphaVantageSource::with_env_key(cfg.clone(), None).unwrap_err();
    assert_eq!(err.to_string(), MISSING_KEY);
    let err = AlphaVantageSource::with_env_key(cfg, Some(String::new())).unwrap_err();
    assert!(err.to_string().contains("ALPHAVANTAGE_API_KEY"), "{err}");
    assert!(
        err.to_string()
            .contains("https://www.alphavantage.co/support/#api-key")
    );
}
