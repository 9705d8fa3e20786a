//! Bybit v5 public spot (no API key): the venue-specific half of the source. The session loop,
//! reconnects and gap tracking are the shared live-feed engine's ([`crate::sources::live`]).
//!
//! - [`wire`]: [`parse_frame`](wire::parse_frame), subscribe requests and Bybit's limits
//! - [`rest`]: `recent-trade` and `kline` URLs and parsers, and what a refill can recover
//! - [`config`]: `[bybit]` in config.toml
//!
//! Trade ids: spot ids are decimal strings that go up by one per trade and symbol, so holes
//! are found by id; they cannot be fetched by id (see [`rest`]), so holes are counted as
//! missing unless the newest trades still cover them.

pub mod config;
pub mod rest;
pub mod wire;
mod ws;

#[cfg(test)]
mod wire_tests;

pub use config::BybitConfig;
pub use rest::RestError;
pub use wire::{Frame, WireError, parse_frame};

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use crate::domain::{Symbol, Venue};
use crate::sources::live::control::Check;
use crate::sources::live::rest::Rest;
use crate::sources::live::source::{LiveSource, OneConnection};

/// Public REST requests a second we send at most (Bybit allows 600 per 5 s per IP and bans
/// for 10 minutes beyond).
const REST_PER_SEC: usize = 10;

/// The live Bybit spot source.
#[derive(Debug)]
pub struct BybitSource;

impl BybitSource {
    /// Checks the configuration; nothing connects until the source runs. A symbol added while
    /// running is checked with REST first, then subscribed; the answer comes with Bybit's.
    #[allow(clippy::new_ret_no_self)]
    pub fn new(cfg: BybitConfig) -> anyhow::Result<LiveSource> {
        cfg.validate().map_err(anyhow::Error::msg)?;
        let symbols = cfg.parsed_symbols().map_err(anyhow::Error::msg)?;
        let rest = Rest::new(
            "Bybit",
            &cfg.rest_url,
            REST_PER_SEC,
            Duration::from_secs(cfg.rest_timeout_secs),
        )
        .context("setting up the Bybit REST client")?;
        let one = OneConnection {
            name: "bybit",
            title: "Bybit",
            venue: Venue::Bybit,
            unit: "symbols",
            key: "[bybit].symbols",
            warm_candles: cfg.backfill_candles,
            cfg,
            rest,
            symbols,
            refill: true,
            klines: true,
            spelling,
            check: Box::new(rest_check),
        };
        Ok(one.source(ws::Feed::new))
    }
}

/// Why `p` cannot be a Bybit spot symbol, if it cannot.
fn spelling(p: Symbol) -> Option<String> {
    let ok = p.as_str().bytes().all(|b| b.is_ascii_alphanumeric());
    (!ok).then(|| format!("{p} is not a Bybit spot symbol (letters and digits, e.g. BTCUSDT)"))
}

/// Asks REST for the symbol's newest trade: Bybit answers 10001 for one it does not list.
fn rest_check(rest: Rest) -> Check {
    Arc::new(move |sym| {
        let rest = rest.clone();
        Box::pin(async move {
            let url = rest::recent_trade_url("", &sym, 1);
            let body = rest
                .get(&url, &|_| {})
                .await
                .map_err(|e| format!("could not check {sym} with Bybit ({e}); try again"))?;
            match rest::parse_recent_trades(&String::from_utf8_lossy(&body), &sym) {
                Ok(_) => Ok(()),
                Err(RestError::UnknownSymbol { .. }) => {
                    Err(format!("{sym} is not a Bybit spot symbol"))
                }
                Err(e) => Err(format!("could not check {sym} with Bybit ({e}); try again")),
            }
        })
    })
}
