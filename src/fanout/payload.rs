//! The JSON payload of each fan-out message: one object with a `type` field (see the subject
//! table in the [module docs](super)). Prices and quantities are numbers, times milliseconds
//! since the epoch, venues and symbols as tickwatch writes them (`binance`, `BTCUSDT`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::domain::{
    AlertRecord, Candle, ClosedCandle, EventKind, MarketEvent, Quote, Side, Stats24h, Symbol,
    TradeTick, TsMs, Venue, VenueSymbol,
};
use crate::pipeline::{SourceHealth, SourceState, describe};

/// OHLCV of a candle, as in `kline` and `candle` messages.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Ohlcv {
    pub open_ms: TsMs,
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub close: f64,
    pub volume: f64,
    pub trades: u64,
}

impl From<Candle> for Ohlcv {
    fn from(c: Candle) -> Ohlcv {
        Ohlcv {
            open_ms: c.open_ms,
            open: c.open,
            high: c.high,
            low: c.low,
            close: c.close,
            volume: c.volume,
            trades: c.trades,
        }
    }
}

impl From<Ohlcv> for Candle {
    fn from(c: Ohlcv) -> Candle {
        Candle {
            open_ms: c.open_ms,
            open: c.open,
            high: c.high,
            low: c.low,
            close: c.close,
            volume: c.volume,
            trades: c.trades,
        }
    }
}

/// One fan-out message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Wire {
    /// `{"type":"trade","venue":"binance","symbol":"BTCUSDT","exch_ms":…,"recv_ms":…,
    /// "trade_id":1,"price":64000.5,"qty":0.01,"side":"buy"}`; side is the taker's: buy, sell
    /// or unknown.
    Trade {
        venue: String,
        symbol: String,
        exch_ms: TsMs,
        recv_ms: TsMs,
        trade_id: u64,
        price: f64,
        qty: f64,
        side: String,
    },
    Quote {
        venue: String,
        symbol: String,
        exch_ms: TsMs,
        recv_ms: TsMs,
        bid: f64,
        bid_qty: f64,
        ask: f64,
        ask_qty: f64,
    },
    /// A venue's candle; `closed` is false for an update of the candle in progress.
    Kline {
        venue: String,
        symbol: String,
        exch_ms: TsMs,
        recv_ms: TsMs,
        interval: String,
        closed: bool,
        candle: Ohlcv,
    },
    Stats {
        venue: String,
        symbol: String,
        exch_ms: TsMs,
        recv_ms: TsMs,
        open: f64,
        high: f64,
        low: f64,
        last: f64,
        volume: f64,
    },
    /// A candle the recorder's engine closed, with its indicator values (null while warming up).
    Candle {
        venue: String,
        symbol: String,
        interval: String,
        candle: Ohlcv,
        indicators: BTreeMap<String, Option<f64>>,
    },
    Alert {
        alert_id: String,
        ts_ms: TsMs,
        venue: String,
        symbol: String,
        rule: String,
        value: f64,
        message: String,
        severity: String,
    },
    /// A source's state: `state` is connecting, live, reconnecting, rate_limited, stale,
    /// dropping, finished or failed; `text` is how the recorder describes it.
    State {
        source: String,
        state: String,
        text: String,
        since_ms: TsMs,
        /// When a reconnect or a rate limit ends.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        until_ms: Option<TsMs>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
}

impl Wire {
    /// The message for an event and its subject kind (`trade`, `quote`, `kline`, `stats`).
    /// The `type` of `ev`'s message (`trade`, `quote`, ...).
    pub fn kind_of(ev: &MarketEvent) -> &'static str {
        match ev.kind {
            EventKind::Trade(_) => "trade",
            EventKind::Quote(_) => "quote",
            EventKind::Candle { .. } => "kline",
            EventKind::Stats24h(_) => "stats",
        }
    }

    /// Appends `ev` as JSON to `out`: what `serde_json::to_writer(out, &Wire::event(ev).1)`
    /// writes, without building the owned `Wire` for trades (the bulk of the stream).
    pub fn write_event(ev: &MarketEvent, out: &mut Vec<u8>) -> serde_json::Result<()> {
        #[derive(Serialize)]
        struct TradeLine<'a> {
            #[serde(rename = "type")]
            kind: &'static str,
            venue: &'a str,
            symbol: &'a str,
            exch_ms: TsMs,
            recv_ms: TsMs,
            trade_id: u64,
            price: f64,
            qty: f64,
            side: &'a str,
        }
        match ev.kind {
            EventKind::Trade(t) => serde_json::to_writer(
                out,
                &TradeLine {
                    kind: "trade",
                    venue: ev.venue.as_str(),
                    symbol: ev.symbol.as_str(),
                    exch_ms: ev.exch_ms,
                    recv_ms: ev.recv_ms,
                    trade_id: t.trade_id,
                    price: t.price,
                    qty: t.qty,
                    side: t.side.as_str(),
                },
            ),
            _ => serde_json::to_writer(out, &Wire::event(ev).1),
        }
    }

    pub fn event(ev: &MarketEvent) -> (&'static str, Wire) {
        let venue = ev.venue.as_str().to_string();
        let symbol = ev.symbol.as_str().to_string();
        let (exch_ms, recv_ms) = (ev.exch_ms, ev.recv_ms);
        match ev.kind {
            EventKind::Trade(t) => (
                "trade",
                Wire::Trade {
                    venue,
                    symbol,
                    exch_ms,
                    recv_ms,
                    trade_id: t.trade_id,
                    price: t.price,
                    qty: t.qty,
                    side: t.side.as_str().into(),
                },
            ),
            EventKind::Quote(q) => (
                "quote",
                Wire::Quote {
                    venue,
                    symbol,
                    exch_ms,
                    recv_ms,
                    bid: q.bid,
                    bid_qty: q.bid_qty,
                    ask: q.ask,
                    ask_qty: q.ask_qty,
                },
            ),
            EventKind::Candle {
                interval,
                candle,
                closed,
            } => (
                "kline",
                Wire::Kline {
                    venue,
                    symbol,
                    exch_ms,
                    recv_ms,
                    interval: interval.as_str().into(),
                    closed,
                    candle: candle.into(),
                },
            ),
            EventKind::Stats24h(s) => (
                "stats",
                Wire::Stats {
                    venue,
                    symbol,
                    exch_ms,
                    recv_ms,
                    open: s.open,
                    high: s.high,
                    low: s.low,
                    last: s.last,
                    volume: s.volume,
                },
            ),
        }
    }

    pub fn candle(c: &ClosedCandle) -> Wire {
        Wire::Candle {
            venue: c.key.venue.as_str().into(),
            symbol: c.key.symbol.as_str().into(),
            interval: c.interval.as_str().into(),
            candle: c.candle.into(),
            indicators: c
                .columns
                .iter()
                .cloned()
                .zip(c.values.iter().copied())
                .collect(),
        }
    }

    pub fn alert(a: &AlertRecord) -> Wire {
        Wire::Alert {
            alert_id: a.alert_id.clone(),
            ts_ms: a.ts_ms,
            venue: a.key.venue.as_str().into(),
            symbol: a.key.symbol.as_str().into(),
            rule: a.rule.clone(),
            value: a.value,
            message: a.message.clone(),
            severity: a.severity.as_str().into(),
        }
    }

    pub fn state(h: &SourceHealth, now: TsMs) -> Wire {
        let (state, until_ms, reason) = match &h.state {
            SourceState::Connecting => ("connecting", None, None),
            SourceState::Live => ("live", None, None),
            SourceState::Reconnecting { at_ms, reason, .. } => {
                ("reconnecting", Some(*at_ms), Some(reason.clone()))
            }
            SourceState::RateLimited { until_ms } => ("rate_limited", Some(*until_ms), None),
            SourceState::Stale { .. } => ("stale", None, None),
            SourceState::Dropping { .. } => ("dropping", None, None),
            SourceState::Finished => ("finished", None, None),
            SourceState::Failed(r) => ("failed", None, Some(r.clone())),
        };
        Wire::State {
            source: h.name.clone(),
            state: state.into(),
            text: describe(&h.state, now),
            since_ms: h.since_ms,
            until_ms,
            reason,
        }
    }

    /// The market event a `trade`, `quote`, `kline` or `stats` message carries (None for the
    /// other types), or what is wrong with it.
    pub fn to_event(&self) -> Option<Result<MarketEvent, String>> {
        let make = |venue: &str, symbol: &str, exch_ms, recv_ms, kind| {
            let venue: Venue = venue.parse()?;
            let symbol = Symbol::new(symbol).map_err(|e| e.to_string())?;
            Ok(MarketEvent {
                venue,
                symbol,
                exch_ms,
                recv_ms,
                kind,
            })
        };
        Some(match self {
            Wire::Trade {
                venue,
                symbol,
                exch_ms,
                recv_ms,
                trade_id,
                price,
                qty,
                side,
            } => {
                let side = match side.as_str() {
                    "buy" => Side::Buy,
                    "sell" => Side::Sell,
                    _ => Side::Unknown,
                };
                let tick = TradeTick {
                    trade_id: *trade_id,
                    price: *price,
                    qty: *qty,
                    side,
                };
                make(venue, symbol, *exch_ms, *recv_ms, EventKind::Trade(tick))
            }
            Wire::Quote {
                venue,
                symbol,
                exch_ms,
                recv_ms,
                bid,
                bid_qty,
                ask,
                ask_qty,
            } => {
                let q = Quote {
                    bid: *bid,
                    bid_qty: *bid_qty,
                    ask: *ask,
                    ask_qty: *ask_qty,
                };
                make(venue, symbol, *exch_ms, *recv_ms, EventKind::Quote(q))
            }
            Wire::Kline {
                venue,
                symbol,
                exch_ms,
                recv_ms,
                interval,
                closed,
                candle,
            } => match interval.parse() {
                Ok(interval) => {
                    let kind = EventKind::Candle {
                        interval,
                        candle: (*candle).into(),
                        closed: *closed,
                    };
                    make(venue, symbol, *exch_ms, *recv_ms, kind)
                }
                Err(e) => Err(e),
            },
            Wire::Stats {
                venue,
                symbol,
                exch_ms,
                recv_ms,
                open,
                high,
                low,
                last,
                volume,
            } => {
                let s = Stats24h {
                    open: *open,
                    high: *high,
                    low: *low,
                    last: *last,
                    volume: *volume,
                };
                make(venue, symbol, *exch_ms, *recv_ms, EventKind::Stats24h(s))
            }
            Wire::Candle { .. } | Wire::Alert { .. } | Wire::State { .. } => return None,
        })
    }

    /// The alert an `alert` message carries (None for the other types), or what is wrong with
    /// it. Its text is as the server sent it: the engine makes it safe to show.
    pub fn to_alert(&self) -> Option<Result<AlertRecord, String>> {
        let Wire::Alert {
            alert_id,
            ts_ms,
            venue,
            symbol,
            rule,
            value,
            message,
            severity,
        } = self
        else {
            return None;
        };
        let read = || -> Result<AlertRecord, String> {
            let venue: Venue = venue.parse()?;
            let symbol = Symbol::new(symbol).map_err(|e| e.to_string())?;
            Ok(AlertRecord {
                alert_id: alert_id.clone(),
                ts_ms: *ts_ms,
                key: VenueSymbol::new(venue, symbol),
                rule: rule.clone(),
                value: *value,
                message: message.clone(),
                delivered: String::new(),
                severity: severity
                    .parse()
                    .map_err(|e| format!("alert severity: {e}"))?,
            })
        };
        Some(read())
    }

    /// The state a `state` message carries, as the health board shows it.
    pub fn to_state(&self) -> Option<(String, SourceState)> {
        let Wire::State {
            source,
            state,
            text,
            since_ms,
            until_ms,
            reason,
        } = self
        else {
            return None;
        };
        let reason = || reason.clone().unwrap_or_else(|| text.clone());
        let st = match state.as_str() {
            "connecting" => SourceState::Connecting,
            "live" | "dropping" => SourceState::Live,
            "reconnecting" => SourceState::Reconnecting {
                at_ms: until_ms.unwrap_or(*since_ms),
                attempt: 0,
                reason: reason(),
            },
            "rate_limited" => SourceState::RateLimited {
                until_ms: until_ms.unwrap_or(*since_ms),
            },
            "stale" => SourceState::Stale {
                since_ms: *since_ms,
            },
            "finished" => SourceState::Finished,
            _ => SourceState::Failed(reason()),
        };
        Some((source.clone(), st))
    }

    /// The venue and symbol of a per-symbol message.
    pub fn key(&self) -> Option<VenueSymbol> {
        let (venue, symbol) = match self {
            Wire::Trade { venue, symbol, .. }
            | Wire::Quote { venue, symbol, .. }
            | Wire::Kline { venue, symbol, .. }
            | Wire::Stats { venue, symbol, .. }
            | Wire::Candle { venue, symbol, .. }
            | Wire::Alert { venue, symbol, .. } => (venue, symbol),
            Wire::State { .. } => return None,
        };
        Some(VenueSymbol::new(
            venue.parse().ok()?,
            Symbol::new(symbol).ok()?,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Interval;

    fn ev(kind: EventKind) -> MarketEvent {
        MarketEvent {
            venue: Venue::Coinbase,
            symbol: Symbol::new("BTC-USD").unwrap(),
            exch_ms: 1_700_000_000_123,
            recv_ms: 1_700_000_000_456,
            kind,
        }
    }

    #[test]
    fn every_event_kind_round_trips_through_json() {
        let c = Candle::from_trade(1_700_000_000_000, 10.0, 2.0);
        for kind in [
            EventKind::Trade(TradeTick {
                trade_id: 42,
                price: 64_000.5,
                qty: 0.25,
                side: Side::Sell,
            }),
            EventKind::Quote(Quote {
                bid: 1.0,
                bid_qty: 2.0,
                ask: 1.5,
                ask_qty: 3.0,
            }),
            EventKind::Candle {
                interval: Interval::M5,
                candle: c,
                closed: true,
            },
            EventKind::Stats24h(Stats24h {
                open: 1.0,
                high: 2.0,
                low: 0.5,
                last: 1.5,
                volume: 9.0,
            }),
        ] {
            let e = ev(kind);
            let (k, w) = Wire::event(&e);
            let json = serde_json::to_string(&w).unwrap();
            // the publisher's writer gives the same bytes and kind
            let mut fast = Vec::new();
            Wire::write_event(&e, &mut fast).unwrap();
            assert_eq!(String::from_utf8(fast).unwrap(), json);
            assert_eq!(Wire::kind_of(&e), k);
            let back: Wire = serde_json::from_str(&json).unwrap();
            assert_eq!(back.to_event(), Some(Ok(e)), "{json}");
            assert_eq!(back.key(), Some(e.key()));
        }
        let (_, w) = Wire::event(&ev(EventKind::Trade(TradeTick {
            trade_id: 7,
            price: 2.0,
            qty: 1.0,
            side: Side::Buy,
        })));
        let json = serde_json::to_string(&w).unwrap();
        assert!(
            json.starts_with(r#"{"type":"trade","venue":"coinbase","symbol":"BTC-USD""#),
            "{json}"
        );
    }

    #[test]
    fn alerts_round_trip_and_a_bad_one_says_why() {
        let a = AlertRecord {
            alert_id: "1-coinbase-BTC-USD-r".into(),
            ts_ms: 1,
            key: ev(EventKind::Quote(Quote {
                bid: 1.0,
                bid_qty: 1.0,
                ask: 1.0,
                ask_qty: 1.0,
            }))
            .key(),
            rule: "r".into(),
            value: 2.5,
            message: "BTC-USD price 2.5".into(),
            delivered: "tui".into(),
            severity: crate::alerts::Severity::Critical,
        };
        let w = Wire::alert(&a);
        let back: Wire = serde_json::from_str(&serde_json::to_string(&w).unwrap()).unwrap();
        let got = back.to_alert().unwrap().unwrap();
        assert_eq!(
            got,
            AlertRecord {
                delivered: String::new(),
                ..a
            }
        );
        assert_eq!(back.to_event(), None);
        let mut bad = back.clone();
        if let Wire::Alert { severity, .. } = &mut bad {
            *severity = "loud".into();
        }
        assert!(bad.to_alert().unwrap().unwrap_err().contains("severity"));
        assert_eq!(
            Wire::candle(&ClosedCandle {
                key: a.key,
                interval: Interval::M1,
                candle: Candle::from_trade(0, 1.0, 1.0),
                columns: Vec::new().into(),
                values: Vec::new().into(),
            })
            .to_alert(),
            None
        );
    }

    #[test]
    fn states_round_trip_with_their_reason() {
        let h = SourceHealth {
            name: "binance".into(),
            state: SourceState::Failed("closed by the venue".into()),
            since_ms: 5,
            last_event_ms: None,
            last_error: None,
            detail: None,
            is_source: true,
            data_due_ms: None,
            dropped: 0,
            last_drop_ms: None,
        };
        let w = Wire::state(&h, 10);
        let back: Wire = serde_json::from_str(&serde_json::to_string(&w).unwrap()).unwrap();
        assert_eq!(
            back.to_state(),
            Some((
                "binance".into(),
                SourceState::Failed("closed by the venue".into())
            ))
        );
        assert_eq!(back.to_event(), None);
    }
}
