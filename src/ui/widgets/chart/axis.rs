//! The axes: values on a line right of each plot, and times (UTC) at round moments along the
//! pane's bottom border, formatted for the span shown.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};

use super::window::XMap;
use crate::domain::TsMs;
use crate::ui::theme::{GlyphKind, Glyphs, Theme};

const SECOND: TsMs = 1_000;
const MINUTE: TsMs = 60 * SECOND;
const HOUR: TsMs = 60 * MINUTE;
const DAY: TsMs = 24 * HOUR;

/// A time in UTC with a chrono `pattern`.
pub fn utc(ts: TsMs, pattern: &str) -> String {
    match chrono::DateTime::<chrono::Utc>::from_timestamp_millis(ts) {
        Some(t) => t.format(pattern).to_string(),
        None => "--:--".into(),
    }
}

/// A label on a value axis: row in the plot, text, style.
pub type ValueLabel = (u16, String, Style);

/// Draws a value axis into `gutter`: a line along the plot with a tick at each label, then the
/// labels (left-aligned, cut to the gutter).
pub fn value_axis(buf: &mut Buffer, gutter: Rect, labels: &[ValueLabel], g: &Glyphs, t: &Theme) {
    if gutter.width == 0 {
        return;
    }
    let (line, tick) = if g.kind == GlyphKind::Ascii {
        ("|", "+")
    } else {
        ("│", "┤")
    };
    for row in 0..gutter.height {
        buf.set_string(gutter.x, gutter.y + row, line, t.muted());
    }
    for (row, text, style) in labels {
        if *row >= gutter.height {
            continue;
        }
        let y = gutter.y + row;
        buf.set_string(gutter.x, y, tick, t.muted());
        let width = usize::from(gutter.width - 1);
        buf.set_stringn(gutter.x + 1, y, text, width, *style);
    }
}

/// Puts `label` on `labels` at `row`, replacing what was there.
pub fn put_label(labels: &mut Vec<ValueLabel>, row: u16, text: String, style: Style) {
    labels.retain(|(r, _, _)| *r != row);
    labels.push((row, text, style));
}

/// Steps between time labels, shortest first (months are separate).
const STEPS: [TsMs; 23] = [
    SECOND,
    2 * SECOND,
    5 * SECOND,
    10 * SECOND,
    15 * SECOND,
    30 * SECOND,
    MINUTE,
    2 * MINUTE,
    5 * MINUTE,
    10 * MINUTE,
    15 * MINUTE,
    30 * MINUTE,
    HOUR,
    2 * HOUR,
    3 * HOUR,
    4 * HOUR,
    6 * HOUR,
    12 * HOUR,
    DAY,
    2 * DAY,
    3 * DAY,
    7 * DAY,
    14 * DAY,
];
const MONTH_STEPS: [u32; 8] = [1, 2, 3, 6, 12, 24, 60, 120];
/// Average month, to compare month steps with the space they get.
const MONTH: f64 = 30.44 * DAY as f64;

/// The time format for labels `step_ms` apart over a window of `span_ms`: HH:MM within a day,
/// MM-DD HH:MM over several days, YYYY-MM-DD for steps of a day or more.
pub fn time_format(step_ms: TsMs, span_ms: TsMs) -> &'static str {
    if step_ms < MINUTE {
        "%H:%M:%S"
    } else if step_ms < DAY && span_ms <= DAY {
        "%H:%M"
    } else if step_ms < DAY {
        "%m-%d %H:%M"
    } else {
        "%Y-%m-%d"
    }
}

/// Characters a label of `pattern` takes.
fn format_len(pattern: &str) -> usize {
    utc(0, pattern).chars().count()
}

/// The labels of the time axis: (first column, text), left to right, at round times whose
/// labels do not crowd each other, each centred on the column of its moment.
pub fn time_labels(x: &XMap) -> Vec<(u16, String)> {
    let span = x.end().saturating_sub(x.origin).max(1);
    let cols_per_ms = f64::from(x.cols) / span as f64;
    let room =
        |step_ms: f64, pattern: &str| step_ms * cols_per_ms >= (format_len(pattern) + 2) as f64;
    let times: Vec<TsMs> = match STEPS
        .iter()
        .copied()
        .find(|&s| s >= x.bucket_ms && room(s as f64, time_format(s, span)))
    {
        Some(step) => {
            let first = x
                .origin
                .div_euclid(step)
                .saturating_add(1)
                .saturating_mul(step);
            let first = if x.origin.rem_euclid(step) == 0 {
                x.origin
            } else {
                first
            };
            (0..i64::from(x.cols))
                .map(|i| first.saturating_add(i.saturating_mul(step)))
                .take_while(|t| *t < x.end())
                .collect()
        }
        None => {
            let months = MONTH_STEPS
                .iter()
                .copied()
                .find(|&m| room(f64::from(m) * MONTH, "%Y-%m-%d"))
                .unwrap_or(120);
            month_starts(x.origin, x.end(), months)
        }
    };
    let pattern = match times.as_slice() {
        [a, b, ..] => time_format(b - a, span),
        _ => time_format(span, span),
    };
    let mut out: Vec<(u16, String)> = Vec::new();
    let mut free_from = 0u16;
    for t in times {
        let Some(slot) = x.slot(t) else {
            continue;
        };
        let text = utc(t, pattern);
        let len = text.chars().count() as u16;
        if len > x.cols {
            break;
        }
        // Centred on its moment's column, or left out rather than moved off it.
        let Some(start) = x.center(slot).checked_sub(len / 2) else {
            continue;
        };
        if start < free_from || start + len > x.cols {
            continue;
        }
        free_from = start + len + 1;
        out.push((start, text));
    }
    out
}

/// First days of months (UTC) in `[from, to)`, every `step` months counted from year 0.
fn month_starts(from: TsMs, to: TsMs, step: u32) -> Vec<TsMs> {
    use chrono::{Datelike, NaiveDate};
    let Some(start) = chrono::DateTime::<chrono::Utc>::from_timestamp_millis(from) else {
        return Vec::new();
    };
    let step = i64::from(step.max(1));
    let mut m = i64::from(start.year()) * 12 + i64::from(start.month0());
    m = m.div_euclid(step) * step;
    let mut out = Vec::new();
    // A window of at most a few hundred years: a bounded walk.
    for _ in 0..2_000 {
        let (y, mo) = (m.div_euclid(12), m.rem_euclid(12));
        let t = i32::try_from(y)
            .ok()
            .and_then(|y| NaiveDate::from_ymd_opt(y, mo as u32 + 1, 1))
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map(|d| d.and_utc().timestamp_millis());
        match t {
            Some(t) if t >= to => break,
            Some(t) if t >= from => out.push(t),
            Some(_) => {}
            None => break,
        }
        m += step;
    }
    out
}

/// Writes the time labels over the bottom border row `y`, under the plot starting at `left`,
/// and the cursor's time (highlighted) when there is one.
pub fn draw_time_axis(
    buf: &mut Buffer,
    left: u16,
    y: u16,
    x: &XMap,
    cursor: Option<TsMs>,
    t: &Theme,
) {
    // the cursor's label, if any, and where it goes: the regular labels it would touch give way
    let cursor_label = cursor.and_then(|c| x.slot(c)).and_then(|slot| {
        let span = x.end().saturating_sub(x.origin);
        let text = utc(x.time_of(slot), time_format(x.bucket_ms, span));
        let len = text.chars().count() as u16;
        (len <= x.cols).then(|| {
            let start = x.center(slot).saturating_sub(len / 2).min(x.cols - len);
            (start, len, text)
        })
    });
    for (col, text) in time_labels(x) {
        let len = text.chars().count() as u16;
        let clear = cursor_label
            .as_ref()
            .is_none_or(|(s, l, _)| col + len < *s || col > s + l);
        if clear {
            buf.set_string(left + col, y, text, t.muted());
        }
    }
    if let Some((start, _, text)) = cursor_label {
        let style = Style::new().add_modifier(Modifier::REVERSED);
        buf.set_string(left + start, y, text, style);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2023-11-14T00:00:00Z
    const DAY0: TsMs = 1_699_920_000_000;

    #[test]
    fn formats_follow_the_span() {
        assert_eq!(time_format(15 * MINUTE, HOUR), "%H:%M");
        assert_eq!(time_format(12 * HOUR, 7 * DAY), "%m-%d %H:%M");
        assert_eq!(time_format(7 * DAY, 60 * DAY), "%Y-%m-%d");
        assert_eq!(time_format(10 * SECOND, MINUTE), "%H:%M:%S");
    }

    #[test]
    fn an_hour_of_minutes_gets_round_quarters() {
        let x = XMap::new(DAY0, DAY0 + HOUR, MINUTE, 60);
        let labels = time_labels(&x);
        let texts: Vec<&str> = labels.iter().map(|(_, t)| t.as_str()).collect();
        // 00:00 would stick out of the left edge.
        assert_eq!(texts, ["00:10", "00:20", "00:30", "00:40", "00:50"]);
        assert_eq!(labels[0].0, 8);
        for w in labels.windows(2) {
            assert!(w[1].0 >= w[0].0 + 6);
        }
    }

    #[test]
    fn a_month_gets_dates_and_a_decade_gets_months() {
        let x = XMap::new(DAY0, DAY0 + 30 * DAY, 12 * HOUR, 60);
        let labels = time_labels(&x);
        assert!(!labels.is_empty());
        assert!(
            labels
                .iter()
                .all(|(_, t)| t.len() == 10 && t.starts_with("2023")),
            "{labels:?}"
        );
        let x = XMap::new(DAY0, DAY0 + 3650 * DAY, 61 * DAY, 60);
        let labels = time_labels(&x);
        assert!(labels.len() >= 2, "{labels:?}");
        assert!(labels.iter().all(|(_, t)| t.ends_with("-01")), "{labels:?}");
    }

    #[test]
    fn labels_never_leave_the_plot() {
        for cols in [1, 4, 5, 9, 40] {
            for span in [MINUTE, HOUR, DAY, 40 * DAY, 4000 * DAY] {
                let x = XMap::new(DAY0, DAY0 + span, (span / i64::from(cols)).max(1000), cols);
                for (start, text) in time_labels(&x) {
                    assert!(start + text.len() as u16 <= cols, "{cols} {span} {text}");
                }
            }
        }
    }
}
