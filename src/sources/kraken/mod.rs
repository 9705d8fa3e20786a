//! Kraken Spot (no API key): the venue-specific half of the Kraken source. Trades, 1m candles
//! and tickers over WebSocket v2 (`wss://ws.kraken.com/v2`, channels `trade`, `ohlc` and
//! `ticker`), REST `/0/public/Trades` for refill and `/0/public/OHLC` for warm-up. The session
//! loop, keepalive, reconnects and gap tracking are the shared live-feed engine's
//! ([`crate::sources::live`]); this folder only knows Kraken's words.
//!
//! With `depth = true` also the `book` channel (local order books) and the `instrument` channel
//! (each pair's precisions, which the book checksum needs).
//!
//! - [`wire`]: [`parse_frame`](wire::parse_frame) and the subscribe/unsubscribe/ping messages
//! - [`instruments`]: the pairs' precisions from the `instrument` channel
//! - [`rest`]: URL builders and pure parsers for the REST answers
//! - [`KrakenConfig`]: `[kraken]` in config.toml
//!
//! Trade ids: v2 `trade_id` is an integer, "a sequence number, unique per book", so
//! consecutive per pair and a hole is visible. REST cannot be asked *by id*, only by time
//! (`since`, nanoseconds); its rows carry the same id, so a hole is refilled exactly by asking
//! from the time of the last trade before it and keeping the ids inside the hole.

mod books;
mod config;
pub mod instruments;
pub mod rest;
pub mod wire;
mod ws;

#[cfg(test)]
mod wire_tests;

pub use config::KrakenConfig;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use crate::domain::{Symbol, Venue, now_ms};
use crate::sources::live::control::Check;
use crate::sources::live::rest::Rest;
use crate::sources::live::source::{LiveSource, OneConnection};

/// The live Kraken source.
#[derive(Debug)]
pub struct KrakenSource;

impl KrakenSource {
    /// Checks the configuration; nothing connects until the source runs. A pair added while
    /// running is checked with REST first, then subscribed on every channel; the answer comes
    /// with Kraken's acknowledgements.
    #[allow(clippy::new_ret_no_self)]
    pub fn new(cfg: KrakenConfig) -> anyhow::Result<LiveSource> {
        cfg.validate().map_err(anyhow::Error::msg)?;
        let symbols = cfg.parsed_symbols().map_err(anyhow::Error::msg)?;
        let rest = Rest::new(
            "Kraken",
            &cfg.rest_url,
            REST_CALLS_PER_SEC as usize,
            Duration::from_secs(cfg.rest_timeout_secs),
        )
        .context("setting up the Kraken REST client")?;
        let one = OneConnection {
            name: "kraken",
            title: "Kraken",
            venue: Venue::Kraken,
            unit: "pairs",
            key: "[kraken].symbols",
            warm_candles: cfg.backfill_candles,
            cfg,
            rest,
            symbols,
            refill: true,
            klines: false,
            spelling,
            check: Box::new(rest_check),
        };
        Ok(one.source(ws::Feed::new))
    }
}

/// Why `p` cannot be a Kraken v2 pair, if it cannot.
fn spelling(p: Symbol) -> Option<String> {
    let ok = p
        .as_str()
        .split_once('/')
        .is_some_and(|(b, q)| !b.is_empty() && !q.is_empty() && !q.contains('/'));
    (!ok).then(|| format!("{p} is not a Kraken pair (base and quote joined by '/', e.g. BTC/USD)"))
}

/// Asks REST for the pair's newest trades: Kraken answers `Unknown asset pair` for a pair it
/// does not list.
fn rest_check(rest: Rest) -> Check {
    Arc::new(move |pair| {
        let rest = rest.clone();
        Box::pin(async move {
            let url = rest::trades_url("", pair, Some(&rest::since_ns(now_ms())));
            let body = rest
                .get(&url, &|_| {})
                .await
                .map_err(|e| format!("could not check {pair} with Kraken ({e}); try again"))?;
            match rest::parse_trades(&body, pair) {
                Ok(_) => Ok(()),
                Err(rest::RestError::UnknownSymbol { .. }) => {
                    Err(format!("{pair} is not a Kraken pair"))
                }
                Err(e) => Err(format!(
                    "could not check {pair} with Kraken ({e}); try again"
                )),
            }
        })
    })
}

// Kraken's documented (and undocumented) limits. Sources: docs.kraken.com/api/docs/websocket-v2/
// (trade, ohlc, heartbeat, ping pages) and docs.kraken.com/api/docs/guides/spot-ratelimits.

/// The channels tickwatch subscribes to, one subscribe message each (v2 takes one channel per
/// request). Every symbol gets one acknowledgement per channel.
pub const CHANNELS: [&str; 3] = ["trade", "ohlc", "ticker"];

/// The order book channel (`depth = true`): a snapshot on subscribe, then updates, each with a
/// CRC32 of the top ten levels computed from the pair's precisions.
pub const BOOK_CHANNEL: &str = "book";
/// The depths the `book` channel can be subscribed at (levels a side).
pub const BOOK_DEPTHS: [usize; 5] = [10, 25, 100, 500, 1000];
/// The channel that lists every pair with its `price_precision` and `qty_precision`, which the
/// book checksum is computed with (subscribed once per connection when `depth` is on).
pub const INSTRUMENT_CHANNEL: &str = "instrument";

/// The `book` depth to subscribe for `levels` published levels: the smallest Kraken offers
/// that holds them.
pub fn book_depth(levels: usize) -> usize {
    BOOK_DEPTHS
        .into_iter()
        .find(|d| *d >= levels)
        .unwrap_or(BOOK_DEPTHS[BOOK_DEPTHS.len() - 1])
}

/// Kraken publishes no fixed rate for control messages: the limit is dynamic and the server
/// answers `Exceeded msg rate` when it is passed. This pace is ours, well below what others
/// observe (about 1 a second sustained on the public side).
pub const CONTROL_MESSAGES_PER_SEC: u32 = 1;

/// Kraken documents no cap on symbols per subscribe message; we keep a message to this many so
/// that one refusal names a small batch.
pub const MAX_SYMBOLS_PER_MESSAGE: usize = 50;

/// Kraken sends `{"channel":"heartbeat"}` about once a second on a connection with at least one
/// subscription and no other traffic, so this much silence means the connection is dead.
pub const STALE_AFTER: Duration = Duration::from_secs(10);

/// An application `{"method":"ping"}` is optional (heartbeats already prove the connection);
/// send one after this much silence to tell a quiet server from a dead one.
pub const PING_AFTER: Duration = Duration::from_secs(5);

// Kraken documents no connection lifetime for WebSocket v2 (unlike Binance's 24 h); connections
// end only on maintenance or network trouble, which reconnects handle.

/// Public REST endpoints are throttled per IP without a published number (about one call a
/// second sustained); 429 or `EGeneral:Too many requests` means wait.
pub const REST_CALLS_PER_SEC: u32 = 1;

/// Rows per `/0/public/Trades` answer (Kraken's maximum for `count`).
pub const TRADES_PER_PAGE: usize = 1000;

/// `/0/public/OHLC` returns at most the last 720 candles of an interval, whatever `since` says.
pub const MAX_OHLC_ROWS: usize = 720;
