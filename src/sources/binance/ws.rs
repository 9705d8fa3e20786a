//! Binance on the shared live-feed engine ([`crate::sources::live`]): one connection per shard
//! of at most `max_streams_per_connection` streams. What is Binance's own is here: the `/ws`
//! URL, SUBSCRIBE and UNSUBSCRIBE in requests of at most 200 streams paced to 5 control
//! messages a second, acknowledgements by request id, `serverShutdown`, the 24 h connection
//! lifetime (rolled over early, with an overlap the trade-id check de-duplicates), and the
//! aggregate-trade REST refill. The connection loop, reconnects, symbol changes and gap
//! tracking are the engine's.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::mpsc;

use super::BinanceConfig;
use super::backfill::run_fill;
use super::rest::{RestClient, RestError};
use super::wire::{Frame, parse_frame};
use crate::domain::{Symbol, TsMs, Venue, now_ms};
use crate::pipeline::{EngineGone, EventSink, SourceState};
use crate::sources::SourceCmd;
use crate::sources::live::session::{self, BoxFut, End, LiveVenue, Session, Settings};
use crate::sources::live::{FillDone, FillRequest, GapTracker};

/// Binance: at most 5 incoming messages per second per connection (pings and pongs included).
const CONTROL_PER_SEC: usize = 5;
/// Streams per SUBSCRIBE message.
const STREAMS_PER_REQUEST: usize = 200;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

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
    /// Where `depthUpdate` frames go when local books are on.
    pub depth: Option<Arc<super::depth::DepthFeed>>,
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

/// One shard's connection loop as the engine sees it.
struct Shard {
    shared: Arc<Shared>,
    shard: usize,
    notes: mpsc::UnboundedSender<Note>,
}

impl LiveVenue for Shard {
    type Error = RestError;

    fn title(&self) -> &'static str {
        "Binance"
    }

    fn sink(&self) -> &EventSink {
        &self.shared.sink
    }

    fn settings(&self) -> Settings {
        let cfg = &self.shared.cfg;
        Settings {
            sends_per_sec: CONTROL_PER_SEC,
            connect_timeout: CONNECT_TIMEOUT,
            stale_after: Duration::from_secs(cfg.stale_after_secs),
            backoff_initial: Duration::from_millis(cfg.backoff_initial_ms),
            backoff_max: Duration::from_millis(cfg.backoff_max_ms),
            rollover: Some(Duration::from_secs_f64(cfg.rollover_hours * 3600.0)),
            keepalive: None,
            stop_when_refused: false,
            confirm_on_send: false,
            poll_candles: None,
        }
    }

    fn url(&self) -> String {
        format!("{}/ws", self.shared.cfg.ws_url.trim_end_matches('/'))
    }

    /// SUBSCRIBE or UNSUBSCRIBE of the symbols' streams (in name order), in requests of at most
    /// 200 streams, each with an id unique across the shards.
    fn requests(&self, subscribe: bool, symbols: &[Symbol]) -> (Vec<String>, Vec<u64>) {
        let mut sorted = symbols.to_vec();
        sorted.sort();
        let streams = self.shared.cfg.streams(&sorted);
        let method = if subscribe {
            "SUBSCRIBE"
        } else {
            "UNSUBSCRIBE"
        };
        let (mut msgs, mut ids) = (Vec::new(), Vec::new());
        for chunk in streams.chunks(STREAMS_PER_REQUEST) {
            let id = self.shared.next_id.fetch_add(1, Ordering::Relaxed) + 1;
            msgs.push(serde_json::json!({"method": method, "params": chunk, "id": id}).to_string());
            ids.push(id);
        }
        (msgs, ids)
    }

    fn on_text(&self, text: &str, s: &mut Session<'_, Self>) -> Option<End> {
        let now = now_ms();
        if let Some(depth) = &self.shared.depth
            && super::depth::is_depth(text)
        {
            s.data(now);
            depth.push(text);
            return None;
        }
        match parse_frame(text, now) {
            Ok(Frame::Event(ev)) => s.event(ev),
            Ok(Frame::Ack { id }) => {
                s.alive();
                s.acked(id);
            }
            Ok(Frame::Error { code, msg, id }) => {
                s.alive();
                // the venue's words: shown, never obeyed by a terminal
                let msg = crate::format::visible(&msg);
                let why = format!("{msg} (code {code})");
                if !id.is_some_and(|i| s.refused(i, &why)) {
                    let id = id.map_or_else(|| "-".to_string(), |i| i.to_string());
                    self.record_error(format!("Binance refused request {id}: {why}"));
                }
            }
            Ok(Frame::ServerShutdown { .. }) => {
                return Some(End::Reconnect {
                    reason: "serverShutdown".into(),
                    immediate: true,
                });
            }
            Ok(Frame::Unsupported { kind }) => {
                s.data(now);
                tracing::debug!(source = self.shared.sink.name(), "ignored {kind} frame");
            }
            Err(e) => {
                let shown: String = text.chars().take(80).collect();
                self.record_error(format!("unreadable frame skipped ({e}): {shown}"));
            }
        }
        None
    }

    fn fill(
        &self,
        req: FillRequest,
        on_rate_limit: Box<dyn Fn(TsMs) + Send + Sync>,
    ) -> BoxFut<'static, FillDone<RestError>> {
        Box::pin(run_fill(self.shared.rest.clone(), req, on_rate_limit))
    }

    fn unknown_symbol(&self, e: &RestError) -> Option<Symbol> {
        match e {
            RestError::InvalidSymbol { symbol } => Some(*symbol),
            _ => None,
        }
    }

    fn not_listed(&self, symbol: Symbol) -> String {
        format!("{symbol} is not a Binance spot symbol")
    }

    fn rate_limited_until(&self) -> TsMs {
        self.shared.rest.rate_limited_until()
    }

    fn show(&self, state: SourceState) {
        self.shared.set_shard_state(self.shard, state);
    }

    /// The source hears of it (before any answer goes out, so that it knows by the time the
    /// asker does); a symbol Binance does not know is listed as invalid.
    fn forgot(&self, symbol: Symbol, invalid: bool) {
        if invalid
            && let Ok(mut inv) = self.shared.invalid.lock()
            && !inv.contains(&symbol)
        {
            inv.push(symbol);
        }
        let _ = self.notes.send(Note {
            shard: self.shard,
            symbol,
            invalid,
        });
    }

    fn confirmed(&self, symbol: Symbol) {
        if let Ok(mut inv) = self.shared.invalid.lock() {
            inv.retain(|s| *s != symbol);
        }
    }

    fn counted(&self, sent: u64, _symbols: usize, _missing: u64) {
        self.shared.events.fetch_add(sent, Ordering::Relaxed);
    }
}

/// Runs one shard until the engine goes away (`Err`) or the source stops sending it commands
/// while it has no symbols (`Ok`). Symbols come and go through `cmds` (checked by the source);
/// the shard tells the source about the ones it dropped by itself through `notes`.
pub(crate) async fn run_shard(
    shared: Arc<Shared>,
    shard: usize,
    symbols: Vec<Symbol>,
    cmds: mpsc::UnboundedReceiver<SourceCmd>,
    notes: mpsc::UnboundedSender<Note>,
) -> Result<(), EngineGone> {
    let cfg = &shared.cfg;
    let agg = cfg.trade_stream == super::TradeStream::AggTrade;
    let gaps = GapTracker::new(
        Venue::Binance,
        &symbols,
        agg,
        cfg.klines,
        cfg.backfill_candles,
    );
    let venue = Shard {
        shared: shared.clone(),
        shard,
        notes,
    };
    session::run(venue, gaps, cmds).await
}
