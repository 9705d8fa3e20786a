//! A venue that follows all its symbols on one connection, as a [`Source`]: the counters every
//! live venue shows in its status detail ([`LiveStats`]), the reporter that keeps that detail
//! current, and the source itself ([`LiveSource`]) that runs the engine's connection loop with
//! the monitor's symbol changes checked by a [`Checker`]. A venue folder supplies its
//! [`LiveVenue`], its gap tracker settings and its checker; nothing else.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::control::{Check, Checker};
use super::gaps::GapTracker;
use super::rest::Rest;
use super::session::{self, LiveVenue};
use crate::domain::{Symbol, Venue};
use crate::pipeline::{EventSink, Overflow, SourceState};
use crate::sources::net::status::{EventRate, symbol_list};
use crate::sources::{Source, SourceCmd, SourceFuture};

/// What a live venue counts, for its status detail.
#[derive(Debug, Default)]
pub(crate) struct LiveStats {
    /// Events handed to the sink (for the events/s figure).
    pub events: AtomicU64,
    /// Frames skipped because they could not be read or carried bad values.
    pub skipped: AtomicU64,
    /// Of the skipped frames, those rejected for their values (NaN, zero or negative prices).
    pub rejected: AtomicU64,
    /// Well-formed frames of kinds tickwatch does not use.
    pub ignored: AtomicU64,
    /// Trades known to be lost (a hole REST could not fill).
    pub missing: AtomicU64,
    /// Book frames dropped because the book task was behind (the books resynced).
    pub book_dropped: AtomicU64,
    /// Book channels subscribed again to bring a book back into sync.
    pub book_resubscribes: AtomicU64,
    /// Book frames of a symbol whose book could not be read yet (Kraken: precisions unknown).
    pub book_unready: AtomicU64,
    /// Symbols streamed or being subscribed.
    pub symbols: AtomicUsize,
    /// Symbols dropped because the venue does not know them.
    pub invalid: Mutex<Vec<Symbol>>,
    pub last_error: Mutex<Option<String>>,
    /// What the venue adds to the detail (Yahoo: each symbol's market session).
    pub note: Mutex<Option<String>>,
}

impl LiveStats {
    /// Shows and logs a venue error (quoted from outside: made safe first) and keeps it for
    /// the detail.
    pub fn record_error(&self, sink: &EventSink, msg: String) {
        let msg = crate::format::visible(&msg);
        tracing::warn!(source = sink.name(), "{msg}");
        sink.health().record_error(sink.name(), msg.clone());
        if let Ok(mut e) = self.last_error.lock() {
            *e = Some(msg);
        }
    }

    /// Sets what the venue adds to the detail.
    pub fn set_note(&self, note: Option<String>) {
        if let Ok(mut n) = self.note.lock() {
            *n = note;
        }
    }

    /// `symbol` is unknown to the venue (or known again when `invalid` is false).
    pub fn mark_invalid(&self, symbol: Symbol, invalid: bool) {
        if let Ok(mut inv) = self.invalid.lock() {
            inv.retain(|s| *s != symbol);
            if invalid {
                inv.push(symbol);
            }
        }
    }

    pub fn invalid_list(&self) -> String {
        symbol_list(&self.invalid)
    }

    /// A frame that could not be used: counted and shown.
    pub fn skipped(&self, sink: &EventSink, rejection: bool, why: String, text: &str) {
        self.skipped.fetch_add(1, Ordering::Relaxed);
        let shown: String = text.chars().take(120).collect();
        let what = if rejection {
            self.rejected.fetch_add(1, Ordering::Relaxed);
            "frame rejected"
        } else {
            "unreadable frame skipped"
        };
        self.record_error(sink, format!("{what} ({why}): {shown}"));
    }

    /// The engine's counts after a hand-over.
    pub fn counted(&self, sent: u64, symbols: usize, missing: u64) {
        self.events.fetch_add(sent, Ordering::Relaxed);
        self.symbols.store(symbols, Ordering::Relaxed);
        self.missing.store(missing, Ordering::Relaxed);
    }

    /// The status detail: `N <unit>, R events/s`, then what was skipped, lost or refused.
    pub fn detail(&self, unit: &str, rate: f64) -> String {
        let n = self.symbols.load(Ordering::Relaxed);
        let mut detail = format!("{n} {unit}, {rate:.1} events/s");
        let skipped = self.skipped.load(Ordering::Relaxed);
        if skipped > 0 {
            let rejected = self.rejected.load(Ordering::Relaxed);
            detail.push_str(&format!(
                ", {skipped} frames skipped ({rejected} with bad values)"
            ));
        }
        let missing = self.missing.load(Ordering::Relaxed);
        if missing > 0 {
            detail.push_str(&format!(", {missing} trades lost"));
        }
        let books = [
            (
                self.book_resubscribes.load(Ordering::Relaxed),
                "book resubscribes",
            ),
            (
                self.book_dropped.load(Ordering::Relaxed),
                "book frames dropped (task behind)",
            ),
            (
                self.book_unready.load(Ordering::Relaxed),
                "book frames before the pair's precisions",
            ),
        ];
        for (n, what) in books {
            if n > 0 {
                detail.push_str(&format!(", {n} {what}"));
            }
        }
        let invalid = self.invalid_list();
        if !invalid.is_empty() {
            detail.push_str(&format!("; invalid: {invalid}"));
        }
        if let Some(n) = self.note.lock().ok().and_then(|n| n.clone()) {
            detail.push_str(&format!("; {n}"));
        }
        if let Some(e) = self.last_error.lock().ok().and_then(|e| e.clone()) {
            detail.push_str(&format!("; last error: {e}"));
        }
        detail
    }
}

/// How a [`LiveSource`] starts its connection loop once it has its sink.
pub(crate) type Start =
    Box<dyn FnOnce(EventSink, flume::Receiver<SourceCmd>) -> (Arc<LiveStats>, SourceFuture) + Send>;

/// A one-connection live venue as a [`Source`].
pub struct LiveSource {
    name: &'static str,
    /// "OKX": how messages name the venue.
    title: &'static str,
    venue: Venue,
    /// What the status detail calls the symbols ("products" on Coinbase).
    unit: &'static str,
    /// The config key of the symbols (`[coinbase].products`), for the message when every
    /// symbol was refused.
    section: &'static str,
    symbols: usize,
    start: Start,
    control_tx: Option<flume::Sender<SourceCmd>>,
    control_rx: flume::Receiver<SourceCmd>,
}

impl std::fmt::Debug for LiveSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveSource")
            .field("name", &self.name)
            .field("symbols", &self.symbols)
            .finish()
    }
}

impl LiveSource {
    /// `start` builds the venue's [`LiveVenue`] and runs [`run`] with it.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        name: &'static str,
        title: &'static str,
        venue: Venue,
        unit: &'static str,
        section: &'static str,
        symbols: usize,
        start: Start,
    ) -> Self {
        let (control_tx, control_rx) = flume::unbounded();
        LiveSource {
            name,
            title,
            venue,
            unit,
            section,
            symbols,
            start,
            control_tx: Some(control_tx),
            control_rx,
        }
    }
}

impl Source for LiveSource {
    fn name(&self) -> String {
        self.name.into()
    }

    fn overflow(&self) -> Overflow {
        // A live feed cannot pause the exchange; drops are counted and backfilled.
        Overflow::DropNewest
    }

    fn venue(&self) -> Option<Venue> {
        Some(self.venue)
    }

    /// Subscribe: the symbol is checked (spelling, then the venue's REST API), then subscribed
    /// on the connection; the answer comes once the venue confirmed it. While disconnected, a
    /// subscribe waits for the reconnect (answered then).
    fn control(&mut self) -> Option<flume::Sender<SourceCmd>> {
        self.control_tx.take()
    }

    fn run(self: Box<Self>, sink: EventSink) -> SourceFuture {
        let me = *self;
        Box::pin(async move {
            // nobody took the control channel: no changes will come
            drop(me.control_tx);
            sink.set_state(SourceState::Connecting);
            let (stats, conn) = (me.start)(sink.clone(), me.control_rx);
            stats.symbols.store(me.symbols, Ordering::Relaxed);
            let reporter = tokio::spawn(report(stats.clone(), sink.clone(), me.unit));
            let result = conn.await;
            reporter.abort();
            if result.is_err() {
                // the engine has stopped: so do we
                return Ok(());
            }
            let reason = format!(
                "no valid {} left ({} does not know {}); fix {}",
                me.unit,
                me.title,
                stats.invalid_list(),
                me.section
            );
            sink.set_state(SourceState::Failed(reason.clone()));
            sink.finish().await;
            Err(anyhow::anyhow!(reason))
        })
    }
}

/// Runs the venue's connection loop: `Err` when the engine went away (the source stops), `Ok`
/// when the venue refused every symbol.
pub(crate) fn run<V: LiveVenue>(v: V, gaps: GapTracker, cmds: Checker) -> SourceFuture {
    Box::pin(async move {
        session::run(v, gaps, cmds)
            .await
            .map_err(|_| anyhow::anyhow!("the engine stopped"))
    })
}

/// Keeps the status detail current.
async fn report(stats: Arc<LiveStats>, sink: EventSink, unit: &'static str) {
    let mut tick = tokio::time::interval(Duration::from_secs(2));
    let mut rate = EventRate::new();
    loop {
        tick.tick().await;
        let rate = rate.per_sec(stats.events.load(Ordering::Relaxed));
        sink.health()
            .set_detail(sink.name(), Some(stats.detail(unit, rate)));
    }
}

/// What a one-connection venue's connection needs: its config, REST client, sink, counters and
/// request ids.
pub(crate) struct Shared<C> {
    pub cfg: C,
    pub rest: Rest,
    pub sink: EventSink,
    pub stats: Arc<LiveStats>,
    /// Request ids, unique on the connection.
    next_id: AtomicU64,
}

impl<C> Shared<C> {
    /// `n` fresh request ids; returns the first.
    pub fn ids(&self, n: u64) -> u64 {
        self.next_id.fetch_add(n, Ordering::Relaxed) + 1
    }
}

/// How a one-connection venue becomes a [`LiveSource`].
pub(crate) struct OneConnection<C> {
    /// "kraken": the source's name.
    pub name: &'static str,
    /// "Kraken": how answers name the venue.
    pub title: &'static str,
    pub venue: Venue,
    /// "pairs": what the status detail calls the symbols.
    pub unit: &'static str,
    /// "[kraken].symbols"
    pub key: &'static str,
    pub cfg: C,
    pub rest: Rest,
    pub symbols: Vec<Symbol>,
    /// Trade holes can be fetched from REST (see [`GapTracker::new`]).
    pub refill: bool,
    /// 1m candles are streamed.
    pub klines: bool,
    /// 1m candles fetched at start.
    pub warm_candles: usize,
    /// Why a symbol cannot be the venue's, if it cannot.
    pub spelling: fn(Symbol) -> Option<String>,
    /// Makes the REST check of a new symbol, given the venue's REST client.
    pub check: Box<dyn FnOnce(Rest) -> Check + Send>,
}

impl<C: Send + Sync + 'static> OneConnection<C> {
    /// The source; `feed` makes the venue's [`LiveVenue`] once the sink is known.
    pub fn source<V: LiveVenue>(self, feed: fn(Arc<Shared<C>>) -> V) -> LiveSource {
        let n = self.symbols.len();
        let (name, title, venue, unit, key) =
            (self.name, self.title, self.venue, self.unit, self.key);
        let start = Box::new(move |sink: EventSink, cmds| {
            let stats = Arc::new(LiveStats::default());
            let gaps = GapTracker::new(
                self.venue,
                &self.symbols,
                self.refill,
                self.klines,
                self.warm_candles,
            );
            let check = (self.check)(self.rest.clone());
            let checker = Checker::new(cmds, title, sink.name(), self.spelling, check);
            let shared = Arc::new(Shared {
                cfg: self.cfg,
                rest: self.rest,
                sink,
                stats: stats.clone(),
                next_id: AtomicU64::new(0),
            });
            (stats, run(feed(shared), gaps, checker))
        });
        LiveSource::new(name, title, venue, unit, key, n, start)
    }
}
