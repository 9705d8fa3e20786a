//! Colours, styles and glyphs in one place, so every widget agrees on what "up", "stale" and
//! "failed" look like: a dark, light or colourless ([`ThemeName::Mono`], for `NO_COLOR`)
//! palette, and Unicode, block or ASCII glyphs.

use ratatui::style::{Color, Modifier, Style};
use ratatui::symbols::{Marker, border};

/// Which palette: a dark or light terminal background, or none at all (`NO_COLOR`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ThemeName {
    #[default]
    Dark,
    Light,
    /// No colours: emphasis by bold, dim, underline and reverse video only (NO_COLOR, see
    /// no-color.org). Up and down candles differ by glyph, not by colour.
    Mono,
}

impl ThemeName {
    pub fn parse(s: &str) -> Result<ThemeName, String> {
        match s.trim() {
            "dark" => Ok(ThemeName::Dark),
            "light" => Ok(ThemeName::Light),
            "mono" | "none" => Ok(ThemeName::Mono),
            other => Err(format!(
                "unknown theme {other:?}; expected \"dark\", \"light\" or \"mono\""
            )),
        }
    }

    /// The configured theme, unless `NO_COLOR` is set to anything non-empty.
    pub fn with_no_color(self, no_color: Option<&std::ffi::OsStr>) -> ThemeName {
        match no_color {
            Some(v) if !v.is_empty() => ThemeName::Mono,
            _ => self,
        }
    }
}

/// Colours and styles in one place, so every widget agrees on what "up", "stale" and "failed"
/// look like in the active palette.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Theme {
    pub name: ThemeName,
    pub up: Color,
    pub down: Color,
    /// Stale data, reconnecting sources, storage lag.
    pub warn: Color,
    /// Failed sources, dropped events, failed deliveries.
    pub bad: Color,
    pub accent: Color,
    pub muted: Color,
    /// Background of the selected row when its pane has focus, and when another pane has it.
    pub select_focused: Color,
    pub select_unfocused: Color,
    /// Price line and the indicator lines.
    pub close: Color,
    pub sma: Color,
    pub ema: Color,
    pub bband: Color,
    pub bbmid: Color,
    pub rsi: Color,
    pub macd: Color,
    pub signal: Color,
}

impl Theme {
    pub const DARK: Theme = Theme {
        name: ThemeName::Dark,
        up: Color::Green,
        down: Color::Red,
        warn: Color::Yellow,
        bad: Color::Red,
        accent: Color::Cyan,
        muted: Color::DarkGray,
        select_focused: Color::Blue,
        select_unfocused: Color::DarkGray,
        close: Color::Cyan,
        sma: Color::Yellow,
        ema: Color::Magenta,
        bband: Color::Blue,
        bbmid: Color::DarkGray,
        rsi: Color::Magenta,
        macd: Color::Cyan,
        signal: Color::Yellow,
    };
    /// For light backgrounds: darker hues (the 256-colour cube) that keep contrast on white.
    pub const LIGHT: Theme = Theme {
        name: ThemeName::Light,
        up: Color::Indexed(28),
        down: Color::Indexed(160),
        warn: Color::Indexed(130),
        bad: Color::Indexed(160),
        accent: Color::Indexed(25),
        muted: Color::Indexed(244),
        select_focused: Color::Indexed(153),
        select_unfocused: Color::Indexed(252),
        close: Color::Indexed(25),
        sma: Color::Indexed(130),
        ema: Color::Indexed(127),
        bband: Color::Indexed(67),
        bbmid: Color::Indexed(246),
        rsi: Color::Indexed(127),
        macd: Color::Indexed(25),
        signal: Color::Indexed(130),
    };
    pub const MONO: Theme = Theme {
        name: ThemeName::Mono,
        up: Color::Reset,
        down: Color::Reset,
        warn: Color::Reset,
        bad: Color::Reset,
        accent: Color::Reset,
        muted: Color::Reset,
        select_focused: Color::Reset,
        select_unfocused: Color::Reset,
        close: Color::Reset,
        sma: Color::Reset,
        ema: Color::Reset,
        bband: Color::Reset,
        bbmid: Color::Reset,
        rsi: Color::Reset,
        macd: Color::Reset,
        signal: Color::Reset,
    };

    pub fn new(name: ThemeName) -> Theme {
        match name {
            ThemeName::Dark => Theme::DARK,
            ThemeName::Light => Theme::LIGHT,
            ThemeName::Mono => Theme::MONO,
        }
    }

    pub fn is_mono(&self) -> bool {
        self.name == ThemeName::Mono
    }

    /// Foreground `c`, or no colour at all in the mono theme.
    pub fn fg(&self, c: Color) -> Style {
        if self.is_mono() {
            Style::new()
        } else {
            Style::new().fg(c)
        }
    }

    pub fn up(&self) -> Style {
        self.fg(self.up)
    }
    pub fn down(&self) -> Style {
        self.fg(self.down)
    }
    pub fn warn(&self) -> Style {
        if self.is_mono() {
            Style::new().add_modifier(Modifier::BOLD)
        } else {
            self.fg(self.warn)
        }
    }
    pub fn bad(&self) -> Style {
        let s = self.fg(self.bad).add_modifier(Modifier::BOLD);
        if self.is_mono() {
            s.add_modifier(Modifier::UNDERLINED)
        } else {
            s
        }
    }
    pub fn muted(&self) -> Style {
        if self.is_mono() {
            Style::new().add_modifier(Modifier::DIM)
        } else {
            self.fg(self.muted)
        }
    }
    pub fn accent(&self) -> Style {
        self.fg(self.accent)
    }
    pub fn header(&self) -> Style {
        self.fg(self.accent).add_modifier(Modifier::BOLD)
    }
    pub fn title(&self) -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }

    /// Style of a signed change: green up, red down, plain when flat.
    pub fn signed(&self, v: f64) -> Style {
        if v > 0.0 {
            self.up()
        } else if v < 0.0 {
            self.down()
        } else {
            Style::new()
        }
    }

    /// Border style of a pane: highlighted when it has the keyboard focus.
    pub fn pane_border(&self, focused: bool) -> Style {
        match (focused, self.is_mono()) {
            (true, true) => Style::new().add_modifier(Modifier::BOLD),
            (true, false) => self.fg(self.accent),
            (false, _) => self.muted(),
        }
    }

    /// The selected row of a list: reverse video in mono, a background colour otherwise.
    pub fn selected(&self, focused: bool) -> Style {
        if self.is_mono() {
            let s = Style::new().add_modifier(Modifier::REVERSED);
            return if focused {
                s.add_modifier(Modifier::BOLD)
            } else {
                s
            };
        }
        let bg = if focused {
            self.select_focused
        } else {
            self.select_unfocused
        };
        Style::new().bg(bg).add_modifier(Modifier::BOLD)
    }
}

impl Default for Theme {
    fn default() -> Self {
        Theme::DARK
    }
}

/// What a terminal and its font can draw.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GlyphKind {
    /// Braille dots for lines, box drawing and block elements.
    #[default]
    Unicode,
    /// Box drawing and block elements but no braille (fonts without the braille range, the
    /// Linux console): lines are drawn with half blocks.
    Block,
    /// Plain ASCII only (`--ascii`).
    Ascii,
}

impl GlyphKind {
    pub fn parse(s: &str) -> Result<GlyphKind, String> {
        match s.trim() {
            "unicode" | "braille" => Ok(GlyphKind::Unicode),
            "block" => Ok(GlyphKind::Block),
            "ascii" => Ok(GlyphKind::Ascii),
            other => Err(format!(
                "unknown glyph set {other:?}; expected \"unicode\", \"block\" or \"ascii\""
            )),
        }
    }
}

/// Characters that differ between a Unicode terminal, one without braille, and `--ascii`.
#[derive(Debug, Clone, Copy)]
pub struct Glyphs {
    pub kind: GlyphKind,
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
        kind: GlyphKind::Unicode,
        bars: ["▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"],
        marker: Marker::Braille,
        sep: " · ",
        ellipsis: "…",
        border: border::PLAIN,
    };
    pub const BLOCK: Glyphs = Glyphs {
        kind: GlyphKind::Block,
        marker: Marker::HalfBlock,
        ..Glyphs::UNICODE
    };
    pub const ASCII: Glyphs = Glyphs {
        kind: GlyphKind::Ascii,
        bars: [".", ".", ":", ":", "+", "+", "#", "#"],
        marker: Marker::Dot,
        sep: " | ",
        ellipsis: "...",
        border: ASCII_BORDER,
    };

    pub fn new(kind: GlyphKind) -> Glyphs {
        match kind {
            GlyphKind::Unicode => Glyphs::UNICODE,
            GlyphKind::Block => Glyphs::BLOCK,
            GlyphKind::Ascii => Glyphs::ASCII,
        }
    }
}
