//! Symbol changes from the monitor ([`SourceCmd`]) on their way to a venue's connection: the
//! symbol's spelling is checked at once, a new symbol is then checked with the venue's REST API
//! in the background (so an unknown one is refused with the venue's reason before anything is
//! subscribed), and what passes goes to the connection loop, which does the wire part and
//! answers the asker.

use std::collections::HashSet;
use std::sync::Arc;

use tokio::sync::mpsc;

use super::gaps::GapTracker;
use super::session::{BoxFut, Commands};
use crate::domain::Symbol;
use crate::sources::SourceCmd;

/// A venue's REST check of a new symbol: Ok, or why it cannot be subscribed.
pub(crate) type Check = Arc<dyn Fn(Symbol) -> BoxFut<'static, Result<(), String>> + Send + Sync>;

/// A symbol checked with REST: the command and what the check found.
type Checked = (SourceCmd, Result<(), String>);

/// Commands from the monitor and the checks they start.
pub(crate) struct Checker {
    /// None once the monitor's side is gone (or was never taken).
    cmds: Option<flume::Receiver<SourceCmd>>,
    checking: HashSet<Symbol>,
    checked_tx: mpsc::UnboundedSender<Checked>,
    checked_rx: mpsc::UnboundedReceiver<Checked>,
    /// The venue's spelling rule: why `symbol` cannot be one of its symbols, if it cannot.
    spelling: fn(Symbol) -> Option<String>,
    check: Check,
    /// "Coinbase": how answers name the venue.
    title: &'static str,
    /// The source's name, for the log.
    name: String,
}

impl Checker {
    pub fn new(
        cmds: flume::Receiver<SourceCmd>,
        title: &'static str,
        name: &str,
        spelling: fn(Symbol) -> Option<String>,
        check: Check,
    ) -> Self {
        let (checked_tx, checked_rx) = mpsc::unbounded_channel();
        Checker {
            cmds: Some(cmds),
            checking: HashSet::new(),
            checked_tx,
            checked_rx,
            spelling,
            check,
            title,
            name: name.to_string(),
        }
    }

    /// A command from the monitor: a subscribe is checked first (in the background); an
    /// unsubscribe is for the connection to do. `streamed`: whether the symbol is followed.
    fn on_command(&mut self, cmd: SourceCmd, streamed: bool) -> Option<SourceCmd> {
        let symbol = cmd.symbol();
        let (title, name) = (self.title, self.name.as_str());
        match cmd {
            SourceCmd::Subscribe { .. } => {
                let refusal = if let Some(why) = (self.spelling)(symbol) {
                    Some(why)
                } else if streamed {
                    Some(format!("{symbol} is already streamed from {title}"))
                } else if self.checking.contains(&symbol) {
                    Some(format!("{symbol} is being added already"))
                } else {
                    None
                };
                if let Some(why) = refusal {
                    tracing::info!(source = name, "not subscribing {symbol}: {why}");
                    cmd.answer(Err(why));
                    return None;
                }
                tracing::info!(
                    source = name,
                    "checking {symbol} with {title} before subscribing"
                );
                self.checking.insert(symbol);
                let check = (self.check)(symbol);
                let tx = self.checked_tx.clone();
                tokio::spawn(async move {
                    let result = check.await;
                    let _ = tx.send((cmd, result));
                });
                None
            }
            SourceCmd::Unsubscribe { .. } => {
                if self.checking.contains(&symbol) {
                    cmd.answer(Err(format!(
                        "{symbol} is still being added; remove it once that is done"
                    )));
                    return None;
                }
                Some(cmd)
            }
        }
    }

    /// A check finished: refused (answered here) or to subscribe.
    fn on_checked(&mut self, (cmd, result): Checked) -> Option<SourceCmd> {
        let symbol = cmd.symbol();
        self.checking.remove(&symbol);
        match result {
            Ok(()) => Some(cmd),
            Err(why) => {
                tracing::warn!(source = self.name, "not subscribing {symbol}: {why}");
                cmd.answer(Err(why));
                None
            }
        }
    }
}

impl Commands for Checker {
    /// The next change for the connection. Never None: without the monitor's side no change
    /// comes, and the connection keeps streaming what it has.
    fn next<'a>(&'a mut self, gaps: &'a GapTracker) -> BoxFut<'a, Option<SourceCmd>> {
        Box::pin(async move {
            loop {
                let todo = tokio::select! {
                    cmd = recv(&self.cmds) => match cmd {
                        Some(cmd) => {
                            let streamed = gaps.contains(cmd.symbol());
                            self.on_command(cmd, streamed)
                        }
                        None => {
                            self.cmds = None;
                            None
                        }
                    },
                    Some(checked) = self.checked_rx.recv() => self.on_checked(checked),
                };
                if todo.is_some() {
                    return todo;
                }
            }
        })
    }
}

async fn recv(cmds: &Option<flume::Receiver<SourceCmd>>) -> Option<SourceCmd> {
    match cmds {
        Some(rx) => rx.recv_async().await.ok(),
        None => std::future::pending().await,
    }
}
