//! Per-product bookkeeping that keeps the trade stream whole. Coinbase trade ids are sequential
//! per product, so a hole is visible as soon as a later id arrives (or a heartbeat names one):
//! duplicates are dropped (`last_match` after a resubscribe, REST overlap), holes are filled
//! from REST, and a product's live events are held back while its fill runs, so that everything
//! goes out in id order and exactly once.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::fill::{FillDone, FillRequest, candle_event, trade_event};
use crate::domain::{EventKind, Interval, MarketEvent, Symbol, TsMs};

/// Live events held per product while a fill runs; beyond this they are let go at once.
const MAX_HELD: usize = 200_000;
use crate::sources::net::handout::{EMPTY_FILL_RETRIES, refill_delay};
use crate::sources::net::hold::{MAX_HOLD_MS, Released, late_note, reopened_below, waiting};

#[derive(Debug, Default)]
struct ProductState {
    /// Highest trade id handed to the sink in a batch that got through.
    emitted: Option<u64>,
    /// Highest trade id put into an outgoing batch (== emitted unless a send is pending/dropped).
    accepted: Option<u64>,
    /// Whether the start-up candle warm-up was requested.
    warmed: bool,
    filling: Option<Filling>,
    /// Fills in a row that found none of the hole's trades (REST may lag the stream).
    empty_fills: u32,
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

/// What a finished fill produced.
#[derive(Debug, Default)]
pub(crate) struct FillOutcome {
    /// Another fill is needed (the hole was larger than one fill fetches).
    pub next: Option<FillRequest>,
    /// Trades that are lost for good (REST failed or had nothing), with the reason.
    pub lost: Option<String>,
}

#[derive(Debug)]
pub(crate) struct GapTracker {
    /// Products in the configured order (the subscribe message keeps it).
    order: Vec<Symbol>,
    products: HashMap<Symbol, ProductState>,
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
    pub fn new(products: &[Symbol], warm_candles: usize) -> Self {
        GapTracker {
            order: products.to_vec(),
            products: products
                .iter()
                .map(|s| (*s, ProductState::default()))
                .collect(),
            warm_candles,
            missing: 0,
            reported_missing: 0,
            duplicates: 0,
        }
    }

    pub fn products(&self) -> Vec<Symbol> {
        self.order.clone()
    }

    pub fn remove(&mut self, product: Symbol) {
        self.products.remove(&product);
        self.order.retain(|p| *p != product);
    }

    pub fn contains(&self, product: Symbol) -> bool {
        self.products.contains_key(&product)
    }

    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// Starts following `product` (added while running); false when it is followed already.
    pub fn add(&mut self, product: Symbol) -> bool {
        if self.products.contains_key(&product) {
            return false;
        }
        self.products.insert(product, ProductState::default());
        self.order.push(product);
        true
    }

    /// The start-up candle warm-up for a product added while connected (once; a reconnect may
    /// have done it already). Its live events are held until the candles are in.
    pub fn warm_up(&mut self, product: Symbol, now: TsMs) -> Option<FillRequest> {
        let st = self.products.get_mut(&product)?;
        if st.warmed || st.filling.is_some() {
            return None;
        }
        st.warmed = true;
        if self.warm_candles == 0 {
            return None;
        }
        let from = now - self.warm_candles as TsMs * Interval::M1.ms();
        Some(start_fill(product, st, None, Some(from), Vec::new(), 0))
    }

    /// A connection is up: what each product needs fetched (start-up candles, or the trades
    /// missed while disconnected).
    pub fn on_connected(&mut self, now: TsMs) -> Vec<FillRequest> {
        let mut out = Vec::new();
        for sym in &self.order {
            let Some(st) = self.products.get_mut(sym) else {
                continue;
            };
            if st.filling.is_some() {
                continue;
            }
            let trades_from = st.accepted.map(|a| a + 1);
            let candles_from = (!st.warmed && self.warm_candles > 0)
                .then(|| now - self.warm_candles as TsMs * Interval::M1.ms());
            st.warmed = true;
            if trades_from.is_none() && candles_from.is_none() {
                continue;
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

    /// A live event arrived: appends what may go out now to `out`; returns a fill to start when
    /// it revealed a hole.
    pub fn on_live(&mut self, ev: MarketEvent, out: &mut Vec<MarketEvent>) -> Option<FillRequest> {
        let st = self.products.get_mut(&ev.symbol)?;
        if let Some(f) = st.filling.as_mut() {
            if f.released.is_some() {
                // the fill is late: live data go on, and a new hole cannot be filled until
                // it is back (counted as missing instead)
                return accept(st, ev, out, false, &mut self.missing, &mut self.duplicates);
            }
            if let EventKind::Trade(t) = ev.kind {
                let _ =
                    f.stop_at
                        .compare_exchange(0, t.trade_id, Ordering::Relaxed, Ordering::Relaxed);
            }
            f.held.push(ev);
            if f.held.len() >= MAX_HELD {
                release(st, out, &mut self.missing, &mut self.duplicates);
            }
            return None;
        }
        accept(st, ev, out, true, &mut self.missing, &mut self.duplicates)
    }

    /// A heartbeat said the latest trade of `product` is `last_trade_id`: a fill when trades
    /// up to it never arrived. Coinbase has been seen sending 0 here; that means nothing.
    pub fn on_heartbeat(&mut self, product: Symbol, last_trade_id: u64) -> Option<FillRequest> {
        if last_trade_id == 0 {
            return None;
        }
        let st = self.products.get_mut(&product)?;
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
        (last_trade_id > a).then(|| {
            start_fill(
                product,
                st,
                Some(a + 1),
                None,
                Vec::new(),
                last_trade_id + 1,
            )
        })
    }

    /// A fill finished: its events, then the held live events, go to `out` in order.
    pub fn on_fill_done(
        &mut self,
        done: FillDone,
        now: TsMs,
        out: &mut Vec<MarketEvent>,
    ) -> FillOutcome {
        let mut outcome = FillOutcome::default();
        let Some(st) = self.products.get_mut(&done.product) else {
            return outcome;
        };
        let Some(filling) = st.filling.take() else {
            return outcome;
        };
        if let Some(hole) = filling.released {
            return late_fill(done, hole, now, out, &mut self.missing);
        }
        let held = filling.held;
        // Batches were dropped at the ring while this fill ran, reopening trades below what it
        // fetched: its trades wait, with the held events, behind a fill of that hole.
        if let Some(from) = reopened_below(filling.trades_from, st.accepted) {
            let sym = done.product;
            let wait = waiting(done.trades, held, |time, t| trade_event(sym, time, t, now));
            outcome.next = Some(start_fill(sym, st, Some(from), None, wait, 0));
            return outcome;
        }
        for c in done.candles {
            out.push(candle_event(done.product, c, now));
        }
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
            progressed = true;
            out.push(trade_event(done.product, time, t, now));
        }
        // Fill again only if this one moved forward, or did not know where the hole ended, and
        // did not fail; otherwise the hole is accepted (and counted) rather than retried forever.
        // REST may lag the stream: a fill that found nothing is tried again a few times, a
        // little later, before the hole is given up
        st.empty_fills = if progressed { 0 } else { st.empty_fills + 1 };
        let may_refill = (progressed || !done.bounded || st.empty_fills <= EMPTY_FILL_RETRIES)
            && done.error.is_none();
        let mut rest = held.into_iter();
        while let Some(ev) = rest.next() {
            if let Some(req) = accept(
                st,
                ev,
                out,
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
        if self.missing > before || done.error.is_some() {
            let why = done.error.map_or_else(
                || "REST returned none of them".to_string(),
                |e| e.to_string(),
            );
            outcome.lost = Some(format!(
                "{}: {} trades could not be backfilled ({why})",
                done.product,
                self.missing - before
            ));
        }
        outcome
    }

    /// Lets the live events held behind fills that have run for `MAX_HOLD_MS` go on. Returns
    /// the products whose fill is late, for the log.
    pub fn release_overdue(&mut self, now: TsMs, out: &mut Vec<MarketEvent>) -> Vec<Symbol> {
        let mut late = Vec::new();
        for (p, st) in self.products.iter_mut() {
            let due = st
                .filling
                .as_ref()
                .is_some_and(|f| f.released.is_none() && now - f.started >= MAX_HOLD_MS);
            if due {
                release(st, out, &mut self.missing, &mut self.duplicates);
                late.push(*p);
            }
        }
        late.sort();
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
            if let Some(st) = self.products.get_mut(sym) {
                st.emitted = st.emitted.max(Some(*id));
            }
        }
    }

    /// The batch was dropped by a full ring: its trades count as a hole to fill.
    pub fn dropped(&mut self, marks: &[(Symbol, u64)]) {
        for (sym, _) in marks {
            if let Some(st) = self.products.get_mut(sym) {
                st.accepted = st.emitted;
            }
        }
    }
}

fn start_fill(
    product: Symbol,
    st: &mut ProductState,
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
        product,
        trades_from,
        candles_from,
        stop_at,
    }
}

/// Lets a fill's held events go on without it: the trade ids between what was accepted and the
/// first held trade become the hole the fill may still bring.
fn release(
    st: &mut ProductState,
    out: &mut Vec<MarketEvent>,
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
        accept(st, ev, out, false, missing, duplicates);
    }
}

/// A fill that came back after its held events went on: trades of its hole are handed on
/// (late for their candles, but stored once); candles older than the live ones are dropped.
fn late_fill(
    done: FillDone,
    hole: Released,
    now: TsMs,
    out: &mut Vec<MarketEvent>,
    missing: &mut u64,
) -> FillOutcome {
    let sym = done.product;
    let lost = hole.take_late(done.trades, |time, t| {
        out.push(trade_event(sym, time, t, now))
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
fn accept(
    st: &mut ProductState,
    ev: MarketEvent,
    out: &mut Vec<MarketEvent>,
    may_fill: bool,
    missing: &mut u64,
    duplicates: &mut u64,
) -> Option<FillRequest> {
    if let EventKind::Trade(t) = ev.kind {
        let id = t.trade_id;
        if let Some(a) = st.accepted {
            if id <= a {
                *duplicates += 1;
                return None;
            }
            if id > a + 1 {
                if may_fill {
                    return Some(start_fill(ev.symbol, st, Some(a + 1), None, vec![ev], 0));
                }
                *missing += id - a - 1;
            }
        }
        st.accepted = Some(id);
    }
    out.push(ev);
    None
}

#[cfg(test)]
mod tests {
    use super::*;
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
        trade_event(sym(), T, tick(id), T)
    }

    #[test]
    fn an_added_product_is_warmed_once_and_kept_in_order() {
        let eth = Symbol::new("ETH-USD").unwrap();
        let mut g = GapTracker::new(&[sym()], 60);
        assert!(g.add(eth));
        assert!(!g.add(eth));
        assert_eq!(g.products(), vec![sym(), eth]);
        let req = g.warm_up(eth, T).unwrap();
        assert_eq!(req.candles_from, Some(T - 60 * 60_000));
        assert!(g.warm_up(eth, T).is_none(), "only once");
        assert!(g.on_connected(T).iter().all(|r| r.product != eth));
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

    fn ids(evs: &[MarketEvent]) -> Vec<u64> {
        evs.iter()
            .filter_map(|e| match e.kind {
                EventKind::Trade(t) => Some(t.trade_id),
                _ => None,
            })
            .collect()
    }

    fn done(ids: &[u64]) -> FillDone {
        FillDone {
            product: sym(),
            trades: ids.iter().rev().map(|&i| (T, tick(i))).collect(),
            candles: Vec::new(),
            error: None,
            bounded: true,
        }
    }

    #[test]
    fn duplicates_are_dropped_and_holes_held_until_filled() {
        let mut g = GapTracker::new(&[sym()], 0);
        let mut out = Vec::new();
        assert!(g.on_live(tr(1), &mut out).is_none());
        assert!(g.on_live(tr(2), &mut out).is_none());
        assert!(g.on_live(tr(2), &mut out).is_none());
        let req = g.on_live(tr(5), &mut out).unwrap();
        assert_eq!(req.trades_from, Some(3));
        assert_eq!(
            req.stop_at.load(Ordering::Relaxed),
            5,
            "REST asked for ids below 5"
        );
        assert!(g.on_live(tr(6), &mut out).is_none());
        assert_eq!(ids(&out), vec![1, 2]);
        // REST answers newest first and overlaps the held 5
        let o = g.on_fill_done(done(&[3, 4, 5]), T, &mut out);
        assert!(o.next.is_none() && o.lost.is_none(), "{o:?}");
        assert_eq!(ids(&out), vec![1, 2, 3, 4, 5, 6]);
        assert_eq!((g.duplicates, g.missing), (2, 0)); // the live 2 and the held 5
    }

    #[test]
    fn a_heartbeat_ahead_of_the_trades_starts_a_fill_up_to_its_id() {
        let mut g = GapTracker::new(&[sym()], 0);
        let mut out = Vec::new();
        assert!(
            g.on_heartbeat(sym(), 9).is_none(),
            "nothing seen yet: no baseline"
        );
        g.on_live(tr(7), &mut out);
        assert!(g.on_heartbeat(sym(), 7).is_none());
        assert!(
            g.on_heartbeat(sym(), 0).is_none(),
            "0 is Coinbase's 'unknown'"
        );
        let req = g.on_heartbeat(sym(), 9).unwrap();
        assert_eq!(req.trades_from, Some(8));
        assert_eq!(req.stop_at.load(Ordering::Relaxed), 10);
        g.on_live(tr(10), &mut out); // held behind the fill
        let o = g.on_fill_done(done(&[8, 9]), T, &mut out);
        assert!(o.next.is_none() && o.lost.is_none(), "{o:?}");
        assert_eq!(ids(&out), vec![7, 8, 9, 10]);
    }

    #[test]
    fn an_unfillable_hole_is_counted_once_not_retried_forever() {
        let mut g = GapTracker::new(&[sym()], 0);
        let mut out = Vec::new();
        g.on_live(tr(1), &mut out);
        g.on_live(tr(10), &mut out).unwrap();
        // REST may lag the stream: an empty answer is asked again a few times first
        for _ in 0..EMPTY_FILL_RETRIES {
            let o = g.on_fill_done(done(&[]), T, &mut out);
            assert!(o.next.is_some() && o.lost.is_none(), "{o:?}");
        }
        let o = g.on_fill_done(done(&[]), T, &mut out);
        assert!(o.next.is_none());
        assert!(o.lost.unwrap().contains("BTC-USD: 8 trades"));
        assert_eq!(ids(&out), vec![1, 10]);
    }

    #[test]
    fn a_catch_up_that_found_nothing_may_fill_once_more_when_live_shows_a_hole() {
        let mut g = GapTracker::new(&[sym()], 0);
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
        let mut g = GapTracker::new(&[sym()], 0);
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
        let mut g = GapTracker::new(&[sym()], 300);
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
        let mut g = GapTracker::new(&[sym(), other], 0);
        g.remove(sym());
        assert_eq!(g.products(), vec![other]);
        let mut out = Vec::new();
        assert!(g.on_live(tr(1), &mut out).is_none());
        assert!(out.is_empty());
    }
}
