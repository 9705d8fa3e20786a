use super::{Interval, TsMs, Venue, VenueSymbol};

/// Which side took liquidity in a trade.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// The buyer was the taker (price lifted).
    Buy,
    /// The seller was the taker (price hit).
    Sell,
    Unknown,
}

impl Side {
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Buy => "buy",
            Side::Sell => "sell",
            Side::Unknown => "unknown",
        }
    }

    /// The side as stored ([`as_str`](Self::as_str)); anything else is unknown.
    pub fn from_stored(s: &str) -> Side {
        match s {
            "buy" => Side::Buy,
            "sell" => Side::Sell,
            _ => Side::Unknown,
        }
    }

    /// Binance marks trades with `is_buyer_maker`: true means the seller was the taker.
    pub fn from_buyer_maker(is_buyer_maker: bool) -> Side {
        if is_buyer_maker {
            Side::Sell
        } else {
            Side::Buy
        }
    }
}

/// One executed trade.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TradeTick {
    /// The venue's trade id (for aggregated trades, the aggregate id); unique per venue and symbol.
    pub trade_id: u64,
    pub price: f64,
    pub qty: f64,
    pub side: Side,
}

/// An OHLCV candle. `open_ms` is the start of its interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Candle {
    pub open_ms: TsMs,
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub close: f64,
    pub volume: f64,
    pub trades: u64,
}

impl Candle {
    /// A candle opened by a single trade.
    pub fn from_trade(open_ms: TsMs, price: f64, qty: f64) -> Candle {
        Candle {
            open_ms,
            open: price,
            high: price,
            low: price,
            close: price,
            volume: qty,
            trades: 1,
        }
    }

    /// A flat, empty candle carrying the previous close through a period with no trades
    /// (what exchanges publish for such periods).
    pub fn flat(open_ms: TsMs, price: f64) -> Candle {
        Candle {
            open_ms,
            open: price,
            high: price,
            low: price,
            close: price,
            volume: 0.0,
            trades: 0,
        }
    }

    pub fn add_trade(&mut self, price: f64, qty: f64) {
        self.high = self.high.max(price);
        self.low = self.low.min(price);
        self.close = price;
        self.volume += qty;
        self.trades += 1;
    }

    /// Folds a shorter, later candle into this one (e.g. a closed 1m candle into the 5m candle).
    pub fn merge(&mut self, later: &Candle) {
        self.high = self.high.max(later.high);
        self.low = self.low.min(later.low);
        self.close = later.close;
        self.volume += later.volume;
        self.trades += later.trades;
    }
}

/// Best bid and offer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quote {
    pub bid: f64,
    pub bid_qty: f64,
    pub ask: f64,
    pub ask_qty: f64,
}

/// Rolling 24-hour statistics as venues publish them (Binance miniTicker, Coinbase ticker).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stats24h {
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub last: f64,
    /// Base-asset volume.
    pub volume: f64,
}

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum EventKind {
    Trade(TradeTick),
    /// A candle from the venue (kline stream or dump). `closed` is false for in-progress updates.
    Candle {
        interval: Interval,
        candle: Candle,
        closed: bool,
    },
    Quote(Quote),
    Stats24h(Stats24h),
}

/// The one normalized event every source emits.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MarketEvent {
    pub venue: Venue,
    pub symbol: super::Symbol,
    /// Exchange time of the event (trade time, candle open time for candles, event time otherwise).
    pub exch_ms: TsMs,
    /// Local time at which tickwatch received it (for replayed data: when it was read).
    pub recv_ms: TsMs,
    pub kind: EventKind,
}

/// The highest price accepted: far above any asset's (a whole BTC at 1e12 USD), far below
/// where an f64 sum of a window of prices loses the digits of ordinary ones.
pub const MAX_PRICE: f64 = 1e12;
/// The lowest price accepted: far below the smallest quoted tick of any market.
pub const MIN_PRICE: f64 = 1e-12;

impl MarketEvent {
    pub fn key(&self) -> VenueSymbol {
        VenueSymbol::new(self.venue, self.symbol)
    }

    /// Checks the values a source must never pass on: NaN, infinite, zero or negative prices,
    /// prices outside [`MIN_PRICE`]..[`MAX_PRICE`], negative quantities, timestamps outside
    /// 2009..2100. Returns what is wrong.
    pub fn validate(&self) -> Result<(), String> {
        fn price(name: &str, v: f64) -> Result<(), String> {
            if !(v.is_finite() && v > 0.0) {
                Err(format!("{name} {v} is not a positive finite number"))
            } else if !(MIN_PRICE..=MAX_PRICE).contains(&v) {
                Err(format!(
                    "{name} {v:e} is outside {MIN_PRICE:e}..{MAX_PRICE:e}, which no market trades at (a unit or parsing error at the source?)"
                ))
            } else {
                Ok(())
            }
        }
        fn qty(name: &str, v: f64) -> Result<(), String> {
            if v.is_finite() && v >= 0.0 {
                Ok(())
            } else {
                Err(format!("{name} {v} is not a finite number >= 0"))
            }
        }
        if !(super::MIN_TS_MS..=super::MAX_TS_MS).contains(&self.exch_ms) {
            return Err(format!(
                "timestamp {} ms is outside 2009-01-01..2100-01-01 (seconds or microseconds given as milliseconds?)",
                self.exch_ms
            ));
        }
        match &self.kind {
            EventKind::Trade(t) => {
                price("price", t.price)?;
                if !(t.qty.is_finite() && t.qty > 0.0) {
                    return Err(format!(
                        "quantity {} is not a positive finite number",
                        t.qty
                    ));
                }
                Ok(())
            }
            EventKind::Candle { candle: c, .. } => {
                price("open", c.open)?;
                price("high", c.high)?;
                price("low", c.low)?;
                price("close", c.close)?;
                qty("volume", c.volume)?;
                if c.low > c.high
                    || c.open > c.high
                    || c.close > c.high
                    || c.open < c.low
                    || c.close < c.low
                {
                    return Err(format!(
                        "inconsistent candle: open {} high {} low {} close {}",
                        c.open, c.high, c.low, c.close
                    ));
                }
                Ok(())
            }
            EventKind::Quote(q) => {
                price("bid", q.bid)?;
                price("ask", q.ask)?;
                qty("bid size", q.bid_qty)?;
                qty("ask size", q.ask_qty)
            }
            EventKind::Stats24h(s) => {
                price("last", s.last)?;
                qty("volume", s.volume)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Symbol;

    fn trade(price: f64, qty: f64, ts: TsMs) -> MarketEvent {
        MarketEvent {
            venue: Venue::Sim,
            symbol: Symbol::new("BTCUSDT").unwrap_or_else(|e| panic!("{e}")),
            exch_ms: ts,
            recv_ms: ts,
            kind: EventKind::Trade(TradeTick {
                trade_id: 1,
                price,
                qty,
                side: Side::Buy,
            }),
        }
    }

    #[test]
    fn validation_rejects_bad_numbers_and_times() {
        let ts = 1_700_000_000_000;
        assert!(trade(100.0, 1.0, ts).validate().is_ok());
        for bad in [f64::NAN, f64::INFINITY, 0.0, -1.0] {
            assert!(trade(bad, 1.0, ts).validate().is_err(), "price {bad}");
            assert!(trade(100.0, bad, ts).validate().is_err(), "qty {bad}");
        }
        for absurd in [1e308, 1.1e12, 1e-13, f64::MIN_POSITIVE] {
            let err = trade(absurd, 1.0, ts).validate().unwrap_err();
            assert!(err.contains("outside 1e-12..1e12"), "{err}");
        }
        for fine in [1e12, 5e11, 0.00002853, 1e-12] {
            assert!(trade(fine, 1.0, ts).validate().is_ok(), "{fine}");
        }
        let err = trade(100.0, 1.0, 1_700_000_000).validate().unwrap_err();
        assert!(err.contains("outside"), "{err}");
        assert!(trade(100.0, 1.0, 1_700_000_000_000_000).validate().is_err());
    }

    #[test]
    fn candle_merge_keeps_extremes_and_sums() {
        let mut a = Candle::from_trade(0, 10.0, 1.0);
        a.add_trade(12.0, 2.0);
        let b = Candle {
            open_ms: 60_000,
            open: 12.0,
            high: 13.0,
            low: 9.0,
            close: 11.0,
            volume: 3.0,
            trades: 4,
        };
        a.merge(&b);
        assert_eq!(
            (a.open, a.high, a.low, a.close, a.volume, a.trades),
            (10.0, 13.0, 9.0, 11.0, 6.0, 6)
        );
    }
}
