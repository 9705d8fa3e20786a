//! The rule form and the delete confirmation, drawn over the screen.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Widget};

use super::pane;
use crate::ui::rule_form::{Field, RuleForm};
use crate::ui::theme::{self, Glyphs};

pub struct RuleFormView<'a> {
    pub form: &'a RuleForm,
    pub glyphs: &'a Glyphs,
}

const LABEL_W: usize = 11;

/// A box of `width` x `height` in the middle of `area`.
fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let (width, height) = (width.min(area.width), height.min(area.height));
    Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    }
}

impl Widget for &RuleFormView<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let f = self.form;
        let ascii = self.glyphs.ellipsis == "...";
        let (prev, next) = if ascii {
            ("< ", " >")
        } else {
            ("◀ ", " ▶")
        };
        let mut lines: Vec<Line> = Vec::new();
        for field in f.fields() {
            let focused = field == f.field;
            let label_style = if focused {
                theme::header()
            } else {
                theme::muted()
            };
            let mut spans = vec![Span::styled(
                format!(" {:<LABEL_W$}", field.label()),
                label_style,
            )];
            let text = f.text(field);
            let value_style = if focused {
                Style::new().add_modifier(Modifier::REVERSED)
            } else {
                Style::new()
            };
            if field.is_choice() {
                spans.push(Span::styled(format!("{prev}{text}{next}"), value_style));
            } else if text.is_empty() && !focused {
                let hint = match field {
                    Field::Name => "(from the condition)",
                    Field::Hysteresis => "0",
                    _ => "",
                };
                spans.push(Span::styled(hint, theme::muted()));
            } else {
                spans.push(Span::styled(text, value_style));
                if focused {
                    spans.push(Span::styled("_", theme::header()));
                }
            }
            lines.push(Line::from(spans));
        }
        lines.push(Line::raw(""));
        lines.push(match &f.error {
            Some(e) => Line::styled(format!(" {e}"), theme::bad()),
            None => Line::styled(
                " Enter saves · Esc cancels · ←/→ choose · ↑/↓ move",
                theme::muted(),
            ),
        });
        let title = match &f.editing {
            Some(name) => format!(" Edit rule {name} "),
            None => match &f.scope_list {
                Some(l) => format!(" New alert rule · {} ", l.join(",")),
                None => " New alert rule ".to_string(),
            },
        };
        let height = lines.len() as u16 + 2;
        let popup = centered(area, 64, height);
        Clear.render(popup, buf);
        let block = pane(Line::styled(title, theme::title()), true, self.glyphs);
        Paragraph::new(lines).block(block).render(popup, buf);
    }
}

/// "Delete rule x? y deletes, any other key keeps it."
pub struct ConfirmDelete<'a> {
    pub name: &'a str,
    pub glyphs: &'a Glyphs,
}

impl Widget for &ConfirmDelete<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let text = format!(" Delete the rule {:?}?", self.name);
        let hint = " y deletes it, any other key keeps it";
        let width = (text.chars().count().max(hint.len()) + 3) as u16;
        let popup = centered(area, width, 4);
        Clear.render(popup, buf);
        let block = pane(Line::styled(" Delete ", theme::title()), true, self.glyphs);
        Paragraph::new(vec![
            Line::styled(text, theme::warn()),
            Line::styled(hint, theme::muted()),
        ])
        .block(block)
        .render(popup, buf);
    }
}
