//! Yahoo Finance (no API key; an unofficial API that changes without notice): stocks, ETFs,
//! indices, FX, futures and crypto. The venue-specific half; the session loop is the shared
//! live-feed engine's ([`crate::sources::live`]).
//!
//! - [`wire`]: the streamer's frames ([`parse_frame`](wire::parse_frame)), base64 protobuf
//! - [`proto`]: `PricingData`, hand-written to match the yfinance .proto
//! - [`chart`]: v8 chart candles with their session (pre, regular, post, closed) and `meta`
//! - [`quote`]: v7 quotes, the first prices before the stream sends any
//! - [`crumb`]: the cookie and crumb handshake and Yahoo's refusals (401, 429, consent)
//! - [`config`]: `[yahoo]` in config.toml
//!
//! Yahoo has no trades and no trade ids: nothing here is gap-trackable.

pub mod chart;
pub mod config;
pub mod crumb;
pub mod proto;
pub mod quote;
pub mod wire;

#[cfg(test)]
mod wire_tests;

pub use config::YahooConfig;
pub use wire::{Frame, MarketHours, WireError, parse_frame};
