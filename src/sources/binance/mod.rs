//! Binance spot, the default venue (no API key): trades, 1m candles, 24h statistics and
//! optionally best bid/ask over WebSocket, with REST backfill so neither trades nor candles go
//! missing across reconnects.
//!
//! - [`wire`]: frame structs and [`parse_frame`](wire::parse_frame)
//! - [`ws`]: connections, shards, limits, reconnects and the 24 h rollover
//! - [`rest`]: the REST client (klines, aggTrades, weight and Retry-After)
//! - [`backfill`]: fetching what the shared gap tracker ([`crate::sources::live`]) finds missing
//! - `control` and `changes`: symbols added and removed while running ([`SourceCmd`])

mod backfill;
mod config;
mod control;
mod depth;
pub mod rest;
pub mod wire;
mod ws;

#[cfg(test)]
mod wire_tests;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::Context;

pub use backfill::backfill;
pub use config::{BinanceConfig, TradeStream};
pub use rest::{RestClient, RestError};

use self::control::Coordinator;
use self::ws::Shared;
use super::{Source, SourceCmd, SourceFuture};
use crate::domain::{Symbol, Venue};
use crate::pipeline::{EventSink, Overflow, SourceState};
use crate::sources::net::status::{EventRate, symbol_list};

/// The live Binance spot source.
#[derive(Debug)]
pub struct BinanceSource {
    cfg: BinanceConfig,
    symbols: Vec<Symbol>,
    rest: RestClient,
    control_tx: Option<flume::Sender<SourceCmd>>,
    control_rx: flume::Receiver<SourceCmd>,
}

impl BinanceSource {
    /// Checks the configuration; nothing connects until [`Source::run`].
    pub fn new(cfg: BinanceConfig) -> anyhow::Result<Self> {
        cfg.validate().map_err(anyhow::Error::msg)?;
        let symbols = cfg.parsed_symbols().map_err(anyhow::Error::msg)?;
        let rest = RestClient::from_config(&cfg).context("setting up the Binance REST client")?;
        let (control_tx, control_rx) = flume::unbounded();
        Ok(BinanceSource {
            cfg,
            symbols,
            rest,
            control_tx: Some(control_tx),
            control_rx,
        })
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

    fn venue(&self) -> Option<Venue> {
        Some(Venue::Binance)
    }

    /// Subscribe: the symbol is checked with REST (exchangeInfo), then its streams are
    /// subscribed on a connection with room; the answer comes with Binance's acknowledgement.
    /// While that connection is down, the subscribe waits for the reconnect (answered then).
    fn control(&mut self) -> Option<flume::Sender<SourceCmd>> {
        self.control_tx.take()
    }
}

async fn run(src: BinanceSource, sink: EventSink) -> anyhow::Result<()> {
    let per_conn = (src.cfg.max_streams_per_connection / src.cfg.streams_per_symbol()).max(1);
    let depth = match (src.cfg.depth, sink.books()) {
        (true, Some(board)) => Some(depth::spawn(
            src.rest.clone(),
            crate::sources::books::BookOut::new(board.clone(), sink.clone(), src.cfg.depth_levels),
            Duration::from_secs(src.cfg.stale_after_secs),
        )),
        _ => None,
    };
    let shared = Arc::new(Shared {
        cfg: src.cfg,
        rest: src.rest,
        sink: sink.clone(),
        events: AtomicU64::new(0),
        invalid: std::sync::Mutex::new(Vec::new()),
        shards: std::sync::Mutex::new(Vec::new()),
        next_id: AtomicU64::new(0),
        n_symbols: AtomicUsize::new(0),
        depth,
    });
    // nobody took the control channel: no changes will come
    drop(src.control_tx);
    let control = src.control_rx;
    sink.set_state(SourceState::Connecting);
    let mut co = Coordinator::new(shared.clone(), per_conn);
    for chunk in src.symbols.chunks(per_conn) {
        co.spawn_shard(chunk.to_vec());
    }
    let reporter = tokio::spawn(report(shared.clone()));
    let limits = tokio::spawn(load_limits(shared.rest.clone(), src.symbols.clone()));
    let mut control_open = true;
    let failure = loop {
        tokio::select! {
            cmd = control.recv_async(), if control_open => match cmd {
                Ok(cmd) => co.on_command(cmd),
                Err(_) => control_open = false,
            },
            Some(checked) = co.checked_rx.recv() => co.on_checked(checked),
            Some(note) = co.notes_rx.recv() => co.on_note(note),
            joined = co.tasks.join_next(), if !co.tasks.is_empty() => match joined {
                // a shard ends by itself only once the source stops sending it commands
                None | Some(Ok(Ok(()))) => {}
                // the engine has stopped: so do we
                Some(Ok(Err(_gone))) => {
                    co.tasks.abort_all();
                    reporter.abort();
                    limits.abort();
                    return Ok(());
                }
                Some(Err(e)) => break format!("a Binance connection task failed: {e}"),
            },
        }
        if co.nothing_left() {
            break format!(
                "no valid symbols left (Binance does not know {}); fix [binance].symbols",
                invalid_list(&shared)
            );
        }
    };
    co.tasks.abort_all();
    reporter.abort();
    limits.abort();
    sink.set_state(SourceState::Failed(failure.clone()));
    sink.finish().await;
    Err(anyhow::anyhow!(failure))
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
async fn report(shared: Arc<Shared>) {
    let mut tick = tokio::time::interval(Duration::from_secs(2));
    let mut rate = EventRate::new();
    loop {
        tick.tick().await;
        let rate = rate.per_sec(shared.events.load(Ordering::Relaxed));
        let invalid = invalid_list(&shared);
        let n_symbols = shared.n_symbols.load(Ordering::Relaxed);
        let (live, n_shards) = shared.shards_live();
        let conns = match n_shards {
            0 => "no connection".to_string(),
            1 => "1 connection".to_string(),
            n => format!("{n} connections ({live} live)"),
        };
        let mut detail = format!(
            "{n_symbols} symbols on {conns}, {rate:.1} events/s, weight {}/{} a min",
            shared.rest.used_weight(),
            shared.rest.weight_limit()
        );
        if !invalid.is_empty() {
            detail.push_str(&format!("; invalid: {invalid}"));
        }
        if let Some(d) = &shared.depth {
            let dropped = d.dropped.load(Ordering::Relaxed);
            if dropped > 0 {
                detail.push_str(&format!(
                    "; {dropped} depth frames dropped (the book task fell behind; each book resynced)"
                ));
            }
        }
        shared
            .sink
            .health()
            .set_detail(shared.sink.name(), Some(detail));
    }
}
