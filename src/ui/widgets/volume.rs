//! The volume strip under the chart: one bar per column, aligned with the chart's plot area,
//! green when the candle closed at or above its open, red below.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::widgets::Widget;

use crate::format;
use crate::ui::theme::{Glyphs, Theme};
use crate::view::ChartCandle;

pub struct VolumeStrip<'a> {
    pub candles: &'a [ChartCandle],
    /// Columns left of the plot (the chart's y labels and axis), used for the volume label.
    pub left: u16,
    pub glyphs: &'a Glyphs,
    pub theme: &'a Theme,
}

/// The candles that land in column `col` of `width` columns: several per column when there are
/// more candles than columns, one repeated when there are fewer.
fn span_of(col: usize, width: usize, n: usize) -> std::ops::Range<usize> {
    let start = (col * n / width).min(n.saturating_sub(1));
    let end = ((col + 1) * n / width).clamp(start + 1, n);
    start..end
}

impl Widget for &VolumeStrip<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let n = self.candles.len();
        if area.is_empty() || n == 0 || self.left >= area.width {
            return;
        }
        let vol = |c: &ChartCandle| {
            let v = c.candle.volume;
            if v.is_finite() && v > 0.0 { v } else { 0.0 }
        };
        let max = self.candles.iter().map(vol).fold(0.0, f64::max);
        // The longest label that fits left of the plot: "vol 12.3k", "12.3k", "vol" or nothing.
        let scale = format::compact(max);
        let label = [format!("vol {scale}"), scale, "vol".to_string()]
            .into_iter()
            .find(|l| l.chars().count() < usize::from(self.left));
        if let Some(label) = label {
            buf.set_string(area.x, area.y, &label, self.theme.muted());
        }
        if max <= 0.0 {
            return;
        }
        let width = (area.width - self.left) as usize;
        let eighths_total = f64::from(area.height) * 8.0;
        for col in 0..width {
            let span = span_of(col, width, n);
            let Some(top) = self.candles[span.clone()]
                .iter()
                .max_by(|a, b| vol(a).total_cmp(&vol(b)))
            else {
                continue;
            };
            let style = if top.candle.close >= top.candle.open {
                self.theme.up()
            } else {
                self.theme.down()
            };
            let mut eighths = ((vol(top) / max) * eighths_total).round() as u16;
            let x = area.x + self.left + col as u16;
            for row in (0..area.height).rev() {
                if eighths == 0 {
                    break;
                }
                let level = eighths.min(8);
                buf.set_string(
                    x,
                    area.y + row,
                    self.glyphs.bars[usize::from(level) - 1],
                    style,
                );
                eighths -= level;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_cover_every_candle_once_or_repeat_it() {
        assert_eq!(span_of(0, 10, 100), 0..10);
        assert_eq!(span_of(9, 10, 100), 90..100);
        assert_eq!(span_of(0, 10, 3), 0..1);
        assert_eq!(span_of(9, 10, 3), 2..3);
        assert_eq!(span_of(5, 10, 1), 0..1);
    }
}
