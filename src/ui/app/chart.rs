//! The chart's keys and data: interval, range, zoom, pan, cursor and display toggles; merging
//! history from the database in front of the engine's live candles for the visible window.

use std::time::Duration;

use super::App;
use crate::domain::TsMs;
use crate::history::{HistoryReply, HistoryRequest, bucket_ms_for, bucketize};
use crate::ui::action::Action;
use crate::ui::viewport::RangeSel;
use crate::view::{ChartCandle, ChartView};

/// What the chart knows about the history thread's work.
#[derive(Debug, Default)]
pub struct HistoryState {
    next_id: u64,
    /// The request in flight, if any.
    asked: Option<HistoryRequest>,
    /// The last answer (kept while a newer one is loading, so the chart never blanks).
    reply: Option<HistoryReply>,
    /// The oldest and newest stored candle of a symbol and interval, once known.
    stored: Option<(
        crate::domain::VenueSymbol,
        crate::domain::Interval,
        TsMs,
        TsMs,
    )>,
}

/// What the chart's title says about history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HistoryStatus {
    /// The window is within the candles in memory.
    Memory,
    Loading,
    /// Loaded: how many stored candles, how long it took.
    Loaded {
        candles: usize,
        millis: u128,
    },
    /// Nothing stored before this time (the window starts earlier).
    StartsAt(TsMs),
    /// No database to read (running in memory).
    NoDatabase,
    Failed(String),
}

impl App {
    pub(super) fn chart_action(&mut self, action: Action) -> bool {
        let (from, to) = self.window;
        let span = (to - from).max(1);
        let edge = self.live_edge();
        let bucket = bucket_ms_for(self.interval, span, usize::from(self.plot_cols));
        let o = &mut self.chart_opts;
        match action {
            Action::ShorterInterval | Action::LongerInterval => {
                let next = if action == Action::ShorterInterval {
                    self.interval.shorter()
                } else {
                    self.interval.longer()
                };
                match next {
                    Some(i) => {
                        self.interval = i;
                        self.live_chart = None;
                        true
                    }
                    None => false,
                }
            }
            Action::Range15m => self.range(RangeSel::M15),
            Action::Range1h => self.range(RangeSel::H1),
            Action::Range4h => self.range(RangeSel::H4),
            Action::Range1d => self.range(RangeSel::D1),
            Action::Range1w => self.range(RangeSel::W1),
            Action::Range1M => self.range(RangeSel::MO1),
            Action::RangeAll => self.range(RangeSel::All),
            Action::RangeLive => self.range(RangeSel::Live),
            Action::RangeTyped => {
                self.prompt = Some(crate::ui::prompt::Prompt::new(
                    crate::ui::prompt::PromptKind::Range,
                    "",
                ));
                true
            }
            Action::ZoomIn => self.viewport.zoom_in(),
            Action::ZoomOut => self.viewport.zoom_out(),
            Action::PanLeft => self.viewport.pan(-1, span, edge),
            Action::PanRight => self.viewport.pan(1, span, edge),
            Action::Cursor => {
                self.viewport.cursor_ms = match self.viewport.cursor_ms {
                    Some(_) => None,
                    None => self
                        .chart
                        .as_ref()
                        .and_then(|c| c.candles.last())
                        .map(|c| c.candle.open_ms),
                };
                true
            }
            Action::CursorLeft | Action::CursorRight => {
                let dir: i64 = if action == Action::CursorLeft { -1 } else { 1 };
                match self.viewport.cursor_ms {
                    None => self.viewport.pan(dir as i32, span, edge),
                    Some(c) => {
                        let next = (c - c.rem_euclid(bucket) + dir * bucket).min(edge - 1);
                        self.viewport.cursor_ms = Some(next);
                        // keep the cursor in view: pan when it walks off an edge
                        if next < from {
                            self.viewport.pan(-1, span, edge);
                        } else if next >= to {
                            self.viewport.pan(1, span, edge);
                        }
                        // the pan moves the window, not the cursor
                        self.viewport.cursor_ms = Some(next);
                        true
                    }
                }
            }
            Action::ChartMode => {
                o.mode = o.mode.next();
                true
            }
            Action::ToggleSma => toggle(&mut o.sma),
            Action::ToggleEma => toggle(&mut o.ema),
            Action::ToggleBollinger => toggle(&mut o.bollinger),
            Action::ToggleVolume => toggle(&mut o.volume),
            Action::ToggleRsi => toggle(&mut o.rsi),
            Action::ToggleMacd => toggle(&mut o.macd),
            Action::ToggleLog => toggle(&mut o.log_scale),
            _ => false,
        }
    }

    fn range(&mut self, r: RangeSel) -> bool {
        self.viewport.set_range(r);
        true
    }

    /// Applies a typed range; Err keeps the prompt open with the reason.
    pub(super) fn typed_range(&mut self, text: &str) -> Result<(), String> {
        let r = crate::ui::viewport::parse_typed_range(text, self.live_edge())?;
        self.viewport.set_range(r);
        Ok(())
    }

    /// Where the data end: the end of the newest live candle; before any live data, the end of
    /// the newest stored one (a replayed database: ranges fit what is stored instead of
    /// running to today); else the wall clock.
    pub(super) fn live_edge(&self) -> TsMs {
        let iv = self.interval.ms();
        self.live_chart
            .as_ref()
            .and_then(|c| c.candles.last())
            .map(|c| c.candle.open_ms + iv)
            .or_else(|| self.stored_span().map(|(_, last)| last + iv))
            .unwrap_or_else(|| self.interval.bucket((self.clock)()) + iv)
    }

    /// The oldest and newest stored candle of the focused symbol and interval, once the
    /// history thread has said.
    fn stored_span(&self) -> Option<(TsMs, TsMs)> {
        let key = self.selected_key()?;
        self.hist
            .stored
            .filter(|(k, i, ..)| *k == key && *i == self.interval)
            .map(|(.., first, last)| (first, last))
    }

    /// The oldest stored candle of the focused symbol and interval, once the history thread has
    /// said.
    /// (or, without a database, the oldest candle in memory).
    fn first_stored(&self) -> Option<TsMs> {
        let key = self.selected_key()?;
        let stored = self.stored_span().map(|(first, _)| first);
        let memory = self
            .live_chart
            .as_ref()
            .filter(|c| c.key == key && c.interval == self.interval)
            .and_then(|c| c.candles.first())
            .map(|c| c.candle.open_ms);
        match (stored, memory) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (Some(a), None) => Some(a),
            // with a database, wait for its answer (it may hold much more than memory)
            (None, b) if !self.history => b,
            (None, _) => None,
        }
    }

    /// Recomputes the window and the merged chart; asks the history thread for what is older
    /// than the live candles when the window reaches before them.
    pub(super) fn refresh_chart(&mut self) {
        let cols = self.plot_cols.max(1);
        self.merged_cols = self.plot_cols;
        let edge = self.live_edge();
        let (from, to) = self
            .viewport
            .window(self.interval, cols, edge, self.first_stored());
        self.window = (from, to);
        self.chart_opts.cursor_ms = self.viewport.cursor_ms;
        let bucket = bucket_ms_for(self.interval, to - from, usize::from(cols));
        // a filter or watchlist that shows no symbol shows no chart either
        let nothing_shown = self.rows.is_empty() && !self.all_rows.is_empty();
        let Some(key) = self
            .selected_key()
            .or(self.live_chart.as_ref().map(|c| c.key))
            .filter(|_| !nothing_shown)
        else {
            self.chart = None;
            return;
        };
        let live: &[ChartCandle] = self
            .live_chart
            .as_ref()
            .filter(|c| c.key == key && c.interval == self.interval)
            .map_or(&[], |c| &c.candles);
        let live_first = live.first().map_or(edge, |c| c.candle.open_ms);
        let from_aligned = from - from.rem_euclid(bucket);
        let mut history: &[ChartCandle] = &[];
        let live_columns = self.live_chart.as_ref().map(|c| c.columns.clone());
        let n_columns = live_columns.as_ref().map_or(0, |c| c.len());
        // a reply of this series, merged like this chart
        let same_series = |r: &HistoryRequest| {
            r.key == key && r.interval == self.interval && r.bucket_ms == bucket
        };
        if from < live_first {
            let satisfied = |r: &HistoryRequest| {
                same_series(r)
                    && r.columns.len() == n_columns
                    && r.from_ms <= from_aligned
                    // exactly up to memory's first candle: a reply reaching further would count
                    // those minutes twice, one stopping short would leave a hole
                    && r.to_ms == live_first
            };
            if let Some(reply) = &self.hist.reply
                && same_series(&reply.request)
                && let Ok(slice) = &reply.result
            {
                history = &slice.candles;
            }
            let answered = self
                .hist
                .reply
                .as_ref()
                .is_some_and(|r| satisfied(&r.request));
            let asked = self.hist.asked.as_ref().is_some_and(satisfied);
            if !answered && !asked && self.history {
                self.hist.next_id += 1;
                let req = HistoryRequest {
                    id: self.hist.next_id,
                    key,
                    interval: self.interval,
                    from_ms: from_aligned,
                    to_ms: live_first,
                    bucket_ms: bucket,
                    columns: live_columns.clone().unwrap_or_default(),
                };
                self.effects
                    .push(crate::ui::effect::Effect::History(req.clone()));
                self.hist.asked = Some(req);
            }
        }
        // a reply that reaches into memory's candles (memory's start moved back since it was
        // asked): its last buckets hold minutes memory has too; leave them out until the new
        // reply comes
        let overlap = self
            .hist
            .reply
            .as_ref()
            .is_some_and(|r| r.request.to_ms > live_first);
        let merged: Vec<ChartCandle> = history
            .iter()
            .filter(|c| {
                let o = c.candle.open_ms;
                o >= from_aligned && o < live_first && (!overlap || o + bucket <= live_first)
            })
            .chain(
                live.iter()
                    .filter(|c| c.candle.open_ms + self.interval.ms() > from),
            )
            .cloned()
            .collect();
        let columns = live_columns
            .or_else(|| self.hist.reply.as_ref().map(|r| r.request.columns.clone()))
            .unwrap_or_default();
        self.chart = Some(ChartView {
            key,
            interval: self.interval,
            columns,
            candles: bucketize(merged, bucket),
        });
    }

    /// Takes in a reply of the history thread; true (the chart changed).
    pub fn on_history(&mut self, reply: crate::history::HistoryReply) -> bool {
        {
            if let Err(e) = &reply.result {
                tracing::warn!("chart history: {e}");
            } else {
                tracing::debug!(
                    elapsed_ms = reply.elapsed.as_millis(),
                    "chart history loaded"
                );
            }
            if let Ok(slice) = &reply.result
                && let (Some(first), Some(last)) = (slice.first_stored_ms, slice.last_stored_ms)
            {
                self.hist.stored = Some((reply.request.key, reply.request.interval, first, last));
            }
            if self.hist.asked.as_ref().map(|a| a.id) == Some(reply.request.id) {
                self.hist.asked = None;
            }
            self.hist.reply = Some(reply);
        }
        self.refresh_chart();
        self.send_focus();
        true
    }

    /// What the chart's title says about history for the current window.
    pub fn history_status(&self) -> HistoryStatus {
        let live_first = self
            .live_chart
            .as_ref()
            .and_then(|c| c.candles.first())
            .map_or(self.window.1, |c| c.candle.open_ms);
        if self.window.0 >= live_first {
            return HistoryStatus::Memory;
        }
        if !self.history {
            return HistoryStatus::NoDatabase;
        }
        if self.hist.asked.is_some() {
            return HistoryStatus::Loading;
        }
        match &self.hist.reply {
            Some(r) => match &r.result {
                Err(e) => HistoryStatus::Failed(e.clone()),
                Ok(slice) => match slice.first_stored_ms {
                    Some(first) if first > self.window.0 => HistoryStatus::StartsAt(first),
                    None => HistoryStatus::StartsAt(live_first),
                    _ => HistoryStatus::Loaded {
                        candles: slice.source_candles,
                        millis: r.elapsed.as_millis(),
                    },
                },
            },
            None => HistoryStatus::Loading,
        }
    }

    /// Title text after the caption when there is room: how long the history took to load.
    pub fn chart_note(&self) -> String {
        match self.history_status() {
            HistoryStatus::Loaded { millis, .. } => format!("({millis} ms)"),
            _ => String::new(),
        }
    }

    /// The caption for the chart title: range and history state.
    pub fn chart_caption(&self) -> String {
        let mut s = self.viewport.label();
        let stamp = |t: TsMs| {
            chrono::DateTime::<chrono::Utc>::from_timestamp_millis(t)
                .map(|d| d.format("%Y-%m-%d %H:%M").to_string())
                .unwrap_or_default()
        };
        match self.history_status() {
            HistoryStatus::Memory => {}
            HistoryStatus::Loading => {
                s.push_str(&format!(" · loading history{}", self.glyphs.ellipsis))
            }
            HistoryStatus::Loaded { candles, .. } => {
                s.push_str(&format!(" · {candles} stored candles"));
            }
            HistoryStatus::StartsAt(t) => s.push_str(&format!(" · no data before {}", stamp(t))),
            HistoryStatus::NoDatabase => s.push_str(" · no database: memory only"),
            HistoryStatus::Failed(e) => s.push_str(&format!(" · history failed: {e}")),
        }
        s
    }
}

fn toggle(b: &mut bool) -> bool {
    *b = !*b;
    true
}

/// How long a subscription may go unanswered before the screen says so.
pub(super) const ANSWER_WAIT: Duration = Duration::from_secs(20);
