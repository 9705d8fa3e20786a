//! Number formatting shared by the screen, alert messages and logs.

/// A price with precision adapted to its magnitude: 43210.12, 1.2345, 0.00002853.
pub fn price(v: f64) -> String {
    if !v.is_finite() {
        return "-".into();
    }
    let a = v.abs();
    let decimals = if a >= 1000.0 {
        2
    } else if a >= 1.0 {
        4
    } else if a == 0.0 {
        2
    } else {
        // enough decimals for 4 significant digits
        (4 - a.log10().floor() as i32 - 1).clamp(4, 10) as usize
    };
    format!("{v:.decimals$}")
}

/// A compact quantity: 950, 12.3k, 4.5M, 1.2B.
pub fn compact(v: f64) -> String {
    if !v.is_finite() {
        return "-".into();
    }
    let a = v.abs();
    if a >= 1e9 {
        format!("{:.1}B", v / 1e9)
    } else if a >= 1e6 {
        format!("{:.1}M", v / 1e6)
    } else if a >= 1e4 {
        format!("{:.1}k", v / 1e3)
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_keep_significant_digits() {
        assert_eq!(price(43210.123), "43210.12");
        assert_eq!(price(1.23456), "1.2346");
        assert_eq!(price(0.00002853), "0.00002853");
        assert_eq!(price(0.15), "0.1500");
        assert_eq!(price(f64::NAN), "-");
    }

    #[test]
    fn quantities_are_compact() {
        assert_eq!(compact(950.0), "950");
        assert_eq!(compact(12_345.0), "12.3k");
        assert_eq!(compact(4_500_000.0), "4.5M");
        assert_eq!(compact(1.5), "1.50");
    }
}
