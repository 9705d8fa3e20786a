//! An exact price key. Venues send prices as decimal text ("0.00577300", "65114.20", 29430.2);
//! a float key would merge or split levels that differ only in the last digit, and a checksum
//! needs the digits back. So a price is a fixed-point integer with [`DECIMALS`] places: exact
//! for every price a venue sends, ordered like the number, and cheap to compare in a map.

use std::fmt;

/// Decimal places of the fixed-point key: more than any venue uses (Binance 8, OKX up to ~10).
pub const DECIMALS: u32 = 18;
const SCALE: u128 = 10u128.pow(DECIMALS);

/// A non-negative price as an integer count of 10^-18.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Price(u128);

/// A price text that is not a plain non-negative decimal within range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("price {text:?} is not a plain decimal with at most 18 decimals and 20 integer digits")]
pub struct PriceError {
    pub text: String,
}

impl Price {
    /// Parses plain decimal text ("123", "0.00577300", "65114.20"). Trailing zeros are
    /// insignificant: "65114.20" and "65114.2" are the same level, as at the venue.
    pub fn parse(text: &str) -> Result<Price, PriceError> {
        let bad = || PriceError {
            text: text.to_string(),
        };
        let (int, frac) = match text.split_once('.') {
            Some((i, f)) => (i, f),
            None => (text, ""),
        };
        if int.is_empty() && frac.is_empty() {
            return Err(bad());
        }
        let frac = frac.trim_end_matches('0');
        if frac.len() > DECIMALS as usize || int.len() > 20 {
            return Err(bad());
        }
        let mut m: u128 = 0;
        for b in int.bytes().chain(frac.bytes()) {
            if !b.is_ascii_digit() {
                return Err(bad());
            }
            m = m * 10 + u128::from(b - b'0');
        }
        // frac.len() <= DECIMALS, so the exponent is in range
        let m = m
            .checked_mul(10u128.pow(DECIMALS - frac.len() as u32))
            .ok_or_else(bad)?;
        Ok(Price(m))
    }

    /// A price given as an integer count of 10^-`decimals` (Kraken's JSON numbers, rounded to
    /// the pair's price precision); `None` when out of range.
    pub fn from_scaled(mantissa: u64, decimals: u32) -> Option<Price> {
        let up = 10u128.checked_pow(DECIMALS.checked_sub(decimals)?)?;
        u128::from(mantissa).checked_mul(up).map(Price)
    }

    /// A float price rounded to `decimals` places (for venues that send JSON numbers).
    pub fn from_f64(value: f64, decimals: u32) -> Option<Price> {
        let scaled = (value * 10f64.powi(i32::try_from(decimals).ok()?)).round();
        // 2^53: beyond it the float no longer holds every integer, so rounding is not exact
        if !(0.0..=9_007_199_254_740_992.0).contains(&scaled) {
            return None;
        }
        Price::from_scaled(scaled as u64, decimals)
    }

    /// The price as a float, for display and arithmetic that tolerates rounding.
    pub fn to_f64(self) -> f64 {
        (self.0 / SCALE) as f64 + (self.0 % SCALE) as f64 / SCALE as f64
    }

    /// The price written with exactly `decimals` places (digits beyond them are cut), as a
    /// venue's checksum wants it (Kraken: the pair's price precision).
    pub fn fixed(self, decimals: u32) -> String {
        let decimals = decimals.min(DECIMALS);
        let int = self.0 / SCALE;
        if decimals == 0 {
            return int.to_string();
        }
        let frac = (self.0 % SCALE) / 10u128.pow(DECIMALS - decimals);
        format!("{int}.{frac:0width$}", width = decimals as usize)
    }
}

/// The shortest exact text: no trailing zeros, no '.' for whole numbers.
impl fmt::Display for Price {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = self.fixed(DECIMALS);
        let s = s.trim_end_matches('0').trim_end_matches('.');
        f.write_str(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_exactly_and_orders_like_numbers() {
        let p = |s| Price::parse(s).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(p("65114.20"), p("65114.2"));
        assert!(p("0.00577300") < p("0.005774"));
        assert!(p("9") < p("10.0"));
        assert_eq!(p("0.00577300").to_string(), "0.005773");
        assert_eq!(p("30261").to_string(), "30261");
        assert_eq!(p("29430.2").fixed(1), "29430.2");
        assert_eq!(p("45281").fixed(1), "45281.0");
        assert_eq!(p(".5").to_string(), "0.5");
        assert!((p("0.00577300").to_f64() - 0.005773).abs() < 1e-15);
        for bad in [
            "",
            ".",
            "-1",
            "1e5",
            "1.2.3",
            "0.0000000000000000001",
            "abc",
        ] {
            assert!(Price::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(Price::from_f64(29430.2, 1), Some(p("29430.2")));
        assert_eq!(Price::from_f64(-1.0, 1), None);
    }
}
