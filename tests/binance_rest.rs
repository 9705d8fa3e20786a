//! Binance REST client against a local HTTP server: paging, weight header, 429/418 Retry-After,
//! -1121, slow answers, and the on-demand `backfill`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use support::binance::{Fault, Market, T0};
use support::http::HttpServer;
use tickwatch::domain::{EventKind, Interval, Symbol, now_ms};
use tickwatch::pipeline::{EventSink, HealthBoard, Ingest, Overflow, PipelineStats, ring};
use tickwatch::sources::binance::{BinanceConfig, RestClient, RestError, backfill};

fn sym(s: &str) -> Symbol {
    Symbol::new(s).unwrap()
}

async fn server(market: &Arc<Market>) -> HttpServer {
    HttpServer::start(market.handler()).await
}

#[tokio::test]
async fn klines_are_paged_by_start_time_until_the_end() {
    let market = Market::new(&["BTCUSDT"], 0, 2_500);
    let srv = server(&market).await;
    let rest = RestClient::new(&srv.url).unwrap();
    let candles = rest
        .klines(sym("BTCUSDT"), Interval::M1, T0, None, |_| {})
        .await
        .unwrap();
    assert_eq!(candles.len(), 2_500);
    assert!(
        candles
            .windows(2)
            .all(|w| w[1].open_ms == w[0].open_ms + 60_000)
    );
    let reqs = srv.requests("/api/v3/klines");
    assert_eq!(reqs.len(), 3);
    let starts: Vec<i64> = reqs
        .iter()
        .map(|r| r.query["startTime"].parse().unwrap())
        .collect();
    assert_eq!(starts, vec![T0, T0 + 1000 * 60_000, T0 + 2000 * 60_000]);
    assert!(
        reqs.iter()
            .all(|r| r.query["limit"] == "1000" && r.query["interval"] == "1m")
    );
    // the weight header was read
    assert_eq!(rest.used_weight(), 6);

    // with an end time, nothing after it
    let some = rest
        .klines(
            sym("BTCUSDT"),
            Interval::M1,
            T0 + 60_000,
            Some(T0 + 10 * 60_000),
            |_| {},
        )
        .await
        .unwrap();
    assert_eq!(some.len(), 10);
}

#[tokio::test]
async fn agg_trades_start_at_the_given_id() {
    let market = Market::new(&["BTCUSDT"], 50, 0);
    let srv = server(&market).await;
    let rest = RestClient::new(&srv.url).unwrap();
    let t = rest
        .agg_trades_from(sym("BTCUSDT"), 41, 1000, |_| {})
        .await
        .unwrap();
    let ids: Vec<u64> = t.iter().map(|(_, t)| t.trade_id).collect();
    assert_eq!(ids, (41..=50).collect::<Vec<_>>());
    assert_eq!(srv.requests("/api/v3/aggTrades")[0].query["fromId"], "41");
}

async fn obeys_retry_after(fault: Fault) {
    let market = Market::new(&["BTCUSDT"], 5, 3);
    market.fault(fault);
    let srv = server(&market).await;
    let rest = RestClient::new(&srv.url).unwrap();
    let seen: Arc<Mutex<Vec<i64>>> = Arc::default();
    let seen2 = seen.clone();
    let before = now_ms();
    let candles = rest
        .klines(sym("BTCUSDT"), Interval::M1, T0, None, move |until| {
            seen2.lock().unwrap().push(until)
        })
        .await
        .unwrap();
    assert_eq!(candles.len(), 3);
    let reqs = srv.requests("/api/v3/klines");
    assert_eq!(reqs.len(), 2, "one refused, one retried");
    let waited = reqs[1].at - reqs[0].at;
    assert!(
        waited >= Duration::from_millis(990),
        "retried after only {waited:?}"
    );
    assert!(waited < Duration::from_secs(10), "waited {waited:?}");
    let until = seen
        .lock()
        .unwrap()
        .first()
        .copied()
        .expect("rate limit reported");
    assert!(
        until >= before + 1_000 && until <= now_ms() + 1_000,
        "until {until}"
    );
}

#[tokio::test]
async fn http_429_retry_after_is_waited_out_exactly() {
    obeys_retry_after(Fault::TooMany { retry_after_s: 1 }).await;
}

#[tokio::test]
async fn http_418_retry_after_is_waited_out_exactly() {
    obeys_retry_after(Fault::Banned { retry_after_s: 1 }).await;
}

#[tokio::test]
async fn invalid_symbol_names_the_symbol() {
    let market = Market::new(&["BTCUSDT"], 5, 3);
    let srv = server(&market).await;
    let rest = RestClient::new(&srv.url).unwrap();
    let err = rest
        .klines(sym("FOOUSDT"), Interval::M1, T0, None, |_| {})
        .await
        .unwrap_err();
    assert!(matches!(err, RestError::InvalidSymbol { symbol } if symbol == sym("FOOUSDT")));
    assert_eq!(
        err.to_string(),
        "invalid symbol FOOUSDT (Binance -1121): remove it from [binance].symbols"
    );
    // the other symbol keeps working with the same client
    assert_eq!(
        rest.klines(sym("BTCUSDT"), Interval::M1, T0, None, |_| {})
            .await
            .unwrap()
            .len(),
        3
    );
}

#[tokio::test]
async fn slow_answers_are_waited_for_up_to_the_timeout() {
    let market = Market::new(&["BTCUSDT"], 5, 3);
    market.fault(Fault::Slow(Duration::from_millis(300)));
    market.fault(Fault::Slow(Duration::from_secs(3)));
    let srv = server(&market).await;
    let rest = RestClient::with_timeout(&srv.url, Duration::from_secs(1)).unwrap();
    assert_eq!(
        rest.klines(sym("BTCUSDT"), Interval::M1, T0, None, |_| {})
            .await
            .unwrap()
            .len(),
        3
    );
    let err = rest
        .klines(sym("BTCUSDT"), Interval::M1, T0, None, |_| {})
        .await
        .unwrap_err();
    assert!(err.to_string().contains("timed out"), "{err}");
    assert!(err.is_retryable());
}

#[tokio::test]
async fn closed_port_is_connection_refused() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let rest = RestClient::new(&format!("http://127.0.0.1:{port}")).unwrap();
    let err = rest
        .agg_trades_from(sym("BTCUSDT"), 1, 10, |_| {})
        .await
        .unwrap_err();
    assert!(err.to_string().contains("connection refused"), "{err}");
}

#[tokio::test]
async fn backfill_command_emits_closed_candles_into_the_sink() {
    let market = Market::new(&["BTCUSDT"], 0, 1_200);
    let srv = server(&market).await;
    let cfg = BinanceConfig {
        rest_url: srv.url.clone(),
        ..BinanceConfig::default()
    };
    let (tx, rx) = ring(64);
    let sink = EventSink::new(
        "binance",
        tx,
        Overflow::Block,
        Arc::new(PipelineStats::default()),
        HealthBoard::default(),
    );
    let n = backfill(&cfg, sym("BTCUSDT"), Interval::M1, T0, None, &sink, |_| {})
        .await
        .unwrap();
    assert_eq!(n, 1_200);
    let mut got = 0;
    while let Ok(Ingest::Events(evs)) = rx.try_recv() {
        for e in evs {
            assert!(matches!(
                e.kind,
                EventKind::Candle {
                    interval: Interval::M1,
                    closed: true,
                    ..
                }
            ));
            got += 1;
        }
    }
    assert_eq!(got, 1_200);
    let bad = backfill(&cfg, sym("FOOUSDT"), Interval::M1, T0, None, &sink, |_| {})
        .await
        .unwrap_err();
    assert!(
        format!("{bad:#}").contains("invalid symbol FOOUSDT"),
        "{bad:#}"
    );
}
