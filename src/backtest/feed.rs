//! The stored data as one stream of market events in time order: per instrument a cursor that
//! reads its trades or candles page by page (memory stays bounded over any range), merged by
//! time.

use std::collections::VecDeque;

use super::BacktestError;
use crate::domain::{Candle, EventKind, Interval, MarketEvent, TsMs, VenueSymbol};
use crate::store::ReadStore;

/// What an instrument is fed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feed {
    /// Its stored trades (the engine builds every candle from them).
    Trades,
    /// Its stored closed candles of this interval (rolled up to the longer ones).
    Candles(Interval),
}

impl std::fmt::Display for Feed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Feed::Trades => f.write_str("trades"),
            Feed::Candles(iv) => write!(f, "{iv} candles"),
        }
    }
}

/// Events before the window are warm-up: they are given a receive time this far (plus one
/// lag) after they happened, so the engine treats them as history (states follow, no alert),
/// as it does with data that arrives late live. Inside the window the receive time is the
/// event's own time, and no lag comes near it.
pub const HISTORY_LAG: TsMs = 100 * 365 * 86_400_000;

const TRADE_PAGE: usize = 20_000;
const CANDLE_PAGE: i64 = 5_000;

struct Cursor {
    key: VenueSymbol,
    feed: Feed,
    /// Candles: the next open time to read. Trades: unused.
    next_open: TsMs,
    /// Trades: where the last page ended.
    after: Option<(TsMs, u64)>,
    /// Events read and not yet handed out, with their time (a candle's: when it closed).
    buf: VecDeque<(TsMs, MarketEvent)>,
    done: bool,
}

/// The merged stream over `[start, end]` (event times: a trade's time, a candle's close).
pub struct Merge {
    cursors: Vec<Cursor>,
    start: TsMs,
    end: TsMs,
    /// The window's start: events before it are warm-up.
    window: TsMs,
}

impl Merge {
    pub fn new(fed: &[(VenueSymbol, Feed)], start: TsMs, end: TsMs, window: TsMs) -> Merge {
        Merge {
            cursors: fed
                .iter()
                .map(|(key, feed)| Cursor {
                    key: *key,
                    feed: *feed,
                    next_open: match feed {
                        Feed::Candles(iv) => start - iv.ms(),
                        Feed::Trades => start,
                    },
                    after: None,
                    buf: VecDeque::new(),
                    done: false,
                })
                .collect(),
            start,
            end,
            window,
        }
    }

    /// The next event in time order (ties: in the order the instruments were given).
    pub fn next(
        &mut self,
        reader: &mut dyn ReadStore,
    ) -> Result<Option<MarketEvent>, BacktestError> {
        let (start, end, window) = (self.start, self.end, self.window);
        let mut best: Option<(usize, TsMs)> = None;
        for (i, c) in self.cursors.iter_mut().enumerate() {
            if c.buf.is_empty() && !c.done {
                c.refill(reader, start, end, window)?;
            }
            if let Some((t, _)) = c.buf.front()
                && best.is_none_or(|(_, b)| *t < b)
            {
                best = Some((i, *t));
            }
        }
        Ok(best.and_then(|(i, _)| self.cursors[i].buf.pop_front().map(|(_, ev)| ev)))
    }
}

/// The receive time the engine sees: the event's own, or far later for warm-up.
fn recv_for(t: TsMs, window: TsMs) -> TsMs {
    if t < window { t + 2 * HISTORY_LAG } else { t }
}

impl Cursor {
    fn refill(
        &mut self,
        reader: &mut dyn ReadStore,
        start: TsMs,
        end: TsMs,
        window: TsMs,
    ) -> Result<(), BacktestError> {
        match self.feed {
            Feed::Trades => {
                let page = reader.trades_page(self.key, start, end, self.after, TRADE_PAGE)?;
                self.done = page.len() < TRADE_PAGE;
                for (t, tick) in page {
                    self.after = Some((t, tick.trade_id));
                    self.buf.push_back((
                        t,
                        MarketEvent {
                            venue: self.key.venue,
                            symbol: self.key.symbol,
                            exch_ms: t,
                            recv_ms: recv_for(t, window),
                            kind: EventKind::Trade(tick),
                        },
                    ));
                }
            }
            Feed::Candles(iv) => {
                let step = iv.ms();
                let last_open = end - step;
                while self.buf.is_empty() {
                    if self.next_open > last_open {
                        self.done = true;
                        break;
                    }
                    let hi = self
                        .next_open
                        .saturating_add(step * CANDLE_PAGE - 1)
                        .min(last_open);
                    let rows = reader.candles(
                        Some(self.key.venue),
                        self.key.symbol,
                        iv,
                        Some(self.next_open),
                        Some(hi),
                        None,
                    )?;
                    self.next_open = hi + 1;
                    for (_, row) in rows {
                        let c: Candle = row.candle;
                        let closes = c.open_ms + step;
                        self.buf.push_back((
                            closes,
                            MarketEvent {
                                venue: self.key.venue,
                                symbol: self.key.symbol,
                                exch_ms: c.open_ms,
                                recv_ms: recv_for(closes, window),
                                kind: EventKind::Candle {
                                    interval: iv,
                                    candle: c,
                                    closed: true,
                                },
                            },
                        ));
                    }
                }
            }
        }
        Ok(())
    }
}
