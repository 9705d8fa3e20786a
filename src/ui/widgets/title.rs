//! The title line: what is running on the left, interval, focus and the help key on the right.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use crate::domain::Interval;
use crate::ui::action::Pane;
use crate::ui::theme::Theme;

pub struct TitleBar<'a> {
    pub title: &'a str,
    pub interval: Interval,
    pub focus: Pane,
    pub sep: &'a str,
    pub theme: &'a Theme,
}

impl Widget for &TitleBar<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let right = Line::from(vec![
            Span::raw("interval "),
            Span::styled(self.interval.as_str(), self.theme.accent()),
            Span::raw(self.sep),
            Span::raw(format!("focus {}", self.focus.name())),
            Span::raw(self.sep),
            Span::styled("? help", self.theme.muted()),
            Span::raw(" "),
        ]);
        let right_w = (right.width() as u16).min(area.width);
        let left_area = Rect {
            width: area.width - right_w,
            ..area
        };
        let right_area = Rect {
            x: area.x + area.width - right_w,
            width: right_w,
            ..area
        };
        Line::styled(format!(" {}", self.title), self.theme.title()).render(left_area, buf);
        right.render(right_area, buf);
    }
}
