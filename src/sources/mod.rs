//! Market data sources. Each speaks one venue's protocol (or reads one kind of file) and emits
//! normalized [`MarketEvent`](crate::domain::MarketEvent)s into an [`EventSink`]. A source never
//! touches the screen or the database.

pub mod alphavantage;
pub mod binance;
pub(crate) mod books;
pub mod bybit;
pub mod coinbase;
pub mod kraken;
pub(crate) mod live;
pub mod nats;
pub mod net;
pub mod okx;
pub mod replay;
pub mod sim;
pub mod yahoo;

use std::future::Future;
use std::pin::Pin;

use crate::domain::{Symbol, Venue};
use crate::pipeline::{EventSink, Overflow};

pub type SourceFuture = Pin<Box<dyn Future<Output = anyhow::Result<()>> + Send + 'static>>;

/// A running market data source.
pub trait Source: Send + 'static {
    /// Short name shown in the status bar and logs ("sim", "replay", "binance").
    fn name(&self) -> String;

    /// What to do when the engine falls behind: sources that can pause block, live feeds drop
    /// and count.
    fn overflow(&self) -> Overflow;

    /// Runs until the input ends, the engine goes away, or the source fails for good. Reports
    /// its state through `sink.set_state` as it goes.
    fn run(self: Box<Self>, sink: EventSink) -> SourceFuture;

    /// The venue whose symbols this source streams, for sources whose symbols can change while
    /// they run (None for files and one-off jobs).
    fn venue(&self) -> Option<Venue> {
        None
    }

    /// A channel to change the source's symbols while it runs, taken once before [`run`]
    /// (Source::run). None: the source's symbols are fixed.
    fn control(&mut self) -> Option<flume::Sender<SourceCmd>> {
        None
    }
}

/// Where a [`SourceCmd`]'s answer goes.
pub type CmdReply = flume::Sender<Result<(), String>>;

/// Which way a symbol change goes (venues track their pending changes by it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Subscribe,
    Unsubscribe,
}

/// How long a venue may take to confirm a subscribe or unsubscribe before the change is given
/// up (and answered with the reason).
pub const CONFIRM_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// A change to a running source's symbols, asked for by the monitor (the watchlist's add and
/// remove). The source answers on `reply` once the change took effect on the wire, or with
/// the reason it could not (unknown symbol, not connected, already subscribed...), worded for
/// the status line.
#[derive(Debug)]
pub enum SourceCmd {
    Subscribe { symbol: Symbol, reply: CmdReply },
    Unsubscribe { symbol: Symbol, reply: CmdReply },
}

impl SourceCmd {
    pub fn symbol(&self) -> Symbol {
        match self {
            SourceCmd::Subscribe { symbol, .. } | SourceCmd::Unsubscribe { symbol, .. } => *symbol,
        }
    }

    /// Answers the command (the asker may have gone: that is fine).
    pub fn answer(self, result: Result<(), String>) {
        let (SourceCmd::Subscribe { reply, .. } | SourceCmd::Unsubscribe { reply, .. }) = self;
        let _ = reply.send(result);
    }
}

/// Each running source's venue and control channel, in start order.
type ControlList = Vec<(Venue, flume::Sender<SourceCmd>)>;

/// The control channels of the running sources, by venue: what the monitor's watchlist uses to
/// subscribe and unsubscribe.
#[derive(Debug, Clone, Default)]
pub struct SourceControls {
    inner: std::sync::Arc<std::sync::Mutex<ControlList>>,
}

impl SourceControls {
    pub fn register(&self, venue: Venue, tx: flume::Sender<SourceCmd>) {
        match self.inner.lock() {
            Ok(mut v) => v.push((venue, tx)),
            Err(p) => p.into_inner().push((venue, tx)),
        }
    }

    /// The channel of the source streaming `venue`, if one runs and takes changes.
    pub fn get(&self, venue: Venue) -> Option<flume::Sender<SourceCmd>> {
        let v = match self.inner.lock() {
            Ok(v) => v,
            Err(p) => p.into_inner(),
        };
        v.iter()
            .find(|(x, _)| *x == venue)
            .map(|(_, tx)| tx.clone())
    }

    /// Venues with a running source that takes changes, in start order.
    pub fn venues(&self) -> Vec<Venue> {
        let v = match self.inner.lock() {
            Ok(v) => v,
            Err(p) => p.into_inner(),
        };
        v.iter().map(|(x, _)| *x).collect()
    }
}
