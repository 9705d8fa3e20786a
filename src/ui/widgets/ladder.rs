//! The ladder: one symbol's order book as a price ladder (asks above, bids below, the best of
//! each meeting at the spread), each level's size with a bar of the cumulative size up to it;
//! a header with the spread (absolute and in basis points), mid, microprice and the imbalance
//! of the top levels; a cursor over the levels that says the cumulative size to it and its
//! distance from the mid; a depth chart (cumulative size either side of the mid) and a trade
//! tape with large trades marked, where the screen has room. A book that is not in sync with
//! the venue is never drawn as if it were: its levels are hidden and the reason shown.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use super::{empty_state, pane};
use crate::domain::{BookSnapshot, BookSync, Level, Side, TsMs, VenueSymbol, group_levels};
use crate::format;
use crate::ui::theme::{Glyphs, Theme};
use crate::view::RecentTrade;

/// Levels the imbalance is taken over.
pub const IMBALANCE_LEVELS: usize = 10;
/// Grouping steps: the book's own tick times these.
pub const GROUP_STEPS: [f64; 10] = [1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0];
/// A trade this many times the tape's median size is marked large.
const LARGE_TRADE: f64 = 5.0;

pub struct LadderPane<'a> {
    pub key: Option<VenueSymbol>,
    pub book: Option<&'a BookSnapshot>,
    pub trades: &'a [RecentTrade],
    /// 0 = best bid, 1 = the next bid...; −1 = best ask, −2 the next ask...
    pub cursor: i32,
    /// Index into [`GROUP_STEPS`].
    pub group: usize,
    pub now_ms: TsMs,
    pub glyphs: &'a Glyphs,
    pub theme: &'a Theme,
}

/// The smallest gap between neighbouring prices of the book: its tick, as far as it shows.
pub fn book_tick(b: &BookSnapshot) -> f64 {
    let gaps = |side: &[Level]| {
        side.windows(2)
            .map(|w| (w[0].price - w[1].price).abs())
            .filter(|g| *g > 0.0)
            .fold(f64::INFINITY, f64::min)
    };
    let t = gaps(&b.bids).min(gaps(&b.asks));
    if t.is_finite() { t } else { 0.0 }
}

/// Decimals that show the book's prices and its tick exactly (a 0.5 tick at 43 210: 2).
fn book_decimals(b: &BookSnapshot, tick: f64) -> usize {
    let mut d = format::price_decimals(b.mid().unwrap_or(0.0));
    while d < 12
        && tick > 0.0
        && ((tick * 10f64.powi(d as i32)).round() - tick * 10f64.powi(d as i32)).abs() > 1e-6
    {
        d += 1;
    }
    d
}

/// The book's levels in the ladder's price steps, grouped once a frame.
struct Grouped {
    asks: Vec<Level>,
    bids: Vec<Level>,
}

impl LadderPane<'_> {
    /// The grouping multiple of the book's tick.
    fn step(&self) -> f64 {
        GROUP_STEPS[self.group.min(GROUP_STEPS.len() - 1)]
    }

    fn title(&self) -> Line<'static> {
        let t = self.theme;
        let name = self
            .key
            .map(|k| format!(" Book {} · {} ", k.symbol, k.venue))
            .unwrap_or_else(|| " Book ".into());
        let mut spans = vec![Span::styled(name, t.title())];
        if let Some(b) = self.book {
            let (text, style) = match &b.sync {
                BookSync::Synced => ("in sync".to_string(), t.up()),
                BookSync::Resyncing { why } => (format!("RESYNCING: {why}"), t.bad()),
                BookSync::Stale => ("STALE: the feed went quiet".to_string(), t.bad()),
            };
            spans.push(Span::styled(format!("{text} "), style));
            if b.gaps + b.checksum_failures + b.resyncs > 0 {
                spans.push(Span::styled(
                    format!(
                        "gaps {} · checksum failed {} · resyncs {} ",
                        b.gaps, b.checksum_failures, b.resyncs
                    ),
                    t.warn(),
                ));
            }
        }
        Line::from(spans)
    }

    /// Spread, mid, microprice, imbalance and grouping.
    fn figures(&self, b: &BookSnapshot, tick: f64) -> Line<'static> {
        let t = self.theme;
        let label = |s: &str| Span::styled(format!("{s} "), t.muted());
        let d = book_decimals(b, tick);
        let num = |v: Option<f64>| v.map_or_else(|| "—".into(), |v| format::price_with(v, d));
        let mut spans = vec![
            label("spread"),
            Span::raw(num(b.spread())),
            Span::raw(format!(
                " ({}bp) ",
                b.spread_bps()
                    .map_or_else(|| "—".into(), |v| format!("{v:.2}"))
            )),
            label("mid"),
            Span::raw(format!("{} ", num(b.mid()))),
            label("micro"),
            Span::raw(format!("{} ", num(b.microprice()))),
            label(&format!("imb{IMBALANCE_LEVELS}")),
        ];
        match b.imbalance(IMBALANCE_LEVELS) {
            Some(v) => spans.push(Span::styled(format!("{v:+.2} "), t.signed(v))),
            None => spans.push(Span::raw("— ")),
        }
        let step = self.step();
        spans.push(label("tick"));
        spans.push(Span::raw(if step > 1.0 {
            format!("{}×{step}", format::price_with(tick * step, d))
        } else {
            format::price_with(tick, d)
        }));
        Line::from(spans)
    }

    /// The ladder rows: asks (farthest first) down to the best ask, then bids from the best.
    fn ladder(&self, b: &BookSnapshot, g: &Grouped, tick: f64, area: Rect, buf: &mut Buffer) {
        let t = self.theme;
        let step = self.step();
        let (asks, bids) = (&g.asks, &g.bids);
        let rows = usize::from(area.height.saturating_sub(1));
        let (n_ask, n_bid) = (rows / 2, rows - rows / 2);
        let cum = |side: &[Level], n: usize| {
            side.iter()
                .take(n)
                .scan(0.0, |acc, l| {
                    *acc += l.qty;
                    Some(*acc)
                })
                .collect::<Vec<f64>>()
        };
        let (ca, cb) = (cum(asks, n_ask), cum(bids, n_bid));
        let max = ca
            .last()
            .copied()
            .unwrap_or(0.0)
            .max(cb.last().copied().unwrap_or(0.0));
        let d = book_decimals(b, tick * step);
        let w = usize::from(area.width);
        // price in the middle, size either side, a cumulative bar on the outside
        let col = ((w.saturating_sub(14)) / 2).max(8);
        // one column kept free between the bars and whatever is beside the ladder
        let bar_w = col.saturating_sub(12);
        let bar = |c: f64| {
            let n = if max > 0.0 {
                ((c / max) * bar_w as f64).round() as usize
            } else {
                0
            };
            self.glyphs.bars[7].repeat(n.min(bar_w))
        };
        let mut lines: Vec<Line> = vec![Line::styled(
            format!("{:>col$}{:^14}{:<col$}", "bid size", "price", "ask size"),
            t.header(),
        )];
        let shown_ask = ca.len();
        for i in (0..shown_ask).rev() {
            let l = asks[i];
            let here = self.cursor == -(i as i32) - 1;
            let style = if here { t.selected(true) } else { t.down() };
            lines.push(Line::from(vec![
                Span::raw(format!("{:>col$}", "")),
                Span::styled(format!("{:^14}", format::price_with(l.price, d)), style),
                Span::styled(format!("{:<10} ", format::compact(l.qty)), t.down()),
                Span::styled(bar(ca[i]), t.down()),
            ]));
        }
        for (i, l) in bids.iter().take(cb.len()).enumerate() {
            let here = self.cursor == i as i32;
            let style = if here { t.selected(true) } else { t.up() };
            let b = bar(cb[i]);
            let pad = col.saturating_sub(11 + b.chars().count());
            lines.push(Line::from(vec![
                Span::raw(" ".repeat(pad)),
                Span::styled(b, t.up()),
                Span::styled(format!(" {:>10}", format::compact(l.qty)), t.up()),
                Span::styled(format!("{:^14}", format::price_with(l.price, d)), style),
            ]));
        }
        Paragraph::new(lines).render(area, buf);
    }

    /// What the cursor's level says: its cumulative size and its distance from the mid.
    fn cursor_line(&self, b: &BookSnapshot, g: &Grouped, tick: f64) -> Line<'static> {
        let t = self.theme;
        let (side, idx) = if self.cursor < 0 {
            (&g.asks, (-self.cursor - 1) as usize)
        } else {
            (&g.bids, self.cursor as usize)
        };
        let (Some(l), Some(mid)) = (side.get(idx), b.mid()) else {
            return Line::styled("Up/Down move the cursor over the levels", t.muted());
        };
        let cum: f64 = side.iter().take(idx + 1).map(|l| l.qty).sum();
        let dist = l.price - mid;
        let d = book_decimals(b, tick);
        Line::from(vec![
            Span::styled("cursor ", t.muted()),
            Span::styled(format::price_with(l.price, d), t.accent()),
            Span::raw(format!(
                "  cum {} {}  {}{} from mid ({:+.1} bp)",
                if self.cursor < 0 { "ask" } else { "bid" },
                format::compact(cum),
                if dist >= 0.0 { "+" } else { "" },
                format::price_with(dist, d),
                dist / mid * 1e4
            )),
        ])
    }

    /// Cumulative size either side of the mid, bids left, asks right.
    fn depth_chart(&self, b: &BookSnapshot, area: Rect, buf: &mut Buffer) {
        let (Some(mid), Some(lo), Some(hi)) = (b.mid(), b.bids.last(), b.asks.last()) else {
            return;
        };
        let (w, h) = (usize::from(area.width), usize::from(area.height));
        if w < 4 || h < 2 || hi.price <= lo.price {
            return;
        }
        let cum_at = |p: f64| -> f64 {
            if p < mid {
                b.bids.iter().filter(|l| l.price >= p).map(|l| l.qty).sum()
            } else {
                b.asks.iter().filter(|l| l.price <= p).map(|l| l.qty).sum()
            }
        };
        let heights: Vec<f64> = (0..w)
            .map(|x| cum_at(lo.price + (hi.price - lo.price) * x as f64 / (w - 1) as f64))
            .collect();
        let max = heights.iter().copied().fold(0.0, f64::max);
        if max <= 0.0 {
            return;
        }
        for (x, v) in heights.iter().enumerate() {
            let p = lo.price + (hi.price - lo.price) * x as f64 / (w - 1) as f64;
            let style: Style = if p < mid {
                self.theme.up()
            } else {
                self.theme.down()
            };
            let eighths = (v / max * (h * 8) as f64).round() as usize;
            for row in 0..h {
                let fill = eighths.saturating_sub(row * 8).min(8);
                if fill == 0 {
                    break;
                }
                let y = area.y + area.height - 1 - row as u16;
                let glyph = self.glyphs.bars[fill - 1];
                buf[(area.x + x as u16, y)]
                    .set_symbol(glyph)
                    .set_style(style);
            }
        }
    }

    fn large_mark(&self) -> &'static str {
        if self.glyphs.kind == crate::ui::theme::GlyphKind::Ascii {
            " *"
        } else {
            " ◆"
        }
    }

    /// The last trades, newest first, large ones marked.
    fn tape(&self, area: Rect, buf: &mut Buffer) {
        let t = self.theme;
        let mut sizes: Vec<f64> = self.trades.iter().map(|t| t.qty).collect();
        sizes.sort_by(f64::total_cmp);
        let median = sizes.get(sizes.len() / 2).copied().unwrap_or(0.0);
        let mut lines = vec![Line::styled("trades", t.header())];
        // newest first, as the engine keeps them
        for tr in self.trades.iter().take(usize::from(area.height)) {
            let large = median > 0.0 && tr.qty >= LARGE_TRADE * median;
            let style = match tr.side {
                Side::Buy => t.up(),
                Side::Sell => t.down(),
                Side::Unknown => Style::default(),
            };
            let style = if large {
                style.add_modifier(ratatui::style::Modifier::BOLD)
            } else {
                style
            };
            lines.push(Line::from(vec![
                Span::styled(
                    format!("{:>4} ", format::age((self.now_ms - tr.ts_ms).max(0))),
                    t.muted(),
                ),
                Span::styled(format!("{:>10} ", format::price(tr.price)), style),
                Span::styled(format!("{:>8}", format::compact(tr.qty)), style),
                Span::styled(if large { self.large_mark() } else { "" }, t.warn()),
            ]));
        }
        Paragraph::new(lines).render(area, buf);
    }
}

impl Widget for &LadderPane<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let block = pane(self.title(), true, self.glyphs, self.theme);
        let inner = block.inner(area);
        block.render(area, buf);
        let Some(b) = self.book else {
            let name = self.key.map(|k| k.to_string()).unwrap_or_default();
            empty_state(
                &format!(
                    "no order book for {name}: depth is off for its source, or the venue has no public book (see the README, Order books)"
                ),
                inner,
                buf,
                self.theme,
            );
            return;
        };
        let [head, middle, foot] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Fill(1),
            Constraint::Length(1),
        ])
        .areas(inner);
        let tape_w = if inner.width >= 110 {
            32
        } else if inner.width >= 78 {
            28
        } else {
            0
        };
        let [body, tape] =
            Layout::horizontal([Constraint::Fill(1), Constraint::Length(tape_w)]).areas(middle);
        if tape_w > 0 {
            self.tape(tape, buf);
        }
        if !b.is_synced() {
            let why = match &b.sync {
                BookSync::Resyncing { why } => why.clone(),
                _ => "its feed went quiet".into(),
            };
            empty_state(
                &format!(
                    "the local book is not in sync ({why}); its levels are hidden until a fresh snapshot is applied"
                ),
                body,
                buf,
                self.theme,
            );
            return;
        }
        let tick = book_tick(b);
        let g = Grouped {
            asks: group_levels(&b.asks, tick * self.step(), false),
            bids: group_levels(&b.bids, tick * self.step(), true),
        };
        Paragraph::new(self.figures(b, tick)).render(head, buf);
        let depth_h = if body.height >= 30 {
            body.height / 3
        } else {
            0
        };
        let [ladder, depth] =
            Layout::vertical([Constraint::Fill(1), Constraint::Length(depth_h)]).areas(body);
        self.ladder(b, &g, tick, ladder, buf);
        if depth_h > 0 {
            self.depth_chart(b, depth, buf);
        }
        Paragraph::new(self.cursor_line(b, &g, tick)).render(foot, buf);
    }
}
