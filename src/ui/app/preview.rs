//! The rule form's backtest line: the rule being typed, run over the selected symbol's last 7
//! days of stored history on the preview thread, asked again whenever the rule changes.

use super::App;
use crate::alerts::rules::RuleConfig;
use crate::domain::VenueSymbol;
use crate::history::{PREVIEW_SPAN_MS, Preview, PreviewReply, PreviewRequest};
use crate::ui::effect::Effect;

#[derive(Debug, Default)]
pub struct FormPreview {
    /// A preview thread runs (a database to read).
    pub on: bool,
    next_id: u64,
    /// The last question: its id, the rule (without its name) and the symbol.
    asked: Option<(u64, RuleConfig, VenueSymbol)>,
    /// When the last answered rule would have fired, on which symbol.
    marks: Option<(VenueSymbol, Vec<crate::domain::TsMs>)>,
    /// The engine's indicators, which the backtest computes as the engine would.
    indicators: Vec<crate::indicators::IndicatorSpec>,
}

impl FormPreview {
    pub fn new(indicators: Vec<crate::indicators::IndicatorSpec>) -> FormPreview {
        FormPreview {
            indicators,
            ..FormPreview::default()
        }
    }
}

impl App {
    pub fn with_preview(mut self, on: bool) -> App {
        self.preview.on = on;
        self
    }

    /// Asks for the form's rule to be backtested when it is valid and changed since asked.
    pub(super) fn preview_refresh(&mut self) {
        if !self.preview.on {
            return;
        }
        let key = self.selected_key();
        let now = (self.clock)();
        let Some(form) = self.form.as_mut() else {
            return;
        };
        let (Some(key), Ok(mut spec)) = (key, form.to_spec()) else {
            form.preview = None;
            self.preview.asked = None;
            return;
        };
        // the name changes nothing of when it fires
        spec.name = None;
        if self
            .preview
            .asked
            .as_ref()
            .is_some_and(|(_, s, k)| *s == spec && *k == key)
        {
            return;
        }
        self.preview.next_id += 1;
        let id = self.preview.next_id;
        self.preview.asked = Some((id, spec.clone(), key));
        form.preview = Some(format!("backtesting on {key}, last 7 days…"));
        self.effects.push(Effect::Preview(PreviewRequest {
            id,
            spec,
            key,
            from_ms: now - PREVIEW_SPAN_MS,
            to_ms: now,
            indicators: self.preview.indicators.clone(),
        }));
    }

    /// Times the rule form's last backtest would have fired, for the selected symbol's chart
    /// (kept after the form closes, until another rule is backtested).
    pub fn chart_marks(&self) -> &[crate::domain::TsMs] {
        match &self.preview.marks {
            Some((k, t)) if Some(*k) == self.selected_key() => t,
            _ => &[],
        }
    }

    /// The preview thread's answer; true when it is the one asked for last and a form shows it.
    pub fn on_preview(&mut self, reply: PreviewReply) -> bool {
        let Some((id, _, key)) = &self.preview.asked else {
            return false;
        };
        if reply.id != *id {
            return false;
        }
        let Some(form) = self.form.as_mut() else {
            return false;
        };
        // one line of the form (62 columns): the details are `alerts backtest`'s
        form.preview = Some(match reply.result {
            Ok(Preview::Fired(times)) => {
                let n = times.len();
                // marked on the chart (▲) while this symbol is selected
                self.preview.marks = Some((*key, times));
                format!(
                    "would have fired {n} time{} in the last 7 days (▲ on the chart)",
                    if n == 1 { "" } else { "s" }
                )
            }
            Ok(Preview::NoData) => format!("no {key} history of the last 7 days stored"),
            Ok(Preview::NotBacktested(why)) => {
                tracing::info!("rule form backtest: {why}");
                "cannot be backtested on stored history (alerts backtest says why)".into()
            }
            Err(e) => {
                tracing::warn!("rule form backtest: {e}");
                "backtest failed: see the log".into()
            }
        });
        true
    }
}
