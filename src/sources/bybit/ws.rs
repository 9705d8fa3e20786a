//! Bybit spot on the shared live-feed engine ([`crate::sources::live`]): one v5 public spot
//! connection for every symbol. What is Bybit's own is here: subscribes of `publicTrade`,
//! `kline.1` and `tickers` in requests of at most 10 topics with a `req_id`, `{"op":"ping"}`
//! every 20 s, and the refill: `recent-trade` serves only the newest 60 trades, so a hole is
//! refilled only while it lies within them; an older one is counted and shown as missing.
//! With `depth = true` the `orderbook.50` topic is subscribed too and its pushes go to the book
//! task ([`crate::sources::live::books`]); a book whose `u` chain breaks has its topic
//! unsubscribed and subscribed again on the same connection (Bybit answers a subscribe with a
//! snapshot).

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::mpsc;

use super::BybitConfig;
use super::rest::{
    RECENT_TRADE_MAX_SPOT, RestError, kline_url, parse_klines, parse_recent_trades,
    recent_trade_url,
};
use super::wire::{self, PING, PING_INTERVAL};
use crate::book::bybit::{BookMsg, BybitBook};
use crate::book::{BookError, Outcome, Reason};
use crate::domain::{Symbol, TsMs, Venue, now_ms};
use crate::pipeline::EventSink;
use crate::sources::ChangeKind;
use crate::sources::live::books::{self, BookFeed, Unreadable, VenueBooks};
use crate::sources::live::frame::{self, Frame, Words};
use crate::sources::live::rest::{HttpError, Rest};
use crate::sources::live::session::{BoxFut, End, LiveVenue, Session, Settings};
use crate::sources::live::source::{self, LiveStats};
use crate::sources::live::{FillDone, FillRequest};

/// Our pace of control messages.
const SENDS_PER_SEC: usize = 5;

/// How Bybit is named in what the engine shows.
const WORDS: Words = Words {
    title: "Bybit",
    unit: "symbol",
    key: "[bybit].symbols",
    main_channel: "publicTrade",
};

/// What a fill can fail on: the request, or Bybit's answer.
#[derive(Debug, thiserror::Error)]
pub enum FillError {
    #[error("{0}")]
    Http(#[from] HttpError),
    #[error("{0}")]
    Bybit(#[from] RestError),
    #[error("the answer is not UTF-8")]
    Text,
}

/// What the connection needs.
pub(crate) type Shared = source::Shared<BybitConfig>;

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
            BybitBooks,
            &shared.sink,
            &shared.stats,
            Duration::from_secs(c.stale_after_secs),
        );
        Feed { shared, books }
    }

    /// Requests of `kind` for `topics`, numbered from the source's request ids.
    fn numbered(&self, kind: ChangeKind, topics: &[String]) -> Vec<wire::Request> {
        let n = topics.len().div_ceil(wire::SPOT_MAX_ARGS_PER_REQUEST) as u64;
        wire::requests(kind, topics, self.shared.ids(n))
    }
}

/// Bybit's `orderbook.50` for the shared book task.
struct BybitBooks;

impl VenueBooks for BybitBooks {
    type Machine = BybitBook;
    type Msg = BookMsg;
    type Prep = ();
    const VENUE: Venue = Venue::Bybit;

    fn parse(&self, text: &str) -> Result<Vec<(Symbol, BookMsg)>, Unreadable> {
        let msg = crate::book::bybit::parse(text)?;
        let symbol = Symbol::new(&msg.symbol).map_err(|_| BookError::NotBook {
            venue: "Bybit",
            what: "an `s` that is not a symbol",
        })?;
        Ok(vec![(symbol, msg)])
    }

    fn machine(&self, _symbol: Symbol) -> BybitBook {
        BybitBook::new()
    }

    fn apply(m: &mut BybitBook, msg: &BookMsg) -> Outcome {
        m.on_message(msg)
    }

    fn discard(m: &mut BybitBook, reason: Reason) {
        m.discard(reason);
    }
}

impl LiveVenue for Feed {
    type Error = FillError;

    fn title(&self) -> &'static str {
        "Bybit"
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
            Some((PING_INTERVAL, PING.to_string())),
        )
    }

    fn url(&self) -> String {
        self.shared.cfg.ws_url.trim().to_string()
    }

    fn requests(&self, subscribe: bool, symbols: &[Symbol]) -> (Vec<String>, Vec<u64>) {
        let depth = self.books.is_some();
        let topics: Vec<String> = symbols
            .iter()
            .flat_map(|s| wire::topics(s, depth))
            .collect();
        let kind = if subscribe {
            ChangeKind::Subscribe
        } else {
            ChangeKind::Unsubscribe
        };
        let reqs = self.numbered(kind, &topics);
        let ids = reqs.iter().filter_map(|r| r.req_id.parse().ok()).collect();
        (reqs.into_iter().map(|r| r.text).collect(), ids)
    }

    fn take_resubscribes(&self) -> Option<mpsc::UnboundedReceiver<Symbol>> {
        self.books.as_ref()?.take_resubscribes()
    }

    /// Unsubscribes `symbol`'s `orderbook.50` and subscribes it again: Bybit then sends a fresh
    /// snapshot. Their answers carry ids no symbol change waits for, so they only keep the
    /// connection alive.
    fn book_resubscribe(&self, symbol: Symbol) -> Vec<String> {
        let topic = [wire::book_topic(&symbol)];
        [ChangeKind::Unsubscribe, ChangeKind::Subscribe]
            .into_iter()
            .flat_map(|k| self.numbered(k, &topic))
            .map(|r| r.text)
            .collect()
    }

    fn disconnected(&self) {
        if let Some(b) = &self.books {
            b.disconnected();
        }
    }

    /// Bybit's frames in the shared shape: an answer carries our request id; a refusal names
    /// its topics (`publicTrade.BTCUSDT`), whose last part is the symbol.
    fn on_text(&self, text: &str, s: &mut Session<'_, Self>) -> Option<End> {
        if let Some(books) = &self.books
            && wire::is_book(text)
        {
            s.data(now_ms());
            books.push(text);
            return None;
        }
        let frame = match wire::parse_frame(text, now_ms()) {
            Ok(wire::Frame::Events(evs)) => Ok(Frame::Events(evs)),
            Ok(wire::Frame::Ack { op, req_id }) => {
                let req_id = req_id.and_then(|r| r.parse().ok());
                let (channel, symbol) = (String::new(), None);
                Ok(if op == "unsubscribe" {
                    Frame::Unsubscribed {
                        req_id,
                        channel,
                        symbol,
                    }
                } else {
                    Frame::Subscribed {
                        req_id,
                        channel,
                        symbol,
                    }
                })
            }
            Ok(wire::Frame::Refused {
                req_id,
                message,
                topics,
                ..
            }) => Ok(Frame::Refused {
                req_id: req_id.and_then(|r| r.parse().ok()),
                code: None,
                symbol: topics
                    .first()
                    .and_then(|t| t.rsplit('.').next())
                    .map(String::from),
                message,
            }),
            Ok(wire::Frame::Pong) => Ok(Frame::Pong { req_id: None }),
            Ok(wire::Frame::Unsupported { kind }) => Ok(Frame::Unsupported { kind }),
            Err(e) => {
                let r = e.is_rejection();
                Err((e, r))
            }
        };
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
            FillError::Bybit(RestError::UnknownSymbol { symbol, .. }) => Symbol::new(symbol).ok(),
            _ => None,
        }
    }

    fn not_listed(&self, symbol: Symbol) -> String {
        format!("{symbol} is not a Bybit spot symbol")
    }

    fn rate_limited_until(&self) -> TsMs {
        self.shared.rest.rate_limited_until()
    }

    fn stats(&self) -> Option<&LiveStats> {
        Some(&self.shared.stats)
    }
}

async fn get_text(
    rest: &Rest,
    url: &str,
    on_rate_limit: &(dyn Fn(TsMs) + Send + Sync),
) -> Result<String, FillError> {
    let body = rest.get_retrying(url, on_rate_limit).await?;
    String::from_utf8(body).map_err(|_| FillError::Text)
}

/// Fetches what `req` asks for: 1m candles from `kline`, and from `recent-trade` (the newest 60
/// trades: all Bybit serves) the hole's ids; what is older than those stays missing, counted.
async fn run_fill(
    rest: Rest,
    req: FillRequest,
    on_rate_limit: Box<dyn Fn(TsMs) + Send + Sync>,
) -> FillDone<FillError> {
    let mut done = FillDone::begin(&req).await;
    if let Some(from) = req.candles_from {
        let url = kline_url("", &req.symbol, from, 1000);
        match get_text(&rest, &url, &*on_rate_limit)
            .await
            .and_then(|b| parse_klines(&b, &req.symbol).map_err(FillError::from))
        {
            Ok(c) => {
                let now = now_ms();
                // the running minute is not a closed candle yet
                done.candles = c
                    .into_iter()
                    .filter(|c| c.open_ms + 60_000 <= now)
                    .collect();
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
    let url = recent_trade_url("", &req.symbol, RECENT_TRADE_MAX_SPOT);
    match get_text(&rest, &url, &*on_rate_limit)
        .await
        .and_then(|b| parse_recent_trades(&b, &req.symbol).map_err(FillError::from))
    {
        Ok(trades) => {
            let stop = req.stop_at.load(Ordering::Relaxed);
            done.trades = trades
                .into_iter()
                .filter(|(_, t)| t.trade_id >= from && (stop == 0 || t.trade_id < stop))
                .collect();
        }
        Err(e) => done.error = Some(e),
    }
    done
}
