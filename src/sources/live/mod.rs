//! What every live WebSocket venue shares, written once. So far: the gap tracker (duplicates
//! dropped, holes found by trade id, live events held while REST fills a hole, everything out
//! in id order and exactly once) and the fill request and answer it works with. A venue folder
//! keeps its config, wire types, REST client and the calls into this module.

pub(crate) mod books;
pub(crate) mod changes;
pub(crate) mod config;
pub(crate) mod control;
pub(crate) mod fill;
pub mod frame;
pub(crate) mod gaps;
pub(crate) mod rest;
pub(crate) mod session;
pub mod source;

pub(crate) use fill::{FillDone, FillRequest, candle_event};
pub(crate) use gaps::GapTracker;
