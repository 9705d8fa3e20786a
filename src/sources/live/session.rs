//! The session loop every WebSocket venue runs, written once: connect and subscribe (control
//! messages paced to the venue's limit), read without pause (tungstenite answers the server's
//! pings only while reading), keepalive in the venue's style, a watchdog for a quiet feed,
//! rollover to a fresh connection before the venue's connection lifetime ends, reconnect with
//! backoff and jitter, symbols added and removed while running (answered once the venue
//! confirmed), gap tracking and REST refill through the [`GapTracker`], and the health states.
//!
//! What differs between venues is behind [`LiveVenue`]: URLs, control messages, how a text
//! frame is read and what it means (through the [`Session`] methods a venue calls), how a gap is
//! fetched, limits. barter-data's `Connector` trait is the model.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use futures_util::{FutureExt, SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep_until, timeout};
use tokio_tungstenite::tungstenite::{self, Message};

use super::changes::{ANSWER_TIMEOUT, Change, Changes, Kind};
use super::fill::{FillDone, FillRequest};
use super::gaps::GapTracker;
use super::source::LiveStats;
use crate::domain::{MarketEvent, Symbol, TsMs, now_ms};
use crate::pipeline::{EngineGone, EventSink, SourceState, session_state};
use crate::sources::SourceCmd;
use crate::sources::net::handout::hand_out;
use crate::sources::net::ws::{Ws, close_reason, connect_ws, describe_ws_error, reconnecting};
use crate::sources::net::{Backoff, MessageLimiter, Watchdog};

/// Frames read in one go before the batch is handed on.
const DRAIN: usize = 512;
/// Events per batch handed to the sink.
pub(crate) const BATCH: usize = 2048;
/// How long the old connection keeps running after its replacement delivered data.
const OVERLAP: Duration = Duration::from_secs(3);

/// A venue's limits and timings.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// Control messages we send per second at most.
    pub sends_per_sec: usize,
    pub connect_timeout: Duration,
    /// Silence after which the connection counts as dead.
    pub stale_after: Duration,
    pub backoff_initial: Duration,
    pub backoff_max: Duration,
    /// Replace the connection after this long (the venue cuts it at its lifetime).
    pub rollover: Option<Duration>,
    /// Send this text whenever nothing was sent for this long (venues that want an
    /// application-level ping, e.g. OKX's `ping`).
    pub keepalive: Option<(Duration, String)>,
    /// When the venue refuses the last symbol as unknown, the source has nothing to do: the
    /// loop ends (a source with one connection) instead of idling for a symbol to be added.
    pub stop_when_refused: bool,
    /// The venue answers nothing to a subscribe (Yahoo's streamer): a change counts as done
    /// once its message is on the wire.
    pub confirm_on_send: bool,
    /// Nothing streams candles: each symbol's closed 1m candles are fetched this often.
    pub poll_candles: Option<Duration>,
}

impl Settings {
    /// The usual settings of a one-connection venue: its pace of control messages and its
    /// config's watchdog and backoff, no connection lifetime, a 10 s connect timeout, and the
    /// source ending when every symbol was refused.
    pub fn one_connection(
        sends_per_sec: usize,
        stale_after_secs: u64,
        backoff_initial_ms: u64,
        backoff_max_ms: u64,
        keepalive: Option<(Duration, String)>,
    ) -> Settings {
        Settings {
            sends_per_sec,
            connect_timeout: Duration::from_secs(10),
            stale_after: Duration::from_secs(stale_after_secs),
            backoff_initial: Duration::from_millis(backoff_initial_ms),
            backoff_max: Duration::from_millis(backoff_max_ms),
            rollover: None,
            keepalive,
            stop_when_refused: true,
            confirm_on_send: false,
            poll_candles: None,
        }
    }
}

/// Why a connection ended.
pub(crate) enum End {
    Reconnect {
        reason: String,
        /// The venue asked for it (a server shutdown notice): no backoff.
        immediate: bool,
    },
    /// No symbols are left: the connection is closed until one is added.
    Idle,
    /// The venue refused every symbol (see [`Settings::stop_when_refused`]).
    Refused,
    EngineGone,
}

impl End {
    pub fn reconnect(reason: impl Into<String>) -> End {
        End::Reconnect {
            reason: reason.into(),
            immediate: false,
        }
    }
}

impl From<EngineGone> for End {
    fn from(_: EngineGone) -> Self {
        End::EngineGone
    }
}

/// A boxed future that lives as long as `'a`.
pub(crate) type BoxFut<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What a venue supplies. One value per connection loop (Binance runs several, one per shard).
pub(crate) trait LiveVenue: Send + Sync + Sized + 'static {
    /// The venue's REST error, carried by a fill's answer.
    type Error: std::fmt::Display + Send + 'static;

    /// How messages name the venue: "Binance", "Coinbase".
    fn title(&self) -> &'static str;
    fn sink(&self) -> &EventSink;
    fn settings(&self) -> Settings;
    fn url(&self) -> String;
    /// The messages that subscribe (`subscribe`) or unsubscribe `symbols`, in the venue's
    /// limits, with the request ids they carry (none when the venue does not number requests).
    fn requests(&self, subscribe: bool, symbols: &[Symbol]) -> (Vec<String>, Vec<u64>);
    /// Reads one text frame and acts on it through `s`; returns why the connection is over.
    fn on_text(&self, text: &str, s: &mut Session<'_, Self>) -> Option<End>;
    /// Fetches what a gap needs; `on_rate_limit` shows a rate limit until the given time.
    fn fill(
        &self,
        req: FillRequest,
        on_rate_limit: Box<dyn Fn(TsMs) + Send + Sync>,
    ) -> BoxFut<'static, FillDone<Self::Error>>;
    /// The symbol a fill's error says the venue does not know.
    fn unknown_symbol(&self, e: &Self::Error) -> Option<Symbol>;
    /// The answer to a subscribe of a symbol the venue does not know.
    fn not_listed(&self, symbol: Symbol) -> String {
        format!("{symbol} is not a symbol {} lists", self.title())
    }
    /// Until when the venue's REST budget is waiting out a rate limit (in the past: none).
    fn rate_limited_until(&self) -> TsMs;
    /// The counters of a one-connection venue, when it keeps [`LiveStats`]: the defaults below
    /// use them.
    fn stats(&self) -> Option<&LiveStats> {
        None
    }
    /// Shows the connection's state (a venue with several connections combines them).
    fn show(&self, state: SourceState) {
        self.sink().set_state(state);
    }
    /// A venue error worth showing (quoted from outside: made safe here first).
    fn record_error(&self, msg: String) {
        match self.stats() {
            Some(st) => st.record_error(self.sink(), msg),
            None => {
                let msg = crate::format::visible(&msg);
                tracing::warn!(source = self.sink().name(), "{msg}");
                self.sink().health().record_error(self.sink().name(), msg);
            }
        }
    }
    /// The connection stopped following `symbol` on its own: the venue refused it, did not
    /// confirm it, or does not know it (`invalid`).
    fn forgot(&self, symbol: Symbol, invalid: bool) {
        if invalid && let Some(st) = self.stats() {
            st.mark_invalid(symbol, true);
        }
    }
    /// The venue confirmed the subscription of `symbol`.
    fn confirmed(&self, symbol: Symbol) {
        if let Some(st) = self.stats() {
            st.mark_invalid(symbol, false);
        }
    }
    /// Where the symbols whose order book channel must be subscribed again come from (a
    /// venue keeping local books); taken once per connection loop.
    fn take_resubscribes(&self) -> Option<mpsc::UnboundedReceiver<Symbol>> {
        None
    }
    /// The messages that unsubscribe and subscribe again `symbol`'s order book channel.
    fn book_resubscribe(&self, _symbol: Symbol) -> Vec<String> {
        Vec::new()
    }
    /// A connection ended (whatever it carried is no longer current).
    fn disconnected(&self) {}
    /// After each hand-over: events sent so far in this call, symbols followed, trades lost.
    fn counted(&self, sent: u64, symbols: usize, missing: u64) {
        if let Some(st) = self.stats() {
            st.counted(sent, symbols, missing);
        }
    }
}

/// Where a connection loop gets its symbol changes from, checked as the venue needs.
pub(crate) trait Commands: Send {
    /// The next change to carry out; None once none can come any more. `gaps`: what the
    /// connection follows now.
    fn next<'a>(&'a mut self, gaps: &'a GapTracker) -> BoxFut<'a, Option<SourceCmd>>;
}

impl Commands for mpsc::UnboundedReceiver<SourceCmd> {
    fn next<'a>(&'a mut self, _gaps: &'a GapTracker) -> BoxFut<'a, Option<SourceCmd>> {
        Box::pin(self.recv())
    }
}

/// One open WebSocket with its paced outbox.
struct Conn {
    ws: Ws,
    limiter: MessageLimiter,
    outbox: VecDeque<String>,
    /// When it first delivered data (a rollover closes the old one soon after).
    first_data: Option<Instant>,
    /// When something was last sent (for the keepalive).
    last_sent: Instant,
}

/// Opens a connection and queues the subscribe for `symbols`; returns it and the request ids
/// of that subscribe.
async fn connect<V: LiveVenue>(v: &V, symbols: &[Symbol]) -> Result<(Conn, Vec<u64>), String> {
    let set = v.settings();
    let ws = connect_ws(&v.url(), set.connect_timeout).await?;
    let (msgs, ids) = v.requests(true, symbols);
    let conn = Conn {
        ws,
        limiter: MessageLimiter::new(set.sends_per_sec.max(1), Duration::from_secs(1)),
        outbox: msgs.into(),
        first_data: None,
        last_sent: Instant::now(),
    };
    Ok((conn, ids))
}

/// Runs one connection loop until the engine goes away (`Err`), the commands end while nothing
/// is followed, or the venue refused every symbol (`Ok`).
pub(crate) async fn run<V: LiveVenue>(
    v: V,
    mut gaps: GapTracker,
    mut cmds: impl Commands,
) -> Result<(), EngineGone> {
    let set = v.settings();
    let mut changes = Changes::default();
    let (fill_tx, mut fill_rx) = mpsc::unbounded_channel::<FillDone<V::Error>>();
    let mut backoff = Backoff::new(set.backoff_initial, set.backoff_max);
    let name = v.sink().name().to_string();
    let mut resubscribes = v.take_resubscribes();
    loop {
        v.counted(0, gaps.len(), gaps.missing);
        if gaps.is_empty() {
            // nothing to stream: no connection until a symbol is added
            v.show(SourceState::Finished);
            match cmds.next(&gaps).await {
                Some(cmd) => offline(&v, &mut gaps, &mut changes, cmd),
                None => return Ok(()),
            }
            continue;
        }
        v.show(SourceState::Connecting);
        let end = match connect(&v, &gaps.symbols()).await {
            Ok((conn, ids)) => {
                changes.connected(&ids, Instant::now());
                let mut s = Session {
                    v: &v,
                    gaps: &mut gaps,
                    changes: &mut changes,
                    fill_tx: &fill_tx,
                    backoff: &mut backoff,
                    watchdog: Watchdog::new(set.stale_after),
                    live: false,
                    delivered: false,
                    last_data_ms: now_ms(),
                    out: Vec::new(),
                    sends: Vec::new(),
                };
                s.run(conn, &mut fill_rx, &mut cmds, &mut resubscribes)
                    .await
            }
            Err(reason) => End::reconnect(reason),
        };
        v.disconnected();
        for c in changes.disconnected() {
            tracing::info!(
                source = %name,
                "{} unsubscribed with its connection; the next one leaves it out",
                c.symbol
            );
            c.answer(Ok(()));
        }
        match end {
            End::EngineGone => return Err(EngineGone),
            End::Refused => return Ok(()),
            End::Idle => {
                tracing::info!(source = %name, "no symbols left on this connection; closed it");
                backoff.reset();
            }
            End::Reconnect { reason, immediate } => {
                let delay = if immediate {
                    backoff.reset();
                    Duration::ZERO
                } else {
                    backoff.next_delay()
                };
                v.show(reconnecting(&backoff, delay, reason));
                // symbol changes are taken while waiting
                let until = Instant::now() + delay;
                let mut open = true;
                loop {
                    tokio::select! {
                        _ = sleep_until(until) => break,
                        cmd = cmds.next(&gaps), if open => match cmd {
                            Some(cmd) => offline(&v, &mut gaps, &mut changes, cmd),
                            None => open = false,
                        },
                    }
                }
            }
        }
    }
}

/// A change asked for while there is no connection (waiting to reconnect, or idle): a
/// subscribe waits for the next connection, an unsubscribe is done at once.
fn offline<V: LiveVenue>(v: &V, gaps: &mut GapTracker, changes: &mut Changes, cmd: SourceCmd) {
    let (name, title) = (v.sink().name(), v.title());
    match cmd {
        SourceCmd::Subscribe { symbol, reply } => {
            if !gaps.add(symbol) {
                let _ = reply.send(Err(format!("{symbol} is already streamed from {title}")));
                return;
            }
            tracing::info!(
                source = name,
                "{symbol} will be subscribed when the connection is up"
            );
            changes.carried(symbol, reply, Instant::now());
        }
        SourceCmd::Unsubscribe { symbol, reply } => {
            if let Some(c) = changes.take_subscribe(symbol) {
                c.answer(Err(format!(
                    "{symbol} was removed before {title} confirmed it"
                )));
            }
            if !gaps.contains(symbol) {
                let _ = reply.send(Err(format!("{symbol} is not streamed from {title}")));
                return;
            }
            gaps.remove(symbol);
            tracing::info!(
                source = name,
                "{symbol} removed; the next connection leaves it out"
            );
            let _ = reply.send(Ok(()));
        }
    }
    v.counted(0, gaps.len(), gaps.missing);
}

/// One connection's state, and what a venue's [`LiveVenue::on_text`] may do with it.
pub(crate) struct Session<'a, V: LiveVenue> {
    v: &'a V,
    gaps: &'a mut GapTracker,
    changes: &'a mut Changes,
    fill_tx: &'a mpsc::UnboundedSender<FillDone<V::Error>>,
    backoff: &'a mut Backoff,
    watchdog: Watchdog,
    live: bool,
    /// The frame being handled carried data.
    delivered: bool,
    last_data_ms: TsMs,
    /// Events waiting to be handed to the sink.
    out: Vec<MarketEvent>,
    /// Control messages to queue on the current connection.
    sends: Vec<String>,
}

impl<'a, V: LiveVenue> Session<'a, V> {
    /// Runs one connection until it ends. Events read in the same poll as the end of the
    /// connection (a burst and then a close, a cut or a shutdown notice) are handed on before
    /// anything else happens, so that none are lost and a refill starts after them.
    async fn run(
        &mut self,
        conn: Conn,
        fill_rx: &mut mpsc::UnboundedReceiver<FillDone<V::Error>>,
        cmds: &mut impl Commands,
        resubscribes: &mut Option<mpsc::UnboundedReceiver<Symbol>>,
    ) -> End {
        let end = self.run_connection(conn, fill_rx, cmds, resubscribes).await;
        if matches!(end, End::EngineGone) {
            return end;
        }
        match self.flush().await {
            Ok(()) => end,
            Err(e) => e,
        }
    }

    async fn run_connection(
        &mut self,
        mut conn: Conn,
        fill_rx: &mut mpsc::UnboundedReceiver<FillDone<V::Error>>,
        cmds: &mut impl Commands,
        resubscribes: &mut Option<mpsc::UnboundedReceiver<Symbol>>,
    ) -> End {
        let set = self.v.settings();
        // asked for on the last connection: this one's subscribe brings every book afresh
        if let Some(rx) = resubscribes.as_mut() {
            while rx.try_recv().is_ok() {}
        }
        let life = set.rollover;
        let mut rollover_at = life.map(|l| Instant::now() + l);
        let mut old: Option<Conn> = None;
        let mut old_close_at = Instant::now();
        let mut cmds_open = true;
        for req in self.gaps.on_connected(now_ms()) {
            self.spawn_fill(req);
        }
        if set.confirm_on_send {
            // the carried subscribes went out with the connection's subscribe
            let done = self.changes.confirmed_where(|_| true);
            self.settle(done);
        }
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            let slot = conn.limiter.next_slot(Instant::now());
            let overdue = self.changes.next_deadline();
            let ping_at = set
                .keepalive
                .as_ref()
                .map(|(every, _)| conn.last_sent + *every);
            tokio::select! {
                msg = conn.ws.next() => {
                    if let Some(end) = self.on_message(msg, &mut conn) {
                        return end;
                    }
                    for _ in 0..DRAIN {
                        match conn.ws.next().now_or_never() {
                            Some(msg) => if let Some(end) = self.on_message(msg, &mut conn) {
                                return end;
                            },
                            None => break,
                        }
                    }
                    if old.is_some() && conn.first_data.is_some() {
                        old_close_at = old_close_at.min(Instant::now() + OVERLAP);
                    }
                }
                msg = next_of(&mut old) => {
                    // the old connection only adds what the new one may not have yet
                    let gone = self.on_text_of(msg).is_some();
                    if gone {
                        old = None;
                    }
                }
                Some(done) = fill_rx.recv() => {
                    if let Some(end) = self.on_fill(done) {
                        self.queue(&mut conn);
                        return end;
                    }
                }
                cmd = cmds.next(self.gaps), if cmds_open => match cmd {
                    Some(cmd) => self.on_command(cmd),
                    None => cmds_open = false,
                },
                Some(symbol) = next_symbol(resubscribes) => {
                    // a symbol removed meanwhile is not subscribed again
                    if self.gaps.contains(symbol) {
                        self.sends.extend(self.v.book_resubscribe(symbol));
                    }
                }
                _ = sleep_until(overdue.unwrap_or(slot)), if overdue.is_some() => self.on_overdue(),
                _ = sleep_until(self.watchdog.deadline()) => {
                    let secs = self.watchdog.limit().as_secs();
                    self.v.show(SourceState::Stale { since_ms: self.last_data_ms });
                    return End::reconnect(format!("no data for {secs} s"));
                }
                _ = sleep_until(slot), if !conn.outbox.is_empty() => {
                    if let Some(text) = conn.outbox.pop_front() {
                        conn.limiter.record(Instant::now());
                        conn.last_sent = Instant::now();
                        if let Err(e) = conn.ws.send(Message::text(text)).await {
                            return End::reconnect(describe_ws_error(&e));
                        }
                    }
                }
                _ = sleep_until(ping_at.unwrap_or(slot)), if ping_at.is_some() && conn.outbox.is_empty() => {
                    if let Some((_, text)) = &set.keepalive {
                        conn.outbox.push_back(text.clone());
                    }
                }
                _ = sleep_until(rollover_at.unwrap_or(slot)), if rollover_at.is_some() && old.is_none() => {
                    // Open the replacement first, so that no moment goes unwatched.
                    match connect(self.v, &self.gaps.symbols()).await {
                        Ok((fresh, _)) => {
                            tracing::info!(source = self.v.sink().name(), "rolling over to a fresh connection");
                            old = Some(std::mem::replace(&mut conn, fresh));
                            old_close_at = Instant::now() + Duration::from_secs(30);
                            rollover_at = life.map(|l| Instant::now() + l);
                        }
                        Err(reason) => {
                            self.v.record_error(format!("rollover connection failed ({reason}); retrying in 60 s"));
                            rollover_at = Some(Instant::now() + Duration::from_secs(60));
                        }
                    }
                }
                _ = sleep_until(old_close_at), if old.is_some() => {
                    if let Some(mut o) = old.take() {
                        let _ = timeout(Duration::from_secs(2), o.ws.close(None)).await;
                    }
                }
                _ = tick.tick() => self.on_tick(),
            }
            self.queue(&mut conn);
            if let Err(e) = self.flush().await {
                return e;
            }
            if self.gaps.is_empty() && self.changes.is_empty() && conn.outbox.is_empty() {
                let _ = timeout(Duration::from_secs(2), conn.ws.close(None)).await;
                return End::Idle;
            }
        }
    }

    /// Moves the control messages the handlers asked for onto the connection's outbox.
    fn queue(&mut self, conn: &mut Conn) {
        conn.outbox.extend(self.sends.drain(..));
    }

    /// Handles one message of the current connection; returns why it is over, if it is.
    fn on_message(
        &mut self,
        msg: Option<Result<Message, tungstenite::Error>>,
        conn: &mut Conn,
    ) -> Option<End> {
        self.delivered = false;
        let end = self.on_text_of(msg);
        if self.delivered && conn.first_data.is_none() {
            conn.first_data = Some(Instant::now());
        }
        end
    }

    fn on_text_of(&mut self, msg: Option<Result<Message, tungstenite::Error>>) -> Option<End> {
        let text = match msg {
            None => return Some(End::reconnect("server closed the connection")),
            Some(Err(e)) => return Some(End::reconnect(describe_ws_error(&e))),
            Some(Ok(Message::Close(frame))) => {
                return Some(End::reconnect(close_reason(frame.as_ref())));
            }
            Some(Ok(Message::Text(t))) => t,
            // Pings are answered by tungstenite as long as we keep reading; never pong ourselves.
            Some(Ok(_)) => return None,
        };
        let v = self.v;
        v.on_text(text.as_str(), self)
    }

    // ---- what a venue's frame handler calls ----

    /// The symbols followed, in order.
    pub fn symbols(&self) -> Vec<Symbol> {
        self.gaps.symbols()
    }

    /// A market event arrived: data, through the gap tracker (which may start a fill).
    pub fn event(&mut self, ev: MarketEvent) {
        self.data(ev.recv_ms);
        if let Some(req) = self.gaps.on_live(ev, &mut self.out) {
            self.spawn_fill(req);
        }
    }

    /// The venue said the latest trade of `symbol` is `id` (a heartbeat): data.
    pub fn latest_id(&mut self, symbol: Symbol, id: u64, now: TsMs) {
        self.data(now);
        if let Some(req) = self.gaps.on_latest_id(symbol, id) {
            self.spawn_fill(req);
        }
    }

    /// Data arrived that carries no event tickwatch uses (it still proves the feed alive).
    pub fn data(&mut self, now: TsMs) {
        self.watchdog.feed();
        self.last_data_ms = now;
        self.delivered = true;
        if !self.live {
            self.live = true;
            self.backoff.reset();
            // live only if the start-up fetch is not waiting out a rate limit
            self.show_state();
        }
    }

    /// A control frame (an answer, a pong): the connection is alive, the feed may not be.
    pub fn alive(&mut self) {
        self.watchdog.feed();
    }

    /// Queues a control message of the venue's own (Kraken: asking again for its instrument
    /// list), paced like every other.
    pub fn send(&mut self, text: String) {
        self.sends.push(text);
    }

    /// Subscribes every followed symbol again (after the venue refused a whole request).
    pub fn resubscribe_all(&mut self) {
        let (msgs, _) = self.v.requests(true, &self.gaps.symbols());
        self.sends.extend(msgs);
    }

    /// Request `id` was acknowledged: the changes it completed are answered.
    pub fn acked(&mut self, id: u64) {
        let done = self.changes.acked(id);
        self.settle(done);
    }

    /// The venue now streams what `done` says (for venues that confirm by listing).
    pub fn confirm_where(&mut self, done: impl Fn(&Change) -> bool) {
        let done = self.changes.confirmed_where(done);
        self.settle(done);
    }

    /// The subscribe of `symbol` waiting for an answer, taken out.
    pub fn take_subscribe(&mut self, symbol: Symbol) -> Option<Change> {
        self.changes.take_subscribe(symbol)
    }

    /// Request `id` was refused with `why` (the venue's words); false when it was not a
    /// symbol change.
    pub fn refused(&mut self, id: u64, why: &str) -> bool {
        let refused = self.changes.refused(id);
        if refused.is_empty() {
            return false;
        }
        let title = self.v.title();
        for c in refused {
            match c.kind {
                Kind::Subscribe => {
                    let msg = format!("{title} refused to subscribe {}: {why}", c.symbol);
                    self.forget(c.symbol, false);
                    self.v.record_error(msg.clone());
                    c.answer(Err(msg));
                }
                Kind::Unsubscribe => {
                    // forgotten all the same: its events are dropped and no reconnect asks for it
                    self.v.record_error(format!(
                        "{title} refused to unsubscribe {}: {why}; its data is ignored from now on",
                        c.symbol
                    ));
                    c.answer(Ok(()));
                }
            }
        }
        true
    }

    /// Stops following `symbol` on the connection's own account (`invalid`: the venue does not
    /// know it), telling the venue before any answer goes out. Returns why the connection is
    /// over when that was the last symbol and the venue stops then.
    pub fn forget(&mut self, symbol: Symbol, invalid: bool) -> Option<End> {
        self.gaps.remove(symbol);
        self.v.forgot(symbol, invalid);
        (invalid && self.gaps.is_empty() && self.v.settings().stop_when_refused)
            .then_some(End::Refused)
    }

    /// Answers the changes the venue confirmed.
    fn settle(&mut self, done: Vec<Change>) {
        let name = self.v.sink().name();
        for c in done {
            match c.kind {
                Kind::Subscribe => {
                    tracing::info!(source = name, "{} subscribed", c.symbol);
                    self.v.confirmed(c.symbol);
                    if let Some(req) = self.gaps.warm_up(c.symbol, now_ms()) {
                        self.spawn_fill(req);
                    }
                }
                Kind::Unsubscribe => tracing::info!(source = name, "{} unsubscribed", c.symbol),
            }
            c.answer(Ok(()));
        }
    }

    /// A symbol change asked for while connected.
    fn on_command(&mut self, cmd: SourceCmd) {
        let (name, title) = (self.v.sink().name(), self.v.title());
        let now = Instant::now();
        match cmd {
            SourceCmd::Subscribe { symbol, reply } => {
                if !self.gaps.add(symbol) {
                    let _ = reply.send(Err(format!("{symbol} is already streamed from {title}")));
                    return;
                }
                let (msgs, ids) = self.v.requests(true, &[symbol]);
                self.sends.extend(msgs);
                tracing::info!(source = name, "subscribing {symbol}");
                self.changes.sent(symbol, Kind::Subscribe, reply, ids, now);
                if self.v.settings().confirm_on_send {
                    let done = self
                        .changes
                        .confirmed_where(|c| c.symbol == symbol && c.kind == Kind::Subscribe);
                    self.settle(done);
                }
            }
            SourceCmd::Unsubscribe { symbol, reply } => {
                if let Some(c) = self.changes.take_subscribe(symbol) {
                    c.answer(Err(format!(
                        "{symbol} was removed before {title} confirmed it"
                    )));
                }
                if !self.gaps.contains(symbol) {
                    let _ = reply.send(Err(format!("{symbol} is not streamed from {title}")));
                    return;
                }
                // forgotten at once: its events and fills are dropped from now on
                self.gaps.remove(symbol);
                let (msgs, ids) = self.v.requests(false, &[symbol]);
                self.sends.extend(msgs);
                tracing::info!(source = name, "unsubscribing {symbol}");
                self.changes
                    .sent(symbol, Kind::Unsubscribe, reply, ids, now);
                if self.v.settings().confirm_on_send {
                    let done = self
                        .changes
                        .confirmed_where(|c| c.symbol == symbol && c.kind == Kind::Unsubscribe);
                    self.settle(done);
                }
            }
        }
    }

    /// Changes the venue did not answer in time.
    fn on_overdue(&mut self) {
        let (secs, title) = (ANSWER_TIMEOUT.as_secs(), self.v.title());
        for c in self.changes.expired(Instant::now()) {
            match c.kind {
                Kind::Subscribe => {
                    let why = format!(
                        "{title} did not confirm the subscription to {} within {secs} s; try again",
                        c.symbol
                    );
                    self.forget(c.symbol, false);
                    // it may have been subscribed all the same
                    let (msgs, _) = self.v.requests(false, &[c.symbol]);
                    self.sends.extend(msgs);
                    self.v.record_error(why.clone());
                    c.answer(Err(why));
                }
                Kind::Unsubscribe => {
                    self.v.record_error(format!(
                        "{title} did not confirm unsubscribing {} within {secs} s; its data is ignored from now on",
                        c.symbol
                    ));
                    c.answer(Ok(()));
                }
            }
        }
    }

    fn spawn_fill(&self, req: FillRequest) {
        tracing::debug!(
            source = self.v.sink().name(),
            "fill {}: trades from {:?}, candles from {:?}, stop at {}",
            req.symbol,
            req.trades_from,
            req.candles_from,
            req.stop_at.load(std::sync::atomic::Ordering::Relaxed)
        );
        let tx = self.fill_tx.clone();
        let sink = self.v.sink().clone();
        let on_rl = Box::new(move |until_ms| sink.set_state(SourceState::RateLimited { until_ms }));
        let fill = self.v.fill(req, on_rl);
        tokio::spawn(async move {
            let done = fill.await;
            // the session may be gone (engine stopped); then nobody needs the result
            let _ = tx.send(done);
        });
    }

    fn on_fill(&mut self, done: FillDone<V::Error>) -> Option<End> {
        tracing::debug!(
            source = self.v.sink().name(),
            "fill {} done: {} trades, {} candles, error {:?}",
            done.symbol,
            done.trades.len(),
            done.candles.len(),
            done.error.as_ref().map(|e| e.to_string())
        );
        if let Some(symbol) = done.error.as_ref().and_then(|e| self.v.unknown_symbol(e)) {
            if !self.gaps.contains(symbol) {
                return None; // removed meanwhile
            }
            let why = done
                .error
                .as_ref()
                .map(|e| e.to_string())
                .unwrap_or_default();
            self.v.record_error(why);
            let end = self.forget(symbol, true);
            if let Some(c) = self.changes.take_subscribe(symbol) {
                c.answer(Err(self.v.not_listed(symbol)));
            }
            if end.is_some() {
                return end;
            }
            // the socket may have accepted it (REST said so, not the socket)
            let (msgs, _) = self.v.requests(false, &[symbol]);
            self.sends.extend(msgs);
            return None;
        }
        let outcome = self.gaps.on_fill_done(done, now_ms(), &mut self.out);
        if let Some(lost) = outcome.lost {
            self.v.record_error(lost);
        }
        if let Some(req) = outcome.next {
            self.spawn_fill(req);
        }
        None
    }

    /// Shows live, rate-limited, stale or connecting, as the facts say.
    fn show_state(&mut self) {
        let state = session_state(
            self.live,
            self.watchdog.silent_for(),
            self.watchdog.limit(),
            self.last_data_ms,
            self.v.rate_limited_until(),
            now_ms(),
        );
        self.v.show(state);
    }

    /// Once a second: live, rate-limited, stale or connecting, as the facts say (also before
    /// the first data, so that a silent feed is shown stale and a rate limit ends on time).
    fn on_tick(&mut self) {
        if let Some(every) = self.v.settings().poll_candles {
            for req in self.gaps.poll_candles(now_ms(), every.as_millis() as TsMs) {
                self.spawn_fill(req);
            }
        }
        let late = self.gaps.release_overdue(now_ms(), &mut self.out);
        if let Some(note) = crate::sources::net::hold::overdue_note(&late) {
            self.v.record_error(note);
        }
        self.show_state();
    }

    /// Hands pending events to the sink in batches; a dropped batch reopens its trade ids (and
    /// takes everything after it, see [`hand_out`]). Trades the gap tracker knows are lost for
    /// good are counted.
    async fn flush(&mut self) -> Result<(), End> {
        let gaps = &mut *self.gaps;
        let sent = hand_out(self.v.sink(), &mut self.out, BATCH, |marks, ok| {
            if ok {
                gaps.committed(marks);
            } else {
                gaps.dropped(marks);
            }
        })
        .await?;
        let lost = self.gaps.take_new_missing();
        if lost > 0 {
            self.v.sink().trades_lost(
                lost,
                format!("{lost} trades missed and not refillable from the venue"),
            );
        }
        self.v.counted(sent, self.gaps.len(), self.gaps.missing);
        Ok(())
    }
}

/// The next symbol whose book must be subscribed again, or never when the venue keeps none.
async fn next_symbol(rx: &mut Option<mpsc::UnboundedReceiver<Symbol>>) -> Option<Symbol> {
    match rx.as_mut() {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// The next message of the draining connection, or never when there is none.
async fn next_of(old: &mut Option<Conn>) -> Option<Result<Message, tungstenite::Error>> {
    match old.as_mut() {
        Some(o) => o.ws.next().await,
        None => std::future::pending().await,
    }
}
