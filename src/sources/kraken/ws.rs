//! Kraken on the shared live-feed engine ([`crate::sources::live`]): one WebSocket v2
//! connection for every pair. What is Kraken's own is here: one subscribe message per channel
//! (`trade`, `ohlc`, `ticker`) with a `req_id`, acknowledged per channel and pair; refusals that
//! name the pair; a `ping` after a quiet spell; and the trade refill by time (REST pages trades
//! by a nanosecond `since`, its rows carry the v2 trade ids, so the hole's ids are kept).
//! With `depth = true` the `book` channel is subscribed too (one more message per batch, with
//! its own `req_id`), and the `instrument` channel once per connection for the pairs'
//! precisions that the book checksum needs; book frames go to the book task
//! ([`crate::sources::live::books`]); a book that fails its checksum has its `book`
//! unsubscribed and subscribed again (Kraken sends a fresh snapshot), on the same connection.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::mpsc;

use super::books::KrakenBooks;
use super::instruments::{self, Instruments};
use super::rest::{RestError, parse_ohlc, parse_trades, since_ns, trades_url};
use super::wire::{self, parse_frame};
use super::{CONTROL_MESSAGES_PER_SEC, KrakenConfig, PING_AFTER, book_depth};
use crate::domain::{Symbol, TsMs, now_ms};
use crate::pipeline::EventSink;
use crate::sources::live::books::{self, BookFeed};
use crate::sources::live::frame::{self, Frame, Words};
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
    /// The book task, when `depth` is on.
    books: Option<Arc<BookFeed>>,
    /// The pairs' precisions (filled from the `instrument` channel).
    instruments: Arc<Instruments>,
    /// The `instrument` channel was subscribed on this connection.
    listing: AtomicBool,
    /// Request ids of book resubscriptions: a refusal of one is the book's (retried by the
    /// book task), never a reason to drop the pair's trades.
    book_requests: std::sync::Mutex<std::collections::HashSet<u64>>,
}

impl Feed {
    /// The connection's venue half; starts the book task when `depth` is on.
    pub fn new(shared: Arc<Shared>) -> Feed {
        let c = &shared.cfg;
        let instruments = Arc::new(Instruments::default());
        let venue = KrakenBooks {
            depth: book_depth(c.depth_levels),
            instruments: instruments.clone(),
        };
        let books = books::start(
            c.depth,
            c.depth_levels,
            venue,
            &shared.sink,
            &shared.stats,
            Duration::from_secs(c.stale_after_secs),
        );
        Feed {
            shared,
            books,
            instruments,
            listing: AtomicBool::new(false),
            book_requests: Default::default(),
        }
    }

    /// The `book` depth subscribed, when books are kept.
    fn depth(&self) -> Option<usize> {
        self.books
            .as_ref()
            .map(|_| book_depth(self.shared.cfg.depth_levels))
    }

    /// Reads an `instrument` frame into the precisions.
    fn on_instruments(&self, text: &str) {
        let sh = &self.shared;
        match instruments::parse(text) {
            Ok(listing) => {
                if !listing.incomplete.is_empty() {
                    tracing::debug!(
                        source = sh.sink.name(),
                        "Kraken listed {} pairs without precisions",
                        listing.incomplete.len()
                    );
                }
                self.instruments.apply(listing);
            }
            Err(e) => sh.stats.skipped(
                &sh.sink,
                false,
                format!("instrument list unreadable: {e}"),
                text,
            ),
        }
    }
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

    /// One message per channel (and batch of pairs), each with its own `req_id`. With books, the
    /// first subscribe of a connection also subscribes the `instrument` channel, with an id of
    /// its own that no symbol change waits for (a refusal of it must not refuse the pairs).
    fn requests(&self, subscribe: bool, symbols: &[Symbol]) -> (Vec<String>, Vec<u64>) {
        let depth = self.depth();
        let n = wire::message_count(symbols.len(), depth.is_some()) as u64;
        let first = self.shared.ids(n);
        let mut msgs = Vec::new();
        if subscribe && depth.is_some() && !self.listing.swap(true, Ordering::Relaxed) {
            msgs.push(wire::instrument_subscribe(self.shared.ids(1)));
        }
        msgs.extend(if subscribe {
            wire::subscribe(symbols, first, depth)
        } else {
            wire::unsubscribe(symbols, first, depth)
        });
        (msgs, (first..first + n).collect())
    }

    fn take_resubscribes(&self) -> Option<mpsc::UnboundedReceiver<Symbol>> {
        self.books.as_ref()?.take_resubscribes()
    }

    fn book_resubscribe(&self, symbol: Symbol) -> Vec<String> {
        let depth = book_depth(self.shared.cfg.depth_levels);
        let first = self.shared.ids(2);
        if let Ok(mut ids) = self.book_requests.lock() {
            // bounded: ids of answered requests are taken out as the answers come
            if ids.len() > 10_000 {
                ids.clear();
            }
            ids.extend([first, first + 1]);
        }
        wire::book_resubscribe(symbol, first, depth)
    }

    fn disconnected(&self) {
        // the next connection subscribes the instrument channel afresh
        self.listing.store(false, Ordering::Relaxed);
        if let Some(b) = &self.books {
            b.disconnected();
        }
    }

    fn on_text(&self, text: &str, s: &mut Session<'_, Self>) -> Option<End> {
        if let Some(books) = &self.books {
            if self.instruments.take_want() {
                s.send(wire::instrument_unsubscribe(self.shared.ids(1)));
                s.send(wire::instrument_subscribe(self.shared.ids(1)));
            }
            if wire::is_book(text) {
                s.data(now_ms());
                books.push(text);
                return None;
            }
            if wire::is_instrument(text) {
                s.alive();
                self.on_instruments(text);
                return None;
            }
        }
        let frame = parse_frame(text, now_ms()).map_err(|e| {
            let r = e.is_rejection();
            (e, r)
        });
        let sh = &self.shared;
        if let Ok(Frame::Refused {
            req_id: Some(id),
            message,
            ..
        }) = &frame
            && self
                .book_requests
                .lock()
                .is_ok_and(|mut ids| ids.remove(id))
        {
            // the book task asks again after its retry delay; the pair's trades go on
            sh.stats.record_error(
                &sh.sink,
                format!(
                    "Kraken refused a book resubscription: {}",
                    crate::format::visible(message)
                ),
            );
            s.alive();
            return None;
        }
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
