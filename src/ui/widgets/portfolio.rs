//! The portfolio view: each position (quantity, average cost, last, value, the day's change,
//! unrealized and realized P/L, weight with an allocation bar), the cash balances, the totals,
//! and what has no price (never shown as worth zero).

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget};

use super::{empty_state, pane};
use crate::format;
use crate::portfolio::ledger::Valuation;
use crate::portfolio::prices::Markets;
use crate::ui::theme::{Glyphs, Theme};

pub struct PortfolioPane<'a> {
    /// None: no portfolio configured; Err: the ledger does not add up (why).
    pub valuation: Option<Result<&'a Valuation, &'a str>>,
    pub markets: Option<&'a Markets>,
    pub method: &'a str,
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
                    "No portfolio: add [[portfolio.entries]] to config.toml, or run `tickwatch portfolio import FILE`",
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
        Paragraph::new(lines)
            .style(Style::default())
            .render(inner, buf);
    }
}
