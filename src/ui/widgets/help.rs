//! The help overlay: every key binding (from the keymap itself) and the chart's colour legend.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Widget, Wrap};

use super::chart::OVERLAY_KINDS;
use super::pane;
use crate::ui::keymap::BINDINGS;
use crate::ui::theme::{self, Glyphs};

pub struct HelpOverlay<'a> {
    pub glyphs: &'a Glyphs,
}

const KEY_W: usize = 17;

impl Widget for &HelpOverlay<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let mut lines: Vec<Line> = BINDINGS
            .iter()
            .map(|(keys, what)| {
                Line::from(vec![
                    Span::styled(format!(" {keys:<KEY_W$}"), theme::header()),
                    Span::raw(*what),
                ])
            })
            .collect();
        lines.push(Line::raw(""));
        let mut legend = vec![
            Span::styled(format!(" {:<KEY_W$}", "chart"), theme::header()),
            Span::styled("close ", Style::new().fg(theme::CLOSE)),
        ];
        for (name, color) in OVERLAY_KINDS {
            legend.push(Span::styled(format!("{name} "), Style::new().fg(color)));
        }
        lines.push(Line::from(legend));
        lines.push(Line::styled(
            format!(
                " {:<KEY_W$}dimmed rows and yellow ages: no data for a while",
                "stale"
            ),
            theme::muted(),
        ));

        let width = area.width.min(72);
        let height = area.height.min(lines.len() as u16 + 2);
        let popup = Rect {
            x: area.x + (area.width - width) / 2,
            y: area.y + (area.height - height) / 2,
            width,
            height,
        };
        Clear.render(popup, buf);
        let block = pane(
            Line::styled(" Keys (? or Esc closes) ", theme::title()),
            true,
            self.glyphs,
        );
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false })
            .render(popup, buf);
    }
}
