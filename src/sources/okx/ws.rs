//! OKX on the shared live-feed engine ([`crate::sources::live`]): one public v5 connection for
//! every instrument. What is OKX's own is here: subscribes of `trades` and `tickers` answered per
//! (channel, instrument) without a request id, a text `ping` whenever nothing was sent for 20 s
//! (OKX closes a connection idle for 30 s), refusals that name the instrument, and the trade
//! refill by id (`history-trades`, paged backwards with `after`). Candles are built from the
//! trades, warmed at start from REST (`candle1m` lives on OKX's business endpoint, which
//! tickwatch does not open). With `depth = true` the `books` channel is subscribed too and its
//! pushes go to the book task ([`crate::sources::live::books`]); a book that fails its checksum
//! or seqId chain has its `books` unsubscribed and subscribed again (OKX sends a fresh
//! snapshot), on the same connection.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::mpsc;

use super::rest::{RestError, TradeCursor, candles_url, parse_candles, parse_trades, trades_url};
use super::wire::{self, parse_frame};
use super::{OkxConfig, PING_AFTER, TRADES_PER_PAGE};
use crate::book::okx::{BookMsg, OkxBook};
use crate::book::{BookError, Outcome, Reason};
use crate::domain::{Symbol, TsMs, Venue, now_ms};
use crate::pipeline::EventSink;
use crate::sources::live::books::{self, BookFeed, Unreadable, VenueBooks};
use crate::sources::live::frame::{self, Words};
use crate::sources::live::rest::{HttpError, Rest};
use crate::sources::live::session::{BoxFut, End, LiveVenue, Session, Settings};
use crate::sources::live::source::{self, LiveStats};
use crate::sources::live::{FillDone, FillRequest};

/// Our pace of control messages (OKX allows 480 an hour per connection; a burst is fine).
const SENDS_PER_SEC: usize = 3;
/// Trade pages fetched for one hole (10,000 trades); the next fill fetches the rest.
const MAX_TRADE_PAGES: usize = 100;

/// How OKX is named in what the engine shows.
const WORDS: Words = Words {
    title: "OKX",
    unit: "instrument",
    key: "[okx].symbols",
    main_channel: "trades",
};

/// What a fill can fail on: the request, or OKX's answer.
#[derive(Debug, thiserror::Error)]
pub enum FillError {
    #[error("{0}")]
    Http(#[from] HttpError),
    #[error("{0}")]
    Okx(#[from] RestError),
}

/// What the connection needs.
pub(crate) type Shared = source::Shared<OkxConfig>;

/// The connection as the engine sees it.
pub(crate) struct Feed {
    pub shared: Arc<Shared>,
    /// The book task, when `depth` is on.
    books: Option<Arc<BookFeed>>,
}

impl Feed {
    /// The connection's venue half; starts the book task when `depth` is on.
    pub fn new(shared: Arc<Shared>) -> Feed {
        let c = &shared.cfg;
        let books = books::start(
            c.depth,
            c.depth_levels,
            OkxBooks,
            &shared.sink,
            &shared.stats,
            Duration::from_secs(c.stale_after_secs),
        );
        Feed { shared, books }
    }
}

/// OKX's `books` for the shared book task.
struct OkxBooks;

impl VenueBooks for OkxBooks {
    type Machine = OkxBook;
    type Msg = BookMsg;
    type Prep = ();
    const VENUE: Venue = Venue::Okx;

    fn parse(&self, text: &str) -> Result<Vec<(Symbol, BookMsg)>, Unreadable> {
        crate::book::okx::parse(text)?
            .into_iter()
            .map(|m| {
                let symbol = Symbol::new(&m.inst_id).map_err(|_| BookError::NotBook {
                    venue: "OKX",
                    what: "an instId that is not an instrument id",
                })?;
                Ok((symbol, m))
            })
            .collect()
    }

    fn machine(&self, _symbol: Symbol) -> OkxBook {
        OkxBook::new()
    }

    fn apply(m: &mut OkxBook, msg: &BookMsg) -> Outcome {
        m.on_message(msg)
    }

    fn discard(m: &mut OkxBook, reason: Reason) {
        m.discard(reason);
    }
}

impl LiveVenue for Feed {
    type Error = FillError;

    fn title(&self) -> &'static str {
        "OKX"
    }

    fn sink(&self) -> &EventSink {
        &self.shared.sink
    }

    fn settings(&self) -> Settings {
        let c = &self.shared.cfg;
        Settings::one_connection(
            SENDS_PER_SEC,
            c.stale_after_secs,
            c.backoff_initial_ms,
            c.backoff_max_ms,
            Some((PING_AFTER, wire::PING.to_string())),
        )
    }

    fn url(&self) -> String {
        self.shared.cfg.ws_url.trim().to_string()
    }

    /// OKX numbers no requests: a change is confirmed by the answer that echoes its channel
    /// and instrument.
    fn requests(&self, subscribe: bool, symbols: &[Symbol]) -> (Vec<String>, Vec<u64>) {
        let depth = self.books.is_some();
        let msgs = if subscribe {
            wire::subscribe(symbols, depth)
        } else {
            wire::unsubscribe(symbols, depth)
        };
        (msgs, Vec::new())
    }

    fn take_resubscribes(&self) -> Option<mpsc::UnboundedReceiver<Symbol>> {
        self.books.as_ref()?.take_resubscribes()
    }

    fn book_resubscribe(&self, symbol: Symbol) -> Vec<String> {
        wire::book_resubscribe(symbol)
    }

    fn disconnected(&self) {
        if let Some(b) = &self.books {
            b.disconnected();
        }
    }

    fn on_text(&self, text: &str, s: &mut Session<'_, Self>) -> Option<End> {
        if let Some(books) = &self.books
            && wire::is_book(text)
        {
            s.data(now_ms());
            books.push(text);
            return None;
        }
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
            FillError::Okx(RestError::UnknownSymbol { symbol, .. }) => Some(*symbol),
            _ => None,
        }
    }

    fn not_listed(&self, symbol: Symbol) -> String {
        format!("{symbol} is not an OKX spot instrument")
    }

    fn rate_limited_until(&self) -> TsMs {
        self.shared.rest.rate_limited_until()
    }

    fn stats(&self) -> Option<&LiveStats> {
        Some(&self.shared.stats)
    }
}

/// Fetches what `req` asks for: the newest closed 1m candles, and the hole's trades from
/// `history-trades`, walking down from the first live trade after the hole (or from the newest
/// when that is not known yet) to `trades_from`.
async fn run_fill(
    rest: Rest,
    req: FillRequest,
    on_rate_limit: Box<dyn Fn(TsMs) + Send + Sync>,
) -> FillDone<FillError> {
    let mut done = FillDone::begin(&req).await;
    let stop = req.stop_at.load(Ordering::Relaxed);
    if let Some(from) = req.candles_from {
        let got = match rest
            .get_retrying(&candles_url("", req.symbol, None), &*on_rate_limit)
            .await
        {
            Ok(body) => parse_candles(&body, req.symbol).map_err(FillError::from),
            Err(e) => Err(e.into()),
        };
        match got {
            Ok(page) => {
                done.candles = page
                    .candles
                    .into_iter()
                    .filter(|c| c.open_ms >= from)
                    .collect()
            }
            Err(e) => {
                done.error = Some(e);
                return done;
            }
        }
    }
    let Some(from) = req.trades_from else {
        return done;
    };
    let budget = (MAX_TRADE_PAGES * TRADES_PER_PAGE) as u64;
    if stop > 0 && stop <= from {
        return done; // nothing is missing
    }
    // ids below `cursor` are asked for; None asks for the newest page
    let mut cursor = (stop > 0).then(|| stop.min(from + budget));
    for _ in 0..MAX_TRADE_PAGES {
        let at = cursor.map_or(TradeCursor::Latest, TradeCursor::OlderThan);
        let page = match rest
            .get_retrying(&trades_url("", req.symbol, at), &*on_rate_limit)
            .await
        {
            Ok(body) => parse_trades(&body, req.symbol).map_err(FillError::from),
            Err(e) => Err(e.into()),
        };
        let page = match page {
            Ok(p) => p,
            Err(e) => {
                done.error = Some(e);
                break;
            }
        };
        let (Some(oldest), Some(newest)) = (page.oldest, page.newest) else {
            break;
        };
        if cursor.is_none() && newest >= from + budget {
            // too big for one fill: start again from the oldest end of the hole
            cursor = Some(from + budget);
            continue;
        }
        let below = cursor;
        done.trades.extend(
            page.trades
                .into_iter()
                .filter(|(_, t)| t.trade_id >= from && below.is_none_or(|c| t.trade_id < c)),
        );
        if oldest <= from || cursor.is_some_and(|c| oldest >= c) {
            break;
        }
        cursor = Some(oldest);
    }
    done
}
