//! UI state and its update step. Nothing here draws or does I/O: what the outside world must
//! do (focus changes and rule commands for the engine, range requests for the history thread,
//! subscriptions for the sources) is queued as [`Effect`]s that the event loop carries out, and
//! the layout is fixed before a frame is drawn ([`App::layout`]), so drawing changes nothing.

mod chart;
mod folio;
mod ledger;
mod preview;
mod rules;
mod stored;
mod symbols;

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
use super::effect::Effect;
use super::keymap::Keymap;
use super::prompt::Prompt;
use super::rule_form::RuleForm;
use super::screen::Screen;
use super::status_info::StatusInfo;
use super::theme::{Glyphs, Theme};
use super::viewport::Viewport;
use super::watch_state::WatchState;
use crate::domain::{Interval, TsMs, Venue, VenueSymbol};
use crate::view::{ChartView, EngineCtl, RuleView, ViewSnapshot, WatchRow};

pub use chart::HistoryStatus;
pub use folio::{FolioChart, FolioStatus};
pub use ledger::FolioTab;
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
    /// The selected symbol's order book as a ladder, with its depth and trade tape.
    Ladder,
    /// The portfolio at live prices.
    Portfolio,
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
    /// A database to read chart history and stored closes from is there.
    history: bool,
    hist: chart::HistoryState,
    /// Stored last prices for rows without live data.
    stored_last: stored::StoredLast,
    /// Price-plot columns of the layout (the history request asks for that many buckets), and
    /// those the chart was last merged for.
    plot_cols: u16,
    merged_cols: u16,
    /// Alert rules of the last snapshot, and the selected one.
    rules: Vec<RuleView>,
    rule_selected: usize,
    form: Option<RuleForm>,
    confirm_delete: Option<String>,
    /// A symbol waiting for `y` to be removed.
    confirm_remove: Option<VenueSymbol>,
    /// The ladder's cursor (0 best bid, −1 best ask) and grouping step.
    ladder_cursor: i32,
    ladder_group: usize,
    /// The selected symbol's order book, when its source keeps one.
    book: Option<std::sync::Arc<crate::domain::BookSnapshot>>,
    /// A one-off message about the last key (why it did nothing, what it started).
    notice: Option<String>,
    /// Service failures (a notifier, the database) already told as a notice, by name and
    /// reason: each is said once, and the status bar keeps only a short marker.
    services_told: Vec<(String, String)>,
    pending_select: Option<String>,
    /// Subscriptions asked of the sources and not answered yet.
    pending: Vec<Pending>,
    /// Venues whose running source takes symbol changes, in start order.
    venues: Vec<Venue>,
    /// The wall clock (a fixed clock in tests).
    clock: fn() -> TsMs,
    alerts_scroll: usize,
    alerts_len: usize,
    stale_after: Duration,
    glyphs: Glyphs,
    theme: Theme,
    /// The focus last handed to the engine.
    sent: Option<(Option<VenueSymbol>, Interval, Option<TsMs>)>,
    /// What the loop must carry out, in order.
    effects: Vec<Effect>,
    /// The portfolio, and its value at the last snapshot's prices while its view is up.
    portfolio: Option<std::sync::Arc<crate::portfolio::Portfolio>>,
    valuation: Option<Result<crate::portfolio::ledger::Valuation, String>>,
    /// The portfolio's ledger as last built, valued again at each snapshot's prices (None:
    /// built at the next valuation; forgotten when the portfolio changes).
    books: Option<crate::portfolio::Books>,
    /// The portfolio's value over time, for its view's chart.
    folio: folio::FolioChart,
    /// `[portfolio]` of the config (for a first entry made here).
    portfolio_section: crate::portfolio::config::PortfolioSection,
    /// Why the portfolio could not be loaded.
    portfolio_error: Option<String>,
    folio_tab: FolioTab,
    ledger_cursor: usize,
    entry_form: Option<super::entry_form::EntryForm>,
    confirm_entry_delete: Option<String>,
    /// The rule form's backtest line.
    preview: preview::FormPreview,
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
    pub fn new(title: impl Into<String>, opts: &UiOptions) -> App {
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
            history: false,
            hist: chart::HistoryState::default(),
            stored_last: stored::StoredLast::default(),
            plot_cols: 100,
            merged_cols: 0,
            rules: Vec::new(),
            rule_selected: 0,
            form: None,
            confirm_delete: None,
            confirm_remove: None,
            ladder_cursor: 0,
            ladder_group: 0,
            book: None,
            notice: None,
            services_told: Vec::new(),
            pending_select: None,
            pending: Vec::new(),
            venues: Vec::new(),
            clock: crate::domain::now_ms,
            alerts_scroll: 0,
            alerts_len: 0,
            stale_after: opts.stale_after,
            glyphs: Glyphs::new(opts.glyphs),
            theme: Theme::new(opts.theme),
            sent: None,
            effects: Vec::new(),
            portfolio: opts.portfolio.clone(),
            valuation: None,
            books: None,
            folio: Default::default(),
            portfolio_section: opts.portfolio_section.clone(),
            portfolio_error: opts.portfolio_error.clone(),
            folio_tab: FolioTab::Positions,
            ledger_cursor: 0,
            entry_form: None,
            confirm_entry_delete: None,
            preview: preview::FormPreview::new(opts.indicators.clone()),
        };
        app.send_focus();
        app
    }

    /// Asks for chart history older than the engine's memory, and for stored closes (the
    /// [`Outbox`](super::Outbox) has a history thread).
    pub fn with_history(mut self, on: bool) -> App {
        self.history = on;
        self
    }

    /// The venues whose running sources take symbol changes (sources register as they
    /// start, so the loop tells the app before each round of input).
    pub fn set_venues(&mut self, venues: Vec<Venue>) {
        self.venues = venues;
    }

    /// What the loop must carry out now, in the order it was asked for.
    pub fn take_effects(&mut self) -> Vec<Effect> {
        std::mem::take(&mut self.effects)
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
    /// Lays the screen out for `area` before a frame is drawn: when the chart's width changed
    /// (the first frame, a resize, another view), the chart is merged again for it, so the
    /// frame is drawn once and drawing changes nothing. Returns whether anything changed.
    pub fn layout(&mut self, area: Rect, status: &StatusInfo) -> bool {
        let cols = super::screen::chart_area(self, status, area)
            .map(|a| super::widgets::chart::plot_columns(a, &self.chart_opts))
            .unwrap_or(self.plot_cols)
            .max(1);
        self.plot_cols = cols;
        if cols == self.merged_cols {
            return false;
        }
        self.refresh_chart();
        self.send_focus();
        true
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
        if self.entry_form.is_some() && !ctrl_c {
            return self.entry_form_key(key);
        }
        if self.prompt.is_some() && !ctrl_c {
            return self.prompt_key(key);
        }
        if let Some(name) = self.confirm_delete.take() {
            return self.confirm_delete_key(name, key);
        }
        if let Some(id) = self.confirm_entry_delete.take() {
            return self.confirm_entry_delete_key(id, key);
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
        if let Some(dirty) = self.folio_action(action) {
            self.folio_refresh();
            return dirty;
        }
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
            Action::Ladder => {
                self.ladder_cursor = 0;
                self.toggle_view(View::Ladder)
            }
            Action::Portfolio => {
                let changed = self.toggle_view(View::Portfolio);
                self.revalue();
                changed
            }
            Action::GroupCoarser | Action::GroupFiner => self.regroup(action),
            Action::Up | Action::Down | Action::Top | Action::Bottom
                if self.view == View::Ladder =>
            {
                self.move_ladder_cursor(action)
            }
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
        self.folio_refresh();
        self.send_focus();
        dirty
    }

    /// Moves the ladder's cursor one level (or to the farthest shown ask or bid).
    fn move_ladder_cursor(&mut self, action: Action) -> bool {
        let (asks, bids) = self.book.as_ref().map_or((1, 1), |b| {
            (b.asks.len().max(1) as i32, b.bids.len().max(1) as i32)
        });
        let next = match action {
            Action::Up => (self.ladder_cursor - 1).max(-asks),
            Action::Down => (self.ladder_cursor + 1).min(bids - 1),
            Action::Top => -asks,
            _ => bids - 1,
        };
        let changed = next != self.ladder_cursor;
        self.ladder_cursor = next;
        changed
    }

    fn regroup(&mut self, action: Action) -> bool {
        let last = super::widgets::ladder::GROUP_STEPS.len() - 1;
        let next = if action == Action::GroupCoarser {
            (self.ladder_group + 1).min(last)
        } else {
            self.ladder_group.saturating_sub(1)
        };
        let changed = next != self.ladder_group;
        self.ladder_group = next;
        if !changed {
            self.notice = Some(if next == 0 {
                "the ladder shows the book's own price steps".into()
            } else {
                "the ladder's coarsest grouping".into()
            });
        }
        true
    }

    pub fn ladder_cursor(&self) -> i32 {
        self.ladder_cursor
    }
    pub fn ladder_group(&self) -> usize {
        self.ladder_group
    }
    /// The order book shown in the ladder.
    /// Values the portfolio at the latest prices, while its view is up.
    fn revalue(&mut self) {
        self.valuation = match (&self.portfolio, self.view) {
            (Some(p), View::Portfolio) => Some(
                p.live(&self.all_rows, (self.clock)(), &mut self.books)
                    .map_err(|e| e.to_string()),
            ),
            (None, View::Portfolio) => self
                .portfolio_error
                .as_ref()
                .map(|e| Err(format!("it could not be loaded: {e}"))),
            _ => None,
        };
        self.folio_refresh();
    }

    /// The portfolio (None: none configured) and its value (Err: why the ledger does not add
    /// up), for the portfolio view.
    pub fn portfolio(
        &self,
    ) -> (
        Option<&crate::portfolio::Portfolio>,
        Option<Result<&crate::portfolio::ledger::Valuation, &str>>,
    ) {
        (
            self.portfolio.as_deref(),
            self.valuation
                .as_ref()
                .map(|r| r.as_ref().map_err(String::as_str)),
        )
    }

    pub fn book(&self) -> Option<&crate::domain::BookSnapshot> {
        self.book
            .as_deref()
            .filter(|b| Some(b.key) == self.selected_key())
    }
    /// Takes in the selected symbol's book (None: its source keeps none); true when it changed.
    pub fn on_book(&mut self, book: Option<std::sync::Arc<crate::domain::BookSnapshot>>) -> bool {
        let same = match (&self.book, &book) {
            (Some(a), Some(b)) => std::sync::Arc::ptr_eq(a, b),
            (None, None) => true,
            _ => false,
        };
        self.book = book;
        !same
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
        self.revalue();
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

    /// Subscription answers that arrived between frames. Returns true when the screen must be
    /// redrawn.
    pub fn poll(&mut self) -> bool {
        self.poll_pending()
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

    /// Queues a command for the engine.
    fn send(&mut self, msg: EngineCtl) {
        self.effects.push(Effect::Engine(msg));
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

    /// Tells the engine the focus when it differs from what it was last told.
    fn send_focus(&mut self) {
        // Before the first rows arrive the engine picks the first symbol itself (key None).
        let since = Some(self.window.0).filter(|t| *t > 0);
        let want = (self.selected_key(), self.interval, since);
        if self.sent != Some(want) {
            self.send(EngineCtl::Focus {
                key: want.0,
                interval: want.1,
                since_ms: want.2,
            });
            self.sent = Some(want);
        }
    }
}
