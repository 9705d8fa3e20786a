//! Exact local order books, one per venue and symbol, kept by each venue's documented
//! procedure (issue 14 §2). Pure and runtime-free: a venue's session parses a frame with the
//! venue module's `parse_*` function, feeds it to that venue's machine, acts on the returned
//! [`Outcome`] (fetch a snapshot, resubscribe) and reads the book and its [`Status`] back.
//! A machine hands out its book as live only while it is [`BookState::Synced`]
//! (`synced_book()`), so a screen cannot draw a book that lost updates as if it were current.
//!
//! Layout: `price` (exact fixed-point key), `ladder` (the two-sided map), `state` (state,
//! counters, outcomes), then one file per venue with its wire structs and sync rules.

pub mod binance;
pub mod bybit;
pub mod coinbase;
pub mod kraken;
pub mod ladder;
pub mod okx;
pub mod price;
pub mod state;

pub use ladder::{Book, Level, Side, TextLevel};
pub use price::{Price, PriceError};
pub use state::{BookMachine, BookState, Counters, Need, Outcome, Reason, Status};

/// A frame that could not be turned into book levels.
#[derive(Debug, thiserror::Error)]
pub enum BookError {
    #[error("{venue} book frame is not valid JSON of the expected shape: {source}")]
    Json {
        venue: &'static str,
        #[source]
        source: serde_json::Error,
    },
    #[error("{venue} book frame has a bad price: {source}")]
    Price {
        venue: &'static str,
        #[source]
        source: PriceError,
    },
    #[error("{venue} book frame has a price {value} that is negative or too large")]
    PriceRange { venue: &'static str, value: f64 },
    #[error("{venue} book frame has a size {text:?} that is not a finite, non-negative number")]
    Qty { venue: &'static str, text: String },
    #[error("{venue} frame is not a book message ({what})")]
    NotBook {
        venue: &'static str,
        what: &'static str,
    },
}

/// Parses one `[price, size]` text pair, the shape Binance, Bybit, OKX and Coinbase share.
pub(crate) fn level(venue: &'static str, px: &str, sz: &str) -> Result<(Price, f64), BookError> {
    let price = Price::parse(px).map_err(|source| BookError::Price { venue, source })?;
    Ok((price, qty(venue, sz)?))
}

/// A size: finite and not negative (a negative or NaN size would corrupt the book silently).
pub(crate) fn qty(venue: &'static str, text: &str) -> Result<f64, BookError> {
    match text.parse::<f64>() {
        Ok(q) if q.is_finite() && q >= 0.0 => Ok(q),
        _ => Err(BookError::Qty {
            venue,
            text: text.to_string(),
        }),
    }
}

pub(crate) fn json<'a, T: serde::Deserialize<'a>>(
    venue: &'static str,
    text: &'a str,
) -> Result<T, BookError> {
    serde_json::from_str(text).map_err(|source| BookError::Json { venue, source })
}
