//! What the user can ask for, independent of which key asked.

/// A user intent. The keymap produces these; [`App::update`](super::App::update) applies them.
/// Each has a name (used in `[keys]` of the config to rebind it) and a description (the help
/// overlay), both in [`Action::ALL`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Up,
    Down,
    Top,
    Bottom,
    NextPane,
    PrevPane,
    ShorterInterval,
    LongerInterval,
    Range15m,
    Range1h,
    Range4h,
    Range1d,
    Range1w,
    Range1M,
    RangeAll,
    /// Back to the live edge, one candle per column.
    RangeLive,
    /// Type a from/to range.
    RangeTyped,
    ZoomIn,
    ZoomOut,
    PanLeft,
    PanRight,
    /// Show or hide the chart cursor.
    Cursor,
    /// Cursor one column left (pan left when the cursor is off).
    CursorLeft,
    CursorRight,
    ChartMode,
    ToggleSma,
    ToggleEma,
    ToggleBollinger,
    ToggleVolume,
    ToggleRsi,
    ToggleMacd,
    ToggleLog,
    Filter,
    SortNext,
    SortReverse,
    NextWatchlist,
    PrevWatchlist,
    AddSymbol,
    RemoveSymbol,
    Detail,
    Overview,
    /// The order book ladder of the selected symbol.
    Ladder,
    /// The portfolio: positions, P/L, allocation.
    Portfolio,
    /// Ladder levels grouped into coarser or finer price steps.
    GroupCoarser,
    GroupFiner,
    NewRule,
    EditRule,
    DeleteRule,
    SnoozeRule,
    AcknowledgeRule,
    ToggleHelp,
    /// Close the help overlay, a prompt, the cursor or a view, whichever is open.
    Back,
    Quit,
}

impl Action {
    /// Every action with its config name and what it does, in the order help lists them.
    pub const ALL: &'static [(Action, &'static str, &'static str)] = &[
        (
            Action::Up,
            "up",
            "previous symbol (rules, alerts: previous line)",
        ),
        (
            Action::Down,
            "down",
            "next symbol (rules, alerts: next line)",
        ),
        (Action::Top, "top", "first symbol, rule or newest alert"),
        (
            Action::Bottom,
            "bottom",
            "last symbol, rule or oldest alert",
        ),
        (Action::NextPane, "next_pane", "focus the next pane"),
        (Action::PrevPane, "prev_pane", "focus the previous pane"),
        (
            Action::ShorterInterval,
            "shorter_interval",
            "shorter candle interval (1s..1d)",
        ),
        (
            Action::LongerInterval,
            "longer_interval",
            "longer candle interval",
        ),
        (Action::Range15m, "range_15m", "show the last 15 minutes"),
        (Action::Range1h, "range_1h", "show the last hour"),
        (Action::Range4h, "range_4h", "show the last 4 hours"),
        (Action::Range1d, "range_1d", "show the last day"),
        (
            Action::Range1w,
            "range_1w",
            "show the last week (stored history)",
        ),
        (
            Action::Range1M,
            "range_1M",
            "show the last month (stored history)",
        ),
        (Action::RangeAll, "range_all", "show everything stored"),
        (
            Action::RangeLive,
            "range_live",
            "live edge, one candle per column",
        ),
        (
            Action::RangeTyped,
            "range_typed",
            "type a range: from [to] (dates, times, ms)",
        ),
        (Action::ZoomIn, "zoom_in", "zoom in (mouse wheel up)"),
        (Action::ZoomOut, "zoom_out", "zoom out (mouse wheel down)"),
        (Action::PanLeft, "pan_left", "pan back in time"),
        (
            Action::PanRight,
            "pan_right",
            "pan forward (to the live edge)",
        ),
        (
            Action::Cursor,
            "cursor",
            "chart cursor on/off: time, OHLCV, indicators",
        ),
        (
            Action::CursorLeft,
            "cursor_left",
            "cursor left (pans without a cursor)",
        ),
        (
            Action::CursorRight,
            "cursor_right",
            "cursor right (pans without a cursor)",
        ),
        (Action::ChartMode, "chart_mode", "candles, line or area"),
        (Action::ToggleSma, "toggle_sma", "SMA overlay on/off"),
        (Action::ToggleEma, "toggle_ema", "EMA overlay on/off"),
        (
            Action::ToggleBollinger,
            "toggle_bollinger",
            "Bollinger bands on/off",
        ),
        (Action::ToggleVolume, "toggle_volume", "volume pane on/off"),
        (Action::ToggleRsi, "toggle_rsi", "RSI pane on/off"),
        (Action::ToggleMacd, "toggle_macd", "MACD pane on/off"),
        (Action::ToggleLog, "toggle_log", "log price scale on/off"),
        (
            Action::Filter,
            "filter",
            "filter the watchlist by symbol (Enter keeps, Esc clears)",
        ),
        (Action::SortNext, "sort", "sort by the next column"),
        (Action::SortReverse, "sort_reverse", "reverse the sort"),
        (Action::NextWatchlist, "next_watchlist", "next watchlist"),
        (
            Action::PrevWatchlist,
            "prev_watchlist",
            "previous watchlist",
        ),
        (
            Action::AddSymbol,
            "add_symbol",
            "add a symbol to this watchlist (subscribes)",
        ),
        (
            Action::RemoveSymbol,
            "remove_symbol",
            "remove the selected symbol (asks y)",
        ),
        (
            Action::Detail,
            "detail",
            "detail of the selected symbol: 24h, trades, spread",
        ),
        (
            Action::Overview,
            "overview",
            "overview: a small chart per symbol",
        ),
        (
            Action::Ladder,
            "ladder",
            "order book ladder: depth, spread, tape (↑↓ cursor)",
        ),
        (
            Action::Portfolio,
            "portfolio",
            "portfolio: positions, P/L, allocation and value chart; Tab: the ledger (n, e, d: entries)",
        ),
        (
            Action::GroupCoarser,
            "group_coarser",
            "ladder: group levels into coarser price steps",
        ),
        (
            Action::GroupFiner,
            "group_finer",
            "ladder: finer price steps",
        ),
        (
            Action::NewRule,
            "new_rule",
            "new alert rule for the selected symbol",
        ),
        (Action::EditRule, "edit_rule", "edit the selected rule"),
        (
            Action::DeleteRule,
            "delete_rule",
            "delete the selected rule (asks y)",
        ),
        (
            Action::SnoozeRule,
            "snooze_rule",
            "snooze the selected rule: 15 m, 1 h, 4 h, off",
        ),
        (
            Action::AcknowledgeRule,
            "acknowledge_rule",
            "acknowledge the selected rule",
        ),
        (Action::ToggleHelp, "help", "show or hide this help"),
        (Action::Back, "back", "close help, prompt, cursor or view"),
        (Action::Quit, "quit", "quit"),
    ];

    /// The name used in the config's `[keys]` table.
    pub fn name(self) -> &'static str {
        Action::ALL
            .iter()
            .find(|(a, ..)| *a == self)
            .map_or("", |(_, n, _)| n)
    }

    pub fn description(self) -> &'static str {
        Action::ALL
            .iter()
            .find(|(a, ..)| *a == self)
            .map_or("", |(.., d)| d)
    }

    pub fn from_name(name: &str) -> Option<Action> {
        Action::ALL
            .iter()
            .find(|(_, n, _)| *n == name)
            .map(|(a, ..)| *a)
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_round_trip() {
        let mut names: Vec<&str> = Action::ALL.iter().map(|(_, n, _)| *n).collect();
        for (a, n, _) in Action::ALL {
            assert_eq!(Action::from_name(n), Some(*a));
        }
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Action::ALL.len());
    }
}
