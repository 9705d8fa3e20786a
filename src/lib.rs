//! tickwatch: a real-time trading monitor for the terminal.
//!
//! Data flows one way: sources → bounded ring → engine (sole owner of market state) → storage
//! thread and UI; fired alerts go to notifier tasks. See ARCHITECTURE in the README.

pub mod alerts;
pub mod app;
pub mod backtest;
pub mod book;
pub mod cli;
pub mod config;
pub mod domain;
pub mod engine;
pub mod fanout;
pub mod format;
pub mod history;
pub mod indicators;
pub mod metrics;
pub mod pipeline;
pub mod portfolio;
pub mod sources;
pub mod store;
pub mod testdata;
pub mod ui;
pub mod view;
