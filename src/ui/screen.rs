//! The whole screen: layout of the panes for the terminal's size, or a message when the
//! terminal is too small to be useful.

use ratatui::buffer::Buffer;
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::widgets::{Paragraph, Widget, Wrap};

use super::App;
use super::action::Pane;
use super::status_info::StatusInfo;
use super::theme;
use super::widgets::alerts::AlertsPane;
use super::widgets::chart::ChartPane;
use super::widgets::help::HelpOverlay;
use super::widgets::rule_form::{ConfirmDelete, RuleFormView};
use super::widgets::status::StatusBar;
use super::widgets::title::TitleBar;
use super::widgets::watchlist::Watchlist;
use crate::view::ViewSnapshot;

pub const MIN_WIDTH: u16 = 80;
pub const MIN_HEIGHT: u16 = 24;
/// From this width on, the watchlist and alerts sit left of the chart instead of above it.
const WIDE: u16 = 120;

pub struct Screen<'a> {
    pub app: &'a App,
    pub snap: &'a ViewSnapshot,
    pub status: &'a StatusInfo,
}

/// The regions of the screen.
struct Areas {
    title: Rect,
    watchlist: Rect,
    chart: Rect,
    alerts: Rect,
    status: Rect,
}

fn layout(area: Rect, rows: usize, status_h: u16) -> Areas {
    let [title, body, status] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Fill(1),
        Constraint::Length(status_h),
    ])
    .areas(area);
    // Header and borders take three lines; keep at least two rows visible.
    let list_h = (rows as u16).saturating_add(3).max(5);
    let (watchlist, chart, alerts) = if area.width >= WIDE {
        let left_w = (area.width * 2 / 5).max(70);
        let [left, chart] =
            Layout::horizontal([Constraint::Length(left_w), Constraint::Fill(1)]).areas(body);
        let [watchlist, alerts] = Layout::vertical([
            Constraint::Length(list_h.min(body.height * 3 / 5)),
            Constraint::Fill(1),
        ])
        .areas(left);
        (watchlist, chart, alerts)
    } else {
        // On a short terminal the chart needs the rows more than a long watchlist does (the
        // table scrolls to keep the selection visible).
        let list_cap = if body.height >= 30 {
            body.height / 3
        } else {
            7
        };
        let [watchlist, chart, alerts] = Layout::vertical([
            Constraint::Length(list_h.min(list_cap)),
            Constraint::Fill(1),
            Constraint::Length((body.height / 5).max(5)),
        ])
        .areas(body);
        (watchlist, chart, alerts)
    };
    Areas {
        title,
        watchlist,
        chart,
        alerts,
        status,
    }
}

impl Screen<'_> {
    fn waiting(&self) -> String {
        let names: Vec<&str> = self
            .status
            .sources
            .iter()
            .map(|s| s.name.as_str())
            .collect();
        let ellipsis = self.app.glyphs().ellipsis;
        if names.is_empty() {
            format!("waiting for data{ellipsis}")
        } else {
            format!("waiting for data from {}{ellipsis}", names.join(", "))
        }
    }

    fn chart_empty(&self) -> String {
        if self.snap.rows.is_empty() {
            return self.waiting();
        }
        let symbol = self
            .snap
            .rows
            .get(self.app.selected())
            .map(|r| r.key.symbol.as_str().to_string())
            .unwrap_or_default();
        format!("no candles yet for {symbol} {}", self.app.interval())
    }
}

impl Widget for &Screen<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
            let msg = format!(
                "terminal too small: {}x{}, need at least {MIN_WIDTH}x{MIN_HEIGHT}",
                area.width, area.height
            );
            let top = area.height.saturating_sub(1) / 2;
            let area = Rect {
                y: area.y + top,
                height: area.height - top,
                ..area
            };
            Paragraph::new(msg)
                .style(theme::warn())
                .alignment(Alignment::Center)
                .wrap(Wrap { trim: true })
                .render(area, buf);
            return;
        }
        let app = self.app;
        let glyphs = app.glyphs();
        let stale_after_ms = i64::try_from(app.stale_after().as_millis()).unwrap_or(i64::MAX);
        let status = StatusBar {
            info: self.status,
            stale_after_ms,
            sep: glyphs.sep,
        };
        let areas = layout(area, self.snap.rows.len(), status.height(area.width));

        let title = TitleBar {
            title: app.title(),
            interval: app.interval(),
            focus: app.focus(),
            sep: glyphs.sep,
        };
        title.render(areas.title, buf);

        let waiting = self.waiting();
        let watchlist = Watchlist {
            rows: &self.snap.rows,
            selected: app.selected(),
            focused: app.focus() == Pane::Watchlist,
            now_ms: self.status.now_ms,
            stale_after_ms,
            waiting: &waiting,
            glyphs,
        };
        watchlist.render(areas.watchlist, buf);

        let empty = self.chart_empty();
        let chart = ChartPane {
            chart: self.snap.chart.as_ref(),
            focused: app.focus() == Pane::Chart,
            empty: &empty,
            glyphs,
        };
        chart.render(areas.chart, buf);

        let alerts = AlertsPane {
            alerts: &self.snap.alerts,
            scroll: app.alerts_scroll(),
            focused: app.focus() == Pane::Alerts,
            rules: app.rules(),
            rule_selected: app.rule_selected(),
            rules_focused: app.focus() == Pane::Rules,
            notice: app.notice(),
            glyphs,
        };
        alerts.render(areas.alerts, buf);
        status.render(areas.status, buf);

        if app.help_visible() {
            HelpOverlay { glyphs }.render(area, buf);
        }
        if let Some(name) = app.confirm_delete() {
            ConfirmDelete { name, glyphs }.render(area, buf);
        }
        if let Some(form) = app.form() {
            RuleFormView { form, glyphs }.render(area, buf);
        }
    }
}
