//! The words around the plot: the pane title (symbol, interval and bucket, mode, scale, hidden
//! sub-panes, the app's caption) and the legend line (time, OHLCV and indicator values of
//! the candle under the cursor, or of the latest one).

use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};

use super::Plot;
use super::axis::utc;
use super::columns::{self, overlay_color, overlay_of, overlay_on};
use super::layout::Sub;
use crate::domain::{Interval, TsMs};
use crate::format;
use crate::ui::theme::{GlyphKind, Glyphs, Theme};
use crate::view::ChartView;

/// `s` as the glyph set can show it: unchanged, or every character outside ASCII replaced by
/// its look-alike (a missing value's dash, an ellipsis in the app's caption).
pub fn shown_text(s: &str, glyphs: &Glyphs) -> String {
    if glyphs.kind != GlyphKind::Ascii || s.is_ascii() {
        return s.to_string();
    }
    s.chars()
        .map(|c| {
            if c.is_ascii() {
                c.to_string()
            } else {
                crate::ui::ascii::fold(c).to_string()
            }
        })
        .collect()
}

/// The spans of `line` with [`shown_text`].
fn fold_line(line: Line<'static>, glyphs: &Glyphs) -> Line<'static> {
    if glyphs.kind != GlyphKind::Ascii {
        return line;
    }
    let spans: Vec<Span<'static>> = line
        .spans
        .into_iter()
        .map(|s| Span::styled(shown_text(&s.content, glyphs), s.style))
        .collect();
    Line::from(spans)
}

/// What the title says about the scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogState {
    Off,
    On,
    /// Asked for, but some price is not positive.
    Unavailable,
}

pub struct TitleParts<'a> {
    pub chart: &'a ChartView,
    pub bucket_ms: TsMs,
    pub mode: &'a str,
    pub log: LogState,
    pub caption: &'a str,
    /// Shown after the caption when there is room.
    pub note: &'a str,
    pub hidden: &'a [Sub],
}

/// "×12 per column" or "→ 1h columns" when a column holds several candles.
pub fn bucket_text(interval: Interval, bucket_ms: TsMs, glyphs: &Glyphs) -> Option<String> {
    let per = bucket_ms / interval.ms().max(1);
    if per <= 1 {
        return None;
    }
    let ascii = glyphs.kind == GlyphKind::Ascii;
    Some(match Interval::ALL.iter().find(|i| i.ms() == bucket_ms) {
        Some(named) if ascii => format!("-> {named} columns"),
        Some(named) => format!("→ {named} columns"),
        None if ascii => format!("x{per} per column"),
        None => format!("×{per} per column"),
    })
}

/// The pane title, cut to `width` characters with an ellipsis. The range and history status
/// (the caption) say what the chart shows, so when the title is too long the parts that the
/// chart shows anyway (mode, log scale, column width, hidden panes), then the note, give way
/// first.
pub fn title(t: &TitleParts, width: u16, glyphs: &Glyphs, theme: &Theme) -> Line<'static> {
    let c = t.chart;
    // (text, style, the order in which it gives way: 0 never)
    let mut parts: Vec<(String, Style, u8)> =
        vec![(format!(" {} {}", c.key, c.interval), theme.title(), 0)];
    if let Some(b) = bucket_text(c.interval, t.bucket_ms, glyphs) {
        parts.push((format!(" {b}"), Style::new(), 3));
    }
    parts.push((format!("{}{}", glyphs.sep, t.mode), Style::new(), 1));
    match t.log {
        LogState::Off => {}
        LogState::On => parts.push((format!("{}log", glyphs.sep), Style::new(), 2)),
        LogState::Unavailable => parts.push((
            format!("{}log n/a (prices <= 0)", glyphs.sep),
            Style::new(),
            2,
        )),
    }
    if !t.hidden.is_empty() {
        let names: Vec<&str> = t.hidden.iter().rev().map(|s| s.name()).collect();
        let text = format!("{}{} hidden", glyphs.sep, names.join(", "));
        parts.push((text, theme.warn(), 4));
    }
    if !t.caption.is_empty() {
        parts.push((format!("{}{}", glyphs.sep, t.caption), Style::new(), 0));
    }
    if !t.note.is_empty() {
        parts.push((format!(" {}", t.note), Style::new(), 5));
    }
    parts.push((" ".into(), Style::new(), 6));
    let mut parts: Vec<(String, Style, u8)> = parts
        .into_iter()
        .map(|(s, st, p)| (shown_text(&s, glyphs), st, p))
        .collect();
    let len = |parts: &[(String, Style, u8)]| -> usize {
        parts.iter().map(|(s, ..)| s.chars().count()).sum()
    };
    for give_way in 1..=6 {
        if len(&parts) <= usize::from(width) {
            break;
        }
        parts.retain(|(.., p)| *p != give_way);
    }
    let parts = parts.into_iter().map(|(s, st, _)| (s, st)).collect();
    cut(parts, usize::from(width), glyphs.ellipsis)
}

/// Spans cut at `width` characters, the last visible one ending in `ellipsis`.
fn cut(parts: Vec<(String, Style)>, width: usize, ellipsis: &str) -> Line<'static> {
    let total: usize = parts.iter().map(|(s, _)| s.chars().count()).sum();
    if total <= width {
        return Line::from(
            parts
                .into_iter()
                .map(|(s, st)| Span::styled(s, st))
                .collect::<Vec<_>>(),
        );
    }
    let keep = width.saturating_sub(ellipsis.chars().count());
    let mut spans = Vec::new();
    let mut used = 0;
    for (s, st) in parts {
        let n = s.chars().count();
        if used + n <= keep {
            used += n;
            spans.push(Span::styled(s, st));
        } else {
            spans.push(Span::styled(
                s.chars().take(keep - used).collect::<String>(),
                st,
            ));
            break;
        }
    }
    if width >= ellipsis.chars().count() {
        spans.push(Span::raw(ellipsis.to_string()));
    }
    Line::from(spans)
}

/// How a bucket's time reads in the legend.
fn legend_time(bucket_ms: TsMs, t: TsMs) -> String {
    let pattern = if bucket_ms >= Interval::D1.ms() {
        "%Y-%m-%d"
    } else if bucket_ms < 60_000 {
        "%m-%d %H:%M:%S"
    } else {
        "%m-%d %H:%M"
    };
    utc(t, pattern)
}

/// The legend: the bucket under the cursor (its time highlighted), else the latest; whole
/// groups are left out from the end when `width` is too small, marked by an ellipsis.
pub fn legend(p: &Plot, shown: &[Sub], width: u16) -> Line<'static> {
    let cursor_slot = p.opts.cursor_ms.and_then(|t| p.x.slot(t));
    let (time, idx) = match cursor_slot {
        Some(slot) => (p.x.time_of(slot), p.slots.iter().position(|&s| s == slot)),
        None => match p.candles.last() {
            Some(c) => (c.candle.open_ms, Some(p.candles.len() - 1)),
            None => return Line::default(),
        },
    };
    let time_style = if cursor_slot.is_some() {
        Style::new().add_modifier(Modifier::REVERSED)
    } else {
        Style::new().add_modifier(Modifier::BOLD)
    };
    let mut groups: Vec<Vec<Span<'static>>> = vec![vec![Span::styled(
        legend_time(p.x.bucket_ms, time),
        time_style,
    )]];
    let Some(i) = idx else {
        groups.push(vec![Span::styled("no candle", p.theme.muted())]);
        return fold_line(fit_groups(groups, width, p.glyphs.ellipsis), p.glyphs);
    };
    let cc = &p.candles[i];
    let c = &cc.candle;
    let d = format::price_decimals(c.high.abs().max(c.low.abs()));
    let dir = if c.close >= c.open {
        p.theme.up()
    } else {
        p.theme.down()
    };
    let muted = p.theme.muted();
    for (name, v) in [("O", c.open), ("H", c.high), ("L", c.low), ("C", c.close)] {
        groups.push(vec![
            Span::styled(format!("{name} "), muted),
            Span::styled(format::price_with(v, d), dir),
        ]);
    }
    let base = i
        .checked_sub(1)
        .map(|j| p.candles[j].candle.close)
        .filter(|v| v.is_finite() && *v != 0.0)
        .unwrap_or(c.open);
    if base.is_finite() && base != 0.0 {
        let chg = (c.close - base) / base * 100.0;
        groups.push(vec![Span::styled(format::pct(chg), p.theme.signed(chg))]);
    }
    groups.push(vec![
        Span::styled("V ", muted),
        Span::raw(format::compact(c.volume)),
    ]);
    // the running candle has no indicator values yet: show those of the last closed one
    let value = |col: usize| {
        cc.values.get(col).copied().flatten().or_else(|| {
            (!cc.closed)
                .then(|| i.checked_sub(1))
                .flatten()
                .and_then(|j| p.candles[j].values.get(col).copied().flatten())
        })
    };
    let num = |v: Option<f64>| v.map_or("—".to_string(), |v| format::price_with(v, d));
    // Overlays, one group per label (a band's upper and lower together).
    let mut labels: Vec<(usize, String)> = Vec::new();
    for col in p.columns.iter() {
        if let Some((kind, label)) = overlay_of(col)
            && overlay_on(p.opts, kind)
            && !labels.iter().any(|(_, l)| *l == label)
        {
            labels.push((if kind == 1 { 0 } else { kind }, label));
        }
    }
    for (kind, label) in labels {
        let style = p.theme.fg(overlay_color(p.theme, kind));
        let text = if kind == 0 {
            let find = |suffix: &str| {
                p.columns
                    .iter()
                    .position(|c| {
                        overlay_of(c).is_some_and(|(_, l)| l == label) && c.ends_with(suffix)
                    })
                    .and_then(value)
            };
            format!("{label} {}/{}", num(find("_lower")), num(find("_upper")))
        } else {
            let col = p
                .columns
                .iter()
                .position(|c| overlay_of(c).is_some_and(|(_, l)| l == label));
            format!("{label} {}", num(col.and_then(value)))
        };
        groups.push(vec![Span::styled(text, style)]);
    }
    if shown.contains(&Sub::Rsi)
        && let Some(col) = columns::rsi(p.columns)
    {
        let text = match value(col) {
            Some(v) => format!("{} {v:.1}", p.columns[col].to_ascii_uppercase()),
            None => format!("{} —", p.columns[col].to_ascii_uppercase()),
        };
        groups.push(vec![Span::styled(text, p.theme.fg(p.theme.rsi))]);
    }
    if shown.contains(&Sub::Macd)
        && let Some(m) = columns::macd(p.columns)
    {
        let md = format::price_decimals(value(m.line).unwrap_or(0.0));
        let f = |v: Option<f64>| v.map_or("—".to_string(), |v| format::price_with(v, md));
        groups.push(vec![
            Span::styled(
                format!(
                    "{} {}",
                    p.columns[m.line].to_ascii_uppercase(),
                    f(value(m.line))
                ),
                p.theme.fg(p.theme.macd),
            ),
            Span::styled(
                format!(" sig {}", f(m.signal.and_then(value))),
                p.theme.fg(p.theme.signal),
            ),
            Span::styled(format!(" hist {}", f(m.hist.and_then(value))), muted),
        ]);
    }
    fold_line(fit_groups(groups, width, p.glyphs.ellipsis), p.glyphs)
}

/// Groups separated by a space, as many whole ones as fit in `width`.
fn fit_groups(groups: Vec<Vec<Span<'static>>>, width: u16, ellipsis: &str) -> Line<'static> {
    let width = usize::from(width);
    let ell = ellipsis.chars().count();
    let mut out: Vec<Span<'static>> = Vec::new();
    let mut used = 0;
    for (i, g) in groups.into_iter().enumerate() {
        let w: usize = g.iter().map(|s| s.content.chars().count()).sum();
        let sep = usize::from(i > 0);
        let need = used + sep + w;
        if need > width {
            if used + sep + ell <= width {
                out.push(Span::raw(if sep == 1 {
                    format!(" {ellipsis}")
                } else {
                    ellipsis.to_string()
                }));
            }
            break;
        }
        if sep == 1 {
            out.push(Span::raw(" "));
        }
        out.extend(g);
        used = need;
    }
    Line::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_text_names_intervals_or_counts() {
        let g = Glyphs::UNICODE;
        assert_eq!(bucket_text(Interval::M1, 60_000, &g), None);
        assert_eq!(
            bucket_text(Interval::M5, 3_600_000, &g),
            Some("→ 1h columns".into())
        );
        assert_eq!(
            bucket_text(Interval::M5, 3_600_000, &Glyphs::ASCII),
            Some("-> 1h columns".into())
        );
        assert_eq!(
            bucket_text(Interval::M1, 12 * 60_000, &g),
            Some("×12 per column".into())
        );
    }

    #[test]
    fn groups_are_kept_whole() {
        let g = |s: &str| vec![Span::raw(s.to_string())];
        let line = fit_groups(vec![g("aaaa"), g("bbbb"), g("cccc")], 11, "…");
        assert_eq!(line.to_string(), "aaaa bbbb …");
        let line = fit_groups(vec![g("aaaa"), g("bbbb")], 9, "…");
        assert_eq!(line.to_string(), "aaaa bbbb");
        let line = fit_groups(vec![g("aaaa")], 2, "...");
        assert_eq!(line.to_string(), "");
    }

    #[test]
    fn titles_are_cut_with_an_ellipsis() {
        let parts = vec![
            ("abcdef".to_string(), Style::new()),
            ("ghij".into(), Style::new()),
        ];
        assert_eq!(cut(parts.clone(), 20, "…").to_string(), "abcdefghij");
        assert_eq!(cut(parts.clone(), 8, "…").to_string(), "abcdefg…");
        assert_eq!(cut(parts, 0, "…").to_string(), "");
    }
}
