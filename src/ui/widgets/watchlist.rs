//! The watchlist table: one row per symbol with its screen name (`BTC/USDT`) and venue, its
//! price, the difference from the same pair at other venues, change, volume, RSI, z-score, data
//! age and a sparkline of recent closes.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Row, StatefulWidget, Table, TableState, Widget};

use std::collections::HashMap;

use super::{bar_glyph, empty_state, pane};
use crate::domain::{TsMs, VenueSymbol, display_name};
use crate::format;
use crate::ui::cross_venue::CrossVenue;
use crate::ui::theme::{Glyphs, Theme};
use crate::view::WatchRow;

/// The fixed columns: header, width, right-aligned. `z tick`: the z-score is the latest
/// trade's (the tape's anomaly score), whatever the interval; RSI is the chosen interval's.
/// `Δbp med` (only while some pair is at two venues): basis points from the median of that
/// pair's live prices at every venue. The sparkline (`Trend`) takes the rest of the width.
const SYMBOL: (&str, u16, bool) = ("Symbol", 12, false);
const VENUE: (&str, u16, bool) = ("Venue", 8, false);
const LAST: (&str, u16, bool) = ("Last", 12, true);
pub const CROSS: (&str, u16, bool) = ("Δbp med", 7, true);
const REST: [(&str, u16, bool); 5] = [
    ("Chg%", 8, true),
    ("Vol", 7, true),
    ("RSI", 5, true),
    ("z tick", 6, true),
    ("Age", 5, true),
];
const TREND: &str = "Trend";
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
    /// Each row's difference from the same pair at other venues (every row the engine has;
    /// empty: no pair is at two venues, and the column is left out).
    pub cross: &'a HashMap<VenueSymbol, CrossVenue>,
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
        let columns = self.columns();
        let fixed: u16 = columns.iter().map(|c| c.1 + SPACING).sum();
        // no room left (80 columns with the cross-venue column): no sparkline
        let spark_w = inner.width.saturating_sub(fixed);
        let widths = columns
            .iter()
            .map(|c| Constraint::Length(c.1))
            .chain((spark_w > 0).then_some(Constraint::Length(spark_w)));
        let headers = columns
            .iter()
            .map(|c| (c.0, c.2))
            .chain((spark_w > 0).then_some((TREND, false)));
        let header = Row::new(headers.map(|(h, right)| {
            let line = if self.sort_column == Some(h) {
                Line::styled(h, Style::new().add_modifier(Modifier::UNDERLINED))
            } else {
                Line::from(h)
            };
            Cell::from(if right { line.right_aligned() } else { line })
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
    /// Whether some pair is at two or more venues (then the cross-venue column shows).
    fn has_groups(&self) -> bool {
        self.cross.values().any(|c| *c != CrossVenue::Single)
    }

    fn columns(&self) -> Vec<(&'static str, u16, bool)> {
        let mut cols = vec![SYMBOL, VENUE, LAST];
        if self.has_groups() {
            cols.push(CROSS);
        }
        cols.extend(REST);
        cols
    }

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
        let mut cells = vec![
            Cell::from(display_name(r.key.venue, &r.key.symbol)),
            Cell::from(Span::styled(r.key.venue.label(), self.theme.muted())),
            right(opt(r.last, format::price), Style::new()),
        ];
        if self.has_groups() {
            let cross = self
                .cross
                .get(&r.key)
                .copied()
                .unwrap_or(CrossVenue::Single);
            let style = match cross {
                CrossVenue::Bp(bp) => self.theme.signed(bp),
                CrossVenue::NoFigure => self.theme.warn(),
                CrossVenue::Single => Style::new(),
            };
            cells.push(right(cross.text(), style));
        }
        cells.extend([
            right(opt(r.change_pct, format::pct), change_style),
            right(format::compact(r.volume), Style::new()),
            right(opt(r.rsi, |v| format!("{v:.0}")), rsi_style),
            right(opt(r.z, |v| format!("{v:+.1}")), z_style),
            Cell::from(Line::from(age).right_aligned()),
        ]);
        if spark_w > 0 {
            cells.push(Cell::from(self.spark(&r.spark, spark_w)));
        }
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
