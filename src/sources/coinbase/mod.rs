//! Coinbase Exchange (no API key): trades, best bid/ask and 24 h statistics over the public
//! WebSocket feed (`wss://ws-feed.exchange.coinbase.com`, channels `matches`, `ticker` and
//! `heartbeat`), with REST backfill so that no trade goes missing across reconnects and charts
//! are warm at start.
//!
//! Only the Exchange feed is supported. The Advanced Trade API
//! (`wss://advanced-trade-ws.coinbase.com`) is a different endpoint with a different protocol
//! (`"channel"` frames with nested `events`); its frames are recognised and reported, never
//! misread.
//!
//! - [`wire`]: frame structs and [`parse_frame`](wire::parse_frame)
//! - `ws`: the connection, subscribe, refused products, reconnects and the watchdog
//! - [`rest`]: the REST client (trades by `after` cursor, candles, 429 and 404)
//! - `fill`: fetching what the shared gap tracker ([`crate::sources::live`]) finds missing
//! - `control`: products added and removed while running ([`SourceCmd`])

mod config;
mod control;
mod fill;
pub mod rest;
pub mod wire;
mod ws;

#[cfg(test)]
mod wire_tests;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::Context;

pub use config::{CoinbaseConfig, MAX_BACKFILL_CANDLES};
pub use rest::{RestClient, RestError};

use self::ws::{Shared, run_conn};
use super::{Source, SourceCmd, SourceFuture};
use crate::domain::{Symbol, Venue};
use crate::pipeline::{EventSink, Overflow, SourceState};
use crate::sources::net::status::{EventRate, symbol_list};

/// The live Coinbase Exchange source.
#[derive(Debug)]
pub struct CoinbaseSource {
    cfg: CoinbaseConfig,
    products: Vec<Symbol>,
    rest: RestClient,
    control_tx: Option<flume::Sender<SourceCmd>>,
    control_rx: flume::Receiver<SourceCmd>,
}

impl CoinbaseSource {
    /// Checks the configuration; nothing connects until [`Source::run`].
    pub fn new(cfg: CoinbaseConfig) -> anyhow::Result<Self> {
        cfg.validate().map_err(anyhow::Error::msg)?;
        let products = cfg.parsed_symbols().map_err(anyhow::Error::msg)?;
        let rest = RestClient::from_config(&cfg).context("setting up the Coinbase REST client")?;
        let (control_tx, control_rx) = flume::unbounded();
        Ok(CoinbaseSource {
            cfg,
            products,
            rest,
            control_tx: Some(control_tx),
            control_rx,
        })
    }
}

impl Source for CoinbaseSource {
    fn name(&self) -> String {
        "coinbase".into()
    }

    fn overflow(&self) -> Overflow {
        // A live feed cannot pause the exchange; drops are counted and backfilled.
        Overflow::DropNewest
    }

    fn run(self: Box<Self>, sink: EventSink) -> SourceFuture {
        Box::pin(run(*self, sink))
    }

    fn venue(&self) -> Option<Venue> {
        Some(Venue::Coinbase)
    }

    /// Subscribe: the product is checked with REST (`/products/{id}`), then subscribed for the
    /// same channels as at connect; the answer comes with the `subscriptions` message that
    /// lists it. While disconnected, the subscribe waits for the reconnect (answered then).
    fn control(&mut self) -> Option<flume::Sender<SourceCmd>> {
        self.control_tx.take()
    }
}

async fn run(src: CoinbaseSource, sink: EventSink) -> anyhow::Result<()> {
    let shared = Arc::new(Shared::new(src.cfg, src.rest, sink.clone()));
    shared
        .n_products
        .store(src.products.len(), Ordering::Relaxed);
    sink.set_state(SourceState::Connecting);
    // nobody took the control channel: no changes will come
    drop(src.control_tx);
    let ctl = control::checker(src.control_rx, shared.rest.clone(), sink.name());
    let reporter = tokio::spawn(report(shared.clone()));
    let result = run_conn(shared.clone(), src.products, ctl).await;
    reporter.abort();
    if result.is_err() {
        // the engine has stopped: so do we
        return Ok(());
    }
    let reason = format!(
        "no valid products left (Coinbase does not know {}); fix [coinbase].products",
        invalid_list(&shared)
    );
    sink.set_state(SourceState::Failed(reason.clone()));
    sink.finish().await;
    Err(anyhow::anyhow!(reason))
}

fn invalid_list(shared: &Shared) -> String {
    symbol_list(&shared.invalid)
}

/// Keeps the status detail current: products, events/s, skipped frames, lost trades, the last
/// error.
async fn report(shared: Arc<Shared>) {
    let mut tick = tokio::time::interval(Duration::from_secs(2));
    let mut rate = EventRate::new();
    loop {
        tick.tick().await;
        let rate = rate.per_sec(shared.events.load(Ordering::Relaxed));
        let invalid = invalid_list(&shared);
        let live = shared.n_products.load(Ordering::Relaxed);
        let mut detail = format!("{live} products, {rate:.1} events/s");
        let skipped = shared.skipped.load(Ordering::Relaxed);
        if skipped > 0 {
            let rejected = shared.rejected.load(Ordering::Relaxed);
            detail.push_str(&format!(
                ", {skipped} frames skipped ({rejected} with bad values)"
            ));
        }
        let missing = shared.missing.load(Ordering::Relaxed);
        if missing > 0 {
            detail.push_str(&format!(", {missing} trades lost"));
        }
        if !invalid.is_empty() {
            detail.push_str(&format!("; invalid: {invalid}"));
        }
        if let Some(e) = shared.last_error.lock().ok().and_then(|e| e.clone()) {
            detail.push_str(&format!("; last error: {e}"));
        }
        shared
            .sink
            .health()
            .set_detail(shared.sink.name(), Some(detail));
    }
}
