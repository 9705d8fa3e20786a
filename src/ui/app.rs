//! UI state and its update step. Nothing here draws or does I/O except sending focus changes to
//! the engine, which never blocks.

use std::time::Duration;

use crossterm::event::{Event, KeyEvent};
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::widgets::Widget;

use super::UiOptions;
use super::action::{Action, Pane};
use super::keymap;
use super::screen::Screen;
use super::status_info::StatusInfo;
use super::theme::Glyphs;
use crate::domain::{Interval, VenueSymbol};
use crate::view::{EngineCtl, ViewSnapshot};

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

    /// Applies a terminal event; returns whether the screen must be redrawn.
    pub fn on_event(&mut self, event: &Event) -> bool {
        match event {
            Event::Key(key) => self.on_key(*key),
            Event::Resize(..) => true,
            _ => false,
        }
    }

    /// Applies a key press; unknown keys change nothing and return false.
    pub fn on_key(&mut self, key: KeyEvent) -> bool {
        match keymap::action_for(key) {
            Some(action) => self.update(action),
            None => false,
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
            Action::CloseHelp => std::mem::replace(&mut self.help, false),
            Action::NextPane => {
                self.focus = self.focus.next();
                true
            }
            Action::PrevPane => {
                self.focus = self.focus.prev();
                true
            }
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
        self.alerts_len = snap.alerts.len();
        self.alerts_scroll = self.alerts_scroll.min(self.alerts_len.saturating_sub(1));
        self.send_focus();
        true
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
