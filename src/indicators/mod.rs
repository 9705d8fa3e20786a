//! Technical indicators, each an O(1)-per-value state machine.
//!
//! Every indicator has `update(x) -> Option<_>` (`None` while warming up), `value()`,
//! `initialized()` and `reset()`. Values follow TA-Lib and TradingView: SMA, EMA seeded with the
//! SMA, Wilder RSI, population standard deviation, Bollinger, TA-Lib classic MACD. `ta` is used
//! where it agrees with them (SMA) and replaced where it does not: EMA and RSI seeding, and the
//! long-run drift of its standard deviation (hence StdDev and Bollinger; see those files).
//! Non-finite inputs never enter any state: level indicators repeat their current value,
//! per-value scores (the z-scores, the volume spike) answer `None`.

mod bollinger;
mod ema;
mod error;
mod ew_zscore;
mod macd;
mod return_zscore;
mod rolling_moments;
mod rolling_zscore;
mod rsi;
mod set;
mod sma;
mod spec;
mod stddev;
#[cfg(test)]
mod test_support;
mod volume_spike;

pub use bollinger::{Bollinger, BollingerValue};
pub use ema::Ema;
pub use error::{IndicatorError, MAX_PERIOD};
pub use ew_zscore::{EwZScore, ZERO_STD_REL, guarded_z};
pub use macd::{Macd, MacdValue};
pub use return_zscore::ReturnZScore;
pub use rolling_zscore::RollingZScore;
pub use rsi::Rsi;
pub use set::IndicatorSet;
pub use sma::Sma;
pub use spec::{ACCEPTED_FORMS, IndicatorSpec};
pub use stddev::StdDev;
pub use volume_spike::VolumeSpike;
