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

use anyhow::Context;

pub use config::{CoinbaseConfig, MAX_BACKFILL_CANDLES};
pub use rest::{RestClient, RestError};

use self::ws::Shared;
use crate::domain::Venue;
use crate::sources::live::source::{LiveSource, LiveStats};

/// The live Coinbase Exchange source.
#[derive(Debug)]
pub struct CoinbaseSource;

impl CoinbaseSource {
    /// Checks the configuration; nothing connects until the source runs. Subscribe while
    /// running: the product is checked with REST (`/products/{id}`), then subscribed for the
    /// same channels as at connect; the answer comes with the `subscriptions` message that
    /// lists it.
    #[allow(clippy::new_ret_no_self)]
    pub fn new(cfg: CoinbaseConfig) -> anyhow::Result<LiveSource> {
        cfg.validate().map_err(anyhow::Error::msg)?;
        let products = cfg.parsed_symbols().map_err(anyhow::Error::msg)?;
        let rest = RestClient::from_config(&cfg).context("setting up the Coinbase REST client")?;
        let n = products.len();
        let start = Box::new(move |sink: crate::pipeline::EventSink, cmds| {
            let stats = Arc::new(LiveStats::default());
            let shared = Arc::new(Shared {
                cfg,
                rest: rest.clone(),
                sink: sink.clone(),
                stats: stats.clone(),
            });
            let checker = control::checker(cmds, rest, sink.name());
            (stats, ws::run_conn(shared, products, checker))
        });
        Ok(LiveSource::new(
            "coinbase",
            "Coinbase",
            Venue::Coinbase,
            "products",
            "[coinbase].products",
            n,
            start,
        ))
    }
}
