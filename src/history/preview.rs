//! The rule form's "would have fired N times in the last 7 days": the rule being typed
//! backtested ([`crate::backtest`]) on the selected symbol's stored history, on a thread of its
//! own (never the UI's). The newest question supersedes those queued before it.

use crate::alerts::rules::RuleConfig;
use crate::backtest::{BacktestError, Request};
use crate::domain::{TsMs, VenueSymbol};
use crate::store::{Location, StoreError};

/// How far back the form looks.
pub const PREVIEW_SPAN_MS: TsMs = 7 * 86_400_000;

/// The rule of the form, on one symbol, over `from_ms..=to_ms`.
#[derive(Debug, Clone, PartialEq)]
pub struct PreviewRequest {
    /// Echoed in the reply: answers to questions no longer asked are dropped.
    pub id: u64,
    pub spec: RuleConfig,
    pub key: VenueSymbol,
    pub from_ms: TsMs,
    pub to_ms: TsMs,
    /// The engine's indicators (`[engine] indicators`): a rule on `rsi7` is backtested on the
    /// RSI the engine computes, not on the defaults.
    pub indicators: Vec<crate::indicators::IndicatorSpec>,
}

/// What the backtest found.
#[derive(Debug, Clone, PartialEq)]
pub enum Preview {
    /// The times it would have fired.
    Fired(Vec<crate::domain::TsMs>),
    /// Nothing of the symbol is stored in the span.
    NoData,
    /// The rule cannot be backtested (a stale, book or portfolio rule): why.
    NotBacktested(String),
}

/// What the backtest found, or why the database could not be read.
pub type PreviewReply = super::worker::Reply<Preview>;

/// Handle to the thread. Dropping it ends the thread.
pub type PreviewLoader = super::worker::Worker<PreviewRequest, Preview>;

impl super::worker::Question for PreviewRequest {
    fn id(&self) -> u64 {
        self.id
    }
}

impl PreviewLoader {
    pub fn spawn_at(db: Location) -> std::io::Result<PreviewLoader> {
        Self::spawn("tickwatch-preview", db, answer)
    }
}

/// Backtests the request's rule on its symbol alone.
pub fn answer(db: &Location, req: &PreviewRequest) -> Result<Preview, String> {
    let mut reader = match crate::store::open_reader(db) {
        Ok(r) => r,
        Err(StoreError::NotFound { .. }) => return Ok(Preview::NoData),
        Err(e) => return Err(e.to_string()),
    };
    if req.spec.kind.on_portfolio() {
        // about no market's history: said before a symbol is given to a rule that takes none
        return Ok(Preview::NotBacktested(
            "a portfolio rule is evaluated on the portfolio valued at live prices".into(),
        ));
    }
    let mut spec = req.spec.clone();
    spec.symbols = Some(vec![req.key.symbol.as_str().to_string()]);
    let rule = spec.build().map_err(|e| e.to_string())?;
    let backtest = Request {
        rules: vec![rule],
        from_ms: req.from_ms,
        to_ms: req.to_ms,
        symbol: Some(req.key.symbol),
        indicators: req.indicators.clone(),
    };
    match crate::backtest::run(reader.as_mut(), &backtest) {
        Ok(o) if !o.pairs.iter().any(|p| p.key == req.key) => {
            Ok(match o.notes.into_iter().next() {
                Some(n) => Preview::NotBacktested(n),
                None => Preview::NoData,
            })
        }
        Ok(o) => Ok(Preview::Fired(
            o.fires
                .iter()
                .filter(|f| f.key == req.key)
                .map(|f| f.ts_ms)
                .collect(),
        )),
        Err(BacktestError::NoData(_)) => Ok(Preview::NoData),
        Err(BacktestError::NoRules(m)) => Ok(Preview::NotBacktested(m)),
        Err(e) => Err(e.to_string()),
    }
}
