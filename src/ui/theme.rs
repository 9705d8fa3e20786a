//! Colours, styles and glyphs in one place, so every widget agrees on what "up", "stale" and
//! "failed" look like.

use ratatui::style::{Color, Modifier, Style};
use ratatui::symbols::{Marker, border};

pub const UP: Color = Color::Green;
pub const DOWN: Color = Color::Red;
/// Stale data, reconnecting sources, storage lag.
pub const WARN: Color = Color::Yellow;
/// Failed sources, dropped events, failed deliveries.
pub const BAD: Color = Color::Red;
pub const ACCENT: Color = Color::Cyan;
pub const MUTED: Color = Color::DarkGray;
/// Background of the selected watchlist row when the watchlist has focus.
pub const SELECT_FOCUSED: Color = Color::Blue;
/// Background of the selected row when another pane has focus.
pub const SELECT_UNFOCUSED: Color = Color::DarkGray;

pub const CLOSE: Color = Color::Cyan;
pub const SMA: Color = Color::Yellow;
pub const EMA: Color = Color::Magenta;
pub const BBAND: Color = Color::Blue;
pub const BBMID: Color = Color::DarkGray;

pub fn up() -> Style {
    Style::new().fg(UP)
}
pub fn down() -> Style {
    Style::new().fg(DOWN)
}
pub fn warn() -> Style {
    Style::new().fg(WARN)
}
pub fn bad() -> Style {
    Style::new().fg(BAD).add_modifier(Modifier::BOLD)
}
pub fn muted() -> Style {
    Style::new().fg(MUTED)
}
pub fn header() -> Style {
    Style::new().fg(ACCENT).add_modifier(Modifier::BOLD)
}
pub fn title() -> Style {
    Style::new().add_modifier(Modifier::BOLD)
}

/// Style of a signed change: green up, red down, plain when flat.
pub fn signed(v: f64) -> Style {
    if v > 0.0 {
        up()
    } else if v < 0.0 {
        down()
    } else {
        Style::new()
    }
}

/// Border style of a pane: highlighted when it has the keyboard focus.
pub fn pane_border(focused: bool) -> Style {
    if focused {
        Style::new().fg(ACCENT)
    } else {
        muted()
    }
}

/// Characters that differ between a Unicode terminal and `--ascii`.
#[derive(Debug, Clone, Copy)]
pub struct Glyphs {
    /// Bar heights from one eighth to full, for sparklines and the volume strip.
    pub bars: [&'static str; 8],
    pub marker: Marker,
    pub sep: &'static str,
    pub ellipsis: &'static str,
    pub border: border::Set<'static>,
}

const ASCII_BORDER: border::Set<'static> = border::Set {
    top_left: "+",
    top_right: "+",
    bottom_left: "+",
    bottom_right: "+",
    vertical_left: "|",
    vertical_right: "|",
    horizontal_top: "-",
    horizontal_bottom: "-",
};

impl Glyphs {
    pub const UNICODE: Glyphs = Glyphs {
        bars: ["▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"],
        marker: Marker::Braille,
        sep: " · ",
        ellipsis: "…",
        border: border::PLAIN,
    };
    pub const ASCII: Glyphs = Glyphs {
        bars: [".", ".", ":", ":", "+", "+", "#", "#"],
        marker: Marker::Dot,
        sep: " | ",
        ellipsis: "...",
        border: ASCII_BORDER,
    };

    pub fn new(ascii: bool) -> Glyphs {
        if ascii {
            Glyphs::ASCII
        } else {
            Glyphs::UNICODE
        }
    }
}
