//! tickwatch: a real-time trading monitor for the terminal.
//!
//! Data flows one way: sources → bounded ring → engine (sole owner of market state) → storage
//! thread and UI; fired alerts go to notifier tasks. See ARCHITECTURE in the README.

pub mod domain;
pub mod indicators;
pub mod pipeline;
pub mod sources;
pub mod store;
