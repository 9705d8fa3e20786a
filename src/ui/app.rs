//! UI state and its update step. Nothing here draws or does I/O except sending focus changes to
//! the engine, which never blocks.

use std::time::Duration;

use crossterm::event::{Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::widgets::Widget;

use super::UiOptions;
use super::action::{Action, Pane};
use super::keymap;
use super::rule_form::{FormOutcome, RuleForm};
use super::screen::Screen;
use super::status_info::StatusInfo;
use super::theme::Glyphs;
use crate::alerts::rules::{Origin, Status};
use crate::domain::{Interval, TsMs, VenueSymbol};
use crate::view::{EngineCtl, RuleView, ViewSnapshot};

/// Snooze lengths `z` steps through, then off.
pub const SNOOZE_STEPS: [TsMs; 3] = [15 * 60_000, 60 * 60_000, 4 * 60 * 60_000];

/// The screen's own state: what is selected and focused, not what the market did.
#[derive(Debug)]
pub struct App {
    title: String,
    interval: Interval,
    focus: Pane,
    help: bool,
    quit: bool,
    selected: usize,
    /// Keys of the watchlist rows of the last snapshot, so that selection follows a symbol.
    rows: Vec<VenueSymbol>,
    /// Last prices of those rows, to fill in a new rule.
    prices: Vec<Option<f64>>,
    /// The alert rules of the last snapshot, and the selected one.
    rules: Vec<RuleView>,
    rule_selected: usize,
    /// The rule form, when open: it takes every key.
    form: Option<RuleForm>,
    /// A rule waiting for `y` to be deleted.
    confirm_delete: Option<String>,
    /// A one-off message about the last rule key (why it did nothing).
    notice: Option<String>,
    /// A rule just sent to the engine: selected once the snapshot has it.
    pending_select: Option<String>,
    /// The wall clock, for snooze times (a fixed clock in tests).
    clock: fn() -> TsMs,
    alerts_scroll: usize,
    alerts_len: usize,
    stale_after: Duration,
    glyphs: Glyphs,
    ctl: flume::Sender<EngineCtl>,
    /// The focus last handed to the engine.
    sent: Option<(Option<VenueSymbol>, Interval)>,
    /// A focus change the channel had no room for; retried on the next update.
    unsent: Option<EngineCtl>,
}

impl App {
    /// Creates the state and asks the engine for the first symbol at the initial interval.
    pub fn new(title: impl Into<String>, opts: &UiOptions, ctl: flume::Sender<EngineCtl>) -> App {
        let mut app = App {
            title: title.into(),
            interval: opts.initial_interval,
            focus: Pane::Watchlist,
            help: false,
            quit: false,
            selected: 0,
            rows: Vec::new(),
            prices: Vec::new(),
            rules: Vec::new(),
            rule_selected: 0,
            form: None,
            confirm_delete: None,
            notice: None,
            pending_select: None,
            clock: crate::domain::now_ms,
            alerts_scroll: 0,
            alerts_len: 0,
            stale_after: opts.stale_after,
            glyphs: Glyphs::new(opts.ascii),
            ctl,
            sent: None,
            unsent: None,
        };
        app.send_focus();
        app
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
    pub fn help_visible(&self) -> bool {
        self.help
    }
    pub fn should_quit(&self) -> bool {
        self.quit
    }
    pub fn selected(&self) -> usize {
        self.selected
    }
    pub fn selected_key(&self) -> Option<VenueSymbol> {
        self.rows.get(self.selected).copied()
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
    pub fn notice(&self) -> Option<&str> {
        self.notice.as_deref()
    }
    /// Replaces the wall clock used for snooze times.
    pub fn set_clock(&mut self, clock: fn() -> TsMs) {
        self.clock = clock;
    }

    /// Applies a terminal event; returns whether the screen must be redrawn.
    pub fn on_event(&mut self, event: &Event) -> bool {
        match event {
            Event::Key(key) => self.on_key(*key),
            Event::Resize(..) => true,
            _ => false,
        }
    }

    /// Applies a key press; unknown keys change nothing and return false. While the rule form
    /// is open it takes every key (but Ctrl-C); a pending delete takes the next key.
    pub fn on_key(&mut self, key: KeyEvent) -> bool {
        if key.kind == KeyEventKind::Release {
            return false;
        }
        let ctrl_c = key.modifiers.contains(KeyModifiers::CONTROL)
            && matches!(key.code, KeyCode::Char('c') | KeyCode::Char('C'));
        if self.form.is_some() && !ctrl_c {
            return self.form_key(key);
        }
        if let Some(name) = self.confirm_delete.take() {
            if key.code == KeyCode::Char('y') && key.modifiers.is_empty() {
                self.send(EngineCtl::DeleteRule { name: name.clone() });
                self.rules.retain(|r| r.name != name);
                self.rule_selected = self.rule_selected.min(self.rules.len().saturating_sub(1));
                self.leave_empty_rules();
            }
            return true;
        }
        let had_notice = self.notice.take().is_some();
        match keymap::action_for(key) {
            Some(action) => self.update(action) || had_notice,
            None => had_notice,
        }
    }

    fn form_key(&mut self, key: KeyEvent) -> bool {
        let Some(form) = self.form.as_mut() else {
            return false;
        };
        match form.on_key(key) {
            FormOutcome::Open => {}
            FormOutcome::Cancelled => self.form = None,
            FormOutcome::Submitted(mut spec) => {
                let editing = form.editing.clone();
                let taken = |n: &str| {
                    self.rules
                        .iter()
                        .any(|r| r.name == n && Some(r.name.as_str()) != editing.as_deref())
                };
                match spec.name.clone() {
                    Some(n) if taken(&n) => {
                        form.error =
                            Some(format!("a rule named {n:?} exists: choose another name"));
                        return true;
                    }
                    Some(_) => {}
                    None => {
                        // a derived name, made unique
                        let base = spec.display_name();
                        let mut name = base.clone();
                        let mut k = 2;
                        while taken(&name) {
                            name = format!("{base} ({k})");
                            k += 1;
                        }
                        spec.name = Some(name);
                    }
                }
                let name = spec.name.clone().unwrap_or_default();
                let msg = match editing {
                    Some(old_name) => EngineCtl::ReplaceRule {
                        old_name,
                        rule: spec,
                    },
                    None => EngineCtl::AddRule(spec),
                };
                self.form = None;
                self.send(msg);
                self.pending_select = Some(name);
            }
        }
        true
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
            Action::CloseHelp => std::mem::replace(&mut self.help, false),
            Action::NextPane => {
                self.focus = self.focus.next();
                if self.focus == Pane::Rules && self.rules.is_empty() {
                    self.focus = self.focus.next();
                }
                true
            }
            Action::PrevPane => {
                self.focus = self.focus.prev();
                if self.focus == Pane::Rules && self.rules.is_empty() {
                    self.focus = self.focus.prev();
                }
                true
            }
            Action::NewRule => {
                let price = self.prices.get(self.selected).copied().flatten();
                let symbol = self.selected_key().map(|k| k.symbol);
                self.form = Some(RuleForm::new_rule(symbol, price));
                true
            }
            Action::EditRule => self.with_monitor_rule("edit", |app, rule| {
                let price = app.prices.get(app.selected).copied().flatten();
                app.form = Some(RuleForm::edit(&rule, price));
            }),
            Action::DeleteRule => self.with_monitor_rule("delete", |app, rule| {
                app.confirm_delete = Some(rule.name);
            }),
            Action::SnoozeRule => self.snooze(),
            Action::AcknowledgeRule => match self.selected_rule() {
                None => false,
                Some(r) if r.status != Status::Triggered => {
                    self.notice = Some(format!(
                        "{:?} is {}: nothing to acknowledge",
                        r.name,
                        r.status.as_str()
                    ));
                    true
                }
                Some(r) => {
                    let name = r.name.clone();
                    self.send(EngineCtl::Acknowledge { name });
                    if let Some(r) = self.rules.get_mut(self.rule_selected) {
                        r.status = Status::Armed;
                    }
                    true
                }
            },
            Action::ShorterInterval => self.set_interval(self.interval.shorter()),
            Action::LongerInterval => self.set_interval(self.interval.longer()),
            Action::Up | Action::Down | Action::Top | Action::Bottom => self.navigate(action),
        };
        self.send_focus();
        dirty
    }

    /// Takes in a new snapshot: keeps the selection on the same symbol if it is still listed and
    /// re-focuses the engine if the selected symbol had to change. Returns true (a new snapshot
    /// always needs drawing).
    pub fn sync(&mut self, snap: &ViewSnapshot) -> bool {
        let previous = self.selected_key();
        self.rows = snap.rows.iter().map(|r| r.key).collect();
        self.selected = previous
            .and_then(|k| self.rows.iter().position(|r| *r == k))
            .unwrap_or(self.selected)
            .min(self.rows.len().saturating_sub(1));
        self.prices = snap.rows.iter().map(|r| r.last).collect();
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
        self.send_focus();
        true
    }

    /// The rules pane cannot keep the focus once it has no rules.
    fn leave_empty_rules(&mut self) {
        if self.focus == Pane::Rules && self.rules.is_empty() {
            self.focus = Pane::Alerts;
        }
    }

    /// Runs `f` on the selected rule when it was made in the monitor; a config rule gets a
    /// notice instead (the file defines it).
    fn with_monitor_rule(&mut self, what: &str, f: impl FnOnce(&mut App, RuleView)) -> bool {
        let Some(rule) = self.selected_rule().cloned() else {
            self.notice = Some(format!("no rule to {what}: n makes one"));
            return true;
        };
        if rule.origin == Origin::Config {
            self.notice = Some(format!(
                "{:?} comes from config.toml: {what} it there (re-read when saved)",
                rule.name
            ));
            return true;
        }
        f(self, rule);
        true
    }

    /// Steps the selected rule's snooze: 15 min, 1 h, 4 h, off. The step follows from what is
    /// left of the current snooze.
    fn snooze(&mut self) -> bool {
        let now = (self.clock)();
        let Some(rule) = self.rules.get_mut(self.rule_selected) else {
            return false;
        };
        let left = rule.snoozed_until_ms.map(|t| t - now).filter(|l| *l > 0);
        let next = match left {
            None => Some(SNOOZE_STEPS[0]),
            // the step it is on is the shortest that covers what is left; take the next
            Some(l) => SNOOZE_STEPS
                .iter()
                .position(|s| *s >= l)
                .and_then(|i| SNOOZE_STEPS.get(i + 1).copied()),
        };
        let until = next.map(|d| now + d);
        rule.snoozed_until_ms = until;
        if until.is_some() {
            rule.status = Status::Snoozed;
        } else if rule.status == Status::Snoozed {
            rule.status = Status::Armed;
        }
        let name = rule.name.clone();
        self.send(EngineCtl::Snooze {
            name,
            until_ms: until,
        });
        true
    }

    /// Sends a rule command; the channel is unbounded, so this never waits.
    fn send(&mut self, msg: EngineCtl) {
        if self.ctl.try_send(msg).is_err() {
            tracing::warn!("engine control channel closed; alert rule change not sent");
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
    }

    fn set_interval(&mut self, next: Option<Interval>) -> bool {
        match next {
            Some(i) => {
                self.interval = i;
                true
            }
            None => false,
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
        changed
    }

    /// Tells the engine the focus when it differs from what it was last told. Never blocks: a
    /// full channel keeps the message for the next call.
    fn send_focus(&mut self) {
        // Before the first rows arrive the engine picks the first symbol itself (key None).
        let want = (self.selected_key(), self.interval);
        if self.sent != Some(want) {
            self.unsent = Some(EngineCtl::Focus {
                key: want.0,
                interval: want.1,
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
