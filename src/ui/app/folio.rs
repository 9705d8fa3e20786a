//! The `P` view's chart: which stretch of the portfolio's value to ask the folio thread for
//! (set with the price chart's range and interval keys), its answer, and the live values
//! since its last step.

use super::{App, View};
use crate::domain::TsMs;
use crate::history::{FolioPoint, FolioReply, FolioRequest};
use crate::ui::effect::Effect;
use crate::ui::viewport::RangeSel;

const DAY: TsMs = 86_400_000;
/// What the view shows before a range key is pressed: the last month.
pub const DEFAULT_SPAN: TsMs = 30 * DAY;
/// Steps asked for at most (about one per column of a wide terminal).
const MAX_POINTS: TsMs = 400;
/// Live values kept after the last stored step (an hour at one a second).
const MAX_LIVE: usize = 3_600;

/// The chart's state.
#[derive(Debug, Default)]
pub struct FolioChart {
    /// A thread answers (there is a database).
    pub(super) on: bool,
    next_id: u64,
    /// The last question (its id, and from, to, step and the portfolio's generation).
    asked: Option<(u64, (TsMs, TsMs, TsMs, u64))>,
    /// Bumped when the portfolio's entries change: the series is asked again.
    pub(super) generation: u64,
    pub points: Vec<FolioPoint>,
    pub status: FolioStatus,
    /// Whole live values after the last stored step.
    pub live: std::collections::VecDeque<(TsMs, f64)>,
    /// The window shown: from, to (now), and the step.
    pub window: (TsMs, TsMs, TsMs),
}

/// What the chart's title says about the stored series.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum FolioStatus {
    /// No database to read: live values only.
    #[default]
    NoDatabase,
    Loading,
    Loaded {
        millis: u128,
    },
    Failed(String),
}

/// The window and step for `range` at `interval_ms` (the step is the interval, or coarser so
/// that at most [`MAX_POINTS`] steps are valued), starting no earlier than the first entry.
pub fn window(range: &RangeSel, interval_ms: TsMs, now: TsMs, first: TsMs) -> (TsMs, TsMs, TsMs) {
    let (from, to) = match range {
        RangeSel::Live => (now - DEFAULT_SPAN, now),
        RangeSel::Last { span, .. } | RangeSel::Typed { span, .. } => (now - span, now),
        RangeSel::Custom { from, to } => (*from, (*to).min(now)),
        RangeSel::All => (first, now),
    };
    let to = to.max(first);
    let from = from.max(first).min(to);
    let iv = interval_ms.max(1);
    let span = (to - from).max(iv);
    let step = if span / iv > MAX_POINTS {
        ((span / MAX_POINTS + iv - 1) / iv) * iv
    } else {
        iv
    };
    // steps on the step grid, none before the first entry (a zero there is no value)
    let mut from = from - from.rem_euclid(step);
    if from < first {
        from += step;
    }
    (from, (to - to.rem_euclid(step)).max(from), step)
}

impl App {
    pub fn with_folio(mut self, on: bool) -> App {
        self.folio.on = on;
        if !on {
            self.folio.status = FolioStatus::NoDatabase;
        }
        self
    }

    /// While the `P` view is up: keeps the live value, and asks for the stored series when the
    /// window, the step or the portfolio changed.
    pub(super) fn folio_refresh(&mut self) {
        if self.view != View::Portfolio {
            return;
        }
        let Some(p) = self.portfolio.clone() else {
            return;
        };
        let now = (self.clock)();
        let first = p.entries.iter().map(|e| e.ts_ms).min().unwrap_or(now);
        let (from, to, step) = window(&self.viewport.range, self.interval.ms(), now, first);
        self.folio.window = (from, now, step);
        if let Some(Ok(v)) = &self.valuation
            && v.value_whole()
            // one a second at most: the cap is an hour, not a burst of snapshots
            && self.folio.live.back().is_none_or(|(t, _)| now >= *t + 1_000)
        {
            self.folio.live.push_back((now, v.value));
            if self.folio.live.len() > MAX_LIVE {
                self.folio.live.pop_front();
            }
        }
        if !self.folio.on {
            return;
        }
        let key = (from, to, step, self.folio.generation);
        if self.folio.asked.map(|(_, k)| k) == Some(key) {
            return;
        }
        self.folio.next_id += 1;
        let id = self.folio.next_id;
        self.folio.asked = Some((id, key));
        self.folio.status = FolioStatus::Loading;
        self.effects.push(Effect::Folio(FolioRequest {
            id,
            portfolio: p,
            from_ms: from,
            to_ms: to,
            step_ms: step,
        }));
    }

    /// The folio thread's answer; true when it is the one asked for last.
    pub fn on_folio(&mut self, reply: FolioReply) -> bool {
        let Some((id, (_, to, _, _))) = self.folio.asked else {
            return false;
        };
        if reply.id != id {
            return false;
        }
        match reply.result {
            Ok(points) => {
                self.folio.points = points;
                self.folio.live.retain(|(t, _)| *t > to);
                self.folio.status = FolioStatus::Loaded {
                    millis: reply.elapsed.as_millis(),
                };
            }
            Err(e) => {
                tracing::warn!("portfolio chart: {e}");
                self.folio.status = FolioStatus::Failed(e);
            }
        }
        true
    }

    /// The chart's state, for the `P` view.
    pub fn folio_chart(&self) -> &FolioChart {
        &self.folio
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_follows_the_range_and_keeps_to_the_steps() {
        let now = 1_700_000_000_000 + 12_345;
        let h = 3_600_000;
        let first = now - 400 * DAY;
        // the default: the last month, hourly steps (720 > 400: two hours)
        let (from, to, step) = window(&RangeSel::Live, h, now, first);
        assert_eq!(step, 2 * h);
        assert_eq!(to, now - now.rem_euclid(step));
        assert!(from <= now - DEFAULT_SPAN && from > now - DEFAULT_SPAN - step);
        // 1d at 1m: 1440 minutes in 400 steps: 4 minutes
        let (_, _, step) = window(&RangeSel::D1, 60_000, now, first);
        assert_eq!(step, 4 * 60_000);
        // 1h at 1m: every minute
        let (from, to, step) = window(&RangeSel::H1, 60_000, now, first);
        assert_eq!((to - from) / step, 60);
        // nothing before the first entry
        let (from, _, _) = window(&RangeSel::All, DAY, now, now - 3 * DAY);
        let first = now - 3 * DAY;
        assert_eq!(from, first - first.rem_euclid(DAY) + DAY);
        let (from, to, _) = window(&RangeSel::W1, h, now, now - 2 * h);
        assert!(from >= now - 3 * h && to <= now);
    }
}
