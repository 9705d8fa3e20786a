//! A thread of its own that answers questions about stored data for the screen (the
//! portfolio's value series, the rule form's backtest): the newest question supersedes those
//! queued before it, each answer carries the question's id and how long it took, and dropping
//! the handle ends the thread.

use std::time::{Duration, Instant};

use crate::store::Location;

/// A question with the id its answer echoes.
pub trait Question: Send + 'static {
    fn id(&self) -> u64;
}

/// An answer: the question's id, the result (the reason in words when the database could not
/// be read), and the time it took.
#[derive(Debug, Clone)]
pub struct Reply<A> {
    pub id: u64,
    pub result: Result<A, String>,
    pub elapsed: Duration,
}

/// Handle to the thread.
pub struct Worker<Q, A> {
    tx: flume::Sender<Q>,
    rx: flume::Receiver<Reply<A>>,
}

impl<Q: Question, A: Send + 'static> Worker<Q, A> {
    /// Starts the thread `name`, answering with `answer` over the database at `db`.
    pub fn spawn(
        name: &str,
        db: Location,
        answer: fn(&Location, &Q) -> Result<A, String>,
    ) -> std::io::Result<Worker<Q, A>> {
        let (tx, req_rx) = flume::unbounded::<Q>();
        let (reply_tx, rx) = flume::unbounded();
        std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                while let Ok(first) = req_rx.recv() {
                    let q = req_rx.try_iter().last().unwrap_or(first);
                    let t0 = Instant::now();
                    let result = answer(&db, &q);
                    let reply = Reply {
                        id: q.id(),
                        result,
                        elapsed: t0.elapsed(),
                    };
                    if reply_tx.send(reply).is_err() {
                        break;
                    }
                }
            })?;
        Ok(Worker { tx, rx })
    }

    /// Queues a question; never blocks.
    pub fn request(&self, q: Q) {
        let _ = self.tx.send(q);
    }

    /// A finished answer, if one is waiting.
    pub fn try_recv(&self) -> Option<Reply<A>> {
        self.rx.try_recv().ok()
    }

    /// Waits up to `timeout` for an answer (tests, headless tools).
    pub fn recv_timeout(&self, timeout: Duration) -> Option<Reply<A>> {
        self.rx.recv_timeout(timeout).ok()
    }
}
