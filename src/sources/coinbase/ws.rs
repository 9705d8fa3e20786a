//! One WebSocket connection for every product: connect, subscribe at once (Coinbase closes a
//! connection that has not subscribed within 5 s), read without pause (tungstenite answers the
//! server's pings only while reading), drop products Coinbase refuses and resubscribe the rest,
//! and reconnect with backoff when the connection breaks or goes quiet (Coinbase sends a
//! heartbeat per product every second, so silence means a dead connection).
//!
//! Products come and go while it runs (see [`control`](super::control)): the product set is what
//! every (re)connection subscribes. A subscribe asked for while disconnected waits for the next
//! connection; an unsubscribe then is done at once. Without products the connection is closed
//! until one is added.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{FutureExt, SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep_until, timeout};
use tokio_tungstenite::tungstenite::{self, Message};

use super::CoinbaseConfig;
use super::control::{ANSWER_TIMEOUT, Control, Either, Kind, Todo};
use super::fill::{BATCH, FillDone, run_fill};
use super::rest::{RestClient, RestError};
use super::wire::{Frame, parse_frame};
use crate::domain::{MarketEvent, Symbol, TsMs, Venue, now_ms};
use crate::pipeline::{EngineGone, EventSink, SourceState, session_state};
use crate::sources::SourceCmd;
use crate::sources::live::{FillRequest, GapTracker};
use crate::sources::net::handout::hand_out;
use crate::sources::net::ws::{Ws, close_reason, connect_ws, describe_ws_error, reconnecting};
use crate::sources::net::{Backoff, MessageLimiter, Watchdog};

/// The channels every product is subscribed to.
pub(crate) const CHANNELS: [&str; 3] = ["matches", "ticker", "heartbeat"];
/// Our own cap on messages we send (Coinbase allows 100 a second per IP).
const SENDS_PER_SEC: usize = 10;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The subscribe must reach Coinbase within 5 s of connecting; give up on a write that takes
/// longer than this.
const SUBSCRIBE_TIMEOUT: Duration = Duration::from_secs(4);
/// Frames read in one go before the batch is handed on.
const DRAIN: usize = 512;

/// State shared by the connection and the status reporter.
pub(crate) struct Shared {
    pub cfg: CoinbaseConfig,
    pub rest: RestClient,
    pub sink: EventSink,
    /// Events handed to the sink (for the events/s figure).
    pub events: AtomicU64,
    /// Frames skipped because they could not be read or carried bad values.
    pub skipped: AtomicU64,
    /// Of the skipped frames, those rejected for their values (NaN, zero or negative prices).
    pub rejected: AtomicU64,
    /// Well-formed frames of kinds tickwatch does not use.
    pub ignored: AtomicU64,
    /// Trades known to be lost (a hole REST could not fill).
    pub missing: AtomicU64,
    /// Products dropped because Coinbase does not know them.
    pub invalid: Mutex<Vec<Symbol>>,
    pub last_error: Mutex<Option<String>>,
    /// Products streamed or being subscribed (for the status detail).
    pub n_products: AtomicUsize,
}

impl Shared {
    pub fn new(cfg: CoinbaseConfig, rest: RestClient, sink: EventSink) -> Self {
        Shared {
            cfg,
            rest,
            sink,
            events: AtomicU64::new(0),
            skipped: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
            ignored: AtomicU64::new(0),
            missing: AtomicU64::new(0),
            invalid: Mutex::new(Vec::new()),
            last_error: Mutex::new(None),
            n_products: AtomicUsize::new(0),
        }
    }

    fn record_error(&self, msg: String) {
        // errors quote the venue: safe to print before they reach the log
        let msg = crate::format::visible(&msg);
        tracing::warn!(source = self.sink.name(), "{msg}");
        self.sink
            .health()
            .record_error(self.sink.name(), msg.clone());
        if let Ok(mut e) = self.last_error.lock() {
            *e = Some(msg);
        }
    }

    fn mark_invalid(&self, product: Symbol) {
        if let Ok(mut inv) = self.invalid.lock()
            && !inv.contains(&product)
        {
            inv.push(product);
        }
    }
}

/// `{"type":"subscribe","product_ids":[..],"channels":["matches","ticker","heartbeat"]}`, or
/// the same with `unsubscribe`.
pub(crate) fn control_message(kind: &str, products: &[Symbol]) -> String {
    let ids: Vec<&str> = products.iter().map(|p| p.as_str()).collect();
    serde_json::json!({"type": kind, "product_ids": ids, "channels": CHANNELS}).to_string()
}

struct Conn {
    ws: Ws,
    limiter: MessageLimiter,
    outbox: VecDeque<String>,
}

/// Why a session ended.
enum End {
    Reconnect(String),
    /// Coinbase refused every product.
    NoProducts,
    /// Every product was removed: the connection is closed until one is added.
    Idle,
    EngineGone,
}

impl From<EngineGone> for End {
    fn from(_: EngineGone) -> Self {
        End::EngineGone
    }
}

async fn connect(cfg: &CoinbaseConfig, products: &[Symbol]) -> Result<Conn, String> {
    let url = cfg.ws_url.trim();
    let mut ws = connect_ws(url, CONNECT_TIMEOUT).await?;
    // Sent right away rather than queued: Coinbase drops a connection that has not subscribed
    // within 5 s.
    let sub = control_message("subscribe", products);
    match timeout(SUBSCRIBE_TIMEOUT, ws.send(Message::text(sub))).await {
        Err(_) => return Err("could not send the subscribe request in time".into()),
        Ok(Err(e)) => return Err(describe_ws_error(&e)),
        Ok(Ok(())) => {}
    }
    let mut limiter = MessageLimiter::new(SENDS_PER_SEC, Duration::from_secs(1));
    limiter.record(Instant::now());
    Ok(Conn {
        ws,
        limiter,
        outbox: VecDeque::new(),
    })
}

/// Whether `text` names `product` as a whole word (`FOO-USD` in "FOO-USD is not a valid
/// product", not in "FOO-USDC").
pub(crate) fn names_product(text: &str, product: &str) -> bool {
    let hay = text.to_ascii_uppercase();
    let part = |b: u8| b.is_ascii_alphanumeric() || b == b'-';
    hay.match_indices(product).any(|(i, _)| {
        let before = i.checked_sub(1).map(|j| hay.as_bytes()[j]);
        let after = hay.as_bytes().get(i + product.len()).copied();
        !before.is_some_and(part) && !after.is_some_and(part)
    })
}

/// A command or finished check while there is no connection (waiting to reconnect, or idle):
/// a subscribe waits for the next connection, an unsubscribe is done at once.
fn offline(shared: &Shared, gaps: &mut GapTracker, ctl: &mut Control, ev: Either) {
    let name = shared.sink.name();
    let todo = match ev {
        Either::Cmd(cmd) => {
            let streamed = gaps.contains(cmd.symbol());
            ctl.on_command(cmd, streamed, &shared.rest, name)
        }
        Either::Checked(c) => ctl.on_checked(c, name),
        Either::Closed => Todo::Nothing,
    };
    let Todo::Apply(cmd) = todo else { return };
    match cmd {
        SourceCmd::Subscribe { symbol, reply } => {
            if !gaps.add(symbol) {
                let _ = reply.send(Err(format!("{symbol} is already streamed from Coinbase")));
                return;
            }
            tracing::info!(
                source = name,
                "{symbol} will be subscribed when the connection is up"
            );
            ctl.changes.carried(symbol, reply, Instant::now());
        }
        SourceCmd::Unsubscribe { symbol, reply } => {
            if let Some(c) = ctl.changes.take_subscribe(symbol) {
                c.answer(Err(format!(
                    "{symbol} was removed before Coinbase confirmed it"
                )));
            }
            if !gaps.contains(symbol) {
                let _ = reply.send(Err(format!("{symbol} is not streamed from Coinbase")));
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
    shared
        .n_products
        .store(gaps.symbols().len(), Ordering::Relaxed);
}

/// Runs the connection until the engine goes away (`Err`) or Coinbase refused every product
/// (`Ok`).
pub(crate) async fn run_conn(
    shared: Arc<Shared>,
    products: Vec<Symbol>,
    mut ctl: Control,
) -> Result<(), EngineGone> {
    let cfg = &shared.cfg;
    let mut gaps = GapTracker::new(
        Venue::Coinbase,
        &products,
        true,
        false,
        cfg.backfill_candles,
    );
    let (fill_tx, mut fill_rx) = mpsc::unbounded_channel::<FillDone>();
    let mut backoff = Backoff::new(
        Duration::from_millis(cfg.backoff_initial_ms),
        Duration::from_millis(cfg.backoff_max_ms),
    );
    loop {
        let products = gaps.symbols();
        shared.n_products.store(products.len(), Ordering::Relaxed);
        if products.is_empty() {
            // nothing to stream: no connection until a product is added
            shared.sink.set_state(SourceState::Finished);
            let ev = ctl.next().await;
            offline(&shared, &mut gaps, &mut ctl, ev);
            continue;
        }
        shared.sink.set_state(SourceState::Connecting);
        let end = match connect(cfg, &products).await {
            Ok(conn) => {
                ctl.changes.connected(&[], Instant::now());
                let mut s = Session {
                    shared: &shared,
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
            Err(reason) => End::Reconnect(reason),
        };
        for c in ctl.changes.disconnected() {
            tracing::info!(
                source = shared.sink.name(),
                "{} unsubscribed with its connection; the next one leaves it out",
                c.symbol
            );
            c.answer(Ok(()));
        }
        match end {
            End::EngineGone => return Err(EngineGone),
            End::NoProducts => return Ok(()),
            End::Idle => {
                tracing::info!(
                    source = shared.sink.name(),
                    "no products left; closed the connection"
                );
                backoff.reset();
            }
            End::Reconnect(reason) => {
                let delay = backoff.next_delay();
                shared.sink.set_state(reconnecting(&backoff, delay, reason));
                // product changes are taken while waiting
                let until = Instant::now() + delay;
                loop {
                    tokio::select! {
                        _ = sleep_until(until) => break,
                        ev = ctl.next() => offline(&shared, &mut gaps, &mut ctl, ev),
                    }
                }
            }
        }
    }
}

struct Session<'a> {
    shared: &'a Arc<Shared>,
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
                }
                Some(done) = fill_rx.recv() => {
                    if let Some(end) = self.on_fill(done, &mut conn) {
                        return end;
                    }
                }
                _ = sleep_until(self.watchdog.deadline()) => {
                    let secs = self.watchdog.limit().as_secs();
                    self.shared.sink.set_state(SourceState::Stale { since_ms: self.last_data_ms });
                    return End::Reconnect(format!("no data for {secs} s"));
                }
                _ = sleep_until(slot), if !conn.outbox.is_empty() => {
                    if let Some(text) = conn.outbox.pop_front() {
                        conn.limiter.record(Instant::now());
                        if let Err(e) = conn.ws.send(Message::text(text)).await {
                            return End::Reconnect(describe_ws_error(&e));
                        }
                    }
                }
                ev = self.ctl.next() => self.on_control(ev, &mut conn),
                _ = sleep_until(overdue.unwrap_or(slot)), if overdue.is_some() => self.on_overdue(&mut conn),
                _ = tick.tick() => self.on_tick(),
            }
            if let Err(e) = self.flush().await {
                return e;
            }
            self.shared
                .n_products
                .store(self.gaps.symbols().len(), Ordering::Relaxed);
            if self.gaps.is_empty() && self.ctl.changes.is_empty() && conn.outbox.is_empty() {
                let _ = timeout(Duration::from_secs(2), conn.ws.close(None)).await;
                return End::Idle;
            }
        }
    }

    /// A command or finished check while connected.
    fn on_control(&mut self, ev: Either, conn: &mut Conn) {
        let name = self.shared.sink.name();
        let todo = match ev {
            Either::Cmd(cmd) => {
                let streamed = self.gaps.contains(cmd.symbol());
                self.ctl.on_command(cmd, streamed, &self.shared.rest, name)
            }
            Either::Checked(c) => self.ctl.on_checked(c, name),
            Either::Closed => Todo::Nothing,
        };
        let Todo::Apply(cmd) = todo else { return };
        let now = Instant::now();
        match cmd {
            SourceCmd::Subscribe { symbol, reply } => {
                if !self.gaps.add(symbol) {
                    let _ = reply.send(Err(format!("{symbol} is already streamed from Coinbase")));
                    return;
                }
                conn.outbox
                    .push_back(control_message("subscribe", &[symbol]));
                tracing::info!(source = name, "subscribing {symbol}");
                self.ctl
                    .changes
                    .sent(symbol, Kind::Subscribe, reply, Vec::new(), now);
            }
            SourceCmd::Unsubscribe { symbol, reply } => {
                if let Some(c) = self.ctl.changes.take_subscribe(symbol) {
                    c.answer(Err(format!(
                        "{symbol} was removed before Coinbase confirmed it"
                    )));
                }
                if !self.gaps.contains(symbol) {
                    let _ = reply.send(Err(format!("{symbol} is not streamed from Coinbase")));
                    return;
                }
                // forgotten at once: its events and fills are dropped from now on
                self.gaps.remove(symbol);
                conn.outbox
                    .push_back(control_message("unsubscribe", &[symbol]));
                tracing::info!(source = name, "unsubscribing {symbol}");
                self.ctl
                    .changes
                    .sent(symbol, Kind::Unsubscribe, reply, Vec::new(), now);
            }
        }
    }

    /// A `subscriptions` message: the changes it confirms are answered.
    fn on_subscriptions(&mut self, channels: &[(String, Vec<String>)]) {
        let name = self.shared.sink.name();
        for c in super::control::confirmed(&mut self.ctl.changes, channels) {
            match c.kind {
                Kind::Subscribe => {
                    tracing::info!(source = name, "{} subscribed", c.symbol);
                    if let Ok(mut inv) = self.shared.invalid.lock() {
                        inv.retain(|p| *p != c.symbol);
                    }
                    if let Some(req) = self.gaps.warm_up(c.symbol, now_ms()) {
                        self.spawn_fill(req);
                    }
                }
                Kind::Unsubscribe => tracing::info!(source = name, "{} unsubscribed", c.symbol),
            }
            c.answer(Ok(()));
        }
    }

    /// Changes Coinbase did not confirm in time.
    fn on_overdue(&mut self, conn: &mut Conn) {
        let secs = ANSWER_TIMEOUT.as_secs();
        for c in self.ctl.changes.expired(Instant::now()) {
            match c.kind {
                Kind::Subscribe => {
                    let why = format!(
                        "Coinbase did not confirm the subscription to {} within {secs} s; try again",
                        c.symbol
                    );
                    self.gaps.remove(c.symbol);
                    // it may have been subscribed all the same
                    conn.outbox
                        .push_back(control_message("unsubscribe", &[c.symbol]));
                    self.shared.record_error(why.clone());
                    c.answer(Err(why));
                }
                Kind::Unsubscribe => {
                    self.shared.record_error(format!(
                        "Coinbase did not confirm unsubscribing {} within {secs} s; its data is ignored from now on",
                        c.symbol
                    ));
                    c.answer(Ok(()));
                }
            }
        }
    }

    fn spawn_fill(&self, req: FillRequest) {
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

    /// Stops following `product`: Coinbase does not know it. `unsubscribe` when the socket may
    /// have accepted it (REST said so, not the socket).
    fn drop_product(
        &mut self,
        product: Symbol,
        why: String,
        unsubscribe: bool,
        conn: &mut Conn,
    ) -> Option<End> {
        self.shared.record_error(why);
        self.gaps.remove(product);
        self.shared.mark_invalid(product);
        if self.gaps.symbols().is_empty() {
            return Some(End::NoProducts);
        }
        if unsubscribe {
            conn.outbox
                .push_back(control_message("unsubscribe", &[product]));
        }
        None
    }

    fn on_fill(&mut self, done: FillDone, conn: &mut Conn) -> Option<End> {
        if let Some(e @ RestError::UnknownProduct { product }) = &done.error {
            let product = *product;
            if !self.gaps.contains(product) {
                return None; // removed meanwhile
            }
            let why = e.to_string();
            if let Some(c) = self.ctl.changes.take_subscribe(product) {
                c.answer(Err(format!("{product} is not a Coinbase Exchange product")));
            }
            return self.drop_product(product, why, true, conn);
        }
        let outcome = self.gaps.on_fill_done(done, now_ms(), &mut self.out);
        self.shared
            .missing
            .store(self.gaps.missing, Ordering::Relaxed);
        if let Some(lost) = outcome.lost {
            self.shared.record_error(lost);
        }
        if let Some(req) = outcome.next {
            self.spawn_fill(req);
        }
        None
    }

    /// Handles one message; returns why the connection is over, if it is.
    fn on_message(
        &mut self,
        msg: Option<Result<Message, tungstenite::Error>>,
        conn: &mut Conn,
    ) -> Option<End> {
        let text = match msg {
            None => return Some(End::Reconnect("server closed the connection".into())),
            Some(Err(e)) => return Some(End::Reconnect(describe_ws_error(&e))),
            Some(Ok(Message::Close(frame))) => {
                return Some(End::Reconnect(close_reason(frame.as_ref())));
            }
            Some(Ok(Message::Text(t))) => t,
            // Pings are answered by tungstenite as long as we keep reading; never pong ourselves.
            Some(Ok(_)) => return None,
        };
        let now = now_ms();
        match parse_frame(text.as_str(), now) {
            Ok(Frame::Trade { event, .. }) => {
                self.data_arrived(now);
                if let Some(req) = self.gaps.on_live(event, &mut self.out) {
                    self.spawn_fill(req);
                }
            }
            Ok(Frame::Ticker { quote, stats }) => {
                self.data_arrived(now);
                for ev in quote.into_iter().chain([stats]) {
                    // quotes and statistics never open a hole
                    let _ = self.gaps.on_live(ev, &mut self.out);
                }
            }
            Ok(Frame::Heartbeat {
                product,
                last_trade_id,
                ..
            }) => {
                self.data_arrived(now);
                if let Some(req) = self.gaps.on_latest_id(product, last_trade_id) {
                    self.spawn_fill(req);
                }
            }
            Ok(Frame::Subscriptions { channels }) => {
                self.watchdog.feed();
                tracing::debug!(source = self.shared.sink.name(), ?channels, "subscribed");
                self.on_subscriptions(&channels);
            }
            Ok(Frame::Error { message, reason }) => {
                self.watchdog.feed();
                return self.on_error_frame(&message, reason.as_deref(), conn);
            }
            Ok(Frame::AdvancedTrade { channel }) => {
                self.shared.ignored.fetch_add(1, Ordering::Relaxed);
                return Some(End::Reconnect(format!(
                    "{} speaks the Coinbase Advanced Trade API ({channel:?} frames), which tickwatch does not support; set [coinbase].ws_url to the Exchange feed wss://ws-feed.exchange.coinbase.com",
                    self.shared.cfg.ws_url
                )));
            }
            Ok(Frame::Unsupported { kind }) => {
                self.watchdog.feed();
                self.shared.ignored.fetch_add(1, Ordering::Relaxed);
                tracing::debug!(source = self.shared.sink.name(), "ignored {kind} frame");
            }
            Err(e) => {
                self.shared.skipped.fetch_add(1, Ordering::Relaxed);
                let shown: String = text.as_str().chars().take(120).collect();
                let what = if e.is_rejection() {
                    self.shared.rejected.fetch_add(1, Ordering::Relaxed);
                    "frame rejected"
                } else {
                    "unreadable frame skipped"
                };
                self.shared.record_error(format!("{what} ({e}): {shown}"));
            }
        }
        None
    }

    /// `{"type":"error"}`: when it names products of ours, they are dropped and the others
    /// subscribed again (Coinbase refuses the whole subscribe for one unknown product).
    fn on_error_frame(
        &mut self,
        message: &str,
        reason: Option<&str>,
        conn: &mut Conn,
    ) -> Option<End> {
        // the venue's words: shown, never obeyed by a terminal
        let text = crate::format::visible(&match reason {
            Some(r) if !r.is_empty() => format!("{message} ({r})"),
            _ => message.to_string(),
        });
        let mut ours: Vec<Symbol> = self
            .gaps
            .symbols()
            .into_iter()
            .filter(|p| names_product(&text, p.as_str()))
            .collect();
        // a product being added that Coinbase refuses: the asker hears why, and it is forgotten
        let mut refused_new = false;
        ours.retain(|p| {
            let Some(c) = self.ctl.changes.take_subscribe(*p) else {
                return true;
            };
            let why = format!("Coinbase refused to subscribe {p}: {text}");
            self.gaps.remove(*p);
            self.shared.record_error(why.clone());
            c.answer(Err(why));
            refused_new = true;
            false
        });
        // one already dropped (REST answered 404 first) still spoiled this subscribe
        let dropped_before = self
            .shared
            .invalid
            .lock()
            .is_ok_and(|inv| inv.iter().any(|p| names_product(&text, p.as_str())));
        if ours.is_empty() && !dropped_before {
            if refused_new && !self.gaps.is_empty() {
                // it may have spoiled a subscribe that named others too (after a reconnect)
                conn.outbox
                    .push_back(control_message("subscribe", &self.gaps.symbols()));
            } else if !refused_new {
                self.shared.record_error(format!("Coinbase error: {text}"));
            }
            return None;
        }
        for p in ours {
            let why =
                format!("Coinbase refused product {p}: {text}; remove it from [coinbase].products");
            if let Some(end) = self.drop_product(p, why, false, conn) {
                return Some(end);
            }
        }
        conn.outbox
            .push_back(control_message("subscribe", &self.gaps.symbols()));
        None
    }

    fn data_arrived(&mut self, now: TsMs) {
        self.watchdog.feed();
        self.last_data_ms = now;
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
        self.shared.sink.set_state(state);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscribe_names_every_product_and_the_three_channels() {
        let p = [
            Symbol::new("BTC-USD").unwrap(),
            Symbol::new("eth-usd").unwrap(),
        ];
        let v: serde_json::Value = serde_json::from_str(&control_message("subscribe", &p)).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"type":"subscribe","product_ids":["BTC-USD","ETH-USD"],"channels":["matches","ticker","heartbeat"]})
        );
    }

    #[test]
    fn an_error_names_a_product_only_as_a_whole_word() {
        assert!(names_product(
            "Failed to subscribe (FOO-USD is not a valid product)",
            "FOO-USD"
        ));
        assert!(names_product("foo-usd is not a valid product", "FOO-USD"));
        assert!(!names_product("FOO-USDC is not a valid product", "FOO-USD"));
        assert!(!names_product("XFOO-USD is not a valid product", "FOO-USD"));
        assert!(!names_product("Failed to subscribe", "FOO-USD"));
    }
}
