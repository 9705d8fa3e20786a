//! Local order books on the shared live-feed engine (`depth = true` in `[okx]`, `[bybit]`,
//! `[kraken]`, `[coinbase]`): the connection hands each book frame to one task per source,
//! which keeps the venue's machine ([`crate::book`]) per symbol and publishes through the
//! [`BookOut`] every venue uses. What is a venue's own (parsing, its machine, what a symbol
//! needs before its book can be read) is behind [`VenueBooks`]; the rest is here, once:
//!
//! - a book that needs a fresh snapshot (checksum mismatch, gap, venue restart) has its book
//!   channel unsubscribed and subscribed again on the connection (the venues send a snapshot on
//!   subscribe), counted in the status detail; asked again if no snapshot came within
//!   [`RETRY`];
//! - a reconnect discards every book of the source (a book across a disconnect is not the
//!   venue's) until the new connection's snapshot arrives;
//! - a frame that cannot be read, or one dropped because the task fell behind, is counted and
//!   resyncs every book (which book it changed is unknown), never kills the feed.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use super::session::BoxFut;
use super::source::LiveStats;
use crate::book::{BookError, BookMachine, BookState, Need, Outcome, Reason};
use crate::domain::{BookSync, Symbol, Venue, VenueSymbol};
use crate::pipeline::{EngineGone, EventSink};
use crate::sources::books::{BookOut, Kept};

/// Frames queued for the book task before new ones are dropped (and the books resync).
const QUEUE: usize = 8192;
/// A book still waiting for its snapshot this long after it was asked for is asked again.
pub(crate) const RETRY: Duration = Duration::from_secs(10);

/// What the connection hands the book task.
enum Input {
    Frame(String),
    /// The connection ended: every book is void until the next one's snapshots.
    Disconnected,
}

/// Why a frame gave no book messages.
#[derive(Debug)]
pub(crate) enum Unreadable {
    /// Not a book message that can be read: counted and skipped; the books resync.
    Bad(BookError),
    /// `symbol`'s book cannot be read before [`VenueBooks::prepare`] was done for it (Kraken:
    /// its precisions are not known yet).
    Unprepared(Symbol),
}

impl From<BookError> for Unreadable {
    fn from(e: BookError) -> Self {
        Unreadable::Bad(e)
    }
}

/// A venue's half of its book task.
pub(crate) trait VenueBooks: Send + 'static {
    type Machine: BookMachine + Send + 'static;
    type Msg: Send + 'static;
    /// What [`VenueBooks::prepare`] fetches for a symbol (Kraken: its precisions).
    type Prep: Send + 'static;
    const VENUE: Venue;

    /// The book messages of a frame, each with its symbol.
    fn parse(&self, text: &str) -> Result<Vec<(Symbol, Self::Msg)>, Unreadable>;
    /// A fresh machine for `symbol` (called once its frames can be parsed).
    fn machine(&self, symbol: Symbol) -> Self::Machine;
    fn apply(m: &mut Self::Machine, msg: &Self::Msg) -> Outcome;
    /// Throws the book away (see e.g. [`crate::book::okx::OkxBook::discard`]).
    fn discard(m: &mut Self::Machine, reason: Reason);
    /// Fetches what `symbol`'s book needs before its frames can be read; None: nothing.
    fn prepare(&self, _symbol: Symbol) -> Option<BoxFut<'static, Result<Self::Prep, String>>> {
        None
    }
    fn prepared(&mut self, _symbol: Symbol, _prep: Self::Prep) {}
}

/// The connection's end of a book task.
pub(crate) struct BookFeed {
    tx: flume::Sender<Input>,
    /// Set when a frame could not be queued: the task resyncs every book.
    lost: Arc<AtomicBool>,
    stats: Arc<LiveStats>,
    /// Symbols whose book channel the connection must subscribe again (taken once, by the
    /// connection loop).
    resubscribes: Mutex<Option<mpsc::UnboundedReceiver<Symbol>>>,
}

impl BookFeed {
    /// Hands a book frame to the task; a full queue drops it (counted) and resyncs the books.
    pub fn push(&self, text: &str) {
        if self.tx.try_send(Input::Frame(text.to_string())).is_err() {
            self.dropped();
        }
    }

    /// The connection ended: the books are void until the next connection's snapshots.
    pub fn disconnected(&self) {
        if self.tx.try_send(Input::Disconnected).is_err() {
            self.dropped();
        }
    }

    fn dropped(&self) {
        self.stats.book_dropped.fetch_add(1, Ordering::Relaxed);
        self.lost.store(true, Ordering::Relaxed);
    }

    /// Where the symbols to resubscribe come from (once; None afterwards).
    pub fn take_resubscribes(&self) -> Option<mpsc::UnboundedReceiver<Symbol>> {
        match self.resubscribes.lock() {
            Ok(mut r) => r.take(),
            Err(p) => p.into_inner().take(),
        }
    }
}

/// Starts the book task when `depth` is on and the pipeline keeps books; it ends when the
/// [`BookFeed`] is dropped (the source stopped), marking the venue's books stale.
pub(crate) fn start<B: VenueBooks>(
    depth: bool,
    levels: usize,
    venue: B,
    sink: &EventSink,
    stats: &Arc<LiveStats>,
    stale_after: Duration,
) -> Option<Arc<BookFeed>> {
    let board = sink.books().filter(|_| depth)?;
    let out = BookOut::new(board.clone(), sink.clone(), levels);
    let (tx, rx) = flume::bounded(QUEUE);
    let (resub_tx, resub_rx) = mpsc::unbounded_channel();
    let lost = Arc::new(AtomicBool::new(false));
    let feed = Arc::new(BookFeed {
        tx,
        lost: lost.clone(),
        stats: stats.clone(),
        resubscribes: Mutex::new(Some(resub_rx)),
    });
    let (prep_tx, prep_rx) = mpsc::unbounded_channel();
    let task = Task {
        venue,
        out,
        sink: sink.clone(),
        stats: stats.clone(),
        lost,
        resub_tx,
        books: HashMap::new(),
        preparing: HashSet::new(),
        prep_tx,
        stale_after,
    };
    tokio::spawn(task.run(rx, prep_rx));
    Some(feed)
}

struct Entry<M> {
    kept: Kept<M>,
    /// When a snapshot was last asked for (or the book started, or the connection came back).
    asked: Instant,
}

type Prepared<P> = (Symbol, Result<P, String>);

struct Task<B: VenueBooks> {
    venue: B,
    out: BookOut,
    sink: EventSink,
    stats: Arc<LiveStats>,
    lost: Arc<AtomicBool>,
    resub_tx: mpsc::UnboundedSender<Symbol>,
    books: HashMap<Symbol, Entry<B::Machine>>,
    preparing: HashSet<Symbol>,
    prep_tx: mpsc::UnboundedSender<Prepared<B::Prep>>,
    stale_after: Duration,
}

impl<B: VenueBooks> Task<B> {
    async fn run(
        mut self,
        rx: flume::Receiver<Input>,
        mut prep_rx: mpsc::UnboundedReceiver<Prepared<B::Prep>>,
    ) {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            let done = tokio::select! {
                input = rx.recv_async() => match input {
                    Ok(Input::Frame(text)) => self.on_frame(&text).await,
                    Ok(Input::Disconnected) => self.discard_all(Reason::Disconnected).await,
                    Err(_) => {
                        // the source stopped: what it kept is no longer the venue's book
                        self.out.mark(B::VENUE, BookSync::Stale);
                        return;
                    }
                },
                Some((symbol, result)) = prep_rx.recv() => {
                    self.on_prepared(symbol, result);
                    Ok(())
                }
                _ = tick.tick() => self.on_tick().await,
            };
            if done.is_err() {
                return; // the engine is gone
            }
        }
    }

    async fn on_frame(&mut self, text: &str) -> Result<(), EngineGone> {
        if self.lost.swap(false, Ordering::Relaxed) {
            self.discard_all(Reason::Lost).await?;
        }
        let msgs = match self.venue.parse(text) {
            Ok(msgs) => msgs,
            Err(Unreadable::Bad(e)) => {
                self.stats.skipped(&self.sink, false, e.to_string(), text);
                return self.discard_all(Reason::Lost).await;
            }
            Err(Unreadable::Unprepared(symbol)) => {
                self.stats.book_unready.fetch_add(1, Ordering::Relaxed);
                self.prepare(symbol);
                return Ok(());
            }
        };
        for (symbol, msg) in msgs {
            let e = match self.books.entry(symbol) {
                std::collections::hash_map::Entry::Occupied(o) => o.into_mut(),
                std::collections::hash_map::Entry::Vacant(v) => v.insert(Entry {
                    kept: Kept::new(self.venue.machine(symbol)),
                    asked: Instant::now(),
                }),
            };
            let was_stale = e.kept.seen();
            let before = e.kept.machine.status().state;
            let outcome = B::apply(&mut e.kept.machine, &msg);
            let after = e.kept.machine.status().state;
            if let Outcome::Resync { reason, .. } = outcome {
                tracing::warn!(source = self.sink.name(), "{symbol} book: {reason}");
            }
            if outcome.need() == Some(Need::Resubscribe) {
                resubscribe(&self.resub_tx, &self.stats, symbol, e);
            }
            if after == BookState::Synced && before != after {
                tracing::info!(source = self.sink.name(), "{symbol} book: snapshot applied");
            }
            let key = VenueSymbol::new(B::VENUE, symbol);
            e.kept
                .publish(key, &self.out, before != after || was_stale)
                .await?;
        }
        Ok(())
    }

    /// Every book is void (`reason`); after a lost frame each is subscribed again, after a
    /// disconnect the next connection's subscribe brings the snapshots.
    async fn discard_all(&mut self, reason: Reason) -> Result<(), EngineGone> {
        if !self.books.is_empty() {
            tracing::info!(
                source = self.sink.name(),
                "{} book(s) discarded ({reason}); each comes back with its next snapshot",
                self.books.len()
            );
        }
        for (symbol, e) in self.books.iter_mut() {
            B::discard(&mut e.kept.machine, reason);
            if reason == Reason::Disconnected {
                e.asked = Instant::now();
            } else {
                resubscribe(&self.resub_tx, &self.stats, *symbol, e);
            }
            let key = VenueSymbol::new(B::VENUE, *symbol);
            e.kept.publish(key, &self.out, true).await?;
        }
        Ok(())
    }

    fn prepare(&mut self, symbol: Symbol) {
        if self.preparing.contains(&symbol) {
            return;
        }
        let Some(fetch) = self.venue.prepare(symbol) else {
            return;
        };
        self.preparing.insert(symbol);
        let tx = self.prep_tx.clone();
        tokio::spawn(async move {
            let result = fetch.await;
            if result.is_err() {
                // a failed fetch is tried again with a later frame, not at once
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
            let _ = tx.send((symbol, result));
        });
    }

    fn on_prepared(&mut self, symbol: Symbol, result: Result<B::Prep, String>) {
        self.preparing.remove(&symbol);
        match result {
            Ok(prep) => {
                self.venue.prepared(symbol, prep);
                // its snapshot went by unread: ask for another
                let n = self.stats.book_resubscribes.fetch_add(1, Ordering::Relaxed) + 1;
                tracing::info!(
                    "{symbol} book: readable now; subscribing it again (resubscribe {n})"
                );
                let _ = self.resub_tx.send(symbol);
            }
            Err(why) => self.stats.record_error(
                &self.sink,
                format!("{symbol} book cannot be read yet: {why}; trying again"),
            ),
        }
    }

    /// Once a second: books with nothing for `stale_after` are published stale; one still
    /// waiting for a snapshot [`RETRY`] after it was asked for is asked again.
    async fn on_tick(&mut self) -> Result<(), EngineGone> {
        if self.lost.swap(false, Ordering::Relaxed) {
            self.discard_all(Reason::Lost).await?;
        }
        for (symbol, e) in self.books.iter_mut() {
            if e.kept.machine.need().is_some() && e.asked.elapsed() > RETRY {
                resubscribe(&self.resub_tx, &self.stats, *symbol, e);
            }
            if e.kept.went_stale(self.stale_after) || e.kept.held() {
                let key = VenueSymbol::new(B::VENUE, *symbol);
                e.kept.publish(key, &self.out, true).await?;
            }
        }
        Ok(())
    }
}

/// Asks the connection to subscribe `symbol`'s book channel again (counted).
fn resubscribe<M>(
    tx: &mpsc::UnboundedSender<Symbol>,
    stats: &LiveStats,
    symbol: Symbol,
    e: &mut Entry<M>,
) {
    e.asked = Instant::now();
    let n = stats.book_resubscribes.fetch_add(1, Ordering::Relaxed) + 1;
    tracing::info!("{symbol} book: subscribing its book channel again (resubscribe {n})");
    // the connection loop is gone only when the source stops
    let _ = tx.send(symbol);
}
