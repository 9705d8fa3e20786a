//! The watchlist table: one row per symbol with its price, change, volume, RSI, z-score, data
//! age and a sparkline of recent closes.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Row, StatefulWidget, Table, TableState, Widget};

use super::{bar_glyph, empty_state, pane};
use crate::domain::TsMs;
use crate::format;
use crate::ui::theme::{Glyphs, Theme};
use crate::view::WatchRow;

/// Fixed column widths: Symbol, Last, Chg%, Vol, RSI, z, Age. The sparkline takes the rest.
const WIDTHS: [u16; 7] = [12, 12, 8, 7, 5, 6, 5];
/// `z tick`: the z-score is the latest trade's (the tape's anomaly score), whatever the interval;
/// RSI is the chosen interval's.
const HEADER: [&str; 8] = [
    "Symbol", "Last", "Chg%", "Vol", "RSI", "z tick", "Age", "Trend",
];
const SPACING: u16 = 1;

pub struct Watchlist<'a> {
    pub rows: &'a [WatchRow],
    pub selected: usize,
    pub focused: bool,
    pub now_ms: TsMs,
    /// Rows whose last event is older than this show their age instead of looking live.
    pub stale_after_ms: i64,
    /// What to say while there are no rows ("waiting for data from sim…", "no symbol matches").
    pub waiting: &'a str,
    /// The title: watchlist name, counts, filter and sort ("majors 2/3 (2/6) by Chg% ↓").
    pub title: &'a str,
    /// Header of the sorted column, underlined.
    pub sort_column: Option<&'a str>,
    pub glyphs: &'a Glyphs,
    pub theme: &'a Theme,
}

impl Widget for &Watchlist<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let title = Line::from(format!(" {} ", self.title)).style(self.theme.title());
        let block = pane(title, self.focused, self.glyphs, self.theme);
        let inner = block.inner(area);
        block.render(area, buf);
        if self.rows.is_empty() {
            empty_state(self.waiting, inner, buf, self.theme);
            return;
        }
        let fixed: u16 = WIDTHS.iter().sum::<u16>() + SPACING * WIDTHS.len() as u16;
        let spark_w = inner.width.saturating_sub(fixed);
        let widths = WIDTHS
            .iter()
            .map(|w| Constraint::Length(*w))
            .chain([Constraint::Length(spark_w)]);
        let header = Row::new(HEADER.iter().enumerate().map(|(i, h)| {
            let line = if self.sort_column == Some(*h) {
                Line::styled(*h, Style::new().add_modifier(Modifier::UNDERLINED))
            } else {
                Line::from(*h)
            };
            Cell::from(if (1..=6).contains(&i) {
                line.right_aligned()
            } else {
                line
            })
        }))
        .style(self.theme.header());
        let rows = self.rows.iter().map(|r| self.row(r, spark_w as usize));
        let table = Table::new(rows, widths)
            .header(header)
            .column_spacing(SPACING)
            .row_highlight_style(self.theme.selected(self.focused));
        let selected = self.selected.min(self.rows.len() - 1);
        let mut state = TableState::default().with_selected(Some(selected));
        StatefulWidget::render(table, inner, buf, &mut state);
    }
}

fn right(text: String, style: Style) -> Cell<'static> {
    Cell::from(Line::from(Span::styled(text, style)).right_aligned())
}

fn opt(v: Option<f64>, f: impl Fn(f64) -> String) -> String {
    v.filter(|x| x.is_finite())
        .map(f)
        .unwrap_or_else(|| "—".into())
}

impl Watchlist<'_> {
    fn row(&self, r: &WatchRow, spark_w: usize) -> Row<'static> {
        let age_ms = r.last_recv_ms.map(|t| self.now_ms - t);
        let stale = age_ms.is_none_or(|a| a > self.stale_after_ms);
        let change_style = r
            .change_pct
            .map(|v| self.theme.signed(v))
            .unwrap_or_default();
        let rsi_style = match r.rsi {
            Some(v) if v > 70.0 => self.theme.down(),
            Some(v) if v < 30.0 => self.theme.up(),
            _ => Style::new(),
        };
        let z_style = match r.z {
            Some(z) if z.abs() >= 3.0 => self.theme.warn().add_modifier(Modifier::BOLD),
            _ => Style::new(),
        };
        let age = match age_ms {
            None => Span::styled("—", self.theme.warn()),
            Some(a) if stale => Span::styled(format::age(a), self.theme.warn()),
            Some(_) => Span::raw(""),
        };
        let cells = vec![
            Cell::from(r.key.symbol.as_str().to_string()),
            right(opt(r.last, format::price), Style::new()),
            right(opt(r.change_pct, format::pct), change_style),
            right(format::compact(r.volume), Style::new()),
            right(opt(r.rsi, |v| format!("{v:.0}")), rsi_style),
            right(opt(r.z, |v| format!("{v:+.1}")), z_style),
            Cell::from(Line::from(age).right_aligned()),
            Cell::from(self.spark(&r.spark, spark_w)),
        ];
        let row = Row::new(cells);
        // A quiet symbol is dimmed so it cannot pass for live at a glance.
        if stale {
            row.style(Style::new().add_modifier(Modifier::DIM))
        } else {
            row
        }
    }

    fn spark(&self, values: &[f64], width: usize) -> Line<'static> {
        let tail = &values[values.len().saturating_sub(width)..];
        let finite = tail.iter().copied().filter(|v| v.is_finite());
        let (lo, hi) = finite.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
        let text: String = tail
            .iter()
            .map(|v| {
                if v.is_finite() {
                    bar_glyph(self.glyphs, *v, lo, hi)
                } else {
                    " "
                }
            })
            .collect();
        let style = match (tail.first(), tail.last()) {
            (Some(a), Some(b)) if b > a => self.theme.up(),
            (Some(a), Some(b)) if b < a => self.theme.down(),
            _ => self.theme.muted(),
        };
        Line::styled(text, style)
    }
}
