//! The Coinbase Exchange source against local WebSocket and HTTP servers with faults injected:
//! the subscribe arrives in time, every trade id arrives exactly once and in order across
//! reconnects and holes, refused products are dropped while the others keep working, REST rate
//! limits are obeyed, and the health board tells the truth.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::coinbase::{self as cb, Fault, Market};
use support::http::HttpServer;
use support::wait_for;
use support::ws::WsServer;
use tickwatch::domain::{EventKind, Interval, MarketEvent, Quote, Side, Stats24h, now_ms};
use tickwatch::pipeline::{EventSink, HealthBoard, Ingest, Overflow, SourceState, ring};
use tickwatch::sources::Source;
use tickwatch::sources::coinbase::{CoinbaseConfig, CoinbaseSource};

const CHANNELS: [&str; 3] = ["matches", "ticker", "heartbeat"];

struct Harness {
    name: String,
    events: Arc<Mutex<Vec<MarketEvent>>>,
    states: Arc<Mutex<Vec<SourceState>>>,
    board: HealthBoard,
}

impl Harness {
    fn trade_ids(&self) -> Vec<u64> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .filter_map(|e| match e.kind {
                EventKind::Trade(t) => Some(t.trade_id),
                _ => None,
            })
            .collect()
    }

    async fn wait_trades_through(&self, last: u64) {
        wait_for(15, &format!("trade {last}"), || {
            self.trade_ids().contains(&last).then_some(())
        })
        .await;
    }

    async fn wait_state(&self, what: &str, f: impl Fn(&SourceState) -> bool) -> SourceState {
        wait_for(15, what, || {
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

    async fn wait_detail(&self, what: &str, f: impl Fn(&str) -> bool) -> String {
        wait_for(10, what, || self.health().detail.filter(|d| f(d))).await
    }

    /// State lines from the health board's log, with "reconnecting in N s" shortened.
    fn state_log(&self) -> Vec<String> {
        support::states::of(&self.name)
            .iter()
            .map(|m| {
                if m.contains("reconnecting in") {
                    "reconnecting".to_string()
                } else if m.starts_with("rate-limited") {
                    "rate-limited".to_string()
                } else {
                    m.clone()
                }
            })
            .collect()
    }
}

fn config(ws: &WsServer, http: &HttpServer) -> CoinbaseConfig {
    CoinbaseConfig {
        ws_url: ws.url.clone(),
        rest_url: http.url.clone(),
        products: vec!["BTC-USD".into()],
        backfill_candles: 0,
        stale_after_secs: 10,
        // long enough that the state poller sees every Reconnecting
        backoff_initial_ms: 300,
        backoff_max_ms: 1_000,
        ..CoinbaseConfig::default()
    }
}

fn start(name: &str, cfg: CoinbaseConfig) -> Harness {
    support::states::capture();
    let (tx, rx) = ring(1024);
    let board = HealthBoard::default();
    let stats = Arc::new(tickwatch::pipeline::PipelineStats::default());
    let sink = EventSink::new(name, tx, Overflow::DropNewest, stats, board.clone());
    let src = Box::new(CoinbaseSource::new(cfg).unwrap());
    assert_eq!(src.name(), "coinbase");
    assert_eq!(src.overflow(), Overflow::DropNewest);
    tokio::spawn(src.run(sink));
    let events: Arc<Mutex<Vec<MarketEvent>>> = Arc::default();
    let ev2 = events.clone();
    tokio::spawn(async move {
        loop {
            match rx.recv_async().await {
                Ok(Ingest::Events(evs)) => ev2.lock().unwrap().extend(evs),
                Ok(Ingest::Finished(_)) | Err(_) => return,
                Ok(Ingest::RemoteAlerts(_) | Ingest::Books(_)) => {}
            }
        }
    });
    let states: Arc<Mutex<Vec<SourceState>>> = Arc::default();
    let (st2, b2) = (states.clone(), board.clone());
    tokio::spawn(async move {
        loop {
            if let Some(h) = b2.snapshot().into_iter().next() {
                let mut s = st2.lock().unwrap();
                if s.last() != Some(&h.state) {
                    s.push(h.state);
                }
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    });
    Harness {
        name: name.to_string(),
        events,
        states,
        board,
    }
}

/// Accepts the next connection and checks the subscribe: it must come within 5 s (Coinbase
/// closes the connection otherwise) and name the products and the three channels.
async fn accept_subscribed(ws: &mut WsServer, products: &[&str]) -> support::ws::ServerConn {
    let mut c = ws.accept().await;
    let t = std::time::Instant::now();
    let sub = cb::expect_subscribe(&mut c).await;
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "subscribe after {:?}",
        t.elapsed()
    );
    assert_eq!(sub.product_ids, products);
    assert_eq!(sub.channels, CHANNELS);
    c
}

fn afters(http: &HttpServer, path: &str) -> Vec<Option<String>> {
    http.requests(path)
        .iter()
        .map(|r| r.query.get("after").cloned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_trade_once_across_drops_closes_garbage_holes_and_heartbeats() {
    const TRADES: &str = "/products/BTC-USD/trades";
    let market = Market::new(&["BTC-USD"], 15);
    let http = HttpServer::start(market.handler()).await;
    let mut ws = WsServer::start().await;
    let h = start("coinbase-once", config(&ws, &http));

    // 1: subscribe, the last trade before it, 11..15, a ticker and a heartbeat; the cable is cut
    let mut c = accept_subscribed(&mut ws, &["BTC-USD"]).await;
    c.send(cb::last_match("BTC-USD", 10)).await;
    c.send_all(cb::matches("BTC-USD", 11..=15)).await;
    c.send(cb::ticker("BTC-USD", 15)).await;
    c.send(cb::heartbeat("BTC-USD", 15)).await;
    h.wait_trades_through(15).await;
    assert!(
        http.requests(TRADES).is_empty(),
        "no hole yet, so no REST: {:?}",
        afters(&http, TRADES)
    );
    market.happened(20);
    c.drop_tcp();

    // 2: 16..20 happened while away (REST); live resumes at 21; then a close frame
    let mut c = accept_subscribed(&mut ws, &["BTC-USD"]).await;
    c.send(cb::last_match("BTC-USD", 20)).await;
    market.happened(25);
    c.send_all(cb::matches("BTC-USD", 21..=25)).await;
    h.wait_trades_through(25).await;
    c.close(1001).await;
    h.wait_state("close reason", |s| {
        matches!(s, SourceState::Reconnecting { reason, .. } if reason == "server closed the connection (code 1001)")
    })
    .await;

    // 3: the catch-up after this reconnect finds nothing new; then garbage, a replayed
    // last_match, a hole in the matches (28, 29), a ping, a hole only a heartbeat reveals
    // (31..33), and a trade with a negative price (34, then filled from REST)
    let mut c = accept_subscribed(&mut ws, &["BTC-USD"]).await;
    wait_for(5, "catch-up after the close", || {
        (http.requests(TRADES).len() >= 2).then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    c.send("this is not json").await;
    c.send(cb::last_match("BTC-USD", 25)).await;
    market.happened(30);
    c.send_all(cb::matches("BTC-USD", 26..=27)).await;
    c.send(cb::match_frame("BTC-USD", 30)).await;
    c.ping_and_expect_pong(b"keepalive").await;
    h.wait_trades_through(30).await;
    market.happened(33);
    c.send(cb::heartbeat("BTC-USD", 33)).await;
    h.wait_trades_through(33).await;
    market.happened(35);
    c.send(cb::match_frame("BTC-USD", 34).replace(r#""price":"106.5""#, r#""price":"-1""#))
        .await;
    c.send(cb::match_frame("BTC-USD", 35)).await;
    h.wait_trades_through(35).await;

    assert_eq!(
        h.trade_ids(),
        (10..=35).collect::<Vec<u64>>(),
        "every id once, in order"
    );
    // one catch-up per reconnect (the first may already know the top of its hole from
    // last_match), then one request per hole: below 30, below 34 (the heartbeat said 33) and
    // below 35 (34 was rejected)
    let a = afters(&http, TRADES);
    assert_eq!(a.len(), 5, "{a:?}");
    assert!(a[0].is_none() || a[0].as_deref() == Some("20"), "{a:?}");
    assert_eq!(a[1], None, "{a:?}");
    let holes: Vec<&str> = a[2..].iter().map(|x| x.as_deref().unwrap()).collect();
    assert_eq!(holes, ["30", "34", "35"]);
    // the REST copy of trade 34 is the one that went out, with the taker's side
    let ev = h.events.lock().unwrap().clone();
    let t34 = ev
        .iter()
        .find_map(|e| match e.kind {
            EventKind::Trade(t) if t.trade_id == 34 => Some(t),
            _ => None,
        })
        .unwrap();
    assert_eq!((t34.price, t34.side), (106.5, Side::Sell), "maker bought");
    // the ticker became a quote and 24 h statistics
    assert!(ev.iter().any(|e| e.kind
        == EventKind::Quote(Quote {
            bid: 100.0,
            bid_qty: 0.75,
            ask: 101.0,
            ask_qty: 2.5
        })));
    assert!(ev.iter().any(|e| e.kind
        == EventKind::Stats24h(Stats24h {
            open: 99.0,
            high: 107.0,
            low: 98.0,
            last: 101.5,
            volume: 1234.5
        })));
    // garbage and the bad price were skipped and counted, and the stream went on
    let detail = h
        .wait_detail("skipped frames in the detail", |d| {
            d.contains("2 frames skipped (1 with bad values)")
        })
        .await;
    assert!(detail.starts_with("1 products, "), "{detail}");
    assert!(detail.contains("last error: frame rejected"), "{detail}");

    let want = [
        "live",
        "reconnecting",
        "connecting",
        "live",
        "reconnecting",
        "connecting",
        "live",
    ];
    assert_eq!(h.state_log(), want);
    let lines = support::states::of("coinbase-once");
    // a cut TCP connection reads as a reset or an end of stream, depending on timing
    assert!(
        lines[1].starts_with("connection reset by the server; reconnecting in")
            || lines[1].starts_with("server closed the connection; reconnecting in"),
        "{lines:?}"
    );
    assert!(
        lines[4].starts_with("server closed the connection (code 1001); reconnecting in"),
        "{lines:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_port_reports_connection_refused_quickly() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let market = Market::new(&["BTC-USD"], 0);
    let http = HttpServer::start(market.handler()).await;
    let cfg = CoinbaseConfig {
        ws_url: format!("ws://127.0.0.1:{port}"),
        rest_url: http.url.clone(),
        backfill_candles: 0,
        ..CoinbaseConfig::default()
    };
    let h = start("coinbase-refused", cfg);
    let started = std::time::Instant::now();
    let s = h
        .wait_state("connection refused", |s| {
            matches!(s, SourceState::Reconnecting { reason, .. } if reason == "connection refused")
        })
        .await;
    assert!(started.elapsed() < Duration::from_secs(5));
    let text = tickwatch::pipeline::describe(&s, now_ms());
    assert!(
        text.starts_with("connection refused; reconnecting in"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeats_keep_it_live_and_a_quiet_server_is_replaced() {
    let market = Market::new(&["BTC-USD"], 3);
    let http = HttpServer::start(market.handler()).await;
    let mut ws = WsServer::start().await;
    let cfg = CoinbaseConfig {
        stale_after_secs: 2,
        ..config(&ws, &http)
    };
    let h = start("coinbase-quiet", cfg);
    let mut c = accept_subscribed(&mut ws, &["BTC-USD"]).await;
    c.send(cb::last_match("BTC-USD", 3)).await;
    h.wait_trades_through(3).await;
    // heartbeats alone, for longer than stale_after_secs: no trade, but not stale either
    for _ in 0..8 {
        tokio::time::sleep(Duration::from_millis(400)).await;
        c.send(cb::heartbeat("BTC-USD", 3)).await;
    }
    assert!(
        !h.states.lock().unwrap().iter().any(|s| matches!(
            s,
            SourceState::Stale { .. } | SourceState::Reconnecting { .. }
        )),
        "{:?}",
        h.states.lock().unwrap()
    );
    assert_eq!(h.health().state, SourceState::Live);
    let quiet = tokio::spawn(c.go_quiet(Duration::from_secs(20)));
    h.wait_state("stale", |s| matches!(s, SourceState::Stale { .. }))
        .await;
    h.wait_state(
        "watchdog reconnect",
        |s| matches!(s, SourceState::Reconnecting { reason, .. } if reason == "no data for 2 s"),
    )
    .await;
    let _c2 = accept_subscribed(&mut ws, &["BTC-USD"]).await;
    assert!(
        quiet.await.unwrap(),
        "the quiet connection was closed by the client"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_product_is_named_dropped_and_the_others_resubscribed() {
    let market = Market::new(&["BTC-USD"], 3);
    let http = HttpServer::start(market.handler()).await;
    let mut ws = WsServer::start().await;
    let cfg = CoinbaseConfig {
        products: vec!["BTC-USD".into(), "FOO-USD".into()],
        ..config(&ws, &http)
    };
    let h = start("coinbase-unknown", cfg);
    let mut c = ws.accept().await;
    let first = cb::expect_control(&mut c).await;
    assert_eq!(first.kind, "subscribe");
    assert_eq!(first.product_ids, ["BTC-USD", "FOO-USD"]);
    // Coinbase refuses the whole subscribe for one unknown product
    c.send(cb::unknown_product_error("FOO-USD")).await;
    let again = cb::expect_subscribe(&mut c).await;
    assert_eq!(again.product_ids, ["BTC-USD"]);
    assert_eq!(again.channels, CHANNELS);
    c.send(cb::last_match("BTC-USD", 1)).await;
    c.send_all(cb::matches("BTC-USD", 2..=3)).await;
    h.wait_trades_through(3).await;
    assert_eq!(
        h.last_error(),
        "Coinbase refused product FOO-USD: Failed to subscribe (FOO-USD is not a valid product); remove it from [coinbase].products"
    );
    h.wait_detail("invalid product in the detail", |d| {
        d.starts_with("1 products") && d.contains("invalid: FOO-USD")
    })
    .await;
    assert_eq!(h.health().state, SourceState::Live);
    assert_eq!(h.trade_ids(), vec![1, 2, 3]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_up_candles_are_paged_by_300_and_a_404_product_is_dropped() {
    let market = Market::new(&["BTC-USD"], 0);
    let http = HttpServer::start(market.handler()).await;
    let mut ws = WsServer::start().await;
    let cfg = CoinbaseConfig {
        products: vec!["BTC-USD".into(), "BAR-USD".into()],
        backfill_candles: 400,
        ..config(&ws, &http)
    };
    let h = start("coinbase-warm", cfg);
    let mut c = accept_subscribed(&mut ws, &["BTC-USD", "BAR-USD"]).await;
    // REST does not know BAR-USD: it is unsubscribed and named
    let unsub = cb::expect_control(&mut c).await;
    assert_eq!(unsub.kind, "unsubscribe");
    assert_eq!(unsub.product_ids, ["BAR-USD"]);
    assert_eq!(unsub.channels, CHANNELS);
    c.send(cb::heartbeat("BTC-USD", 0)).await;
    let candles = wait_for(10, "warm-up candles", || {
        let ev = h.events.lock().unwrap();
        let c: Vec<_> = ev
            .iter()
            .filter(|e| e.symbol.as_str() == "BTC-USD")
            .filter_map(|e| match e.kind {
                EventKind::Candle {
                    interval: Interval::M1,
                    candle,
                    closed: true,
                } => Some(candle),
                _ => None,
            })
            .collect();
        (!c.is_empty()).then_some(c)
    })
    .await;
    // 400 minutes back: 400 closed candles (399 if a minute turned meanwhile), oldest first
    assert!((399..=401).contains(&candles.len()), "{}", candles.len());
    assert!(
        candles
            .windows(2)
            .all(|w| w[1].open_ms == w[0].open_ms + 60_000)
    );
    assert!(candles.last().unwrap().open_ms + 60_000 <= now_ms());
    let c0 = candles[0];
    assert_eq!(
        (c0.open, c0.high, c0.low, c0.close),
        (100.0, 102.0, 99.5, 101.0)
    );
    let reqs = http.requests("/products/BTC-USD/candles");
    assert_eq!(reqs.len(), 2, "300 per request");
    assert!(reqs.iter().all(|r| r.query["granularity"] == "60"));
    assert!(
        h.last_error()
            .contains("Coinbase does not know product BAR-USD (HTTP 404 NotFound): remove it from [coinbase].products"),
        "{}",
        h.last_error()
    );
    h.wait_detail("invalid product in the detail", |d| {
        d.contains("invalid: BAR-USD")
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_429_is_waited_out_then_the_hole_is_filled() {
    const TRADES: &str = "/products/BTC-USD/trades";
    let market = Market::new(&["BTC-USD"], 5);
    let http = HttpServer::start(market.handler()).await;
    let mut ws = WsServer::start().await;
    let h = start("coinbase-429", config(&ws, &http));
    let mut c = accept_subscribed(&mut ws, &["BTC-USD"]).await;
    c.send(cb::last_match("BTC-USD", 5)).await;
    h.wait_trades_through(5).await;
    // the next hole meets two 429s: one with Retry-After, one without
    market.fault(Fault::TooMany {
        retry_after_s: Some(2),
    });
    market.fault(Fault::TooMany {
        retry_after_s: None,
    });
    market.happened(10);
    c.send(cb::match_frame("BTC-USD", 10)).await;
    h.wait_state("rate-limited", |s| {
        matches!(s, SourceState::RateLimited { .. })
    })
    .await;
    h.wait_trades_through(10).await;
    assert_eq!(h.trade_ids(), (5..=10).collect::<Vec<u64>>());
    let reqs = http.requests(TRADES);
    assert_eq!(reqs.len(), 3, "429, 429, then the answer");
    assert!(
        reqs.iter()
            .all(|r| r.query.get("after").map(String::as_str) == Some("10"))
    );
    let first_wait = reqs[1].at - reqs[0].at;
    let second_wait = reqs[2].at - reqs[1].at;
    // (a back-off alone would have waited at most 1 s)
    assert!(
        first_wait >= Duration::from_millis(1_990),
        "Retry-After: 2 obeyed: {first_wait:?}"
    );
    assert!(
        second_wait >= Duration::from_millis(490),
        "backed off without Retry-After: {second_wait:?}"
    );
    wait_for(5, "live after the wait", || {
        (h.health().state == SourceState::Live).then_some(())
    })
    .await;
    let log = h.state_log();
    assert!(
        log.windows(2).any(|w| w == ["rate-limited", "live"]),
        "{log:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_advanced_trade_server_is_named_not_misread() {
    let market = Market::new(&["BTC-USD"], 0);
    let http = HttpServer::start(market.handler()).await;
    let mut ws = WsServer::start().await;
    let h = start("coinbase-advanced", config(&ws, &http));
    let mut c = ws.accept().await;
    cb::expect_control(&mut c).await;
    // a frame of the Advanced Trade API (wss://advanced-trade-ws.coinbase.com), as recorded
    c.send(r#"{"channel":"market_trades","timestamp":"2026-08-09T21:05:48.228568804Z","sequence_num":0,"events":[{"type":"snapshot","trades":[{"product_id":"BTC-USD","trade_id":"1068572090","price":"65083.67","size":"0.002186","time":"2026-08-09T21:05:42.514318Z","side":"SELL"}]}]}"#)
        .await;
    let s = h
        .wait_state("reconnect naming the protocol", |s| {
            matches!(s, SourceState::Reconnecting { .. })
        })
        .await;
    let SourceState::Reconnecting { reason, .. } = s else {
        unreachable!()
    };
    assert!(
        reason.contains("speaks the Coinbase Advanced Trade API")
            && reason.contains(
                "set [coinbase].ws_url to the Exchange feed wss://ws-feed.exchange.coinbase.com"
            ),
        "{reason}"
    );
    assert!(h.trade_ids().is_empty(), "nothing was misread as a trade");
}

/// A burst of matches and the end of the connection in one read (a cut, a close frame with
/// 1001): every trade is handed on, none forgotten.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trades_read_with_the_end_of_a_connection_are_handed_on() {
    let market = Market::new(&["BTC-USD"], 0);
    let http = HttpServer::start(market.handler()).await;
    let mut ws = WsServer::start().await;
    let mut cfg = config(&ws, &http);
    cfg.backoff_initial_ms = 20;
    cfg.backoff_max_ms = 50;
    let h = start("coinbase-burst", cfg);
    let mut next = 1u64;
    for round in 0..6 {
        let c = accept_subscribed(&mut ws, &["BTC-USD"]).await;
        let burst = cb::matches("BTC-USD", next..=next + 199);
        next += 200;
        market.happened(next - 1);
        c.burst_then_end(burst, (round % 2 == 1).then_some(1001))
            .await;
    }
    let mut c = accept_subscribed(&mut ws, &["BTC-USD"]).await;
    market.happened(next + 4);
    c.send_all(cb::matches("BTC-USD", next..=next + 4)).await;
    h.wait_trades_through(next + 4).await;
    let ids = h.trade_ids();
    let expected: Vec<u64> = (1..next + 5).collect();
    let missing: Vec<u64> = expected
        .iter()
        .copied()
        .filter(|i| !ids.contains(i))
        .collect();
    assert!(
        missing.is_empty(),
        "{} trades lost: {:?}",
        missing.len(),
        &missing[..missing.len().min(20)]
    );
    assert_eq!(ids, expected, "every id once, in order");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connected_silent_feed_is_stale_not_connecting() {
    let market = Market::new(&["BTC-USD"], 3);
    let http = HttpServer::start(market.handler()).await;
    let mut ws = WsServer::start().await;
    let h = start("coinbase-silent", config(&ws, &http));
    // subscribed, then nothing at all, not even a heartbeat
    let c = accept_subscribed(&mut ws, &["BTC-USD"]).await;
    let quiet = tokio::spawn(c.go_quiet(Duration::from_secs(30)));
    // "stale for N s" while the connection is still up (half the watchdog's 10 s)
    h.wait_state("stale", |s| matches!(s, SourceState::Stale { .. }))
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let text = tickwatch::pipeline::describe(&h.health().state, tickwatch::domain::now_ms());
    assert!(text.starts_with("stale for "), "{text}");
    assert!(!quiet.is_finished(), "the connection is still up");
}
