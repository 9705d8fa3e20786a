//! Venue-neutral helpers for live sources: reconnect backoff with jitter, request and
//! control-message rate limits, a no-data watchdog and human wording for network errors.

pub mod backoff;
pub mod errors;
pub mod handout;
pub mod hold;
pub mod http;
pub mod rate;
pub mod retry;
pub mod status;
pub mod watchdog;
pub mod ws;

pub use backoff::Backoff;
pub use errors::describe_error;
pub use rate::{MessageLimiter, WeightBudget, parse_retry_after};
pub use watchdog::Watchdog;
