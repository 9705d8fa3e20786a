//! What an update asks of the world outside the screen, and the loop's end that carries it out.
//! [`App`](super::App) only decides: a key, a snapshot or a reply changes its state and queues
//! [`Effect`]s; the event loop hands them to the engine, the sources and the history thread
//! ([`Outbox::perform`]) and brings the history thread's replies back
//! ([`Outbox::deliver`]). So every decision can be tested without channels or threads, and
//! nothing the screen draws sends anything.

use crate::domain::{Venue, VenueSymbol};
use crate::history::{
    FolioLoader, FolioRequest, HistoryLoader, HistoryRequest, PreviewLoader, PreviewRequest,
};
use crate::sources::{SourceCmd, SourceControls};
use crate::view::EngineCtl;

/// One thing an update asks for.
#[derive(Debug)]
pub enum Effect {
    /// A focus change, a rule command or a watchlist edit for the engine.
    Engine(EngineCtl),
    /// A subscribe or unsubscribe for the source streaming `venue` (its answer comes on the
    /// reply channel inside `cmd`, which the app keeps).
    Source { venue: Venue, cmd: SourceCmd },
    /// Older candles for the chart.
    History(HistoryRequest),
    /// The newest stored close of symbols without live data.
    LastCloses(Vec<VenueSymbol>),
    /// The portfolio's value over time, for the `P` view's chart.
    Folio(FolioRequest),
    /// The rule form's rule backtested on the selected symbol's stored history.
    Preview(PreviewRequest),
}

/// The channels effects go to.
pub struct Outbox {
    ctl: flume::Sender<EngineCtl>,
    controls: SourceControls,
    history: Option<HistoryLoader>,
    folio: Option<FolioLoader>,
    preview: Option<PreviewLoader>,
}

impl Outbox {
    pub fn new(ctl: flume::Sender<EngineCtl>) -> Outbox {
        Outbox {
            ctl,
            controls: SourceControls::default(),
            history: None,
            folio: None,
            preview: None,
        }
    }

    pub fn with_controls(mut self, controls: SourceControls) -> Outbox {
        self.controls = controls;
        self
    }

    pub fn with_history(mut self, loader: HistoryLoader) -> Outbox {
        self.history = Some(loader);
        self
    }

    pub fn with_folio(mut self, loader: FolioLoader) -> Outbox {
        self.folio = Some(loader);
        self
    }

    pub fn with_preview(mut self, loader: PreviewLoader) -> Outbox {
        self.preview = Some(loader);
        self
    }

    pub fn has_preview(&self) -> bool {
        self.preview.is_some()
    }

    pub fn has_folio(&self) -> bool {
        self.folio.is_some()
    }

    pub fn controls(&self) -> &SourceControls {
        &self.controls
    }

    pub fn has_history(&self) -> bool {
        self.history.is_some()
    }

    /// Carries out `effects`, in order. Nothing here waits: the engine's and the sources'
    /// control channels are unbounded, so a send fails only when the other end has stopped (a
    /// stopped source drops the command, and its reply channel tells the app so); the history
    /// thread queues.
    pub fn perform(&self, effects: Vec<Effect>) {
        for e in effects {
            match e {
                Effect::Engine(msg) => {
                    if self.ctl.send(msg).is_err() {
                        tracing::warn!("engine control channel closed; change not sent");
                    }
                }
                Effect::Source { venue, cmd } => match self.controls.get(venue) {
                    Some(tx) => {
                        if tx.send(cmd).is_err() {
                            tracing::warn!("the {venue} source has stopped; change not sent");
                        }
                    }
                    None => tracing::warn!("no {venue} source runs; change not sent"),
                },
                Effect::History(req) => {
                    if let Some(h) = &self.history {
                        h.request(req);
                    }
                }
                Effect::LastCloses(keys) => {
                    if let Some(h) = &self.history {
                        h.request_last_closes(keys);
                    }
                }
                Effect::Folio(req) => {
                    if let Some(f) = &self.folio {
                        f.request(req);
                    }
                }
                Effect::Preview(req) => {
                    if let Some(p) = &self.preview {
                        p.request(req);
                    }
                }
            }
        }
    }

    /// Hands the history thread's replies to `app`; true when the screen changed.
    pub fn deliver(&self, app: &mut super::App) -> bool {
        let mut changed = false;
        if let Some(f) = &self.folio {
            while let Some(reply) = f.try_recv() {
                changed |= app.on_folio(reply);
            }
        }
        if let Some(p) = &self.preview {
            while let Some(reply) = p.try_recv() {
                changed |= app.on_preview(reply);
            }
        }
        let Some(h) = &self.history else {
            return changed;
        };
        while let Some(reply) = h.try_recv() {
            changed |= app.on_history(reply);
        }
        while let Some(closes) = h.try_recv_last_closes() {
            changed |= app.on_last_closes(closes);
        }
        changed
    }
}
