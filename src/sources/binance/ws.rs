//! One WebSocket connection per shard of at most `max_streams_per_connection` streams: connect,
//! SUBSCRIBE under the control-message limit, read without pause (tungstenite answers the
//! server's pings only while reading), reconnect with backoff, and roll over to a fresh
//! connection before Binance's 24 h cut-off with an overlap that the trade-id check de-duplicates.
//!
//! Symbols come and go while a shard runs ([`SourceCmd`]): a SUBSCRIBE or UNSUBSCRIBE of the
//! symbol's streams, answered once Binance acknowledged it. The shard's symbol set is what every
//! (re)connection subscribes. A subscribe asked for while disconnected waits for the next
//! connection, whose SUBSCRIBE includes it; an unsubscribe then is done at once. A shard left
//! without symbols closes its connection and waits for one.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use futures_util::{FutureExt, SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep_until, timeout};
use tokio_tungstenite::tungstenite::{self, Message};

use super::BinanceConfig;
use super::backfill::{BATCH, FillDone, run_fill};
use super::rest::{RestClient, RestError};
use super::wire::{Frame, parse_frame};
use crate::domain::{MarketEvent, Symbol, TsMs, Venue, now_ms};
use crate::pipeline::{EngineGone, EventSink, SourceState, session_state};
use crate::sources::SourceCmd;
use crate::sources::live::changes::{ANSWER_TIMEOUT, Changes, Kind, Reply};
use crate::sources::live::{FillRequest, GapTracker};
use crate::sources::net::handout::hand_out;
use crate::sources::net::ws::{Ws, close_reason, connect_ws, describe_ws_error, reconnecting};
use crate::sources::net::{Backoff, MessageLimiter, Watchdog};

/// Binance: at most 5 incoming messages per second per connection (pings and pongs included).
const CONTROL_PER_SEC: usize = 5;
/// Streams per SUBSCRIBE message.
const STREAMS_PER_REQUEST: usize = 200;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the old connection keeps running after its replacement delivered data.
const OVERLAP: Duration = Duration::from_secs(3);
/// Frames read in one go before the batch is handed on.
const DRAIN: usize = 512;

/// State shared by the shards of one source.
pub(crate) struct Shared {
    pub cfg: BinanceConfig,
    pub rest: RestClient,
    pub sink: EventSink,
    /// Events handed to the sink (for the events/s figure).
    pub events: AtomicU64,
    /// Symbols dropped because Binance does not know them.
    pub invalid: std::sync::Mutex<Vec<Symbol>>,
    /// The state of each connection (shard), by shard number.
    pub shards: std::sync::Mutex<Vec<SourceState>>,
    /// Request ids, unique across the shards and their connections (so that an answer that
    /// arrives on a connection being rolled over still finds its request).
    pub next_id: AtomicU64,
    /// Symbols streamed or being subscribed (for the status detail).
    pub n_symbols: AtomicUsize,
}

/// A shard telling the source that it stopped streaming a symbol by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Note {
    pub shard: usize,
    pub symbol: Symbol,
    /// Binance does not know it (REST -1121), as opposed to a subscribe that failed.
    pub invalid: bool,
}

impl Shared {
    /// Records the state of connection `shard` and shows the source's overall state: the worst
    /// of its connections (one connection reconnecting is news even when the others are live;
    /// the status detail says how many are live).
    pub(crate) fn set_shard_state(&self, shard: usize, state: SourceState) {
        let overall = {
            let mut states = match self.shards.lock() {
                Ok(g) => g,
                Err(p) => p.into_inner(),
            };
            if shard >= states.len() {
                states.resize(shard + 1, SourceState::Connecting);
            }
            states[shard] = state;
            worst(&states)
        };
        if let Some(s) = overall {
            self.sink.set_state(s);
        }
    }

    /// Connections live, and connections in use (a shard without symbols has none).
    pub(crate) fn shards_live(&self) -> (usize, usize) {
        let states = match self.shards.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        };
        let live = states
            .iter()
            .filter(|s| matches!(s, SourceState::Live))
            .count();
        let used = states
            .iter()
            .filter(|s| !matches!(s, SourceState::Finished))
            .count();
        (live, used)
    }

    fn record_error(&self, msg: String) {
        // errors quote the venue: safe to print before they reach the log
        let msg = crate::format::visible(&msg);
        tracing::warn!(source = self.sink.name(), "{msg}");
        self.sink.health().record_error(self.sink.name(), msg);
    }
}

/// The state that matters most among a source's connections.
fn worst(states: &[SourceState]) -> Option<SourceState> {
    fn rank(s: &SourceState) -> u8 {
        match s {
            SourceState::Failed(_) => 6,
            SourceState::Reconnecting { .. } => 5,
            SourceState::RateLimited { .. } => 4,
            SourceState::Stale { .. } | SourceState::Dropping { .. } => 3,
            SourceState::Connecting => 2,
            SourceState::Live => 1,
            SourceState::Finished => 0,
        }
    }
    states.iter().max_by_key(|s| rank(s)).cloned()
}

struct Conn {
    ws: Ws,
    limiter: MessageLimiter,
    outbox: VecDeque<String>,
    first_data: Option<Instant>,
}

impl Conn {
    /// Queues `method` for `streams` (in requests of at most 200 streams); returns their ids.
    fn request(&mut self, ids: &AtomicU64, method: &str, streams: &[String]) -> Vec<u64> {
        let mut out = Vec::new();
        for chunk in streams.chunks(STREAMS_PER_REQUEST) {
            let id = ids.fetch_add(1, Ordering::Relaxed) + 1;
            let msg = serde_json::json!({"method": method, "params": chunk, "id": id});
            self.outbox.push_back(msg.to_string());
            out.push(id);
        }
        out
    }
}

/// Why a session ended.
enum End {
    Reconnect {
        reason: String,
        immediate: bool,
    },
    /// No symbols are left: the connection is closed until one is added.
    Idle,
    EngineGone,
}

impl From<EngineGone> for End {
    fn from(_: EngineGone) -> Self {
        End::EngineGone
    }
}

/// Connects and queues the SUBSCRIBE for `streams`; returns the connection and the ids of
/// that SUBSCRIBE.
async fn connect(shared: &Shared, streams: &[String]) -> Result<(Conn, Vec<u64>), String> {
    let url = format!("{}/ws", shared.cfg.ws_url.trim_end_matches('/'));
    let ws = connect_ws(&url, CONNECT_TIMEOUT).await?;
    let mut conn = Conn {
        ws,
        limiter: MessageLimiter::new(CONTROL_PER_SEC, Duration::from_secs(1)),
        outbox: VecDeque::new(),
        first_data: None,
    };
    let ids = conn.request(&shared.next_id, "SUBSCRIBE", streams);
    Ok((conn, ids))
}

/// The symbol changes of one shard: its commands, the changes waiting for Binance's answer, and
/// the way back to the source.
pub(crate) struct Control {
    pub cmds: mpsc::UnboundedReceiver<SourceCmd>,
    pub notes: mpsc::UnboundedSender<Note>,
    changes: Changes,
}

impl Control {
    pub fn new(
        cmds: mpsc::UnboundedReceiver<SourceCmd>,
        notes: mpsc::UnboundedSender<Note>,
    ) -> Self {
        Control {
            cmds,
            notes,
            changes: Changes::default(),
        }
    }
}

fn split(cmd: SourceCmd) -> (Kind, Symbol, Reply) {
    match cmd {
        SourceCmd::Subscribe { symbol, reply } => (Kind::Subscribe, symbol, reply),
        SourceCmd::Unsubscribe { symbol, reply } => (Kind::Unsubscribe, symbol, reply),
    }
}

/// A command that arrives while the shard has no connection (waiting to reconnect, or idle):
/// a subscribe waits for the next connection, an unsubscribe is done at once.
fn offline_command(
    shared: &Shared,
    shard: usize,
    gaps: &mut GapTracker,
    ctl: &mut Control,
    cmd: SourceCmd,
) {
    let name = shared.sink.name();
    let (kind, symbol, reply) = split(cmd);
    match kind {
        Kind::Subscribe => {
            if !gaps.add(symbol) {
                let _ = reply.send(Err(format!("{symbol} is already streamed from Binance")));
                return;
            }
            tracing::info!(
                source = name,
                shard,
                "{symbol} will be subscribed when the connection is up"
            );
            ctl.changes.carried(symbol, reply, Instant::now());
        }
        Kind::Unsubscribe => {
            if let Some(c) = ctl.changes.take_subscribe(symbol) {
                c.answer(Err(format!(
                    "{symbol} was removed before Binance confirmed it"
                )));
            }
            if !gaps.contains(symbol) {
                let _ = reply.send(Err(format!("{symbol} is not streamed from Binance")));
                return;
            }
            gaps.remove(symbol);
            tracing::info!(
                source = name,
                shard,
                "{symbol} removed; the next connection leaves it out"
            );
            let _ = reply.send(Ok(()));
        }
    }
}

/// Runs one shard until the engine goes away (`Err`) or the source stops sending commands
/// while the shard has no symbols (`Ok`).
pub(crate) async fn run_shard(
    shared: Arc<Shared>,
    shard: usize,
    symbols: Vec<Symbol>,
    mut ctl: Control,
) -> Result<(), EngineGone> {
    let cfg = &shared.cfg;
    let agg = cfg.trade_stream == super::TradeStream::AggTrade;
    let mut gaps = GapTracker::new(
        Venue::Binance,
        &symbols,
        agg,
        cfg.klines,
        cfg.backfill_candles,
    );
    let (fill_tx, mut fill_rx) = mpsc::unbounded_channel::<FillDone>();
    let mut backoff = Backoff::new(
        Duration::from_millis(cfg.backoff_initial_ms),
        Duration::from_millis(cfg.backoff_max_ms),
    );
    loop {
        if gaps.is_empty() {
            // nothing to stream: no connection until a symbol is added
            shared.set_shard_state(shard, SourceState::Finished);
            match ctl.cmds.recv().await {
                Some(cmd) => offline_command(&shared, shard, &mut gaps, &mut ctl, cmd),
                None => return Ok(()),
            }
            continue;
        }
        shared.set_shard_state(shard, SourceState::Connecting);
        let end = match connect(&shared, &cfg.streams(&sorted(&gaps))).await {
            Ok((conn, ids)) => {
                ctl.changes.connected(&ids, Instant::now());
                let mut s = Session {
                    shared: &shared,
                    shard,
                    gaps: &mut gaps,
                    ctl: &mut ctl,
                    fill_tx: &fill_tx,
                    backoff: &mut backoff,
                    watchdog: Watchdog::new(Duration::from_secs(cfg.stale_after_secs)),
                    live: false,
                    last_data_ms: now_ms(),
                    out: Vec::new(),
                };
                s.run(conn, &mut fill_rx).await
            }
            Err(reason) => End::Reconnect {
                reason,
                immediate: false,
            },
        };
        for c in ctl.changes.disconnected() {
            tracing::info!(
                source = shared.sink.name(),
                shard,
                "{} unsubscribed with its connection; the next one leaves it out",
                c.symbol
            );
            c.answer(Ok(()));
        }
        match end {
            End::EngineGone => return Err(EngineGone),
            End::Idle => {
                tracing::info!(
                    source = shared.sink.name(),
                    shard,
                    "no symbols left on this connection; closed it"
                );
                backoff.reset();
            }
            End::Reconnect { reason, immediate } => {
                let delay = if immediate {
                    backoff.reset();
                    Duration::ZERO
                } else {
                    backoff.next_delay()
                };
                shared.set_shard_state(shard, reconnecting(&backoff, delay, reason));
                // symbol changes are taken while waiting
                let until = Instant::now() + delay;
                loop {
                    tokio::select! {
                        _ = sleep_until(until) => break,
                        cmd = ctl.cmds.recv() => match cmd {
                            Some(cmd) => offline_command(&shared, shard, &mut gaps, &mut ctl, cmd),
                            None => {
                                sleep_until(until).await;
                                break;
                            }
                        },
                    }
                }
            }
        }
    }
}

struct Session<'a> {
    shared: &'a Arc<Shared>,
    shard: usize,
    gaps: &'a mut GapTracker,
    ctl: &'a mut Control,
    fill_tx: &'a mpsc::UnboundedSender<FillDone>,
    backoff: &'a mut Backoff,
    watchdog: Watchdog,
    live: bool,
    last_data_ms: TsMs,
    /// Events waiting to be handed to the sink.
    out: Vec<MarketEvent>,
}

impl Session<'_> {
    /// Runs one connection until it ends. Events read in the same poll as the end of the
    /// connection (a burst and then a close, a cut or serverShutdown) are handed on before
    /// anything else happens, so that none are lost and a refill starts after them.
    async fn run(&mut self, conn: Conn, fill_rx: &mut mpsc::UnboundedReceiver<FillDone>) -> End {
        let end = self.run_connection(conn, fill_rx).await;
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
        fill_rx: &mut mpsc::UnboundedReceiver<FillDone>,
    ) -> End {
        let cfg = &self.shared.cfg;
        let life = Duration::from_secs_f64(cfg.rollover_hours * 3600.0);
        let mut rollover_at = Instant::now() + life;
        let mut old: Option<Conn> = None;
        let mut old_close_at = Instant::now();
        for req in self.gaps.on_connected(now_ms()) {
            self.spawn_fill(req);
        }
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            let slot = conn.limiter.next_slot(Instant::now());
            let overdue = self.ctl.changes.next_deadline();
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
                    let mut gone = false;
                    if let Some(o) = old.as_mut() {
                        // the old connection only adds what the new one may not have yet
                        gone = self.on_message(msg, o).is_some();
                    }
                    if gone {
                        old = None;
                    }
                }
                Some(done) = fill_rx.recv() => self.on_fill(done, &mut conn),
                Some(cmd) = self.ctl.cmds.recv() => self.on_command(cmd, &mut conn),
                _ = sleep_until(overdue.unwrap_or(rollover_at)), if overdue.is_some() => self.on_overdue(&mut conn),
                _ = sleep_until(self.watchdog.deadline()) => {
                    let secs = self.watchdog.limit().as_secs();
                    self.shared.set_shard_state(self.shard, SourceState::Stale { since_ms: self.last_data_ms });
                    return End::Reconnect { reason: format!("no data for {secs} s"), immediate: false };
                }
                _ = sleep_until(slot), if !conn.outbox.is_empty() => {
                    if let Some(text) = conn.outbox.pop_front() {
                        conn.limiter.record(Instant::now());
                        if let Err(e) = conn.ws.send(Message::text(text)).await {
                            return End::Reconnect { reason: describe_ws_error(&e), immediate: false };
                        }
                    }
                }
                _ = sleep_until(rollover_at), if old.is_none() => {
                    // Open the replacement first, so that no moment goes unwatched.
                    match connect(self.shared, &cfg.streams(&sorted(self.gaps))).await {
                        Ok((fresh, _)) => {
                            tracing::info!(source = self.shared.sink.name(), "rolling over to a fresh connection");
                            old = Some(std::mem::replace(&mut conn, fresh));
                            old_close_at = Instant::now() + Duration::from_secs(30);
                            rollover_at = Instant::now() + life;
                        }
                        Err(reason) => {
                            self.shared.record_error(format!("rollover connection failed ({reason}); retrying in 60 s"));
                            rollover_at = Instant::now() + Duration::from_secs(60);
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
            if let Err(e) = self.flush().await {
                return e;
            }
            if self.gaps.is_empty() && self.ctl.changes.is_empty() && conn.outbox.is_empty() {
                let _ = timeout(Duration::from_secs(2), conn.ws.close(None)).await;
                return End::Idle;
            }
        }
    }

    /// A symbol change asked for while connected.
    fn on_command(&mut self, cmd: SourceCmd, conn: &mut Conn) {
        let (name, shard) = (self.shared.sink.name(), self.shard);
        let (kind, symbol, reply) = split(cmd);
        let streams = self.shared.cfg.streams(&[symbol]);
        match kind {
            Kind::Subscribe => {
                if !self.gaps.add(symbol) {
                    let _ = reply.send(Err(format!("{symbol} is already streamed from Binance")));
                    return;
                }
                let ids = conn.request(&self.shared.next_id, "SUBSCRIBE", &streams);
                tracing::info!(
                    source = name,
                    shard,
                    "subscribing {symbol}: {}",
                    streams.join(", ")
                );
                self.ctl
                    .changes
                    .sent(symbol, Kind::Subscribe, reply, ids, Instant::now());
            }
            Kind::Unsubscribe => {
                if let Some(c) = self.ctl.changes.take_subscribe(symbol) {
                    c.answer(Err(format!(
                        "{symbol} was removed before Binance confirmed it"
                    )));
                }
                if !self.gaps.contains(symbol) {
                    let _ = reply.send(Err(format!("{symbol} is not streamed from Binance")));
                    return;
                }
                // forgotten at once: its events and fills are dropped from now on
                self.gaps.remove(symbol);
                let ids = conn.request(&self.shared.next_id, "UNSUBSCRIBE", &streams);
                tracing::info!(
                    source = name,
                    shard,
                    "unsubscribing {symbol}: {}",
                    streams.join(", ")
                );
                self.ctl
                    .changes
                    .sent(symbol, Kind::Unsubscribe, reply, ids, Instant::now());
            }
        }
    }

    /// Binance acknowledged request `id`.
    fn on_ack(&mut self, id: u64) {
        let (name, shard) = (self.shared.sink.name(), self.shard);
        for c in self.ctl.changes.acked(id) {
            match c.kind {
                Kind::Subscribe => {
                    tracing::info!(source = name, shard, "{} subscribed", c.symbol);
                    if let Ok(mut inv) = self.shared.invalid.lock() {
                        inv.retain(|s| *s != c.symbol);
                    }
                    if let Some(req) = self.gaps.warm_up(c.symbol, now_ms()) {
                        self.spawn_fill(req);
                    }
                }
                Kind::Unsubscribe => {
                    tracing::info!(source = name, shard, "{} unsubscribed", c.symbol)
                }
            }
            c.answer(Ok(()));
        }
    }

    /// Binance refused request `id`; false when it was not a symbol change.
    fn on_refused(&mut self, id: u64, code: i64, msg: &str) -> bool {
        let refused = self.ctl.changes.refused(id);
        if refused.is_empty() {
            return false;
        }
        for c in refused {
            match c.kind {
                Kind::Subscribe => {
                    let why = format!(
                        "Binance refused to subscribe {}: {msg} (code {code})",
                        c.symbol
                    );
                    self.forget(c.symbol, false);
                    self.shared.record_error(why.clone());
                    c.answer(Err(why));
                }
                Kind::Unsubscribe => {
                    // forgotten all the same: its events are dropped and no reconnect asks for it
                    self.shared.record_error(format!(
                        "Binance refused to unsubscribe {}: {msg} (code {code}); its data is ignored from now on",
                        c.symbol
                    ));
                    c.answer(Ok(()));
                }
            }
        }
        true
    }

    /// Changes Binance did not answer in time.
    fn on_overdue(&mut self, conn: &mut Conn) {
        let secs = ANSWER_TIMEOUT.as_secs();
        for c in self.ctl.changes.expired(Instant::now()) {
            match c.kind {
                Kind::Subscribe => {
                    let why = format!(
                        "Binance did not confirm the subscription to {} within {secs} s; try again",
                        c.symbol
                    );
                    self.forget(c.symbol, false);
                    // it may have been subscribed all the same
                    let streams = self.shared.cfg.streams(&[c.symbol]);
                    conn.request(&self.shared.next_id, "UNSUBSCRIBE", &streams);
                    self.shared.record_error(why.clone());
                    c.answer(Err(why));
                }
                Kind::Unsubscribe => {
                    self.shared.record_error(format!(
                        "Binance did not confirm unsubscribing {} within {secs} s; its data is ignored from now on",
                        c.symbol
                    ));
                    c.answer(Ok(()));
                }
            }
        }
    }

    /// Stops following `symbol` on the shard's own account, and tells the source (before any
    /// answer goes out, so that the source knows by the time the asker does).
    fn forget(&mut self, symbol: Symbol, invalid: bool) {
        self.gaps.remove(symbol);
        let _ = self.ctl.notes.send(Note {
            shard: self.shard,
            symbol,
            invalid,
        });
    }

    fn spawn_fill(&self, req: FillRequest) {
        tracing::debug!(
            source = self.shared.sink.name(),
            "fill {}: trades from {:?}, candles from {:?}, stop at {}",
            req.symbol,
            req.trades_from,
            req.candles_from,
            req.stop_at.load(Ordering::Relaxed)
        );
        let rest = self.shared.rest.clone();
        let tx = self.fill_tx.clone();
        let sink = self.shared.sink.clone();
        tokio::spawn(async move {
            let on_rl = move |until_ms| sink.set_state(SourceState::RateLimited { until_ms });
            let done = run_fill(rest, req, on_rl).await;
            // the session may be gone (engine stopped); then nobody needs the result
            let _ = tx.send(done);
        });
    }

    fn on_fill(&mut self, done: FillDone, conn: &mut Conn) {
        tracing::debug!(
            source = self.shared.sink.name(),
            "fill {} done: {} trades ({:?}..{:?}), {} candles, error {:?}",
            done.symbol,
            done.trades.len(),
            done.trades.first().map(|t| t.1.trade_id),
            done.trades.last().map(|t| t.1.trade_id),
            done.candles.len(),
            done.error
        );
        if let Some(RestError::InvalidSymbol { symbol }) = &done.error {
            let symbol = *symbol;
            if !self.gaps.contains(symbol) {
                return; // removed meanwhile
            }
            self.shared
                .record_error(RestError::InvalidSymbol { symbol }.to_string());
            if let Ok(mut inv) = self.shared.invalid.lock()
                && !inv.contains(&symbol)
            {
                inv.push(symbol);
            }
            self.forget(symbol, true);
            let streams = self.shared.cfg.streams(&[symbol]);
            conn.request(&self.shared.next_id, "UNSUBSCRIBE", &streams);
            if let Some(c) = self.ctl.changes.take_subscribe(symbol) {
                c.answer(Err(format!("{symbol} is not a Binance spot symbol")));
            }
            return;
        }
        let outcome = self.gaps.on_fill_done(done, now_ms(), &mut self.out);
        if let Some(lost) = outcome.lost {
            self.shared.record_error(lost);
        }
        if let Some(req) = outcome.next {
            self.spawn_fill(req);
        }
    }

    /// Handles one message of `conn`; returns why the connection is over, if it is.
    fn on_message(
        &mut self,
        msg: Option<Result<Message, tungstenite::Error>>,
        conn: &mut Conn,
    ) -> Option<End> {
        let text = match msg {
            None => {
                return Some(End::Reconnect {
                    reason: "server closed the connection".into(),
                    immediate: false,
                });
            }
            Some(Err(e)) => {
                return Some(End::Reconnect {
                    reason: describe_ws_error(&e),
                    immediate: false,
                });
            }
            Some(Ok(Message::Close(frame))) => {
                return Some(End::Reconnect {
                    reason: close_reason(frame.as_ref()),
                    immediate: false,
                });
            }
            Some(Ok(Message::Text(t))) => t,
            // Pings are answered by tungstenite as long as we keep reading; never pong ourselves.
            Some(Ok(_)) => return None,
        };
        let now = now_ms();
        match parse_frame(text.as_str(), now) {
            Ok(Frame::Event(ev)) => {
                self.data_arrived(conn, now);
                if let Some(req) = self.gaps.on_live(ev, &mut self.out) {
                    self.spawn_fill(req);
                }
            }
            Ok(Frame::Ack { id }) => self.on_ack(id),
            Ok(Frame::Error { code, msg, id }) => {
                // the venue's words: shown, never obeyed by a terminal
                let msg = crate::format::visible(&msg);
                if !id.is_some_and(|i| self.on_refused(i, code, &msg)) {
                    let id = id.map_or_else(|| "-".to_string(), |i| i.to_string());
                    self.shared
                        .record_error(format!("Binance refused request {id}: {msg} (code {code})"));
                }
            }
            Ok(Frame::ServerShutdown { .. }) => {
                return Some(End::Reconnect {
                    reason: "serverShutdown".into(),
                    immediate: true,
                });
            }
            Ok(Frame::Unsupported { kind }) => {
                self.data_arrived(conn, now);
                tracing::debug!(source = self.shared.sink.name(), "ignored {kind} frame");
            }
            Err(e) => {
                let shown: String = text.as_str().chars().take(80).collect();
                self.shared
                    .record_error(format!("unreadable frame skipped ({e}): {shown}"));
            }
        }
        None
    }

    fn data_arrived(&mut self, conn: &mut Conn, now: TsMs) {
        self.watchdog.feed();
        self.last_data_ms = now;
        if conn.first_data.is_none() {
            conn.first_data = Some(Instant::now());
        }
        if !self.live {
            self.live = true;
            self.backoff.reset();
            // live only if the start-up fetch is not waiting out a rate limit
            self.show_state();
        }
    }

    /// Shows live, rate-limited, stale or connecting, as the facts say.
    fn show_state(&mut self) {
        let state = session_state(
            self.live,
            self.watchdog.silent_for(),
            self.watchdog.limit(),
            self.last_data_ms,
            self.shared.rest.rate_limited_until(),
            now_ms(),
        );
        self.shared.set_shard_state(self.shard, state);
    }

    /// Once a second: live, rate-limited, stale or connecting, as the facts say (also before
    /// the first data, so that a silent feed is shown stale and a rate limit ends on time).
    fn on_tick(&mut self) {
        let late = self.gaps.release_overdue(now_ms(), &mut self.out);
        if let Some(note) = crate::sources::net::hold::overdue_note(&late) {
            self.shared.record_error(note);
        }
        self.show_state();
    }

    /// Hands pending events to the sink in batches; a dropped batch reopens its trade ids (and
    /// takes everything after it, see [`hand_out`]). Trades the gap tracker knows are lost for
    /// good are counted.
    async fn flush(&mut self) -> Result<(), End> {
        let gaps = &mut *self.gaps;
        let sent = hand_out(&self.shared.sink, &mut self.out, BATCH, |marks, ok| {
            if ok {
                gaps.committed(marks);
            } else {
                gaps.dropped(marks);
            }
        })
        .await?;
        self.shared.events.fetch_add(sent, Ordering::Relaxed);
        let lost = self.gaps.take_new_missing();
        if lost > 0 {
            self.shared.sink.trades_lost(
                lost,
                format!("{lost} trades missed and not refillable from the venue"),
            );
        }
        Ok(())
    }
}

/// The shard's symbols in name order (the order its SUBSCRIBE lists their streams in).
fn sorted(gaps: &GapTracker) -> Vec<Symbol> {
    let mut v = gaps.symbols();
    v.sort();
    v
}

/// The next message of the draining connection, or never when there is none.
async fn next_of(old: &mut Option<Conn>) -> Option<Result<Message, tungstenite::Error>> {
    match old.as_mut() {
        Some(o) => o.ws.next().await,
        None => std::future::pending().await,
    }
}
