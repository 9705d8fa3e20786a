//! REST backfill: warm charts on start, fill the holes a reconnect or a dropped batch left
//! (aggregate trades by id, candles by time), and the on-demand `tickwatch backfill`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Context;

use super::BinanceConfig;
use super::rest::{PAGE, RestClient, RestError};
use crate::domain::{
    Candle, EventKind, Interval, MarketEvent, Symbol, TradeTick, TsMs, Venue, now_ms,
};
use crate::pipeline::{EventSink, SourceState};
use crate::sources::net::retry::Attempts;

/// Trade pages fetched for one gap before handing back what we have (the rest is fetched by the
/// next fill, so a huge gap cannot hold live data back forever).
const MAX_TRADE_PAGES: usize = 100;
/// Attempts per fill when the network or the server fails.
const FILL_ATTEMPTS: u32 = 4;
/// Events per batch handed to the sink.
pub(crate) const BATCH: usize = 2048;

/// What one gap needs.
#[derive(Debug, Clone)]
pub(crate) struct FillRequest {
    pub symbol: Symbol,
    /// Fetch aggregate trades from this id on.
    pub trades_from: Option<u64>,
    /// Fetch 1m candles from this time on.
    pub klines_from: Option<TsMs>,
    /// The first live trade id seen since the gap (0 until one arrives): fetching stops there.
    pub stop_at: Arc<AtomicU64>,
    /// Wait this long before asking: REST may lag the stream by a moment, so a fill that found
    /// nothing yet is tried again a little later (see [`crate::sources::net::handout::refill_delay`]).
    pub delay: std::time::Duration,
}

/// What a fill brought back.
#[derive(Debug)]
pub(crate) struct FillDone {
    pub symbol: Symbol,
    pub trades: Vec<(TsMs, TradeTick)>,
    pub candles: Vec<Candle>,
    pub error: Option<RestError>,
}

/// Fetches what `req` asks for, retrying transient failures; partial results are kept.
pub(crate) async fn run_fill(
    rest: RestClient,
    req: FillRequest,
    on_rate_limit: impl Fn(TsMs) + Send + Sync,
) -> FillDone {
    let mut done = FillDone {
        symbol: req.symbol,
        trades: Vec::new(),
        candles: Vec::new(),
        error: None,
    };
    if !req.delay.is_zero() {
        tokio::time::sleep(req.delay).await;
    }
    let mut attempts = Attempts::new(FILL_ATTEMPTS);
    if let Some(from) = req.klines_from {
        loop {
            match rest
                .klines(req.symbol, Interval::M1, from, None, &on_rate_limit)
                .await
            {
                Ok(c) => {
                    done.candles = c;
                    break;
                }
                Err(e) => {
                    if !attempts.retry(e.is_retryable()).await {
                        done.error = Some(e);
                        return done;
                    }
                }
            }
        }
    }
    let Some(mut next) = req.trades_from else {
        return done;
    };
    let mut pages = 0;
    while pages < MAX_TRADE_PAGES {
        match rest
            .agg_trades_from(req.symbol, next, PAGE, &on_rate_limit)
            .await
        {
            Ok(page) => {
                pages += 1;
                let n = page.len();
                let Some(last) = page.last().map(|(_, t)| t.trade_id) else {
                    break;
                };
                done.trades.extend(page);
                let stop = req.stop_at.load(Ordering::Relaxed);
                if n < PAGE || (stop > 0 && last + 1 >= stop) || last < next {
                    break;
                }
                next = last + 1;
            }
            Err(e) => {
                if !attempts.retry(e.is_retryable()).await {
                    done.error = Some(e);
                    break;
                }
            }
        }
    }
    done
}

/// A candle fetched over REST as an event: closed unless its minute is still running.
pub(crate) fn candle_event(
    symbol: Symbol,
    interval: Interval,
    c: Candle,
    now: TsMs,
) -> MarketEvent {
    MarketEvent {
        venue: Venue::Binance,
        symbol,
        exch_ms: c.open_ms,
        recv_ms: now,
        kind: EventKind::Candle {
            interval,
            candle: c,
            closed: c.open_ms + interval.ms() <= now,
        },
    }
}

pub(crate) fn trade_event(symbol: Symbol, time: TsMs, t: TradeTick, now: TsMs) -> MarketEvent {
    MarketEvent {
        venue: Venue::Binance,
        symbol,
        exch_ms: time,
        recv_ms: now,
        kind: EventKind::Trade(t),
    }
}

/// Fetches candles of `symbol` from `from_ms` to `to_ms` (or now) and emits them (closed, the
/// still-running last one as open). Used by `tickwatch backfill`. Returns how many were emitted.
/// `on_page` gets the number of candles fetched so far after each page.
pub async fn backfill(
    cfg: &BinanceConfig,
    symbol: Symbol,
    interval: Interval,
    from_ms: TsMs,
    to_ms: Option<TsMs>,
    sink: &EventSink,
    on_page: impl Fn(usize) + Send + Sync,
) -> anyhow::Result<u64> {
    let rest = RestClient::from_config(cfg)?;
    let on_rl = |until_ms| sink.set_state(SourceState::RateLimited { until_ms });
    let candles = rest
        .klines_with_progress(symbol, interval, from_ms, to_ms, on_rl, on_page)
        .await
        .with_context(|| {
            format!(
                "fetching {interval} klines for {symbol} from {}",
                cfg.rest_url
            )
        })?;
    let now = now_ms();
    let events: Vec<MarketEvent> = candles
        .into_iter()
        .map(|c| candle_event(symbol, interval, c, now))
        .collect();
    let n = events.len() as u64;
    let mut dropped = 0;
    for chunk in events.chunks(BATCH) {
        dropped += sink
            .send(chunk.to_vec())
            .await
            .context("the pipeline stopped while backfilling")?;
    }
    if dropped > 0 {
        anyhow::bail!("{dropped} of {n} candles were dropped because the pipeline was full");
    }
    Ok(n)
}
