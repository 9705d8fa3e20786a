//! UI state and its update step. Nothing here draws or does I/O except sending messages that
//! never block: focus changes and rule commands to the engine, range requests to the history
//! thread, subscriptions to the sources.

mod chart;
mod rules;
mod stored;
mod symbols;

use std::cell::Cell;
use std::time::Duration;

use crossterm::event::{
    Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseEvent, MouseEventKind,
};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::widgets::Widget;

use super::UiOptions;
use super::action::{Action, Pane};
use super::chart_opts::ChartOpts;
use super::keymap::Keymap;
use super::prompt::Prompt;
use super::rule_form::RuleForm;
use super::screen::Screen;
use super::status_info::StatusInfo;
use super::theme::{Glyphs, Theme};
use super::viewport::Viewport;
use super::watch_state::WatchState;
use crate::domain::{Interval, TsMs, VenueSymbol};
use crate::history::HistoryLoader;
use crate::sources::SourceControls;
use crate::view::{ChartView, EngineCtl, RuleView, ViewSnapshot, WatchRow};

pub use chart::HistoryStatus;
use symbols::Pending;

/// Snooze lengths `z` steps through, then off.
pub const SNOOZE_STEPS: [TsMs; 3] = [15 * 60_000, 60 * 60_000, 4 * 60 * 60_000];

/// Which screen layout is up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum View {
    /// Watchlist, chart, alerts.
    #[default]
    Main,
    /// The selected symbol: chart with 24 h figures, spread and last trades beside it.
    Detail,
    /// A small chart per watchlist symbol.
    Overview,
}

/// The screen's own state: what is selected and focused, not what the market did.
pub struct App {
    title: String,
    interval: Interval,
    focus: Pane,
    view: View,
    help: bool,
    quit: bool,
    keymap: Keymap,
    /// Rows of the last snapshot, and those shown (group, filter, sort) in display order.
    all_rows: Vec<WatchRow>,
    rows: Vec<WatchRow>,
    selected: usize,
    watch: WatchState,
    prompt: Option<Prompt>,
    /// The chart: what it shows and which stretch of time.
    chart_opts: ChartOpts,
    viewport: Viewport,
    /// The engine's chart of the focused symbol (live candles) and the chart drawn: history
    /// from the database merged in front of it, for the visible window.
    live_chart: Option<ChartView>,
    chart: Option<ChartView>,
    window: (TsMs, TsMs),
    history: Option<HistoryLoader>,
    hist: chart::HistoryState,
    /// Stored last prices for rows without live data.
    stored_last: stored::StoredLast,
    /// Price-plot columns at the last draw (the history request asks for that many buckets),
    /// and those the chart was last merged for.
    plot_cols: Cell<u16>,
    merged_cols: u16,
    /// Alert rules of the last snapshot, and the selected one.
    rules: Vec<RuleView>,
    rule_selected: usize,
    form: Option<RuleForm>,
    confirm_delete: Option<String>,
    /// A symbol waiting for `y` to be removed.
    confirm_remove: Option<VenueSymbol>,
    /// A one-off message about the last key (why it did nothing, what it started).
    notice: Option<String>,
    /// Service failures (a notifier, the database) already told as a notice, by name and
    /// reason: each is said once, and the status bar keeps only a short marker.
    services_told: Vec<(String, String)>,
    pending_select: Option<String>,
    /// Subscriptions asked of the sources and not answered yet.
    pending: Vec<Pending>,
    controls: SourceControls,
    /// The wall clock (a fixed clock in tests).
    clock: fn() -> TsMs,
    alerts_scroll: usize,
    alerts_len: usize,
    stale_after: Duration,
    glyphs: Glyphs,
    theme: Theme,
    ctl: flume::Sender<EngineCtl>,
    /// The focus last handed to the engine.
    sent: Option<(Option<VenueSymbol>, Interval, Option<TsMs>)>,
    unsent: Option<EngineCtl>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("interval", &self.interval)
            .field("focus", &self.focus)
            .field("view", &self.view)
            .field("selected", &self.selected_key())
            .field("viewport", &self.viewport)
            .finish_non_exhaustive()
    }
}

impl App {
    /// Creates the state and asks the engine for the first symbol at the initial interval.
    pub fn new(title: impl Into<String>, opts: &UiOptions, ctl: flume::Sender<EngineCtl>) -> App {
        let mut app = App {
            title: title.into(),
            interval: opts.initial_interval,
            focus: Pane::Watchlist,
            view: View::Main,
            help: false,
            quit: false,
            keymap: opts.keymap.clone(),
            all_rows: Vec::new(),
            rows: Vec::new(),
            selected: 0,
            watch: WatchState::new(opts.groups.clone()),
            prompt: None,
            chart_opts: opts.chart.unwrap_or_default(),
            viewport: Viewport::default(),
            live_chart: None,
            chart: None,
            window: (0, 0),
            history: None,
            hist: chart::HistoryState::default(),
            stored_last: stored::StoredLast::default(),
            plot_cols: Cell::new(100),
            merged_cols: 0,
            rules: Vec::new(),
            rule_selected: 0,
            form: None,
            confirm_delete: None,
            confirm_remove: None,
            notice: None,
            services_told: Vec::new(),
            pending_select: None,
            pending: Vec::new(),
            controls: SourceControls::default(),
            clock: crate::domain::now_ms,
            alerts_scroll: 0,
            alerts_len: 0,
            stale_after: opts.stale_after,
            glyphs: Glyphs::new(opts.glyphs),
            theme: Theme::new(opts.theme),
            ctl,
            sent: None,
            unsent: None,
        };
        app.send_focus();
        app
    }

    /// Reads chart history older than the engine's memory through `loader`.
    pub fn with_history(mut self, loader: HistoryLoader) -> App {
        self.history = Some(loader);
        self
    }

    /// Subscribes and unsubscribes symbols through the running sources' channels.
    pub fn with_controls(mut self, controls: SourceControls) -> App {
        self.controls = controls;
        self
    }

    pub fn title(&self) -> &str {
        &self.title
    }
    pub fn interval(&self) -> Interval {
        self.interval
    }
    pub fn focus(&self) -> Pane {
        self.focus
    }
    pub fn view(&self) -> View {
        self.view
    }
    pub fn help_visible(&self) -> bool {
        self.help
    }
    pub fn should_quit(&self) -> bool {
        self.quit
    }
    pub fn keymap(&self) -> &Keymap {
        &self.keymap
    }
    /// Position of the selection among the shown rows.
    pub fn selected(&self) -> usize {
        self.selected
    }
    pub fn selected_key(&self) -> Option<VenueSymbol> {
        self.rows.get(self.selected).map(|r| r.key)
    }
    pub fn selected_row(&self) -> Option<&WatchRow> {
        self.rows.get(self.selected)
    }
    /// The watchlist rows shown, in display order.
    pub fn rows(&self) -> &[WatchRow] {
        &self.rows
    }
    /// Every row the engine has (whatever the active watchlist and filter show).
    pub fn all_rows(&self) -> &[WatchRow] {
        &self.all_rows
    }
    pub fn total_rows(&self) -> usize {
        self.all_rows.len()
    }
    pub fn watch(&self) -> &WatchState {
        &self.watch
    }
    pub fn prompt(&self) -> Option<&Prompt> {
        self.prompt.as_ref()
    }
    pub fn chart_opts(&self) -> &ChartOpts {
        &self.chart_opts
    }
    pub fn viewport(&self) -> &Viewport {
        &self.viewport
    }
    /// The chart to draw (history and live merged) and its window `[from, to)`.
    pub fn chart(&self) -> Option<&ChartView> {
        self.chart.as_ref()
    }
    pub fn window(&self) -> (TsMs, TsMs) {
        self.window
    }
    pub fn alerts_scroll(&self) -> usize {
        self.alerts_scroll
    }
    pub fn stale_after(&self) -> Duration {
        self.stale_after
    }
    pub fn glyphs(&self) -> &Glyphs {
        &self.glyphs
    }
    pub fn theme(&self) -> &Theme {
        &self.theme
    }
    pub fn rules(&self) -> &[RuleView] {
        &self.rules
    }
    pub fn rule_selected(&self) -> usize {
        self.rule_selected
    }
    pub fn selected_rule(&self) -> Option<&RuleView> {
        self.rules.get(self.rule_selected)
    }
    pub fn form(&self) -> Option<&RuleForm> {
        self.form.as_ref()
    }
    pub fn confirm_delete(&self) -> Option<&str> {
        self.confirm_delete.as_deref()
    }
    pub fn confirm_remove(&self) -> Option<VenueSymbol> {
        self.confirm_remove
    }
    pub fn notice(&self) -> Option<&str> {
        self.notice.as_deref()
    }
    /// Says a service's new failure (a notifier without its service, a database that failed)
    /// once, as a notice, with its reason; the status bar only marks it ("desktop failed"), so
    /// that it does not hide the feeds' states for the whole session. Returns whether the
    /// screen changed.
    pub fn observe_services(&mut self, health: &[crate::pipeline::SourceHealth]) -> bool {
        let mut changed = false;
        for h in health.iter().filter(|h| !h.is_source) {
            if let crate::pipeline::SourceState::Failed(reason) = &h.state {
                let told = (h.name.clone(), reason.clone());
                if !self.services_told.contains(&told) {
                    self.notice = Some(format!("{} failed: {reason}", h.name));
                    self.services_told.push(told);
                    changed = true;
                }
            }
        }
        changed
    }
    /// Replaces the wall clock used for snooze times and the chart's live edge.
    pub fn set_clock(&mut self, clock: fn() -> TsMs) {
        self.clock = clock;
    }
    /// The price plot's width in columns, as the screen last laid it out.
    pub fn set_plot_columns(&self, cols: u16) {
        self.plot_cols.set(cols.max(1));
    }

    /// Applies a terminal event; returns whether the screen must be redrawn.
    pub fn on_event(&mut self, event: &Event) -> bool {
        match event {
            Event::Key(key) => self.on_key(*key),
            Event::Mouse(m) => self.on_mouse(*m),
            Event::Resize(..) => {
                self.refresh_chart();
                true
            }
            _ => false,
        }
    }

    fn on_mouse(&mut self, m: MouseEvent) -> bool {
        let action = match m.kind {
            MouseEventKind::ScrollUp => Action::ZoomIn,
            MouseEventKind::ScrollDown => Action::ZoomOut,
            MouseEventKind::ScrollLeft => Action::PanLeft,
            MouseEventKind::ScrollRight => Action::PanRight,
            _ => return false,
        };
        self.update(action)
    }

    /// Applies a key press; unknown keys change nothing and return false. An open form or
    /// prompt takes every key (but Ctrl-C); a pending confirmation takes the next key.
    pub fn on_key(&mut self, key: KeyEvent) -> bool {
        if key.kind == KeyEventKind::Release {
            return false;
        }
        let ctrl_c = key.modifiers.contains(KeyModifiers::CONTROL)
            && matches!(key.code, KeyCode::Char('c') | KeyCode::Char('C'));
        if self.form.is_some() && !ctrl_c {
            return self.form_key(key);
        }
        if self.prompt.is_some() && !ctrl_c {
            return self.prompt_key(key);
        }
        if let Some(name) = self.confirm_delete.take() {
            return self.confirm_delete_key(name, key);
        }
        if let Some(symbol) = self.confirm_remove.take() {
            return self.confirm_remove_key(symbol, key);
        }
        let had_notice = self.notice.take().is_some();
        match self.keymap.action(&key) {
            Some(action) => self.update(action) || had_notice,
            None => had_notice,
        }
    }

    /// Applies an action; returns whether anything visible changed.
    pub fn update(&mut self, action: Action) -> bool {
        let dirty = match action {
            Action::Quit => {
                self.quit = true;
                false
            }
            Action::ToggleHelp => {
                self.help = !self.help;
                true
            }
            Action::Back => self.back(),
            Action::NextPane | Action::PrevPane => self.cycle_pane(action == Action::NextPane),
            Action::Detail => self.toggle_view(View::Detail),
            Action::Overview => self.toggle_view(View::Overview),
            Action::NewRule
            | Action::EditRule
            | Action::DeleteRule
            | Action::SnoozeRule
            | Action::AcknowledgeRule => self.rule_action(action),
            Action::Filter
            | Action::SortNext
            | Action::SortReverse
            | Action::NextWatchlist
            | Action::PrevWatchlist
            | Action::AddSymbol
            | Action::RemoveSymbol => self.symbol_action(action),
            Action::Up | Action::Down | Action::Top | Action::Bottom => self.navigate(action),
            // everything else is about the chart
            _ => self.chart_action(action),
        };
        self.refresh_chart();
        self.send_focus();
        dirty
    }

    /// Esc: closes the innermost thing open (help, cursor, a view, the filter).
    fn back(&mut self) -> bool {
        if self.help {
            self.help = false;
        } else if self.viewport.cursor_ms.is_some() {
            self.viewport.cursor_ms = None;
        } else if self.view != View::Main {
            self.view = View::Main;
        } else if !self.watch.filter.is_empty() {
            self.watch.filter.clear();
            self.rebuild_rows();
        } else {
            return false;
        }
        true
    }

    fn toggle_view(&mut self, v: View) -> bool {
        self.view = if self.view == v { View::Main } else { v };
        true
    }

    fn cycle_pane(&mut self, forward: bool) -> bool {
        let step = |p: Pane| if forward { p.next() } else { p.prev() };
        self.focus = step(self.focus);
        if self.focus == Pane::Rules && self.rules.is_empty() {
            self.focus = step(self.focus);
        }
        true
    }

    /// Takes in a new snapshot: keeps the selection on the same symbol if it is still listed,
    /// merges the live candles into the chart, and re-focuses the engine if the selected symbol
    /// had to change. Returns true (a new snapshot always needs drawing).
    pub fn sync(&mut self, snap: &ViewSnapshot) -> bool {
        self.all_rows = snap.rows.clone();
        self.fill_stored_last();
        self.rebuild_rows();
        self.alerts_len = snap.alerts.len();
        self.alerts_scroll = self.alerts_scroll.min(self.alerts_len.saturating_sub(1));
        let previous_rule = self.selected_rule().map(|r| r.name.clone());
        self.rules = snap.rules.clone();
        let want = self.pending_select.clone().or(previous_rule);
        if let Some(i) = want.and_then(|n| self.rules.iter().position(|r| r.name == n)) {
            self.rule_selected = i;
            if self.pending_select.as_deref() == Some(self.rules[i].name.as_str()) {
                self.pending_select = None;
            }
        }
        self.rule_selected = self.rule_selected.min(self.rules.len().saturating_sub(1));
        self.leave_empty_rules();
        self.live_chart = snap.chart.clone().filter(|c| {
            // a snapshot made before the last interval or symbol change is not this chart
            c.interval == self.interval
                && (Some(c.key) == self.selected_key() || self.selected_key().is_none())
        });
        self.refresh_chart();
        self.send_focus();
        true
    }

    /// After a draw: when the chart's width changed (first frame, resize, another view), the
    /// chart is merged again for the new width. Returns true when it was (draw again).
    pub fn after_draw(&mut self) -> bool {
        if self.plot_cols.get() == self.merged_cols {
            return false;
        }
        self.refresh_chart();
        self.send_focus();
        true
    }

    /// Work that arrives between frames: history replies and subscription answers. Returns
    /// true when the screen must be redrawn.
    pub fn poll(&mut self) -> bool {
        let a = self.poll_history();
        let b = self.poll_pending();
        let c = self.poll_stored_last();
        a || b || c
    }

    /// Recomputes the shown rows from the last snapshot, keeping the selected symbol selected.
    fn rebuild_rows(&mut self) {
        let previous = self.selected_key();
        let now = (self.clock)();
        self.rows = self
            .watch
            .visible(&self.all_rows, now)
            .into_iter()
            .cloned()
            .collect();
        self.selected = previous
            .and_then(|k| self.rows.iter().position(|r| r.key == k))
            .unwrap_or(self.selected)
            .min(self.rows.len().saturating_sub(1));
    }

    /// Sends a command to the engine; the channel is unbounded, so this never waits.
    fn send(&mut self, msg: EngineCtl) {
        if self.ctl.try_send(msg).is_err() {
            tracing::warn!("engine control channel closed; change not sent");
        }
    }

    /// Draws the whole screen for `snap` and `status` into `buf`.
    pub fn render(&self, snap: &ViewSnapshot, status: &StatusInfo, area: Rect, buf: &mut Buffer) {
        Screen {
            app: self,
            snap,
            status,
        }
        .render(area, buf);
        if self.glyphs.kind == super::theme::GlyphKind::Ascii {
            super::ascii::fold_buffer(buf);
        }
    }

    fn navigate(&mut self, action: Action) -> bool {
        let (pos, len) = match self.focus {
            Pane::Alerts => (&mut self.alerts_scroll, self.alerts_len),
            Pane::Rules => (&mut self.rule_selected, self.rules.len()),
            Pane::Watchlist | Pane::Chart => (&mut self.selected, self.rows.len()),
        };
        let last = len.saturating_sub(1);
        let next = match action {
            Action::Up => pos.saturating_sub(1),
            Action::Down => (*pos + 1).min(last),
            Action::Top => 0,
            _ => last,
        };
        let changed = next != *pos;
        *pos = next;
        if changed && matches!(self.focus, Pane::Watchlist | Pane::Chart) {
            // another symbol: its chart comes with the next snapshot
            self.live_chart = None;
            self.viewport.cursor_ms = None;
        }
        changed
    }

    /// Tells the engine the focus when it differs from what it was last told. Never blocks: a
    /// full channel keeps the message for the next call.
    fn send_focus(&mut self) {
        // Before the first rows arrive the engine picks the first symbol itself (key None).
        let since = Some(self.window.0).filter(|t| *t > 0);
        let want = (self.selected_key(), self.interval, since);
        if self.sent != Some(want) {
            self.unsent = Some(EngineCtl::Focus {
                key: want.0,
                interval: want.1,
                since_ms: want.2,
            });
            self.sent = Some(want);
        }
        if let Some(msg) = self.unsent.take() {
            match self.ctl.try_send(msg) {
                Ok(()) => {}
                Err(flume::TrySendError::Full(msg)) => self.unsent = Some(msg),
                Err(flume::TrySendError::Disconnected(_)) => {
                    tracing::debug!("engine control channel closed; focus change not sent");
                }
            }
        }
    }
}
