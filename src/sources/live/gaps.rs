//! Per-symbol bookkeeping that keeps a venue's trade stream whole, for every venue whose trade
//! ids are consecutive: drops duplicates (rollover overlap, a resubscribe's replay, REST
//! overlap), notices holes (reconnects, dropped batches, a later id, a venue's "latest id" hint)
//! and holds a symbol's live events back while its hole is filled from REST, so that everything
//! goes out in id order and exactly once. A venue whose ids cannot be fetched by id (or are not
//! consecutive) counts its holes as missing instead: stored and shown, never hidden.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::fill::{FillDone, FillOutcome, FillRequest, candle_event, trade_event};
use crate::domain::{EventKind, Interval, MarketEvent, Symbol, TsMs, Venue};

/// Live events held per symbol while a fill runs; beyond this they are let go at once.
const MAX_HELD: usize = 200_000;
use crate::sources::net::handout::{EMPTY_FILL_RETRIES, refill_delay};
use crate::sources::net::hold::{MAX_HOLD_MS, Released, late_note, reopened_below, waiting};

#[derive(Debug, Default)]
struct SymState {
    /// Highest trade id handed to the sink in a batch that got through.
    emitted: Option<u64>,
    /// Highest trade id put into an outgoing batch (== emitted unless a send is pending/dropped).
    accepted: Option<u64>,
    /// The exchange time of that trade (a venue that pages trades by time starts there).
    accepted_ms: Option<TsMs>,
    /// Open time of the newest closed 1m candle seen.
    last_closed: Option<TsMs>,
    /// Whether the start-up candle backfill was requested.
    warmed: bool,
    filling: Option<Filling>,
    /// Fills in a row that found none of the hole's trades (REST may lag the stream).
    empty_fills: u32,
    /// When candles were last asked for (for a venue whose candles are polled).
    polled_ms: TsMs,
}

#[derive(Debug)]
struct Filling {
    held: Vec<MarketEvent>,
    stop_at: Arc<AtomicU64>,
    /// When the fill started (local time).
    started: TsMs,
    /// The first trade id the fill fetches, if it fetches trades.
    trades_from: Option<u64>,
    /// Set once the held events were let go: the trade ids the fill may still bring.
    released: Option<Released>,
}

#[derive(Debug)]
pub(crate) struct GapTracker {
    venue: Venue,
    /// Symbols in the order they were given (subscribe messages keep it).
    order: Vec<Symbol>,
    syms: HashMap<Symbol, SymState>,
    /// Trade holes can be fetched from REST by id (Binance aggregate trades, Coinbase matches;
    /// not Binance `@trade` ids).
    refill: bool,
    /// Candles are streamed, so candle holes are worth filling after a reconnect.
    klines: bool,
    /// 1m candles to fetch at start.
    warm_candles: usize,
    /// Trades known to be missing (could not be filled).
    pub missing: u64,
    /// How much of `missing` was reported already.
    reported_missing: u64,
    /// Duplicate trades dropped.
    pub duplicates: u64,
}

impl GapTracker {
    /// `refill`: trade holes can be fetched by id; `klines`: the venue streams 1m candles (their
    /// holes are fetched after a reconnect); `warm_candles`: 1m candles fetched at start.
    pub fn new(
        venue: Venue,
        symbols: &[Symbol],
        refill: bool,
        klines: bool,
        warm_candles: usize,
    ) -> Self {
        let mut order = symbols.to_vec();
        order.dedup();
        GapTracker {
            venue,
            syms: order.iter().map(|s| (*s, SymState::default())).collect(),
            order,
            refill,
            klines,
            warm_candles,
            missing: 0,
            reported_missing: 0,
            duplicates: 0,
        }
    }

    /// The symbols followed, in the order they were given or added.
    pub fn symbols(&self) -> Vec<Symbol> {
        self.order.clone()
    }

    /// How many symbols are followed.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    pub fn remove(&mut self, symbol: Symbol) {
        self.syms.remove(&symbol);
        self.order.retain(|s| *s != symbol);
    }

    pub fn contains(&self, symbol: Symbol) -> bool {
        self.syms.contains_key(&symbol)
    }

    pub fn is_empty(&self) -> bool {
        self.syms.is_empty()
    }

    /// Starts following `symbol` (added while running); false when it is followed already.
    pub fn add(&mut self, symbol: Symbol) -> bool {
        if self.syms.contains_key(&symbol) {
            return false;
        }
        self.syms.insert(symbol, SymState::default());
        self.order.push(symbol);
        true
    }

    /// The start-up candle warm-up for a symbol added while connected (once; a reconnect
    /// may have done it already). Its live events are held until the candles are in.
    pub fn warm_up(&mut self, symbol: Symbol, now: TsMs) -> Option<FillRequest> {
        let st = self.syms.get_mut(&symbol)?;
        if st.warmed || st.filling.is_some() {
            return None;
        }
        st.warmed = true;
        if self.warm_candles == 0 || st.last_closed.is_some() {
            return None;
        }
        let from = now - self.warm_candles as TsMs * Interval::M1.ms();
        st.polled_ms = now;
        Some(start_fill(symbol, st, None, Some(from), Vec::new(), 0))
    }

    /// A connection is up: what each symbol needs fetched (start-up candles, or the trades and
    /// candles missed while disconnected).
    pub fn on_connected(&mut self, now: TsMs) -> Vec<FillRequest> {
        let mut out = Vec::new();
        for sym in &self.order {
            let Some(st) = self.syms.get_mut(sym) else {
                continue;
            };
            if st.filling.is_some() {
                continue;
            }
            let trades_from = if self.refill {
                st.accepted.map(|a| a + 1)
            } else {
                None
            };
            let candles_from = match st.last_closed {
                Some(t) if self.klines => Some(t + Interval::M1.ms()),
                None if !st.warmed && self.warm_candles > 0 => {
                    Some(now - self.warm_candles as TsMs * Interval::M1.ms())
                }
                _ => None,
            };
            st.warmed = true;
            if trades_from.is_none() && candles_from.is_none() {
                continue;
            }
            if candles_from.is_some() {
                st.polled_ms = now;
            }
            out.push(start_fill(
                *sym,
                st,
                trades_from,
                candles_from,
                Vec::new(),
                0,
            ));
        }
        out
    }

    /// For a venue whose candles are polled from REST (nothing streams them): the symbols whose
    /// last ask is `every_ms` old, each asked for the closed 1m candles since its newest one
    /// (or the warm-up span while it has none). A symbol with a fill running waits for it.
    pub fn poll_candles(&mut self, now: TsMs, every_ms: TsMs) -> Vec<FillRequest> {
        let warm = self.warm_candles.max(1) as TsMs * Interval::M1.ms();
        let mut out = Vec::new();
        for sym in &self.order {
            let Some(st) = self.syms.get_mut(sym) else {
                continue;
            };
            if st.filling.is_some() || !st.warmed || now - st.polled_ms < every_ms {
                continue;
            }
            st.polled_ms = now;
            let from = st.last_closed.map_or(now - warm, |t| t + Interval::M1.ms());
            out.push(start_fill(*sym, st, None, Some(from), Vec::new(), 0));
        }
        out
    }

    /// A live event arrived: appends what may go out now to `out`; returns a fill to start when
    /// it revealed a hole.
    pub fn on_live(&mut self, ev: MarketEvent, out: &mut Vec<MarketEvent>) -> Option<FillRequest> {
        let refill = self.refill;
        let st = self.syms.get_mut(&ev.symbol)?;
        if let Some(f) = st.filling.as_mut() {
            if f.released.is_some() {
                // the fill is late: live data go on, and a new hole cannot be filled until
                // it is back (counted as missing instead)
                return accept(
                    st,
                    ev,
                    out,
                    refill,
                    false,
                    &mut self.missing,
                    &mut self.duplicates,
                );
            }
            if let EventKind::Trade(t) = ev.kind {
                let _ =
                    f.stop_at
                        .compare_exchange(0, t.trade_id, Ordering::Relaxed, Ordering::Relaxed);
            }
            f.held.push(ev);
            if f.held.len() >= MAX_HELD {
                release(st, out, refill, &mut self.missing, &mut self.duplicates);
            }
            return None;
        }
        accept(
            st,
            ev,
            out,
            refill,
            true,
            &mut self.missing,
            &mut self.duplicates,
        )
    }

    /// The venue said the latest trade of `symbol` is `last_trade_id` (Coinbase's heartbeat):
    /// a fill when trades up to it never arrived. 0 means nothing (Coinbase has sent it).
    pub fn on_latest_id(&mut self, symbol: Symbol, last_trade_id: u64) -> Option<FillRequest> {
        if last_trade_id == 0 || !self.refill {
            return None;
        }
        let st = self.syms.get_mut(&symbol)?;
        if let Some(f) = st.filling.as_ref() {
            let _ = f.stop_at.compare_exchange(
                0,
                last_trade_id + 1,
                Ordering::Relaxed,
                Ordering::Relaxed,
            );
            return None;
        }
        let a = st.accepted?;
        (last_trade_id > a)
            .then(|| start_fill(symbol, st, Some(a + 1), None, Vec::new(), last_trade_id + 1))
    }

    /// A fill finished: its events, then the held live events, go to `out` in order.
    pub fn on_fill_done<E: std::fmt::Display>(
        &mut self,
        done: FillDone<E>,
        now: TsMs,
        out: &mut Vec<MarketEvent>,
    ) -> FillOutcome {
        let refill = self.refill;
        let venue = self.venue;
        let mut outcome = FillOutcome::default();
        let Some(st) = self.syms.get_mut(&done.symbol) else {
            return outcome;
        };
        let Some(filling) = st.filling.take() else {
            return outcome;
        };
        if let Some(hole) = filling.released {
            return late_fill(venue, done, hole, now, out, &mut self.missing);
        }
        let held = filling.held;
        // Batches were dropped at the ring while this fill ran, reopening trades below what it
        // fetched: its trades wait, with the held events, behind a fill of that hole.
        if let Some(from) = reopened_below(filling.trades_from, st.accepted) {
            let sym = done.symbol;
            let wait = waiting(done.trades, held, |time, t| {
                trade_event(venue, sym, time, t, now)
            });
            outcome.next = Some(start_fill(sym, st, Some(from), None, wait, 0));
            return outcome;
        }
        for c in done.candles {
            let ev = candle_event(venue, done.symbol, Interval::M1, c, now);
            // The running minute comes from the kline stream or from trades, never from a
            // REST snapshot that is stale the moment it arrives.
            if let EventKind::Candle { closed: true, .. } = ev.kind {
                st.last_closed = st.last_closed.max(Some(c.open_ms));
                out.push(ev);
            }
        }
        out.extend(done.events);
        let before = self.missing;
        let mut trades = done.trades;
        trades.sort_by_key(|(_, t)| t.trade_id);
        let mut progressed = false;
        for (time, t) in trades {
            match st.accepted {
                Some(a) if t.trade_id <= a => continue,
                // a row REST skipped (bad numbers) or never had
                Some(a) if t.trade_id > a + 1 => self.missing += t.trade_id - a - 1,
                _ => {}
            }
            st.accepted = Some(t.trade_id);
            st.accepted_ms = Some(time);
            progressed = true;
            out.push(trade_event(venue, done.symbol, time, t, now));
        }
        // Fill again only if this one moved forward, or did not know where the hole ended, and
        // did not fail; otherwise the hole is accepted (and counted) rather than retried
        // forever. REST may lag the stream: a fill that found nothing is tried again a few
        // times, a little later, before the hole is given up.
        st.empty_fills = if progressed { 0 } else { st.empty_fills + 1 };
        let may_refill = (progressed || !done.bounded || st.empty_fills <= EMPTY_FILL_RETRIES)
            && done.error.is_none();
        let mut rest = held.into_iter();
        for ev in rest.by_ref() {
            if let Some(req) = accept(
                st,
                ev,
                out,
                refill,
                may_refill,
                &mut self.missing,
                &mut self.duplicates,
            ) {
                // the event that revealed the hole is held by the new fill; keep the rest behind it
                if let Some(f) = st.filling.as_mut() {
                    f.held.extend(rest.by_ref());
                }
                let mut req = req;
                if !progressed {
                    req.delay = refill_delay(st.empty_fills);
                }
                outcome.next = Some(req);
                break;
            }
        }
        if self.missing == before
            && let Some(e) = &done.error
        {
            // nothing was lost (a candle fetch, or trades that came some other way)
            outcome.lost = Some(format!("{}: the REST fetch failed: {e}", done.symbol));
        } else if self.missing > before || done.error.is_some() {
            let why = done.error.map_or_else(
                || "REST returned none of them".to_string(),
                |e| e.to_string(),
            );
            outcome.lost = Some(format!(
                "{}: {} trades could not be backfilled ({why})",
                done.symbol,
                self.missing - before
            ));
        }
        outcome
    }

    /// Lets the live events held behind fills that have run for `MAX_HOLD_MS` go on. Returns
    /// the symbols whose fill is late, for the log.
    pub fn release_overdue(&mut self, now: TsMs, out: &mut Vec<MarketEvent>) -> Vec<Symbol> {
        let mut late = Vec::new();
        for sym in &self.order {
            let Some(st) = self.syms.get_mut(sym) else {
                continue;
            };
            let due = st
                .filling
                .as_ref()
                .is_some_and(|f| f.released.is_none() && now - f.started >= MAX_HOLD_MS);
            if due {
                release(
                    st,
                    out,
                    self.refill,
                    &mut self.missing,
                    &mut self.duplicates,
                );
                late.push(*sym);
            }
        }
        late
    }

    /// Trades found missing (and not refillable) since the last call.
    pub fn take_new_missing(&mut self) -> u64 {
        let new = self.missing - self.reported_missing;
        self.reported_missing = self.missing;
        new
    }

    /// The batch got through.
    pub fn committed(&mut self, marks: &[(Symbol, u64)]) {
        for (sym, id) in marks {
            if let Some(st) = self.syms.get_mut(sym) {
                st.emitted = st.emitted.max(Some(*id));
            }
        }
    }

    /// The batch was dropped by a full ring: its trades count as a hole to fill.
    pub fn dropped(&mut self, marks: &[(Symbol, u64)]) {
        for (sym, _) in marks {
            if let Some(st) = self.syms.get_mut(sym) {
                st.accepted = st.emitted;
                // the time of the last emitted trade is not kept: a venue that pages by time
                // looks back from now instead
                st.accepted_ms = None;
            }
        }
    }
}

/// Starts a fill of `symbol`; its live events are held behind it. `stop`: the first trade id
/// REST need not fetch when known before any live trade (a "latest id" hint), else 0.
fn start_fill(
    symbol: Symbol,
    st: &mut SymState,
    trades_from: Option<u64>,
    candles_from: Option<TsMs>,
    held: Vec<MarketEvent>,
    stop: u64,
) -> FillRequest {
    let first_live = held.iter().find_map(|e| match e.kind {
        EventKind::Trade(t) => Some(t.trade_id),
        _ => None,
    });
    let stop_at = Arc::new(AtomicU64::new(first_live.unwrap_or(stop)));
    st.filling = Some(Filling {
        held,
        stop_at: stop_at.clone(),
        started: crate::domain::now_ms(),
        trades_from,
        released: None,
    });
    FillRequest {
        delay: std::time::Duration::ZERO,
        warm: st.last_closed.is_none(),
        after_ms: st.accepted_ms,
        symbol,
        trades_from,
        candles_from,
        stop_at,
    }
}

/// Lets a fill's held events go on without it: the trade ids between what was accepted and the
/// first held trade become the hole the fill may still bring.
fn release(
    st: &mut SymState,
    out: &mut Vec<MarketEvent>,
    refill: bool,
    missing: &mut u64,
    duplicates: &mut u64,
) {
    let Some(f) = st.filling.as_mut() else { return };
    let held = std::mem::take(&mut f.held);
    let (hole, accepted) = Released::of(f.trades_from, st.accepted, &held);
    f.released = Some(hole);
    if accepted.is_some() {
        st.accepted = accepted;
    }
    for ev in held {
        accept(st, ev, out, refill, false, missing, duplicates);
    }
}

/// A fill that came back after its held events went on: trades of its hole are handed on
/// (late for their candles, but stored once); candles older than the live ones are dropped.
fn late_fill<E: std::fmt::Display>(
    venue: Venue,
    done: FillDone<E>,
    hole: Released,
    now: TsMs,
    out: &mut Vec<MarketEvent>,
    missing: &mut u64,
) -> FillOutcome {
    let sym = done.symbol;
    let lost = hole.take_late(done.trades, |time, t| {
        out.push(trade_event(venue, sym, time, t, now))
    });
    *missing += lost;
    FillOutcome {
        next: None,
        lost: late_note(
            sym,
            lost,
            done.candles.len(),
            done.error.map(|e| e.to_string()),
        ),
    }
}

/// Passes one live event through de-duplication and hole detection.
#[allow(clippy::too_many_arguments)]
fn accept(
    st: &mut SymState,
    ev: MarketEvent,
    out: &mut Vec<MarketEvent>,
    refill: bool,
    may_fill: bool,
    missing: &mut u64,
    duplicates: &mut u64,
) -> Option<FillRequest> {
    match ev.kind {
        EventKind::Trade(t) => {
            let id = t.trade_id;
            if let Some(a) = st.accepted {
                if id <= a {
                    *duplicates += 1;
                    return None;
                }
                if id > a + 1 {
                    if refill && may_fill {
                        return Some(start_fill(ev.symbol, st, Some(a + 1), None, vec![ev], 0));
                    }
                    *missing += id - a - 1;
                }
            }
            st.accepted = Some(id);
            st.accepted_ms = Some(ev.exch_ms);
        }
        EventKind::Candle {
            interval: Interval::M1,
            candle,
            closed: true,
        } => {
            st.last_closed = st.last_closed.max(Some(candle.open_ms));
        }
        _ => {}
    }
    out.push(ev);
    None
}

#[cfg(test)]
mod tests {
    use crate::domain::{EventKind, MarketEvent, Symbol, TradeTick, TsMs};

    use super::FillDone;

    /// The trade ids in `evs`, in order.
    fn ids(evs: &[MarketEvent]) -> Vec<u64> {
        evs.iter()
            .filter_map(|e| match e.kind {
                EventKind::Trade(t) => Some(t.trade_id),
                _ => None,
            })
            .collect()
    }

    /// A fill of `symbol` that brought `trades`.
    fn fill(symbol: Symbol, trades: Vec<(TsMs, TradeTick)>) -> FillDone<String> {
        FillDone {
            symbol,
            trades,
            candles: Vec::new(),
            events: Vec::new(),
            error: None,
            bounded: true,
        }
    }
    /// Binance: aggregate trade ids (fillable) and a kline stream.
    mod binance {
        use super::super::*;
        use super::{fill, ids};
        use crate::domain::{Side, TradeTick, Venue};

        fn sym() -> Symbol {
            Symbol::new("BTCUSDT").unwrap()
        }

        fn tr(id: u64) -> MarketEvent {
            trade_event(
                Venue::Binance,
                sym(),
                1_700_000_000_000,
                TradeTick {
                    trade_id: id,
                    price: 1.0,
                    qty: 1.0,
                    side: Side::Buy,
                },
                1_700_000_000_000,
            )
        }

        fn done(ids: &[u64]) -> FillDone<String> {
            let trades = ids
                .iter()
                .map(|&i| match tr(i).kind {
                    EventKind::Trade(t) => (1_700_000_000_000, t),
                    _ => unreachable!(),
                })
                .collect();
            super::fill(sym(), trades)
        }

        #[test]
        fn duplicates_are_dropped_and_holes_held_until_filled() {
            let mut g = GapTracker::new(Venue::Binance, &[sym()], true, true, 0);
            let mut out = Vec::new();
            assert!(g.on_live(tr(1), &mut out).is_none());
            assert!(g.on_live(tr(2), &mut out).is_none());
            assert!(g.on_live(tr(2), &mut out).is_none());
            let req = g.on_live(tr(5), &mut out).unwrap();
            assert_eq!(req.trades_from, Some(3));
            assert_eq!(req.stop_at.load(Ordering::Relaxed), 5);
            assert!(g.on_live(tr(6), &mut out).is_none());
            assert_eq!(ids(&out), vec![1, 2]);
            let o = g.on_fill_done(done(&[3, 4, 5]), 1_700_000_000_000, &mut out);
            assert!(o.next.is_none() && o.lost.is_none(), "{o:?}");
            assert_eq!(ids(&out), vec![1, 2, 3, 4, 5, 6]);
            assert_eq!((g.duplicates, g.missing), (2, 0)); // the live 2 and the held 5
        }

        #[test]
        fn an_unfillable_hole_is_retried_a_little_later_then_counted_once() {
            let mut g = GapTracker::new(Venue::Binance, &[sym()], true, true, 0);
            let mut out = Vec::new();
            g.on_live(tr(1), &mut out);
            g.on_live(tr(10), &mut out).unwrap();
            // REST may lag the stream: an empty answer is asked again, each time a little later
            let mut delays = Vec::new();
            for _ in 0..EMPTY_FILL_RETRIES {
                let o = g.on_fill_done(done(&[]), 1_700_000_000_000, &mut out);
                assert!(o.lost.is_none(), "{o:?}");
                let again = o.next.expect("asked again");
                assert_eq!(again.trades_from, Some(2));
                delays.push(again.delay);
            }
            assert!(delays.windows(2).all(|w| w[0] < w[1]), "{delays:?}");
            let o = g.on_fill_done(done(&[]), 1_700_000_000_000, &mut out);
            assert!(o.next.is_none());
            assert!(o.lost.unwrap().contains("8 trades"));
            assert_eq!(ids(&out), vec![1, 10]);
            assert_eq!(g.take_new_missing(), 8);
            assert_eq!(g.take_new_missing(), 0, "counted once");
        }

        #[test]
        fn polled_candles_are_asked_for_from_the_newest_one_on_each_period() {
            const T: TsMs = 1_700_000_000_000;
            let mut g = GapTracker::new(Venue::Yahoo, &[sym()], false, true, 10);
            // not before the warm-up went out, and not again within the period
            assert!(g.poll_candles(T, 60_000).is_empty());
            let warm = g.on_connected(T);
            assert_eq!(warm[0].candles_from, Some(T - 10 * 60_000));
            assert!(g.poll_candles(T + 70_000, 60_000).is_empty(), "a fill runs");
            let mut out = Vec::new();
            let mut done = fill(sym(), Vec::new());
            let c = crate::domain::Candle::from_trade(T - 120_000, 10.0, 1.0);
            done.candles = vec![c];
            let price = MarketEvent {
                kind: EventKind::Stats24h(crate::domain::Stats24h {
                    open: 9.0,
                    high: 11.0,
                    low: 9.0,
                    last: 10.0,
                    volume: 5.0,
                }),
                ..tr(1)
            };
            done.events = vec![price];
            let o = g.on_fill_done(done, T + 1_000, &mut out);
            assert!(o.next.is_none() && o.lost.is_none(), "{o:?}");
            assert_eq!(out.len(), 2, "the candle, then the snapshot: {out:?}");
            assert!(g.poll_candles(T + 30_000, 60_000).is_empty(), "too soon");
            let p = g.poll_candles(T + 60_000, 60_000);
            assert_eq!(p.len(), 1);
            assert_eq!(p[0].candles_from, Some(T - 60_000), "from after the newest");
            assert_eq!(p[0].trades_from, None);
            // a failed poll says so and loses nothing
            let mut failed: FillDone<String> = fill(sym(), Vec::new());
            failed.error = Some("HTTP 500".into());
            let o = g.on_fill_done(failed, T + 61_000, &mut out);
            assert_eq!(
                o.lost.as_deref(),
                Some("BTCUSDT: the REST fetch failed: HTTP 500")
            );
            assert_eq!(g.take_new_missing(), 0);
        }

        #[test]
        fn an_added_symbol_is_warmed_once_and_a_removed_one_forgotten() {
            let eth = Symbol::new("ETHUSDT").unwrap();
            let mut g = GapTracker::new(Venue::Binance, &[sym()], true, true, 10);
            assert!(g.add(eth));
            assert!(!g.add(eth));
            assert_eq!(g.symbols(), vec![sym(), eth]);
            let req = g.warm_up(eth, 1_700_000_000_000).unwrap();
            assert_eq!(req.candles_from, Some(1_700_000_000_000 - 10 * 60_000));
            assert_eq!(req.trades_from, None);
            // held while the candles are fetched
            let mut out = Vec::new();
            let mut t = tr(1);
            t.symbol = eth;
            assert!(g.on_live(t, &mut out).is_none());
            assert!(out.is_empty());
            assert!(g.warm_up(eth, 1_700_000_000_000).is_none(), "only once");
            // a reconnect does not warm it again
            assert!(
                g.on_connected(1_700_000_000_000)
                    .iter()
                    .all(|r| r.symbol != eth)
            );
            g.remove(eth);
            assert!(!g.contains(eth));
            assert!(g.on_live(t, &mut out).is_none());
            assert!(out.is_empty(), "a removed symbol's events are dropped");
            g.remove(sym());
            assert!(g.is_empty());
        }

        #[test]
        fn a_dropped_batch_reopens_the_hole_and_reconnect_asks_for_trades_and_candles() {
            let mut g = GapTracker::new(Venue::Binance, &[sym()], true, true, 1000);
            let first = g.on_connected(1_700_000_000_000);
            assert_eq!(
                first[0].candles_from,
                Some(1_700_000_000_000 - 1000 * 60_000)
            );
            assert_eq!(first[0].trades_from, None);
            let mut out = Vec::new();
            g.on_fill_done(done(&[]), 1_700_000_000_000, &mut out);
            g.on_live(tr(7), &mut out);
            g.committed(&crate::sources::net::handout::trade_marks(&out));
            out.clear();
            g.on_live(tr(8), &mut out);
            g.on_live(tr(9), &mut out);
            g.dropped(&crate::sources::net::handout::trade_marks(&out));
            out.clear();
            let req = g.on_live(tr(10), &mut out).unwrap();
            assert_eq!(req.trades_from, Some(8));
            let o = g.on_fill_done(done(&[8, 9]), 1_700_000_000_000, &mut out);
            assert!(o.next.is_none());
            assert_eq!(ids(&out), vec![8, 9, 10]);
            let again = g.on_connected(1_700_000_000_000);
            assert_eq!(again[0].trades_from, Some(11));
            assert_eq!(again[0].candles_from, None); // no closed candle seen yet
            assert_eq!(out[0].venue, Venue::Binance);
        }

        #[test]
        fn a_fill_that_runs_too_long_lets_live_data_go_and_its_late_trades_still_count() {
            let mut g = GapTracker::new(Venue::Binance, &[sym()], true, true, 0);
            let mut out = Vec::new();
            g.on_live(tr(1), &mut out);
            let req = g.on_live(tr(10), &mut out).expect("a hole at 2..=9");
            assert_eq!(req.trades_from, Some(2));
            g.on_live(tr(11), &mut out);
            assert_eq!(ids(&out), vec![1], "held behind the fill");
            // not overdue yet
            let now = crate::domain::now_ms();
            assert!(g.release_overdue(now, &mut out).is_empty());
            // overdue: the held trades go on, and later ones are not held
            let late = g.release_overdue(now + MAX_HOLD_MS, &mut out);
            assert_eq!(late, vec![sym()]);
            g.on_live(tr(12), &mut out);
            assert_eq!(ids(&out), vec![1, 10, 11, 12]);
            // the fill comes back late with part of the hole: those trades are handed on once,
            // what it did not bring is counted missing, and nothing is asked again
            let o = g.on_fill_done(
                done(&[2, 3, 4, 5, 6, 7, 10, 11]),
                1_700_000_000_000,
                &mut out,
            );
            assert!(o.next.is_none());
            assert!(o.lost.unwrap().contains("2 trades could not be backfilled"));
            assert_eq!(ids(&out), vec![1, 10, 11, 12, 2, 3, 4, 5, 6, 7]);
            assert_eq!(g.take_new_missing(), 2);
            // the stream goes on normally afterwards
            g.on_live(tr(13), &mut out);
            assert_eq!(ids(&out).last(), Some(&13));
        }

        #[test]
        fn a_flood_behind_a_fill_is_let_go_at_the_cap_in_order() {
            let mut g = GapTracker::new(Venue::Binance, &[sym()], true, true, 0);
            let mut out = Vec::new();
            g.on_live(tr(1), &mut out);
            g.on_live(tr(3), &mut out).expect("a hole at 2");
            for id in 4..(MAX_HELD as u64 + 10) {
                g.on_live(tr(id), &mut out);
            }
            // released at the cap (in order, each once), not trimmed from the front one by one
            let got = ids(&out);
            assert_eq!(got.len(), MAX_HELD + 8);
            assert!(got.windows(2).all(|w| w[0] < w[1]));
            assert_eq!(got[..3], [1, 3, 4]);
        }

        #[test]
        fn a_hole_reopened_by_a_ring_drop_during_a_fill_is_filled_too() {
            use crate::sources::net::handout::trade_marks;
            let mut g = GapTracker::new(Venue::Binance, &[sym()], true, true, 0);
            let mut out = Vec::new();
            for id in 1..=3 {
                g.on_live(tr(id), &mut out);
            }
            g.committed(&trade_marks(&out[..1]));
            let req = g.on_live(tr(6), &mut out).expect("a hole at 4..=5");
            assert_eq!(req.trades_from, Some(4));
            // the batch with 2 and 3 is dropped at the ring while the fill runs
            g.dropped(&trade_marks(&out[1..3]));
            out.clear();
            // the fill brings 4 and 5: they wait behind a fill of the reopened 2..=3
            let o = g.on_fill_done(done(&[4, 5]), 1_700_000_000_000, &mut out);
            let again = o.next.expect("the reopened hole is filled");
            assert_eq!(again.trades_from, Some(2));
            assert!(ids(&out).is_empty(), "{:?}", ids(&out));
            let o = g.on_fill_done(done(&[2, 3, 4, 5]), 1_700_000_000_000, &mut out);
            assert!(o.next.is_none() && o.lost.is_none(), "{o:?}");
            assert_eq!(ids(&out), vec![2, 3, 4, 5, 6]);
            assert_eq!(g.missing, 0);
        }
    }

    /// Coinbase: fillable match ids, a heartbeat naming the latest id, no candle stream.
    mod coinbase {
        use super::super::*;
        use super::ids;
        use crate::domain::{Candle, Side, TradeTick, Venue};

        const T: TsMs = 1_700_000_000_000;

        fn sym() -> Symbol {
            Symbol::new("BTC-USD").unwrap()
        }

        fn tick(id: u64) -> TradeTick {
            TradeTick {
                trade_id: id,
                price: 1.0,
                qty: 1.0,
                side: Side::Buy,
            }
        }

        fn tr(id: u64) -> MarketEvent {
            trade_event(Venue::Coinbase, sym(), T, tick(id), T)
        }

        #[test]
        fn an_added_product_is_warmed_once_and_kept_in_order() {
            let eth = Symbol::new("ETH-USD").unwrap();
            let mut g = GapTracker::new(Venue::Coinbase, &[sym()], true, false, 60);
            assert!(g.add(eth));
            assert!(!g.add(eth));
            assert_eq!(g.symbols(), vec![sym(), eth]);
            let req = g.warm_up(eth, T).unwrap();
            assert_eq!(req.candles_from, Some(T - 60 * 60_000));
            assert!(g.warm_up(eth, T).is_none(), "only once");
            assert!(g.on_connected(T).iter().all(|r| r.symbol != eth));
            g.remove(eth);
            assert!(!g.contains(eth));
            let mut out = Vec::new();
            let mut t = tr(1);
            t.symbol = eth;
            assert!(g.on_live(t, &mut out).is_none());
            assert!(out.is_empty(), "a removed product's events are dropped");
            g.remove(sym());
            assert!(g.is_empty());
        }

        fn done(ids: &[u64]) -> FillDone<String> {
            super::fill(sym(), ids.iter().rev().map(|&i| (T, tick(i))).collect())
        }

        #[test]
        fn a_heartbeat_ahead_of_the_trades_starts_a_fill_up_to_its_id() {
            let mut g = GapTracker::new(Venue::Coinbase, &[sym()], true, false, 0);
            let mut out = Vec::new();
            assert!(
                g.on_latest_id(sym(), 9).is_none(),
                "nothing seen yet: no baseline"
            );
            g.on_live(tr(7), &mut out);
            assert!(g.on_latest_id(sym(), 7).is_none());
            assert!(
                g.on_latest_id(sym(), 0).is_none(),
                "0 is Coinbase's 'unknown'"
            );
            let req = g.on_latest_id(sym(), 9).unwrap();
            assert_eq!(req.trades_from, Some(8));
            assert_eq!(req.stop_at.load(Ordering::Relaxed), 10);
            g.on_live(tr(10), &mut out); // held behind the fill
            let o = g.on_fill_done(done(&[8, 9]), T, &mut out);
            assert!(o.next.is_none() && o.lost.is_none(), "{o:?}");
            assert_eq!(ids(&out), vec![7, 8, 9, 10]);
        }

        #[test]
        fn a_catch_up_that_found_nothing_may_fill_once_more_when_live_shows_a_hole() {
            let mut g = GapTracker::new(Venue::Coinbase, &[sym()], true, false, 0);
            let mut out = Vec::new();
            g.on_live(tr(5), &mut out);
            let req = g.on_connected(T).pop().unwrap();
            assert_eq!(req.trades_from, Some(6));
            g.on_live(tr(9), &mut out); // held; REST was asked before it came
            let mut d = done(&[]);
            d.bounded = false;
            let o = g.on_fill_done(d, T, &mut out);
            let again = o.next.expect("the hole below 9 is fetched");
            assert_eq!(again.trades_from, Some(6));
            assert_eq!(again.stop_at.load(Ordering::Relaxed), 9);
            // a bounded fill that keeps finding nothing is the end of it
            for _ in 1..EMPTY_FILL_RETRIES {
                assert!(g.on_fill_done(done(&[]), T, &mut out).next.is_some());
            }
            let o = g.on_fill_done(done(&[]), T, &mut out);
            assert!(o.next.is_none());
            assert!(o.lost.unwrap().contains("3 trades"));
            assert_eq!(ids(&out), vec![5, 9]);
        }

        #[test]
        fn a_hole_inside_the_rest_answer_is_counted() {
            let mut g = GapTracker::new(Venue::Coinbase, &[sym()], true, false, 0);
            let mut out = Vec::new();
            g.on_live(tr(1), &mut out);
            g.on_live(tr(6), &mut out).unwrap();
            let o = g.on_fill_done(done(&[2, 4, 5]), T, &mut out);
            assert_eq!(ids(&out), vec![1, 2, 4, 5, 6]);
            assert_eq!(g.missing, 1);
            assert!(o.lost.unwrap().contains("1 trades"));
        }

        #[test]
        fn a_dropped_batch_reopens_the_hole_and_a_reconnect_asks_for_trades_and_candles() {
            let mut g = GapTracker::new(Venue::Coinbase, &[sym()], true, false, 300);
            let first = g.on_connected(T);
            assert_eq!(first[0].candles_from, Some(T - 300 * 60_000));
            assert_eq!(first[0].trades_from, None);
            let mut out = Vec::new();
            let mut d = done(&[]);
            d.candles = vec![Candle::flat(T - 120_000, 5.0)];
            g.on_fill_done(d, T, &mut out);
            assert!(matches!(
                out[0].kind,
                EventKind::Candle {
                    interval: Interval::M1,
                    closed: true,
                    ..
                }
            ));
            out.clear();
            g.on_live(tr(7), &mut out);
            g.committed(&crate::sources::net::handout::trade_marks(&out));
            out.clear();
            g.on_live(tr(8), &mut out);
            g.on_live(tr(9), &mut out);
            g.dropped(&crate::sources::net::handout::trade_marks(&out));
            out.clear();
            let req = g.on_live(tr(10), &mut out).unwrap();
            assert_eq!(req.trades_from, Some(8));
            let o = g.on_fill_done(done(&[8, 9]), T, &mut out);
            assert!(o.next.is_none());
            assert_eq!(ids(&out), vec![8, 9, 10]);
            let again = g.on_connected(T);
            assert_eq!(again[0].trades_from, Some(11));
            assert_eq!(again[0].candles_from, None, "warm-up only once");
            assert_eq!(
                again[0].stop_at.load(Ordering::Relaxed),
                0,
                "unknown until live"
            );
            assert_eq!(out[0].venue, Venue::Coinbase);
        }

        #[test]
        fn a_removed_product_is_forgotten() {
            let other = Symbol::new("ETH-USD").unwrap();
            let mut g = GapTracker::new(Venue::Coinbase, &[sym(), other], true, false, 0);
            g.remove(sym());
            assert_eq!(g.symbols(), vec![other]);
            let mut out = Vec::new();
            assert!(g.on_live(tr(1), &mut out).is_none());
            assert!(out.is_empty());
        }
    }
}
