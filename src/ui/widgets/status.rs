//! The status bar: every source's state, throughput, losses, storage lag and the UTC clock.
//! Staleness is derived here from the data's age, so a feed that went quiet never shows as live.

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Widget;

use crate::domain::TsMs;
use crate::format;
use crate::pipeline::{SourceHealth, SourceState, describe, effective_state};
use crate::ui::status_info::StatusInfo;
use crate::ui::theme::Theme;

/// Rows waiting for the storage thread above which the lag counts as trouble, not just a batch
/// in flight.
const STORE_LAG_BAD: u64 = 10_000;

pub struct StatusBar<'a> {
    pub info: &'a StatusInfo,
    pub stale_after_ms: i64,
    pub sep: &'a str,
    pub theme: &'a Theme,
}

/// How one source reads on screen: its state in words, and the colour of that state.
/// A source that calls itself live but has been quiet for `stale_after_ms` reads as stale; a
/// failed service reads as just "failed".
pub fn source_state(
    h: &SourceHealth,
    now: TsMs,
    stale_after_ms: i64,
    theme: &Theme,
) -> (String, Style) {
    let state = effective_state(h, now, stale_after_ms);
    if let (false, SourceState::Failed(_)) = (h.is_source, &state) {
        // a service (a notifier, the database): its reason was said once in the alerts pane;
        // a long reason here would hide the feeds' states for the whole session
        return ("failed".into(), theme.bad());
    }
    let style = match &state {
        SourceState::Live => theme.up(),
        SourceState::Failed(_) => theme.bad(),
        SourceState::Finished => theme.muted(),
        SourceState::Connecting
        | SourceState::Reconnecting { .. }
        | SourceState::RateLimited { .. }
        | SourceState::Stale { .. }
        | SourceState::Dropping { .. } => theme.warn(),
    };
    (describe(&state, now), style)
}

/// A network source that has never delivered anything and is retrying or gave up: most likely
/// there is no network, so the status bar points to the offline demo.
fn never_connected(h: &SourceHealth) -> bool {
    h.is_source
        && h.last_event_ms.is_none()
        && matches!(
            h.state,
            SourceState::Reconnecting { .. } | SourceState::Failed(_)
        )
}

fn count(label: &str, n: u64, bad: bool, theme: &Theme) -> Vec<Span<'static>> {
    let style = if bad {
        theme.bad()
    } else if n > 0 {
        theme.warn()
    } else {
        Style::new()
    };
    vec![
        Span::raw(format!("{label} ")),
        Span::styled(n.to_string(), style),
    ]
}

impl StatusBar<'_> {
    fn sources_line(&self) -> Line<'static> {
        let now = self.info.now_ms;
        if self.info.sources.is_empty() {
            return Line::styled(" no sources running", self.theme.warn());
        }
        let mut spans = vec![Span::raw(" ")];
        for (i, h) in self.info.sources.iter().enumerate() {
            if i > 0 {
                spans.push(Span::styled(self.sep.to_string(), self.theme.muted()));
            }
            let (text, style) = source_state(h, now, self.stale_after_ms, self.theme);
            spans.push(Span::raw(format!("{} ", h.name)));
            spans.push(Span::styled(text, style));
        }
        Line::from(spans)
    }

    /// A line of its own (so that it is never cut behind a long state) when a network source
    /// never delivered anything: most likely there is no network.
    fn offline_hint(&self) -> Option<Line<'static>> {
        if !self.info.sources.iter().any(never_connected) {
            return None;
        }
        let cmd = match self.info.demo_command {
            "" => "tickwatch --demo",
            c => c,
        };
        Some(Line::styled(
            format!(" offline? `{cmd}` runs the demo without network"),
            self.theme.muted(),
        ))
    }

    /// Throughput, losses and the clock; `short` labels fit them into 80 columns when the
    /// numbers grow.
    fn counters_line(&self, short: bool) -> Line<'static> {
        let i = self.info;
        let sep = || Span::styled(self.sep.to_string(), self.theme.muted());
        let mut spans = vec![Span::raw(format!(
            " {} ev/s",
            format::compact(i.events_per_sec.round())
        ))];
        let (lag, fail) = if short {
            ("lag", "nfail")
        } else {
            ("db lag", "notify fail")
        };
        for (label, n, bad) in [
            ("drop", i.dropped, i.dropped > 0),
            (lag, i.store_lag, i.store_lag >= STORE_LAG_BAD),
            ("late", i.late, false),
            ("gaps", i.gaps, false),
            (fail, i.deliveries_failed, i.deliveries_failed > 0),
        ] {
            spans.push(sep());
            spans.extend(count(label, n, bad, self.theme));
        }
        spans.push(sep());
        let clock = format::hms(i.now_ms);
        let clock = if short { clock } else { format!("{clock} UTC") };
        spans.push(Span::styled(format!("{clock} "), self.theme.title()));
        Line::from(spans)
    }

    fn counters_for(&self, width: u16) -> Line<'static> {
        let full = self.counters_line(false);
        if full.width() <= usize::from(width) {
            full
        } else {
            self.counters_line(true)
        }
    }

    /// Lines the bar needs at `width`: two when sources and counters do not fit side by side,
    /// and one more for the offline hint.
    pub fn height(&self, width: u16) -> u16 {
        let need = self.sources_line().width() + self.counters_for(width).width() + 1;
        let bar = if need > usize::from(width) { 2 } else { 1 };
        bar + u16::from(self.offline_hint().is_some())
    }
}

impl Widget for &StatusBar<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        if area.is_empty() {
            return;
        }
        let area = match self.offline_hint() {
            Some(hint) if area.height >= 2 => {
                let last = Rect {
                    y: area.bottom() - 1,
                    height: 1,
                    ..area
                };
                hint.render(last, buf);
                Rect {
                    height: area.height - 1,
                    ..area
                }
            }
            _ => area,
        };
        let counters = self.counters_for(area.width);
        let sources = self.sources_line();
        let cw = (counters.width() as u16).min(area.width);
        let counters_area = Rect {
            x: area.right() - cw,
            y: area.bottom() - 1,
            width: cw,
            height: 1,
        };
        let sources_area = if area.height >= 2 {
            Rect { height: 1, ..area }
        } else {
            Rect {
                width: area.width - cw,
                ..area
            }
        };
        sources.render(sources_area, buf);
        counters.render(counters_area, buf);
    }
}
