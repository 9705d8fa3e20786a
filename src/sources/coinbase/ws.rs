//! Coinbase Exchange on the shared live-feed engine ([`crate::sources::live`]): one
//! connection for every product. What is Coinbase's own is here: the subscribe that must go out
//! within 5 s of connecting (the engine sends the first control message at once), the
//! `matches`, `ticker` and `heartbeat` channels (a heartbeat per product every second, so
//! silence means a dead connection, and its `last_trade_id` shows a hole before the next match
//! does), confirmations by the `subscriptions` message that lists what is streamed, and errors
//! that refuse a whole subscribe for one unknown product (that product is dropped and the rest
//! subscribed again). Reconnects, product changes and gap tracking are the engine's. With
//! `depth = true` the public `level2_batch` channel is subscribed too and its `snapshot` and
//! `l2update` messages go to the book task ([`crate::sources::live::books`]); the channel has
//! no sequence and no checksum, so a book found crossed has its `level2_batch` unsubscribed and
//! subscribed again (Coinbase answers a subscribe with a fresh snapshot), on the same
//! connection, and a reconnect discards every book until the new connection's snapshots.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::mpsc;

use super::CoinbaseConfig;
use super::control::confirms;
use super::fill::run_fill;
use super::rest::{RestClient, RestError};
use super::wire::{Frame, parse_frame};
use crate::book::coinbase::{BookMsg, CoinbaseBook};
use crate::book::{BookError, Outcome, Reason};
use crate::domain::{Symbol, TsMs, Venue, now_ms};
use crate::pipeline::EventSink;
use crate::sources::live::books::{self, BookFeed, Unreadable, VenueBooks};
use crate::sources::live::control::Checker;
use crate::sources::live::session::{BoxFut, End, LiveVenue, Session, Settings};
use crate::sources::live::source::{self, LiveStats};
use crate::sources::live::{FillDone, FillRequest, GapTracker};

/// The channels every product is subscribed to.
pub(crate) const CHANNELS: [&str; 3] = ["matches", "ticker", "heartbeat"];
/// The order book channel (`depth = true`): the public, unauthenticated form of `level2`
/// (the same `snapshot` and `l2update` messages, changes batched every 50 ms).
pub(crate) const BOOK_CHANNEL: &str = "level2_batch";
/// Our own cap on messages we send (Coinbase allows 100 a second per IP).
const SENDS_PER_SEC: usize = 10;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// What the connection needs.
pub(crate) struct Shared {
    pub cfg: CoinbaseConfig,
    pub rest: RestClient,
    pub sink: EventSink,
    pub stats: Arc<LiveStats>,
}

impl Shared {
    pub(crate) fn record_error(&self, msg: String) {
        self.stats.record_error(&self.sink, msg);
    }
}

/// `{"type":"subscribe","product_ids":[..],"channels":["matches","ticker","heartbeat"]}`
/// (with `level2_batch` when `depth`), or the same with `unsubscribe`.
pub(crate) fn control_message(kind: &str, products: &[Symbol], depth: bool) -> String {
    let mut channels = CHANNELS.to_vec();
    if depth {
        channels.push(BOOK_CHANNEL);
    }
    message(kind, products, &channels)
}

/// Unsubscribes `product`'s `level2_batch` and subscribes it again: Coinbase then sends a
/// fresh snapshot.
pub(crate) fn book_resubscribe(product: Symbol) -> Vec<String> {
    ["unsubscribe", "subscribe"]
        .map(|kind| message(kind, &[product], &[BOOK_CHANNEL]))
        .to_vec()
}

fn message(kind: &str, products: &[Symbol], channels: &[&str]) -> String {
    let ids: Vec<&str> = products.iter().map(|p| p.as_str()).collect();
    serde_json::json!({"type": kind, "product_ids": ids, "channels": channels}).to_string()
}

/// Whether `text` is a `level2` message (`snapshot` or `l2update`) for the book task.
pub(crate) fn is_book(text: &str) -> bool {
    text.contains(r#""type":"l2update""#) || text.contains(r#""type":"snapshot""#)
}

/// Whether `text` names `product` as a whole word (`FOO-USD` in "FOO-USD is not a valid
/// product", not in "FOO-USDC").
pub(crate) fn names_product(text: &str, product: &str) -> bool {
    let hay = text.to_ascii_uppercase();
    let part = |b: u8| b.is_ascii_alphanumeric() || b == b'-';
    hay.match_indices(product).any(|(i, _)| {
        let before = i.checked_sub(1).map(|j| hay.as_bytes()[j]);
        let after = hay.as_bytes().get(i + product.len()).copied();
        !before.is_some_and(part) && !after.is_some_and(part)
    })
}

/// The connection as the engine sees it.
struct Feed {
    shared: Arc<Shared>,
    /// The book task, when `depth` is on.
    books: Option<Arc<BookFeed>>,
}

impl Feed {
    /// The connection's venue half; starts the book task when `depth` is on.
    fn new(shared: Arc<Shared>) -> Feed {
        let c = &shared.cfg;
        let books = books::start(
            c.depth,
            c.depth_levels,
            CoinbaseBooks,
            &shared.sink,
            &shared.stats,
            Duration::from_secs(c.stale_after_secs),
        );
        Feed { shared, books }
    }
}

/// Coinbase's `level2_batch` for the shared book task.
struct CoinbaseBooks;

impl VenueBooks for CoinbaseBooks {
    type Machine = CoinbaseBook;
    type Msg = BookMsg;
    type Prep = ();
    const VENUE: Venue = Venue::Coinbase;

    fn parse(&self, text: &str) -> Result<Vec<(Symbol, BookMsg)>, Unreadable> {
        let msg = crate::book::coinbase::parse(text)?;
        let symbol = Symbol::new(&msg.product_id).map_err(|_| BookError::NotBook {
            venue: "Coinbase",
            what: "a product_id that is not a product id",
        })?;
        Ok(vec![(symbol, msg)])
    }

    fn machine(&self, _symbol: Symbol) -> CoinbaseBook {
        CoinbaseBook::new()
    }

    fn apply(m: &mut CoinbaseBook, msg: &BookMsg) -> Outcome {
        m.on_message(msg)
    }

    fn discard(m: &mut CoinbaseBook, reason: Reason) {
        m.discard(reason);
    }
}

impl LiveVenue for Feed {
    type Error = RestError;

    fn title(&self) -> &'static str {
        "Coinbase"
    }

    fn sink(&self) -> &EventSink {
        &self.shared.sink
    }

    fn settings(&self) -> Settings {
        let cfg = &self.shared.cfg;
        Settings {
            sends_per_sec: SENDS_PER_SEC,
            connect_timeout: CONNECT_TIMEOUT,
            stale_after: Duration::from_secs(cfg.stale_after_secs),
            backoff_initial: Duration::from_millis(cfg.backoff_initial_ms),
            backoff_max: Duration::from_millis(cfg.backoff_max_ms),
            rollover: None,
            keepalive: None,
            stop_when_refused: true,
            confirm_on_send: false,
            poll_candles: None,
        }
    }

    fn url(&self) -> String {
        self.shared.cfg.ws_url.trim().to_string()
    }

    fn requests(&self, subscribe: bool, symbols: &[Symbol]) -> (Vec<String>, Vec<u64>) {
        let kind = if subscribe {
            "subscribe"
        } else {
            "unsubscribe"
        };
        let depth = self.books.is_some();
        (vec![control_message(kind, symbols, depth)], Vec::new())
    }

    fn take_resubscribes(&self) -> Option<mpsc::UnboundedReceiver<Symbol>> {
        self.books.as_ref()?.take_resubscribes()
    }

    fn book_resubscribe(&self, symbol: Symbol) -> Vec<String> {
        book_resubscribe(symbol)
    }

    fn disconnected(&self) {
        if let Some(b) = &self.books {
            b.disconnected();
        }
    }

    fn on_text(&self, text: &str, s: &mut Session<'_, Self>) -> Option<End> {
        let now = now_ms();
        if let Some(books) = &self.books
            && is_book(text)
        {
            s.data(now);
            books.push(text);
            return None;
        }
        match parse_frame(text, now) {
            Ok(Frame::Trade { event, .. }) => s.event(event),
            // quotes and statistics never open a hole
            Ok(Frame::Ticker { quote, stats }) => {
                quote.into_iter().chain([stats]).for_each(|ev| s.event(ev))
            }
            Ok(Frame::Heartbeat {
                product,
                last_trade_id,
                ..
            }) => s.latest_id(product, last_trade_id, now),
            Ok(Frame::Subscriptions { channels }) => {
                s.alive();
                tracing::debug!(source = self.shared.sink.name(), ?channels, "subscribed");
                s.confirm_where(|c| confirms(&channels, c));
            }
            Ok(Frame::Error { message, reason }) => {
                s.alive();
                return self.on_error_frame(&message, reason.as_deref(), s);
            }
            Ok(Frame::AdvancedTrade { channel }) => {
                self.shared.stats.ignored.fetch_add(1, Ordering::Relaxed);
                return Some(End::reconnect(format!(
                    "{} speaks the Coinbase Advanced Trade API ({channel:?} frames), which tickwatch does not support; set [coinbase].ws_url to the Exchange feed wss://ws-feed.exchange.coinbase.com",
                    self.shared.cfg.ws_url
                )));
            }
            Ok(Frame::Unsupported { kind }) => {
                s.alive();
                self.shared.stats.ignored.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(source = self.shared.sink.name(), "ignored {kind} frame");
            }
            Err(e) => {
                let sink = &self.shared.sink;
                self.shared
                    .stats
                    .skipped(sink, e.is_rejection(), e.to_string(), text);
            }
        }
        None
    }

    fn fill(
        &self,
        req: FillRequest,
        on_rate_limit: Box<dyn Fn(TsMs) + Send + Sync>,
    ) -> BoxFut<'static, FillDone<RestError>> {
        Box::pin(run_fill(self.shared.rest.clone(), req, on_rate_limit))
    }

    fn unknown_symbol(&self, e: &RestError) -> Option<Symbol> {
        match e {
            RestError::UnknownProduct { product } => Some(*product),
            _ => None,
        }
    }

    fn not_listed(&self, symbol: Symbol) -> String {
        format!("{symbol} is not a Coinbase Exchange product")
    }

    fn rate_limited_until(&self) -> TsMs {
        self.shared.rest.rate_limited_until()
    }

    fn stats(&self) -> Option<&LiveStats> {
        Some(&self.shared.stats)
    }
}

impl Feed {
    /// `{"type":"error"}`: when it names products of ours, they are dropped and the others
    /// subscribed again (Coinbase refuses the whole subscribe for one unknown product).
    fn on_error_frame(
        &self,
        message: &str,
        reason: Option<&str>,
        s: &mut Session<'_, Self>,
    ) -> Option<End> {
        // the venue's words: shown, never obeyed by a terminal
        let text = crate::format::visible(&match reason {
            Some(r) if !r.is_empty() => format!("{message} ({r})"),
            _ => message.to_string(),
        });
        let mut ours: Vec<Symbol> = s
            .symbols()
            .into_iter()
            .filter(|p| names_product(&text, p.as_str()))
            .collect();
        // a product being added that Coinbase refuses: the asker hears why, and it is forgotten
        let mut refused_new = false;
        ours.retain(|p| {
            let Some(c) = s.take_subscribe(*p) else {
                return true;
            };
            let why = format!("Coinbase refused to subscribe {p}: {text}");
            s.forget(*p, false);
            self.shared.record_error(why.clone());
            c.answer(Err(why));
            refused_new = true;
            false
        });
        // one already dropped (REST answered 404 first) still spoiled this subscribe
        let dropped_before = self
            .shared
            .stats
            .invalid
            .lock()
            .is_ok_and(|inv| inv.iter().any(|p| names_product(&text, p.as_str())));
        if ours.is_empty() && !dropped_before {
            if refused_new && !s.symbols().is_empty() {
                // it may have spoiled a subscribe that named others too (after a reconnect)
                s.resubscribe_all();
            } else if !refused_new {
                self.shared.record_error(format!("Coinbase error: {text}"));
            }
            return None;
        }
        for p in ours {
            self.shared.record_error(format!(
                "Coinbase refused product {p}: {text}; remove it from [coinbase].products"
            ));
            if let Some(end) = s.forget(p, true) {
                return Some(end);
            }
        }
        s.resubscribe_all();
        None
    }
}

/// Runs the connection until the engine goes away (`Err`) or Coinbase refused every product
/// (`Ok`).
pub(crate) fn run_conn(
    shared: Arc<Shared>,
    products: Vec<Symbol>,
    cmds: Checker,
) -> crate::sources::SourceFuture {
    let gaps = GapTracker::new(
        Venue::Coinbase,
        &products,
        true,
        false,
        shared.cfg.backfill_candles,
    );
    source::run(Feed::new(shared), gaps, cmds)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscribe_names_every_product_and_the_three_channels() {
        let p = [
            Symbol::new("BTC-USD").unwrap(),
            Symbol::new("eth-usd").unwrap(),
        ];
        let json = |s: &str| serde_json::from_str::<serde_json::Value>(s).unwrap();
        assert_eq!(
            json(&control_message("subscribe", &p, false)),
            serde_json::json!({"type":"subscribe","product_ids":["BTC-USD","ETH-USD"],"channels":["matches","ticker","heartbeat"]})
        );
        assert_eq!(
            json(&control_message("unsubscribe", &p, true)),
            serde_json::json!({"type":"unsubscribe","product_ids":["BTC-USD","ETH-USD"],"channels":["matches","ticker","heartbeat","level2_batch"]})
        );
        let again: Vec<_> = book_resubscribe(p[0]).iter().map(|m| json(m)).collect();
        assert_eq!(
            again,
            [
                serde_json::json!({"type":"unsubscribe","product_ids":["BTC-USD"],"channels":["level2_batch"]}),
                serde_json::json!({"type":"subscribe","product_ids":["BTC-USD"],"channels":["level2_batch"]})
            ]
        );
        assert!(is_book(
            r#"{"type":"l2update","product_id":"BTC-USD","changes":[["buy","1.0","0.5"]]}"#
        ));
        assert!(is_book(
            r#"{"type":"snapshot","product_id":"BTC-USD","bids":[],"asks":[]}"#
        ));
        assert!(!is_book(
            r#"{"type":"subscriptions","channels":[{"name":"level2_batch","product_ids":["BTC-USD"]}]}"#
        ));
    }

    #[test]
    fn an_error_names_a_product_only_as_a_whole_word() {
        assert!(names_product(
            "Failed to subscribe (FOO-USD is not a valid product)",
            "FOO-USD"
        ));
        assert!(names_product("foo-usd is not a valid product", "FOO-USD"));
        assert!(!names_product("FOO-USDC is not a valid product", "FOO-USD"));
        assert!(!names_product("XFOO-USD is not a valid product", "FOO-USD"));
        assert!(!names_product("Failed to subscribe", "FOO-USD"));
    }
}
