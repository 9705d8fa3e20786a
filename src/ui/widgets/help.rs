//! The help overlay: every action of the active keymap (rebindings included) and the chart's
//! colour legend. Compact groups fit 80x24; a big terminal gets every action with its
//! description in two columns.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Widget, Wrap};

use super::pane;
use crate::ui::action::Action;
use crate::ui::keymap::Keymap;
use crate::ui::theme::{Glyphs, Theme};

pub struct HelpOverlay<'a> {
    pub keymap: &'a Keymap,
    pub glyphs: &'a Glyphs,
    pub theme: &'a Theme,
}

/// The compact layout: groups of (action, short word).
pub const GROUPS: &[(&str, &[(Action, &str)])] = &[
    (
        "move",
        &[
            (Action::Up, "up"),
            (Action::Down, "down"),
            (Action::Top, "top"),
            (Action::Bottom, "bottom"),
        ],
    ),
    (
        "panes",
        &[(Action::NextPane, "next"), (Action::PrevPane, "previous")],
    ),
    (
        "interval",
        &[
            (Action::ShorterInterval, "shorter"),
            (Action::LongerInterval, "longer"),
        ],
    ),
    (
        "range",
        &[
            (Action::Range15m, "15m"),
            (Action::Range1h, "1h"),
            (Action::Range4h, "4h"),
            (Action::Range1d, "1d"),
            (Action::Range1w, "1w"),
            (Action::Range1M, "1M"),
            (Action::RangeAll, "all"),
            (Action::RangeLive, "live"),
            (Action::RangeTyped, "typed"),
        ],
    ),
    (
        "zoom, pan",
        &[
            (Action::ZoomIn, "in"),
            (Action::ZoomOut, "out"),
            (Action::PanLeft, "back"),
            (Action::PanRight, "forward"),
        ],
    ),
    (
        "cursor",
        &[
            (Action::Cursor, "on/off"),
            (Action::CursorLeft, "left"),
            (Action::CursorRight, "right"),
        ],
    ),
    (
        "chart",
        &[
            (Action::ChartMode, "mode"),
            (Action::ToggleSma, "SMA"),
            (Action::ToggleEma, "EMA"),
            (Action::ToggleBollinger, "BB"),
            (Action::ToggleVolume, "volume"),
            (Action::ToggleRsi, "RSI"),
            (Action::ToggleMacd, "MACD"),
            (Action::ToggleLog, "log"),
        ],
    ),
    (
        "watchlist",
        &[
            (Action::Filter, "find"),
            (Action::SortNext, "sort"),
            (Action::SortReverse, "rev"),
            (Action::NextWatchlist, "next"),
            (Action::PrevWatchlist, "prev"),
            (Action::AddSymbol, "add"),
            (Action::RemoveSymbol, "remove"),
        ],
    ),
    (
        "views",
        &[
            (Action::Detail, "detail"),
            (Action::Overview, "overview"),
            (Action::Ladder, "ladder"),
            (Action::Portfolio, "portfolio"),
            (Action::GroupCoarser, "coarser"),
            (Action::GroupFiner, "finer"),
            (Action::ToggleHelp, "help"),
            (Action::Back, "back"),
            (Action::Quit, "quit"),
        ],
    ),
    (
        "rules",
        &[
            (Action::NewRule, "new"),
            (Action::EditRule, "edit"),
            (Action::DeleteRule, "delete"),
            (Action::SnoozeRule, "snooze"),
            (Action::AcknowledgeRule, "acknowledge"),
        ],
    ),
];

const GROUP_W: usize = 10;

impl HelpOverlay<'_> {
    /// Arrows as words: ASCII would draw them as `^`, `v`, `<`, `>`, keys of other actions.
    fn words(&self) -> bool {
        self.glyphs.kind == crate::ui::theme::GlyphKind::Ascii
    }

    fn compact(&self) -> Vec<Line<'static>> {
        GROUPS
            .iter()
            .map(|(name, items)| {
                let mut spans = vec![Span::styled(
                    format!(" {name:<GROUP_W$}"),
                    self.theme.header(),
                )];
                for (i, (action, word)) in items.iter().enumerate() {
                    if i > 0 {
                        spans.push(Span::styled(
                            self.glyphs.sep.to_string(),
                            self.theme.muted(),
                        ));
                    }
                    let keys = self
                        .keymap
                        .keys_shown(*action, self.words())
                        .replace(" / ", "/");
                    let keys = if keys.is_empty() {
                        "-".to_string()
                    } else {
                        keys
                    };
                    spans.push(Span::styled(keys, self.theme.accent()));
                    spans.push(Span::raw(format!(" {word}")));
                }
                Line::from(spans)
            })
            .collect()
    }

    fn full(&self, col_w: usize) -> Vec<Line<'static>> {
        let words = self.words();
        let entries: Vec<(String, &str)> = self
            .keymap
            .bindings()
            .into_iter()
            .map(|(k, d)| {
                if words {
                    (crate::ui::keymap::arrows_in_words(&k), d)
                } else {
                    (k, d)
                }
            })
            .collect();
        let half = entries.len().div_ceil(2);
        let key_w = 14;
        let cell = |e: Option<&(String, &str)>| -> Vec<Span<'static>> {
            match e {
                Some((k, d)) => {
                    let desc: String = d.chars().take(col_w.saturating_sub(key_w + 2)).collect();
                    let pad = col_w.saturating_sub(key_w + 2 + desc.chars().count());
                    vec![
                        Span::styled(format!(" {k:<key_w$} "), self.theme.accent()),
                        Span::raw(format!("{desc}{}", " ".repeat(pad))),
                    ]
                }
                None => Vec::new(),
            }
        };
        (0..half)
            .map(|i| {
                let mut spans = cell(entries.get(i));
                spans.extend(cell(entries.get(i + half)));
                Line::from(spans)
            })
            .collect()
    }

    fn legend(&self) -> Line<'static> {
        let t = self.theme;
        let mut spans = vec![Span::styled(
            format!(" {:<GROUP_W$}", "colours"),
            t.header(),
        )];
        for (name, color) in [
            ("up", t.up),
            ("down", t.down),
            ("close", t.close),
            ("SMA", t.sma),
            ("EMA", t.ema),
            ("Bollinger", t.bband),
            ("RSI", t.rsi),
            ("MACD", t.macd),
            ("signal", t.signal),
        ] {
            spans.push(Span::styled(format!("{name} "), t.fg(color)));
        }
        spans.push(Span::styled("· dim rows: stale", t.muted()));
        Line::from(spans)
    }
}

impl Widget for &HelpOverlay<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let wide = area.width >= 150 && usize::from(area.height) >= Action::ALL.len() / 2 + 6;
        let width = if wide {
            area.width.min(170)
        } else {
            area.width.min(100)
        };
        let mut lines = if wide {
            self.full(usize::from(width.saturating_sub(2)) / 2)
        } else {
            self.compact()
        };
        lines.push(Line::raw(""));
        lines.push(self.legend());
        lines.push(Line::styled(
            " Rebind any key in config.toml: [keys] action = \"key\" (names in the README)",
            self.theme.muted(),
        ));
        // wrapped lines take more rows than there are lines; leave room for them
        let inner_w = usize::from(width.saturating_sub(2)).max(1);
        let rows: usize = lines
            .iter()
            .map(|l| l.width().div_ceil(inner_w).max(1))
            .sum();
        let height = area.height.min(rows as u16 + 2);
        let popup = Rect {
            x: area.x + (area.width - width) / 2,
            y: area.y + (area.height - height) / 2,
            width,
            height,
        };
        Clear.render(popup, buf);
        let block = pane(
            Line::styled(" Keys (? or Esc closes) ", self.theme.title()),
            true,
            self.glyphs,
            self.theme,
        );
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false })
            .render(popup, buf);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_is_in_a_group_once() {
        let mut seen: Vec<Action> = GROUPS
            .iter()
            .flat_map(|(_, a)| a.iter().map(|(x, _)| *x))
            .collect();
        let n = seen.len();
        seen.sort_by_key(|a| a.name());
        seen.dedup();
        assert_eq!(seen.len(), n, "an action is listed twice");
        for (a, ..) in Action::ALL {
            assert!(seen.contains(a), "{a:?} missing from help");
        }
    }
}
