//! Every live venue through the same faults (see `support::venue`): `tickwatch record` against
//! a local server in the venue's format, every trade id stored exactly once across reconnects.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::sync::Arc;

use support::http::Handler;
use support::venue::{BoxFut, FakeVenue, run_faults};
use support::ws::ServerConn;
use support::{binance, bybit, coinbase, kraken, okx};

/// Rounds: every fault twice.
const ROUNDS: u64 = 16;

struct Binance(Arc<binance::Market>);

impl FakeVenue for Binance {
    fn source(&self) -> &'static str {
        "binance"
    }

    fn symbols(&self) -> Vec<String> {
        self.0.symbols.clone()
    }

    fn section(&self, ws_url: &str, rest_url: &str) -> String {
        format!(
            "[binance]\nws_url = \"{ws_url}\"\nrest_url = \"{rest_url}\"\n\
             symbols = [\"BTCUSDT\", \"ETHUSDT\"]\nklines = false\nmini_ticker = false\n\
             book_ticker = false\nbackfill_candles = 0\nstale_after_secs = 2\n\
             backoff_initial_ms = 20\nbackoff_max_ms = 100\n"
        )
    }

    fn trade(&self, symbol: &str, id: u64) -> Vec<String> {
        vec![self.0.agg_trade(symbol, id)]
    }

    fn happened(&self, id: u64) {
        *self.0.last_trade.lock().unwrap() = id;
    }

    fn handshake<'a>(&'a self, c: &'a mut ServerConn) -> BoxFut<'a> {
        Box::pin(async move {
            c.expect_subscribe(self.0.symbols.len()).await;
        })
    }

    fn error_frame(&self) -> String {
        binance::error_frame(999_999)
    }

    fn rate_limit_next(&self, secs: u64) {
        self.0.fault(binance::Fault::TooMany {
            retry_after_s: secs,
        });
    }

    fn handler(&self) -> Handler {
        self.0.handler()
    }
}

struct Coinbase(Arc<coinbase::Market>);

impl FakeVenue for Coinbase {
    fn source(&self) -> &'static str {
        "coinbase"
    }

    fn symbols(&self) -> Vec<String> {
        self.0.products.clone()
    }

    fn section(&self, ws_url: &str, rest_url: &str) -> String {
        format!(
            "[coinbase]\nws_url = \"{ws_url}\"\nrest_url = \"{rest_url}\"\n\
             products = [\"BTC-USD\", \"ETH-USD\"]\nbackfill_candles = 0\n\
             stale_after_secs = 2\nbackoff_initial_ms = 20\nbackoff_max_ms = 100\n"
        )
    }

    fn trade(&self, product: &str, id: u64) -> Vec<String> {
        vec![coinbase::match_frame(product, id)]
    }

    fn happened(&self, id: u64) {
        self.0.happened(id);
    }

    fn handshake<'a>(&'a self, c: &'a mut ServerConn) -> BoxFut<'a> {
        Box::pin(async move {
            coinbase::expect_subscribe(c).await;
        })
    }

    fn error_frame(&self) -> String {
        r#"{"type":"error","message":"Internal hiccup","reason":"try again later"}"#.into()
    }

    fn rate_limit_next(&self, secs: u64) {
        self.0.fault(coinbase::Fault::TooMany {
            retry_after_s: Some(secs),
        });
    }

    fn handler(&self) -> Handler {
        self.0.handler()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binance_keeps_every_trade_once_through_every_fault() {
    let dir = tempfile::tempdir().unwrap();
    let market = binance::Market::new(&["BTCUSDT", "ETHUSDT"], 0, 0);
    *market.trade_t0.lock().unwrap() = tickwatch::domain::now_ms() - 60_000;
    run_faults(Binance(market), ROUNDS, dir.path()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coinbase_keeps_every_trade_once_through_every_fault() {
    let dir = tempfile::tempdir().unwrap();
    let market = coinbase::Market::new(&["BTC-USD", "ETH-USD"], 0);
    run_faults(Coinbase(market), ROUNDS, dir.path()).await;
}

struct Kraken(Arc<kraken::Market>);

impl FakeVenue for Kraken {
    fn source(&self) -> &'static str {
        "kraken"
    }

    fn symbols(&self) -> Vec<String> {
        self.0.pairs.clone()
    }

    fn section(&self, ws_url: &str, rest_url: &str) -> String {
        format!(
            "[kraken]\nws_url = \"{ws_url}\"\nrest_url = \"{rest_url}\"\n\
             symbols = [\"BTC/USD\", \"ETH/USD\"]\nbackfill_candles = 0\n\
             stale_after_secs = 2\nbackoff_initial_ms = 20\nbackoff_max_ms = 100\n"
        )
    }

    fn trade(&self, pair: &str, id: u64) -> Vec<String> {
        vec![self.0.trade(pair, id)]
    }

    fn happened(&self, id: u64) {
        *self.0.last_trade.lock().unwrap() = id;
    }

    fn handshake<'a>(&'a self, c: &'a mut ServerConn) -> BoxFut<'a> {
        Box::pin(async move {
            kraken::expect_subscribe(c).await;
        })
    }

    fn error_frame(&self) -> String {
        r#"{"error":"EGeneral:Internal error","method":"ping","req_id":999999,"success":false}"#
            .into()
    }

    fn rate_limit_next(&self, secs: u64) {
        self.0.faults.lock().unwrap().push_back(secs);
    }

    fn handler(&self) -> Handler {
        self.0.handler()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kraken_keeps_every_trade_once_through_every_fault() {
    let dir = tempfile::tempdir().unwrap();
    let market = kraken::Market::new(&["BTC/USD", "ETH/USD"]);
    run_faults(Kraken(market), ROUNDS, dir.path()).await;
}

struct Okx(Arc<okx::Market>);

impl FakeVenue for Okx {
    fn source(&self) -> &'static str {
        "okx"
    }

    fn symbols(&self) -> Vec<String> {
        self.0.instruments.clone()
    }

    fn section(&self, ws_url: &str, rest_url: &str) -> String {
        format!(
            "[okx]\nws_url = \"{ws_url}\"\nrest_url = \"{rest_url}\"\n\
             symbols = [\"BTC-USDT\", \"ETH-USDT\"]\nbackfill_candles = 0\n\
             stale_after_secs = 2\nbackoff_initial_ms = 20\nbackoff_max_ms = 100\n"
        )
    }

    fn trade(&self, inst: &str, id: u64) -> Vec<String> {
        vec![self.0.trade(inst, id)]
    }

    fn happened(&self, id: u64) {
        *self.0.last_trade.lock().unwrap() = id;
    }

    fn handshake<'a>(&'a self, c: &'a mut ServerConn) -> BoxFut<'a> {
        Box::pin(async move {
            okx::expect_subscribe(c).await;
        })
    }

    fn error_frame(&self) -> String {
        r#"{"event":"error","code":"60012","msg":"Invalid request: {\"op\": \"subscribe\"}"}"#
            .into()
    }

    fn rate_limit_next(&self, secs: u64) {
        self.0.faults.lock().unwrap().push_back(secs);
    }

    fn handler(&self) -> Handler {
        self.0.handler()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn okx_keeps_every_trade_once_through_every_fault() {
    let dir = tempfile::tempdir().unwrap();
    let market = okx::Market::new(&["BTC-USDT", "ETH-USDT"]);
    run_faults(Okx(market), ROUNDS, dir.path()).await;
}

struct Bybit(Arc<bybit::Market>);

impl FakeVenue for Bybit {
    fn source(&self) -> &'static str {
        "bybit"
    }

    fn symbols(&self) -> Vec<String> {
        self.0.symbols.clone()
    }

    fn section(&self, ws_url: &str, rest_url: &str) -> String {
        format!(
            "[bybit]\nws_url = \"{ws_url}\"\nrest_url = \"{rest_url}\"\n\
             symbols = [\"BTCUSDT\", \"ETHUSDT\"]\nbackfill_candles = 0\n\
             stale_after_secs = 2\nbackoff_initial_ms = 20\nbackoff_max_ms = 100\n"
        )
    }

    fn trade(&self, symbol: &str, id: u64) -> Vec<String> {
        vec![self.0.trade(symbol, id)]
    }

    fn happened(&self, id: u64) {
        *self.0.last_trade.lock().unwrap() = id;
    }

    fn handshake<'a>(&'a self, c: &'a mut ServerConn) -> BoxFut<'a> {
        Box::pin(async move {
            bybit::expect_subscribe(c, &self.0.symbols).await;
        })
    }

    fn refills_every_hole(&self) -> bool {
        false
    }

    fn error_frame(&self) -> String {
        r#"{"success":false,"ret_msg":"error:request too frequent","conn_id":"c","req_id":"999999","op":"subscribe"}"#
            .into()
    }

    fn rate_limit_next(&self, secs: u64) {
        self.0.faults.lock().unwrap().push_back(secs);
    }

    fn handler(&self) -> Handler {
        self.0.handler()
    }
}

/// Bybit serves only the newest 60 trades over REST: a hole still within them is refilled, an
/// older one is counted and reported as lost; no id is ever stored twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bybit_keeps_every_recent_trade_once_through_every_fault() {
    let dir = tempfile::tempdir().unwrap();
    let market = bybit::Market::new(&["BTCUSDT", "ETHUSDT"]);
    run_faults(Bybit(market), ROUNDS, dir.path()).await;
}
