//! Pure views: each takes borrowed data and draws into a buffer, with no I/O and no mutation of
//! application state.

pub mod alerts;
pub mod chart;
pub mod detail;
pub mod help;
pub mod ladder;
pub mod overview;
pub mod portfolio;
pub mod rule_form;
pub mod status;
pub mod title;
pub mod watchlist;

use ratatui::buffer::Buffer;
use ratatui::layout::{Alignment, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph, Widget, Wrap};

use super::theme::{Glyphs, Theme};

/// The bordered frame of a pane; its border is highlighted when the pane has focus.
pub fn pane<'a>(title: Line<'a>, focused: bool, glyphs: &Glyphs, theme: &Theme) -> Block<'a> {
    Block::bordered()
        .border_set(glyphs.border)
        .border_style(theme.pane_border(focused))
        .title(title)
}

/// Says what is happening in a pane that has nothing to draw yet, vertically centred.
pub fn empty_state(text: &str, area: Rect, buf: &mut Buffer, theme: &Theme) {
    if area.is_empty() {
        return;
    }
    let top = area.height.saturating_sub(1) / 2;
    let area = Rect {
        y: area.y + top,
        height: area.height - top,
        ..area
    };
    Paragraph::new(text)
        .style(theme.muted())
        .alignment(Alignment::Center)
        .wrap(Wrap { trim: true })
        .render(area, buf);
}

/// One bar character for `v` scaled into `lo..=hi` (the middle bar when the range is flat).
pub fn bar_glyph(glyphs: &Glyphs, v: f64, lo: f64, hi: f64) -> &'static str {
    let level = if hi > lo {
        (((v - lo) / (hi - lo)) * 7.0).round().clamp(0.0, 7.0) as usize
    } else {
        3
    };
    glyphs.bars[level]
}
