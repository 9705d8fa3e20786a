//! The portfolio view: each position (quantity, average cost, last, value, the day's change,
//! unrealized and realized P/L, weight with an allocation bar), the cash balances, the totals,
//! and what has no price (never shown as worth zero); below them, when the pane has the room,
//! the portfolio's value over time (stored steps, then the live values since).

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Chart, Dataset, GraphType, Paragraph, Widget};

use super::{empty_state, pane};
use crate::format;
use crate::portfolio::ledger::Valuation;
use crate::portfolio::prices::Markets;
use crate::ui::app::{FolioChart, FolioStatus};
use crate::ui::theme::{Glyphs, Theme};

/// Rows the value chart needs at least (axes and a few lines of plot).
const CHART_MIN_ROWS: u16 = 7;

pub struct PortfolioPane<'a> {
    /// None: no portfolio configured; Err: the ledger does not add up (why).
    pub valuation: Option<Result<&'a Valuation, &'a str>>,
    pub markets: Option<&'a Markets>,
    pub method: &'a str,
    /// The value over time (None: not drawn).
    pub chart: Option<&'a FolioChart>,
    pub glyphs: &'a Glyphs,
    pub theme: &'a Theme,
}

/// An amount of money: cents from one unit up, a price's digits below (a coin at 0.00002853).
fn amount(v: f64) -> String {
    if v.abs() >= 1.0 || v == 0.0 {
        format!("{v:.2}")
    } else {
        format::price(v)
    }
}

fn money(v: Option<f64>) -> String {
    v.map_or("?".into(), amount)
}

fn signed(v: Option<f64>) -> String {
    match v {
        Some(v) if v >= 0.0 => format!("+{}", amount(v)),
        Some(v) => format!("-{}", amount(-v)),
        None => "?".into(),
    }
}

impl Widget for PortfolioPane<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let theme = self.theme;
        let title = Line::from(vec![Span::styled(" Portfolio ", theme.title())]);
        let block = pane(title, true, self.glyphs, theme);
        let inner = block.inner(area);
        block.render(area, buf);
        let v = match self.valuation {
            None => {
                empty_state(
                    "No portfolio: press n to add an entry, add [[portfolio.entries]] to config.toml, or run `tickwatch portfolio import FILE`",
                    inner,
                    buf,
                    theme,
                );
                return;
            }
            Some(Err(why)) => {
                Paragraph::new(format!("The portfolio does not add up: {why}"))
                    .style(theme.bad())
                    .wrap(ratatui::widgets::Wrap { trim: true })
                    .render(inner, buf);
                return;
            }
            Some(Ok(v)) => v,
        };
        let wide = inner.width >= 120;
        let mut lines: Vec<Line> = Vec::new();
        let (unreal, real) = if wide {
            ("unrealized", "realized")
        } else {
            ("unreal.", "real.")
        };
        lines.push(Line::from(vec![
            Span::styled(
                format!("value {} {}", amount(v.value), v.base),
                theme.title(),
            ),
            Span::raw(format!(
                "  P/L {}  {unreal} {}  {real} {}  {}",
                signed(Some(v.pnl())),
                signed(Some(v.unrealized)),
                signed(Some(v.realized)),
                self.method
            )),
        ]));
        let header = if wide {
            format!(
                "{:<8} {:>14} {:>12} {:>12} {:>14} {:>12} {:>13} {:>12} {:>6}  allocation",
                "asset",
                "qty",
                "avg cost",
                "last",
                "value",
                "day",
                "unrealized",
                "realized",
                "weight"
            )
        } else {
            format!(
                "{:<6} {:>10} {:>11} {:>10} {:>10} {:>6} alloc",
                "asset", "qty", "value", "day", "unreal.", "weight"
            )
        };
        lines.push(Line::styled(header, theme.muted()));
        let bar_width: usize = if wide {
            (inner.width as usize).saturating_sub(118).clamp(4, 40)
        } else {
            (inner.width as usize).saturating_sub(62).clamp(3, 20)
        };
        // the largest first; those without a value last
        let mut positions: Vec<_> = v.positions.iter().collect();
        positions.sort_by(|a, b| {
            b.value
                .unwrap_or(f64::NEG_INFINITY)
                .total_cmp(&a.value.unwrap_or(f64::NEG_INFINITY))
        });
        for p in positions {
            let qty = format!("{:.8}", p.qty);
            let qty = qty.trim_end_matches('0').trim_end_matches('.');
            let weight = p
                .weight
                .map_or(String::new(), |w| format!("{:.1}%", w * 100.0));
            let bar = p.weight.map_or(String::new(), |w| {
                let n = (w * bar_width as f64).round() as usize;
                self.glyphs.bars[7].repeat(n.min(bar_width))
            });
            let asset = format::visible(&p.asset);
            let pnl_style = match p.unrealized {
                Some(u) if u < 0.0 => theme.down(),
                Some(_) => theme.up(),
                None => theme.muted(),
            };
            let text = if wide {
                format!(
                    "{:<8} {:>14} {:>12} {:>12} {:>14} {:>12} {:>13} {:>12} {:>6}  ",
                    asset,
                    qty,
                    money(p.avg_cost),
                    money(p.last),
                    money(p.value),
                    signed(p.day_change),
                    signed(p.unrealized),
                    signed(p.realized),
                    weight
                )
            } else {
                format!(
                    "{:<6} {:>10} {:>11} {:>10} {:>10} {:>6} ",
                    asset,
                    qty,
                    money(p.value),
                    signed(p.day_change),
                    signed(p.unrealized),
                    weight
                )
            };
            lines.push(Line::from(vec![
                Span::styled(text, pnl_style),
                Span::styled(bar, theme.accent()),
            ]));
        }
        for c in &v.cash {
            let note = if c.balance < 0.0 {
                "  paid in from outside the ledger"
            } else {
                ""
            };
            lines.push(Line::styled(
                format!(
                    "cash {} {}{note}",
                    format::visible(&c.currency),
                    amount(c.balance)
                ),
                theme.muted(),
            ));
        }
        for m in &v.missing {
            let how = match self.markets.and_then(|mk| mk.of(m)) {
                Some((key, _)) => format!("no live price from {key}: add it to the watchlist (a)"),
                None => format!("no market gives its price: set [portfolio].prices.{m}"),
            };
            lines.push(Line::styled(
                format!("{}: {how}; left out of the totals", format::visible(m)),
                theme.warn(),
            ));
        }
        let table_rows = lines.len() as u16;
        let room = inner.height.saturating_sub(table_rows + 1);
        let (table, chart) = match self.chart {
            Some(c) if room >= CHART_MIN_ROWS => {
                let top = Rect {
                    height: table_rows,
                    ..inner
                };
                let bottom = Rect {
                    y: inner.y + table_rows + 1,
                    height: room,
                    ..inner
                };
                (top, Some((c, bottom)))
            }
            _ => (inner, None),
        };
        Paragraph::new(lines)
            .style(Style::default())
            .render(table, buf);
        if let Some((c, area)) = chart {
            value_chart(c, v, area, buf, self.glyphs, theme);
        }
    }
}

/// A span of time, rounded to days from two days up, to hours from two hours: `30d`, `4h`.
fn span_text(ms: i64) -> String {
    let (h, d) = (3_600_000, 86_400_000);
    if ms >= 2 * d {
        format!("{}d", (ms + d / 2) / d)
    } else if ms >= 2 * h {
        format!("{}h", (ms + h / 2) / h)
    } else {
        crate::alerts::rules::format_duration(ms.max(60_000) / 60_000 * 60_000)
    }
}

/// The value over the window: the stored steps that had every price, then the live values.
fn value_chart(
    c: &FolioChart,
    now: &Valuation,
    area: Rect,
    buf: &mut Buffer,
    glyphs: &Glyphs,
    theme: &Theme,
) {
    let (from, to, step) = c.window;
    let stored: Vec<(f64, f64)> = c
        .points
        .iter()
        .filter(|p| p.whole && p.ts_ms >= from)
        .map(|p| ((p.ts_ms - from) as f64, p.value))
        .collect();
    let holes = c.points.iter().filter(|p| !p.whole).count();
    let live: Vec<(f64, f64)> = c
        .live
        .iter()
        .filter(|(t, _)| *t >= from)
        .map(|(t, v)| ((t - from) as f64, *v))
        .collect();
    let all = stored.iter().chain(live.iter());
    let (lo, hi) = all.fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), p| {
        (l.min(p.1), h.max(p.1))
    });
    let mut title = format!(
        "value, last {} in {} steps",
        span_text(to - from),
        crate::alerts::rules::format_duration(step)
    );
    if hi.is_finite() && hi > 0.0 {
        title.push_str(&format!(" · range high {} {}", amount(hi), now.base));
        // a value now that leaves a holding out is no distance from the high
        if now.value_whole() {
            let dd = (now.value / hi - 1.0) * 100.0;
            title.push_str(&format!(" ({dd:+.1}% now)"));
        }
    }
    let status = match &c.status {
        FolioStatus::NoDatabase => " · no database: live values only".to_string(),
        FolioStatus::Loading => " · loading stored prices…".to_string(),
        FolioStatus::Loaded { .. } if stored.is_empty() => {
            " · no stored prices in this range: live values only".to_string()
        }
        FolioStatus::Loaded { .. } => String::new(),
        FolioStatus::Failed(e) => format!(" · stored prices unreadable: {}", format::visible(e)),
    };
    let mut head = vec![
        Span::styled(title, theme.title()),
        Span::styled(status, theme.muted()),
    ];
    if holes > 0 {
        head.push(Span::styled(
            format!(
                " · {holes} step{} without every price left out",
                if holes == 1 { "" } else { "s" }
            ),
            theme.warn(),
        ));
    }
    Paragraph::new(Line::from(head)).render(Rect { height: 1, ..area }, buf);
    let plot = Rect {
        y: area.y + 1,
        height: area.height - 1,
        ..area
    };
    if stored.len() + live.len() < 2 {
        return empty_state("not enough values yet for a line", plot, buf, theme);
    }
    let pad = if hi > lo {
        (hi - lo) * 0.05
    } else {
        (lo.abs() * 1e-3).max(1e-9)
    };
    let mut sets = vec![
        Dataset::default()
            .marker(glyphs.marker)
            .graph_type(GraphType::Line)
            .style(theme.fg(theme.close))
            .data(&stored),
    ];
    if !live.is_empty() {
        sets.push(
            Dataset::default()
                .marker(glyphs.marker)
                .graph_type(GraphType::Line)
                .style(theme.accent())
                .data(&live),
        );
    }
    let when = |t: i64| {
        let iv = if to - from > 2 * 86_400_000 {
            crate::domain::Interval::D1
        } else {
            crate::domain::Interval::H4
        };
        format::candle_time(t, iv)
    };
    Chart::new(sets)
        .x_axis(
            Axis::default()
                .bounds([0.0, (to - from).max(1) as f64])
                .labels([Span::raw(when(from)), Span::raw(when(to))])
                .style(theme.muted()),
        )
        .y_axis(
            Axis::default()
                .bounds([lo - pad, hi + pad])
                .labels([Span::raw(amount(lo)), Span::raw(amount(hi))])
                .style(theme.muted()),
        )
        .render(plot, buf);
}

/// The ledger tab: every entry, newest first, with the cursor's line reversed.
pub struct LedgerPane<'a> {
    pub entries: Vec<&'a crate::portfolio::Entry>,
    pub cursor: usize,
    pub glyphs: &'a Glyphs,
    pub theme: &'a Theme,
}

impl Widget for LedgerPane<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let theme = self.theme;
        let title = Line::from(vec![
            Span::styled(" Portfolio ledger ", theme.title()),
            Span::styled(
                format!(
                    "{} entr{} · n add · e edit · d delete · Tab positions ",
                    self.entries.len(),
                    if self.entries.len() == 1 { "y" } else { "ies" }
                ),
                theme.muted(),
            ),
        ]);
        let block = pane(title, true, self.glyphs, theme);
        let inner = block.inner(area);
        block.render(area, buf);
        if self.entries.is_empty() {
            empty_state(
                "No entries yet: n adds one (a buy, a sell, a deposit or a withdrawal)",
                inner,
                buf,
                theme,
            );
            return;
        }
        let wide = inner.width >= 120;
        let header = if wide {
            format!(
                "{:<20} {:<10} {:>14} {:<8} {:>14} {:<6} {:>10} {:<6} {:<18} source",
                "time", "type", "qty", "asset", "price", "quote", "fee", "in", "market"
            )
        } else {
            format!(
                "{:<16} {:<5} {:>11} {:<6} {:>11} {:<5} source",
                "time", "type", "qty", "asset", "price", "quote"
            )
        };
        let rows = usize::from(inner.height.saturating_sub(1)).max(1);
        // keep the cursor in view
        let first = self.cursor.saturating_sub(rows - 1);
        let mut lines = vec![Line::styled(header, theme.muted())];
        for (i, e) in self.entries.iter().enumerate().skip(first).take(rows) {
            let num = |v: f64| {
                let t = format!("{v:.8}");
                t.trim_end_matches('0').trim_end_matches('.').to_string()
            };
            let price = e.price.map(num).unwrap_or_default();
            let quote = format::visible(e.quote.as_deref().unwrap_or(""));
            let source = format::visible(&e.source);
            let asset = format::visible(&e.asset);
            let text = if wide {
                format!(
                    "{:<20} {:<10} {:>14} {:<8} {:>14} {:<6} {:>10} {:<6} {:<18} {source}",
                    crate::domain::iso8601(e.ts_ms).get(..19).unwrap_or(""),
                    e.action.as_str(),
                    num(e.qty),
                    asset,
                    price,
                    quote,
                    if e.fee > 0.0 {
                        num(e.fee)
                    } else {
                        String::new()
                    },
                    format::visible(e.fee_asset.as_deref().unwrap_or("")),
                    e.market.map(|m| m.to_string()).unwrap_or_default(),
                )
            } else {
                format!(
                    "{:<16} {:<5} {:>11} {:<6} {:>11} {:<5} {source}",
                    crate::domain::iso8601(e.ts_ms).get(..16).unwrap_or(""),
                    e.action.as_str().get(..5).unwrap_or(e.action.as_str()),
                    num(e.qty),
                    asset,
                    price,
                    quote,
                )
            };
            let style = if i == self.cursor {
                theme
                    .title()
                    .add_modifier(ratatui::style::Modifier::REVERSED)
            } else if crate::portfolio::editable(e) {
                Style::default()
            } else {
                theme.muted()
            };
            lines.push(Line::styled(text, style));
        }
        Paragraph::new(lines).render(inner, buf);
    }
}
