//! The price chart of the focused symbol, as traders know it: candles (or a line, or an area)
//! on a time axis, SMA/EMA/Bollinger overlays, volume, RSI and MACD sub-panes, value axes on
//! the right, times along the bottom border, and a legend with the values under the cursor.
//! A pure view: it reads the candles and options and draws; nothing else.

mod axis;
mod candles;
mod columns;
mod cursor;
mod layout;
mod legend;
mod marks;
mod panes;
mod price;
mod raster;
mod scale;
mod window;

#[cfg(test)]
mod tests;

use std::borrow::Cow;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Block, Widget};

pub use columns::{OVERLAY_KINDS, overlay_of};
pub use scale::PriceScale;

use self::layout::{Region, Sub};
use self::legend::{LogState, TitleParts};
use self::window::XMap;
use super::{empty_state, pane};
use crate::domain::TsMs;
use crate::history::bucket_ms_for;
use crate::ui::chart_opts::ChartOpts;
use crate::ui::theme::{Glyphs, Theme};
use crate::view::{ChartCandle, ChartView};

/// The widest window the chart lays out (a guard against overflow with absurd times).
const MAX_SPAN_MS: TsMs = 500 * 366 * 86_400_000;

pub struct ChartPane<'a> {
    /// Candles of the visible window, ascending by open time, possibly far more than there are
    /// columns (a month of 1m) or fewer (zoomed in); history buckets from the database and live
    /// candles from the engine already merged (see [`crate::history::bucketize`]).
    pub chart: Option<&'a ChartView>,
    /// The visible time range `[from_ms, to_ms)`: the x axis. Data may cover only part of it
    /// (history not stored that far back): the empty part stays empty.
    pub from_ms: TsMs,
    pub to_ms: TsMs,
    /// Mode, overlays, sub-panes, log scale, cursor.
    pub opts: &'a ChartOpts,
    pub focused: bool,
    /// What to say when there is nothing to draw ("no candles yet for BTCUSDT 1m").
    pub empty: &'a str,
    /// Extra title text from the app, e.g. "4h · loading history…".
    pub caption: &'a str,
    /// Less important title text after the caption ("(8 ms)", the history's load time), the
    /// first to give way when the title is too long.
    pub note: &'a str,
    /// Times a rule would have fired (the rule form's backtest): marked under the candles.
    pub marks: &'a [TsMs],
    pub glyphs: &'a Glyphs,
    pub theme: &'a Theme,
}

/// How many candle columns the price plot has when the pane gets `area` (the app asks the
/// database for that many buckets, and moves the cursor one column at a time). The options do
/// not change it today: the value axis has the same width in every mode.
pub fn plot_columns(area: Rect, _opts: &ChartOpts) -> u16 {
    let inner = area.width.saturating_sub(2);
    inner - layout::gutter_width(inner)
}

/// Everything the parts of the chart draw from: the window's candles merged into one bucket per
/// slot, and how time maps onto columns.
pub(crate) struct Plot<'a> {
    pub x: XMap,
    pub candles: Cow<'a, [ChartCandle]>,
    /// The slot of each candle.
    pub slots: Vec<usize>,
    pub columns: &'a [String],
    pub opts: &'a ChartOpts,
    pub glyphs: &'a Glyphs,
    pub theme: &'a Theme,
}

impl Plot<'_> {
    /// (slot, value) of indicator column `col` for every candle.
    pub fn series(&self, col: usize) -> impl Iterator<Item = (usize, Option<f64>)> + '_ {
        self.candles
            .iter()
            .zip(&self.slots)
            .map(move |(c, &s)| (s, c.values.get(col).copied().flatten()))
    }

    /// (slot, close) of every candle.
    pub fn closes(&self) -> impl Iterator<Item = (usize, Option<f64>)> + '_ {
        self.candles
            .iter()
            .zip(&self.slots)
            .map(|(c, &s)| (s, Some(c.candle.close)))
    }
}

/// The window to draw: the one asked for, or the candles' own span when it is empty.
fn window(from: TsMs, to: TsMs, chart: &ChartView) -> (TsMs, TsMs) {
    let (from, to) = if to > from {
        (from, to)
    } else {
        let first = chart.candles.first().map_or(from, |c| c.candle.open_ms);
        let last = chart.candles.last().map_or(from, |c| c.candle.open_ms);
        (first, last.saturating_add(chart.interval.ms()))
    };
    (from.max(to.saturating_sub(MAX_SPAN_MS)), to)
}

impl Widget for &ChartPane<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let area = area.intersection(buf.area);
        if area.is_empty() {
            return;
        }
        let inner = Block::bordered().inner(area);
        let Some(chart) = self.chart.filter(|c| !c.candles.is_empty()) else {
            let title = match self.chart {
                Some(c) => format!(" {} {} ", c.key, c.interval),
                None => " Chart ".into(),
            };
            let title = Line::styled(title, self.theme.title());
            pane(title, self.focused, self.glyphs, self.theme).render(area, buf);
            let empty = legend::shown_text(self.empty, self.glyphs);
            return empty_state(&empty, inner, buf, self.theme);
        };
        let cols = plot_columns(area, self.opts).max(1);
        let (from, to) = window(self.from_ms, self.to_ms, chart);
        let bucket_ms = bucket_ms_for(chart.interval, to.saturating_sub(from), usize::from(cols));
        let x = XMap::new(from, to, bucket_ms, cols);
        let vis = window::visible(&chart.candles, &x);
        let p = Plot {
            x,
            candles: vis.candles,
            slots: vis.slots,
            columns: &chart.columns,
            opts: self.opts,
            glyphs: self.glyphs,
            theme: self.theme,
        };
        let rsi = columns::rsi(&chart.columns);
        let macd = columns::macd(&chart.columns);
        let wanted: Vec<(Sub, bool)> = [
            (Sub::Volume, self.opts.volume, true),
            (Sub::Rsi, self.opts.rsi, rsi.is_some()),
            (Sub::Macd, self.opts.macd, macd.is_some()),
        ]
        .into_iter()
        .filter(|&(_, on, _)| on)
        .map(|(sub, _, has)| (sub, has))
        .collect();
        let plan = layout::plan(inner, &wanted);
        let scale = PriceScale::of(&p.candles, self.opts.log_scale);
        let log = match (self.opts.log_scale, scale) {
            (false, _) => LogState::Off,
            (true, Some(s)) if !s.log => LogState::Unavailable,
            (true, _) => LogState::On,
        };
        let parts = TitleParts {
            chart,
            bucket_ms,
            mode: self.opts.mode.name(),
            log,
            caption: self.caption,
            note: self.note,
            hidden: &plan.hidden,
        };
        let title = legend::title(
            &parts,
            area.width.saturating_sub(2),
            self.glyphs,
            self.theme,
        );
        pane(title, self.focused, self.glyphs, self.theme).render(area, buf);
        if inner.is_empty() {
            return;
        }
        if area.height >= 3 {
            let left = plan.price.plot.x;
            let y = area.bottom() - 1;
            axis::draw_time_axis(buf, left, y, &p.x, self.opts.cursor_ms, self.theme);
            let gutter = plan.price.gutter;
            if gutter.width >= 5 {
                buf.set_string(gutter.x + 1, y, "UTC", self.theme.muted());
            }
        }
        let Some(scale) = scale else {
            let what = if p.candles.is_empty() {
                format!(
                    "no candles from {} to {} UTC",
                    axis::utc(from, "%Y-%m-%d %H:%M"),
                    axis::utc(to, "%Y-%m-%d %H:%M")
                )
            } else {
                "no prices to draw: every value in this window is undefined".into()
            };
            return empty_state(&what, inner, buf, self.theme);
        };
        price::draw(&p, &scale, plan.price, buf);
        marks::draw(&p, &plan.price, self.marks, buf);
        let mut regions: Vec<Region> = vec![plan.price];
        for &(sub, region) in &plan.subs {
            regions.push(region);
            match sub {
                Sub::Volume => panes::volume(&p, region, buf),
                Sub::Rsi => match rsi {
                    Some(col) => panes::rsi(&p, col, region, buf),
                    None => panes::note(
                        "RSI: no rsi column; add e.g. rsi14 to [engine] indicators",
                        region,
                        self.theme.muted(),
                        buf,
                    ),
                },
                Sub::Macd => match macd {
                    Some(cols) => panes::macd(&p, cols, region, buf),
                    None => panes::note(
                        "MACD: no macd column; add macd to [engine] indicators",
                        region,
                        self.theme.muted(),
                        buf,
                    ),
                },
            }
        }
        cursor::draw(&p, &regions, buf);
        if let Some(row) = plan.legend {
            let shown: Vec<Sub> = plan.subs.iter().map(|(s, _)| *s).collect();
            let line = legend::legend(&p, &shown, row.width);
            buf.set_line(row.x, row.y, &line, row.width);
        }
    }
}
