//! The alerts pane: the alert rules with their state (armed, triggered, snoozed, expired)
//! beside (or, when tall, above) the log of fired alerts, newest first. Alerts evaluated on a
//! recorder and read from NATS carry a `remote` tag after their time.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use super::{empty_state, pane};
use crate::alerts::rules::Status;
use crate::domain::AlertRecord;
use crate::format;
use crate::ui::theme::{Glyphs, Theme};
use crate::view::RuleView;

pub struct AlertsPane<'a> {
    /// Newest first, as the snapshot keeps them.
    pub alerts: &'a [AlertRecord],
    /// How many of the newest alerts are scrolled past.
    pub scroll: usize,
    /// The log has the keyboard focus.
    pub focused: bool,
    pub rules: &'a [RuleView],
    pub rule_selected: usize,
    /// The rules list has the keyboard focus.
    pub rules_focused: bool,
    /// A message about the last rule key.
    pub notice: Option<&'a str>,
    pub glyphs: &'a Glyphs,
    pub theme: &'a Theme,
}

/// Marks an alert evaluated elsewhere (on the recorder) and read from NATS.
const REMOTE_TAG: &str = "remote ";

/// From this height on, the rules sit above the log instead of beside it.
const STACK_HEIGHT: u16 = 12;

/// The colour of a rule state.
pub fn status_style(s: Status, theme: &Theme) -> Style {
    match s {
        Status::Armed => theme.up(),
        Status::Triggered => theme.bad(),
        Status::Snoozed => theme.warn(),
        Status::Expired => theme.muted(),
    }
}

impl AlertsPane<'_> {
    fn rule_line(&self, r: &RuleView, selected: bool) -> Line<'static> {
        let detail = match r.status {
            Status::Snoozed => r
                .snoozed_until_ms
                .map(|t| {
                    let hms = format::hms(t);
                    format!(" until {}", hms.get(..5).unwrap_or(&hms))
                })
                .unwrap_or_default(),
            Status::Triggered | Status::Armed => r
                .last_fired_ms
                .map(|t| format!(" fired {}", format::hms(t)))
                .unwrap_or_default(),
            Status::Expired => String::new(),
        };
        let mut line = Line::from(vec![
            Span::styled(
                format!("{:<9} ", r.status.as_str()),
                status_style(r.status, self.theme),
            ),
            Span::raw(r.name.clone()),
            Span::styled(detail, self.theme.muted()),
        ]);
        if selected {
            line = line.patch_style(self.theme.selected(self.rules_focused));
        }
        line
    }

    fn render_rules(&self, area: Rect, buf: &mut Buffer) {
        let block = pane(
            Line::styled(
                format!(" Rules ({}) ", self.rules.len()),
                self.theme.title(),
            ),
            self.rules_focused,
            self.glyphs,
            self.theme,
        );
        let inner = block.inner(area);
        block.render(area, buf);
        if self.rules.is_empty() {
            return empty_state("no rules · n adds one", inner, buf, self.theme);
        }
        let room = usize::from(inner.height).max(1);
        let selected = self.rule_selected.min(self.rules.len() - 1);
        let first = selected.saturating_sub(room - 1);
        let lines: Vec<Line> = self
            .rules
            .iter()
            .enumerate()
            .skip(first)
            .take(room)
            .map(|(i, r)| self.rule_line(r, i == selected))
            .collect();
        Paragraph::new(lines).render(inner, buf);
    }

    fn render_log(&self, area: Rect, buf: &mut Buffer) {
        let scroll = self.scroll.min(self.alerts.len().saturating_sub(1));
        let mut title = format!(" Alerts ({}) ", self.alerts.len());
        if scroll > 0 {
            title.push_str(&format!("↓{scroll} "));
        }
        let block = pane(
            Line::styled(title, self.theme.title()),
            self.focused,
            self.glyphs,
            self.theme,
        );
        let inner = block.inner(area);
        block.render(area, buf);
        if self.alerts.is_empty() {
            return empty_state("no alerts fired yet", inner, buf, self.theme);
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
                let mut spans = vec![
                    Span::styled(format::hms(a.ts_ms), self.theme.muted()),
                    Span::raw(" "),
                ];
                if a.is_remote() {
                    spans.push(Span::styled(REMOTE_TAG, self.theme.muted()));
                }
                spans.extend([
                    Span::styled(symbol.to_string(), self.theme.accent()),
                    Span::raw(" "),
                    Span::raw(message.to_string()),
                ]);
                Line::from(spans)
            })
            .collect();
        Paragraph::new(lines).render(inner, buf);
    }
}

impl Widget for &AlertsPane<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let [rules, log] = if area.height >= STACK_HEIGHT {
            let want = (self.rules.len() as u16 + 2).clamp(3, area.height / 2);
            Layout::vertical([Constraint::Length(want), Constraint::Fill(1)]).areas(area)
        } else {
            Layout::horizontal([Constraint::Percentage(45), Constraint::Fill(1)]).areas(area)
        };
        self.render_rules(rules, buf);
        self.render_log(log, buf);
        // a notice about the last rule key runs along the pane's bottom edge, full width
        if let Some(n) = self.notice
            && area.height >= 2
            && area.width > 2
        {
            let edge = Rect {
                x: area.x + 1,
                y: area.bottom() - 1,
                width: area.width - 2,
                height: 1,
            };
            Line::styled(format!(" {n} "), self.theme.warn()).render(edge, buf);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::Severity;
    use crate::domain::{Symbol, Venue, VenueSymbol};

    fn alert(id: &str, delivered: &str) -> AlertRecord {
        AlertRecord {
            alert_id: id.into(),
            ts_ms: 1_700_000_000_000,
            key: VenueSymbol::new(Venue::Sim, Symbol::new("BTCUSDT").unwrap()),
            rule: "r".into(),
            value: 1.0,
            message: format!("BTCUSDT message {id}"),
            delivered: delivered.into(),
            severity: Severity::Warning,
        }
    }

    #[test]
    fn a_remote_alert_is_tagged_and_a_local_one_is_not() {
        let alerts = [alert("a", "remote,tui"), alert("b", "tui")];
        let pane = AlertsPane {
            alerts: &alerts,
            scroll: 0,
            focused: false,
            rules: &[],
            rule_selected: 0,
            rules_focused: false,
            notice: None,
            glyphs: &Glyphs::UNICODE,
            theme: &Theme::default(),
        };
        let area = Rect::new(0, 0, 120, 8);
        let mut buf = Buffer::empty(area);
        (&pane).render(area, &mut buf);
        let lines: Vec<String> = (0..area.height)
            .map(|y| (0..area.width).map(|x| buf[(x, y)].symbol()).collect())
            .collect();
        let row = |id: &str| {
            lines
                .iter()
                .find(|l| l.contains(&format!("message {id}")))
                .unwrap_or_else(|| panic!("{lines:#?}"))
                .clone()
        };
        assert!(row("a").contains(" remote BTCUSDT message a"), "{lines:#?}");
        assert!(!row("b").contains("remote"), "{lines:#?}");
    }
}
