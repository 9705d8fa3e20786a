//! Yahoo on the shared live-feed engine ([`crate::sources::live`]): one streamer connection for
//! every symbol. What is Yahoo's own is here: one `{"subscribe":[..]}` message that Yahoo never
//! answers (a change is done once sent), pricing frames as `Stats24h` and quotes, candles
//! polled from the chart API (the streamer sends none) in the session that Yahoo requires, and
//! each symbol's market session (pre, regular, post, closed) in the status detail.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::YahooConfig;
use super::chart::Span;
use super::client::{Client, FetchError};
use super::wire::{self, MarketHours};
use crate::domain::{EventKind, MarketEvent, Symbol, TsMs, Venue, now_ms};
use crate::pipeline::EventSink;
use crate::sources::live::frame::{self, Frame, Words};
use crate::sources::live::session::{BoxFut, End, LiveVenue, Session, Settings};
use crate::sources::live::source::{self, LiveStats};
use crate::sources::live::{FillDone, FillRequest};

/// Our pace of control messages.
const SENDS_PER_SEC: usize = 5;

/// How Yahoo is named in what the engine shows.
const WORDS: Words = Words {
    title: "Yahoo",
    unit: "symbol",
    key: "[yahoo].symbols",
    main_channel: "",
};

/// What the connection keeps besides the engine's.
pub(crate) struct State {
    pub cfg: YahooConfig,
    pub client: Client,
    /// Each symbol's market session, as the stream or the chart last said.
    pub hours: Mutex<BTreeMap<Symbol, MarketHours>>,
}

impl State {
    fn set_hours(&self, symbol: Symbol, h: MarketHours, stats: &LiveStats) {
        let Ok(mut hours) = self.hours.lock() else {
            return;
        };
        if hours.insert(symbol, h) == Some(h) {
            return;
        }
        let shown: Vec<String> = hours
            .iter()
            .map(|(s, h)| format!("{s} {}", hours_word(*h)))
            .collect();
        stats.set_note(Some(format!("sessions: {}", shown.join(", "))));
    }

    fn forget_hours(&self, symbol: Symbol) {
        if let Ok(mut hours) = self.hours.lock() {
            hours.remove(&symbol);
        }
    }
}

/// How a session is shown.
pub fn hours_word(h: MarketHours) -> String {
    match h {
        MarketHours::Pre => "pre-market".into(),
        MarketHours::Regular => "open".into(),
        MarketHours::Post => "post-market".into(),
        MarketHours::Extended => "overnight".into(),
        MarketHours::Closed => "closed".into(),
        MarketHours::Other(v) => format!("session {v}"),
    }
}

pub(crate) type Shared = source::Shared<State>;

/// The connection as the engine sees it.
pub(crate) struct Feed {
    pub shared: Arc<Shared>,
}

impl LiveVenue for Feed {
    type Error = FetchError;

    fn title(&self) -> &'static str {
        "Yahoo"
    }

    fn sink(&self) -> &EventSink {
        &self.shared.sink
    }

    fn settings(&self) -> Settings {
        let c = &self.shared.cfg.cfg;
        let mut s = Settings::one_connection(
            SENDS_PER_SEC,
            c.stale_after_secs,
            c.backoff_initial_ms,
            c.backoff_max_ms,
            None,
        );
        s.confirm_on_send = true;
        s.poll_candles = Some(Duration::from_secs(c.candle_poll_secs));
        s
    }

    fn url(&self) -> String {
        self.shared.cfg.cfg.ws_url.trim().to_string()
    }

    fn requests(&self, subscribe: bool, symbols: &[Symbol]) -> (Vec<String>, Vec<u64>) {
        if !subscribe {
            for s in symbols {
                self.shared.cfg.forget_hours(*s);
            }
        }
        (vec![wire::subscription(symbols, subscribe)], Vec::new())
    }

    fn on_text(&self, text: &str, s: &mut Session<'_, Self>) -> Option<End> {
        let sh = &self.shared;
        let frame = match wire::parse_frame(text, now_ms()) {
            Ok(wire::Frame::Price(p)) => {
                if s.symbols().contains(&p.event.symbol) {
                    sh.cfg.set_hours(p.event.symbol, p.hours, &sh.stats);
                }
                let mut evs = vec![p.event];
                evs.extend(p.quote);
                Ok(Frame::Events(evs))
            }
            Ok(wire::Frame::Unsupported { kind }) if kind == "heartbeat" => {
                Ok(Frame::Pong { req_id: None })
            }
            Ok(wire::Frame::Unsupported { kind }) => Ok(Frame::Unsupported { kind }),
            Err(e) => {
                let r = e.is_rejection();
                Err((e, r))
            }
        };
        frame::handle(frame, text, &WORDS, &sh.stats, &sh.sink, s)
    }

    fn fill(
        &self,
        req: FillRequest,
        on_rate_limit: Box<dyn Fn(TsMs) + Send + Sync>,
    ) -> BoxFut<'static, FillDone<FetchError>> {
        Box::pin(run_fill(self.shared.clone(), req, on_rate_limit))
    }

    fn unknown_symbol(&self, e: &FetchError) -> Option<Symbol> {
        e.unknown_symbol()
    }

    fn not_listed(&self, symbol: Symbol) -> String {
        format!(
            "Yahoo has no data for {symbol}; check it on finance.yahoo.com (indices start with ^, FX ends with =X, futures with =F)"
        )
    }

    fn rate_limited_until(&self) -> TsMs {
        self.shared.rest.rate_limited_until()
    }

    fn stats(&self) -> Option<&LiveStats> {
        Some(&self.shared.stats)
    }
}

/// Fetches `req`'s candles: at a symbol's first fetch the last five days (a weekend or a
/// holiday still shows the last sessions) cut to `backfill_candles`, with the last price and
/// the session; after that the closed 1m candles since the newest one. Rows where nothing
/// traded are skipped by the parser, so nights and weekends leave no flat candles.
async fn run_fill(
    sh: Arc<Shared>,
    req: FillRequest,
    on_rl: Box<dyn Fn(TsMs) + Send + Sync>,
) -> FillDone<FetchError> {
    let mut done = FillDone::begin(&req).await;
    let Some(from) = req.candles_from else {
        return done;
    };
    let st = &sh.cfg;
    let sym = req.symbol;
    // until a candle is known (a failed or empty warm-up is simply asked again)
    let first = req.warm;
    let now = now_ms();
    let span = if first {
        Span::Range("5d")
    } else {
        Span::Period {
            from_s: from / 1000,
            to_s: now / 1000 + 60,
        }
    };
    let pre_post = st.cfg.include_pre_post;
    match st.client.chart_1m(&sym, span, pre_post, &*on_rl).await {
        Ok(chart) => {
            // the running minute is not a closed candle yet; a poll keeps what is new
            let mut closed: Vec<_> = chart
                .bars
                .iter()
                .map(|b| b.candle)
                .filter(|c| c.open_ms + 60_000 <= now && (first || c.open_ms >= from))
                .collect();
            if first {
                let keep = st.cfg.backfill_candles;
                closed.drain(..closed.len().saturating_sub(keep));
                if let Some(stats) = chart.meta.stats() {
                    let t = chart.meta.regular_market_time.map_or(now, |t| t * 1000);
                    done.events.push(MarketEvent {
                        venue: Venue::Yahoo,
                        symbol: sym,
                        exch_ms: t,
                        recv_ms: now,
                        kind: EventKind::Stats24h(stats),
                    });
                }
            }
            done.candles = closed;
            if let Some(h) = chart.meta.session_now(now / 1000) {
                st.set_hours(sym, h, &sh.stats);
            }
        }
        Err(e) => done.error = Some(e),
    }
    done
}
