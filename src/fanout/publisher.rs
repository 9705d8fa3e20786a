//! The publisher: a task after the engine that publishes what the engine applied to JetStream,
//! with acknowledgements, retries and a bounded queue.
//!
//! Nothing is dropped silently: the engine hands batches over a bounded channel and counts
//! what does not fit (`dropped`); the task keeps up to [`MAX_QUEUED`] messages while NATS is
//! away, retries with backoff, and re-sends every message whose acknowledgement it did not get
//! with the same `Nats-Msg-Id`, so that the stream stores it once (within its duplicate
//! window). What is still queued when the stop's deadline passes is counted too.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream::{self, stream};

use super::binary::TradeColumns;
use super::payload::Wire;
use super::subject;
use crate::domain::{AlertRecord, ClosedCandle, MarketEvent, TsMs, VenueSymbol, now_ms};
use crate::pipeline::{HealthBoard, PipelineStats, SourceState};

/// What the engine hands the publisher after each round: the events it applied, the candles it
/// closed and the alerts it fired, in that order.
#[derive(Debug, Default)]
pub struct FanoutBatch {
    pub events: Vec<MarketEvent>,
    pub candles: Vec<ClosedCandle>,
    pub alerts: Vec<AlertRecord>,
}

impl FanoutBatch {
    pub fn is_empty(&self) -> bool {
        self.events.is_empty() && self.candles.is_empty() && self.alerts.is_empty()
    }

    pub fn len(&self) -> usize {
        self.events.len() + self.candles.len() + self.alerts.len()
    }

    /// Adds the next round's events, candles and alerts. Order is kept within each subject
    /// (the next round's trades of a symbol follow this round's), not across subjects: the
    /// next round's trades go out before this round's candles and alerts.
    fn append(&mut self, mut next: FanoutBatch) {
        self.events.append(&mut next.events);
        self.candles.append(&mut next.candles);
        self.alerts.append(&mut next.alerts);
    }
}

/// Counters of the publisher, shown in `record`'s stats line and summary.
#[derive(Debug, Default)]
pub struct FanoutStats {
    /// Events (candles, alerts, states) in messages the stream acknowledged.
    pub published: AtomicU64,
    /// Events given up: the queue was full while NATS was away, or the stop's deadline passed.
    pub dropped: AtomicU64,
    /// Events queued or awaiting their acknowledgement.
    pub pending: AtomicU64,
    /// Events in re-sent messages the stream recognised as already stored.
    pub duplicates: AtomicU64,
}

/// Where and how to publish.
#[derive(Debug, Clone)]
pub struct PublishConfig {
    /// The NATS URL (may hold credentials: never shown; see [`super::url::redact`]).
    pub url: String,
    pub stream: String,
    /// How long the stream keeps messages.
    pub max_age: Duration,
    /// How messages of trades are written.
    pub trade_format: TradeFormat,
}

/// How the publisher writes a message of trades (`[nats] trade_format`); every other message
/// is JSON lines. Readers tell them apart by the `Content-Type` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TradeFormat {
    /// protobuf `tickwatch.TradeBatch` ([`super::binary`]): about 22 bytes a trade.
    #[default]
    Protobuf,
    /// One JSON object per line, as every other message (about 170 bytes a trade).
    Json,
}

impl std::str::FromStr for TradeFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<TradeFormat, String> {
        match s {
            "protobuf" => Ok(TradeFormat::Protobuf),
            "json" => Ok(TradeFormat::Json),
            _ => Err(format!(
                "{:?} is not a trade format: use \"protobuf\" (compact; read by tickwatch, and by any protobuf library with assets/fanout.proto) or \"json\" (JSON lines, like every other message)",
                crate::format::visible(s)
            )),
        }
    }
}

/// Name of the publisher on the health board.
pub const HEALTH_NAME: &str = "publish";
/// Messages kept while NATS is away; beyond this, what comes is dropped and counted.
pub const MAX_QUEUED: usize = 500_000;
/// Batches the engine may have queued for the publisher.
pub const CHANNEL_BATCHES: usize = 4_096;
/// Messages published before their acknowledgements are awaited.
const WINDOW: usize = 1_024;
/// Messages encoded ahead of publishing.
const ENCODE_AHEAD: usize = 8;
/// How long the stream remembers message ids to store a re-sent message once.
pub const DUPLICATE_WINDOW: Duration = Duration::from_secs(120);

/// An acknowledgement on its way.
type AckFuture = std::pin::Pin<
    Box<
        dyn std::future::Future<
                Output = Result<jetstream::publish::PublishAck, jetstream::context::PublishError>,
            > + Send,
    >,
>;

/// Takes one batch from the engine into the queue, or counts it as dropped when the queue is
/// full; returns the events it queued.
fn take(
    b: FanoutBatch,
    enc: &mut Encoder,
    queue: &mut VecDeque<Outgoing>,
    stats: &FanoutStats,
) -> u64 {
    if queue.len() >= MAX_QUEUED {
        PipelineStats::add(&stats.dropped, b.len() as u64);
        tracing::error!(
            "NATS publish queue full ({MAX_QUEUED} messages): {} events not published",
            b.len()
        );
        return 0;
    }
    let before = queue.len();
    enc.batch(b, queue);
    events_from(queue, before)
}

/// The events of the messages from position `from` on.
fn events_from(queue: &VecDeque<Outgoing>, from: usize) -> u64 {
    queue.range(from..).map(|m| m.events).sum()
}

/// One message to publish.
#[derive(Debug, Clone)]
struct Outgoing {
    subject: String,
    id: String,
    /// Shared, so that keeping it for a re-send costs no copy.
    payload: bytes::Bytes,
    /// Events (lines) it carries: the counters count events, not messages.
    events: u64,
    /// A protobuf `TradeBatch` rather than JSON lines.
    protobuf: bool,
}

/// Turns what the engine and the health board produce into messages with stable ids.
struct Encoder {
    run: String,
    next: u64,
    trades: TradeFormat,
}

impl Encoder {
    fn new(trades: TradeFormat) -> Encoder {
        Encoder {
            run: format!("{:x}{:x}", now_ms(), rand::random::<u32>()),
            next: 0,
            trades,
        }
    }

    /// Most events in one message of trades (`trades`) or of anything else.
    fn per_message(&self, trades: bool) -> usize {
        if trades && self.trades == TradeFormat::Protobuf {
            TRADES_PER_BATCH
        } else {
            EVENTS_PER_MESSAGE
        }
    }

    fn id(&mut self) -> String {
        self.next += 1;
        format!("{}.{}", self.run, self.next)
    }

    fn push(&mut self, out: &mut VecDeque<Outgoing>, subject: String, id: String, w: &Wire) {
        match serde_json::to_vec(w) {
            Ok(payload) => out.push_back(Outgoing {
                subject,
                id,
                payload: payload.into(),
                events: 1,
                protobuf: false,
            }),
            // plain data: cannot fail; logged rather than dropped unseen if it ever did
            Err(e) => tracing::error!("fan-out message not encoded: {e}"),
        }
    }

    /// The events of one engine round (or of several queued ones), grouped by subject in their
    /// order: one message per subject and round (at most [`EVENTS_PER_MESSAGE`] JSON lines, or
    /// [`TRADES_PER_BATCH`] trades in a protobuf `TradeBatch`), so that publishing costs one
    /// acknowledgement per group instead of one per event.
    fn batch(&mut self, b: FanoutBatch, out: &mut VecDeque<Outgoing>) {
        let mut groups: Vec<Group> = Vec::new();
        // by (kind, venue and symbol): the subject string is made once per group; a round
        // holds few groups, so a list beats hashing every event
        let mut index: Vec<((&'static str, VenueSymbol), usize)> = Vec::new();
        for ev in &b.events {
            let kind = Wire::kind_of(ev);
            let trade_id = match ev.kind {
                crate::domain::EventKind::Trade(t) => Some(t.trade_id),
                _ => None,
            };
            let key = (kind, ev.key());
            let at = index.iter().rposition(|(k, _)| *k == key);
            let i = match at.map(|a| index[a].1) {
                Some(i) if groups[i].lines < self.per_message(trade_id.is_some()) => i,
                _ => {
                    let columns = (trade_id.is_some() && self.trades == TradeFormat::Protobuf)
                        .then(|| TradeColumns::for_event(ev, 256));
                    groups.push(Group {
                        subject: subject::market(kind, &ev.key()),
                        payload: Vec::with_capacity(if columns.is_some() { 0 } else { 4096 }),
                        columns,
                        lines: 0,
                        first_trade: trade_id,
                        last_trade: trade_id,
                    });
                    match at {
                        Some(a) => index[a].1 = groups.len() - 1,
                        None => index.push((key, groups.len() - 1)),
                    }
                    groups.len() - 1
                }
            };
            let g = &mut groups[i];
            if let Some(c) = &mut g.columns {
                // a trade: `columns` is made for groups of trades only
                c.push(ev);
                g.lines += 1;
                g.last_trade = trade_id;
                continue;
            }
            if g.lines > 0 {
                g.payload.push(b'\n');
            }
            match Wire::write_event(ev, &mut g.payload) {
                Ok(()) => {
                    g.lines += 1;
                    g.last_trade = trade_id.or(g.last_trade);
                }
                // plain data: cannot fail; logged rather than dropped unseen if it ever did
                Err(e) => tracing::error!("fan-out message not encoded: {e}"),
            }
        }
        for g in groups {
            let id = match (g.first_trade, g.last_trade) {
                // the same trades published again (a re-send, a restarted recorder that
                // refills the same ids in the same groups) are stored once
                (Some(a), Some(z)) => format!("{}.{a}.{z}.{}", g.subject, g.lines),
                _ => self.id(),
            };
            let protobuf = g.columns.is_some();
            let payload = match g.columns {
                Some(c) => prost::Message::encode_to_vec(&c.batch),
                None => g.payload,
            };
            out.push_back(Outgoing {
                subject: g.subject,
                id,
                payload: payload.into(),
                events: g.lines as u64,
                protobuf,
            });
        }
        for c in &b.candles {
            let id = self.id();
            self.push(out, subject::market("candle", &c.key), id, &Wire::candle(c));
        }
        for a in &b.alerts {
            let id = format!("alert.{}", a.alert_id);
            self.push(out, subject::market("alert", &a.key), id, &Wire::alert(a));
        }
    }
}

/// Events of one subject in one engine round, becoming one message.
struct Group {
    subject: String,
    /// JSON lines, unless `columns` holds the group's trades.
    payload: Vec<u8>,
    columns: Option<TradeColumns>,
    lines: usize,
    first_trade: Option<u64>,
    last_trade: Option<u64>,
}

/// Most events in one message of JSON lines (about 200 bytes each: well under NATS's 1 MB
/// default limit).
pub const EVENTS_PER_MESSAGE: usize = 512;
/// Most trades in one protobuf `TradeBatch` (about 22 bytes each: some 45 KB).
pub const TRADES_PER_BATCH: usize = 2_048;
/// Events of queued engine rounds taken into one round of messages.
const MERGE_EVENTS: usize = 8_192;

/// Source states published last, to publish only changes.
#[derive(Default)]
struct StateWatch {
    version: Option<u64>,
    sent: Vec<(String, SourceState)>,
}

impl StateWatch {
    fn changes(&mut self, health: &HealthBoard, enc: &mut Encoder, out: &mut VecDeque<Outgoing>) {
        let v = health.version();
        if self.version == Some(v) {
            return;
        }
        self.version = Some(v);
        let now = now_ms();
        for h in health.snapshot() {
            // the publisher's own state says nothing to a remote reader
            if h.name == HEALTH_NAME {
                continue;
            }
            let same = self.sent.iter().any(|(n, s)| *n == h.name && *s == h.state);
            if same {
                continue;
            }
            self.sent.retain(|(n, _)| *n != h.name);
            self.sent.push((h.name.clone(), h.state.clone()));
            let id = enc.id();
            enc.push(out, subject::state(&h.name), id, &Wire::state(&h, now));
        }
    }
}

/// Backoff between attempts: 125 ms doubling to 5 s.
fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(125u64.saturating_mul(1 << attempt.min(6))).min(Duration::from_secs(5))
}

/// The wait before connection attempt `attempt`, as async-nats counts them: the first one (at
/// start, or after a disconnect) is 1 and goes at once (None); the backoff is for the ones after
/// it.
fn reconnect_delay(attempt: usize) -> Option<Duration> {
    (attempt > 1).then(|| backoff(attempt.saturating_sub(2) as u32))
}

/// Connects (in the background: a server that is down at the start is retried), with the
/// connection's state on the health board under `name`.
pub async fn connect(
    url: &str,
    name: &str,
    health: &HealthBoard,
) -> anyhow::Result<async_nats::Client> {
    let shown = super::url::redact(url);
    let h = health.clone();
    let n = name.to_string();
    let events = move |ev: async_nats::Event| {
        let h = h.clone();
        let n = n.clone();
        async move {
            match ev {
                async_nats::Event::Disconnected => h.set(
                    &n,
                    SourceState::Reconnecting {
                        at_ms: now_ms() + 1_000,
                        attempt: 1,
                        reason: "disconnected from the NATS server".into(),
                    },
                ),
                async_nats::Event::Connected => h.set(&n, SourceState::Live),
                other => tracing::warn!(source = %n, "NATS: {other}"),
            }
        }
    };
    let h = health.clone();
    let n = name.to_string();
    async_nats::ConnectOptions::new()
        .retry_on_initial_connect()
        .max_reconnects(None)
        .connection_timeout(Duration::from_secs(2))
        .reconnect_delay_callback(move |attempt| {
            let Some(wait) = reconnect_delay(attempt) else {
                return Duration::ZERO;
            };
            h.set(
                &n,
                SourceState::Reconnecting {
                    at_ms: now_ms() + wait.as_millis() as TsMs,
                    attempt: attempt as u32,
                    reason: "the NATS server does not answer".into(),
                },
            );
            wait
        })
        .event_callback(events)
        .connect(url)
        .await
        .map_err(|e| anyhow::anyhow!("NATS {shown}: {}", super::url::scrub(&e.to_string(), url)))
}

/// The stream's settings.
pub fn stream_config(name: &str, max_age: Duration) -> stream::Config {
    stream::Config {
        name: name.to_string(),
        subjects: vec![format!("{}.>", subject::ROOT)],
        storage: stream::StorageType::File,
        duplicate_window: DUPLICATE_WINDOW,
        max_age,
        ..Default::default()
    }
}

/// Publishes what arrives on `rx` until it closes and everything is acknowledged, or until
/// `deadline` (set by the stop) passes: what is left then is counted as dropped.
pub async fn run(
    cfg: PublishConfig,
    rx: flume::Receiver<FanoutBatch>,
    health: HealthBoard,
    stats: Arc<FanoutStats>,
    deadline: Arc<std::sync::OnceLock<tokio::time::Instant>>,
) {
    health.set(HEALTH_NAME, SourceState::Connecting);
    let client = match connect(&cfg.url, HEALTH_NAME, &health).await {
        Ok(c) => c,
        Err(e) => {
            health.set(HEALTH_NAME, SourceState::Failed(format!("{e:#}")));
            // keep draining so that the engine never waits, and count what is lost
            while let Ok(b) = rx.recv_async().await {
                PipelineStats::add(&stats.dropped, b.len() as u64);
            }
            return;
        }
    };
    let js = jetstream::new(client);
    let mut enc = Encoder::new(cfg.trade_format);
    let mut states = StateWatch::default();
    let mut queue: VecDeque<Outgoing> = VecDeque::new();
    // Published messages whose acknowledgement is awaited, oldest first. The window stays
    // full: a new message goes out as each acknowledgement comes back, so encoding, the
    // socket and the server all work at once instead of taking turns.
    let mut inflight: VecDeque<(Outgoing, AckFuture)> = VecDeque::new();
    let mut open = true;
    let mut ready = false;
    // whether the board shows the publisher live since its last failure
    let mut live = false;
    let mut attempt = 0u32;
    // events queued or in flight, kept as messages come and go (summing the queue, which
    // holds up to MAX_QUEUED messages after an outage, on every acknowledgement would not do)
    let mut unacked: u64 = 0;
    let set_pending = |n: u64| stats.pending.store(n, std::sync::atomic::Ordering::Relaxed);
    loop {
        // take what the engine sent, a little at a time while messages flow: what is encoded
        // goes out at once, while the server stores the ones before it. While NATS is away,
        // or when the channel fills, all of it, so that the engine's batches wait here (up
        // to MAX_QUEUED messages) and not in the channel, whose overflow is lost.
        let limit = if attempt > 0 || rx.len() > CHANNEL_BATCHES / 2 {
            usize::MAX
        } else {
            ENCODE_AHEAD
        };
        while open && queue.len() < limit {
            match rx.try_recv() {
                Ok(mut b) => {
                    // rounds the engine queued meanwhile travel in the same messages: fewer,
                    // fuller messages when the engine runs ahead, no wait when it does not
                    while b.events.len() < MERGE_EVENTS {
                        match rx.try_recv() {
                            Ok(next) => b.append(next),
                            Err(flume::TryRecvError::Empty) => break,
                            Err(flume::TryRecvError::Disconnected) => {
                                open = false;
                                break;
                            }
                        }
                    }
                    unacked += take(b, &mut enc, &mut queue, &stats);
                }
                Err(flume::TryRecvError::Empty) => break,
                Err(flume::TryRecvError::Disconnected) => open = false,
            }
        }
        let before = queue.len();
        states.changes(&health, &mut enc, &mut queue);
        unacked += events_from(&queue, before);
        set_pending(unacked);
        if let Some(at) = deadline.get()
            && tokio::time::Instant::now() >= *at
        {
            break;
        }
        if queue.is_empty() && inflight.is_empty() {
            if !open {
                break;
            }
            // wait for input, looking at the source states now and then
            match tokio::time::timeout(Duration::from_millis(200), rx.recv_async()).await {
                Ok(Ok(b)) => unacked += take(b, &mut enc, &mut queue, &stats),
                Ok(Err(_)) => open = false,
                Err(_) => {}
            }
            continue;
        }
        if !ready {
            match js
                .get_or_create_stream(stream_config(&cfg.stream, cfg.max_age))
                .await
            {
                Ok(_) => ready = true,
                Err(e) => {
                    fail(
                        &health,
                        &cfg.url,
                        &mut attempt,
                        format!("stream {}: {e}", cfg.stream),
                    )
                    .await;
                    continue;
                }
            }
        }
        // top the window up
        let mut error = None;
        while inflight.len() < WINDOW {
            let Some(m) = queue.pop_front() else { break };
            let mut headers = HeaderMap::new();
            headers.insert("Nats-Msg-Id", m.id.as_str());
            if m.protobuf {
                headers.insert("Content-Type", super::binary::CONTENT_TYPE);
            }
            match js
                .publish_with_headers(m.subject.clone(), headers, m.payload.clone())
                .await
            {
                Ok(ack) => inflight.push_back((m, ack.into_future())),
                Err(e) => {
                    queue.push_front(m);
                    error = Some(e.to_string());
                    break;
                }
            }
        }
        // the oldest acknowledgement, or more input while it is on its way
        if error.is_none()
            && let Some((_, ack)) = inflight.front_mut()
        {
            let more = open && queue.len() < ENCODE_AHEAD;
            tokio::select! {
                biased;
                r = ack => {
                    let (m, _) = inflight.pop_front().unwrap_or_else(|| unreachable!());
                    match r {
                        Ok(a) => {
                            unacked = unacked.saturating_sub(m.events);
                            PipelineStats::add(&stats.published, m.events);
                            if a.duplicate {
                                PipelineStats::add(&stats.duplicates, m.events);
                            }
                            if !live {
                                health.set(HEALTH_NAME, SourceState::Live);
                                live = true;
                            }
                            attempt = 0;
                        }
                        Err(e) => {
                            inflight.push_front((m, Box::pin(std::future::pending())));
                            error = Some(e.to_string());
                        }
                    }
                }
                b = rx.recv_async(), if more => match b {
                    Ok(b) => unacked += take(b, &mut enc, &mut queue, &stats),
                    Err(_) => open = false,
                },
            }
        }
        if let Some(e) = error {
            // re-send everything not acknowledged, in order (the stream stores a message it
            // already has once, by its id)
            while let Some((m, _)) = inflight.pop_back() {
                queue.push_front(m);
            }
            set_pending(unacked);
            ready = false;
            live = false;
            fail(&health, &cfg.url, &mut attempt, e).await;
        }
    }
    queue.extend(inflight.into_iter().map(|(m, _)| m));
    let left: u64 = queue.iter().map(|m| m.events).sum();
    stats.pending.store(0, std::sync::atomic::Ordering::Relaxed);
    if left > 0 {
        PipelineStats::add(&stats.dropped, left);
        tracing::error!("stopped with {left} events not yet published to NATS");
    }
    // what the engine sent after the deadline is lost too
    let rest: usize = rx.try_iter().map(|b| b.len()).sum();
    PipelineStats::add(&stats.dropped, rest as u64);
}

/// A failed attempt: shown, logged, and waited out.
async fn fail(health: &HealthBoard, url: &str, attempt: &mut u32, why: String) {
    let wait = backoff(*attempt);
    *attempt += 1;
    health.set(
        HEALTH_NAME,
        SourceState::Reconnecting {
            at_ms: now_ms() + wait.as_millis() as TsMs,
            attempt: *attempt,
            reason: format!("NATS publish failed: {}", super::url::scrub(&why, url)),
        },
    );
    tokio::time::sleep(wait).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{EventKind, Side, Symbol, TradeTick, Venue};

    #[test]
    fn trades_have_ids_of_their_own_and_the_rest_of_the_run() {
        let t = MarketEvent {
            venue: Venue::Binance,
            symbol: Symbol::new("BTCUSDT").unwrap(),
            exch_ms: 1_700_000_000_000,
            recv_ms: 1_700_000_000_000,
            kind: EventKind::Trade(TradeTick {
                trade_id: 9,
                price: 1.0,
                qty: 1.0,
                side: Side::Buy,
            }),
        };
        let mut u = t;
        u.symbol = Symbol::new("ETHUSDT").unwrap();
        let mut later = t;
        later.kind = EventKind::Trade(TradeTick {
            trade_id: 10,
            price: 1.0,
            qty: 1.0,
            side: Side::Sell,
        });
        let round = || FanoutBatch {
            events: vec![t, u, later],
            ..Default::default()
        };
        let mut enc = Encoder::new(TradeFormat::Json);
        let mut q = VecDeque::new();
        enc.batch(round(), &mut q);
        // one message per subject, its events one JSON object per line, in order
        assert_eq!(q.len(), 2);
        assert_eq!(q[0].subject, "tickwatch.trade.binance.BTCUSDT");
        assert_eq!(q[0].id, "tickwatch.trade.binance.BTCUSDT.9.10.2");
        let lines: Vec<Wire> = q[0]
            .payload
            .split(|b| *b == b'\n')
            .map(|l| serde_json::from_slice(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2);
        assert_eq!(q[1].subject, "tickwatch.trade.binance.ETHUSDT");
        // the same trades again (a re-send) carry the same ids: the stream stores them once
        let mut again = VecDeque::new();
        Encoder::new(TradeFormat::Json).batch(round(), &mut again);
        assert_eq!(again[0].id, q[0].id);
        // the same round in protobuf: the same messages and ids, one column per field
        let mut pb = VecDeque::new();
        Encoder::new(TradeFormat::Protobuf).batch(round(), &mut pb);
        assert_eq!(pb.len(), 2);
        assert!(pb[0].protobuf && !q[0].protobuf);
        assert_eq!((&pb[0].subject, &pb[0].id), (&q[0].subject, &q[0].id));
        let batch: super::super::binary::TradeBatch =
            prost::Message::decode(pb[0].payload.clone()).unwrap();
        assert_eq!(batch.events().unwrap(), vec![t, later]);
        assert!(pb[0].payload.len() * 4 < q[0].payload.len());
        // a round larger than a message splits
        let mut big = VecDeque::new();
        enc.batch(
            FanoutBatch {
                events: vec![t; EVENTS_PER_MESSAGE + 1],
                ..Default::default()
            },
            &mut big,
        );
        assert_eq!(big.len(), 2);
        assert_ne!(enc.id(), enc.id());
        assert_eq!(backoff(0), Duration::from_millis(125));
        // the first attempt, at start or after a disconnect, does not wait
        assert_eq!(reconnect_delay(0), None);
        assert_eq!(reconnect_delay(1), None);
        assert_eq!(reconnect_delay(2), Some(Duration::from_millis(125)));
        assert_eq!(reconnect_delay(3), Some(Duration::from_millis(250)));
        assert_eq!(backoff(30), Duration::from_secs(5));
    }
}
