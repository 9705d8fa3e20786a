//! Binance local order books (`[binance] depth = true`): the connections hand each
//! `depthUpdate` frame to one task that keeps a [`BinanceBook`] per symbol by Binance's
//! documented procedure, fetches `GET /api/v3/depth` when a book needs a snapshot (at start, and
//! after any gap), and publishes the top levels with their state through a [`BookOut`] (to the
//! ladder and to the engine's liquidity rules). Frames are handed over with `try_send`: when the task falls behind, a dropped frame
//! is counted and shows as the gap it is (the book resyncs), never as a silently wrong book.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::mpsc;

use super::rest::{RestClient, RestError};
use crate::book::BookMachine;
use crate::book::binance::{BinanceBook, Flavor, parse_diff, parse_snapshot};
use crate::domain::{BookSync, Symbol, Venue, VenueSymbol};
use crate::sources::books::{BookOut, Kept};

/// Frames queued for the book task before new ones are dropped (and the book resyncs).
const QUEUE: usize = 8192;
/// Levels of each side fetched in a snapshot (weight 50) and kept.
pub const SNAPSHOT_LEVELS: u32 = 1000;

/// The connections' end: where depth frames go.
#[derive(Debug)]
pub(crate) struct DepthFeed {
    tx: flume::Sender<String>,
    /// Frames dropped because the book task was behind (each breaks that book's chain).
    pub dropped: AtomicU64,
}

impl DepthFeed {
    /// Hands a `depthUpdate` frame to the book task; a full queue drops it (counted): the
    /// book's next diff then shows the gap and the book resyncs.
    pub fn push(&self, text: &str) {
        if self.tx.try_send(text.to_string()).is_err() {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Whether `text` is a `depthUpdate` frame (checked before the trade parser sees it).
pub fn is_depth(text: &str) -> bool {
    text.contains("\"e\":\"depthUpdate\"")
}

/// Starts the book task; it ends when every [`DepthFeed`] clone is gone.
pub(crate) fn spawn(rest: RestClient, out: BookOut, stale_after: Duration) -> Arc<DepthFeed> {
    let (tx, rx) = flume::bounded(QUEUE);
    let feed = Arc::new(DepthFeed {
        tx,
        dropped: AtomicU64::new(0),
    });
    tokio::spawn(run(rx, rest, out, stale_after));
    feed
}

struct Entry {
    kept: Kept<BinanceBook>,
    fetching: bool,
}

async fn run(rx: flume::Receiver<String>, rest: RestClient, out: BookOut, stale_after: Duration) {
    let mut books: HashMap<Symbol, Entry> = HashMap::new();
    let (snap_tx, mut snap_rx) = mpsc::unbounded_channel::<(Symbol, Result<Vec<u8>, RestError>)>();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut skipped = 0u64;
    loop {
        tokio::select! {
            text = rx.recv_async() => {
                let Ok(text) = text else {
                    // the source stopped: what it kept is no longer the venue's book
                    out.mark(Venue::Binance, BookSync::Stale);
                    return;
                };
                let diff = match parse_diff(&text) {
                    Ok(d) => d,
                    Err(e) => {
                        skipped += 1;
                        tracing::warn!(skipped, "Binance depth frame skipped: {e}");
                        continue;
                    }
                };
                let Ok(sym) = Symbol::new(&diff.symbol) else { continue };
                let e = books.entry(sym).or_insert_with(|| Entry {
                    kept: Kept::new(BinanceBook::new(Flavor::Spot)),
                    fetching: false,
                });
                let was_stale = e.kept.seen();
                let before = e.kept.machine.status();
                e.kept.machine.on_diff(diff);
                fetch_if_needed(sym, e, &rest, &snap_tx);
                let changed = before.state != e.kept.machine.status().state || was_stale;
                if publish(sym, e, &out, changed).await.is_err() {
                    return;
                }
            }
            Some((sym, answer)) = snap_rx.recv() => {
                let Some(e) = books.get_mut(&sym) else { continue };
                e.fetching = false;
                match answer.map_err(|e| e.to_string()).and_then(|b| {
                    parse_snapshot(&String::from_utf8_lossy(&b)).map_err(|e| e.to_string())
                }) {
                    Ok(snap) => {
                        e.kept.machine.on_snapshot(snap);
                        tracing::info!("{sym} book: snapshot applied, {:?}", e.kept.machine.status().state);
                    }
                    Err(why) => tracing::warn!("{sym} book: the depth snapshot failed ({why}); trying again"),
                }
                fetch_if_needed(sym, e, &rest, &snap_tx);
                if publish(sym, e, &out, true).await.is_err() {
                    return;
                }
            }
            _ = tick.tick() => {
                for (sym, e) in books.iter_mut() {
                    if (e.kept.went_stale(stale_after) || e.kept.held())
                        && publish(*sym, e, &out, true).await.is_err()
                    {
                        return;
                    }
                }
            }
        }
    }
}

/// Starts a snapshot fetch when the book asks for one and none is running.
fn fetch_if_needed(
    sym: Symbol,
    e: &mut Entry,
    rest: &RestClient,
    tx: &mpsc::UnboundedSender<(Symbol, Result<Vec<u8>, RestError>)>,
) {
    if e.fetching || e.kept.machine.need().is_none() {
        return;
    }
    e.fetching = true;
    let (rest, tx) = (rest.clone(), tx.clone());
    tokio::spawn(async move {
        // a failed fetch is tried again, a little later
        let answer = rest.depth(sym, SNAPSHOT_LEVELS, &|_| {}).await;
        if answer.is_err() {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        let _ = tx.send((sym, answer));
    });
}

/// Publishes the book through [`Kept::publish`]. Err: the engine is gone.
async fn publish(
    sym: Symbol,
    e: &mut Entry,
    out: &BookOut,
    now: bool,
) -> Result<(), crate::pipeline::EngineGone> {
    e.kept
        .publish(VenueSymbol::new(Venue::Binance, sym), out, now)
        .await
}
