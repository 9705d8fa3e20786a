//! Products added and removed while the source runs ([`SourceCmd`]). A new product is checked
//! with REST first (`/products/{id}`: 404 means Coinbase does not list it); then a `subscribe`
//! goes out for the same channels as at connect, and the answer waits for the `subscriptions`
//! message that lists it (an `unsubscribe`: one that no longer does), or gives up after
//! [`ANSWER_TIMEOUT`].

use std::collections::HashSet;

use tokio::sync::mpsc;

use super::rest::{RestClient, RestError};
use super::ws::CHANNELS;
use crate::domain::Symbol;
use crate::sources::SourceCmd;

use crate::sources::live::GapTracker;
use crate::sources::live::changes::{Change, Kind};
use crate::sources::live::session::{BoxFut, Commands};

/// Whether a `subscriptions` message lists `product` (in every one of our channels that lists
/// products), or lists it nowhere.
fn listed(channels: &[(String, Vec<String>)], product: Symbol) -> (bool, bool) {
    let ours: Vec<&Vec<String>> = channels
        .iter()
        .filter(|(name, _)| CHANNELS.contains(&name.as_str()))
        .map(|(_, ids)| ids)
        .collect();
    let has = |ids: &Vec<String>| ids.iter().any(|p| p.eq_ignore_ascii_case(product.as_str()));
    let everywhere = ours.iter().any(|ids| has(ids))
        && ours
            .iter()
            .filter(|ids| !ids.is_empty())
            .all(|ids| has(ids));
    let nowhere = !channels.iter().any(|(_, ids)| has(ids));
    (everywhere, nowhere)
}

/// Whether a `subscriptions` message confirms `c`: a subscribe once every one of our channels
/// lists the product, an unsubscribe once none does.
pub(crate) fn confirms(channels: &[(String, Vec<String>)], c: &Change) -> bool {
    let (everywhere, nowhere) = listed(channels, c.symbol);
    match c.kind {
        Kind::Subscribe => everywhere,
        Kind::Unsubscribe => nowhere,
    }
}

/// A product checked with REST: the command and what the check found.
pub(crate) type Checked = (SourceCmd, Result<(), String>);

/// Commands from the monitor and the REST checks they start.
pub(crate) struct Control {
    /// None once the monitor's side is gone (or was never taken).
    cmds: Option<flume::Receiver<SourceCmd>>,
    checking: HashSet<Symbol>,
    checked_tx: mpsc::UnboundedSender<Checked>,
    checked_rx: mpsc::UnboundedReceiver<Checked>,
    rest: RestClient,
    /// The source's name, for the log.
    name: String,
}

/// What the connection has to do next.
pub(crate) enum Todo {
    /// A checked product to subscribe, or a product to unsubscribe.
    Apply(SourceCmd),
    Nothing,
}

impl Control {
    pub fn new(cmds: flume::Receiver<SourceCmd>, rest: RestClient, name: &str) -> Self {
        let (checked_tx, checked_rx) = mpsc::unbounded_channel();
        Control {
            cmds: Some(cmds),
            checking: HashSet::new(),
            checked_tx,
            checked_rx,
            rest,
            name: name.to_string(),
        }
    }

    /// The next command or finished check (pending forever when there is none).
    pub async fn next(&mut self) -> Either {
        tokio::select! {
            cmd = recv(&self.cmds) => match cmd {
                Some(cmd) => Either::Cmd(cmd),
                None => {
                    self.cmds = None;
                    Either::Closed
                }
            },
            Some(checked) = self.checked_rx.recv() => Either::Checked(checked),
        }
    }

    /// A command from the monitor: a subscribe is checked with REST first (in the background);
    /// an unsubscribe is for the connection to do. `streamed`: whether the product is followed.
    pub fn on_command(
        &mut self,
        cmd: SourceCmd,
        streamed: bool,
        rest: &RestClient,
        name: &str,
    ) -> Todo {
        let product = cmd.symbol();
        match cmd {
            SourceCmd::Subscribe { .. } => {
                let refusal = if !is_product_id(product) {
                    Some(format!(
                        "{product} is not a Coinbase product id (base and quote joined by '-', e.g. BTC-USD)"
                    ))
                } else if streamed {
                    Some(format!("{product} is already streamed from Coinbase"))
                } else if self.checking.contains(&product) {
                    Some(format!("{product} is being added already"))
                } else {
                    None
                };
                if let Some(why) = refusal {
                    tracing::info!(source = name, "not subscribing {product}: {why}");
                    cmd.answer(Err(why));
                    return Todo::Nothing;
                }
                tracing::info!(
                    source = name,
                    "checking {product} with Coinbase before subscribing"
                );
                self.checking.insert(product);
                let rest = rest.clone();
                let tx = self.checked_tx.clone();
                tokio::spawn(async move {
                    let result = match rest.product_status(product, |_| {}).await {
                        Ok(status) if status.eq_ignore_ascii_case("delisted") => {
                            Err(format!("{product} is delisted on Coinbase Exchange"))
                        }
                        Ok(_) => Ok(()),
                        Err(RestError::UnknownProduct { .. }) => {
                            Err(format!("{product} is not a Coinbase Exchange product"))
                        }
                        Err(e) => Err(format!(
                            "could not check {product} with Coinbase ({e}); try again"
                        )),
                    };
                    let _ = tx.send((cmd, result));
                });
                Todo::Nothing
            }
            SourceCmd::Unsubscribe { .. } => {
                if self.checking.contains(&product) {
                    cmd.answer(Err(format!(
                        "{product} is still being added; remove it once that is done"
                    )));
                    return Todo::Nothing;
                }
                Todo::Apply(cmd)
            }
        }
    }

    /// A REST check finished: refused (answered here) or to subscribe.
    pub fn on_checked(&mut self, (cmd, result): Checked, name: &str) -> Todo {
        let product = cmd.symbol();
        self.checking.remove(&product);
        match result {
            Ok(()) => Todo::Apply(cmd),
            Err(why) => {
                tracing::warn!(source = name, "not subscribing {product}: {why}");
                cmd.answer(Err(why));
                Todo::Nothing
            }
        }
    }
}

impl Commands for Control {
    /// The next change for the connection: a subscribe once REST found the product, an
    /// unsubscribe at once. Refusals are answered here. Never None: without the monitor's side
    /// no change comes, and the connection keeps streaming what it has.
    fn next<'a>(&'a mut self, gaps: &'a GapTracker) -> BoxFut<'a, Option<SourceCmd>> {
        Box::pin(async move {
            loop {
                let todo = match Control::next(self).await {
                    Either::Cmd(cmd) => {
                        let streamed = gaps.contains(cmd.symbol());
                        let rest = self.rest.clone();
                        let name = self.name.clone();
                        self.on_command(cmd, streamed, &rest, &name)
                    }
                    Either::Checked(c) => {
                        let name = self.name.clone();
                        self.on_checked(c, &name)
                    }
                    Either::Closed => Todo::Nothing,
                };
                if let Todo::Apply(cmd) = todo {
                    return Some(cmd);
                }
            }
        })
    }
}

/// What [`Control::next`] found.
pub(crate) enum Either {
    Cmd(SourceCmd),
    Checked(Checked),
    /// The monitor's side is gone: no more commands.
    Closed,
}

async fn recv(cmds: &Option<flume::Receiver<SourceCmd>>) -> Option<SourceCmd> {
    match cmds {
        Some(rx) => rx.recv_async().await.ok(),
        None => std::future::pending().await,
    }
}

/// `BASE-QUOTE`, letters and digits on each side.
fn is_product_id(p: Symbol) -> bool {
    let s = p.as_str();
    s.split('-').count() == 2
        && s.split('-')
            .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_alphanumeric()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::live::changes::{ANSWER_TIMEOUT, Changes};
    use std::time::Duration;
    use tokio::time::Instant;

    fn confirmed(c: &mut Changes, channels: &[(String, Vec<String>)]) -> Vec<Change> {
        c.confirmed_where(|x| confirms(channels, x))
    }

    fn sym(s: &str) -> Symbol {
        Symbol::new(s).unwrap()
    }

    fn subs(products: &[&str]) -> Vec<(String, Vec<String>)> {
        let ids: Vec<String> = products.iter().map(|p| p.to_string()).collect();
        CHANNELS
            .iter()
            .map(|c| (c.to_string(), ids.clone()))
            .collect()
    }

    #[test]
    fn a_change_is_confirmed_by_the_subscriptions_that_list_it_or_not() {
        let t0 = Instant::now();
        let mut c = Changes::default();
        let (tx, rx) = flume::unbounded();
        c.sent(sym("ETH-USD"), Kind::Subscribe, tx.clone(), Vec::new(), t0);
        c.sent(sym("SOL-USD"), Kind::Unsubscribe, tx, Vec::new(), t0);
        // the answer to an earlier subscribe: neither yet
        assert!(confirmed(&mut c, &subs(&["BTC-USD", "SOL-USD"])).is_empty());
        // listed in only one channel: not yet
        let mut partial = subs(&["BTC-USD"]);
        partial[0].1.push("ETH-USD".into());
        assert!(
            confirmed(&mut c, &partial)
                .iter()
                .all(|x| x.kind == Kind::Unsubscribe)
        );
        let done = confirmed(&mut c, &subs(&["BTC-USD", "ETH-USD"]));
        assert_eq!(done.len(), 1);
        assert_eq!(done[0].symbol, sym("ETH-USD"));
        done.into_iter().for_each(|d| d.answer(Ok(())));
        assert_eq!(rx.try_recv().unwrap(), Ok(()));
        assert!(c.is_empty());
    }

    #[test]
    fn carried_subscribes_wait_for_the_next_connection_and_time_out_only_on_the_wire() {
        let t0 = Instant::now();
        let mut c = Changes::default();
        let (tx, _rx) = flume::unbounded();
        c.sent(sym("ETH-USD"), Kind::Subscribe, tx.clone(), Vec::new(), t0);
        c.sent(
            sym("SOL-USD"),
            Kind::Unsubscribe,
            tx.clone(),
            Vec::new(),
            t0,
        );
        c.carried(sym("XRP-USD"), tx, t0);
        let done = c.disconnected();
        assert_eq!(done.len(), 1);
        assert_eq!(done[0].symbol, sym("SOL-USD"));
        assert_eq!(c.next_deadline(), None);
        assert!(c.expired(t0 + Duration::from_secs(600)).is_empty());
        assert!(
            confirmed(&mut c, &subs(&["ETH-USD", "XRP-USD"])).is_empty(),
            "not on the wire"
        );
        let t1 = t0 + Duration::from_secs(60);
        c.connected(&[], t1);
        assert_eq!(c.next_deadline(), Some(t1 + ANSWER_TIMEOUT));
        assert_eq!(c.expired(t1 + ANSWER_TIMEOUT).len(), 2);
        assert!(c.take_subscribe(sym("ETH-USD")).is_none());
    }

    #[test]
    fn product_ids_are_base_dash_quote() {
        assert!(is_product_id(sym("BTC-USD")));
        assert!(!is_product_id(sym("BTCUSD")));
        assert!(!is_product_id(sym("BTC-")));
        assert!(!is_product_id(sym("A-B-C")));
    }
}
