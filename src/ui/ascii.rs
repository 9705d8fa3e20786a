//! The last step of an `--ascii` frame: any character outside ASCII that a widget still drew
//! (a dash for a missing value, an arrow, a box corner from a library widget) becomes its
//! nearest ASCII look-alike, so a terminal or font without Unicode never shows a replacement
//! box. Widgets pick ASCII glyphs themselves where the shape matters (candles, bars); this is
//! the guarantee behind them.

use ratatui::buffer::Buffer;

/// The ASCII stand-in for one character.
pub fn fold(c: char) -> &'static str {
    match c {
        '—' | '–' | '─' | '━' | '┄' | '┈' | '╌' | '⎯' => "-",
        '│' | '┃' | '┆' | '┊' | '╎' | '▏' | '▕' | '╽' | '╿' | '╻' | '╹' => {
            "|"
        }
        '┌' | '┐' | '└' | '┘' | '├' | '┤' | '┬' | '┴' | '┼' | '╭' | '╮' | '╯' | '╰' => {
            "+"
        }
        '·' | '•' | '∙' | '⋅' => ".",
        '…' => ".",
        '↑' | '▲' | '△' => "^",
        '↓' | '▼' | '▽' => "v",
        '←' | '◀' => "<",
        '→' | '▶' => ">",
        '×' => "x",
        '÷' => "/",
        '▁' | '▂' | '▃' => ".",
        '▄' | '▅' => ":",
        '▆' | '▇' | '█' | '▀' | '▌' | '▐' => "#",
        '░' | '▒' | '▓' => ":",
        '\u{2800}' => " ",
        '\u{2801}'..='\u{28ff}' => "*",
        _ => "?",
    }
}

/// Rewrites every non-ASCII cell of `buf` in place.
pub fn fold_buffer(buf: &mut Buffer) {
    for cell in buf.content.iter_mut() {
        let sym = cell.symbol();
        if sym.is_ascii() {
            continue;
        }
        let replacement = sym.chars().next().map_or(" ", fold);
        cell.set_symbol(replacement);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::layout::Rect;

    #[test]
    fn every_cell_ends_up_ascii() {
        let mut buf = Buffer::empty(Rect::new(0, 0, 12, 1));
        buf.set_string(0, 0, "—│┌·…↑⣿▅█é", ratatui::style::Style::new());
        fold_buffer(&mut buf);
        let text: String = buf.content.iter().map(|c| c.symbol()).collect();
        assert!(text.is_ascii(), "{text}");
        assert!(text.starts_with("-|+..^*:#?"), "{text}");
    }
}
