//! The terminal dashboard. State ([`App`]), update ([`App::update`] from [`Action`]s, queuing
//! [`Effect`]s) and view ([`widgets`], pure) are kept apart; [`run`] is the loop that ties them
//! to the terminal, to the engine's published snapshots, and (through the [`Outbox`]) to the
//! engine, the sources and the history thread.

mod action;
mod app;
pub mod ascii;
pub mod chart_opts;
pub mod cross_venue;
pub mod effect;
mod entry_form;
mod form;
pub mod keymap;
mod pacer;
pub mod prompt;
mod rule_form;
mod screen;
mod status_info;
mod terminal;
pub mod theme;
pub mod viewport;
pub mod watch_state;
pub mod widgets;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use crossterm::event;
use ratatui::layout::Rect;

pub use action::{Action, Pane};
pub use app::{App, HistoryStatus, SNOOZE_STEPS, View};
pub use effect::{Effect, Outbox};
pub use keymap::{KeyChord, Keymap};
pub use pacer::{Pacer, frame_period};
pub use rule_form::{Field, FormOutcome, RuleForm};
pub use screen::{MIN_HEIGHT, MIN_WIDTH, Screen};
pub use status_info::{RateMeter, StatusInfo};

use crate::domain::{Interval, now_ms};
use crate::pipeline::{HealthBoard, PipelineStats};
use crate::view::{EngineCtl, SnapshotSlot};

/// What the dashboard reads from and talks to.
pub struct UiLink {
    pub slot: SnapshotSlot,
    pub ctl: flume::Sender<EngineCtl>,
    pub stats: Arc<PipelineStats>,
    pub health: HealthBoard,
    /// The title line, e.g. "tickwatch — demo (simulated data)".
    pub title: String,
    /// Terminal notifications (OSC sequences, the bell) from the alert notifier, written to the
    /// screen between frames so they never tear one
    /// ([`crate::alerts::notifier::NotifyConfig::route_terminal_to_ui`]).
    pub terminal_writes: Option<flume::Receiver<Vec<u8>>>,
    /// Channels to the sources that can subscribe and unsubscribe while running.
    pub controls: crate::sources::SourceControls,
    /// The database to read chart history from (None: memory only).
    pub history_db: Option<crate::store::Location>,
    /// The local order books the sources keep (the ladder shows the selected symbol's).
    pub books: crate::view::BookBoard,
}

#[derive(Debug, Clone)]
pub struct UiOptions {
    /// Frame cap in frames per second (default 30; clamped to 1..=240).
    pub fps: f64,
    /// Data older than this is shown as stale, never as live.
    pub stale_after: Duration,
    pub initial_interval: Interval,
    /// Unicode, block (no braille) or ASCII drawing.
    pub glyphs: theme::GlyphKind,
    /// Palette (already `Mono` when `NO_COLOR` is set).
    pub theme: theme::ThemeName,
    pub keymap: Keymap,
    /// Named watchlists (the built-in "all" comes first by itself).
    pub groups: Vec<watch_state::Group>,
    /// The chart's display choices at start (None: the defaults).
    pub chart: Option<chart_opts::ChartOpts>,
    /// The portfolio the `P` view values at live prices (None: none configured or imported).
    pub portfolio: Option<std::sync::Arc<crate::portfolio::Portfolio>>,
    /// `[portfolio]` of the config: the base currency and method of a portfolio whose first
    /// entry is made in the monitor.
    pub portfolio_section: crate::portfolio::config::PortfolioSection,
    /// Why the portfolio could not be loaded (the view says it; entries cannot be changed).
    pub portfolio_error: Option<String>,
    /// The engine's indicators (`[engine] indicators`), with which the rule form backtests.
    pub indicators: Vec<crate::indicators::IndicatorSpec>,
}

impl Default for UiOptions {
    fn default() -> Self {
        UiOptions {
            fps: 30.0,
            stale_after: Duration::from_secs(10),
            initial_interval: Interval::M1,
            glyphs: theme::GlyphKind::Unicode,
            theme: theme::ThemeName::Dark,
            keymap: Keymap::default(),
            groups: Vec::new(),
            chart: None,
            portfolio: None,
            portfolio_section: Default::default(),
            portfolio_error: None,
            indicators: crate::indicators::IndicatorSpec::default_set(),
        }
    }
}

/// At most this many input events are handled before a frame, so a flood of keys (a paste, a
/// held key) cannot starve the screen.
const MAX_DRAIN: usize = 1024;

/// Runs the dashboard until the user quits (which sets `shutdown`) or someone else sets
/// `shutdown`. The terminal is restored on every exit path, panics included. Logs must go to a
/// file: anything written to stdout or stderr would tear the screen.
pub fn run(link: UiLink, opts: UiOptions, shutdown: Arc<AtomicBool>) -> anyhow::Result<()> {
    let period = frame_period(opts.fps)?;
    let mut guard = terminal::TerminalGuard::enter()?;
    let result = event_loop(&mut guard, &link, &opts, period, &shutdown);
    // The user quitting stops everything else too; errors stop it as well.
    shutdown.store(true, Ordering::SeqCst);
    drop(guard);
    result
}

fn event_loop(
    guard: &mut terminal::TerminalGuard,
    link: &UiLink,
    opts: &UiOptions,
    period: Duration,
    shutdown: &AtomicBool,
) -> anyhow::Result<()> {
    let start = Instant::now();
    let mut outbox = Outbox::new(link.ctl.clone()).with_controls(link.controls.clone());
    if let Some(db) = &link.history_db {
        match crate::history::HistoryLoader::spawn_at(db.clone()) {
            Ok(loader) => outbox = outbox.with_history(loader),
            Err(e) => tracing::error!("chart history unavailable: cannot start its thread: {e}"),
        }
        match crate::history::PreviewLoader::spawn_at(db.clone()) {
            Ok(loader) => outbox = outbox.with_preview(loader),
            Err(e) => tracing::error!(
                "the rule form's backtest line is unavailable: cannot start its thread: {e}"
            ),
        }
        // an idle thread until the portfolio view asks (entries may be added in the monitor)
        match crate::history::FolioLoader::spawn_at(db.clone()) {
            Ok(loader) => outbox = outbox.with_folio(loader),
            Err(e) => tracing::error!(
                "the portfolio's value chart is unavailable: cannot start its thread: {e}"
            ),
        }
    }
    let mut app = App::new(link.title.clone(), opts)
        .with_history(outbox.has_history())
        .with_folio(outbox.has_folio())
        .with_preview(outbox.has_preview());
    let mut pacer = Pacer::new(period, start);
    let mut meter = RateMeter::new(PipelineStats::get(&link.stats.events_processed), start);
    let mut seen = link.slot.version();
    let mut health_seen = link.health.version();
    let mut books_seen = (u64::MAX, None);
    let demo_command = status_info::demo_command(std::env::current_exe().ok().as_deref());
    let mut snap = link.slot.latest();
    app.sync(&snap);
    outbox.perform(app.take_effects());
    let mut dirty = true;

    while !shutdown.load(Ordering::SeqCst) {
        let timeout = pacer.timeout(Instant::now(), dirty);
        if event::poll(timeout).context("reading terminal input")? {
            // sources register as they start: the keys about to be handled see the running ones
            app.set_venues(outbox.controls().venues());
            for _ in 0..MAX_DRAIN {
                let ev = event::read().context("reading terminal input")?;
                dirty |= app.on_event(&ev);
                if app.should_quit() || !event::poll(Duration::ZERO)? {
                    break;
                }
            }
        }
        if app.should_quit() {
            break;
        }
        let now = Instant::now();
        let version = link.slot.version();
        if version != seen {
            seen = version;
            snap = link.slot.latest();
            dirty |= app.sync(&snap);
        }
        // A source's state shows at once, however briefly it lasts (not on the next tick).
        let health_version = link.health.version();
        if health_version != health_seen {
            health_seen = health_version;
            dirty = true;
        }
        dirty |= app.poll();
        dirty |= outbox.deliver(&mut app);
        // the selected symbol's book, looked up again only when a book or the selection changed
        let books_now = (link.books.version(), app.selected_key());
        if books_now != books_seen {
            books_seen = books_now;
            let book = books_now.1.and_then(|k| link.books.get(k));
            dirty |= app.on_book(book);
        }
        if pacer.tick_due(now) {
            // The clock and every data age move each second, even when no data arrives.
            dirty = true;
        }
        if dirty && pacer.may_draw(now) {
            let mut status =
                StatusInfo::collect(&link.stats, &link.health, &mut meter, now, now_ms());
            status.demo_command = demo_command;
            app.observe_services(&status.sources);
            let size = guard.terminal.size().context("reading the terminal size")?;
            app.layout(Rect::new(0, 0, size.width, size.height), &status);
            outbox.perform(app.take_effects());
            guard
                .terminal
                .draw(|f| app.render(&snap, &status, f.area(), f.buffer_mut()))
                .context("drawing the dashboard")?;
            pacer.drew(now);
            dirty = false;
        }
        outbox.perform(app.take_effects());
        if let Some(rx) = &link.terminal_writes {
            crate::alerts::sinks::terminal::drain_to(rx, guard.terminal.backend_mut())
                .context("writing a terminal notification")?;
        }
    }
    Ok(())
}
