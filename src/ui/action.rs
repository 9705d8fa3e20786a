//! What the user can ask for, independent of which key asked.

/// A user intent. The keymap produces these; [`App::update`](super::App::update) applies them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Move up in the focused pane (previous symbol, or newer alerts).
    Up,
    /// Move down in the focused pane (next symbol, or older alerts).
    Down,
    /// First symbol / newest alert.
    Top,
    /// Last symbol / oldest alert.
    Bottom,
    /// Focus the next pane.
    NextPane,
    /// Focus the previous pane.
    PrevPane,
    /// Shorter candle interval (1m → 1s).
    ShorterInterval,
    /// Longer candle interval (1m → 5m).
    LongerInterval,
    ToggleHelp,
    /// Close the help overlay if it is open.
    CloseHelp,
    /// Open the form for a new alert rule on the selected symbol.
    NewRule,
    /// Open the form on the selected rule.
    EditRule,
    /// Delete the selected rule (after a confirmation).
    DeleteRule,
    /// Snooze the selected rule for the next step: 15 min, 1 h, 4 h, off.
    SnoozeRule,
    /// Acknowledge the selected (triggered) rule: it is armed again.
    AcknowledgeRule,
    Quit,
}

/// The pane that receives Up/Down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Pane {
    #[default]
    Watchlist,
    Chart,
    /// The alert rules beside the alerts log (in the cycle only when there are rules).
    Rules,
    Alerts,
}

impl Pane {
    pub fn next(self) -> Pane {
        match self {
            Pane::Watchlist => Pane::Chart,
            Pane::Chart => Pane::Rules,
            Pane::Rules => Pane::Alerts,
            Pane::Alerts => Pane::Watchlist,
        }
    }

    pub fn prev(self) -> Pane {
        match self {
            Pane::Watchlist => Pane::Alerts,
            Pane::Chart => Pane::Watchlist,
            Pane::Rules => Pane::Chart,
            Pane::Alerts => Pane::Rules,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Pane::Watchlist => "watchlist",
            Pane::Chart => "chart",
            Pane::Rules => "rules",
            Pane::Alerts => "alerts",
        }
    }
}
