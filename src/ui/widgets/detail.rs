//! The detail pane of one symbol: last price, 24 h high, low, change and volume, the best bid
//! and ask with the spread (when the venue sends a book ticker), and the last trades.

use ratatui::buffer::Buffer;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use super::{empty_state, pane};
use crate::domain::{Side, TsMs};
use crate::format;
use crate::ui::theme::{Glyphs, Theme};
use crate::view::SymbolDetail;

pub struct DetailPane<'a> {
    pub detail: Option<&'a SymbolDetail>,
    pub now_ms: TsMs,
    /// A quote older than this is shown with its age, not as the current spread.
    pub stale_after_ms: i64,
    pub focused: bool,
    pub glyphs: &'a Glyphs,
    pub theme: &'a Theme,
}

impl DetailPane<'_> {
    fn figures(&self, d: &SymbolDetail) -> Vec<Line<'static>> {
        let t = self.theme;
        let opt = |v: Option<f64>, f: fn(f64) -> String| {
            v.filter(|x| x.is_finite())
                .map_or_else(|| "—".to_string(), f)
        };
        let label = |s: &str| Span::styled(format!("{s:<9}"), t.muted());
        let src = if d.from_venue {
            "24h (venue)"
        } else {
            "24h (from candles)"
        };
        let mut lines = vec![
            Line::from(vec![
                label("last"),
                Span::styled(opt(d.last, format::price), t.title()),
                Span::raw("  "),
                Span::styled(
                    opt(d.change_pct, format::pct),
                    d.change_pct.map(|v| t.signed(v)).unwrap_or_default(),
                ),
            ]),
            Line::from(vec![
                label("high"),
                Span::raw(opt(d.high_24h, format::price)),
            ]),
            Line::from(vec![label("low"), Span::raw(opt(d.low_24h, format::price))]),
            Line::from(vec![
                label("volume"),
                Span::raw(opt(d.volume_24h, format::compact)),
            ]),
            Line::styled(format!("{:<9}{src}", ""), t.muted()),
        ];
        match d.quote {
            Some((q, at)) => {
                let spread = q.ask - q.bid;
                let mid = (q.ask + q.bid) / 2.0;
                let bps = if mid > 0.0 {
                    spread / mid * 10_000.0
                } else {
                    f64::NAN
                };
                let age = self.now_ms - at;
                let mut spans = vec![
                    label("bid/ask"),
                    Span::styled(format::price(q.bid), t.up()),
                    Span::raw(" / "),
                    Span::styled(format::price(q.ask), t.down()),
                ];
                if age > self.stale_after_ms {
                    spans.push(Span::styled(
                        format!(" ({} old)", format::age(age)),
                        t.warn(),
                    ));
                }
                lines.push(Line::from(spans));
                lines.push(Line::from(vec![
                    label("spread"),
                    Span::raw(format!("{} ({bps:.1} bp)", format::price(spread))),
                ]));
                lines.push(Line::from(vec![
                    label("size"),
                    Span::raw(format!(
                        "{} / {}",
                        format::compact(q.bid_qty),
                        format::compact(q.ask_qty)
                    )),
                ]));
            }
            None => lines.push(Line::from(vec![
                label("spread"),
                Span::styled("no book ticker from this venue", t.muted()),
            ])),
        }
        lines
    }

    fn trades(&self, d: &SymbolDetail, rows: usize) -> Vec<Line<'static>> {
        let t = self.theme;
        let mut lines = vec![Line::styled(
            format!("{:<9}{:>14}{:>10} side", "time", "price", "qty"),
            t.header(),
        )];
        if d.trades.is_empty() {
            lines.push(Line::styled("no trades yet", t.muted()));
        }
        for tr in d.trades.iter().take(rows.saturating_sub(1)) {
            let style = match tr.side {
                Side::Buy => t.up(),
                Side::Sell => t.down(),
                Side::Unknown => t.muted(),
            };
            lines.push(Line::from(vec![
                Span::styled(format!("{:<9}", format::hms(tr.ts_ms)), t.muted()),
                Span::styled(format!("{:>14}", format::price(tr.price)), style),
                Span::raw(format!("{:>10}", format::qty(tr.qty))),
                Span::styled(format!(" {}", tr.side.as_str()), style),
            ]));
        }
        lines
    }
}

impl Widget for &DetailPane<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let title = match self.detail {
            Some(d) => format!(" {} detail ", d.key),
            None => " Detail ".to_string(),
        };
        let block = pane(
            Line::styled(title, self.theme.title()),
            self.focused,
            self.glyphs,
            self.theme,
        );
        let inner = block.inner(area);
        block.render(area, buf);
        let Some(d) = self.detail else {
            return empty_state("no data for this symbol yet", inner, buf, self.theme);
        };
        let figures = self.figures(d);
        // side by side when there is room for both columns, else figures above trades
        if inner.width >= 84 {
            let [a, b] =
                Layout::horizontal([Constraint::Length(40), Constraint::Fill(1)]).areas(inner);
            Paragraph::new(figures).render(a, buf);
            Paragraph::new(self.trades(d, usize::from(b.height))).render(b, buf);
        } else {
            let h = (figures.len() as u16).min(inner.height);
            let [a, b] =
                Layout::vertical([Constraint::Length(h), Constraint::Fill(1)]).areas(inner);
            Paragraph::new(figures).render(a, buf);
            Paragraph::new(self.trades(d, usize::from(b.height))).render(b, buf);
        }
    }
}
