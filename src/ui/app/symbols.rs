//! The watchlist's keys: filter, sort, switching watchlists, adding and removing symbols (the
//! running source subscribes or unsubscribes; the change is recorded for the next start).

use std::time::Instant;

use crossterm::event::{KeyCode, KeyEvent};

use super::App;
use super::chart::ANSWER_WAIT;
use crate::domain::{Venue, VenueSymbol, native_symbol, parse_watch_symbol};
use crate::sources::SourceCmd;
use crate::ui::action::Action;
use crate::ui::effect::Effect;
use crate::ui::prompt::{Prompt, PromptKind, PromptOutcome};
use crate::ui::watch_state::ALL;
use crate::view::EngineCtl;

/// A subscription change asked of a source and not answered yet.
pub struct Pending {
    key: VenueSymbol,
    add: bool,
    /// The watchlist it was asked from (recorded when the source says yes).
    list: String,
    asked: Instant,
    reply: flume::Receiver<Result<(), String>>,
    /// Said once that the answer is late; the answer is still taken when it comes.
    warned: bool,
}

impl App {
    pub(super) fn symbol_action(&mut self, action: Action) -> bool {
        match action {
            Action::Filter => {
                self.prompt = Some(Prompt::new(PromptKind::Filter, self.watch.filter.clone()));
            }
            Action::SortNext => self.watch.cycle_sort(),
            Action::SortReverse => self.watch.reverse(),
            Action::NextWatchlist | Action::PrevWatchlist => {
                let step = if action == Action::NextWatchlist {
                    1
                } else {
                    -1
                };
                if !self.watch.cycle(step) {
                    self.notice = Some(
                        "only one watchlist: add [[watchlists]] to config.toml to have more".into(),
                    );
                }
            }
            Action::AddSymbol => self.prompt = Some(Prompt::new(PromptKind::AddSymbol, "")),
            Action::RemoveSymbol => match self.selected_key() {
                Some(k) => self.confirm_remove = Some(k),
                None => self.notice = Some("no symbol selected".into()),
            },
            _ => return false,
        }
        self.rebuild_rows();
        true
    }

    pub(super) fn prompt_key(&mut self, key: KeyEvent) -> bool {
        let Some(prompt) = self.prompt.as_mut() else {
            return false;
        };
        let kind = prompt.kind;
        match prompt.on_key(key) {
            PromptOutcome::Editing => {
                if kind == PromptKind::Filter {
                    self.watch.filter = prompt.text.clone();
                    self.rebuild_rows();
                }
            }
            PromptOutcome::Cancelled => {
                if kind == PromptKind::Filter {
                    self.watch.filter.clear();
                    self.rebuild_rows();
                }
                self.prompt = None;
            }
            PromptOutcome::Submitted(text) => {
                let result = match kind {
                    PromptKind::Filter => Ok(()),
                    PromptKind::AddSymbol => self.add_symbol(&text),
                    PromptKind::Range => self.typed_range(&text),
                };
                match result {
                    Ok(()) => self.prompt = None,
                    Err(e) => {
                        if let Some(p) = self.prompt.as_mut() {
                            p.error = Some(e);
                        }
                    }
                }
            }
        }
        self.refresh_chart();
        self.send_focus();
        true
    }

    /// Resolves what was typed to a venue with a running source and asks it to subscribe.
    fn add_symbol(&mut self, text: &str) -> Result<(), String> {
        let (venue, symbol) = parse_watch_symbol(text)?;
        let venues = self.venues.clone();
        let venue = match venue {
            Some(v) => v,
            None => match venues.as_slice() {
                [] => {
                    return Err(
                        "no running source takes new symbols (files and replays have fixed ones)"
                            .into(),
                    );
                }
                [one] => *one,
                several => {
                    let names: Vec<&str> = several.iter().map(|v| v.as_str()).collect();
                    return Err(format!(
                        "several sources run ({}): type venue:SYMBOL",
                        names.join(", ")
                    ));
                }
            },
        };
        // `BTC/USDT`, as the watchlist shows it, is taken for the venue's own `BTCUSDT`
        let symbol = native_symbol(venue, symbol.as_str()).unwrap_or(symbol);
        let key = VenueSymbol::new(venue, symbol);
        let list = self.watch.active().name.clone();
        let subscribed = self.all_rows.iter().any(|r| r.key == key);
        if subscribed {
            if self.watch.is_all() || self.watch.active().contains(key) {
                return Err(format!("{symbol} is already in {list}"));
            }
            // streamed already: only the watchlist changes
            self.watch.add(key);
            self.send(EngineCtl::RecordWatchlistEdit {
                list: list.clone(),
                key,
                added: true,
            });
            self.notice = Some(format!("{symbol} added to {list}"));
            self.rebuild_rows();
            return Ok(());
        }
        self.control(venue)?;
        let (reply_tx, reply) = flume::bounded(1);
        self.effects.push(Effect::Source {
            venue,
            cmd: SourceCmd::Subscribe {
                symbol,
                reply: reply_tx,
            },
        });
        self.pending.push(Pending {
            key,
            add: true,
            list,
            asked: Instant::now(),
            reply,
            warned: false,
        });
        self.notice = Some(format!(
            "subscribing to {symbol} at {venue}{}",
            self.glyphs.ellipsis
        ));
        Ok(())
    }

    /// Whether a running source streams `venue` and takes changes; if not, why not.
    fn control(&self, venue: Venue) -> Result<(), String> {
        if self.venues.contains(&venue) {
            return Ok(());
        }
        Err({
            let running: Vec<&str> = self.venues.iter().map(|v| v.as_str()).collect();
            if running.is_empty() {
                "no running source takes symbol changes (files and replays have fixed ones)"
                    .to_string()
            } else {
                format!(
                    "no {venue} source is running (running: {})",
                    running.join(", ")
                )
            }
        })
    }

    /// `y` removes the symbol: from this watchlist, or (in "all") from the source itself.
    pub(super) fn confirm_remove_key(&mut self, key: VenueSymbol, k: KeyEvent) -> bool {
        if !(k.code == KeyCode::Char('y') && k.modifiers.is_empty()) {
            return true;
        }
        let list = self.watch.active().name.clone();
        if !self.watch.is_all() {
            self.watch.remove(key);
            self.send(EngineCtl::RecordWatchlistEdit {
                list: list.clone(),
                key,
                added: false,
            });
            self.notice = Some(format!("{} removed from {list}", key.symbol));
            self.rebuild_rows();
            return true;
        }
        let result = self.control(key.venue).map(|()| {
            let (reply_tx, reply) = flume::bounded(1);
            self.effects.push(Effect::Source {
                venue: key.venue,
                cmd: SourceCmd::Unsubscribe {
                    symbol: key.symbol,
                    reply: reply_tx,
                },
            });
            reply
        });
        match result {
            Ok(reply) => {
                self.pending.push(Pending {
                    key,
                    add: false,
                    list,
                    asked: Instant::now(),
                    reply,
                    warned: false,
                });
                self.notice = Some(format!(
                    "unsubscribing {} at {}{}",
                    key.symbol, key.venue, self.glyphs.ellipsis
                ));
            }
            Err(e) => self.notice = Some(format!("cannot remove {}: {e}", key.symbol)),
        }
        true
    }

    /// Takes in the sources' answers; true when something changed on screen.
    pub(super) fn poll_pending(&mut self) -> bool {
        if self.pending.is_empty() {
            return false;
        }
        let mut changed = false;
        let mut still = Vec::new();
        for p in std::mem::take(&mut self.pending) {
            let sym = p.key.symbol;
            match p.reply.try_recv() {
                Ok(Ok(())) if p.add => {
                    self.send(EngineCtl::Watch { key: p.key });
                    self.watch.add_to(&p.list, p.key);
                    self.send(EngineCtl::RecordWatchlistEdit {
                        list: p.list.clone(),
                        key: p.key,
                        added: true,
                    });
                    if p.list != ALL {
                        // a symbol new to the source is in "all" too, for the next start
                        self.send(EngineCtl::RecordWatchlistEdit {
                            list: ALL.into(),
                            key: p.key,
                            added: true,
                        });
                    }
                    self.notice = Some(format!("{sym} added to {}", p.list));
                    changed = true;
                }
                Ok(Ok(())) => {
                    self.watch.remove_from(ALL, p.key);
                    self.send(EngineCtl::Unwatch { key: p.key });
                    self.send(EngineCtl::RecordWatchlistEdit {
                        list: ALL.into(),
                        key: p.key,
                        added: false,
                    });
                    self.notice = Some(format!("{sym} removed and unsubscribed"));
                    changed = true;
                }
                Ok(Err(e)) => {
                    let what = if p.add { "add" } else { "remove" };
                    self.notice = Some(format!("cannot {what} {sym}: {e}"));
                    changed = true;
                }
                Err(flume::TryRecvError::Disconnected) => {
                    self.notice = Some(format!(
                        "the {} source stopped before answering about {sym}",
                        p.key.venue
                    ));
                    changed = true;
                }
                Err(flume::TryRecvError::Empty) if !p.warned && p.asked.elapsed() > ANSWER_WAIT => {
                    self.notice = Some(format!(
                        "no answer from {} about {sym} after {} s; it may be reconnecting (still waiting)",
                        p.key.venue,
                        ANSWER_WAIT.as_secs()
                    ));
                    changed = true;
                    still.push(Pending { warned: true, ..p });
                }
                Err(flume::TryRecvError::Empty) => still.push(p),
            }
        }
        self.pending = still;
        if changed {
            self.rebuild_rows();
        }
        changed
    }
}
