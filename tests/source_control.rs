//! Symbols added and removed while a source runs (`Source::control`), against local servers:
//! Binance subscribes after a REST check and answers on the server's acknowledgement, opens
//! another connection when one is full and closes one left empty; Coinbase answers on the
//! `subscriptions` message; unknown symbols and refusals are answered with the reason and leave
//! nothing behind; reconnects subscribe the current set; Alpha Vantage and the simulator change
//! their schedule at once.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::binance::{self as bn};
use support::coinbase::{self as cb};
use support::http::HttpServer;
use support::wait_for;
use support::ws::{ServerConn, WsServer};
use tickwatch::domain::{EventKind, Interval, MarketEvent, Symbol, Venue, now_ms};
use tickwatch::pipeline::{
    EventSink, HealthBoard, Ingest, PipelineStats, SourceHealth, SourceState, ring,
};
use tickwatch::sources::alphavantage::{AlphaVantageConfig, AlphaVantageSource};
use tickwatch::sources::binance::{BinanceConfig, BinanceSource};
use tickwatch::sources::coinbase::{CoinbaseConfig, CoinbaseSource};
use tickwatch::sources::sim::{SimConfig, SimSource};
use tickwatch::sources::{Source, SourceCmd};

type Answer = flume::Receiver<Result<(), String>>;

/// A running source, what it delivered, and its control channel.
struct Feed {
    name: String,
    events: Arc<Mutex<Vec<MarketEvent>>>,
    board: HealthBoard,
    ctl: flume::Sender<SourceCmd>,
}

impl Feed {
    fn start(name: &str, mut src: Box<dyn Source>, venue: Venue) -> Feed {
        support::states::capture();
        assert_eq!(src.venue(), Some(venue));
        let ctl = src.control().expect("a live source takes symbol changes");
        assert!(src.control().is_none(), "the channel is taken once");
        let (tx, rx) = ring(1024);
        let board = HealthBoard::default();
        let stats = Arc::new(PipelineStats::default());
        let sink = EventSink::new(name, tx, src.overflow(), stats, board.clone());
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
        Feed {
            name: name.to_string(),
            events,
            board,
            ctl,
        }
    }

    fn subscribe(&self, symbol: &str) -> Answer {
        let (reply, rx) = flume::unbounded();
        let symbol = Symbol::new(symbol).unwrap();
        self.ctl
            .send(SourceCmd::Subscribe { symbol, reply })
            .unwrap();
        rx
    }

    fn unsubscribe(&self, symbol: &str) -> Answer {
        let (reply, rx) = flume::unbounded();
        let symbol = Symbol::new(symbol).unwrap();
        self.ctl
            .send(SourceCmd::Unsubscribe { symbol, reply })
            .unwrap();
        rx
    }

    fn trade_ids(&self, symbol: &str) -> Vec<u64> {
        self.events
            .lock()
            .unwrap()
            .iter()
            .filter(|e| e.symbol.as_str() == symbol)
            .filter_map(|e| match e.kind {
                EventKind::Trade(t) => Some(t.trade_id),
                _ => None,
            })
            .collect()
    }

    fn closed_candles(&self, symbol: &str) -> usize {
        self.events
            .lock()
            .unwrap()
            .iter()
            .filter(|e| {
                e.symbol.as_str() == symbol
                    && matches!(
                        e.kind,
                        EventKind::Candle {
                            interval: Interval::M1,
                            closed: true,
                            ..
                        }
                    )
            })
            .count()
    }

    async fn wait_trade(&self, symbol: &str, id: u64) {
        wait_for(15, &format!("{symbol} trade {id}"), || {
            self.trade_ids(symbol).contains(&id).then_some(())
        })
        .await;
    }

    fn health(&self) -> SourceHealth {
        self.board
            .snapshot()
            .into_iter()
            .find(|h| h.name == self.name)
            .unwrap()
    }

    async fn wait_detail(&self, what: &str) -> String {
        wait_for(10, &format!("detail with {what:?}"), || {
            self.health().detail.filter(|d| d.contains(what))
        })
        .await
    }
}

/// The answer to a command, within 15 s.
async fn answer(rx: &Answer) -> Result<(), String> {
    tokio::time::timeout(Duration::from_secs(15), rx.recv_async())
        .await
        .expect("no answer within 15 s")
        .expect("the source dropped the question")
}

/// Checks that a command is not answered yet (it waits for the server).
async fn not_answered(rx: &Answer, what: &str) {
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert!(
        rx.is_empty(),
        "{what} was answered before the server confirmed it"
    );
}

/// Reads the client's next request, checks its method, returns its id and streams.
async fn expect_request(c: &mut ServerConn, method: &str) -> (u64, Vec<String>) {
    let text = c.recv_text().await;
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["method"], method, "{text}");
    let streams = v["params"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect();
    (v["id"].as_u64().unwrap(), streams)
}

async fn ack(c: &mut ServerConn, id: u64) {
    c.send(format!(r#"{{"result":null,"id":{id}}}"#)).await;
}

fn binance_config(ws: &WsServer, http: &HttpServer, symbols: &[&str]) -> BinanceConfig {
    BinanceConfig {
        ws_url: ws.url.clone(),
        rest_url: http.url.clone(),
        symbols: symbols.iter().map(|s| s.to_string()).collect(),
        klines: false,
        mini_ticker: false,
        backfill_candles: 0,
        stale_after_secs: 10,
        backoff_initial_ms: 300,
        backoff_max_ms: 1_000,
        ..BinanceConfig::default()
    }
}

fn agg(symbol: &str, ids: std::ops::RangeInclusive<u64>) -> Vec<String> {
    ids.map(|id| bn::agg_trade(symbol, id)).collect()
}

/// REST requests (any path) that name `symbol`.
fn rest_requests_for(http: &HttpServer, symbol: &str) -> usize {
    http.log
        .lock()
        .unwrap()
        .iter()
        .filter(|r| r.query.get("symbol").map(String::as_str) == Some(symbol))
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binance_subscribe_and_unsubscribe_on_the_wire_and_the_reconnect_uses_the_new_set() {
    let market = bn::Market::new(&["BTCUSDT", "ETHUSDT", "SOLUSDT"], 3, 10);
    // ten candles up to the current (open) minute, for the warm-up
    let minute = Interval::M1.bucket(now_ms());
    *market.candle_t0.lock().unwrap() = minute - 9 * 60_000;
    let http = HttpServer::start(market.strict_handler()).await;
    let mut ws = WsServer::start().await;
    let cfg = BinanceConfig {
        klines: true,
        backfill_candles: 5,
        ..binance_config(&ws, &http, &["BTCUSDT", "SOLUSDT"])
    };
    let f = Feed::start(
        "bn-ctl",
        Box::new(BinanceSource::new(cfg).unwrap()),
        Venue::Binance,
    );
    let mut c = ws.accept().await;
    assert_eq!(
        c.expect_subscribe(4).await,
        vec![
            "btcusdt@aggTrade",
            "btcusdt@kline_1m",
            "solusdt@aggTrade",
            "solusdt@kline_1m"
        ]
    );
    c.send_all(agg("BTCUSDT", 1..=3)).await;
    c.send_all(agg("SOLUSDT", 1..=2)).await;
    f.wait_trade("BTCUSDT", 3).await;
    f.wait_trade("SOLUSDT", 2).await;

    // subscribe: checked with REST, then SUBSCRIBE for the configured streams, Ok on the ack
    let r = f.subscribe("ethusdt");
    let (id, streams) = expect_request(&mut c, "SUBSCRIBE").await;
    assert_eq!(streams, vec!["ethusdt@aggTrade", "ethusdt@kline_1m"]);
    assert!(
        http.requests("/api/v3/exchangeInfo").iter().any(|q| q
            .query
            .get("symbol")
            .map(String::as_str)
            == Some("ETHUSDT")),
        "checked with exchangeInfo first"
    );
    not_answered(&r, "the subscribe").await;
    ack(&mut c, id).await;
    assert_eq!(answer(&r).await, Ok(()));
    // its trades arrive as events, after its warm-up candles
    c.send_all(agg("ETHUSDT", 1..=3)).await;
    f.wait_trade("ETHUSDT", 3).await;
    assert_eq!(f.trade_ids("ETHUSDT"), vec![1, 2, 3]);
    wait_for(10, "ETHUSDT warm-up candles", || {
        (f.closed_candles("ETHUSDT") >= 4).then_some(())
    })
    .await;
    assert!(
        http.requests("/api/v3/klines")
            .iter()
            .any(|q| q.query.get("symbol").map(String::as_str) == Some("ETHUSDT"))
    );
    f.wait_detail("3 symbols on 1 connection").await;

    // asking twice, or for what is not there, says so
    let again = answer(&f.subscribe("BTCUSDT")).await.unwrap_err();
    assert_eq!(again, "BTCUSDT is already streamed from Binance");
    let unknown = answer(&f.unsubscribe("XRPUSDT")).await.unwrap_err();
    assert_eq!(unknown, "XRPUSDT is not streamed from Binance");

    // unsubscribe: UNSUBSCRIBE, Ok on the ack, and its data is dropped from then on
    let r = f.unsubscribe("SOLUSDT");
    let (id, streams) = expect_request(&mut c, "UNSUBSCRIBE").await;
    assert_eq!(streams, vec!["solusdt@aggTrade", "solusdt@kline_1m"]);
    not_answered(&r, "the unsubscribe").await;
    ack(&mut c, id).await;
    assert_eq!(answer(&r).await, Ok(()));
    let sol_rest = rest_requests_for(&http, "SOLUSDT");
    c.send_all(agg("SOLUSDT", 3..=4)).await;
    c.send_all(agg("BTCUSDT", 4..=4)).await;
    f.wait_trade("BTCUSDT", 4).await;
    assert_eq!(
        f.trade_ids("SOLUSDT"),
        vec![1, 2],
        "nothing after the removal"
    );

    // a forced reconnect subscribes the current set: the added one in, the removed one out
    c.drop_tcp();
    let mut c = ws.accept().await;
    assert_eq!(
        c.expect_subscribe(4).await,
        vec![
            "btcusdt@aggTrade",
            "btcusdt@kline_1m",
            "ethusdt@aggTrade",
            "ethusdt@kline_1m"
        ]
    );
    // the gap fills after it cover the added symbol, not the removed one
    wait_for(10, "catch-up of ETHUSDT from 4", || {
        http.requests("/api/v3/aggTrades")
            .iter()
            .any(|q| q.query["symbol"] == "ETHUSDT" && q.query["fromId"] == "4")
            .then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(rest_requests_for(&http, "SOLUSDT"), sol_rest);
    c.send_all(agg("ETHUSDT", 4..=5)).await;
    f.wait_trade("ETHUSDT", 5).await;
    f.wait_detail("2 symbols on 1 connection").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binance_an_unknown_symbol_is_refused_with_its_name_and_nothing_is_subscribed() {
    let market = bn::Market::new(&["BTCUSDT", "ETHUSDT"], 0, 0);
    let http = HttpServer::start(market.strict_handler()).await;
    let mut ws = WsServer::start().await;
    let f = Feed::start(
        "bn-unknown",
        Box::new(BinanceSource::new(binance_config(&ws, &http, &["BTCUSDT"])).unwrap()),
        Venue::Binance,
    );
    let mut c = ws.accept().await;
    c.expect_subscribe(1).await;
    // REST says -1121
    let err = answer(&f.subscribe("XYZUSDT")).await.unwrap_err();
    assert_eq!(err, "XYZUSDT is not a Binance spot symbol");
    assert!(
        http.requests("/api/v3/exchangeInfo").iter().any(|q| q
            .query
            .get("symbol")
            .map(String::as_str)
            == Some("XYZUSDT"))
    );
    // not even asked: a Coinbase-style id
    let err = answer(&f.subscribe("BTC-USD")).await.unwrap_err();
    assert!(
        err.contains("BTC-USD is not a Binance spot symbol"),
        "{err}"
    );
    // nothing went out for them: the next request on the wire is for the next symbol
    let r = f.subscribe("ETHUSDT");
    let (id, streams) = expect_request(&mut c, "SUBSCRIBE").await;
    assert_eq!(streams, vec!["ethusdt@aggTrade"]);
    ack(&mut c, id).await;
    assert_eq!(answer(&r).await, Ok(()));
    // and XYZUSDT is not half there: removing it says it is unknown
    let err = answer(&f.unsubscribe("XYZUSDT")).await.unwrap_err();
    assert_eq!(err, "XYZUSDT is not streamed from Binance");
    f.wait_detail("2 symbols").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binance_a_subscribe_the_server_refuses_is_answered_with_the_reason_and_forgotten() {
    let market = bn::Market::new(&["BTCUSDT", "ETHUSDT"], 0, 0);
    let http = HttpServer::start(market.strict_handler()).await;
    let mut ws = WsServer::start().await;
    let f = Feed::start(
        "bn-refused",
        Box::new(BinanceSource::new(binance_config(&ws, &http, &["BTCUSDT"])).unwrap()),
        Venue::Binance,
    );
    let mut c = ws.accept().await;
    c.expect_subscribe(1).await;
    let r = f.subscribe("ETHUSDT");
    let (id, _) = expect_request(&mut c, "SUBSCRIBE").await;
    c.send(bn::error_frame(id)).await;
    let err = answer(&r).await.unwrap_err();
    assert_eq!(
        err,
        "Binance refused to subscribe ETHUSDT: Invalid request: unknown variant (code 2)"
    );
    let last = f.health().last_error.unwrap_or_default();
    assert!(last.contains("ETHUSDT"), "{last}");
    // not half-subscribed: a reconnect leaves it out
    c.drop_tcp();
    let mut c = ws.accept().await;
    assert_eq!(c.expect_subscribe(1).await, vec!["btcusdt@aggTrade"]);
    // and it can be asked for again
    let r = f.subscribe("ETHUSDT");
    let (id, streams) = expect_request(&mut c, "SUBSCRIBE").await;
    assert_eq!(streams, vec!["ethusdt@aggTrade"]);
    ack(&mut c, id).await;
    assert_eq!(answer(&r).await, Ok(()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binance_a_subscribe_while_reconnecting_waits_for_the_next_connection() {
    let market = bn::Market::new(&["BTCUSDT", "ETHUSDT", "SOLUSDT"], 0, 0);
    let http = HttpServer::start(market.strict_handler()).await;
    let mut ws = WsServer::start().await;
    let cfg = BinanceConfig {
        // at least 1.5 s away: time to ask while disconnected
        backoff_initial_ms: 3_000,
        backoff_max_ms: 6_000,
        ..binance_config(&ws, &http, &["BTCUSDT", "SOLUSDT"])
    };
    let f = Feed::start(
        "bn-offline",
        Box::new(BinanceSource::new(cfg).unwrap()),
        Venue::Binance,
    );
    let mut c = ws.accept().await;
    c.expect_subscribe(2).await;
    c.send_all(agg("BTCUSDT", 1..=1)).await;
    f.wait_trade("BTCUSDT", 1).await;
    c.drop_tcp();
    wait_for(10, "reconnecting", || {
        matches!(f.health().state, SourceState::Reconnecting { .. }).then_some(())
    })
    .await;
    let sub = f.subscribe("ETHUSDT");
    // an unsubscribe while disconnected is done at once
    assert_eq!(answer(&f.unsubscribe("SOLUSDT")).await, Ok(()));
    not_answered(&sub, "the subscribe while disconnected").await;
    // the next connection's SUBSCRIBE carries it; the answer comes with its ack
    let mut c = ws.accept().await;
    let (id, streams) = expect_request(&mut c, "SUBSCRIBE").await;
    assert_eq!(streams, vec!["btcusdt@aggTrade", "ethusdt@aggTrade"]);
    not_answered(&sub, "the carried subscribe").await;
    ack(&mut c, id).await;
    assert_eq!(answer(&sub).await, Ok(()));
    c.send_all(agg("ETHUSDT", 1..=2)).await;
    f.wait_trade("ETHUSDT", 2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binance_a_full_connection_makes_room_on_a_new_one_which_closes_when_emptied() {
    let market = bn::Market::new(&["BTCUSDT", "ETHUSDT"], 0, 0);
    let http = HttpServer::start(market.strict_handler()).await;
    let mut ws = WsServer::start().await;
    let cfg = BinanceConfig {
        // one stream per symbol, one symbol per connection
        max_streams_per_connection: 1,
        ..binance_config(&ws, &http, &["BTCUSDT"])
    };
    let f = Feed::start(
        "bn-full",
        Box::new(BinanceSource::new(cfg).unwrap()),
        Venue::Binance,
    );
    let mut a = ws.accept().await;
    a.expect_subscribe(1).await;
    let r = f.subscribe("ETHUSDT");
    let mut b = ws.accept().await;
    assert_eq!(b.expect_subscribe(1).await, vec!["ethusdt@aggTrade"]);
    assert_eq!(answer(&r).await, Ok(()));
    b.send_all(agg("ETHUSDT", 1..=2)).await;
    a.send_all(agg("BTCUSDT", 1..=1)).await;
    f.wait_trade("ETHUSDT", 2).await;
    f.wait_detail("2 symbols on 2 connections (2 live)").await;
    // emptied: the connection is unsubscribed, then closed by the client
    let r = f.unsubscribe("ETHUSDT");
    let (id, streams) = expect_request(&mut b, "UNSUBSCRIBE").await;
    assert_eq!(streams, vec!["ethusdt@aggTrade"]);
    ack(&mut b, id).await;
    assert_eq!(answer(&r).await, Ok(()));
    assert!(
        b.go_quiet(Duration::from_secs(5)).await,
        "the empty connection was closed"
    );
    f.wait_detail("1 symbols on 1 connection").await;
    a.send_all(agg("BTCUSDT", 2..=2)).await;
    f.wait_trade("BTCUSDT", 2).await;
    assert_eq!(f.health().state, SourceState::Live);
}

fn coinbase_config(ws: &WsServer, http: &HttpServer, products: &[&str]) -> CoinbaseConfig {
    CoinbaseConfig {
        ws_url: ws.url.clone(),
        rest_url: http.url.clone(),
        products: products.iter().map(|s| s.to_string()).collect(),
        backfill_candles: 0,
        stale_after_secs: 10,
        backoff_initial_ms: 300,
        backoff_max_ms: 1_000,
        ..CoinbaseConfig::default()
    }
}

const CHANNELS: [&str; 3] = ["matches", "ticker", "heartbeat"];

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coinbase_subscribe_and_unsubscribe_are_answered_by_the_subscriptions_message() {
    let market = cb::Market::new(&["BTC-USD", "ETH-USD"], 0);
    let http = HttpServer::start(market.handler()).await;
    let mut ws = WsServer::start().await;
    let cfg = CoinbaseConfig {
        backfill_candles: 5,
        ..coinbase_config(&ws, &http, &["BTC-USD"])
    };
    let f = Feed::start(
        "cb-ctl",
        Box::new(CoinbaseSource::new(cfg).unwrap()),
        Venue::Coinbase,
    );
    let mut c = ws.accept().await;
    assert_eq!(
        cb::expect_subscribe(&mut c).await.product_ids,
        strings(&["BTC-USD"])
    );
    c.send_all(cb::matches("BTC-USD", 1..=2)).await;
    f.wait_trade("BTC-USD", 2).await;

    // subscribe: checked with REST, then a subscribe for the same channels
    let r = f.subscribe("eth-usd");
    let sub = cb::expect_control(&mut c).await;
    assert_eq!(sub.kind, "subscribe");
    assert_eq!(sub.product_ids, strings(&["ETH-USD"]));
    assert_eq!(sub.channels, strings(&CHANNELS));
    assert_eq!(http.requests("/products/ETH-USD").len(), 1);
    // a subscriptions message without it does not answer it
    c.send(cb::subscriptions(&strings(&["BTC-USD"]))).await;
    not_answered(&r, "the subscribe").await;
    c.send(cb::subscriptions(&strings(&["BTC-USD", "ETH-USD"])))
        .await;
    assert_eq!(answer(&r).await, Ok(()));
    c.send_all(cb::matches("ETH-USD", 1..=3)).await;
    f.wait_trade("ETH-USD", 3).await;
    wait_for(10, "ETH-USD warm-up candles", || {
        (f.closed_candles("ETH-USD") >= 4).then_some(())
    })
    .await;
    f.wait_detail("2 products").await;

    // unknown product (404), a malformed id, one already streamed: refused, nothing sent
    let err = answer(&f.subscribe("FOO-USD")).await.unwrap_err();
    assert_eq!(err, "FOO-USD is not a Coinbase Exchange product");
    let err = answer(&f.subscribe("FOOUSD")).await.unwrap_err();
    assert!(err.contains("not a Coinbase product id"), "{err}");
    let err = answer(&f.subscribe("BTC-USD")).await.unwrap_err();
    assert_eq!(err, "BTC-USD is already streamed from Coinbase");

    // unsubscribe: the next control message is this one (nothing went out for FOO-USD)
    let r = f.unsubscribe("BTC-USD");
    let unsub = cb::expect_control(&mut c).await;
    assert_eq!(unsub.kind, "unsubscribe");
    assert_eq!(unsub.product_ids, strings(&["BTC-USD"]));
    assert_eq!(unsub.channels, strings(&CHANNELS));
    not_answered(&r, "the unsubscribe").await;
    c.send(cb::subscriptions(&strings(&["ETH-USD"]))).await;
    assert_eq!(answer(&r).await, Ok(()));
    c.send_all(cb::matches("BTC-USD", 3..=4)).await;
    c.send(cb::match_frame("ETH-USD", 4)).await;
    f.wait_trade("ETH-USD", 4).await;
    assert_eq!(
        f.trade_ids("BTC-USD"),
        vec![1, 2],
        "nothing after the removal"
    );

    // a reconnect subscribes the current set
    c.drop_tcp();
    let mut c = ws.accept().await;
    assert_eq!(
        cb::expect_subscribe(&mut c).await.product_ids,
        strings(&["ETH-USD"])
    );
    f.wait_detail("1 products").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coinbase_a_product_the_feed_refuses_is_answered_with_the_reason_and_forgotten() {
    // REST lists NEW-USD, the feed refuses it
    let market = cb::Market::new(&["BTC-USD", "NEW-USD"], 0);
    let http = HttpServer::start(market.handler()).await;
    let mut ws = WsServer::start().await;
    let f = Feed::start(
        "cb-refused",
        Box::new(CoinbaseSource::new(coinbase_config(&ws, &http, &["BTC-USD"])).unwrap()),
        Venue::Coinbase,
    );
    let mut c = ws.accept().await;
    cb::expect_subscribe(&mut c).await;
    let r = f.subscribe("NEW-USD");
    let sub = cb::expect_control(&mut c).await;
    assert_eq!(sub.product_ids, strings(&["NEW-USD"]));
    c.send(cb::unknown_product_error("NEW-USD")).await;
    let err = answer(&r).await.unwrap_err();
    assert_eq!(
        err,
        "Coinbase refused to subscribe NEW-USD: Failed to subscribe (NEW-USD is not a valid product)"
    );
    // the others are subscribed again (Coinbase may have refused a whole subscribe)
    let again = cb::expect_subscribe(&mut c).await;
    assert_eq!(again.product_ids, strings(&["BTC-USD"]));
    // not half there: a reconnect leaves it out, and it is not counted as configured-invalid
    c.drop_tcp();
    let mut c = ws.accept().await;
    assert_eq!(
        cb::expect_subscribe(&mut c).await.product_ids,
        strings(&["BTC-USD"])
    );
    let err = answer(&f.unsubscribe("NEW-USD")).await.unwrap_err();
    assert_eq!(err, "NEW-USD is not streamed from Coinbase");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sim_adds_and_removes_symbols_at_once() {
    let cfg = SimConfig {
        symbols: vec!["BTCUSDT".into()],
        rate: 200.0,
        history_secs: 0,
        ..SimConfig::default()
    };
    let f = Feed::start(
        "sim-ctl",
        Box::new(SimSource::new(cfg).unwrap()),
        Venue::Sim,
    );
    wait_for(5, "BTCUSDT trades", || {
        (!f.trade_ids("BTCUSDT").is_empty()).then_some(())
    })
    .await;
    assert_eq!(answer(&f.subscribe("FOOUSDT")).await, Ok(()));
    let err = answer(&f.subscribe("FOOUSDT")).await.unwrap_err();
    assert_eq!(err, "FOOUSDT is already simulated");
    wait_for(5, "FOOUSDT trades", || {
        (f.trade_ids("FOOUSDT").len() > 10).then_some(())
    })
    .await;
    assert_eq!(answer(&f.unsubscribe("BTCUSDT")).await, Ok(()));
    tokio::time::sleep(Duration::from_millis(100)).await;
    let btc = f.trade_ids("BTCUSDT").len();
    let foo = f.trade_ids("FOOUSDT").len();
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(f.trade_ids("BTCUSDT").len(), btc, "no more BTCUSDT");
    assert!(f.trade_ids("FOOUSDT").len() > foo, "FOOUSDT goes on");
    let err = answer(&f.unsubscribe("BTCUSDT")).await.unwrap_err();
    assert_eq!(err, "BTCUSDT is not simulated");
    // with every symbol gone it waits, and takes one again
    assert_eq!(answer(&f.unsubscribe("FOOUSDT")).await, Ok(()));
    assert_eq!(answer(&f.subscribe("BTCUSDT")).await, Ok(()));
    let more = btc + 5;
    wait_for(5, "BTCUSDT again", || {
        (f.trade_ids("BTCUSDT").len() > more).then_some(())
    })
    .await;
    let ids = f.trade_ids("BTCUSDT");
    assert!(
        ids.windows(2).all(|w| w[1] == w[0] + 1),
        "ids go on after a removal"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alphavantage_adds_to_and_removes_from_the_poll_schedule() {
    use support::alphavantage::{Av, KEY, T0, TestClock};
    let venue = Av::new();
    venue.unknown("FOO");
    let srv = HttpServer::start(venue.handler()).await;
    let clock = TestClock::at(T0);
    let cfg = AlphaVantageConfig {
        base_url: srv.url.clone(),
        symbols: vec!["IBM".into()],
        request_timeout_ms: 2_000,
        backoff_initial_ms: 40,
        backoff_max_ms: 200,
        ..AlphaVantageConfig::default()
    };
    let src = AlphaVantageSource::with_env_key(cfg, Some(KEY.into()))
        .unwrap()
        .with_clock(clock.clock(), Duration::from_millis(10));
    let f = Feed::start("av-ctl", Box::new(src), Venue::AlphaVantage);
    let requests = || -> Vec<(String, String)> {
        srv.requests("/query")
            .iter()
            .map(|r| (r.query["function"].clone(), r.query["symbol"].clone()))
            .collect()
    };
    async fn wait_requests_of(srv: &HttpServer, n: usize) {
        wait_for(5, &format!("{n} requests"), || {
            (srv.requests("/query").len() >= n).then_some(())
        })
        .await;
    }
    let wait_requests = |n: usize| wait_requests_of(&srv, n);
    wait_requests(1).await;
    // added: answered at once, its first poll is the next request (after the minute spacing)
    assert_eq!(answer(&f.subscribe("MSFT")).await, Ok(()));
    let err = answer(&f.subscribe("MSFT")).await.unwrap_err();
    assert_eq!(err, "MSFT is already polled from Alpha Vantage");
    f.wait_detail("2 symbols").await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(requests().len(), 1, "the per-minute spacing still holds");
    clock.advance(12_000);
    wait_requests(2).await;
    assert_eq!(
        requests()[1],
        ("TIME_SERIES_INTRADAY".to_string(), "MSFT".to_string())
    );
    // removed: no longer polled; an unknown one is validated by its first poll
    assert_eq!(answer(&f.unsubscribe("IBM")).await, Ok(()));
    let err = answer(&f.unsubscribe("IBM")).await.unwrap_err();
    assert_eq!(err, "IBM is not polled from Alpha Vantage");
    assert_eq!(answer(&f.subscribe("FOO")).await, Ok(()));
    clock.advance(12_000);
    wait_requests(3).await;
    assert_eq!(
        requests()[2],
        ("TIME_SERIES_INTRADAY".to_string(), "FOO".to_string())
    );
    let detail = f.wait_detail("(unknown: FOO)").await;
    assert!(detail.starts_with("1 symbol (unknown: FOO)"), "{detail}");
    let err = f.health().last_error.unwrap_or_default();
    assert!(err.contains("does not know symbol FOO"), "{err}");
    // the rest of the day's budget goes to MSFT alone
    clock.advance(6 * 3_600_000);
    wait_requests(4).await;
    assert_eq!(
        requests()[3],
        ("GLOBAL_QUOTE".to_string(), "MSFT".to_string())
    );
    assert!(requests()[1..].iter().all(|(_, s)| s != "IBM"));
    // every symbol removed: it waits without failing, and polls again once one is added
    assert_eq!(answer(&f.unsubscribe("MSFT")).await, Ok(()));
    f.wait_detail("no symbols to poll").await;
    assert_eq!(f.health().state, SourceState::Finished);
    assert_eq!(answer(&f.subscribe("AAPL")).await, Ok(()));
    clock.advance(12_000);
    wait_requests(5).await;
    assert_eq!(
        requests()[4],
        ("TIME_SERIES_INTRADAY".to_string(), "AAPL".to_string())
    );
}
