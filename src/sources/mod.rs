//! Market data sources. Each speaks one venue's protocol (or reads one kind of file) and emits
//! normalized [`MarketEvent`](crate::domain::MarketEvent)s into an [`EventSink`]. A source never
//! touches the screen or the database.

pub mod alphavantage;
pub mod binance;
pub mod coinbase;
pub mod net;
pub mod replay;
pub mod sim;

use std::future::Future;
use std::pin::Pin;

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
}
