//! Symbol changes of one connection that wait for the venue's answer, for every venue. A change
//! is on the wire once its message went out on the current connection, or carried (a subscribe
//! asked for while disconnected: the next connection's subscribe includes it). It is done when
//! the venue confirms it, by request ids (Binance's `{"result":null,"id":N}`: every id of the
//! change acknowledged) or by what the venue says it now streams (Coinbase's `subscriptions`:
//! see [`Changes::confirmed_where`]); refused by an error that carries one of its ids; given up
//! after [`ANSWER_TIMEOUT`]. At a disconnect, unsubscribes are done (the next connection leaves
//! them out) and subscribes are carried. Clock-free and runtime-free, so it is tested on its own.

use tokio::time::Instant;

use crate::domain::Symbol;

pub(crate) use crate::sources::{
    CONFIRM_TIMEOUT as ANSWER_TIMEOUT, ChangeKind as Kind, CmdReply as Reply,
};

/// One change waiting for its answer.
#[derive(Debug)]
pub(crate) struct Change {
    pub symbol: Symbol,
    pub kind: Kind,
    pub reply: Reply,
    /// Request ids not acknowledged yet (empty for a venue that confirms otherwise).
    ids: Vec<u64>,
    /// Sent on the current connection (false while carried to the next one).
    on_wire: bool,
    deadline: Instant,
}

impl Change {
    pub fn answer(self, result: Result<(), String>) {
        // the asker may have gone: that is fine
        let _ = self.reply.send(result);
    }
}

#[derive(Debug, Default)]
pub(crate) struct Changes {
    waiting: Vec<Change>,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }

    /// A change sent at `now` as the requests `ids` (none for a venue that does not number
    /// its requests).
    pub fn sent(&mut self, symbol: Symbol, kind: Kind, reply: Reply, ids: Vec<u64>, now: Instant) {
        self.waiting.push(Change {
            symbol,
            kind,
            reply,
            ids,
            on_wire: true,
            deadline: now + ANSWER_TIMEOUT,
        });
    }

    /// A subscribe asked for while not connected: the next connection's subscribe carries it.
    pub fn carried(&mut self, symbol: Symbol, reply: Reply, now: Instant) {
        self.waiting.push(Change {
            symbol,
            kind: Kind::Subscribe,
            reply,
            ids: Vec::new(),
            on_wire: false,
            deadline: now + ANSWER_TIMEOUT,
        });
    }

    /// The subscribe of `symbol` waiting for an answer, taken out.
    pub fn take_subscribe(&mut self, symbol: Symbol) -> Option<Change> {
        let i = self
            .waiting
            .iter()
            .position(|c| c.symbol == symbol && c.kind == Kind::Subscribe)?;
        Some(self.waiting.remove(i))
    }

    /// A connection is up and its first subscribe went out (as `ids`, if the venue numbers
    /// requests): the carried subscribes are on the wire and wait for them.
    pub fn connected(&mut self, ids: &[u64], now: Instant) {
        for c in self.waiting.iter_mut().filter(|c| !c.on_wire) {
            c.ids = ids.to_vec();
            c.on_wire = true;
            c.deadline = now + ANSWER_TIMEOUT;
        }
    }

    /// The connection is gone. Unsubscribes are done (the next connection leaves them out) and
    /// returned; subscribes are carried to the next connection.
    pub fn disconnected(&mut self) -> Vec<Change> {
        let (done, carried): (Vec<Change>, Vec<Change>) = std::mem::take(&mut self.waiting)
            .into_iter()
            .partition(|c| c.kind == Kind::Unsubscribe);
        self.waiting = carried;
        for c in &mut self.waiting {
            c.ids.clear();
            c.on_wire = false;
        }
        done
    }

    /// Request `id` was acknowledged: the changes it completed.
    pub fn acked(&mut self, id: u64) -> Vec<Change> {
        let mut done = Vec::new();
        let mut i = 0;
        while i < self.waiting.len() {
            let c = &mut self.waiting[i];
            let had = c.ids.len();
            c.ids.retain(|x| *x != id);
            if had > 0 && c.ids.is_empty() {
                done.push(self.waiting.remove(i));
            } else {
                i += 1;
            }
        }
        done
    }

    /// Request `id` was refused: the changes it belonged to.
    pub fn refused(&mut self, id: u64) -> Vec<Change> {
        self.take_where(|c| c.ids.contains(&id))
    }

    /// The changes on the wire that `done` says the venue has now made (for a venue that
    /// confirms by listing what it streams).
    pub fn confirmed_where(&mut self, done: impl Fn(&Change) -> bool) -> Vec<Change> {
        self.take_where(|c| c.on_wire && done(c))
    }

    /// Changes whose answer is overdue at `now` (carried ones wait for their connection).
    pub fn expired(&mut self, now: Instant) -> Vec<Change> {
        self.take_where(|c| c.on_wire && c.deadline <= now)
    }

    /// When the next change is overdue, if any is waiting on the wire.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.waiting
            .iter()
            .filter(|c| c.on_wire)
            .map(|c| c.deadline)
            .min()
    }

    fn take_where(&mut self, f: impl Fn(&Change) -> bool) -> Vec<Change> {
        let (hit, keep): (Vec<Change>, Vec<Change>) =
            std::mem::take(&mut self.waiting).into_iter().partition(f);
        self.waiting = keep;
        hit
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn sym(s: &str) -> Symbol {
        Symbol::new(s).unwrap()
    }

    fn reply() -> (Reply, flume::Receiver<Result<(), String>>) {
        flume::unbounded()
    }

    #[test]
    fn a_change_is_done_when_every_id_is_acked() {
        let t0 = Instant::now();
        let mut c = Changes::default();
        let (tx, _rx) = reply();
        c.sent(sym("ETHUSDT"), Kind::Subscribe, tx, vec![3, 4], t0);
        assert!(c.acked(3).is_empty());
        assert!(c.acked(99).is_empty());
        let done = c.acked(4);
        assert_eq!(done.len(), 1);
        assert_eq!(done[0].symbol, sym("ETHUSDT"));
        assert!(c.is_empty());
    }

    #[test]
    fn refused_and_overdue_changes_are_taken_out() {
        let t0 = Instant::now();
        let mut c = Changes::default();
        let (tx, rx) = reply();
        c.sent(sym("ETHUSDT"), Kind::Subscribe, tx.clone(), vec![5], t0);
        c.sent(sym("SOLUSDT"), Kind::Unsubscribe, tx, vec![6], t0);
        assert_eq!(c.next_deadline(), Some(t0 + ANSWER_TIMEOUT));
        let refused = c.refused(5);
        assert_eq!(refused.len(), 1);
        refused
            .into_iter()
            .for_each(|ch| ch.answer(Err("no".into())));
        assert_eq!(rx.try_recv().unwrap(), Err("no".to_string()));
        assert!(c.expired(t0 + Duration::from_secs(9)).is_empty());
        let late = c.expired(t0 + ANSWER_TIMEOUT);
        assert_eq!(late[0].symbol, sym("SOLUSDT"));
        assert_eq!(c.next_deadline(), None);
    }

    #[test]
    fn subscribes_are_carried_across_a_reconnect_and_unsubscribes_are_done() {
        let t0 = Instant::now();
        let mut c = Changes::default();
        let (tx, _rx) = reply();
        c.sent(sym("ETHUSDT"), Kind::Subscribe, tx.clone(), vec![1], t0);
        c.sent(sym("SOLUSDT"), Kind::Unsubscribe, tx.clone(), vec![2], t0);
        c.carried(sym("XRPUSDT"), tx, t0);
        let done = c.disconnected();
        assert_eq!(done.len(), 1);
        assert_eq!(done[0].kind, Kind::Unsubscribe);
        // carried ones never expire while offline, and wait for the new connection's ids
        assert_eq!(c.next_deadline(), None);
        assert!(c.expired(t0 + Duration::from_secs(3600)).is_empty());
        assert!(
            c.acked(1).is_empty(),
            "the old connection's id is forgotten"
        );
        let t1 = t0 + Duration::from_secs(30);
        c.connected(&[10, 11], t1);
        assert_eq!(c.next_deadline(), Some(t1 + ANSWER_TIMEOUT));
        assert!(c.acked(10).is_empty());
        let done = c.acked(11);
        assert_eq!(done.len(), 2, "both carried subscribes");
        assert!(c.take_subscribe(sym("ETHUSDT")).is_none());
    }
}
