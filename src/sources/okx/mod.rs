//! OKX v5 public market data (no API key): the venue-specific half of the OKX source. Trades and
//! tickers over `wss://ws.okx.com:8443/ws/v5/public`, REST `/api/v5/market/history-trades` for
//! refill and `/api/v5/market/candles` for warm-up. 1m candles are built from the trades (every
//! id is refilled, so they are exact); OKX's own `candle1m` channel is served only on its
//! business endpoint (`/ws/v5/business`, since 2023-06-20), which tickwatch does not open. The
//! session loop, keepalive, reconnects and gap tracking are the shared live-feed engine's
//! ([`crate::sources::live`]); this folder only knows OKX's words.
//!
//! - [`wire`]: [`parse_frame`](wire::parse_frame) and the subscribe/unsubscribe messages
//! - [`rest`]: URL builders and pure parsers for the REST answers
//! - [`OkxConfig`]: `[okx]` in config.toml
//!
//! Trade ids: `tradeId` is a numeric string, consecutive per instrument in the 2022 capture,
//! and REST pages by it (`type=1`, `after`/`before`), so a hole is refilled exactly by id.
//! OKX documents that the `trades` channel may aggregate the fills of one taker order at one
//! price into one push (a `count` field); such a push stands for several ids, which the gap
//! tracker then sees as a hole that REST fills. `trades-all` (business endpoint) pushes
//! every fill.

mod config;
pub mod rest;
pub mod wire;
mod ws;

#[cfg(test)]
mod wire_tests;

pub use config::OkxConfig;

use std::sync::Arc;

use anyhow::Context;

use crate::domain::{Symbol, Venue};
use crate::sources::live::control::Check;
use crate::sources::live::rest::Rest;
use crate::sources::live::source::{LiveSource, OneConnection};

/// Public REST requests a second we send at most (OKX allows 20 per 2 s for these endpoints).
const REST_PER_SEC: usize = 8;

/// The live OKX source.
#[derive(Debug)]
pub struct OkxSource;

impl OkxSource {
    /// Checks the configuration; nothing connects until the source runs. An instrument added
    /// while running is checked with REST first, then subscribed; the answer comes with OKX's.
    #[allow(clippy::new_ret_no_self)]
    pub fn new(cfg: OkxConfig) -> anyhow::Result<LiveSource> {
        cfg.validate().map_err(anyhow::Error::msg)?;
        let symbols = cfg.parsed_symbols().map_err(anyhow::Error::msg)?;
        let rest = Rest::new(
            "OKX",
            &cfg.rest_url,
            REST_PER_SEC,
            Duration::from_secs(cfg.rest_timeout_secs),
        )
        .context("setting up the OKX REST client")?;
        let one = OneConnection {
            name: "okx",
            title: "OKX",
            venue: Venue::Okx,
            unit: "instruments",
            key: "[okx].symbols",
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

/// Why `p` cannot be an OKX spot instrument id, if it cannot.
fn spelling(p: Symbol) -> Option<String> {
    let parts: Vec<&str> = p.as_str().split('-').collect();
    let ok = parts.len() == 2 && parts.iter().all(|x| !x.is_empty());
    (!ok).then(|| {
        format!("{p} is not an OKX spot instrument (base and quote joined by '-', e.g. BTC-USDT)")
    })
}

/// Asks REST for the instrument's newest trades: OKX answers 51001 for one it does not list.
fn rest_check(rest: Rest) -> Check {
    Arc::new(move |inst| {
        let rest = rest.clone();
        Box::pin(async move {
            let url = rest::trades_url("", inst, rest::TradeCursor::Latest);
            let body = rest
                .get(&url, &|_| {})
                .await
                .map_err(|e| format!("could not check {inst} with OKX ({e}); try again"))?;
            match rest::parse_trades(&body, inst) {
                Ok(_) => Ok(()),
                Err(rest::RestError::UnknownSymbol { .. }) => {
                    Err(format!("{inst} is not an OKX spot instrument"))
                }
                Err(e) => Err(format!("could not check {inst} with OKX ({e}); try again")),
            }
        })
    })
}

use std::time::Duration;

// OKX's documented limits: www.okx.com/docs-v5/en/#overview-websocket (connect, subscribe,
// keepalive) and #order-book-trading-market-data (REST rate limits per endpoint).

/// Channels subscribed on the public endpoint; every instrument gets one answer per channel.
pub const PUBLIC_CHANNELS: [&str; 2] = ["trades", "tickers"];

/// The order book channel (`depth = true`): 400 levels, a snapshot on subscribe, then
/// updates each with a CRC32 of the top 25 levels and a seqId chain.
pub const BOOK_CHANNEL: &str = "books";
/// Levels of each side the `books` channel keeps.
pub const BOOK_LEVELS: usize = 400;

/// The candle channel, on the business endpoint (`/ws/v5/business`).
pub const CANDLE_CHANNEL: &str = "candle1m";

/// "The total length of multiple channels cannot exceed 64 KB" per subscribe request (4096
/// bytes in older docs). We keep to the older, stricter figure: about 90 instruments a message.
pub const MAX_SUBSCRIBE_BYTES: usize = 4096;

// `subscribe`/`unsubscribe`/`login` requests: 480 per hour per connection.

// New connections: 3 per second per IP.

/// OKX drops a connection that has received nothing for 30 s. Send the text `ping` after this
/// much silence (OKX asks for N < 30) and expect the text `pong` within the same time.
pub const PING_AFTER: Duration = Duration::from_secs(20);

// No answer to our `ping` within this long: the connection is dead, reconnect.

// OKX documents no fixed connection lifetime; it announces service upgrades with a `notice`
// event (code 64008) before closing, which the `Notice` frame reports.

/// `history-trades`: at most 100 rows a request, 20 requests per 2 s per IP.
pub const TRADES_PER_PAGE: usize = 100;

/// `candles`: at most 300 rows a request, 40 requests per 2 s per IP; only the most recent
/// 1,440 rows are served (older ones are at `history-candles`).
pub const CANDLES_PER_PAGE: usize = 300;
pub const MAX_RECENT_CANDLES: usize = 1440;
