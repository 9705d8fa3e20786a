//! Which stretch of time the chart shows: a preset range, everything stored, a typed from/to,
//! or the live edge at one candle per column; then zoomed and panned by keys or the mouse wheel.
//! Pure arithmetic on times, tested here.

use crate::domain::{Interval, TsMs};

const MINUTE: TsMs = 60_000;
const HOUR: TsMs = 60 * MINUTE;
const DAY: TsMs = 24 * HOUR;

/// How the range was chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RangeSel {
    /// The live edge at one candle per column (the start-up view).
    Live,
    /// The last `span` before the live edge ("4h").
    Last { span: TsMs, label: &'static str },
    /// From the oldest stored candle to the live edge.
    All,
    /// A typed range.
    Custom { from: TsMs, to: TsMs },
    /// A typed length back from the live edge ("36h").
    Typed { span: TsMs, label: String },
}

impl RangeSel {
    pub const M15: RangeSel = RangeSel::Last {
        span: 15 * MINUTE,
        label: "15m",
    };
    pub const H1: RangeSel = RangeSel::Last {
        span: HOUR,
        label: "1h",
    };
    pub const H4: RangeSel = RangeSel::Last {
        span: 4 * HOUR,
        label: "4h",
    };
    pub const D1: RangeSel = RangeSel::Last {
        span: DAY,
        label: "1d",
    };
    pub const W1: RangeSel = RangeSel::Last {
        span: 7 * DAY,
        label: "1w",
    };
    pub const MO1: RangeSel = RangeSel::Last {
        span: 30 * DAY,
        label: "1M",
    };
}

/// The visible window and how it moves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Viewport {
    pub range: RangeSel,
    /// Each step halves (negative) or doubles (positive) the range's span.
    pub zoom: i32,
    /// How far the right edge sits before where the range puts it (0: following the live edge
    /// for every range but a typed one).
    pub pan_ms: TsMs,
    /// Time under the chart cursor; None: no cursor.
    pub cursor_ms: Option<TsMs>,
}

impl Default for Viewport {
    fn default() -> Self {
        Viewport {
            range: RangeSel::Live,
            zoom: 0,
            pan_ms: 0,
            cursor_ms: None,
        }
    }
}

/// Zoom stops here: at least this many candles, at most 20 years.
const MIN_CANDLES: TsMs = 8;
const MAX_SPAN: TsMs = 20 * 365 * DAY;

impl Viewport {
    pub fn set_range(&mut self, range: RangeSel) {
        self.range = range;
        self.zoom = 0;
        self.pan_ms = 0;
        self.cursor_ms = None;
    }

    /// The span before zoom.
    fn base_span(
        &self,
        interval: Interval,
        cols: u16,
        live_edge: TsMs,
        first: Option<TsMs>,
    ) -> TsMs {
        match &self.range {
            RangeSel::Live => interval.ms() * TsMs::from(cols.max(1)),
            RangeSel::Last { span, .. } | RangeSel::Typed { span, .. } => *span,
            // until the oldest stored candle is known, ask for everything since 2009 (the
            // history thread's answer names the oldest, and the window then fits it)
            RangeSel::All => first.map_or(live_edge - crate::domain::MIN_TS_MS, |f| {
                (live_edge - interval.bucket(f)).max(interval.ms())
            }),
            RangeSel::Custom { from, to } => (to - from).max(interval.ms()),
        }
    }

    /// The visible window `[from, to)` for `cols` chart columns, given where the live data ends
    /// and the oldest stored candle (if known).
    pub fn window(
        &self,
        interval: Interval,
        cols: u16,
        live_edge: TsMs,
        first_stored: Option<TsMs>,
    ) -> (TsMs, TsMs) {
        let base = self.base_span(interval, cols, live_edge, first_stored);
        let span = zoomed(base, self.zoom).clamp(MIN_CANDLES * interval.ms(), MAX_SPAN);
        let right = match &self.range {
            RangeSel::Custom { to, .. } => *to,
            _ => live_edge,
        };
        let to = (right - self.pan_ms).min(live_edge.max(right));
        (to - span, to)
    }

    /// Whether the window follows new data.
    pub fn follows_live(&self) -> bool {
        self.pan_ms <= 0 && !matches!(self.range, RangeSel::Custom { .. })
    }

    pub fn zoom_in(&mut self) -> bool {
        if self.zoom > -12 {
            self.zoom -= 1;
            return true;
        }
        false
    }

    pub fn zoom_out(&mut self) -> bool {
        if self.zoom < 12 {
            self.zoom += 1;
            return true;
        }
        false
    }

    /// Moves the window a quarter of its width back (`dir` < 0) or forward, never past the
    /// live edge. `span` is the current window width.
    pub fn pan(&mut self, dir: i32, span: TsMs, live_edge: TsMs) -> bool {
        let step = (span / 4).max(1);
        let before = self.pan_ms;
        let right = match &self.range {
            RangeSel::Custom { to, .. } => *to,
            _ => live_edge,
        };
        let next = if dir < 0 {
            self.pan_ms + step
        } else {
            self.pan_ms - step
        };
        // never past the live edge: pan_ms >= right - live_edge
        self.pan_ms = next.max(right - live_edge);
        if let Some(c) = self.cursor_ms {
            self.cursor_ms = Some(c - (self.pan_ms - before));
        }
        self.pan_ms != before
    }

    /// Short words for the title: "4h", "live", "all", "11-01 00:00 → 11-15 00:00", plus the
    /// zoom and pan when set.
    pub fn label(&self) -> String {
        let mut s = match &self.range {
            RangeSel::Live => "live".to_string(),
            RangeSel::Last { label, .. } => (*label).to_string(),
            RangeSel::Typed { label, .. } => label.clone(),
            RangeSel::All => "all".to_string(),
            RangeSel::Custom { from, to } => {
                format!("{} → {}", short_time(*from), short_time(*to))
            }
        };
        if self.zoom != 0 {
            s.push_str(&format!(" zoom {}", zoom_label(self.zoom)));
        }
        if self.pan_ms > 0 {
            s.push_str(" (panned; 0 returns live)");
        }
        s
    }
}

fn zoomed(span: TsMs, zoom: i32) -> TsMs {
    if zoom >= 0 {
        span.saturating_mul(1 << zoom.min(30))
    } else {
        (span >> (-zoom).min(40)).max(1)
    }
}

fn zoom_label(zoom: i32) -> String {
    if zoom < 0 {
        format!("×{}", 1u64 << (-zoom).min(40))
    } else {
        format!("÷{}", 1u64 << zoom.min(40))
    }
}

fn short_time(ts: TsMs) -> String {
    match chrono::DateTime::<chrono::Utc>::from_timestamp_millis(ts) {
        Some(t) => t.format("%Y-%m-%d %H:%M").to_string(),
        None => ts.to_string(),
    }
}

/// Parses what the user typed for a range: `FROM..TO`, `FROM..` (to the live edge) or a length
/// back from the live edge (`90m`, `36h`, `3d`, `2w`). Times as in `export --from`: 2025-03-01,
/// 2025-03-01T12:00, "2025-03-01 12:00", RFC 3339 or milliseconds.
pub fn parse_typed_range(text: &str, live_edge: TsMs) -> Result<RangeSel, String> {
    let t = text.trim();
    if t.is_empty() {
        return Err("type a range: FROM..TO, FROM.., or a length like 3d".into());
    }
    let time = |x: &str| {
        let v = crate::app::export::parse_time(x)?;
        if (crate::domain::MIN_TS_MS..=crate::domain::MAX_TS_MS).contains(&v) {
            Ok(v)
        } else {
            Err(format!("{:?} is outside 2009..2100", x.trim()))
        }
    };
    if let Some((a, b)) = t.split_once("..") {
        let from = time(a)?;
        let to = if b.trim().is_empty() {
            live_edge
        } else {
            time(b)?
        };
        if to <= from {
            return Err(format!("the range ends before it starts: {t:?}"));
        }
        return Ok(RangeSel::Custom { from, to });
    }
    let (num, unit) = t.split_at(t.len() - t.chars().last().map_or(0, char::len_utf8));
    let unit_ms = match unit {
        "m" => MINUTE,
        "h" => HOUR,
        "d" => DAY,
        "w" => 7 * DAY,
        _ => {
            // a lone time: from then to the live edge
            let from = time(t).map_err(|_| {
                format!("cannot read the range {t:?}: use FROM..TO (2025-03-01..2025-03-08), FROM.., or 90m, 36h, 3d, 2w")
            })?;
            return Ok(RangeSel::Custom {
                from,
                to: live_edge,
            });
        }
    };
    let n: TsMs = num
        .trim()
        .parse()
        .ok()
        .filter(|n| *n > 0 && *n <= MAX_SPAN / unit_ms)
        .ok_or_else(|| {
            format!("cannot read the length {t:?}: use a positive number up to 20 years, e.g. 3d")
        })?;
    // a length follows the live edge like the preset ranges
    Ok(RangeSel::Typed {
        span: n * unit_ms,
        label: t.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const EDGE: TsMs = 1_764_000_000_000;

    #[test]
    fn ranges_end_at_the_live_edge() {
        let mut v = Viewport::default();
        assert_eq!(
            v.window(Interval::M1, 100, EDGE, None),
            (EDGE - 100 * MINUTE, EDGE)
        );
        v.set_range(RangeSel::H4);
        assert_eq!(
            v.window(Interval::M5, 100, EDGE, None),
            (EDGE - 4 * HOUR, EDGE)
        );
        v.set_range(RangeSel::All);
        let first = EDGE - 30 * DAY;
        assert_eq!(
            v.window(Interval::M1, 100, EDGE, Some(first)),
            (first, EDGE)
        );
        assert!(v.follows_live());
    }

    #[test]
    fn zoom_halves_and_doubles_within_limits() {
        let mut v = Viewport::default();
        v.set_range(RangeSel::H1);
        assert!(v.zoom_in());
        assert_eq!(
            v.window(Interval::M1, 100, EDGE, None).0,
            EDGE - 30 * MINUTE
        );
        v.zoom = -20;
        // never fewer than 8 candles
        assert_eq!(v.window(Interval::M1, 100, EDGE, None).0, EDGE - 8 * MINUTE);
        v.zoom = 1;
        assert_eq!(v.window(Interval::M1, 100, EDGE, None).0, EDGE - 2 * HOUR);
    }

    #[test]
    fn pan_never_passes_the_live_edge() {
        let mut v = Viewport::default();
        v.set_range(RangeSel::H4);
        assert!(v.pan(-1, 4 * HOUR, EDGE));
        assert_eq!(v.window(Interval::M1, 100, EDGE, None).1, EDGE - HOUR);
        assert!(!v.follows_live());
        assert!(v.pan(1, 4 * HOUR, EDGE));
        assert!(!v.pan(1, 4 * HOUR, EDGE));
        assert_eq!(v.window(Interval::M1, 100, EDGE, None).1, EDGE);
        assert!(v.follows_live());
    }

    #[test]
    fn typed_ranges_parse() {
        let day = parse_typed_range("2025-03-01..2025-03-08", EDGE);
        assert_eq!(
            day,
            Ok(RangeSel::Custom {
                from: 1_740_787_200_000,
                to: 1_740_787_200_000 + 7 * DAY
            })
        );
        assert_eq!(
            parse_typed_range("3d", EDGE),
            Ok(RangeSel::Typed {
                span: 3 * DAY,
                label: "3d".into()
            })
        );
        assert!(parse_typed_range("-9223372036854775808..9223372036854775807", EDGE).is_err());
        assert!(parse_typed_range("999999999999w", EDGE).is_err());
        assert_eq!(
            parse_typed_range("2025-03-01..", EDGE),
            Ok(RangeSel::Custom {
                from: 1_740_787_200_000,
                to: EDGE
            })
        );
        assert!(parse_typed_range("2025-03-08..2025-03-01", EDGE).is_err());
        assert!(parse_typed_range("yesterday", EDGE).is_err());
        assert!(parse_typed_range("-3d", EDGE).is_err());
        assert!(parse_typed_range("", EDGE).is_err());
    }
}
