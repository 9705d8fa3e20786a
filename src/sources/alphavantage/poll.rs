//! The polling loop: picks the next job, waits for its slot in the budget, asks, turns the
//! answer into events or into the right wait, and keeps the status line current. Symbols added
//! or removed from the monitor ([`SourceCmd`]) change the rotation at once and are answered at
//! once; an added symbol's first poll is the next request (and validates it, as at start).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use super::client::{Client, Failure};
use super::eastern::next_eastern_midnight;
use super::schedule::{DayCount, Function, Job, Limits, Rotation, next_request_at};
use super::wire::{Notice, Reply};
use crate::domain::{Candle, EventKind, Interval, MarketEvent, Symbol, TsMs, Venue, iso8601};
use crate::pipeline::{EventSink, SourceState};
use crate::sources::SourceCmd;
use crate::sources::net::Backoff;

/// The wall clock, in ms since the epoch. Injectable so that tests can jump to the next minute
/// or the next quota day.
pub type Clock = Arc<dyn Fn() -> TsMs + Send + Sync>;

/// What the source emits for one symbol's candles: each closed bar once, the newest (possibly
/// still filling) bar as in progress whenever it changed.
#[derive(Debug, Default, Clone)]
pub struct CandleCursor {
    last_closed: Option<TsMs>,
    open: Option<Candle>,
}

impl CandleCursor {
    /// The bars (oldest first) not emitted yet, with `closed`: all but the newest are closed.
    /// A bar sent as in progress that the answer no longer holds (a weekend or a night went by
    /// and the 100 bars start later) is closed as last seen, before the newer ones: the engine
    /// must not fill the time between with flat candles.
    pub fn take(&mut self, bars: &[Candle]) -> Vec<(Candle, bool)> {
        let Some((newest, older)) = bars.split_last() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        if let Some(open) = self.open
            && self.last_closed.is_none_or(|t| open.open_ms > t)
            && bars.iter().all(|c| c.open_ms != open.open_ms)
            && bars.iter().any(|c| c.open_ms > open.open_ms)
        {
            out.push((open, true));
            self.last_closed = Some(open.open_ms);
        }
        for c in older {
            if self.last_closed.is_none_or(|t| c.open_ms > t) {
                out.push((*c, true));
                self.last_closed = Some(c.open_ms);
            }
        }
        if self.last_closed.is_none_or(|t| newest.open_ms > t) && self.open != Some(*newest) {
            out.push((*newest, false));
            self.open = Some(*newest);
        }
        out
    }
}

/// How long after a poll is due its data may take (request timeout, retries) before the
/// source is shown stale.
const DUE_GRACE_MS: TsMs = 120_000;

/// What to show while waiting for the next request.
enum Pending {
    None,
    Retry { attempt: u32, reason: String },
    RateLimited,
}

pub(super) struct Poller {
    pub client: Client,
    pub sink: EventSink,
    pub clock: Clock,
    /// Longest single sleep: long waits re-read the clock this often (a laptop that slept
    /// through the wait, a test clock that jumped) and refresh the status line.
    pub recheck: Duration,
    pub limits: Limits,
    pub interval: Interval,
    pub rotation: Rotation,
    pub backoff: Backoff,
    /// Symbol changes from the monitor (None: none will come).
    pub cmds: Option<flume::Receiver<SourceCmd>>,
    /// The last symbol was removed from the monitor: wait for one rather than fail.
    pub emptied_by_user: bool,
}

/// How a wait ended.
#[derive(Debug, PartialEq, Eq)]
enum Waited {
    Due,
    /// The symbols changed: pick the job again.
    Changed,
}

async fn next_cmd(cmds: &Option<flume::Receiver<SourceCmd>>) -> Option<SourceCmd> {
    match cmds {
        Some(rx) => rx.recv_async().await.ok(),
        None => std::future::pending().await,
    }
}

/// How a request ended, once the source has dealt with it.
enum Step {
    /// Go on; the next request no earlier than this (on top of the budget).
    Next(TsMs),
    /// The engine has stopped.
    Stop,
    /// Give up, with the reason.
    Fail(String),
}

impl Poller {
    fn now(&self) -> TsMs {
        (self.clock)()
    }

    pub async fn run(mut self) -> anyhow::Result<()> {
        self.sink.set_state(SourceState::Connecting);
        let mut count = DayCount::new(self.now());
        let mut cursors: HashMap<Symbol, CandleCursor> = HashMap::new();
        let mut last_request: Option<TsMs> = None;
        let mut not_before = self.now();
        let mut pending = Pending::None;
        let mut last_error: Option<String> = None;
        loop {
            let Some(job) = self.rotation.current() else {
                if self.emptied_by_user {
                    self.idle().await;
                    continue;
                }
                let dropped: Vec<&str> =
                    self.rotation.dropped().iter().map(|s| s.as_str()).collect();
                return self
                    .fail(format!(
                        "no symbols left to poll: Alpha Vantage does not know {}; fix [alphavantage].symbols",
                        dropped.join(", ")
                    ))
                    .await;
            };
            let now = self.now();
            let used = count.used(now);
            let at =
                next_request_at(now, last_request, used, self.limits, job.urgent).max(not_before);
            match &pending {
                Pending::Retry { attempt, reason } => {
                    self.sink.set_state(SourceState::Reconnecting {
                        at_ms: at,
                        attempt: *attempt,
                        reason: reason.clone(),
                    })
                }
                Pending::RateLimited => self
                    .sink
                    .set_state(SourceState::RateLimited { until_ms: at }),
                // our own budget is spent (Alpha Vantage would refuse)
                Pending::None if used >= self.limits.per_day => self
                    .sink
                    .set_state(SourceState::RateLimited { until_ms: at }),
                Pending::None => {}
            }
            if self
                .wait_until(at, job, &mut count, last_error.as_deref())
                .await
                == Waited::Changed
            {
                continue;
            }
            let sent_at = self.now();
            let outcome = self.request(job).await;
            let now = self.now();
            if !self.rotation.contains(job.symbol) {
                // removed while the request ran: its answer is not wanted (but was counted)
                if !matches!(&outcome, Err(f) if !f.counted()) {
                    count.record(sent_at);
                    last_request = Some(sent_at);
                }
                continue;
            }
            let counted = !matches!(&outcome, Err(f) if !f.counted());
            if counted {
                count.record(sent_at);
                last_request = Some(sent_at);
            }
            let step = match outcome {
                Ok(Reply::Data(events)) => {
                    pending = Pending::None;
                    self.backoff.reset();
                    self.rotation.done_for(job.symbol);
                    let events = self.events(job, events, now, &mut cursors);
                    if self.sink.send(events).await.is_err() {
                        Step::Stop
                    } else {
                        // set after the events, so the board never says live before data
                        self.sink.set_state(SourceState::Live);
                        Step::Next(now)
                    }
                }
                Ok(Reply::Notice(n)) => {
                    let (step, error, p) = self.on_notice(job, n, now, &mut count);
                    if let Some(e) = error {
                        self.sink.health().record_error(self.sink.name(), e.clone());
                        last_error = Some(e);
                    }
                    pending = p;
                    step
                }
                Err(f) => {
                    let reason = f.to_string();
                    let delay = self.backoff.next_delay();
                    pending = Pending::Retry {
                        attempt: self.backoff.attempt(),
                        reason: reason.clone(),
                    };
                    last_error = Some(reason);
                    Step::Next(now + delay.as_millis() as TsMs)
                }
            };
            match step {
                Step::Next(t) => not_before = t,
                Step::Stop => return Ok(()),
                Step::Fail(reason) => return self.fail(reason).await,
            }
        }
    }

    /// Makes the request, taking symbol changes while it runs.
    async fn request(&mut self, job: Job) -> Result<Reply<Payload>, Failure> {
        let client = self.client.clone();
        let ask = ask(&client, job);
        tokio::pin!(ask);
        loop {
            tokio::select! {
                outcome = &mut ask => return outcome,
                cmd = next_cmd(&self.cmds) => match cmd {
                    Some(cmd) => self.on_command(cmd),
                    None => self.cmds = None,
                },
            }
        }
    }

    /// A symbol change from the monitor, answered at once.
    fn on_command(&mut self, cmd: SourceCmd) {
        let name = self.sink.name();
        match cmd {
            SourceCmd::Subscribe { symbol, reply } => {
                let answer = if self.rotation.add(symbol) {
                    self.emptied_by_user = false;
                    tracing::info!(
                        source = name,
                        "polling {symbol} from now on; its first request is the next one"
                    );
                    Ok(())
                } else {
                    Err(format!("{symbol} is already polled from Alpha Vantage"))
                };
                let _ = reply.send(answer);
            }
            SourceCmd::Unsubscribe { symbol, reply } => {
                let answer = if self.rotation.remove(symbol) {
                    if self.rotation.active() == 0 {
                        self.emptied_by_user = true;
                    }
                    tracing::info!(source = name, "no longer polling {symbol}");
                    Ok(())
                } else {
                    Err(format!("{symbol} is not polled from Alpha Vantage"))
                };
                let _ = reply.send(answer);
            }
        }
    }

    /// No symbols (all removed from the monitor): nothing is requested until one is added.
    async fn idle(&mut self) {
        let name = self.sink.name();
        self.sink.set_state(SourceState::Finished);
        self.sink.health().expect_data_by(name, None);
        self.sink.health().set_detail(
            name,
            Some("no symbols to poll; add one from the watchlist".into()),
        );
        match next_cmd(&self.cmds).await {
            Some(cmd) => self.on_command(cmd),
            None => {
                self.cmds = None;
                // nobody can add one any more
                std::future::pending::<()>().await;
            }
        }
    }

    fn events(
        &self,
        job: Job,
        payload: Payload,
        now: TsMs,
        cursors: &mut HashMap<Symbol, CandleCursor>,
    ) -> Vec<MarketEvent> {
        let event = |exch_ms: TsMs, kind: EventKind| MarketEvent {
            venue: Venue::AlphaVantage,
            symbol: job.symbol,
            exch_ms,
            recv_ms: now,
            kind,
        };
        match payload {
            Payload::Quote(q) => vec![event(q.as_of_ms(now), EventKind::Stats24h(q.stats()))],
            Payload::Bars(bars) => cursors
                .entry(job.symbol)
                .or_default()
                .take(&bars)
                .into_iter()
                .map(|(candle, closed)| {
                    event(
                        candle.open_ms,
                        EventKind::Candle {
                            interval: self.interval,
                            candle,
                            closed,
                        },
                    )
                })
                .collect(),
        }
    }

    /// Deals with a message Alpha Vantage sent instead of data: what to do next, the error to
    /// show, and what to show while waiting.
    fn on_notice(
        &mut self,
        job: Job,
        notice: Notice,
        now: TsMs,
        count: &mut DayCount,
    ) -> (Step, Option<String>, Pending) {
        let say = |msg: &str| self.client.redact(msg.trim());
        match notice {
            Notice::DailyLimit(msg) => {
                count.exhaust(now, self.limits.per_day);
                let reset = next_eastern_midnight(now);
                let e = format!(
                    "Alpha Vantage's daily limit is reached; the next request goes out at midnight US/Eastern ({}): {}",
                    iso8601(reset),
                    say(&msg)
                );
                (Step::Next(reset), Some(e), Pending::RateLimited)
            }
            Notice::TooFast(msg) => {
                // a new minute (plus a second for clock skew)
                let next = (now.div_euclid(60_000) + 1) * 60_000 + 1_000;
                let e = format!(
                    "Alpha Vantage asks to slow down; waiting for the next minute: {}",
                    say(&msg)
                );
                (Step::Next(next), Some(e), Pending::RateLimited)
            }
            Notice::InvalidKey(msg) => (
                Step::Fail(format!(
                    "Alpha Vantage refused the API key ({}); check ALPHAVANTAGE_API_KEY or [alphavantage].api_key (free key at https://www.alphavantage.co/support/#api-key)",
                    say(&msg)
                )),
                None,
                Pending::None,
            ),
            Notice::Premium(msg) => {
                let f = job.function;
                if !self.rotation.disable(f) {
                    return (
                        Step::Fail(format!(
                            "{} needs a premium Alpha Vantage plan for this key and nothing else is configured ({})",
                            f.name(),
                            say(&msg)
                        )),
                        None,
                        Pending::None,
                    );
                }
                let e = format!(
                    "{} needs a premium Alpha Vantage plan for this key; no more {}, the rest continues ({})",
                    f.name(),
                    f.what(),
                    say(&msg)
                );
                (Step::Next(now), Some(e), Pending::None)
            }
            Notice::InvalidCall(msg) => {
                self.rotation.drop_symbol(job.symbol);
                let e = format!(
                    "Alpha Vantage does not know symbol {} ({}: {}); it is no longer polled: fix [alphavantage].symbols",
                    job.symbol,
                    job.function.name(),
                    say(&msg)
                );
                (Step::Next(now), Some(e), Pending::None)
            }
            Notice::UnknownSymbol => {
                self.rotation.drop_symbol(job.symbol);
                let e = format!(
                    "Alpha Vantage does not know symbol {} (empty {} answer); it is no longer polled: fix [alphavantage].symbols",
                    job.symbol,
                    job.function.name()
                );
                (Step::Next(now), Some(e), Pending::None)
            }
            Notice::Other(msg) => {
                let reason = format!("Alpha Vantage says: {}", say(&msg));
                let delay = self.backoff.next_delay();
                let p = Pending::Retry {
                    attempt: self.backoff.attempt(),
                    reason: reason.clone(),
                };
                (Step::Next(now + delay.as_millis() as TsMs), Some(reason), p)
            }
        }
    }

    /// Sleeps until the clock reads `at`, in steps of at most `recheck`, refreshing the status;
    /// a symbol change ends the wait early.
    async fn wait_until(
        &mut self,
        at: TsMs,
        job: Job,
        count: &mut DayCount,
        error: Option<&str>,
    ) -> Waited {
        loop {
            let now = self.now();
            let left = self.limits.per_day.saturating_sub(count.used(now));
            let detail = status_line(
                self.rotation.active(),
                self.rotation.dropped(),
                left,
                self.limits.per_day,
                (at - now).max(0),
                job,
                error,
            );
            self.sink
                .health()
                .set_detail(self.sink.name(), Some(self.client.redact(&detail)));
            // Polls are hours apart on a free key: the feed is stale only once the poll that
            // is due has had time to answer, not after the usual quiet period.
            self.sink
                .health()
                .expect_data_by(self.sink.name(), Some(at + DUE_GRACE_MS));
            if now >= at {
                return Waited::Due;
            }
            let step = Duration::from_millis((at - now) as u64).min(self.recheck);
            tokio::select! {
                _ = tokio::time::sleep(step) => {}
                cmd = next_cmd(&self.cmds) => match cmd {
                    Some(cmd) => {
                        self.on_command(cmd);
                        return Waited::Changed;
                    }
                    None => self.cmds = None,
                },
            }
        }
    }

    async fn fail(&self, reason: String) -> anyhow::Result<()> {
        let reason = self.client.redact(&reason);
        self.sink.set_state(SourceState::Failed(reason.clone()));
        self.sink.finish().await;
        Err(anyhow::anyhow!(reason))
    }
}

async fn ask(client: &Client, job: Job) -> Result<Reply<Payload>, Failure> {
    Ok(match job.function {
        Function::Quote => match client.global_quote(job.symbol).await? {
            Reply::Data(q) => Reply::Data(Payload::Quote(q)),
            Reply::Notice(n) => Reply::Notice(n),
        },
        Function::Intraday => match client.intraday(job.symbol).await? {
            Reply::Data(d) => Reply::Data(Payload::Bars(d.bars)),
            Reply::Notice(n) => Reply::Notice(n),
        },
    })
}

/// What a successful request brought.
enum Payload {
    Quote(super::wire::GlobalQuote),
    Bars(Vec<Candle>),
}

/// "3 symbols, 17/25 requests left today, next poll in 52 min (IBM quote); last error: ...".
pub fn status_line(
    active: usize,
    dropped: &[Symbol],
    left: u32,
    per_day: u32,
    wait_ms: TsMs,
    job: Job,
    error: Option<&str>,
) -> String {
    let mut s = format!("{active} symbol{}", if active == 1 { "" } else { "s" });
    if !dropped.is_empty() {
        let names: Vec<&str> = dropped.iter().map(|d| d.as_str()).collect();
        s.push_str(&format!(" (unknown: {})", names.join(", ")));
    }
    s.push_str(&format!(
        ", {left}/{per_day} requests left today, next poll {} ({} {})",
        in_words(wait_ms),
        job.symbol,
        job.function.what()
    ));
    if let Some(e) = error {
        s.push_str("; last error: ");
        s.push_str(e);
    }
    s
}

fn in_words(ms: TsMs) -> String {
    let secs = (ms + 999) / 1000;
    match secs {
        0 => "now".into(),
        1..120 => format!("in {secs} s"),
        120..7_200 => format!("in {} min", (secs + 30) / 60),
        _ => format!("in {} h {:02} min", secs / 3600, (secs % 3600) / 60),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bar(open_ms: TsMs, close: f64) -> Candle {
        Candle {
            open_ms,
            open: close,
            high: close,
            low: close,
            close,
            volume: 1.0,
            trades: 0,
        }
    }

    #[test]
    fn each_closed_bar_once_and_the_newest_as_in_progress() {
        let mut c = CandleCursor::default();
        let first = c.take(&[bar(0, 1.0), bar(300, 2.0), bar(600, 3.0)]);
        assert_eq!(
            first,
            vec![
                (bar(0, 1.0), true),
                (bar(300, 2.0), true),
                (bar(600, 3.0), false)
            ]
        );
        // the same answer again: nothing new
        assert!(
            c.take(&[bar(0, 1.0), bar(300, 2.0), bar(600, 3.0)])
                .is_empty()
        );
        // the newest bar grew: sent again, still in progress
        assert_eq!(
            c.take(&[bar(300, 2.0), bar(600, 3.5)]),
            vec![(bar(600, 3.5), false)]
        );
        // a later answer: 600 is now closed (once), 900 in progress; 0 and 300 not repeated
        assert_eq!(
            c.take(&[bar(0, 1.0), bar(300, 2.0), bar(600, 3.6), bar(900, 4.0)]),
            vec![(bar(600, 3.6), true), (bar(900, 4.0), false)]
        );
        // an older answer (a lagging server) changes nothing
        assert!(c.take(&[bar(300, 2.0), bar(600, 3.6)]).is_empty());
        assert!(c.take(&[]).is_empty());
    }

    #[test]
    fn an_in_progress_bar_gone_from_the_answer_is_closed_as_last_seen() {
        let mut c = CandleCursor::default();
        c.take(&[bar(0, 1.0), bar(300, 2.0)]);
        // Monday's bars no longer reach back to Friday's last one
        let monday = 300 + 60 * 3_600;
        assert_eq!(
            c.take(&[bar(monday, 5.0), bar(monday + 300, 6.0)]),
            vec![
                (bar(300, 2.0), true),
                (bar(monday, 5.0), true),
                (bar(monday + 300, 6.0), false)
            ]
        );
        // an answer that still holds it, or holds nothing newer, does not close it early
        let mut c = CandleCursor::default();
        c.take(&[bar(0, 1.0), bar(300, 2.0)]);
        assert!(c.take(&[bar(0, 1.0)]).is_empty());
        assert_eq!(
            c.take(&[bar(300, 2.5), bar(600, 3.0)]),
            vec![(bar(300, 2.5), true), (bar(600, 3.0), false)]
        );
    }

    #[test]
    fn the_status_line_says_budget_next_poll_and_error() {
        let job = Job {
            symbol: Symbol::new("IBM").unwrap(),
            function: Function::Quote,
            urgent: false,
        };
        assert_eq!(
            status_line(3, &[], 17, 25, 52 * 60_000, job, Some("HTTP 503")),
            "3 symbols, 17/25 requests left today, next poll in 52 min (IBM quote); last error: HTTP 503"
        );
        let foo = [Symbol::new("FOO").unwrap()];
        assert_eq!(
            status_line(1, &foo, 0, 25, 0, job, None),
            "1 symbol (unknown: FOO), 0/25 requests left today, next poll now (IBM quote)"
        );
        assert_eq!(in_words(1), "in 1 s");
        assert_eq!(in_words(119_000), "in 119 s");
        assert_eq!(in_words(3 * 3_600_000 + 8 * 60_000), "in 3 h 08 min");
    }
}
