//! The whole screen: the layout of the active view (main, detail, overview) for the terminal's
//! size, the overlays (help, prompt, confirmations, the rule form), or a message when the
//! terminal is too small to be useful.

use ratatui::buffer::Buffer;
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Widget, Wrap};

use super::App;
use super::action::Pane;
use super::app::View;
use super::cross_venue::{cross_venue, is_current};
use super::status_info::StatusInfo;
use super::widgets::alerts::AlertsPane;
use super::widgets::chart::ChartPane;
use super::widgets::detail::DetailPane;
use super::widgets::help::HelpOverlay;
use super::widgets::ladder::LadderPane;
use super::widgets::overview::Overview;
use super::widgets::rule_form::{Confirm, RuleFormView};
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

/// The regions of the main view.
struct Areas {
    watchlist: Rect,
    chart: Rect,
    alerts: Rect,
}

fn main_layout(body: Rect, rows: usize) -> Areas {
    // Header and borders take three lines; keep at least two rows visible.
    let list_h = (rows as u16).saturating_add(3).max(5);
    if body.width >= WIDE {
        // the watchlist's columns need 78 (the width they have at 80 columns)
        let left_w = (body.width * 2 / 5).max(80);
        let [left, chart] =
            Layout::horizontal([Constraint::Length(left_w), Constraint::Fill(1)]).areas(body);
        let [watchlist, alerts] = Layout::vertical([
            Constraint::Length(list_h.min(body.height * 3 / 5)),
            Constraint::Fill(1),
        ])
        .areas(left);
        return Areas {
            watchlist,
            chart,
            alerts,
        };
    }
    // On a short terminal the chart needs the rows more than a long watchlist does (the
    // table scrolls to keep the selection visible).
    // At 80x24 that leaves the chart 10 rows: the price, volume and RSI all fit.
    let (list_cap, alerts_h) = if body.height >= 30 {
        (body.height / 3, (body.height / 5).max(5))
    } else {
        (6, 5)
    };
    let [watchlist, chart, alerts] = Layout::vertical([
        Constraint::Length(list_h.min(list_cap)),
        Constraint::Fill(1),
        Constraint::Length(alerts_h),
    ])
    .areas(body);
    Areas {
        watchlist,
        chart,
        alerts,
    }
}

/// The regions of the screen for the app's view: the title line, the body's panes, the status
/// bar. Drawing and [`App::layout`] both use it, so what is laid out is what is drawn.
struct Regions {
    title: Rect,
    status: Rect,
    body: Rect,
    /// Main: watchlist, chart, alerts; detail: chart and the side or bottom pane.
    watchlist: Rect,
    chart: Rect,
    alerts: Rect,
    detail: Rect,
}

/// `None` when the terminal is too small for any view.
fn regions(app: &App, status_height: u16, area: Rect) -> Option<Regions> {
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        return None;
    }
    let [title, body, status] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Fill(1),
        Constraint::Length(status_height),
    ])
    .areas(area);
    let mut r = Regions {
        title,
        status,
        body,
        watchlist: Rect::default(),
        chart: Rect::default(),
        alerts: Rect::default(),
        detail: Rect::default(),
    };
    match app.view() {
        View::Main => {
            let a = main_layout(body, app.rows().len());
            (r.watchlist, r.chart, r.alerts) = (a.watchlist, a.chart, a.alerts);
        }
        View::Detail => {
            let [chart, side] = if body.width >= WIDE {
                Layout::horizontal([Constraint::Fill(1), Constraint::Length(44)]).areas(body)
            } else {
                Layout::vertical([Constraint::Fill(1), Constraint::Length(10)]).areas(body)
            };
            (r.chart, r.detail) = (chart, side);
        }
        View::Overview | View::Ladder | View::Portfolio => {}
    }
    Some(r)
}

/// Where the chart goes for `app` on a screen of `area` with `status` (None: no chart shown).
pub(crate) fn chart_area(app: &App, status: &StatusInfo, area: Rect) -> Option<Rect> {
    let status_height = StatusBar {
        info: status,
        stale_after_ms: i64::try_from(app.stale_after().as_millis()).unwrap_or(i64::MAX),
        sep: app.glyphs().sep,
        theme: app.theme(),
    }
    .height(area.width);
    regions(app, status_height, area)
        .map(|r| r.chart)
        .filter(|c| !c.is_empty())
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
        if self.app.total_rows() > 0 {
            let w = self.app.watch();
            return if w.filter.is_empty() {
                format!("{} is empty: a adds a symbol", w.active().name)
            } else {
                format!("no symbol matches /{} (Esc clears)", w.filter)
            };
        }
        if names.is_empty() {
            format!("waiting for data{ellipsis}")
        } else {
            format!("waiting for data from {}{ellipsis}", names.join(", "))
        }
    }

    fn chart_empty(&self) -> String {
        if self.app.rows().is_empty() {
            return self.waiting();
        }
        let symbol = self
            .app
            .selected_key()
            .map(|k| k.symbol.as_str().to_string())
            .unwrap_or_default();
        format!("no candles yet for {symbol} {}", self.app.interval())
    }

    fn stale_after_ms(&self) -> i64 {
        i64::try_from(self.app.stale_after().as_millis()).unwrap_or(i64::MAX)
    }

    fn chart(&self, area: Rect, buf: &mut Buffer) {
        let app = self.app;
        let empty = self.chart_empty();
        let caption = app.chart_caption();
        let note = app.chart_note();
        let (from_ms, to_ms) = app.window();
        let pane = ChartPane {
            chart: app.chart(),
            from_ms,
            to_ms,
            opts: app.chart_opts(),
            focused: app.focus() == Pane::Chart,
            empty: &empty,
            caption: &caption,
            note: &note,
            marks: app.chart_marks(),
            glyphs: app.glyphs(),
            theme: app.theme(),
        };
        pane.render(area, buf);
    }

    fn watchlist(&self, area: Rect, buf: &mut Buffer) {
        let app = self.app;
        let waiting = self.waiting();
        let title = app.watch().describe(app.rows().len(), app.total_rows());
        let (now, stale_after_ms) = (self.status.now_ms, self.stale_after_ms());
        let cross = cross_venue(app.all_rows(), |r| {
            is_current(r, now, stale_after_ms, &self.status.sources)
        });
        Watchlist {
            rows: app.rows(),
            selected: app.selected(),
            focused: app.focus() == Pane::Watchlist,
            now_ms: self.status.now_ms,
            stale_after_ms: self.stale_after_ms(),
            waiting: &waiting,
            title: &title,
            sort_column: app.watch().sort.column(),
            cross: &cross,
            glyphs: app.glyphs(),
            theme: app.theme(),
        }
        .render(area, buf);
    }

    fn alerts(&self, area: Rect, buf: &mut Buffer) {
        let app = self.app;
        AlertsPane {
            alerts: &self.snap.alerts,
            scroll: app.alerts_scroll(),
            focused: app.focus() == Pane::Alerts,
            rules: app.rules(),
            rule_selected: app.rule_selected(),
            rules_focused: app.focus() == Pane::Rules,
            notice: app.notice(),
            glyphs: app.glyphs(),
            theme: app.theme(),
        }
        .render(area, buf);
    }

    fn detail(&self, area: Rect, buf: &mut Buffer) {
        let app = self.app;
        let detail = self
            .snap
            .detail
            .as_ref()
            .filter(|d| Some(d.key) == app.selected_key());
        DetailPane {
            detail,
            now_ms: self.status.now_ms,
            stale_after_ms: self.stale_after_ms(),
            focused: false,
            glyphs: app.glyphs(),
            theme: app.theme(),
        }
        .render(area, buf);
    }

    /// One line at the bottom of the body: the open prompt, or the last notice in views that
    /// have no alerts pane to show it.
    fn prompt_line(&self, area: Rect, buf: &mut Buffer) {
        let app = self.app;
        let theme = app.theme();
        let line = if let Some(p) = app.prompt() {
            let mut spans = vec![
                Span::styled(format!(" {} ", p.kind.label()), theme.header()),
                Span::raw(p.text.clone()),
                Span::styled("▏", theme.accent()),
            ];
            match &p.error {
                Some(e) => spans.push(Span::styled(format!("  {e}"), theme.bad())),
                None => spans.push(Span::styled("  Enter: ok · Esc: cancel", theme.muted())),
            }
            Line::from(spans)
        } else if let Some(n) = app.notice().filter(|_| app.view() != View::Main) {
            Line::styled(format!(" {n}"), theme.warn())
        } else {
            return;
        };
        Clear.render(area, buf);
        line.render(area, buf);
    }
}

impl Widget for &Screen<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let app = self.app;
        let theme = app.theme();
        let glyphs = app.glyphs();
        let status = StatusBar {
            info: self.status,
            stale_after_ms: self.stale_after_ms(),
            sep: glyphs.sep,
            theme,
        };
        let Some(r) = regions(app, status.height(area.width), area) else {
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
                .style(theme.warn())
                .alignment(Alignment::Center)
                .wrap(Wrap { trim: true })
                .render(area, buf);
            return;
        };
        let body = r.body;
        TitleBar {
            title: app.title(),
            interval: app.interval(),
            focus: app.focus(),
            sep: glyphs.sep,
            theme,
        }
        .render(r.title, buf);

        match app.view() {
            View::Main => {
                self.watchlist(r.watchlist, buf);
                self.chart(r.chart, buf);
                self.alerts(r.alerts, buf);
            }
            View::Detail => {
                self.chart(r.chart, buf);
                self.detail(r.detail, buf);
            }
            View::Ladder => {
                let trades = self
                    .snap
                    .detail
                    .as_ref()
                    .filter(|d| Some(d.key) == app.selected_key())
                    .map_or(&[][..], |d| d.trades.as_slice());
                LadderPane {
                    key: app.selected_key(),
                    book: app.book(),
                    trades,
                    cursor: app.ladder_cursor(),
                    group: app.ladder_group(),
                    now_ms: self.status.now_ms,
                    glyphs,
                    theme,
                }
                .render(body, buf);
            }
            View::Portfolio if app.folio_tab() == crate::ui::app::FolioTab::Ledger => {
                crate::ui::widgets::portfolio::LedgerPane {
                    entries: app.ledger(),
                    cursor: app.ledger_cursor(),
                    glyphs,
                    theme,
                }
                .render(body, buf);
            }
            View::Portfolio => {
                let (portfolio, valuation) = app.portfolio();
                let method = portfolio.map_or(String::new(), |p| {
                    format!("{:?}", p.basis.method).to_lowercase()
                });
                crate::ui::widgets::portfolio::PortfolioPane {
                    valuation,
                    markets: portfolio.map(|p| &p.markets),
                    method: &method,
                    chart: Some(app.folio_chart()),
                    glyphs,
                    theme,
                }
                .render(body, buf);
            }
            View::Overview => {
                let waiting = self.waiting();
                Overview {
                    rows: app.rows(),
                    selected: app.selected(),
                    now_ms: self.status.now_ms,
                    stale_after_ms: self.stale_after_ms(),
                    waiting: &waiting,
                    glyphs,
                    theme,
                }
                .render(body, buf);
            }
        }
        let last = Rect {
            y: body.y + body.height.saturating_sub(1),
            height: 1.min(body.height),
            ..body
        };
        self.prompt_line(last, buf);
        status.render(r.status, buf);

        if app.help_visible() {
            HelpOverlay {
                keymap: app.keymap(),
                glyphs,
                theme,
            }
            .render(area, buf);
        }
        if let Some(name) = app.confirm_delete() {
            let question = format!("Delete the rule {name:?}?");
            Confirm {
                title: "Delete",
                question: &question,
                hint: "y deletes it, any other key keeps it",
                glyphs,
                theme,
            }
            .render(area, buf);
        }
        if app.confirm_entry_delete().is_some() {
            Confirm {
                title: "Delete",
                question: "Delete the selected portfolio entry?",
                hint: "y deletes it, any other key keeps it",
                glyphs,
                theme,
            }
            .render(area, buf);
        }
        if let Some(form) = app.entry_form() {
            (&crate::ui::widgets::rule_form::EntryFormView {
                form,
                glyphs,
                theme,
            })
                .render(area, buf);
        }
        if let Some(key) = app.confirm_remove() {
            let (question, hint) = if app.watch().is_all() {
                (
                    format!("Remove {key} and unsubscribe?"),
                    "y removes it from every watchlist, any other key keeps it",
                )
            } else {
                (
                    format!("Remove {} from {}?", key.symbol, app.watch().active().name),
                    "y removes it from this watchlist, any other key keeps it",
                )
            };
            Confirm {
                title: "Remove",
                question: &question,
                hint,
                glyphs,
                theme,
            }
            .render(area, buf);
        }
        if let Some(form) = app.form() {
            RuleFormView {
                form,
                glyphs,
                theme,
            }
            .render(area, buf);
        }
    }
}
