//! The compact layout of a message of trades: protobuf `tickwatch.TradeBatch`
//! (`assets/fanout.proto`), one column per field, sent with the header
//! `Content-Type: application/x-protobuf; proto=tickwatch.TradeBatch`.
//!
//! Trades are the bulk of the stream, and as JSON lines (about 170 bytes each) the publisher's
//! encoding and the server's file store could not keep up with the engine. Here a trade costs
//! about 22 bytes: times and ids are differences from the trade before (zigzag varints, a byte
//! or two each), prices and quantities 8-byte doubles (exact, as in JSON), the side one byte.
//! Written by hand with `prost`'s derive (no protoc in the build); a change here must be made
//! in `assets/fanout.proto` too.

use crate::domain::{EventKind, MarketEvent, Side, Symbol, TradeTick, Venue};

/// The `Content-Type` header of a message in this layout.
pub const CONTENT_TYPE: &str = "application/x-protobuf; proto=tickwatch.TradeBatch";

/// `message TradeBatch`: the trades of one venue and symbol, oldest first. Every repeated field
/// holds one value per trade.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TradeBatch {
    /// As in subjects: `binance`, `coinbase`, ...
    #[prost(string, tag = "1")]
    pub venue: String,
    /// The venue's symbol (`BTCUSDT`, `BTC-USD`).
    #[prost(string, tag = "2")]
    pub symbol: String,
    /// The exchange's time (ms since the epoch), each as the difference from the trade before
    /// (the first from 0).
    #[prost(sint64, repeated, tag = "3")]
    pub exch_ms: Vec<i64>,
    /// When the recorder received each trade, as the difference from its exchange time.
    #[prost(sint64, repeated, tag = "4")]
    pub recv_after_ms: Vec<i64>,
    /// The venue's trade id, each as the difference from the trade before (the first from 0),
    /// in two's complement: `id = previous + delta` modulo 2^64.
    #[prost(sint64, repeated, tag = "5")]
    pub trade_id: Vec<i64>,
    #[prost(double, repeated, tag = "6")]
    pub price: Vec<f64>,
    #[prost(double, repeated, tag = "7")]
    pub qty: Vec<f64>,
    /// The taker's side: 0 unknown, 1 buy, 2 sell.
    #[prost(uint32, repeated, tag = "8")]
    pub side: Vec<u32>,
}

/// Builds a [`TradeBatch`] trade by trade.
pub struct TradeColumns {
    pub batch: TradeBatch,
    /// The exchange time and id of the trade appended last (zeros before the first).
    prev: (i64, u64),
}

impl TradeColumns {
    /// An empty batch for `ev`'s venue and symbol, room made for `n` trades.
    pub fn for_event(ev: &MarketEvent, n: usize) -> TradeColumns {
        TradeColumns {
            batch: TradeBatch {
                venue: ev.venue.as_str().into(),
                symbol: ev.symbol.as_str().into(),
                exch_ms: Vec::with_capacity(n),
                recv_after_ms: Vec::with_capacity(n),
                trade_id: Vec::with_capacity(n),
                price: Vec::with_capacity(n),
                qty: Vec::with_capacity(n),
                side: Vec::with_capacity(n),
            },
            prev: (0, 0),
        }
    }

    /// Appends `ev`, a trade of this batch's venue and symbol; anything else is not added, and
    /// false returned.
    pub fn push(&mut self, ev: &MarketEvent) -> bool {
        let EventKind::Trade(t) = ev.kind else {
            return false;
        };
        let b = &mut self.batch;
        let (prev_ms, prev_id) = self.prev;
        b.exch_ms.push(ev.exch_ms.wrapping_sub(prev_ms));
        b.recv_after_ms.push(ev.recv_ms.wrapping_sub(ev.exch_ms));
        b.trade_id.push(t.trade_id.wrapping_sub(prev_id) as i64);
        b.price.push(t.price);
        b.qty.push(t.qty);
        b.side.push(match t.side {
            Side::Unknown => 0,
            Side::Buy => 1,
            Side::Sell => 2,
        });
        self.prev = (ev.exch_ms, t.trade_id);
        true
    }
}

impl TradeBatch {
    pub fn len(&self) -> usize {
        self.price.len()
    }

    pub fn is_empty(&self) -> bool {
        self.price.is_empty()
    }

    /// The trades it carries, or what is wrong with it (columns of different lengths, an
    /// unknown venue, a bad symbol or side).
    pub fn events(&self) -> Result<Vec<MarketEvent>, String> {
        let n = self.price.len();
        let lens = [
            self.exch_ms.len(),
            self.recv_after_ms.len(),
            self.trade_id.len(),
            self.qty.len(),
            self.side.len(),
        ];
        if lens.iter().any(|l| *l != n) {
            return Err(format!(
                "a TradeBatch's columns differ in length ({n} prices, {lens:?} of the rest)"
            ));
        }
        let venue: Venue = self.venue.parse()?;
        let symbol = Symbol::new(&self.symbol).map_err(|e| e.to_string())?;
        let (mut ms, mut id) = (0i64, 0u64);
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            ms = ms.wrapping_add(self.exch_ms[i]);
            id = id.wrapping_add(self.trade_id[i] as u64);
            let side = match self.side[i] {
                0 => Side::Unknown,
                1 => Side::Buy,
                2 => Side::Sell,
                s => return Err(format!("trade {id}: side {s} is not 0, 1 or 2")),
            };
            out.push(MarketEvent {
                venue,
                symbol,
                exch_ms: ms,
                recv_ms: ms.wrapping_add(self.recv_after_ms[i]),
                kind: EventKind::Trade(TradeTick {
                    trade_id: id,
                    price: self.price[i],
                    qty: self.qty[i],
                    side,
                }),
            });
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    fn trade(id: u64, exch_ms: i64, recv_ms: i64, side: Side) -> MarketEvent {
        MarketEvent {
            venue: Venue::Binance,
            symbol: Symbol::new("BTCUSDT").unwrap(),
            exch_ms,
            recv_ms,
            kind: EventKind::Trade(TradeTick {
                trade_id: id,
                price: 64_000.123_456_789,
                qty: 1e-8,
                side,
            }),
        }
    }

    #[test]
    fn trades_round_trip_exactly_whatever_their_ids_and_times() {
        // ids that go down, jump to the top of u64 and wrap; a receive time before the
        // exchange's (clocks differ); every side
        let evs = vec![
            trade(5, 1_700_000_000_000, 1_700_000_000_020, Side::Buy),
            trade(3, 1_700_000_000_000, 1_699_999_999_990, Side::Sell),
            trade(
                u64::MAX,
                1_700_000_000_001,
                1_700_000_000_001,
                Side::Unknown,
            ),
            trade(0, 1_600_000_000_000, 1_700_000_000_000, Side::Buy),
        ];
        let mut c = TradeColumns::for_event(&evs[0], 4);
        for e in &evs {
            assert!(c.push(e));
        }
        let bytes = c.batch.encode_to_vec();
        let back = TradeBatch::decode(bytes.as_slice()).unwrap();
        assert_eq!(back.events().unwrap(), evs);
        // a quote is not a trade: not added
        let mut q = evs[0];
        q.kind = EventKind::Quote(crate::domain::Quote {
            bid: 1.0,
            bid_qty: 1.0,
            ask: 2.0,
            ask_qty: 1.0,
        });
        assert!(!c.push(&q));
        assert_eq!(c.batch.len(), 4);
    }

    #[test]
    fn a_trade_costs_about_22_bytes() {
        let mut c = TradeColumns::for_event(&trade(1, 0, 0, Side::Buy), 512);
        for i in 0..512u64 {
            let ms = 1_700_000_000_000 + i as i64 * 7;
            c.push(&trade(1_000_000 + i, ms, ms + 15, Side::Sell));
        }
        let n = c.batch.encode_to_vec().len();
        assert!((512 * 20..512 * 23).contains(&n), "{n} bytes");
    }

    #[test]
    fn damaged_batches_say_what_is_wrong() {
        let mut c = TradeColumns::for_event(&trade(1, 0, 0, Side::Buy), 2);
        c.push(&trade(1, 1_700_000_000_000, 1_700_000_000_000, Side::Buy));
        let good = c.batch.clone();
        let mut b = good.clone();
        b.qty.push(1.0);
        assert!(b.events().unwrap_err().contains("differ in length"));
        let mut b = good.clone();
        b.side[0] = 7;
        assert!(b.events().unwrap_err().contains("side 7"));
        let mut b = good.clone();
        b.venue = "nowhere".into();
        assert!(b.events().is_err());
        let mut b = good;
        b.symbol = "bad sym".into();
        assert!(b.events().is_err());
        assert!(TradeBatch::decode(&b"\xff\xff\xff"[..]).is_err());
    }
}
