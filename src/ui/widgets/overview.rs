//! The overview grid: a small line chart of recent closes for every watchlist row, with its
//! last price, change and data age; the selected symbol is highlighted.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Chart, Dataset, GraphType, Widget};

use super::{empty_state, pane};
use crate::domain::TsMs;
use crate::format;
use crate::ui::theme::{Glyphs, Theme};
use crate::view::WatchRow;

/// Smallest cell: a readable title and a chart of a few rows.
const CELL_W: u16 = 26;
const CELL_H: u16 = 6;

pub struct Overview<'a> {
    pub rows: &'a [WatchRow],
    pub selected: usize,
    pub now_ms: TsMs,
    pub stale_after_ms: i64,
    pub waiting: &'a str,
    pub glyphs: &'a Glyphs,
    pub theme: &'a Theme,
}

/// Columns and rows of the grid for `n` cells in `area`, and the first row shown (so the
/// selection stays visible when not all cells fit).
pub fn grid(area: Rect, n: usize, selected: usize) -> (u16, u16, usize) {
    let cols = (area.width / CELL_W).max(1);
    let rows_fit = (area.height / CELL_H).max(1);
    let rows_needed = (n as u16).div_ceil(cols).max(1);
    let rows = rows_needed.min(rows_fit);
    let sel_row = (selected as u16) / cols;
    let first = sel_row.saturating_sub(rows - 1);
    (cols, rows, usize::from(first))
}

impl Widget for &Overview<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        if self.rows.is_empty() {
            let block = pane(
                Line::styled(" Overview ", self.theme.title()),
                false,
                self.glyphs,
                self.theme,
            );
            let inner = block.inner(area);
            block.render(area, buf);
            return empty_state(self.waiting, inner, buf, self.theme);
        }
        let (cols, rows, first_row) = grid(area, self.rows.len(), self.selected);
        let w = area.width / cols;
        let h = area.height / rows;
        for r in 0..rows {
            for c in 0..cols {
                let i = (first_row + usize::from(r)) * usize::from(cols) + usize::from(c);
                let Some(row) = self.rows.get(i) else {
                    return;
                };
                let cell = Rect {
                    x: area.x + c * w,
                    y: area.y + r * h,
                    width: if c + 1 == cols { area.width - c * w } else { w },
                    height: h,
                };
                self.cell(row, i == self.selected, cell, buf);
            }
        }
    }
}

impl Overview<'_> {
    fn cell(&self, row: &WatchRow, selected: bool, area: Rect, buf: &mut Buffer) {
        let t = self.theme;
        let age = row.last_recv_ms.map(|r| self.now_ms - r);
        let stale = age.is_none_or(|a| a > self.stale_after_ms);
        let mut title = vec![Span::styled(
            format!(" {} ", row.key.symbol),
            if selected {
                t.title().add_modifier(Modifier::REVERSED)
            } else {
                t.title()
            },
        )];
        if let Some(p) = row.last.filter(|p| p.is_finite()) {
            title.push(Span::raw(format!("{} ", format::price(p))));
        }
        if let Some(c) = row.change_pct.filter(|c| c.is_finite()) {
            title.push(Span::styled(format!("{} ", format::pct(c)), t.signed(c)));
        }
        if stale {
            let a = age.map_or_else(|| "no data".to_string(), format::age);
            title.push(Span::styled(format!("{a} "), t.warn()));
        }
        let block = pane(Line::from(title), selected, self.glyphs, t);
        let inner = block.inner(area);
        block.render(area, buf);
        let pts: Vec<(f64, f64)> = row
            .spark
            .iter()
            .enumerate()
            .filter(|(_, v)| v.is_finite())
            .map(|(i, v)| (i as f64, *v))
            .collect();
        if pts.len() < 2 || inner.height == 0 {
            return empty_state("waiting for candles", inner, buf, t);
        }
        let (lo, hi) = pts
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), p| {
                (l.min(p.1), h.max(p.1))
            });
        let pad = if hi > lo {
            0.0
        } else {
            (lo.abs() * 1e-3).max(1e-9)
        };
        let color = match (pts.first(), pts.last()) {
            (Some(a), Some(b)) if b.1 > a.1 => t.up,
            (Some(a), Some(b)) if b.1 < a.1 => t.down,
            _ => t.close,
        };
        let mut style = t.fg(color);
        if stale {
            style = style.add_modifier(Modifier::DIM);
        }
        let data = Dataset::default()
            .marker(self.glyphs.marker)
            .graph_type(GraphType::Line)
            .style(style)
            .data(&pts);
        Chart::new(vec![data])
            .x_axis(Axis::default().bounds([0.0, (pts.len() - 1) as f64]))
            .y_axis(Axis::default().bounds([lo - pad, hi + pad]))
            .render(inner, buf);
    }
}
