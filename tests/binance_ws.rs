//! The Binance source against local WebSocket and HTTP servers with faults injected: every trade
//! id arrives exactly once across reconnects, gaps are filled from REST, and the health board
//! tells the truth.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::binance::{self as bn, Market};
use support::http::HttpServer;
use support::wait_for;
use support::ws::WsServer;
use tickwatch::domain::{EventKind, MarketEvent};
use tickwatch::pipeline::{
    EventSink, HealthBoard, Ingest, Overflow, PipelineStats, SourceState, ring,
};
use tickwatch::sources::Source;
use tickwatch::sources::binance::{BinanceConfig, BinanceSource};

struct Harness {
    events: Arc<Mutex<Vec<MarketEvent>>>,
    states: Arc<Mutex<Vec<SourceState>>>,
    board: HealthBoard,
    stats: Arc<PipelineStats>,
    /// While set, the engine side does not read (so the ring fills up).
    paused: Arc<std::sync::atomic::AtomicBool>,
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

    fn last_error(&self) -> String {
        self.board.snapshot()[0]
            .last_error
            .clone()
            .unwrap_or_default()
    }
}

fn config(ws: &WsServer, http: &HttpServer) -> BinanceConfig {
    BinanceConfig {
        ws_url: ws.url.clone(),
        rest_url: http.url.clone(),
        symbols: vec!["BTCUSDT".into()],
        klines: false,
        mini_ticker: false,
        backfill_candles: 0,
        stale_after_secs: 10,
        // long enough that the 5 ms state poller sees every Reconnecting
        backoff_initial_ms: 300,
        backoff_max_ms: 1_000,
        ..BinanceConfig::default()
    }
}

fn start(cfg: BinanceConfig, ring_batches: usize) -> Harness {
    start_named("binance", cfg, ring_batches)
}

fn start_named(name: &str, cfg: BinanceConfig, ring_batches: usize) -> Harness {
    support::states::capture();
    let (tx, rx) = ring(ring_batches);
    let board = HealthBoard::default();
    let stats = Arc::new(PipelineStats::default());
    let sink = EventSink::new(name, tx, Overflow::DropNewest, stats.clone(), board.clone());
    let src = Box::new(BinanceSource::new(cfg).unwrap());
    assert_eq!(src.overflow(), Overflow::DropNewest);
    tokio::spawn(src.run(sink));
    let events: Arc<Mutex<Vec<MarketEvent>>> = Arc::default();
    let paused = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (ev2, p2) = (events.clone(), paused.clone());
    tokio::spawn(async move {
        loop {
            if p2.load(std::sync::atomic::Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_millis(5)).await;
                continue;
            }
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
        events,
        states,
        board,
        stats,
        paused,
    }
}

fn trades(range: std::ops::RangeInclusive<u64>) -> Vec<String> {
    range.map(|id| bn::agg_trade("BTCUSDT", id)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_trade_once_across_drops_closes_garbage_errors_and_shutdowns() {
    // the market's REST history grows as the script goes on (last_trade = what has happened)
    let market = Market::new(&["BTCUSDT"], 10, 0);
    let http = HttpServer::start(market.handler()).await;
    let mut ws = WsServer::start().await;
    let h = start_named("binance-once", config(&ws, &http), 1024);
    let happened = |id: u64| *market.last_trade.lock().unwrap() = id;

    // 1: subscribe, trades 1..10, then the cable is cut
    let mut c = ws.accept().await;
    assert_eq!(c.path, "/ws");
    assert_eq!(c.expect_subscribe(1).await, vec!["btcusdt@aggTrade"]);
    c.send_all(trades(1..=10)).await;
    h.wait_trades_through(10).await;
    happened(14);
    c.drop_tcp();

    // 2: 11..14 happened while away; live resumes at 15, then a close frame
    let mut c = ws.accept().await;
    c.expect_subscribe(1).await;
    happened(20);
    c.send_all(trades(15..=20)).await;
    h.wait_trades_through(20).await;
    c.close(1001).await;
    h.wait_state("close reason", |s| {
        matches!(s, SourceState::Reconnecting { reason, .. } if reason == "server closed the connection (code 1001)")
    })
    .await;

    // 3: garbage, a replayed trade, an error frame, a ping, then serverShutdown
    let mut c = ws.accept().await;
    c.expect_subscribe(1).await;
    c.send("this is not json").await;
    happened(25);
    c.send_all(trades(20..=25)).await;
    c.send(bn::error_frame(7)).await;
    c.ping_and_expect_pong(b"keepalive").await;
    h.wait_trades_through(25).await;
    wait_for(5, "error frame recorded", || {
        h.last_error()
            .contains("Binance refused request 7")
            .then_some(())
    })
    .await;
    c.send(bn::SERVER_SHUTDOWN).await;

    // 4: reconnected at once (too quick for the state poller, so read the recorded reason),
    // live again, 26..40 with a hole at 30..34
    let mut c = ws.accept().await;
    c.expect_subscribe(1).await;
    assert_eq!(h.last_error(), "serverShutdown");
    // the catch-up after this reconnect asks from 26 and finds nothing new yet
    wait_for(5, "catch-up from 26", || {
        http.requests("/api/v3/aggTrades")
            .iter()
            .any(|r| r.query["fromId"] == "26")
            .then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    c.send_all(trades(26..=29)).await;
    happened(40);
    c.send_all(trades(35..=40)).await;
    h.wait_trades_through(40).await;

    assert_eq!(
        h.trade_ids(),
        (1..=40).collect::<Vec<u64>>(),
        "every id once, in order"
    );
    let froms: Vec<String> = http
        .requests("/api/v3/aggTrades")
        .iter()
        .map(|r| r.query["fromId"].clone())
        .collect();
    assert!(
        froms.contains(&"11".to_string()),
        "gap after reconnect filled from 11: {froms:?}"
    );
    assert!(
        froms.contains(&"21".to_string()),
        "catch-up after the close frame from 21: {froms:?}"
    );
    assert!(
        froms.contains(&"30".to_string()),
        "gap in the stream filled from 30: {froms:?}"
    );

    // every transition, from the health board's log (a poller could miss the short ones)
    let seen: Vec<String> = support::states::of("binance-once")
        .iter()
        .map(|m| {
            let k = if m.contains("reconnecting in") {
                "reconnecting"
            } else {
                m.as_str()
            };
            k.to_string()
        })
        .collect();
    // (the board starts out "connecting", so the first change logged is to live)
    let want = [
        "live",
        "reconnecting",
        "connecting",
        "live",
        "reconnecting",
        "connecting",
        "live",
        "reconnecting",
        "connecting",
        "live",
    ];
    assert_eq!(seen, want);
    let lines = support::states::of("binance-once");
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
    assert!(
        lines[7].starts_with("serverShutdown; reconnecting in 0 s"),
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
    let market = Market::new(&["BTCUSDT"], 0, 0);
    let http = HttpServer::start(market.handler()).await;
    let cfg = BinanceConfig {
        ws_url: format!("ws://127.0.0.1:{port}"),
        rest_url: http.url.clone(),
        symbols: vec!["BTCUSDT".into()],
        backfill_candles: 0,
        ..BinanceConfig::default()
    };
    let h = start(cfg, 16);
    let started = std::time::Instant::now();
    let s = h
        .wait_state("connection refused", |s| {
            matches!(s, SourceState::Reconnecting { reason, .. } if reason == "connection refused")
        })
        .await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    let text = tickwatch::pipeline::describe(&s, tickwatch::domain::now_ms());
    assert!(
        text.starts_with("connection refused; reconnecting in"),
        "{text}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quiet_server_is_shown_stale_then_replaced() {
    let market = Market::new(&["BTCUSDT"], 3, 0);
    let http = HttpServer::start(market.handler()).await;
    let mut ws = WsServer::start().await;
    let cfg = BinanceConfig {
        stale_after_secs: 2,
        ..config(&ws, &http)
    };
    let h = start(cfg, 64);
    let mut c = ws.accept().await;
    c.expect_subscribe(1).await;
    c.send_all(trades(1..=3)).await;
    h.wait_trades_through(3).await;
    let quiet = tokio::spawn(c.go_quiet(Duration::from_secs(20)));
    h.wait_state("stale", |s| matches!(s, SourceState::Stale { .. }))
        .await;
    h.wait_state(
        "watchdog reconnect",
        |s| matches!(s, SourceState::Reconnecting { reason, .. } if reason == "no data for 2 s"),
    )
    .await;
    let mut c2 = ws.accept().await;
    c2.expect_subscribe(1).await;
    assert!(
        quiet.await.unwrap(),
        "the quiet connection was closed by the client"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_symbol_is_dropped_and_the_others_keep_working() {
    let market = Market::new(&["BTCUSDT"], 2, 10);
    // ten candles up to the current (open) minute
    let minute = tickwatch::domain::Interval::M1.bucket(tickwatch::domain::now_ms());
    *market.candle_t0.lock().unwrap() = minute - 9 * 60_000;
    let http = HttpServer::start(market.handler()).await;
    let mut ws = WsServer::start().await;
    let cfg = BinanceConfig {
        symbols: vec!["BTCUSDT".into(), "FOOUSDT".into()],
        klines: true,
        backfill_candles: 5,
        ..config(&ws, &http)
    };
    let h = start(cfg, 64);
    let mut c = ws.accept().await;
    let subs = c.expect_subscribe(4).await;
    assert_eq!(
        subs,
        vec![
            "btcusdt@aggTrade",
            "btcusdt@kline_1m",
            "foousdt@aggTrade",
            "foousdt@kline_1m"
        ]
    );
    // start-up candles arrive and FOOUSDT is refused by REST
    let unsub = c.recv_text().await;
    let v: serde_json::Value = serde_json::from_str(&unsub).unwrap();
    assert_eq!(v["method"], "UNSUBSCRIBE");
    assert_eq!(
        v["params"],
        serde_json::json!(["foousdt@aggTrade", "foousdt@kline_1m"])
    );
    c.send(format!(r#"{{"result":null,"id":{}}}"#, v["id"]))
        .await;
    c.send_all(trades(1..=2)).await;
    c.send(bn::kline("BTCUSDT", minute, false)).await;
    h.wait_trades_through(2).await;
    assert!(
        h.last_error()
            .contains("invalid symbol FOOUSDT (Binance -1121): remove it from [binance].symbols"),
        "{}",
        h.last_error()
    );
    let candles = h
        .events
        .lock()
        .unwrap()
        .iter()
        .filter(|e| {
            e.symbol.as_str() == "BTCUSDT"
                && matches!(e.kind, EventKind::Candle { closed: true, .. })
        })
        .count();
    // five minutes back: 5 closed candles (4 if a minute turned meanwhile, 6 if it turned twice)
    assert!(
        (4..=6).contains(&candles),
        "start-up candles backfilled: {candles}"
    );
    wait_for(5, "detail names the invalid symbol", || {
        h.board.snapshot()[0]
            .detail
            .as_deref()
            .is_some_and(|d| d.contains("invalid: FOOUSDT"))
            .then_some(())
    })
    .await;
    assert!(matches!(h.board.snapshot()[0].state, SourceState::Live));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollover_opens_the_new_connection_first_and_never_duplicates() {
    let market = Market::new(&["BTCUSDT"], 12, 0);
    let http = HttpServer::start(market.handler()).await;
    let mut ws = WsServer::start().await;
    let cfg = BinanceConfig {
        rollover_hours: 1.0 / 3600.0, // one second
        ..config(&ws, &http)
    };
    let h = start(cfg, 64);
    let mut old = ws.accept().await;
    old.expect_subscribe(1).await;
    old.send_all(trades(1..=5)).await;
    h.wait_trades_through(5).await;
    let mut new = ws.accept().await; // opened while the old one is still up
    new.expect_subscribe(1).await;
    old.send_all(trades(6..=8)).await;
    new.send_all(trades(6..=12)).await;
    h.wait_trades_through(12).await;
    assert!(
        old.go_quiet(Duration::from_secs(10)).await,
        "old connection closed after the overlap"
    );
    assert_eq!(h.trade_ids(), (1..=12).collect::<Vec<u64>>());
    let reconnects = h
        .states
        .lock()
        .unwrap()
        .iter()
        .filter(|s| matches!(s, SourceState::Reconnecting { .. }))
        .count();
    assert_eq!(reconnects, 0, "a rollover is not a reconnect");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_dropped_by_a_full_ring_are_backfilled() {
    let market = Market::new(&["BTCUSDT"], 30, 0);
    let http = HttpServer::start(market.handler()).await;
    let mut ws = WsServer::start().await;
    let h = start(config(&ws, &http), 1);
    h.paused.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut c = ws.accept().await;
    c.expect_subscribe(1).await;
    for id in 1..=20 {
        c.send(bn::agg_trade("BTCUSDT", id)).await;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    wait_for(5, "drops", || {
        (PipelineStats::get(&h.stats.dropped_ring) > 0).then_some(())
    })
    .await;
    h.paused.store(false, std::sync::atomic::Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(200)).await;
    c.send_all(trades(21..=30)).await;
    h.wait_trades_through(30).await;
    assert_eq!(h.trade_ids(), (1..=30).collect::<Vec<u64>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_connection_down_of_two_is_shown_even_while_the_other_is_live() {
    let market = Market::new(&["BTCUSDT", "ETHUSDT"], 0, 0);
    let http = HttpServer::start(market.handler()).await;
    let mut ws = WsServer::start().await;
    let cfg = BinanceConfig {
        symbols: vec!["BTCUSDT".into(), "ETHUSDT".into()],
        // one stream per symbol and one symbol per connection: two connections
        max_streams_per_connection: 1,
        backoff_initial_ms: 1_500,
        backoff_max_ms: 3_000,
        ..config(&ws, &http)
    };
    let h = start_named("binance-shards", cfg, 64);
    let mut a = ws.accept().await;
    let mut b = ws.accept().await;
    let (sa, sb) = (a.expect_subscribe(1).await, b.expect_subscribe(1).await);
    // `a` is the BTCUSDT connection, `b` the ETHUSDT one
    if sa == vec!["ethusdt@aggTrade"] {
        std::mem::swap(&mut a, &mut b);
    }
    let mut subs = vec![sa, sb];
    subs.sort();
    assert_eq!(
        subs,
        vec![vec!["btcusdt@aggTrade"], vec!["ethusdt@aggTrade"]]
    );
    a.send_all(trades(1..=2)).await;
    b.send_all(
        (1..=2)
            .map(|id| bn::agg_trade("ETHUSDT", id))
            .collect::<Vec<_>>(),
    )
    .await;
    h.wait_trades_through(2).await;
    h.wait_state("live", |s| *s == SourceState::Live).await;
    wait_for(5, "2 connections (2 live)", || {
        let d = h.board.snapshot()[0].detail.clone().unwrap_or_default();
        d.contains("2 connections (2 live)").then_some(())
    })
    .await;
    // one connection drops; the other keeps delivering
    a.drop_tcp();
    b.send_all(
        (3..=4)
            .map(|id| bn::agg_trade("ETHUSDT", id))
            .collect::<Vec<_>>(),
    )
    .await;
    h.wait_state("reconnecting although one is live", |s| {
        matches!(s, SourceState::Reconnecting { .. })
    })
    .await;
    let detail = wait_for(5, "2 connections (1 live)", || {
        let d = h.board.snapshot()[0].detail.clone().unwrap_or_default();
        d.contains("2 connections (1 live)").then_some(d)
    })
    .await;
    assert!(detail.contains("2 symbols"), "{detail}");
    // back: live again
    let mut a = ws.accept().await;
    a.expect_subscribe(1).await;
    a.send_all(trades(3..=4)).await;
    h.states.lock().unwrap().clear();
    h.wait_state("live again", |s| *s == SourceState::Live)
        .await;
}

/// A burst of trades and the end of the connection in one read: a cut, a close frame with 1001
/// and serverShutdown, each right after the burst. Every trade is handed on (none counted as
/// received and then forgotten, which would also make the refill start after them).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trades_read_with_the_end_of_a_connection_are_handed_on() {
    let market = Market::new(&["BTCUSDT"], 0, 0);
    let http = HttpServer::start(market.handler()).await;
    let mut ws = WsServer::start().await;
    let mut cfg = config(&ws, &http);
    cfg.backoff_initial_ms = 20;
    cfg.backoff_max_ms = 50;
    let h = start_named("binance-burst", cfg, 1024);
    let mut next = 1u64;
    for round in 0..9 {
        let mut c = ws.accept().await;
        c.expect_subscribe(1).await;
        let mut burst: Vec<String> = (next..next + 250)
            .map(|i| bn::agg_trade("BTCUSDT", i))
            .collect();
        next += 250;
        // REST knows them all: a refill may only ever add what the stream did not deliver
        *market.last_trade.lock().unwrap() = next - 1;
        match round % 3 {
            0 => c.burst_then_end(burst, None).await,
            1 => c.burst_then_end(burst, Some(1001)).await,
            _ => {
                burst.push(bn::SERVER_SHUTDOWN.to_string());
                c.burst_then_end(burst, None).await;
            }
        }
    }
    let mut c = ws.accept().await;
    c.expect_subscribe(1).await;
    c.send_all((next..next + 5).map(|i| bn::agg_trade("BTCUSDT", i)))
        .await;
    *market.last_trade.lock().unwrap() = next + 4;
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

/// A REST server that never answers the start-up candle fetch: live trades still flow (held
/// at most `MAX_HOLD_MS`), and the screen says why the chart starts from live data.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_rest_server_does_not_hold_live_trades() {
    let market = Market::new(&["BTCUSDT"], 0, 30);
    for _ in 0..20 {
        market.fault(support::binance::Fault::Slow(Duration::from_secs(3_600)));
    }
    let http = HttpServer::start(market.handler()).await;
    let mut ws = WsServer::start().await;
    let mut cfg = config(&ws, &http);
    cfg.backfill_candles = 30;
    let h = start_named("binance-hung-rest", cfg, 1024);
    let mut c = ws.accept().await;
    c.expect_subscribe(1).await;
    let started = std::time::Instant::now();
    for chunk in 0..30u64 {
        c.send_all((chunk * 10 + 1..=chunk * 10 + 10).map(|i| bn::agg_trade("BTCUSDT", i)))
            .await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        if h.trade_ids().len() >= 10 {
            break;
        }
    }
    wait_for(30, "live trades despite a hung REST server", || {
        (!h.trade_ids().is_empty()).then_some(())
    })
    .await;
    let waited = started.elapsed();
    assert!(
        waited < Duration::from_secs(20),
        "live trades held for {waited:?} behind a REST request that never ends"
    );
    let ids = h.trade_ids();
    assert_eq!(
        ids,
        (1..=ids.len() as u64).collect::<Vec<_>>(),
        "in order, once"
    );
    wait_for(5, "the reason on the health board", || {
        h.last_error()
            .contains("REST has not answered within 10 s")
            .then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_during_a_rate_limited_start_up_fetch_is_not_shown_live() {
    let market = Market::new(&["BTCUSDT"], 0, 10);
    market.fault(bn::Fault::TooMany { retry_after_s: 2 });
    let http = HttpServer::start(market.handler()).await;
    let mut ws = WsServer::start().await;
    let cfg = BinanceConfig {
        backfill_candles: 5,
        ..config(&ws, &http)
    };
    let h = start_named("binance-429-start", cfg, 64);
    let mut c = ws.accept().await;
    c.expect_subscribe(1).await;
    // data flow while the start-up fetch waits out the 429
    wait_for(10, "the 429", || {
        (!market.refused_at.lock().unwrap().is_empty()).then_some(())
    })
    .await;
    c.send_all(trades(1..=3)).await;
    h.wait_state("live after the wait", |s| matches!(s, SourceState::Live))
        .await;
    let refused = market.refused_at.lock().unwrap()[0];
    assert!(
        refused.elapsed() >= Duration::from_millis(1_900),
        "live only once the 2 s wait is over ({:?} after the 429)",
        refused.elapsed()
    );
    // every transition the board logged: never "live" while the wait lasted
    let mut seen: Vec<String> = Vec::new();
    for m in support::states::of("binance-429-start") {
        let k = if m.starts_with("rate-limited") {
            "rate-limited".to_string()
        } else {
            m
        };
        if seen.last() != Some(&k) {
            seen.push(k);
        }
    }
    assert_eq!(seen, ["rate-limited", "live"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connected_silent_feed_is_stale_and_its_rate_limit_ends() {
    let market = Market::new(&["BTCUSDT"], 0, 10);
    // 3 s: the state is only shown while the wait lasts, and a loaded machine (CI) may take
    // over a second between the 429 and the wait that shows it
    market.fault(bn::Fault::TooMany { retry_after_s: 3 });
    let http = HttpServer::start(market.handler()).await;
    let mut ws = WsServer::start().await;
    let cfg = BinanceConfig {
        backfill_candles: 5,
        stale_after_secs: 10,
        ..config(&ws, &http)
    };
    let h = start_named("binance-silent", cfg, 64);
    let mut c = ws.accept().await;
    c.expect_subscribe(1).await;
    let quiet = tokio::spawn(c.go_quiet(Duration::from_secs(30)));
    h.wait_state("rate-limited", |s| {
        matches!(s, SourceState::RateLimited { .. })
    })
    .await;
    // connected, nothing ever arrives: "stale for N s" while the connection is still up
    // (half the watchdog's 10 s), not "connecting", and not "rate-limited" after the 3 s wait
    h.wait_state("stale", |s| matches!(s, SourceState::Stale { .. }))
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let now_state = h.board.snapshot()[0].state.clone();
    let text = tickwatch::pipeline::describe(&now_state, tickwatch::domain::now_ms());
    assert!(text.starts_with("stale for "), "{text}");
    assert!(!quiet.is_finished(), "the connection is still up");
    // the watchdog replaces it later
    h.wait_state(
        "watchdog reconnect",
        |s| matches!(s, SourceState::Reconnecting { reason, .. } if reason == "no data for 10 s"),
    )
    .await;
}
