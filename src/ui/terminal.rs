//! Owning the real terminal: raw mode, the alternate screen and mouse reporting (for the wheel)
//! on the way in, all restored on every way out (normal return, error, and panic).

use std::io::Write;

use anyhow::Context;
use crossterm::event::{DisableMouseCapture, EnableMouseCapture};
use ratatui::DefaultTerminal;

/// Holds the terminal; dropping it restores the user's shell screen.
pub struct TerminalGuard {
    pub terminal: DefaultTerminal,
}

/// Turns mouse reporting off; a terminal left reporting would fill the shell with escape codes.
fn mouse_off() {
    let mut out = std::io::stdout();
    let _ = crossterm::execute!(out, DisableMouseCapture);
    let _ = out.flush();
}

impl TerminalGuard {
    /// Enters raw mode, the alternate screen and mouse reporting. ratatui installs a panic hook
    /// that restores the terminal; ours runs before it to turn the mouse off too.
    pub fn enter() -> anyhow::Result<TerminalGuard> {
        match ratatui::try_init() {
            Ok(terminal) => {
                let previous = std::panic::take_hook();
                std::panic::set_hook(Box::new(move |info| {
                    mouse_off();
                    previous(info);
                }));
                if let Err(e) = crossterm::execute!(std::io::stdout(), EnableMouseCapture) {
                    // the wheel is a convenience: keys still zoom and pan
                    tracing::warn!("mouse reporting unavailable: {e}");
                }
                Ok(TerminalGuard { terminal })
            }
            Err(e) => {
                // Raw mode may already be on when the alternate screen failed.
                ratatui::restore();
                Err(e).context(
                    "could not set up the terminal for the dashboard; run tickwatch in an \
                     interactive terminal, or use a headless command such as `record`",
                )
            }
        }
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        mouse_off();
        ratatui::restore();
    }
}
