//! REST backfill: warm 1m candles on start, and fill the trade holes a reconnect, a dropped batch,
//! a skipped frame or a heartbeat revealed. Coinbase pages trades backwards (`after` = ids below
//! it, newest first), so a fill walks down from the top of the hole to its bottom.

use std::sync::atomic::Ordering;

use super::rest::{RestClient, RestError, TRADES_PAGE};
use crate::domain::{Interval, TsMs, now_ms};
use crate::sources::live::FillRequest;
use crate::sources::net::retry::Attempts;

/// Trade pages fetched for one hole (100,000 trades). A larger hole is filled from its oldest
/// end, and the next fill fetches the rest, so live data is never held back for long.
pub(crate) const MAX_TRADE_PAGES: usize = 100;
/// Attempts per fill when the network or the server fails.
const FILL_ATTEMPTS: u32 = 4;

/// A fill's answer, with Coinbase's REST error.
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
        bounded: false,
    };
    if !req.delay.is_zero() {
        tokio::time::sleep(req.delay).await;
    }
    let mut attempts = Attempts::new(FILL_ATTEMPTS);
    if let Some(from) = req.candles_from {
        loop {
            let to = now_ms();
            match rest.candles_1m(req.symbol, from, to, &on_rate_limit).await {
                Ok(c) => {
                    // the running minute is not a closed candle yet
                    done.candles = c
                        .into_iter()
                        .filter(|c| c.open_ms + Interval::M1.ms() <= to)
                        .collect();
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
    let Some(from) = req.trades_from else {
        return done;
    };
    let budget = (MAX_TRADE_PAGES * TRADES_PAGE) as u64;
    let stop = req.stop_at.load(Ordering::Relaxed);
    done.bounded = stop > 0;
    if stop > 0 && stop <= from {
        return done; // nothing is missing
    }
    // ids below `cursor` are asked for; None asks for the newest page
    let mut cursor = (stop > 0).then(|| stop.min(from + budget));
    let mut pages = 0;
    while pages <= MAX_TRADE_PAGES {
        match rest.trades(req.symbol, cursor, &on_rate_limit).await {
            Ok(page) => {
                pages += 1;
                let (Some(oldest), Some(newest)) = (
                    page.trades.first().map(|(_, t)| t.trade_id),
                    page.trades.last().map(|(_, t)| t.trade_id),
                ) else {
                    break;
                };
                if cursor.is_none() && newest >= from + budget {
                    // too big for one fill: start again from the oldest end of the hole
                    cursor = Some(from + budget);
                    continue;
                }
                let below = cursor;
                done.trades.extend(
                    page.trades.into_iter().filter(|(_, t)| {
                        t.trade_id >= from && below.is_none_or(|c| t.trade_id < c)
                    }),
                );
                if oldest <= from {
                    break;
                }
                let next = page.next_after.unwrap_or(oldest);
                if cursor.is_some_and(|c| next >= c) {
                    break; // a server that does not move backwards: stop rather than spin
                }
                cursor = Some(next);
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
