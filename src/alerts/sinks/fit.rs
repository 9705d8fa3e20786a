//! Messages cut to what a channel carries, visibly: an SMS to a number of segments, a Telegram
//! message to 4096 characters. A cut message ends in [`MARKER`], so nobody takes the part for
//! the whole.
//!
//! SMS segments (3GPP TS 23.038 / 23.040): a text made only of GSM-7 characters goes as 7-bit
//! septets, 160 in a single SMS, 153 per segment once it needs several (the rest of each holds
//! the concatenation header); the characters of the extension table (`^ { } \ [ ~ ] | €`) take
//! two septets and are never split across segments. One character outside GSM-7 (an emoji,
//! "≥", Cyrillic) sends the whole text as UCS-2: 70 UTF-16 units alone, 67 per segment, and a
//! character outside the BMP (two units) is never split either.

use std::borrow::Cow;

/// What ends a cut message. Plain GSM-7, so that it never turns an SMS into UCS-2 itself.
pub const MARKER: &str = "...(cut)";

/// Telegram's limit for one message's text (counted in UTF-16 units, which is never fewer than
/// its characters).
pub const TELEGRAM_LIMIT: usize = 4096;

/// The GSM-7 default alphabet, one septet each (ESC, 0x1B, left out: it starts an extension).
const GSM_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
/// The GSM-7 extension table: ESC plus one septet each.
const GSM_EXTENSION: &str = "\u{c}^{}\\[~]|€";

/// How an SMS text is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    Gsm7,
    Ucs2,
}

impl Encoding {
    pub fn of(text: &str) -> Encoding {
        if text
            .chars()
            .all(|c| GSM_BASIC.contains(c) || GSM_EXTENSION.contains(c))
        {
            Encoding::Gsm7
        } else {
            Encoding::Ucs2
        }
    }

    /// (units in a single SMS, units per segment of a longer one).
    pub fn limits(self) -> (usize, usize) {
        match self {
            Encoding::Gsm7 => (160, 153),
            Encoding::Ucs2 => (70, 67),
        }
    }

    /// Septets (GSM-7) or UTF-16 units (UCS-2) of `c`.
    fn units(self, c: char) -> usize {
        match self {
            Encoding::Gsm7 if GSM_EXTENSION.contains(c) => 2,
            Encoding::Gsm7 => 1,
            Encoding::Ucs2 => c.len_utf16(),
        }
    }
}

/// The SMS segments `text` takes (1 for an empty text).
pub fn sms_segments(text: &str) -> usize {
    let enc = Encoding::of(text);
    let (single, per) = enc.limits();
    let total: usize = text.chars().map(|c| enc.units(c)).sum();
    if total <= single {
        return 1;
    }
    // filled in order; a character that does not fit whole starts the next segment
    let (mut segments, mut used) = (1, 0);
    for c in text.chars() {
        let u = enc.units(c);
        if used + u > per {
            segments += 1;
            used = 0;
        }
        used += u;
    }
    segments
}

/// `text` as it fits in `max_segments` SMS segments: whole, or cut with [`MARKER`] at the end.
pub fn fit_sms(text: &str, max_segments: usize) -> Cow<'_, str> {
    cut_to(text, |t| sms_segments(t) <= max_segments.max(1))
}

/// `text` as it fits in `limit` UTF-16 units: whole, or cut with [`MARKER`] at the end.
pub fn fit_utf16(text: &str, limit: usize) -> Cow<'_, str> {
    cut_to(text, |t| t.encode_utf16().count() <= limit)
}

/// `text` if `fits` it, else its longest start that `fits` with [`MARKER`] after it. `fits`
/// must hold for every shorter start when it holds for a longer one (a length limit does), and
/// for the marker alone.
fn cut_to(text: &str, fits: impl Fn(&str) -> bool) -> Cow<'_, str> {
    if fits(text) {
        return Cow::Borrowed(text);
    }
    let ends: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
    let cut = |n: usize| format!("{}{MARKER}", text[..ends[n]].trim_end());
    // the most characters kept: cut(lo) fits, cut(hi) does not (the whole text did not)
    let (mut lo, mut hi) = (0, ends.len());
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if fits(&cut(mid)) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Cow::Owned(cut(lo))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_follow_the_gsm7_and_ucs2_limits() {
        assert_eq!(sms_segments(""), 1);
        assert_eq!(sms_segments(&"a".repeat(160)), 1);
        assert_eq!(sms_segments(&"a".repeat(161)), 2);
        assert_eq!(sms_segments(&"a".repeat(306)), 2);
        assert_eq!(sms_segments(&"a".repeat(307)), 3);
        // extension characters are two septets: 80 of them fill one SMS
        assert_eq!(sms_segments(&"€".repeat(80)), 1);
        assert_eq!(sms_segments(&"€".repeat(81)), 2);
        // ... and are not split: 152 septets, then a two-septet character opens segment 2
        let edge = format!("{}|{}", "a".repeat(152), "b".repeat(10));
        assert_eq!(sms_segments(&edge), 2);
        let split = format!("{}|{}", "a".repeat(152), "b".repeat(152));
        assert_eq!(sms_segments(&split), 3, "153 + 2 + 151 would need a split");
        // one non-GSM character makes it all UCS-2
        assert_eq!(Encoding::of("BTCUSDT |z| >= 6"), Encoding::Gsm7);
        assert_eq!(Encoding::of("BTCUSDT |z| ≥ 6"), Encoding::Ucs2);
        assert_eq!(sms_segments(&format!("≥{}", "a".repeat(69))), 1);
        assert_eq!(sms_segments(&format!("≥{}", "a".repeat(70))), 2);
        assert_eq!(sms_segments(&"ж".repeat(134)), 2);
        assert_eq!(sms_segments(&"ж".repeat(135)), 3);
        // an emoji is two UTF-16 units
        assert_eq!(sms_segments(&"📈".repeat(35)), 1);
        assert_eq!(sms_segments(&"📈".repeat(36)), 2);
    }

    #[test]
    fn a_long_sms_is_cut_visibly_to_its_segments() {
        let short = "BTCUSDT anomaly";
        assert!(matches!(fit_sms(short, 1), Cow::Borrowed(_)));
        let long = "word ".repeat(200);
        for max in 1..=4 {
            let cut = fit_sms(&long, max);
            assert!(cut.ends_with(MARKER), "{cut}");
            assert_eq!(sms_segments(&cut), max, "{max}: {}", cut.len());
            assert!(long.starts_with(cut.trim_end_matches(MARKER)));
        }
        assert_eq!(fit_sms(&long, 1).len(), 160);
        assert_eq!(fit_sms(&long, 3).chars().count(), 3 * 153);
        let cyrillic = "ж".repeat(500);
        let cut = fit_sms(&cyrillic, 2);
        assert_eq!(cut.chars().count(), 2 * 67);
        assert!(cut.ends_with(MARKER));
    }

    #[test]
    fn telegram_text_is_cut_to_4096_utf16_units() {
        let fits = "a".repeat(TELEGRAM_LIMIT);
        assert_eq!(fit_utf16(&fits, TELEGRAM_LIMIT), fits);
        let over = "📈".repeat(3000);
        let cut = fit_utf16(&over, TELEGRAM_LIMIT);
        assert!(cut.ends_with(MARKER));
        assert!(cut.encode_utf16().count() <= TELEGRAM_LIMIT);
        assert!(cut.encode_utf16().count() >= TELEGRAM_LIMIT - 1);
    }
}
