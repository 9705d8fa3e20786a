//! Lines on a grid finer than the terminal's cells: braille dots (2x4 per cell) for Unicode,
//! half blocks (1x2) where braille is missing, and three ASCII levels (' - _, 1x3) for ASCII.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;

use super::window::XMap;
use crate::ui::theme::GlyphKind;

/// Dots of one series over a plot of `cols` x `rows` cells.
pub struct Raster {
    kind: GlyphKind,
    cols: u16,
    rows: u16,
    bits: Vec<u8>,
}

/// Dots per cell, across and down.
pub fn resolution(kind: GlyphKind) -> (u16, u16) {
    match kind {
        GlyphKind::Unicode => (2, 4),
        GlyphKind::Block => (1, 2),
        GlyphKind::Ascii => (1, 3),
    }
}

/// Braille dot bits by (row, column) inside a cell.
const BRAILLE: [[u8; 2]; 4] = [[0x01, 0x08], [0x02, 0x10], [0x04, 0x20], [0x40, 0x80]];

impl Raster {
    pub fn new(kind: GlyphKind, cols: u16, rows: u16) -> Raster {
        Raster {
            kind,
            cols,
            rows,
            bits: vec![0; usize::from(cols) * usize::from(rows)],
        }
    }

    fn dots(&self) -> (i64, i64) {
        let (sx, sy) = resolution(self.kind);
        (
            i64::from(self.cols) * i64::from(sx),
            i64::from(self.rows) * i64::from(sy),
        )
    }

    /// Sets the dot at (`x`, `y`) in dot units, `y` from the top; dots off the grid are ignored.
    pub fn dot(&mut self, x: i64, y: i64) {
        let (w, h) = self.dots();
        if x < 0 || y < 0 || x >= w || y >= h {
            return;
        }
        let (sx, sy) = resolution(self.kind);
        let (sx, sy) = (i64::from(sx), i64::from(sy));
        let (col, row) = ((x / sx) as usize, (y / sy) as usize);
        let (dx, dy) = ((x % sx) as usize, (y % sy) as usize);
        let bit = match self.kind {
            GlyphKind::Unicode => BRAILLE[dy][dx],
            GlyphKind::Block | GlyphKind::Ascii => 1 << dy,
        };
        self.bits[row * usize::from(self.cols) + col] |= bit;
    }

    /// A straight line between two points in dot units (fractions allowed), clipped to the grid.
    pub fn line(&mut self, a: (f64, f64), b: (f64, f64)) {
        let (w, h) = self.dots();
        let Some((a, b)) = clip(a, b, (-0.5, w as f64 - 0.5), (-0.5, h as f64 - 0.5)) else {
            return;
        };
        let (mut x0, mut y0) = (a.0.round() as i64, a.1.round() as i64);
        let (x1, y1) = (b.0.round() as i64, b.1.round() as i64);
        let (dx, dy) = ((x1 - x0).abs(), -(y1 - y0).abs());
        let (stx, sty) = (if x0 < x1 { 1 } else { -1 }, if y0 < y1 { 1 } else { -1 });
        let mut err = dx + dy;
        // Clipped to the grid, so at most w + h steps.
        for _ in 0..=(w + h) {
            self.dot(x0, y0);
            if x0 == x1 && y0 == y1 {
                break;
            }
            let e2 = 2 * err;
            if e2 >= dy {
                err += dy;
                x0 += stx;
            }
            if e2 <= dx {
                err += dx;
                y0 += sty;
            }
        }
    }

    /// The dot position of a point in plot column `col` at fraction `f` of the height (0 at the
    /// bottom).
    pub fn point(&self, col: u16, f: f64) -> (f64, f64) {
        let (sx, sy) = resolution(self.kind);
        let x = f64::from(col) * f64::from(sx) + (f64::from(sx) - 1.0) / 2.0;
        let y = (1.0 - f) * f64::from(self.rows) * f64::from(sy) - 0.5;
        (x, y)
    }

    /// Draws a series of (slot, value) points as connected runs: a gap (undefined value, or a
    /// missing bucket) breaks the line, and a lone point is a dot. `frac` places a value on the
    /// height (0 bottom, 1 top); NaN is a gap.
    pub fn trace(
        &mut self,
        x: &XMap,
        points: impl IntoIterator<Item = (usize, Option<f64>)>,
        frac: impl Fn(f64) -> f64,
    ) {
        let mut prev: Option<(usize, (f64, f64))> = None;
        let mut lone = true;
        for (slot, v) in points {
            let f = v.map_or(f64::NAN, &frac);
            if !f.is_finite() {
                if let (Some((_, p)), true) = (prev, lone) {
                    self.line(p, p);
                }
                prev = None;
                continue;
            }
            let p = self.point(x.center(slot), f);
            match prev {
                Some((s, q)) if slot == s + 1 => {
                    self.line(q, p);
                    lone = false;
                }
                Some((_, q)) => {
                    if lone {
                        self.line(q, q);
                    }
                    lone = true;
                }
                None => lone = true,
            }
            prev = Some((slot, p));
        }
        if let (Some((_, p)), true) = (prev, lone) {
            self.line(p, p);
        }
    }

    /// The bits of the cell at (`col`, `row`).
    pub fn cell(&self, col: u16, row: u16) -> u8 {
        if col >= self.cols || row >= self.rows {
            return 0;
        }
        self.bits[usize::from(row) * usize::from(self.cols) + usize::from(col)]
    }

    /// The lowest row of column `col` with a dot (for filling the area beneath a line).
    pub fn lowest_row(&self, col: u16) -> Option<u16> {
        (0..self.rows).rev().find(|&r| self.cell(col, r) != 0)
    }

    /// Writes every cell with a dot into `area` (the plot, same size as the grid) in `style`,
    /// except cells for which `keep` is true (candle bodies stay on top).
    pub fn paint(
        &self,
        buf: &mut Buffer,
        area: Rect,
        style: Style,
        keep: impl Fn(u16, u16) -> bool,
    ) {
        for row in 0..self.rows.min(area.height) {
            for col in 0..self.cols.min(area.width) {
                let bits = self.cell(col, row);
                if bits == 0 || keep(col, row) {
                    continue;
                }
                if let Some(cell) = buf.cell_mut((area.x + col, area.y + row)) {
                    cell.set_char(glyph(self.kind, bits)).set_style(style);
                }
            }
        }
    }
}

/// The character for a cell's dots.
fn glyph(kind: GlyphKind, bits: u8) -> char {
    match kind {
        GlyphKind::Unicode => char::from_u32(0x2800 + u32::from(bits)).unwrap_or(' '),
        GlyphKind::Block => match bits & 3 {
            1 => '▀',
            2 => '▄',
            3 => '█',
            _ => ' ',
        },
        GlyphKind::Ascii => match bits & 7 {
            1 => '\'',
            2 => '-',
            4 => '_',
            0 => ' ',
            _ => '|',
        },
    }
}

/// Liang-Barsky: the part of segment a-b inside the box, if any.
fn clip(
    a: (f64, f64),
    b: (f64, f64),
    (x_min, x_max): (f64, f64),
    (y_min, y_max): (f64, f64),
) -> Option<((f64, f64), (f64, f64))> {
    if ![a.0, a.1, b.0, b.1].iter().all(|v| v.is_finite()) {
        return None;
    }
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let (mut t0, mut t1) = (0.0f64, 1.0f64);
    for (p, q) in [
        (-dx, a.0 - x_min),
        (dx, x_max - a.0),
        (-dy, a.1 - y_min),
        (dy, y_max - a.1),
    ] {
        if p == 0.0 {
            if q < 0.0 {
                return None;
            }
            continue;
        }
        let r = q / p;
        if p < 0.0 {
            if r > t1 {
                return None;
            }
            t0 = t0.max(r);
        } else {
            if r < t0 {
                return None;
            }
            t1 = t1.min(r);
        }
    }
    Some((
        (a.0 + t0 * dx, a.1 + t0 * dy),
        (a.0 + t1 * dx, a.1 + t1 * dy),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(r: &Raster) -> Vec<String> {
        (0..r.rows)
            .map(|row| (0..r.cols).map(|c| glyph(r.kind, r.cell(c, row))).collect())
            .collect()
    }

    #[test]
    fn braille_dots_and_lines() {
        let mut r = Raster::new(GlyphKind::Unicode, 2, 1);
        r.line((0.0, 0.0), (3.0, 3.0));
        assert_eq!(text(&r), ["⠑⢄"]);
    }

    #[test]
    fn lines_far_off_the_grid_are_clipped_not_walked() {
        let mut r = Raster::new(GlyphKind::Block, 4, 2);
        r.line((0.0, -1e15), (3.0, 1e15));
        assert!(text(&r).concat().contains('█') || text(&r).concat().contains('▀'));
        let mut r = Raster::new(GlyphKind::Block, 4, 2);
        r.line((0.0, -10.0), (3.0, -20.0));
        r.line((f64::NAN, 0.0), (1.0, 1.0));
        assert_eq!(text(&r), ["    ", "    "]);
    }

    #[test]
    fn ascii_uses_three_levels() {
        let mut r = Raster::new(GlyphKind::Ascii, 3, 1);
        r.dot(0, 2);
        r.dot(1, 1);
        r.dot(2, 0);
        assert_eq!(text(&r), ["_-'"]);
    }

    #[test]
    fn traces_break_at_gaps() {
        let x = XMap::new(0, 6, 1, 6);
        let mut r = Raster::new(GlyphKind::Ascii, 6, 1);
        let pts = [
            (0, Some(0.5)),
            (1, Some(0.5)),
            (2, None),
            (3, Some(0.5)),
            (5, Some(0.5)),
        ];
        r.trace(&x, pts, |v| v);
        assert_eq!(text(&r), ["-- - -"]);
    }
}
