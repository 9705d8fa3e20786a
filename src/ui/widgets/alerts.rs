//! The alerts pane: fired alerts, newest first, scrollable when focused.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use super::{empty_state, pane};
use crate::format;
use crate::store::AlertRecord;
use crate::ui::theme::{self, Glyphs};

pub struct AlertsPane<'a> {
    /// Newest first, as the snapshot keeps them.
    pub alerts: &'a [AlertRecord],
    /// How many of the newest alerts are scrolled past.
    pub scroll: usize,
    pub focused: bool,
    pub glyphs: &'a Glyphs,
}

impl Widget for &AlertsPane<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let scroll = self.scroll.min(self.alerts.len().saturating_sub(1));
        let mut title = format!(" Alerts ({}) ", self.alerts.len());
        if scroll > 0 {
            title.push_str(&format!("↓{scroll} "));
        }
        let block = pane(
            Line::styled(title, theme::title()),
            self.focused,
            self.glyphs,
        );
        let inner = block.inner(area);
        block.render(area, buf);
        if self.alerts.is_empty() {
            return empty_state("no alerts fired yet", inner, buf);
        }
        let lines: Vec<Line> = self
            .alerts
            .iter()
            .skip(scroll)
            .take(usize::from(inner.height))
            .map(|a| {
                let symbol = a.key.symbol.as_str();
                // Rule messages often start with the symbol; it already has its own column.
                let message = a
                    .message
                    .strip_prefix(symbol)
                    .map_or(a.message.as_str(), str::trim_start);
                Line::from(vec![
                    Span::styled(format::hms(a.ts_ms), theme::muted()),
                    Span::raw(" "),
                    Span::styled(symbol.to_string(), Style::new().fg(theme::ACCENT)),
                    Span::raw(" "),
                    Span::raw(message.to_string()),
                ])
            })
            .collect();
        Paragraph::new(lines).render(inner, buf);
    }
}
