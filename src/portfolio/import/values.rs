//! The values of an export's fields: decimal numbers (with thousands separators), Binance's
//! number-and-asset values, Coinbase's amounts with a currency sign, asset names and times.
//! Each returns what was wrong as text; the caller adds the file, line and column.

use crate::domain::{MAX_TS_MS, MIN_TS_MS, TsMs};
use crate::format::visible;

/// A decimal number: an optional sign, digits with an optional fraction and exponent
/// (`5.2e-7`), and `,` as a thousands separator only in groups of three before the point
/// (`1,234.5`). A decimal comma (`1,5`) is refused, not read as 15.
pub(super) fn decimal(s: &str) -> Result<f64, String> {
    let t = s.trim();
    if t.is_empty() {
        return Err("empty where a number belongs".into());
    }
    let bad = || format!("{:?} is not a number", visible(t));
    // only what a decimal number is made of: this also refuses "inf", "NaN" and hex
    if !t
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b',' | b'-' | b'+' | b'e' | b'E'))
    {
        return Err(bad());
    }
    let plain = if t.contains(',') {
        let (int, frac) = t.split_once('.').unwrap_or((t, ""));
        let digits = int.trim_start_matches(['-', '+']);
        let mut groups = digits.split(',');
        let first_ok = groups
            .next()
            .is_some_and(|g| (1..=3).contains(&g.len()) && g.bytes().all(|b| b.is_ascii_digit()));
        let rest_ok = groups.all(|g| g.len() == 3 && g.bytes().all(|b| b.is_ascii_digit()));
        if !first_ok || !rest_ok || frac.contains(',') {
            return Err(format!(
                "{:?} has a comma that is not a thousands separator (groups of three digits \
                 before the point): export numbers with a decimal point",
                visible(t)
            ));
        }
        t.replace(',', "")
    } else {
        t.to_string()
    };
    match plain.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => Err(bad()),
    }
}

/// A Binance value: a number, optionally followed by its asset (`0.1800000000SOL`,
/// `19.8054BUSD`, `"1,234.5"`). An asset may begin with a digit (`12.51INCH` is 12.5 1INCH), so
/// among the ways to split, the one whose asset `expected` accepts wins; else the longest number.
pub(super) fn with_asset(
    s: &str,
    expected: impl Fn(&str) -> bool,
) -> Result<(f64, Option<String>), String> {
    let t = s.trim();
    let numeric = t
        .bytes()
        .take_while(|b| b.is_ascii_digit() || matches!(b, b'.' | b','))
        .count();
    if numeric == t.len() {
        return decimal(t).map(|v| (v, None));
    }
    let split_at = |i: usize| -> Option<(f64, String)> {
        let rest = &t[i..];
        let asset = rest.to_ascii_uppercase();
        let ok = !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric());
        ok.then(|| decimal(&t[..i]).ok().map(|v| (v, asset)))
            .flatten()
    };
    // positions up to `numeric` are ASCII, so every one is a char boundary
    for i in (1..=numeric).rev() {
        if let Some((v, asset)) = split_at(i).filter(|(_, a)| expected(a)) {
            return Ok((v, Some(asset)));
        }
    }
    let rest = &t[numeric..];
    if numeric > 0 && rest.bytes().all(|b| b.is_ascii_alphanumeric()) {
        // the number itself is what is wrong: say how
        let v = decimal(&t[..numeric])?;
        return Ok((v, Some(rest.to_ascii_uppercase())));
    }
    Err(format!(
        "{:?} is not a number optionally followed by an asset (like 0.18SOL)",
        visible(t)
    ))
}

/// A Coinbase amount: a number with an optional sign and currency sign or code around it
/// (`€3343.11`, `$70.00`, `-€597.49846`, `CA$5`, `12.5 USD`); None when the field is empty.
pub(super) fn money(s: &str) -> Result<Option<f64>, String> {
    let t = s.trim();
    if t.is_empty() {
        return Ok(None);
    }
    let bad = || {
        format!(
            "{:?} is not an amount (a number with an optional currency sign)",
            visible(t)
        )
    };
    let first = t
        .find(|c: char| c.is_ascii_digit() || c == '.')
        .ok_or_else(bad)?;
    let last = t.rfind(|c: char| c.is_ascii_digit()).ok_or_else(bad)?;
    if last < first {
        return Err(bad());
    }
    let (prefix, core, suffix) = (&t[..first], &t[first..=last], &t[last + 1..]);
    // a sign, a currency symbol (€ $ £ ¥ ₹ ...) or code; never other text
    let prefix_ok = prefix.chars().all(|c| {
        matches!(c, '-' | '+' | '$') || c.is_whitespace() || c.is_ascii_uppercase() || {
            !c.is_ascii() && !c.is_control() && !c.is_alphanumeric()
        }
    });
    let suffix_ok = suffix
        .chars()
        .all(|c| c.is_whitespace() || c.is_ascii_alphabetic());
    if !prefix_ok || !suffix_ok || prefix.matches(['-', '+']).count() > 1 {
        return Err(bad());
    }
    let v = decimal(core).map_err(|_| bad())?;
    Ok(Some(if prefix.contains('-') { -v } else { v }))
}

/// An asset name, upper case: letters and digits (`BTC`, `ETH2`, `1INCH`).
pub(super) fn asset(s: &str) -> Result<String, String> {
    let t = s.trim();
    if t.is_empty() || t.len() > 20 || !t.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(format!(
            "{:?} is not an asset name (letters and digits)",
            visible(t)
        ));
    }
    Ok(t.to_ascii_uppercase())
}

/// A UTC time as exports write it: `2022-03-28 13:01:36` (Binance; some versions write the
/// year in two digits, `22-03-28 13:01:36`), `2025-01-17 16:57:02 UTC` and
/// `2021-04-01T12:00:00Z` (Coinbase); fractions of a second are kept.
pub(super) fn utc_time(s: &str) -> Result<TsMs, String> {
    use chrono::NaiveDateTime;
    let t = s.trim();
    let bad = || {
        format!(
            "{:?} is not a UTC time like 2022-03-28 13:01:36 or 2021-04-01T12:00:00Z",
            visible(t)
        )
    };
    let naive = t
        .strip_suffix("UTC")
        .or_else(|| t.strip_suffix('Z'))
        .unwrap_or(t)
        .trim();
    let two_digit_year = naive.find('-') == Some(2);
    let formats: &[&str] = if two_digit_year {
        &["%y-%m-%d %H:%M:%S%.f"]
    } else {
        &["%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f"]
    };
    let ms = formats
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(naive, f).ok())
        .map(|d| d.and_utc().timestamp_millis())
        .or_else(|| {
            chrono::DateTime::parse_from_rfc3339(t)
                .ok()
                .map(|d| d.timestamp_millis())
        })
        .ok_or_else(bad)?;
    if !(MIN_TS_MS..=MAX_TS_MS).contains(&ms) {
        return Err(format!(
            "{:?} is outside 2009..2100: not a time of a trade",
            visible(t)
        ));
    }
    Ok(ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_with_thousands_separators_only() {
        assert_eq!(decimal("1,234.5"), Ok(1234.5));
        assert_eq!(decimal("12,345,678"), Ok(12_345_678.0));
        assert_eq!(decimal(" -0.5 "), Ok(-0.5));
        assert_eq!(decimal("5.2e-7"), Ok(5.2e-7));
        for bad in [
            "1,5", "1,23.4", "1.234,5", ",123", "", "inf", "NaN", "1e999", "0x10",
        ] {
            assert!(decimal(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn binance_values_with_and_without_assets() {
        let any = |_: &str| false;
        assert_eq!(
            with_asset("0.1800000000SOL", any),
            Ok((0.18, Some("SOL".into())))
        );
        assert_eq!(
            with_asset("19.8054BUSD", any),
            Ok((19.8054, Some("BUSD".into())))
        );
        assert_eq!(
            with_asset("1,234.5usdt", any),
            Ok((1234.5, Some("USDT".into())))
        );
        assert_eq!(with_asset("110.03", any), Ok((110.03, None)));
        // an asset that begins with a digit, told apart by the pair
        let base = |a: &str| "1INCHUSDT".starts_with(a);
        assert_eq!(
            with_asset("12.51INCH", base),
            Ok((12.5, Some("1INCH".into())))
        );
        assert_eq!(
            with_asset("12.51INCH", any),
            Ok((12.51, Some("INCH".into())))
        );
        for bad in ["SOL", "1.5 SOL", "1.5SOL!", "", "1.5.5BTC"] {
            assert!(with_asset(bad, any).is_err(), "{bad}");
        }
    }

    #[test]
    fn coinbase_amounts_with_currency_signs() {
        assert_eq!(money("€3343.11229989"), Ok(Some(3343.11229989)));
        assert_eq!(money("-€597.49846"), Ok(Some(-597.49846)));
        assert_eq!(money("€-5"), Ok(Some(-5.0)));
        assert_eq!(money("$1,070.00"), Ok(Some(1070.0)));
        assert_eq!(money("CA$5"), Ok(Some(5.0)));
        assert_eq!(money("12.5 USD"), Ok(Some(12.5)));
        assert_eq!(money("0.000037835729"), Ok(Some(0.000037835729)));
        assert_eq!(money(""), Ok(None));
        for bad in ["abc12", "€", "12 x 3", "--5", "1,5€"] {
            assert!(money(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn times_of_each_export() {
        let t = 1_648_472_496_000; // 2022-03-28 13:01:36 UTC
        assert_eq!(utc_time("2022-03-28 13:01:36"), Ok(t));
        assert_eq!(utc_time("22-03-28 13:01:36"), Ok(t));
        assert_eq!(utc_time("2022-03-28 13:01:36 UTC"), Ok(t));
        assert_eq!(utc_time("2022-03-28T13:01:36Z"), Ok(t));
        assert_eq!(utc_time("2022-03-28T15:01:36+02:00"), Ok(t));
        assert_eq!(utc_time("2022-03-28 13:01:36.250"), Ok(t + 250));
        for bad in [
            "28/03/2022 13:01",
            "",
            "1970-01-01 00:00:00",
            "2022-13-01 00:00:00",
        ] {
            assert!(utc_time(bad).is_err(), "{bad}");
        }
    }
}
