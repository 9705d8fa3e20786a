//! Binance spot, the default venue (no API key): trades, 1m candles, 24h statistics and
//! optionally best bid/ask over WebSocket, with REST backfill so neither trades nor candles go
//! missing across reconnects.
//!
//! - [`wire`]: frame structs and [`parse_frame`](wire::parse_frame)
//! - [`ws`]: connections, shards, limits, reconnects and the 24 h rollover
//! - [`rest`]: the REST client (klines, aggTrades, weight and Retry-After)
//! - [`gaps`] and [`backfill`]: what is missing and fetching it

mod backfill;
mod config;
mod gaps;
pub mod rest;
pub mod wire;
mod ws;

#[cfg(test)]
mod wire_tests;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use anyhow::Context;

pub use backfill::backfill;
pub use config::{BinanceConfig, TradeStream};
pub use rest::{RestClient, RestError};

use self::ws::{Shared, run_shard};
use super::{Source, SourceFuture};
use crate::domain::Symbol;
use crate::pipeline::{EventSink, Overflow, SourceState};
use crate::sources::net::status::{EventRate, symbol_list};

/// The live Binance spot source.
#[derive(Debug)]
pub struct BinanceSource {
    cfg: BinanceConfig,
    symbols: Vec<Symbol>,
    rest: RestClient,
}

impl BinanceSource {
    /// Checks the configuration; nothing connects until [`Source::run`].
    pub fn new(cfg: BinanceConfig) -> anyhow::Result<Self> {
        cfg.validate().map_err(anyhow::Error::msg)?;
        let symbols = cfg.parsed_symbols().map_err(anyhow::Error::msg)?;
        let rest = RestClient::new(&cfg.rest_url).context("setting up the Binance REST client")?;
        Ok(BinanceSource { cfg, symbols, rest })
    }
}

impl Source for BinanceSource {
    fn name(&self) -> String {
        "binance".into()
    }

    fn overflow(&self) -> Overflow {
        // A live feed cannot pause the exchange; drops are counted and backfilled.
        Overflow::DropNewest
    }

    fn run(self: Box<Self>, sink: EventSink) -> SourceFuture {
        Box::pin(run(*self, sink))
    }
}

async fn run(src: BinanceSource, sink: EventSink) -> anyhow::Result<()> {
    let per_conn = (src.cfg.max_streams_per_connection / src.cfg.streams_per_symbol()).max(1);
    let shared = Arc::new(Shared {
        cfg: src.cfg,
        rest: src.rest,
        sink: sink.clone(),
        events: AtomicU64::new(0),
        invalid: std::sync::Mutex::new(Vec::new()),
        shards: std::sync::Mutex::new(Vec::new()),
    });
    sink.set_state(SourceState::Connecting);
    let mut shards = tokio::task::JoinSet::new();
    let n_shards = src.symbols.chunks(per_conn).len();
    for (i, chunk) in src.symbols.chunks(per_conn).enumerate() {
        shards.spawn(run_shard(shared.clone(), i, chunk.to_vec()));
    }
    let reporter = tokio::spawn(report(shared.clone(), src.symbols.len(), n_shards));
    let limits = tokio::spawn(load_limits(shared.rest.clone(), src.symbols.clone()));
    let result = loop {
        match shards.join_next().await {
            None => break Ok(()),
            Some(Ok(Ok(()))) => {}
            // the engine has stopped: so do we
            Some(Ok(Err(_gone))) => {
                shards.abort_all();
                reporter.abort();
                limits.abort();
                return Ok(());
            }
            Some(Err(e)) => {
                shards.abort_all();
                break Err(anyhow::anyhow!("a Binance connection task failed: {e}"));
            }
        }
    };
    reporter.abort();
    limits.abort();
    // Every shard ended by itself: every symbol was refused.
    let invalid = invalid_list(&shared);
    let reason = match result {
        Err(e) => e.to_string(),
        Ok(()) => format!(
            "no valid symbols left (Binance does not know {invalid}); fix [binance].symbols"
        ),
    };
    sink.set_state(SourceState::Failed(reason.clone()));
    sink.finish();
    Err(anyhow::anyhow!(reason))
}

fn invalid_list(shared: &Shared) -> String {
    symbol_list(&shared.invalid)
}

/// Reads Binance's request-weight limit (exchangeInfo) so the REST client slows down before
/// the real limit, whatever it is today. On failure the default (6000 a minute) stays.
async fn load_limits(rest: RestClient, symbols: Vec<Symbol>) {
    for symbol in symbols.into_iter().take(3) {
        match rest.load_limits(symbol, |_| {}).await {
            Ok(limit) => {
                tracing::info!(limit, "Binance request weight limit per minute");
                return;
            }
            // that symbol is refused (reported by its own stream); try another
            Err(RestError::InvalidSymbol { .. }) => continue,
            Err(e) => {
                tracing::warn!(
                    "could not read Binance's rate limits ({e}); assuming {} weight a minute",
                    rest.weight_limit()
                );
                return;
            }
        }
    }
}

/// Keeps the status detail current: symbols, connections, events/s, request weight.
async fn report(shared: Arc<Shared>, n_symbols: usize, n_shards: usize) {
    let mut tick = tokio::time::interval(Duration::from_secs(2));
    let mut rate = EventRate::new();
    loop {
        tick.tick().await;
        let rate = rate.per_sec(shared.events.load(Ordering::Relaxed));
        let invalid = invalid_list(&shared);
        let (live, _) = shared.shards_live();
        let conns = if n_shards == 1 {
            "1 connection".to_string()
        } else {
            format!("{n_shards} connections ({live} live)")
        };
        let mut detail = format!(
            "{n_symbols} symbols on {conns}, {rate:.1} events/s, weight {}/{} a min",
            shared.rest.used_weight(),
            shared.rest.weight_limit()
        );
        if !invalid.is_empty() {
            detail.push_str(&format!("; invalid: {invalid}"));
        }
        shared
            .sink
            .health()
            .set_detail(shared.sink.name(), Some(detail));
    }
}
