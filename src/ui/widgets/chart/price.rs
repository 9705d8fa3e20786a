//! The price plot: candles, a close line or a filled area, with the SMA, EMA and Bollinger
//! overlays, and its value axis (the last close tagged on it).

use ratatui::buffer::Buffer;
use ratatui::style::{Modifier, Style};

use super::Plot;
use super::axis::{self, ValueLabel};
use super::candles::{self, BodyMask};
use super::columns::{overlay_color, overlay_of, overlay_on};
use super::layout::Region;
use super::raster::Raster;
use super::scale::PriceScale;
use crate::ui::chart_opts::ChartMode;
use crate::ui::theme::GlyphKind;

pub fn draw(p: &Plot, scale: &PriceScale, region: Region, buf: &mut Buffer) {
    let plot = region.plot;
    if plot.is_empty() {
        return;
    }
    let frac = |v: f64| scale.frac(v);
    match p.opts.mode {
        ChartMode::Candles => {
            let mask = candles::draw(p, scale, plot, buf);
            overlays(p, scale, region, buf, Some(&mask));
        }
        ChartMode::Line | ChartMode::Area => {
            let mut close = Raster::new(p.glyphs.kind, plot.width, plot.height);
            close.trace(&p.x, p.closes(), frac);
            if p.opts.mode == ChartMode::Area {
                fill_beneath(p, &close, region, buf);
            }
            overlays(p, scale, region, buf, None);
            close.paint(buf, plot, p.theme.fg(p.theme.close), |_, _| false);
        }
    }
    value_axis(p, scale, region, buf);
}

/// Every overlay column the options switch on, bands first; candle bodies stay on top.
fn overlays(
    p: &Plot,
    scale: &PriceScale,
    region: Region,
    buf: &mut Buffer,
    mask: Option<&BodyMask>,
) {
    let plot = region.plot;
    let mut shown: Vec<(usize, usize)> = p
        .columns
        .iter()
        .enumerate()
        .filter_map(|(i, c)| overlay_of(c).map(|(kind, _)| (kind, i)))
        .filter(|&(kind, _)| overlay_on(p.opts, kind))
        .collect();
    shown.sort_by_key(|&(kind, _)| kind);
    for (kind, i) in shown {
        let mut r = Raster::new(p.glyphs.kind, plot.width, plot.height);
        r.trace(&p.x, p.series(i), |v| scale.frac(v));
        let style = p.theme.fg(overlay_color(p.theme, kind));
        r.paint(buf, plot, style, |c, row| {
            mask.is_some_and(|m| m.get(c, row))
        });
    }
}

/// The area mode's fill: every cell beneath the close line, muted.
fn fill_beneath(p: &Plot, close: &Raster, region: Region, buf: &mut Buffer) {
    let plot = region.plot;
    let glyph = if p.glyphs.kind == GlyphKind::Ascii {
        "."
    } else {
        "░"
    };
    let style = p.theme.fg(p.theme.close).add_modifier(Modifier::DIM);
    for col in 0..plot.width {
        let Some(line_row) = close.lowest_row(col) else {
            continue;
        };
        for row in line_row + 1..plot.height {
            if let Some(cell) = buf.cell_mut((plot.x + col, plot.y + row)) {
                cell.set_symbol(glyph).set_style(style);
            }
        }
    }
}

/// Labels from the top (highest high) to the bottom (lowest low), and the last close tagged in
/// its colour where it does not hide an extreme.
fn value_axis(p: &Plot, scale: &PriceScale, region: Region, buf: &mut Buffer) {
    let rows = region.plot.height;
    let mut labels: Vec<ValueLabel> = scale
        .labels(rows)
        .into_iter()
        .map(|(row, text)| (row, text, p.theme.muted()))
        .collect();
    let last = p.candles.iter().rev().find(|c| c.candle.close.is_finite());
    if let Some(c) = last {
        let c = &c.candle;
        if let Some(row) = scale.row_of(c.close, rows)
            && row > 0
            && row + 1 < rows
        {
            let decimals = crate::format::axis_decimals(scale.lo, scale.hi);
            let text = super::scale::fit_label(c.close, decimals, super::scale::LABEL_WIDTH);
            let base = if c.close >= c.open {
                p.theme.up()
            } else {
                p.theme.down()
            };
            let style: Style = base.add_modifier(Modifier::REVERSED);
            axis::put_label(&mut labels, row, text, style);
        }
    }
    axis::value_axis(buf, region.gutter, &labels, p.glyphs, p.theme);
}
