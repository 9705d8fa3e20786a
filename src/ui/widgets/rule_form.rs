//! The rule form and the delete confirmation, drawn over the screen.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Widget};

use super::pane;
use crate::ui::rule_form::{Field, RuleForm};
use crate::ui::theme::{Glyphs, Theme};

pub struct RuleFormView<'a> {
    pub form: &'a RuleForm,
    pub glyphs: &'a Glyphs,
    pub theme: &'a Theme,
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
                self.theme.header()
            } else {
                self.theme.muted()
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
                spans.push(Span::styled(hint, self.theme.muted()));
            } else {
                spans.push(Span::styled(text, value_style));
                if focused {
                    spans.push(Span::styled("_", self.theme.header()));
                }
            }
            lines.push(Line::from(spans));
        }
        if let Some(p) = &f.preview {
            lines.push(Line::raw(""));
            lines.push(Line::styled(
                format!(" {}", crate::format::visible(p)),
                self.theme.muted(),
            ));
        }
        lines.push(Line::raw(""));
        lines.push(match &f.error {
            Some(e) => Line::styled(format!(" {e}"), self.theme.bad()),
            None => Line::styled(
                " Enter saves · Esc cancels · ←/→ choose · ↑/↓ move",
                self.theme.muted(),
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
        let block = pane(
            Line::styled(title, self.theme.title()),
            true,
            self.glyphs,
            self.theme,
        );
        Paragraph::new(lines).block(block).render(popup, buf);
    }
}

/// A yes/no question in a popup: "Delete the rule x? y deletes it, any other key keeps it."
pub struct Confirm<'a> {
    pub title: &'a str,
    pub question: &'a str,
    pub hint: &'a str,
    pub glyphs: &'a Glyphs,
    pub theme: &'a Theme,
}

impl Widget for &Confirm<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let text = format!(" {}", self.question);
        let hint = format!(" {}", self.hint);
        let width = (text.chars().count().max(hint.chars().count()) + 3) as u16;
        let popup = centered(area, width.min(area.width), 4);
        Clear.render(popup, buf);
        let block = pane(
            Line::styled(format!(" {} ", self.title), self.theme.title()),
            true,
            self.glyphs,
            self.theme,
        );
        Paragraph::new(vec![
            Line::styled(text, self.theme.warn()),
            Line::styled(hint, self.theme.muted()),
        ])
        .block(block)
        .render(popup, buf);
    }
}
