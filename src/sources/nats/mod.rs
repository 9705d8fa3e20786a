//! `sources = ["nats"]`: a monitor watches what a recorder publishes (`record --publish`), with
//! no exchange connection of its own. It reads the fan-out stream with an ordered consumer,
//! remembers the stream sequence of the last message it handed on, and after any break
//! (server restarted, network gone) reads again from the next one: no gap, no duplicate.
//! Remote source states show on the status bar as `remote:<name>`; remote alerts (evaluated
//! once, on the recorder) go to the engine, which shows and stores each alert_id once.

mod config;

pub use config::NatsConfig;

use std::time::Duration;

use async_nats::jetstream::{self, consumer};
use futures_util::{FutureExt, StreamExt};

use super::{Source, SourceFuture};
use crate::domain::{AlertRecord, MarketEvent, VenueSymbol, now_ms};
use crate::fanout::binary::TradeBatch;
use crate::fanout::payload::Wire;
use crate::pipeline::{EventSink, Overflow, SourceState};

/// Messages handed to the engine in one batch at most.
const BATCH: usize = 1_024;

/// The `Content-Type` of every protobuf message (what follows names the message type).
const PROTOBUF: &str = "application/x-protobuf";

/// A `Content-Type` of protobuf, whatever message type follows (any letter case).
fn is_protobuf(content_type: &str) -> bool {
    content_type
        .get(..PROTOBUF.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(PROTOBUF))
}

/// How far below the highest trade id of a venue and symbol a repeat is still recognised.
const RECENT_IDS: u64 = 65_536;

/// The trade ids of one venue and symbol read within [`RECENT_IDS`] of the highest: one bit
/// each (8 KB a symbol, however many trades). Venue trade ids rise, so the highest and the
/// window below it are all a repeat can be.
struct RecentIds {
    /// The highest id read.
    high: Option<u64>,
    /// Bit `id % RECENT_IDS`: id read, for ids in `high - RECENT_IDS + 1 ..= high`.
    bits: Box<[u64; (RECENT_IDS / 64) as usize]>,
}

impl Default for RecentIds {
    fn default() -> Self {
        RecentIds {
            high: None,
            bits: Box::new([0; (RECENT_IDS / 64) as usize]),
        }
    }
}

impl RecentIds {
    fn bit(id: u64) -> (usize, u64) {
        let slot = id % RECENT_IDS;
        ((slot / 64) as usize, 1 << (slot % 64))
    }

    /// False when `id` was read already. An id further below the highest than the window is
    /// taken (it cannot be told from a late trade).
    fn first_time(&mut self, id: u64) -> bool {
        match self.high {
            Some(high) if id <= high => {
                if high - id >= RECENT_IDS {
                    return true;
                }
            }
            _ => {
                // ids above the old highest are new: clear their slots, left from ids a
                // window below
                let from = self.high.map_or(0, |h| h + 1);
                if id - from >= RECENT_IDS || self.high.is_none() {
                    self.bits.fill(0);
                } else {
                    for gone in from..=id {
                        let (w, b) = Self::bit(gone);
                        self.bits[w] &= !b;
                    }
                }
                self.high = Some(id);
            }
        }
        let (w, b) = Self::bit(id);
        if self.bits[w] & b != 0 {
            return false;
        }
        self.bits[w] |= b;
        true
    }
}

pub struct NatsSource {
    cfg: NatsConfig,
    filter: Vec<config::SymbolFilter>,
}

impl NatsSource {
    pub fn new(cfg: NatsConfig) -> anyhow::Result<NatsSource> {
        cfg.validate().map_err(anyhow::Error::msg)?;
        let filter = cfg.parsed_symbols().map_err(anyhow::Error::msg)?;
        Ok(NatsSource { cfg, filter })
    }
}

impl Source for NatsSource {
    fn name(&self) -> String {
        "nats".into()
    }

    /// The stream holds what the engine cannot take yet: waiting loses nothing.
    fn overflow(&self) -> Overflow {
        Overflow::Block
    }

    fn run(self: Box<Self>, sink: EventSink) -> SourceFuture {
        Box::pin(async move { self.read(sink).await })
    }
}

/// What the reader keeps across reconnects.
struct Reader {
    /// Stream sequence of the last message handed on (or skipped as not ours).
    last: u64,
    /// Messages that could not be read (bad JSON, unknown venue), shown on the status bar.
    unreadable: u64,
    alerts: u64,
    /// Trades read before (two recorders publishing the same symbol): dropped, counted.
    repeated: u64,
    seen: std::collections::HashMap<VenueSymbol, RecentIds>,
}

impl Reader {
    /// The status detail: remote alerts and repeated trades, when there are any.
    fn show(&self, sink: &EventSink) {
        let mut parts = Vec::new();
        if self.alerts > 0 {
            parts.push(format!("{} remote alerts", self.alerts));
        }
        if self.repeated > 0 {
            parts.push(format!("{} trades read twice, dropped", self.repeated));
        }
        sink.health()
            .set_detail(sink.name(), (!parts.is_empty()).then(|| parts.join(", ")));
    }
}

impl NatsSource {
    /// Whether a message about `key` (None: about no market) is for this screen.
    fn wanted(&self, key: Option<VenueSymbol>) -> bool {
        if self.filter.is_empty() {
            return true;
        }
        key.is_none_or(|k| {
            // the portfolio's alerts are about no market: every screen gets them
            k.venue == crate::domain::Venue::Portfolio
                || self
                    .filter
                    .iter()
                    .any(|(v, s)| *s == k.symbol && v.is_none_or(|v| v == k.venue))
        })
    }

    async fn read(self: Box<Self>, sink: EventSink) -> anyhow::Result<()> {
        let name = sink.name().to_string();
        let url = self.cfg.url.clone();
        let client = crate::fanout::publisher::connect(&url, &name, sink.health()).await?;
        let js = jetstream::new(client);
        let mut r = Reader {
            last: 0,
            unreadable: 0,
            alerts: 0,
            repeated: 0,
            seen: Default::default(),
        };
        let mut started = false;
        let mut attempt = 0u32;
        loop {
            match self.session(&js, &sink, &mut r, &mut started).await {
                Ok(()) => return Ok(()),
                Err(e) => {
                    let wait = Duration::from_millis(250u64 << attempt.min(4));
                    attempt = if started { 0 } else { attempt + 1 };
                    sink.set_state(SourceState::Reconnecting {
                        at_ms: now_ms() + wait.as_millis() as i64,
                        attempt: attempt.max(1),
                        reason: crate::fanout::url::scrub(&format!("{e:#}"), &url),
                    });
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    /// One consumer, from the message after `r.last`. Ok when the engine has gone; Err when the
    /// consumer broke (it is made again from where it was).
    async fn session(
        &self,
        js: &jetstream::Context,
        sink: &EventSink,
        r: &mut Reader,
        started: &mut bool,
    ) -> anyhow::Result<()> {
        let stream = js
            .get_stream(&self.cfg.stream)
            .await
            .map_err(|e| anyhow::anyhow!("stream {}: {e}", self.cfg.stream))?;
        if !*started {
            // "new": what is published from now on, i.e. after the stream's last message
            if self.cfg.start == "new" {
                let info = stream.get_info().await?;
                r.last = info.state.last_sequence;
            }
            *started = true;
        }
        let consumer = stream
            .create_consumer(consumer::pull::OrderedConfig {
                filter_subject: format!("{}.>", crate::fanout::subject::ROOT),
                deliver_policy: consumer::DeliverPolicy::ByStartSequence {
                    start_sequence: r.last + 1,
                },
                ..Default::default()
            })
            .await
            .map_err(|e| anyhow::anyhow!("cannot read stream {}: {e}", self.cfg.stream))?;
        let mut messages = consumer.messages().await?;
        sink.set_state(SourceState::Live);
        loop {
            let Some(first) = messages.next().await else {
                anyhow::bail!("the stream's consumer ended");
            };
            let mut events: Vec<MarketEvent> = Vec::new();
            let mut alerts: Vec<AlertRecord> = Vec::new();
            let mut last = r.last;
            let mut next = Some(first);
            while let Some(item) = next.take() {
                let m = item.map_err(|e| anyhow::anyhow!("reading the stream: {e}"))?;
                let seq = m.info().map_err(anyhow::Error::msg)?.stream_sequence;
                if seq > last {
                    last = seq;
                    let content_type = m
                        .headers
                        .as_ref()
                        .and_then(|h| h.get("Content-Type"))
                        .map(|v| v.as_str());
                    match content_type {
                        Some(ct)
                            if ct.eq_ignore_ascii_case(crate::fanout::binary::CONTENT_TYPE)
                                && crate::fanout::subject::parse_market(&m.subject)
                                    .is_some_and(|(kind, _)| kind == "trade") =>
                        {
                            self.take_trades(&m.payload, sink, r, &mut events)
                        }
                        Some(ct) if is_protobuf(ct) => self.unreadable(
                            sink,
                            r,
                            format!(
                                "a protobuf message tickwatch does not read ({} on {})",
                                crate::format::visible(ct),
                                crate::format::visible(&m.subject)
                            ),
                        ),
                        _ => {
                            // one JSON object per line: a message carries one or more events
                            for line in m.payload.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
                                self.take(line, sink, r, &mut events, &mut alerts);
                            }
                        }
                    }
                }
                if events.len() + alerts.len() >= BATCH {
                    break;
                }
                next = messages.next().now_or_never().flatten();
            }
            // the same trade from two recorders (their messages differ, so the stream kept
            // both): the engine would count its volume twice
            let before = events.len();
            events.retain(|ev| match ev.kind {
                crate::domain::EventKind::Trade(t) => {
                    r.seen.entry(ev.key()).or_default().first_time(t.trade_id)
                }
                _ => true,
            });
            if events.len() < before {
                let n = (before - events.len()) as u64;
                if r.repeated == 0 {
                    tracing::warn!(
                        source = %sink.name(),
                        "trades read twice on the stream (two recorders publishing the same symbols?): dropped and counted"
                    );
                }
                r.repeated += n;
                r.show(sink);
            }
            // both handed on before `last` moves: a break in between reads them again, and
            // the engine takes an alert_id once
            if sink.send(events).await.is_err() || sink.send_alerts(alerts).await.is_err() {
                return Ok(());
            }
            r.last = last;
        }
    }

    /// Reads one message: events go to `events`, alerts to `alerts`, states to the health
    /// board.
    fn take(
        &self,
        payload: &[u8],
        sink: &EventSink,
        r: &mut Reader,
        events: &mut Vec<MarketEvent>,
        alerts: &mut Vec<AlertRecord>,
    ) {
        let w: Wire = match serde_json::from_slice(payload) {
            Ok(w) => w,
            Err(e) => return self.unreadable(sink, r, e.to_string()),
        };
        if !self.wanted(w.key()) {
            return;
        }
        if let Some(ev) = w.to_event() {
            match ev {
                Ok(ev) => events.push(ev),
                Err(e) => self.unreadable(sink, r, e),
            }
            return;
        }
        if let Some((source, state)) = w.to_state() {
            sink.health().set(&format!("remote:{source}"), state);
            return;
        }
        if let Some(a) = w.to_alert() {
            match a {
                Ok(a) => {
                    r.alerts += 1;
                    let text =
                        crate::format::visible(&format!("{} on {}: {}", a.rule, a.key, a.message));
                    tracing::info!(source = %sink.name(), "remote alert: {text}");
                    r.show(sink);
                    alerts.push(a);
                }
                Err(e) => self.unreadable(sink, r, e),
            }
        }
        // closed candles: the local engine closes its own from the trades
    }

    /// Reads a protobuf `TradeBatch` message into `events`.
    fn take_trades(
        &self,
        payload: &[u8],
        sink: &EventSink,
        r: &mut Reader,
        events: &mut Vec<MarketEvent>,
    ) {
        let read = <TradeBatch as prost::Message>::decode(payload)
            .map_err(|e| format!("a TradeBatch that protobuf cannot read: {e}"))
            .and_then(|b| b.events());
        match read {
            Ok(trades) => {
                if trades.first().is_some_and(|t| self.wanted(Some(t.key()))) {
                    events.extend(trades);
                }
            }
            Err(e) => self.unreadable(sink, r, e),
        }
    }

    fn unreadable(&self, sink: &EventSink, r: &mut Reader, why: String) {
        r.unreadable += 1;
        let why = format!(
            "{} unreadable message(s) on the stream; last: {why}",
            r.unreadable
        );
        if r.unreadable <= 5 || r.unreadable.is_power_of_two() {
            tracing::warn!(source = %sink.name(), "{why}");
        }
        sink.health().record_error(sink.name(), why);
    }
}

#[cfg(test)]
mod recent_tests {
    use super::*;

    #[test]
    fn a_repeat_within_the_window_is_recognised_and_nothing_else() {
        let mut r = RecentIds::default();
        assert!(r.first_time(10));
        assert!(!r.first_time(10));
        // later ids, a jump, then the ones skipped arriving late: each new once
        assert!(r.first_time(12));
        assert!(r.first_time(11));
        assert!(!r.first_time(11) && !r.first_time(12));
        assert!(r.first_time(10 + RECENT_IDS));
        // 10's slot was reused by 10 + RECENT_IDS: 10 itself is now out of the window
        assert!(r.first_time(10));
        assert!(!r.first_time(12));
        // a jump past the window forgets everything before it
        assert!(r.first_time(5 * RECENT_IDS));
        assert!(r.first_time(5 * RECENT_IDS - 1));
        assert!(!r.first_time(5 * RECENT_IDS - 1));
        assert!(r.first_time(0) && r.first_time(0), "far below: taken");
        assert!(r.first_time(u64::MAX) && !r.first_time(u64::MAX));
    }
}
