//! The price chart of the focused symbol: a braille line of closes with SMA, EMA and Bollinger
//! overlays, scaled on the candles' own range, and the volume strip beneath it.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Chart, Dataset, GraphType, Widget};

use super::volume::VolumeStrip;
use super::{empty_state, pane};
use crate::format;
use crate::ui::theme::{Glyphs, Theme};
use crate::view::{ChartCandle, ChartView};

/// Kinds of price overlay, in drawing order: bands first so the averages and the price are
/// drawn on top of them. (legend, colour)
pub const OVERLAY_KINDS: [(&str, Color); 4] = [
    ("Bollinger", Theme::DARK.bband),
    ("Bollinger mid", Theme::DARK.bbmid),
    ("SMA", Theme::DARK.sma),
    ("EMA", Theme::DARK.ema),
];

/// How an indicator column is drawn over the price: (kind index in [`OVERLAY_KINDS`], legend
/// label), or None for columns on another scale (RSI, MACD, z-scores).
pub fn overlay_of(column: &str) -> Option<(usize, String)> {
    let numbered = |prefix: &str| {
        column
            .strip_prefix(prefix)
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    };
    if numbered("sma") {
        return Some((2, column.to_ascii_uppercase()));
    }
    if numbered("ema") {
        return Some((3, column.to_ascii_uppercase()));
    }
    let band = column.strip_prefix("bb")?;
    for (suffix, kind) in [("_upper", 0), ("_lower", 0), ("_mid", 1)] {
        if let Some(params) = band.strip_suffix(suffix) {
            return Some((kind, format!("BB{params}")));
        }
    }
    None
}

pub struct ChartPane<'a> {
    pub chart: Option<&'a ChartView>,
    pub focused: bool,
    /// What to say when there is nothing to draw ("no candles yet for BTCUSDT 1m").
    pub empty: &'a str,
    pub glyphs: &'a Glyphs,
    pub theme: &'a Theme,
}

/// The vertical scale of the chart: from the lowest low to the highest high, never widened by an
/// indicator (overlay points outside it are clipped).
#[derive(Debug, Clone, PartialEq)]
pub struct PriceScale {
    pub lo: f64,
    pub hi: f64,
    /// Evenly spaced from `lo` to `hi`.
    pub labels: Vec<String>,
}

impl PriceScale {
    /// None when no candle has a finite range. `ticks` labels (at least 2) span the scale.
    pub fn of(candles: &[ChartCandle], ticks: usize) -> Option<PriceScale> {
        let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
        for c in candles {
            for v in [c.candle.low, c.candle.high, c.candle.close] {
                if v.is_finite() {
                    lo = lo.min(v);
                    hi = hi.max(v);
                }
            }
        }
        if !(lo.is_finite() && hi.is_finite()) {
            return None;
        }
        if hi <= lo {
            // A flat market still needs a non-empty scale; centre the line.
            let pad = (lo.abs() * 1e-3).max(1e-12);
            lo -= pad;
            hi += pad;
        }
        let d = format::axis_decimals(lo, hi);
        let steps = ticks.max(2) - 1;
        let labels = (0..=steps)
            .map(|i| format::price_with(lo + (hi - lo) * i as f64 / steps as f64, d))
            .collect();
        Some(PriceScale { lo, hi, labels })
    }
}

/// Points of one connected line on the chart, (candle index, value).
type Polyline = Vec<(f64, f64)>;

/// Splits a series into runs of defined values (warm-up gaps must not be bridged by a line).
fn runs(series: &[Option<f64>]) -> Vec<Polyline> {
    let mut out = Vec::new();
    let mut cur: Polyline = Vec::new();
    for (i, v) in series.iter().enumerate() {
        match v.filter(|x| x.is_finite()) {
            Some(y) => cur.push((i as f64, y)),
            None if !cur.is_empty() => out.push(std::mem::take(&mut cur)),
            None => {}
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

impl Widget for &ChartPane<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let block = pane(self.title(), self.focused, self.glyphs, self.theme);
        let inner = block.inner(area);
        block.render(area, buf);
        let Some(chart) = self.chart.filter(|c| !c.candles.is_empty()) else {
            return empty_state(self.empty, inner, buf, self.theme);
        };
        if inner.width < 12 || inner.height < 3 {
            return;
        }
        let vol_h = match inner.height {
            0..=5 => 0,
            6..=9 => 1,
            10..=15 => 2,
            _ => 3,
        };
        let [price_area, vol_area] =
            Layout::vertical([Constraint::Fill(1), Constraint::Length(vol_h)]).areas(inner);
        // About one price label per four rows of plot, three at least.
        let ticks = usize::from(price_area.height / 4).clamp(3, 9);
        let Some(scale) = PriceScale::of(&chart.candles, ticks) else {
            return empty_state(self.empty, inner, buf, self.theme);
        };

        let closes: Vec<Option<f64>> = chart.candles.iter().map(|c| Some(c.candle.close)).collect();
        let close_runs = runs(&closes);
        let mut overlays: Vec<(usize, Vec<Polyline>)> = chart
            .columns
            .iter()
            .filter_map(|col| {
                let (kind, _) = overlay_of(col)?;
                Some((kind, runs(&chart.series(col)?)))
            })
            .collect();
        overlays.sort_by_key(|(kind, _)| *kind);
        let mut datasets = Vec::new();
        for (kind, parts) in &overlays {
            for part in parts {
                datasets.push(self.dataset(part, OVERLAY_KINDS[*kind].1));
            }
        }
        for part in &close_runs {
            datasets.push(self.dataset(part, self.theme.close));
        }

        let n = chart.candles.len();
        let first = format::candle_time(chart.candles[0].candle.open_ms, chart.interval);
        let last = format::candle_time(chart.candles[n - 1].candle.open_ms, chart.interval);
        let label_w = scale.labels.iter().map(|l| l.len()).max().unwrap_or(0) as u16;
        // Where the plot starts, as ratatui's Chart lays it out, so the volume bars line up.
        let plot_left = label_w
            .max((first.len() as u16).saturating_sub(1))
            .min(price_area.width / 3)
            + 1;
        let x_axis = Axis::default()
            .style(self.theme.muted())
            .bounds([0.0, (n.saturating_sub(1)).max(1) as f64])
            .labels([first, last]);
        let y_axis = Axis::default()
            .style(self.theme.muted())
            .bounds([scale.lo, scale.hi])
            .labels(scale.labels);
        Chart::new(datasets)
            .x_axis(x_axis)
            .y_axis(y_axis)
            .render(price_area, buf);

        let strip = VolumeStrip {
            candles: &chart.candles,
            left: plot_left,
            glyphs: self.glyphs,
            theme: self.theme,
        };
        strip.render(vol_area, buf);
    }
}

impl<'a> ChartPane<'a> {
    fn dataset(&self, points: &'a [(f64, f64)], color: Color) -> Dataset<'a> {
        // A lone point has no segment to draw; show it as a dot instead of nothing.
        let kind = if points.len() == 1 {
            GraphType::Scatter
        } else {
            GraphType::Line
        };
        Dataset::default()
            .marker(self.glyphs.marker)
            .graph_type(kind)
            .style(Style::new().fg(color))
            .data(points)
    }

    fn title(&self) -> Line<'static> {
        let Some(chart) = self.chart else {
            return Line::styled(" Chart ", self.theme.title());
        };
        let mut spans = vec![Span::styled(
            format!(" {} {} ", chart.key, chart.interval),
            self.theme.title(),
        )];
        if let Some(c) = chart.candles.last() {
            spans.push(Span::raw(format!("{} ", format::price(c.candle.close))));
        }
        spans.push(Span::styled("close ", Style::new().fg(self.theme.close)));
        let mut shown: Vec<String> = Vec::new();
        for (kind, label) in chart.columns.iter().filter_map(|c| overlay_of(c)) {
            if !shown.contains(&label) {
                // A band's legend takes the band colour, not its middle line's.
                let color = OVERLAY_KINDS[if kind == 1 { 0 } else { kind }].1;
                spans.push(Span::styled(format!("{label} "), Style::new().fg(color)));
                shown.push(label);
            }
        }
        Line::from(spans)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlays_are_recognised_by_column_name() {
        assert_eq!(overlay_of("sma50"), Some((2, "SMA50".into())));
        assert_eq!(overlay_of("ema20"), Some((3, "EMA20".into())));
        assert_eq!(overlay_of("bb20_2.5_upper"), Some((0, "BB20_2.5".into())));
        assert_eq!(overlay_of("bb20_mid"), Some((1, "BB20".into())));
        for other in ["rsi14", "macd12_26_9", "z100", "sma", "smax"] {
            assert_eq!(overlay_of(other), None, "{other}");
        }
    }

    #[test]
    fn runs_break_at_gaps() {
        let r = runs(&[None, Some(1.0), Some(2.0), None, Some(f64::NAN), Some(3.0)]);
        assert_eq!(r, vec![vec![(1.0, 1.0), (2.0, 2.0)], vec![(5.0, 3.0)]]);
    }
}
