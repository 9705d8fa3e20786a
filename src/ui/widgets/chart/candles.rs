//! Candles with half-cell vertical resolution: a wick from low to high and a body from open to
//! close in each cell's top and bottom half. Up and down differ by colour, and in the
//! colourless theme by glyph too (line-drawn bodies up, filled bodies down).

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;

use super::Plot;
use super::scale::PriceScale;
use crate::ui::theme::GlyphKind;

/// What one half of a cell shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Half {
    Empty,
    Wick,
    Body,
}

/// How a candle body is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// Box-drawing lines: ┃ ╹ ╻ with │ wicks (one-column candles, and up candles in mono).
    Line,
    /// Block elements: █ ▀ ▄ (wide bodies, and down candles in mono).
    Filled,
    /// `+` up, `#` down, `|` wick.
    Ascii { up: bool },
}

impl Family {
    pub fn of(kind: GlyphKind, mono: bool, up: bool, wide: bool) -> Family {
        match kind {
            GlyphKind::Ascii => Family::Ascii { up },
            _ if mono => {
                if up {
                    Family::Line
                } else {
                    Family::Filled
                }
            }
            _ if wide => Family::Filled,
            _ => Family::Line,
        }
    }
}

/// The glyph of a cell whose top half shows `top` and bottom half `bottom`.
pub fn glyph(family: Family, top: Half, bottom: Half) -> &'static str {
    use Half::{Body as B, Empty as E, Wick as W};
    let has_body = top == B || bottom == B;
    match family {
        Family::Ascii { up } => match (has_body, top == W || bottom == W) {
            (true, _) if up => "+",
            (true, _) => "#",
            (false, true) => "|",
            (false, false) => " ",
        },
        Family::Filled if has_body => match (top, bottom) {
            (B, B) => "█",
            (B, _) => "▀",
            _ => "▄",
        },
        _ => match (top, bottom) {
            (E, E) => " ",
            (W, W) => "│",
            (B, B) => "┃",
            (W, B) => "╽",
            (B, W) => "╿",
            (E, W) => "╷",
            (W, E) => "╵",
            (E, B) => "╻",
            (B, E) => "╹",
        },
    }
}

/// Cells of the plot covered by a candle body (overlays do not draw over them).
pub struct BodyMask {
    cols: u16,
    cells: Vec<bool>,
}

impl BodyMask {
    pub fn new(cols: u16, rows: u16) -> BodyMask {
        BodyMask {
            cols,
            cells: vec![false; usize::from(cols) * usize::from(rows)],
        }
    }

    fn set(&mut self, col: u16, row: u16) {
        if col < self.cols
            && let Some(c) = self
                .cells
                .get_mut(usize::from(row) * usize::from(self.cols) + usize::from(col))
        {
            *c = true;
        }
    }

    pub fn get(&self, col: u16, row: u16) -> bool {
        col < self.cols
            && self
                .cells
                .get(usize::from(row) * usize::from(self.cols) + usize::from(col))
                .copied()
                .unwrap_or(false)
    }
}

/// Draws every visible candle into `plot` and marks body cells in the returned mask.
pub fn draw(p: &Plot, scale: &PriceScale, plot: Rect, buf: &mut Buffer) -> BodyMask {
    let rows = plot.height;
    let mut mask = BodyMask::new(plot.width, rows);
    for (c, &slot) in p.candles.iter().zip(p.slots.iter()) {
        let c = &c.candle;
        let (open, close) = (c.open, c.close);
        let finite: Vec<f64> = [c.low, c.high, open, close]
            .into_iter()
            .filter(|v| v.is_finite())
            .collect();
        if finite.is_empty() {
            continue;
        }
        let top_v = finite.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let bottom_v = finite.iter().copied().fold(f64::INFINITY, f64::min);
        // Without an open or a close, the body is wherever the other one is.
        let (o, cl) = match (open.is_finite(), close.is_finite()) {
            (true, true) => (open, close),
            (true, false) => (open, open),
            (false, true) => (close, close),
            (false, false) => (bottom_v, top_v),
        };
        let half = |v: f64| scale.half_of(v, rows);
        let (Some(wick_hi), Some(wick_lo), Some(body_hi), Some(body_lo)) = (
            half(top_v),
            half(bottom_v),
            half(o.max(cl)),
            half(o.min(cl)),
        ) else {
            continue;
        };
        let up = cl >= o;
        let (start, width) = p.x.body(slot);
        let wide = width > 1;
        let family = Family::of(p.glyphs.kind, p.theme.is_mono(), up, wide);
        let style = if up { p.theme.up() } else { p.theme.down() };
        let wick_col = start + width / 2;
        let what = |h: u16, with_wick: bool| {
            if (body_lo..=body_hi).contains(&h) {
                Half::Body
            } else if with_wick && (wick_lo..=wick_hi).contains(&h) {
                Half::Wick
            } else {
                Half::Empty
            }
        };
        let first_row = rows - 1 - wick_hi / 2;
        let last_row = rows - 1 - wick_lo / 2;
        for row in first_row..=last_row {
            let bottom_half = 2 * (rows - 1 - row);
            for col in start..start.saturating_add(width).min(plot.width) {
                let with_wick = col == wick_col;
                let (top, bottom) = (
                    what(bottom_half + 1, with_wick),
                    what(bottom_half, with_wick),
                );
                if top == Half::Empty && bottom == Half::Empty {
                    continue;
                }
                if top == Half::Body || bottom == Half::Body {
                    mask.set(col, row);
                }
                if let Some(cell) = buf.cell_mut((plot.x + col, plot.y + row)) {
                    cell.set_symbol(glyph(family, top, bottom)).set_style(style);
                }
            }
        }
    }
    mask
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_half_combination_has_a_glyph() {
        let halves = [Half::Empty, Half::Wick, Half::Body];
        for family in [
            Family::Line,
            Family::Filled,
            Family::Ascii { up: true },
            Family::Ascii { up: false },
        ] {
            for top in halves {
                for bottom in halves {
                    let g = glyph(family, top, bottom);
                    assert_eq!(g == " ", top == Half::Empty && bottom == Half::Empty);
                    if matches!(family, Family::Ascii { .. }) {
                        assert!(g.is_ascii());
                    }
                }
            }
        }
        assert_eq!(glyph(Family::Line, Half::Wick, Half::Body), "╽");
        assert_eq!(glyph(Family::Filled, Half::Body, Half::Wick), "▀");
    }

    #[test]
    fn mono_up_and_down_use_different_families() {
        let up = Family::of(GlyphKind::Unicode, true, true, false);
        let down = Family::of(GlyphKind::Unicode, true, false, false);
        assert_ne!(
            glyph(up, Half::Body, Half::Body),
            glyph(down, Half::Body, Half::Body)
        );
        let up = Family::of(GlyphKind::Ascii, true, true, false);
        let down = Family::of(GlyphKind::Ascii, true, false, false);
        assert_ne!(
            glyph(up, Half::Body, Half::Body),
            glyph(down, Half::Body, Half::Body)
        );
    }
}
