//! Where things go inside the chart pane: the legend line on top, the price plot, the
//! sub-panes beneath it (volume, RSI, MACD), each with the value axis on its right; which
//! sub-panes give way when the pane is short.

use ratatui::layout::Rect;

/// Columns right of the plot: the axis line and labels of up to
/// [`LABEL_WIDTH`](super::scale::LABEL_WIDTH) characters.
pub const GUTTER: u16 = 11;
/// Below this many plot columns the axis labels are left out to give the plot the room.
const MIN_PLOT_COLS: u16 = 8;
/// The price plot keeps at least this many rows (and about half the height) before any
/// sub-pane is shown.
const MIN_PRICE_ROWS: u16 = 4;
const PRICE_SHARE: f64 = 0.4;

/// A sub-pane beneath the price.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sub {
    Volume,
    Rsi,
    Macd,
}

impl Sub {
    pub fn name(self) -> &'static str {
        match self {
            Sub::Volume => "volume",
            Sub::Rsi => "RSI",
            Sub::Macd => "MACD",
        }
    }

    /// (share of the plot height, fewest rows, most rows).
    fn size(self) -> (f64, u16, u16) {
        match self {
            Sub::Volume => (0.12, 1, 5),
            Sub::Rsi => (0.16, 2, 8),
            Sub::Macd => (0.18, 2, 8),
        }
    }
}

/// A plot and the value axis right of it (`gutter` has no width when the pane is narrow).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Region {
    pub plot: Rect,
    pub gutter: Rect,
}

impl Region {
    fn new(inner: Rect, y: u16, height: u16) -> Region {
        let g = gutter_width(inner.width);
        let plot = Rect::new(inner.x, y, inner.width - g, height);
        let gutter = Rect::new(inner.x + plot.width, y, g, height);
        Region { plot, gutter }
    }
}

/// Width of the value axis for a pane `width` columns wide inside its border.
pub fn gutter_width(width: u16) -> u16 {
    if width >= GUTTER + MIN_PLOT_COLS {
        GUTTER
    } else {
        0
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The legend line (left out below three rows).
    pub legend: Option<Rect>,
    pub price: Region,
    /// Top to bottom.
    pub subs: Vec<(Sub, Region)>,
    /// Wanted but left out for lack of height, in the order they were dropped.
    pub hidden: Vec<Sub>,
}

/// Lays out `inner` for the wanted sub-panes, in order (volume, RSI, MACD), each with whether
/// it has data to plot (a pane without its column shows a one-line note instead). When the
/// price would get too few rows, sub-panes drop from the bottom: MACD, then RSI, then volume.
pub fn plan(inner: Rect, wanted: &[(Sub, bool)]) -> Plan {
    let legend = (inner.height >= 3).then_some(Rect { height: 1, ..inner });
    let top = inner.y + u16::from(legend.is_some());
    let rows = inner.height.saturating_sub(u16::from(legend.is_some()));
    let mut subs: Vec<(Sub, bool)> = wanted.to_vec();
    let mut hidden = Vec::new();
    let heights = loop {
        let heights: Vec<u16> = subs
            .iter()
            .map(|&(sub, has_data)| {
                if !has_data {
                    return 1;
                }
                let (share, lo, hi) = sub.size();
                ((f64::from(rows) * share).round() as u16).clamp(lo, hi)
            })
            .collect();
        let used: u16 = heights.iter().sum();
        let price = rows.saturating_sub(used);
        let need = MIN_PRICE_ROWS.max((f64::from(rows) * PRICE_SHARE).ceil() as u16);
        if used <= rows && price >= need || subs.is_empty() {
            break heights;
        }
        if let Some((sub, _)) = subs.pop() {
            hidden.push(sub);
        }
    };
    let used: u16 = heights.iter().sum();
    let price = Region::new(inner, top, rows - used);
    let mut y = top + price.plot.height;
    let subs = subs
        .iter()
        .zip(heights)
        .map(|(&(sub, _), h)| {
            let r = Region::new(inner, y, h);
            y += h;
            (sub, r)
        })
        .collect();
    Plan {
        legend,
        price,
        subs,
        hidden,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [(Sub, bool); 3] = [(Sub::Volume, true), (Sub::Rsi, true), (Sub::Macd, true)];

    #[test]
    fn sub_panes_share_the_height_and_drop_macd_first() {
        let p = plan(Rect::new(1, 1, 76, 40), &ALL);
        assert!(p.hidden.is_empty());
        let names: Vec<Sub> = p.subs.iter().map(|(s, _)| *s).collect();
        assert_eq!(names, [Sub::Volume, Sub::Rsi, Sub::Macd]);
        assert!(p.price.plot.height >= 18, "{p:?}");
        assert_eq!(p.price.plot.width, 76 - GUTTER);
        let bottom = p.subs.last().map(|(_, r)| r.plot.bottom());
        assert_eq!(bottom, Some(41));

        // The 80x24 screen: volume and RSI fit beside four price rows; MACD does not.
        let p = plan(Rect::new(1, 1, 76, 8), &ALL);
        assert_eq!(p.hidden, [Sub::Macd]);
        assert_eq!(p.subs.len(), 2);
        assert_eq!(p.price.plot.height, 4);

        let p = plan(Rect::new(1, 1, 76, 6), &ALL);
        assert_eq!(p.hidden, [Sub::Macd, Sub::Rsi]);
        assert_eq!(p.price.plot.height, 4);

        let p = plan(Rect::new(1, 1, 76, 4), &ALL);
        assert_eq!(p.hidden, [Sub::Macd, Sub::Rsi, Sub::Volume]);
        assert_eq!(p.price.plot.height, 3);
    }

    #[test]
    fn a_pane_without_its_column_takes_one_row() {
        let p = plan(Rect::new(0, 0, 76, 20), &[(Sub::Rsi, false)]);
        assert_eq!(p.subs[0].1.plot.height, 1);
    }

    #[test]
    fn tiny_panes_keep_what_fits() {
        for h in 0..6 {
            for w in 0..30 {
                let p = plan(Rect::new(0, 0, w, h), &ALL);
                assert!(p.price.plot.width + p.price.gutter.width == w);
            }
        }
        assert_eq!(plan(Rect::new(0, 0, 10, 5), &[]).price.gutter.width, 0);
    }
}
