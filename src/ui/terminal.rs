//! Owning the real terminal: raw mode and the alternate screen on the way in, restored on every
//! way out (normal return, error, and panic through ratatui's hook).

use anyhow::Context;
use ratatui::DefaultTerminal;

/// Holds the terminal; dropping it restores the user's shell screen.
pub struct TerminalGuard {
    pub terminal: DefaultTerminal,
}

impl TerminalGuard {
    /// Enters raw mode and the alternate screen. ratatui installs a panic hook that restores
    /// the terminal before the panic message is printed.
    pub fn enter() -> anyhow::Result<TerminalGuard> {
        match ratatui::try_init() {
            Ok(terminal) => Ok(TerminalGuard { terminal }),
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
        ratatui::restore();
    }
}
