//! The source's side of symbol changes: checks a new symbol with REST first (exchangeInfo), then
//! hands it to a connection (shard) with room for its streams, or to a new one when all are
//! full (Binance allows 1024 streams per connection); hands a removal to the shard that streams
//! the symbol. The shards do the wire part and answer the asker.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::sync::mpsc;
use tokio::task::JoinSet;

use super::rest::RestError;
use super::ws::{Note, Shared, run_shard};
use crate::domain::Symbol;
use crate::pipeline::{EngineGone, SourceState};
use crate::sources::SourceCmd;

/// A symbol checked with REST: the command and what the check found.
type Checked = (SourceCmd, Result<(), String>);

struct Slot {
    tx: mpsc::UnboundedSender<SourceCmd>,
    /// Symbols streamed or being subscribed on it.
    symbols: usize,
}

/// Which shard streams which symbol, and the shards themselves.
pub(super) struct Coordinator {
    shared: Arc<Shared>,
    /// Symbols per connection (1024 streams / streams per symbol).
    per_conn: usize,
    slots: Vec<Slot>,
    owner: HashMap<Symbol, usize>,
    /// Symbols being checked with REST.
    checking: HashSet<Symbol>,
    checked_tx: mpsc::UnboundedSender<Checked>,
    pub checked_rx: mpsc::UnboundedReceiver<Checked>,
    notes_tx: mpsc::UnboundedSender<Note>,
    pub notes_rx: mpsc::UnboundedReceiver<Note>,
    pub tasks: JoinSet<Result<(), EngineGone>>,
    /// The last symbol left because Binance does not know it (the source has nothing to do).
    emptied_by_invalid: bool,
}

impl Coordinator {
    pub fn new(shared: Arc<Shared>, per_conn: usize) -> Self {
        let (checked_tx, checked_rx) = mpsc::unbounded_channel();
        let (notes_tx, notes_rx) = mpsc::unbounded_channel();
        Coordinator {
            shared,
            per_conn: per_conn.max(1),
            slots: Vec::new(),
            owner: HashMap::new(),
            checking: HashSet::new(),
            checked_tx,
            checked_rx,
            notes_tx,
            notes_rx,
            tasks: JoinSet::new(),
            emptied_by_invalid: false,
        }
    }

    /// Starts a shard streaming `symbols`; returns its number.
    pub fn spawn_shard(&mut self, symbols: Vec<Symbol>) -> usize {
        let shard = self.slots.len();
        let (tx, rx) = mpsc::unbounded_channel();
        for s in &symbols {
            self.owner.insert(*s, shard);
        }
        self.slots.push(Slot {
            tx,
            symbols: symbols.len(),
        });
        self.tasks.spawn(run_shard(
            self.shared.clone(),
            shard,
            symbols,
            rx,
            self.notes_tx.clone(),
        ));
        self.count();
        shard
    }

    fn count(&self) {
        self.shared
            .n_symbols
            .store(self.owner.len(), Ordering::Relaxed);
    }

    /// A command from the monitor.
    pub fn on_command(&mut self, cmd: SourceCmd) {
        self.drain_notes();
        let symbol = cmd.symbol();
        let name = self.shared.sink.name();
        match cmd {
            SourceCmd::Subscribe { .. } => {
                let refusal = if !symbol.as_str().bytes().all(|b| b.is_ascii_alphanumeric()) {
                    Some(format!(
                        "{symbol} is not a Binance spot symbol (letters and digits only, e.g. BTCUSDT)"
                    ))
                } else if self.owner.contains_key(&symbol) {
                    Some(format!("{symbol} is already streamed from Binance"))
                } else if self.checking.contains(&symbol) {
                    Some(format!("{symbol} is being added already"))
                } else {
                    None
                };
                if let Some(why) = refusal {
                    tracing::info!(source = name, "not subscribing {symbol}: {why}");
                    cmd.answer(Err(why));
                    return;
                }
                tracing::info!(
                    source = name,
                    "checking {symbol} with Binance before subscribing"
                );
                self.checking.insert(symbol);
                let rest = self.shared.rest.clone();
                let sink = self.shared.sink.clone();
                let tx = self.checked_tx.clone();
                tokio::spawn(async move {
                    let on_rl =
                        move |until_ms| sink.set_state(SourceState::RateLimited { until_ms });
                    let result = match rest.symbol_status(symbol, on_rl).await {
                        Ok(status) if status.eq_ignore_ascii_case("TRADING") => Ok(()),
                        Ok(status) => Err(format!(
                            "{symbol} is not trading on Binance spot (status {status})"
                        )),
                        Err(RestError::InvalidSymbol { .. }) => {
                            Err(format!("{symbol} is not a Binance spot symbol"))
                        }
                        Err(e) => Err(format!(
                            "could not check {symbol} with Binance ({e}); try again"
                        )),
                    };
                    let _ = tx.send((cmd, result));
                });
            }
            SourceCmd::Unsubscribe { .. } => {
                if self.checking.contains(&symbol) {
                    cmd.answer(Err(format!(
                        "{symbol} is still being added; remove it once that is done"
                    )));
                    return;
                }
                let Some(shard) = self.owner.remove(&symbol) else {
                    cmd.answer(Err(format!("{symbol} is not streamed from Binance")));
                    return;
                };
                self.count();
                if let Some(slot) = self.slots.get_mut(shard) {
                    slot.symbols = slot.symbols.saturating_sub(1);
                    tracing::info!(source = name, shard, "removing {symbol}");
                    if let Err(e) = slot.tx.send(cmd) {
                        e.0.answer(Err("the Binance connection task has stopped".into()));
                    }
                }
            }
        }
    }

    /// The REST check of a new symbol is done: refuse it, or subscribe it on a shard.
    pub fn on_checked(&mut self, (cmd, result): Checked) {
        self.drain_notes();
        let symbol = cmd.symbol();
        self.checking.remove(&symbol);
        let name = self.shared.sink.name();
        if let Err(why) = result {
            tracing::warn!(source = name, "not subscribing {symbol}: {why}");
            cmd.answer(Err(why));
            return;
        }
        if self.owner.contains_key(&symbol) {
            cmd.answer(Err(format!("{symbol} is already streamed from Binance")));
            return;
        }
        let shard = self.pick_shard();
        self.owner.insert(symbol, shard);
        self.emptied_by_invalid = false;
        self.count();
        if let Some(slot) = self.slots.get_mut(shard) {
            slot.symbols += 1;
            if let Err(e) = slot.tx.send(cmd) {
                self.owner.remove(&symbol);
                self.count();
                e.0.answer(Err("the Binance connection task has stopped".into()));
            }
        }
    }

    /// A shard with room: one that streams something already (no new connection), else an idle
    /// one, else a new one.
    fn pick_shard(&mut self) -> usize {
        let with_room = |s: &Slot| s.symbols < self.per_conn && !s.tx.is_closed();
        if let Some(i) = self
            .slots
            .iter()
            .position(|s| s.symbols > 0 && with_room(s))
        {
            return i;
        }
        if let Some(i) = self.slots.iter().position(with_room) {
            return i;
        }
        let shard = self.spawn_shard(Vec::new());
        tracing::info!(
            source = self.shared.sink.name(),
            shard,
            "every connection is full; opening another"
        );
        shard
    }

    /// A shard stopped streaming a symbol by itself.
    pub fn on_note(&mut self, note: Note) {
        if self.owner.get(&note.symbol) != Some(&note.shard) {
            return;
        }
        self.owner.remove(&note.symbol);
        self.count();
        if let Some(slot) = self.slots.get_mut(note.shard) {
            slot.symbols = slot.symbols.saturating_sub(1);
        }
        if note.invalid && self.owner.is_empty() {
            self.emptied_by_invalid = true;
        }
    }

    fn drain_notes(&mut self) {
        while let Ok(note) = self.notes_rx.try_recv() {
            self.on_note(note);
        }
    }

    /// Every symbol left was unknown to Binance and nothing is being added: the source has
    /// nothing to do.
    pub fn nothing_left(&self) -> bool {
        self.emptied_by_invalid && self.owner.is_empty() && self.checking.is_empty()
    }
}
