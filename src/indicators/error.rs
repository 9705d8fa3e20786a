//! The one error type of the indicator library: bad parameters and bad indicator text.

/// What is wrong with an indicator's parameters or with the text naming it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum IndicatorError {
    /// A period, span or window outside the accepted range.
    #[error(
        "{indicator} {param} must be between {min} and {max}, got {value}; pick a value in that range (e.g. sma20, rsi14, z50)"
    )]
    OutOfRange {
        indicator: &'static str,
        param: &'static str,
        value: usize,
        min: usize,
        max: usize,
    },
    /// MACD needs a fast EMA that is shorter than the slow one.
    #[error(
        "MACD fast period ({fast}) must be smaller than the slow period ({slow}); put the shorter one first, e.g. macd12_26_9"
    )]
    FastNotBelowSlow { fast: usize, slow: usize },
    /// The Bollinger band width multiplier must be a positive finite number.
    #[error(
        "Bollinger multiplier k must be a finite number above 0, got {k}; use e.g. bb20 (k = 2) or bb20_2.5"
    )]
    InvalidMultiplier { k: f64 },
    /// Indicator text that `IndicatorSpec::parse` does not understand.
    #[error(
        "cannot read indicator {text:?}: {reason}; accepted forms: {}",
        crate::indicators::spec::ACCEPTED_FORMS
    )]
    Parse { text: String, reason: String },
}

/// Largest accepted period (TA-Lib's own limit); it also bounds the memory of one indicator.
pub const MAX_PERIOD: usize = 100_000;

/// Checks `1 <= value <= MAX_PERIOD` (or `min..=MAX_PERIOD`), naming the parameter on failure.
pub(crate) fn check_period(
    indicator: &'static str,
    param: &'static str,
    value: usize,
    min: usize,
) -> Result<usize, IndicatorError> {
    if (min..=MAX_PERIOD).contains(&value) {
        Ok(value)
    } else {
        Err(IndicatorError::OutOfRange {
            indicator,
            param,
            value,
            min,
            max: MAX_PERIOD,
        })
    }
}
