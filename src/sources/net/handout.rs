//! Handing a live session's pending events to the engine in batches, so that what the ring
//! drops is one contiguous hole per symbol that the venue's gap tracker can refill.

use crate::domain::{EventKind, MarketEvent, Symbol};
use crate::pipeline::{EngineGone, EventSink};

/// Fills in a row that found none of a hole's trades before the hole is given up as missing:
/// REST can lag the stream by a moment (a trade streamed live may not be served yet).
pub const EMPTY_FILL_RETRIES: u32 = 3;

/// The wait before the `n`th retry of a fill that found nothing (250 ms, 500 ms, 1 s).
pub fn refill_delay(n: u32) -> std::time::Duration {
    std::time::Duration::from_millis(250u64 << n.min(6).saturating_sub(1))
}

/// The trade ids of a batch: `(symbol, highest id)` pairs.
pub fn trade_marks(batch: &[MarketEvent]) -> Vec<(Symbol, u64)> {
    let mut marks: Vec<(Symbol, u64)> = Vec::new();
    for ev in batch {
        if let EventKind::Trade(t) = ev.kind {
            match marks.iter_mut().find(|(s, _)| *s == ev.symbol) {
                Some((_, id)) => *id = (*id).max(t.trade_id),
                None => marks.push((ev.symbol, t.trade_id)),
            }
        }
    }
    marks
}

/// Hands `out` to the sink in batches of at most `max_batch` events. `settle(marks, true)` is
/// called for each batch that got through, `settle(marks, false)` once for everything dropped.
/// When the ring drops a batch, everything still pending is dropped with it (and counted): a
/// later batch getting through would otherwise hide the hole the dropped one left. Returns the
/// number of events that got through.
pub async fn hand_out(
    sink: &EventSink,
    out: &mut Vec<MarketEvent>,
    max_batch: usize,
    mut settle: impl FnMut(&[(Symbol, u64)], bool),
) -> Result<u64, EngineGone> {
    let mut sent = 0;
    while !out.is_empty() {
        let rest = out.split_off(out.len().min(max_batch.max(1)));
        let batch = std::mem::replace(out, rest);
        let n = batch.len() as u64;
        let mut marks = trade_marks(&batch);
        if sink.send(batch).await? == 0 {
            settle(&marks, true);
            sent += n;
        } else {
            let rest = std::mem::take(out);
            sink.note_dropped(rest.len());
            for (sym, id) in trade_marks(&rest) {
                if !marks.iter().any(|(s, _)| *s == sym) {
                    marks.push((sym, id));
                }
            }
            settle(&marks, false);
        }
    }
    Ok(sent)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::domain::{Side, TradeTick, Venue};
    use crate::pipeline::{HealthBoard, Overflow, PipelineStats, ring};

    fn tr(sym: &str, id: u64) -> MarketEvent {
        MarketEvent {
            venue: Venue::Binance,
            symbol: Symbol::new(sym).unwrap(),
            exch_ms: 1_700_000_000_000,
            recv_ms: 1_700_000_000_000,
            kind: EventKind::Trade(TradeTick {
                trade_id: id,
                price: 1.0,
                qty: 1.0,
                side: Side::Buy,
            }),
        }
    }

    #[tokio::test]
    async fn a_dropped_batch_takes_everything_after_it() {
        // room for one batch: the first goes through, the second is dropped, and the third
        // must not get through behind it
        let (tx, _rx) = ring(1);
        let stats = Arc::new(PipelineStats::default());
        let sink = EventSink::new(
            "t",
            tx,
            Overflow::DropNewest,
            stats.clone(),
            HealthBoard::default(),
        );
        let mut out: Vec<MarketEvent> = (1..=6).map(|i| tr("AAA", i)).collect();
        out.push(tr("BBB", 9));
        let mut settled = Vec::new();
        let sent = hand_out(&sink, &mut out, 2, |m, ok| settled.push((m.to_vec(), ok)))
            .await
            .unwrap();
        assert_eq!(sent, 2);
        assert!(out.is_empty());
        let aaa = Symbol::new("AAA").unwrap();
        let bbb = Symbol::new("BBB").unwrap();
        assert_eq!(
            settled,
            vec![(vec![(aaa, 2)], true), (vec![(aaa, 4), (bbb, 9)], false),]
        );
        assert_eq!(PipelineStats::get(&stats.dropped_ring), 5);
        assert_eq!(PipelineStats::get(&stats.events_in), 2);
    }
}
