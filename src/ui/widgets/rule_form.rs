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

/// One line of a form box.
pub struct FormRow {
    pub label: &'static str,
    pub text: String,
    /// Chosen with ←/→ rather than typed.
    pub choice: bool,
    pub focused: bool,
    /// Shown in place of an empty value.
    pub hint: &'static str,
}

/// A form drawn over the screen: its lines, then the error or the keys.
pub struct FormBox<'a> {
    pub title: String,
    pub rows: Vec<FormRow>,
    pub error: Option<&'a str>,
    /// A line under the fields (the rule form's backtest of the rule being typed).
    pub note: Option<&'a str>,
    pub width: u16,
    pub glyphs: &'a Glyphs,
    pub theme: &'a Theme,
}

impl Widget for &FormBox<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let ascii = self.glyphs.ellipsis == "...";
        let (prev, next) = if ascii {
            ("< ", " >")
        } else {
            ("◀ ", " ▶")
        };
        let mut lines: Vec<Line> = Vec::new();
        for row in &self.rows {
            let label_style = if row.focused {
                self.theme.header()
            } else {
                self.theme.muted()
            };
            let mut spans = vec![Span::styled(
                format!(" {:<LABEL_W$}", row.label),
                label_style,
            )];
            let value_style = if row.focused {
                Style::new().add_modifier(Modifier::REVERSED)
            } else {
                Style::new()
            };
            if row.choice {
                spans.push(Span::styled(
                    format!("{prev}{}{next}", row.text),
                    value_style,
                ));
            } else if row.text.is_empty() && !row.focused {
                spans.push(Span::styled(row.hint, self.theme.muted()));
            } else {
                spans.push(Span::styled(row.text.clone(), value_style));
                if row.focused {
                    spans.push(Span::styled("_", self.theme.header()));
                }
            }
            lines.push(Line::from(spans));
        }
        if let Some(p) = &self.note {
            lines.push(Line::raw(""));
            lines.push(Line::styled(
                format!(" {}", crate::format::visible(p)),
                self.theme.muted(),
            ));
        }
        lines.push(Line::raw(""));
        let inner_w = usize::from(self.width.min(area.width).saturating_sub(2)).max(1);
        // a long error wraps: the box grows by its extra lines
        let mut extra = 0;
        lines.push(match self.error {
            Some(e) => {
                let text = format!(" {e}");
                extra = text.chars().count().saturating_sub(1) / inner_w;
                Line::styled(text, self.theme.bad())
            }
            None => Line::styled(
                " Enter saves · Esc cancels · ←/→ choose · ↑/↓ move",
                self.theme.muted(),
            ),
        });
        let height = (lines.len() + extra) as u16 + 2;
        let popup = centered(area, self.width, height);
        Clear.render(popup, buf);
        let block = pane(
            Line::styled(self.title.clone(), self.theme.title()),
            true,
            self.glyphs,
            self.theme,
        );
        Paragraph::new(lines)
            .block(block)
            .wrap(ratatui::widgets::Wrap { trim: false })
            .render(popup, buf);
    }
}

impl Widget for &RuleFormView<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let f = self.form;
        let rows = f
            .fields()
            .into_iter()
            .map(|field| FormRow {
                label: field.label(),
                text: f.text(field),
                choice: field.is_choice(),
                focused: field == f.field,
                hint: match field {
                    Field::Name => "(from the condition)",
                    Field::Hysteresis => "0",
                    _ => "",
                },
            })
            .collect();
        let title = match &f.editing {
            Some(name) => format!(" Edit rule {name} "),
            None => match &f.scope_list {
                Some(l) => format!(" New alert rule · {} ", l.join(",")),
                None => " New alert rule ".to_string(),
            },
        };
        FormBox {
            title,
            rows,
            error: f.error.as_deref(),
            note: f.preview.as_deref(),
            width: 64,
            glyphs: self.glyphs,
            theme: self.theme,
        }
        .render(area, buf);
    }
}

/// The portfolio entry form.
pub struct EntryFormView<'a> {
    pub form: &'a crate::ui::entry_form::EntryForm,
    pub glyphs: &'a Glyphs,
    pub theme: &'a Theme,
}

impl Widget for &EntryFormView<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        use crate::ui::entry_form::EntryField;
        let f = self.form;
        let rows = f
            .fields()
            .into_iter()
            .map(|field| FormRow {
                label: field.label(),
                text: crate::format::visible(&f.text(field)),
                choice: field == EntryField::Type,
                focused: field == f.field,
                hint: field.hint(f.action),
            })
            .collect();
        let title = match &f.editing {
            Some(e) => format!(" Edit entry · {} ", crate::format::visible(&e.source)),
            None => " New portfolio entry ".to_string(),
        };
        FormBox {
            title,
            rows,
            error: f.error.as_deref(),
            note: None,
            width: 64,
            glyphs: self.glyphs,
            theme: self.theme,
        }
        .render(area, buf);
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
