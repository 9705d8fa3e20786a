//! Yahoo Finance (no API key; an unofficial API that changes without notice): stocks, ETFs,
//! indices, FX, futures and crypto. The venue-specific half; the session loop is the shared
//! live-feed engine's ([`crate::sources::live`]).
//!
//! - [`wire`]: the streamer's frames ([`parse_frame`](wire::parse_frame)), base64 protobuf
//! - [`proto`]: `PricingData`, hand-written to match the yfinance .proto
//! - [`chart`]: v8 chart candles with their session (pre, regular, post, closed) and `meta`
//! - [`quote`]: v7 quotes, the first prices before the stream sends any
//! - [`crumb`]: the cookie and crumb handshake and Yahoo's refusals (401, 429, consent)
//! - [`client`]: the REST requests in Yahoo's session (cookies, crumb, renewal on a 401)
//! - [`config`]: `[yahoo]` in config.toml
//! - `ws`: the streamer on the engine, and the candle polls
//!
//! Yahoo has no trades and no trade ids: nothing here is gap-trackable. Candles come from the
//! chart API, polled every `candle_poll_secs`, and after a reconnect from the newest one on.

pub mod chart;
pub mod client;
pub mod config;
pub mod crumb;
pub mod proto;
pub mod quote;
pub mod wire;
mod ws;

#[cfg(test)]
mod wire_tests;

pub use config::YahooConfig;
pub use wire::{Frame, MarketHours, WireError, parse_frame};

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context;

use crate::domain::{Symbol, Venue};
use crate::sources::live::control::Check;
use crate::sources::live::rest::Rest;
use crate::sources::live::source::{LiveSource, OneConnection};

/// REST requests a second we send at most: Yahoo names no limit, and answers bursts with 429.
const REST_PER_SEC: usize = 2;

/// The live Yahoo Finance source.
#[derive(Debug)]
pub struct YahooSource;

impl YahooSource {
    /// Checks the configuration; nothing connects until the source runs. A symbol added while
    /// running is checked with the chart API first (Yahoo's streamer accepts any text).
    #[allow(clippy::new_ret_no_self)]
    pub fn new(cfg: YahooConfig) -> anyhow::Result<LiveSource> {
        cfg.validate().map_err(anyhow::Error::msg)?;
        let symbols = cfg.parsed_symbols().map_err(anyhow::Error::msg)?;
        let timeout = Duration::from_secs(cfg.rest_timeout_secs);
        // redirects are read, not followed: the cookie page's Set-Cookie comes with one, and a
        // consent redirect is named instead of walked into
        let http =
            crate::sources::net::http::http_client_with(timeout, reqwest::redirect::Policy::none())
                .context("setting up the Yahoo HTTP client")?;
        let rest = Rest::with_client("Yahoo", &cfg.rest_url, REST_PER_SEC, timeout, http)
            .context("setting up the Yahoo REST client")?;
        let client = client::Client::new(rest.clone(), &cfg.cookie_url);
        let checker = client.clone();
        let state = ws::State {
            client,
            hours: Mutex::new(Default::default()),
            cfg,
        };
        let one = OneConnection {
            name: "yahoo",
            title: "Yahoo",
            venue: Venue::Yahoo,
            unit: "symbols",
            key: "[yahoo].symbols",
            warm_candles: state.cfg.backfill_candles,
            cfg: state,
            rest,
            symbols,
            refill: false,
            // candle holes after a reconnect are fetched from the newest one on
            klines: true,
            spelling,
            check: Box::new(move |_| rest_check(checker)),
        };
        Ok(one.source(|shared| ws::Feed { shared }))
    }
}

/// Why `p` cannot be a Yahoo symbol, if it cannot.
fn spelling(p: Symbol) -> Option<String> {
    let ok = p
        .as_str()
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'^' | b'=' | b'-' | b'.'));
    (!ok).then(|| format!("{p} is not a Yahoo symbol (e.g. AAPL, ^GSPC, EURUSD=X, ES=F, BTC-USD)"))
}

/// Asks the chart API for the symbol's last day (in the connection's session): Yahoo answers
/// 404 "No data found" for one it does not know.
fn rest_check(client: client::Client) -> Check {
    Arc::new(move |sym| {
        let client = client.clone();
        Box::pin(async move {
            match client
                .chart_1m(&sym, chart::Span::Range("1d"), false, &|_| {})
                .await
            {
                Ok(_) => Ok(()),
                Err(e) if e.unknown_symbol().is_some() => Err(format!(
                    "Yahoo has no data for {sym}; check it on finance.yahoo.com (indices start with ^, FX ends with =X, futures with =F)"
                )),
                Err(e) => Err(format!("could not check {sym} with Yahoo ({e}); try again")),
            }
        })
    })
}
