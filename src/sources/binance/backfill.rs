//! REST backfill: warm charts on start, fill the holes a reconnect or a dropped batch left
//! (aggregate trades by id, candles by time), and the on-demand `tickwatch backfill`.

use std::sync::atomic::Ordering;

use anyhow::Context;

use super::BinanceConfig;
use super::rest::{PAGE, RestClient, RestError};
use crate::domain::{Interval, MarketEvent, Symbol, TsMs, Venue, now_ms};
use crate::pipeline::{EventSink, SourceState};
use crate::sources::live::{FillRequest, candle_event};
use crate::sources::net::retry::Attempts;

/// Trade pages fetched for one gap before handing back what we have (the rest is fetched by the
/// next fill, so a huge gap cannot hold live data back forever).
const MAX_TRADE_PAGES: usize = 100;
/// Attempts per fill when the network or the server fails.
const FILL_ATTEMPTS: u32 = 4;
/// Events per batch handed to the sink.
pub(crate) const BATCH: usize = 2048;

/// A fill's answer, with Binance's REST error.
pub(crate) type FillDone = crate::sources::live::FillDone<RestError>;

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
        events: Vec::new(),
        error: None,
        // the top of a hole is the first live trade after it, whenever that comes
        bounded: true,
    };
    if !req.delay.is_zero() {
        tokio::time::sleep(req.delay).await;
    }
    let mut attempts = Attempts::new(FILL_ATTEMPTS);
    if let Some(from) = req.candles_from {
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
        .map(|c| candle_event(Venue::Binance, symbol, interval, c, now))
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
