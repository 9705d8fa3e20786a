//! Alpha Vantage US stock quotes and intraday candles, polled over HTTP within the key's small
//! budget (free keys: 25 requests a day, 5 a minute).
//!
//! - [`config`]: `[alphavantage]`, the key (ALPHAVANTAGE_API_KEY wins over the file)
//! - [`wire`]: GLOBAL_QUOTE, TIME_SERIES_INTRADAY and the notices sent in their place
//! - [`eastern`]: US/Eastern ↔ UTC (bar times, the quota day)
//! - [`schedule`]: which request next and when, within the budget
//! - [`client`]: the HTTP requests; the key is kept out of every error text
//! - `poll`: the loop, the waits, the status line
//!
//! GLOBAL_QUOTE becomes a `Stats24h` event (last = price, open = previous close, so the
//! watchlist's change is the day's change); TIME_SERIES_INTRADAY becomes candles of the
//! configured interval, each closed bar once, the newest as in progress.

pub mod client;
pub mod config;
pub mod eastern;
mod poll;
pub mod schedule;
pub mod wire;

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

pub use client::{Client, Failure};
pub use config::{API_KEY_ENV, AlphaVantageConfig, ApiKey, MISSING_KEY, Mode};
pub use poll::{CandleCursor, Clock};
pub use schedule::{Limits, next_request_at};

use self::poll::Poller;
use self::schedule::Rotation;
use super::{Source, SourceCmd, SourceFuture};
use crate::domain::{Interval, Symbol, Venue, now_ms};
use crate::pipeline::{EventSink, Overflow};
use crate::sources::net::Backoff;

/// The Alpha Vantage source.
pub struct AlphaVantageSource {
    cfg: AlphaVantageConfig,
    symbols: Vec<Symbol>,
    interval: Interval,
    client: Client,
    clock: Clock,
    recheck: Duration,
    control_tx: Option<flume::Sender<SourceCmd>>,
    control_rx: flume::Receiver<SourceCmd>,
}

impl std::fmt::Debug for AlphaVantageSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlphaVantageSource")
            .field("cfg", &self.cfg)
            .field("symbols", &self.symbols)
            .finish_non_exhaustive()
    }
}

impl AlphaVantageSource {
    /// Checks the configuration and finds the key (ALPHAVANTAGE_API_KEY, else
    /// `[alphavantage].api_key`); nothing is requested until [`Source::run`].
    pub fn new(cfg: AlphaVantageConfig) -> anyhow::Result<Self> {
        Self::with_env_key(cfg, std::env::var(API_KEY_ENV).ok())
    }

    /// [`new`](Self::new) with the environment variable's value given (tests, and callers that
    /// read the environment themselves).
    pub fn with_env_key(cfg: AlphaVantageConfig, env_key: Option<String>) -> anyhow::Result<Self> {
        cfg.validate().map_err(anyhow::Error::msg)?;
        let key = cfg.resolve_key(env_key).map_err(anyhow::Error::msg)?;
        let symbols = cfg.parsed_symbols().map_err(anyhow::Error::msg)?;
        let interval = cfg.candle_interval().map_err(anyhow::Error::msg)?;
        let client = Client::new(
            &cfg.base_url,
            key,
            cfg.interval_name(),
            Duration::from_millis(cfg.request_timeout_ms),
        )
        .context("setting up the Alpha Vantage client")?;
        let (control_tx, control_rx) = flume::unbounded();
        Ok(AlphaVantageSource {
            cfg,
            symbols,
            interval,
            client,
            clock: Arc::new(now_ms),
            recheck: Duration::from_secs(60),
            control_tx: Some(control_tx),
            control_rx,
        })
    }

    /// Uses `clock` for the wall time; long waits re-read it every `recheck`. For tests that
    /// jump to the next minute or the next quota day.
    pub fn with_clock(mut self, clock: Clock, recheck: Duration) -> Self {
        self.clock = clock;
        self.recheck = recheck.max(Duration::from_millis(1));
        self
    }

    pub fn symbols(&self) -> &[Symbol] {
        &self.symbols
    }
}

impl Source for AlphaVantageSource {
    fn name(&self) -> String {
        "alphavantage".into()
    }

    fn overflow(&self) -> Overflow {
        // A few events an hour, and an answer once taken is not asked for again (the budget is
        // too small): wait for room rather than lose it.
        Overflow::Block
    }

    fn venue(&self) -> Option<Venue> {
        Some(Venue::AlphaVantage)
    }

    /// Subscribe adds the symbol to the poll rotation (its first poll is the next request and
    /// validates it, as at start); unsubscribe takes it out. Both are answered at once.
    fn control(&mut self) -> Option<flume::Sender<SourceCmd>> {
        self.control_tx.take()
    }

    fn run(self: Box<Self>, sink: EventSink) -> SourceFuture {
        let src = *self;
        // nobody took the control channel: no changes will come
        let cmds = src.control_tx.is_none().then_some(src.control_rx);
        let poller = Poller {
            rotation: Rotation::new(&src.symbols, src.cfg.mode, src.cfg.candles_every),
            limits: Limits {
                per_day: src.cfg.requests_per_day,
                per_minute: src.cfg.requests_per_minute,
            },
            backoff: Backoff::new(
                Duration::from_millis(src.cfg.backoff_initial_ms),
                Duration::from_millis(src.cfg.backoff_max_ms),
            ),
            client: src.client,
            sink,
            clock: src.clock,
            recheck: src.recheck,
            interval: src.interval,
            cmds,
            emptied_by_user: false,
        };
        Box::pin(poller.run())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_needs_a_key_and_says_where_to_get_one() {
        let cfg = AlphaVantageConfig::default();
        let err = AlphaVantageSource::with_env_key(cfg.clone(), None).unwrap_err();
        assert_eq!(err.to_string(), MISSING_KEY);
        let src = AlphaVantageSource::with_env_key(cfg, Some("K".into())).unwrap();
        assert_eq!(src.name(), "alphavantage");
        assert_eq!(src.overflow(), Overflow::Block);
        assert_eq!(src.symbols().len(), 3);
        let bad = AlphaVantageConfig {
            interval: "30min".into(),
            ..AlphaVantageConfig::default()
        };
        let err = AlphaVantageSource::with_env_key(bad, Some("K".into())).unwrap_err();
        assert!(err.to_string().contains("30min"), "{err}");
    }
}
