//! Bybit v5 public spot (no API key): the venue-specific half of the source. The session loop,
//! reconnects and gap tracking are the shared live-feed engine's ([`crate::sources::live`]).
//!
//! - [`wire`]: [`parse_frame`](wire::parse_frame), subscribe requests and Bybit's limits
//! - [`rest`]: `recent-trade` and `kline` URLs and parsers, and what a refill can recover
//! - [`config`]: `[bybit]` in config.toml
//!
//! Trade ids: spot ids are decimal strings that go up by one per trade and symbol, so holes
//! are found by id; they cannot be fetched by id (see [`rest`]), so holes are counted as
//! missing unless the newest trades still cover them.

pub mod config;
pub mod rest;
pub mod wire;

#[cfg(test)]
mod wire_tests;

pub use config::BybitConfig;
pub use rest::RestError;
pub use wire::{Frame, WireError, parse_frame};
