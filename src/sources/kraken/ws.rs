//! Kraken on the shared live-feed engine ([`crate::sources::live`]): one WebSocket v2
//! connection for every pair. What is Kraken's own is here: one subscribe message per channel
//! (`trade`, `ohlc`, `ticker`) with a `req_id`, acknowledged per channel and pair; refusals that
//! name the pair; a `ping` after a quiet spell; and the trade refill by time (REST pages trades
//! by a nanosecond `since`, its rows carry the v2 trade ids, so the hole's ids are kept).

use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::rest::{RestError, parse_ohlc, parse_trades, since_ns, trades_url};
use super::wire::{self, parse_frame};
use super::{CONTROL_MESSAGES_PER_SEC, KrakenConfig, PING_AFTER};
use crate::domain::{Symbol, TsMs, now_ms};
use crate::pipeline::EventSink;
use crate::sources::live::frame::{self, Words};
use crate::sources::live::rest::{HttpError, Rest};
use crate::sources::live::session::{BoxFut, End, LiveVenue, Session, Settings};
use crate::sources::live::source::{self, LiveStats};
use crate::sources::live::{FillDone, FillRequest};

/// Trade pages fetched for one hole (100,000 trades); the next fill fetches the rest.
const MAX_TRADE_PAGES: usize = 100;
/// How far back a fill looks when the time of the last trade before the hole is not known.
const LOOK_BACK_MS: TsMs = 15 * 60_000;

/// How Kraken is named in what the engine shows.
const WORDS: Words = Words {
    title: "Kraken",
    unit: "pair",
    key: "[kraken].symbols",
    main_channel: "trade",
};

/// What a fill can fail on: the request, or Kraken's answer.
#[derive(Debug, thiserror::Error)]
pub enum FillError {
    #[error("{0}")]
    Http(#[from] HttpError),
    #[error("{0}")]
    Kraken(#[from] RestError),
}

/// What the connection needs.
pub(crate) type Shared = source::Shared<KrakenConfig>;

/// The connection as the engine sees it.
pub(crate) struct Feed {
    pub shared: Arc<Shared>,
}

impl LiveVenue for Feed {
    type Error = FillError;

    fn title(&self) -> &'static str {
        "Kraken"
    }

    fn sink(&self) -> &EventSink {
        &self.shared.sink
    }

    fn settings(&self) -> Settings {
        let c = &self.shared.cfg;
        Settings::one_connection(
            CONTROL_MESSAGES_PER_SEC as usize,
            c.stale_after_secs,
            c.backoff_initial_ms,
            c.backoff_max_ms,
            Some((PING_AFTER, wire::ping(0))),
        )
    }

    fn url(&self) -> String {
        self.shared.cfg.ws_url.trim().to_string()
    }

    /// One message per channel (and batch of pairs), each with its own `req_id`.
    fn requests(&self, subscribe: bool, symbols: &[Symbol]) -> (Vec<String>, Vec<u64>) {
        let n = wire::message_count(symbols.len()) as u64;
        let first = self.shared.ids(n);
        let msgs = if subscribe {
            wire::subscribe(symbols, first)
        } else {
            wire::unsubscribe(symbols, first)
        };
        (msgs, (first..first + n).collect())
    }

    fn on_text(&self, text: &str, s: &mut Session<'_, Self>) -> Option<End> {
        let frame = parse_frame(text, now_ms()).map_err(|e| {
            let r = e.is_rejection();
            (e, r)
        });
        let sh = &self.shared;
        frame::handle(frame, text, &WORDS, &sh.stats, &sh.sink, s)
    }

    fn fill(
        &self,
        req: FillRequest,
        on_rate_limit: Box<dyn Fn(TsMs) + Send + Sync>,
    ) -> BoxFut<'static, FillDone<FillError>> {
        Box::pin(run_fill(self.shared.rest.clone(), req, on_rate_limit))
    }

    fn unknown_symbol(&self, e: &FillError) -> Option<Symbol> {
        match e {
            FillError::Kraken(RestError::UnknownSymbol { symbol, .. }) => Some(*symbol),
            _ => None,
        }
    }

    fn not_listed(&self, symbol: Symbol) -> String {
        format!("{symbol} is not a Kraken pair")
    }

    fn rate_limited_until(&self) -> TsMs {
        self.shared.rest.rate_limited_until()
    }

    fn stats(&self) -> Option<&LiveStats> {
        Some(&self.shared.stats)
    }
}

/// Fetches what `req` asks for: closed 1m candles from `/0/public/OHLC`, and the trades of the
/// hole from `/0/public/Trades`, paged by time from the last trade before the hole (or a
/// quarter of an hour back when its time is not known), keeping ids from `trades_from` up to
/// the first live one.
async fn run_fill(
    rest: Rest,
    req: FillRequest,
    on_rate_limit: Box<dyn Fn(TsMs) + Send + Sync>,
) -> FillDone<FillError> {
    let mut done = FillDone::begin(&req).await;
    if let Some(from) = req.candles_from {
        let url = super::rest::ohlc_url("", req.symbol, Some(from / 1000 - 60));
        match rest.get_retrying(&url, &*on_rate_limit).await {
            Ok(body) => match parse_ohlc(&body, req.symbol) {
                Ok(page) => {
                    done.candles = page
                        .candles
                        .into_iter()
                        .filter(|c| c.open_ms >= from)
                        .collect()
                }
                Err(e) => {
                    done.error = Some(e.into());
                    return done;
                }
            },
            Err(e) => {
                done.error = Some(e.into());
                return done;
            }
        }
    }
    let Some(from) = req.trades_from else {
        return done;
    };
    let start = req.after_ms.unwrap_or_else(|| now_ms() - LOOK_BACK_MS);
    let mut since = since_ns(start);
    for _ in 0..MAX_TRADE_PAGES {
        let url = trades_url("", req.symbol, Some(&since));
        let page = match rest.get_retrying(&url, &*on_rate_limit).await {
            Ok(body) => parse_trades(&body, req.symbol),
            Err(e) => {
                done.error = Some(e.into());
                break;
            }
        };
        let page = match page {
            Ok(p) => p,
            Err(e) => {
                done.error = Some(e.into());
                break;
            }
        };
        let newest = page.trades.last().map(|(_, t)| t.trade_id);
        let stop = req.stop_at.load(Ordering::Relaxed);
        done.trades.extend(
            page.trades
                .into_iter()
                .filter(|(_, t)| t.trade_id >= from && (stop == 0 || t.trade_id < stop)),
        );
        let reached = newest.is_none_or(|n| stop > 0 && n + 1 >= stop);
        if reached || page.last == since {
            break;
        }
        since = page.last;
    }
    done
}
