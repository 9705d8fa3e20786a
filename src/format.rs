//! Number and time formatting for the screen, alert messages and logs: precision follows
//! magnitude so that 43210.12, 1.2345 and 0.00002853 all show their meaningful digits. Also
//! [`visible`]: text from outside (a venue, a file, a server's answer) made safe to print.

use crate::domain::{Interval, TsMs};

/// Decimals that show about four significant digits of a price, at least two.
pub fn price_decimals(v: f64) -> usize {
    let a = v.abs();
    if !a.is_finite() || a >= 100.0 || a == 0.0 {
        2
    } else if a >= 1.0 {
        4
    } else {
        // 0.00002853 → 8: the leading zeros after the point plus four significant digits.
        let zeros = (-a.log10()).ceil().max(1.0) as usize;
        (zeros + 3).min(12)
    }
}

pub fn price(v: f64) -> String {
    price_with(v, price_decimals(v))
}

pub fn price_with(v: f64, decimals: usize) -> String {
    if v.is_finite() {
        format!("{v:.decimals$}")
    } else {
        "—".into()
    }
}

/// Decimals for axis labels between `lo` and `hi`: enough that neighbouring labels differ.
pub fn axis_decimals(lo: f64, hi: f64) -> usize {
    let mut d = price_decimals(hi.abs().max(lo.abs()));
    let step = (hi - lo).abs() / 2.0;
    while d < 12 && step > 0.0 && step < 10f64.powi(-(d as i32)) {
        d += 1;
    }
    d
}

/// Compact quantity: 0.52, 12.3, 950, 12.3k, 4.5M, 1.2B.
pub fn compact(v: f64) -> String {
    if !v.is_finite() {
        return "—".into();
    }
    let a = v.abs();
    let (x, suffix) = if a >= 1e12 {
        (v / 1e12, "T")
    } else if a >= 1e9 {
        (v / 1e9, "B")
    } else if a >= 1e6 {
        (v / 1e6, "M")
    } else if a >= 1e3 {
        (v / 1e3, "k")
    } else {
        (v, "")
    };
    let xa = x.abs();
    if suffix.is_empty() {
        if xa >= 100.0 || xa == 0.0 {
            format!("{x:.0}")
        } else if xa >= 10.0 {
            format!("{x:.1}")
        } else {
            format!("{x:.2}")
        }
    } else if xa >= 100.0 {
        format!("{x:.0}{suffix}")
    } else {
        format!("{x:.1}{suffix}")
    }
}

/// Signed percentage: +1.23%, -0.45%.
pub fn pct(v: f64) -> String {
    if v.is_finite() {
        format!("{v:+.2}%")
    } else {
        "—".into()
    }
}

/// A short age: 12s, 3m, 2h, 4d.
pub fn age(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    if s < 60 {
        format!("{s}s")
    } else if s < 3600 {
        format!("{}m", s / 60)
    } else if s < 86_400 {
        format!("{}h", s / 3600)
    } else {
        format!("{}d", s / 86_400)
    }
}

fn utc(ts: TsMs, pattern: &str) -> String {
    match chrono::DateTime::<chrono::Utc>::from_timestamp_millis(ts) {
        Some(t) => t.format(pattern).to_string(),
        None => "--:--".into(),
    }
}

/// A trade size: small sizes keep four significant digits (0.004213), large ones are compact.
pub fn qty(q: f64) -> String {
    if q.abs() >= 1_000.0 || q == 0.0 || !q.is_finite() {
        compact(q)
    } else {
        let digits = (4 - q.abs().log10().floor() as i32 - 1).clamp(0, 8) as usize;
        format!("{q:.digits$}")
    }
}

/// Wall clock in UTC, HH:MM:SS.
pub fn hms(ts: TsMs) -> String {
    utc(ts, "%H:%M:%S")
}

/// A candle time on the chart's x axis, as precise as the interval needs.
pub fn candle_time(ts: TsMs, interval: Interval) -> String {
    let pattern = match interval {
        Interval::S1 => "%H:%M:%S",
        Interval::M1 | Interval::M5 | Interval::M15 | Interval::H1 => "%H:%M",
        Interval::H4 => "%m-%d %H:%M",
        Interval::D1 => "%Y-%m-%d",
    };
    utc(ts, pattern)
}

/// `s` made safe to print on a terminal or store: every control character (C0 such as ESC and
/// BEL, DEL, C1 such as the one-byte CSI U+009B) becomes a visible escape like `\x1b`, and
/// every bidirectional override or isolate (which can make text read backwards) a `\u{202e}`.
/// Text from outside passes through this where it enters, so that an OSC 52 clipboard write or
/// an `ESC[2J` from a venue, a file or a webhook's answer is shown, never obeyed.
pub fn visible(s: &str) -> String {
    escape_controls(s, false)
}

/// Like [`visible`], but keeps line breaks (`\n`): for a message of several lines.
pub fn visible_lines(s: &str) -> String {
    escape_controls(s, true)
}

/// Bidirectional formatting characters: embeddings, overrides, isolates and marks.
fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}'
    )
}

fn escape_controls(s: &str, keep_newlines: bool) -> String {
    if !s
        .chars()
        .any(|c| c.is_control() && !(keep_newlines && c == '\n') || is_bidi_control(c))
    {
        return s.to_string();
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if keep_newlines && c == '\n' {
            out.push(c);
        } else if c.is_control() {
            out.push_str(&format!("\\x{:02x}", u32::from(c)));
        } else if is_bidi_control(c) {
            out.push_str(&format!("\\u{{{:04x}}}", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_keep_their_significant_digits() {
        assert_eq!(price(43210.123), "43210.12");
        assert_eq!(price(1.23451), "1.2345");
        assert_eq!(price(0.00002853), "0.00002853");
        assert_eq!(price(0.5), "0.5000");
        assert_eq!(price(f64::NAN), "—");
    }

    #[test]
    fn axis_labels_get_more_decimals_for_narrow_ranges() {
        assert_eq!(axis_decimals(43210.10, 43210.50), 2);
        assert_eq!(axis_decimals(43210.101, 43210.104), 3);
        assert_eq!(axis_decimals(0.00002800, 0.00002900), 8);
    }

    #[test]
    fn volumes_are_compact() {
        assert_eq!(compact(0.5234), "0.52");
        assert_eq!(compact(12.34), "12.3");
        assert_eq!(compact(950.0), "950");
        assert_eq!(compact(12_345.0), "12.3k");
        assert_eq!(compact(4_512_000.0), "4.5M");
        assert_eq!(compact(250_000.0), "250k");
        assert_eq!(qty(0.004213), "0.004213");
        assert_eq!(qty(12.345), "12.35");
        assert_eq!(qty(250_000.0), "250k");
    }

    #[test]
    fn ages_and_times() {
        assert_eq!(pct(1.234), "+1.23%");
        assert_eq!(pct(-0.451), "-0.45%");
        assert_eq!(age(12_400), "12s");
        assert_eq!(age(185_000), "3m");
        assert_eq!(hms(1_637_971_259_999), "00:00:59");
        assert_eq!(candle_time(1_637_971_200_000, Interval::M1), "00:00");
        assert_eq!(candle_time(1_637_971_200_000, Interval::D1), "2021-11-27");
    }

    #[test]
    fn outside_text_is_shown_not_obeyed() {
        let osc52 = "\x1b]52;c;ZXZpbA==\x07";
        assert_eq!(visible(osc52), "\\x1b]52;c;ZXZpbA==\\x07");
        assert_eq!(visible("a\x1b[2Jb"), "a\\x1b[2Jb");
        assert_eq!(visible("csi\u{9b}31m"), "csi\\x9b31m");
        assert_eq!(visible("del\x7f nul\0"), "del\\x7f nul\\x00");
        assert_eq!(visible("abc\u{202e}fed"), "abc\\u{202e}fed");
        assert_eq!(visible("two\nlines\r"), "two\\x0alines\\x0d");
        assert_eq!(visible_lines("two\nlines\r"), "two\nlines\\x0d");
        assert_eq!(visible("plain — 43210.12 €"), "plain — 43210.12 €");
    }
}
