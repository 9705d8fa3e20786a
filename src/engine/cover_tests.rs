//! Candles the data cover close when covered, and a symbol's klines own their candles.

use super::tests::{T0, candle, engine, kline, trade};
use super::*;
use crate::domain::{Candle, Symbol, Venue};

/// The first 5m boundary after `T0`.
const B: TsMs = T0 + 60_000;

fn binance(s: &str) -> VenueSymbol {
    VenueSymbol::new(Venue::Binance, Symbol::new(s).unwrap())
}

fn closed_of(out: &OutputBatch, iv: Interval) -> Vec<Candle> {
    out.candles
        .iter()
        .filter(|c| c.interval == iv)
        .map(|c| c.candle)
        .collect()
}

#[test]
fn a_closed_kline_that_ends_a_longer_candle_closes_it_at_once() {
    assert_eq!(B % 300_000, 0);
    let k = binance("LINKUSDT");
    let mut e = engine(EngineConfig::default());
    let mut out = OutputBatch::default();
    // a live feed: in-progress and closed 1m klines for minutes 0..4 of a 5m candle
    for i in 0..5 {
        let c = candle(B + i * 60_000, 100.0 + i as f64);
        e.apply(&kline("LINKUSDT", Interval::M1, c, false), &mut out)
            .unwrap();
        assert!(closed_of(&out, Interval::M5).is_empty(), "minute {i}");
        e.apply(&kline("LINKUSDT", Interval::M1, c, true), &mut out)
            .unwrap();
    }
    // the fifth minute's close completes the 5m candle: it closes now, not a minute later
    let m5 = closed_of(&out, Interval::M5);
    assert_eq!(m5.len(), 1);
    assert_eq!(
        (
            m5[0].open_ms,
            m5[0].open,
            m5[0].close,
            m5[0].volume,
            m5[0].trades
        ),
        (B, 100.0, 104.0, 50.0, 25)
    );
    assert_eq!(e.current(k, Interval::M5), None);
    assert!(e.current(k, Interval::M15).is_some(), "15m is not complete");

    // the same kline again (REST refill overlapping the stream) changes nothing
    let before = out.candles.len();
    e.apply(
        &kline("LINKUSDT", Interval::M1, candle(B + 4 * 60_000, 99.0), true),
        &mut out,
    )
    .unwrap();
    assert_eq!(out.candles.len(), before);

    // after a gap, the empty 5m candle between is filled from the one closed early
    out = OutputBatch::default();
    e.apply(
        &kline(
            "LINKUSDT",
            Interval::M1,
            candle(B + 12 * 60_000, 200.0),
            true,
        ),
        &mut out,
    )
    .unwrap();
    let m5 = closed_of(&out, Interval::M5);
    assert_eq!(m5.len(), 1, "{m5:?}");
    assert_eq!(
        (m5[0].open_ms, m5[0].close, m5[0].volume),
        (B + 300_000, 104.0, 0.0)
    );
    assert_eq!(
        e.current(k, Interval::M5).map(|c| c.open_ms),
        Some(B + 600_000)
    );
}

#[test]
fn a_trade_in_a_candle_closed_early_is_late_not_a_second_candle() {
    let k = binance("BTCUSDT");
    let mut e = engine(EngineConfig::default());
    let mut out = OutputBatch::default();
    for i in 0..5 {
        let c = candle(B + i * 60_000, 100.0);
        e.apply(&kline("BTCUSDT", Interval::M1, c, true), &mut out)
            .unwrap();
    }
    assert_eq!(closed_of(&out, Interval::M5).len(), 1);
    let mut t = trade("BTCUSDT", 1, B + 4 * 60_000 + 30_000, 101.0, 1.0);
    t.venue = Venue::Binance;
    e.apply(&t, &mut out).unwrap();
    assert_eq!(PipelineStats::get(&e.stats().late_trades), 1);
    assert_eq!(e.current(k, Interval::M5), None);
    assert_eq!(e.current(k, Interval::M1), None);
    // the next minute's trade opens the next candles
    t = trade("BTCUSDT", 2, B + 5 * 60_000, 102.0, 1.0);
    t.venue = Venue::Binance;
    e.apply(&t, &mut out).unwrap();
    assert_eq!(
        e.current(k, Interval::M5).map(|c| (c.open_ms, c.trades)),
        Some((B + 300_000, 1))
    );
    assert_eq!(closed_of(&out, Interval::M5).len(), 1);
}

#[test]
fn klines_given_with_trades_own_their_candles_and_trades_build_the_shorter_ones() {
    let k = binance("ETHUSDT");
    let mut e = engine(EngineConfig {
        kline_bases: vec![(k, Interval::M1)],
        ..EngineConfig::default()
    });
    let mut out = OutputBatch::default();
    for i in 0..4 {
        let mut t = trade("ETHUSDT", i, B + i as TsMs * 15_000, 50.0, 2.0);
        t.venue = Venue::Binance;
        e.apply(&t, &mut out).unwrap();
    }
    assert_eq!(out.trades.len(), 4, "every trade is stored");
    assert_eq!(closed_of(&out, Interval::S1).len(), 45, "1s from trades");
    assert_eq!(e.current(k, Interval::M1), None, "1m is the klines'");
    assert_eq!(e.current(k, Interval::M5), None);
    e.apply(
        &kline("ETHUSDT", Interval::M1, candle(B, 51.0), true),
        &mut out,
    )
    .unwrap();
    let m1 = closed_of(&out, Interval::M1);
    assert_eq!(m1.len(), 1);
    assert_eq!((m1[0].close, m1[0].volume, m1[0].trades), (51.0, 10.0, 5));
    assert_eq!(
        e.current(k, Interval::M5).map(|c| (c.volume, c.trades)),
        Some((10.0, 5)),
        "the trades' volume is not counted again"
    );
    assert_eq!(PipelineStats::get(&e.stats().late_trades), 0);
    // another symbol is not affected
    let mut t = trade("SOLUSDT", 1, B, 10.0, 1.0);
    t.venue = Venue::Binance;
    e.apply(&t, &mut out).unwrap();
    assert!(e.current(binance("SOLUSDT"), Interval::M1).is_some());
}
