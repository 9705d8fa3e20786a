//! The sub-panes beneath the price, on the same time axis: volume bars, RSI with its 30/70
//! lines, MACD with its histogram around a zero line; or a one-line note when the indicator is
//! not configured.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;

use super::Plot;
use super::axis::{self, ValueLabel};
use super::columns::MacdColumns;
use super::layout::Region;
use super::raster::Raster;
use super::scale::{LABEL_WIDTH, PriceScale, fit_label, row_of_frac};
use crate::format;
use crate::ui::theme::GlyphKind;

/// Volume bars in eighths of a cell, coloured like their candle, scaled to the largest volume.
pub fn volume(p: &Plot, region: Region, buf: &mut Buffer) {
    let plot = region.plot;
    let vol = |v: f64| if v.is_finite() && v > 0.0 { v } else { 0.0 };
    let max = p
        .candles
        .iter()
        .map(|c| vol(c.candle.volume))
        .fold(0.0, f64::max);
    let label = format!("vol {}", format::compact(max));
    axis::value_axis(
        buf,
        region.gutter,
        &[(0, label, p.theme.muted())],
        p.glyphs,
        p.theme,
    );
    if max <= 0.0 || plot.is_empty() {
        return;
    }
    let eighths_total = f64::from(plot.height) * 8.0;
    for (c, &slot) in p.candles.iter().zip(&p.slots) {
        let v = vol(c.candle.volume);
        if v <= 0.0 {
            continue;
        }
        let style = if c.candle.close >= c.candle.open {
            p.theme.up()
        } else {
            p.theme.down()
        };
        // Any volume at all shows as at least an eighth.
        let mut eighths = ((v / max) * eighths_total).round().max(1.0) as u16;
        let (start, width) = p.x.body(slot);
        for row in (0..plot.height).rev() {
            if eighths == 0 {
                break;
            }
            let level = eighths.min(8);
            eighths -= level;
            for col in start..start.saturating_add(width).min(plot.width) {
                if let Some(cell) = buf.cell_mut((plot.x + col, plot.y + row)) {
                    cell.set_symbol(p.glyphs.bars[usize::from(level) - 1])
                        .set_style(style);
                }
            }
        }
    }
}

/// A dotted horizontal line across `plot` at `row`, under whatever is drawn later.
fn reference_line(p: &Plot, plot: Rect, row: u16, buf: &mut Buffer) {
    let glyph = if p.glyphs.kind == GlyphKind::Ascii {
        "."
    } else {
        "┄"
    };
    if row < plot.height {
        for col in 0..plot.width {
            buf.set_string(plot.x + col, plot.y + row, glyph, p.theme.muted());
        }
    }
}

/// The latest defined value of a series.
fn last_value(p: &Plot, column: usize) -> Option<f64> {
    p.series(column)
        .filter_map(|(_, v)| v.filter(|v| v.is_finite()))
        .last()
}

/// RSI on a fixed 0-100 scale with reference lines at 30 and 70 and the latest value tagged.
pub fn rsi(p: &Plot, column: usize, region: Region, buf: &mut Buffer) {
    let plot = region.plot;
    let rows = plot.height;
    let style = p.theme.fg(p.theme.rsi);
    let mut labels: Vec<ValueLabel> = Vec::new();
    for level in [70.0, 30.0] {
        if let Some(row) = row_of_frac(level / 100.0, rows) {
            reference_line(p, plot, row, buf);
            axis::put_label(&mut labels, row, format!("{level:.0}"), p.theme.muted());
        }
    }
    let mut r = Raster::new(p.glyphs.kind, plot.width, rows);
    r.trace(&p.x, p.series(column), |v| v / 100.0);
    r.paint(buf, plot, style, |_, _| false);
    if let Some(v) = last_value(p, column)
        && let Some(row) = row_of_frac((v / 100.0).clamp(0.0, 1.0), rows)
    {
        axis::put_label(&mut labels, row, format!("RSI {v:.1}"), style);
    }
    axis::value_axis(buf, region.gutter, &labels, p.glyphs, p.theme);
}

/// MACD and signal lines over a histogram of their difference, drawn up or down from a zero
/// line in half cells.
pub fn macd(p: &Plot, cols: MacdColumns, region: Region, buf: &mut Buffer) {
    let plot = region.plot;
    let rows = plot.height;
    let series: Vec<usize> = [Some(cols.line), cols.signal, cols.hist]
        .into_iter()
        .flatten()
        .collect();
    let (mut lo, mut hi) = (0.0f64, 0.0f64);
    for &s in &series {
        for v in p.series(s).filter_map(|(_, v)| v.filter(|v| v.is_finite())) {
            lo = lo.min(v);
            hi = hi.max(v);
        }
    }
    let Some(scale) = PriceScale::spanning(lo, hi, false) else {
        return;
    };
    let mut labels: Vec<ValueLabel> = Vec::new();
    if let Some(zero) = scale.row_of(0.0, rows) {
        reference_line(p, plot, zero, buf);
        axis::put_label(&mut labels, zero, "0".into(), p.theme.muted());
    }
    if let Some(h) = cols.hist {
        histogram(p, &scale, h, plot, buf);
    }
    let lines = [
        (cols.signal, p.theme.signal),
        (Some(cols.line), p.theme.macd),
    ];
    for (column, color) in lines {
        let Some(column) = column else {
            continue;
        };
        let mut r = Raster::new(p.glyphs.kind, plot.width, rows);
        r.trace(&p.x, p.series(column), |v| scale.frac(v));
        r.paint(buf, plot, p.theme.fg(color), |_, _| false);
    }
    if rows > 1 && labels.iter().all(|(r, _, _)| *r != 0) {
        axis::put_label(&mut labels, 0, "MACD".into(), p.theme.muted());
    }
    if let Some(v) = last_value(p, cols.line)
        && let Some(row) = scale.row_of(v, rows)
    {
        let d = format::price_decimals(hi.abs().max(lo.abs()));
        let text = fit_label(v, d, LABEL_WIDTH);
        axis::put_label(&mut labels, row, text, p.theme.fg(p.theme.macd));
    }
    axis::value_axis(buf, region.gutter, &labels, p.glyphs, p.theme);
}

/// Bars from zero to each histogram value, in half cells: up colour above zero, down below.
fn histogram(p: &Plot, scale: &PriceScale, column: usize, plot: Rect, buf: &mut Buffer) {
    let rows = plot.height;
    if rows == 0 {
        return;
    }
    let halves = 2.0 * f64::from(rows);
    let zero = scale.frac(0.0) * halves;
    for (slot, v) in p.series(column) {
        let Some(v) = v.filter(|v| v.is_finite()) else {
            continue;
        };
        let at = scale.frac(v) * halves;
        let (a, b) = (zero.min(at), zero.max(at));
        let first = a.floor().clamp(0.0, halves - 1.0) as u16;
        let last = ((b.ceil() - 1.0).max(a.floor())).clamp(0.0, halves - 1.0) as u16;
        let style = if v >= 0.0 {
            p.theme.up()
        } else {
            p.theme.down()
        };
        let (start, width) = p.x.body(slot);
        for row in 0..rows {
            let bottom_half = 2 * (rows - 1 - row);
            let filled = |h: u16| (first..=last).contains(&h);
            let glyph = match (filled(bottom_half + 1), filled(bottom_half)) {
                (false, false) => continue,
                _ if p.glyphs.kind == GlyphKind::Ascii => "#",
                (true, true) => "█",
                (true, false) => "▀",
                (false, true) => "▄",
            };
            for col in start..start.saturating_add(width).min(plot.width) {
                if let Some(cell) = buf.cell_mut((plot.x + col, plot.y + row)) {
                    cell.set_symbol(glyph).set_style(style);
                }
            }
        }
    }
}

/// A pane whose indicator is not configured: says which column to add, on one line.
pub fn note(text: &str, region: Region, style: Style, buf: &mut Buffer) {
    let area = Rect {
        width: region.plot.width + region.gutter.width,
        height: 1,
        ..region.plot
    };
    if !area.is_empty() {
        buf.set_stringn(area.x, area.y, text, usize::from(area.width), style);
    }
}
