//! What the commands read from PostgreSQL: the same answers as the SQLite queries, on a
//! read-only session.

use std::collections::{BTreeMap, HashMap};
use std::str::FromStr;

use postgres::Client;

use super::connect::{connect, query_error};
use super::schema::check_readable;
use crate::domain::{
    AlertRecord, Candle, Interval, RuleRecord, Symbol, TsMs, Venue, VenueSymbol, WatchlistEdit,
};
use crate::store::backend::ReadStore;
use crate::store::queries::{CandleWithIndicators, StoredDelivery, attach_values};
use crate::store::{PgTarget, StoreError};

/// A read-only connection.
pub struct PgReader {
    target: PgTarget,
    client: Client,
}

impl PgReader {
    pub fn open(target: &PgTarget) -> Result<PgReader, StoreError> {
        let mut client = connect(target, true)?;
        check_readable(&mut client, target)?;
        Ok(PgReader {
            target: target.clone(),
            client,
        })
    }

    fn err(&self, context: &str) -> impl Fn(postgres::Error) -> StoreError + '_ {
        let context = context.to_string();
        move |e| query_error(&self.target, &context, &e)
    }
}

fn parse_venue(s: &str) -> Option<Venue> {
    Venue::from_str(s).ok()
}

impl ReadStore for PgReader {
    fn describe(&self) -> String {
        self.target.shown().to_string()
    }

    fn candles(
        &mut self,
        venue: Option<Venue>,
        symbol: Symbol,
        interval: Interval,
        from_ms: Option<TsMs>,
        to_ms: Option<TsMs>,
        limit: Option<usize>,
    ) -> Result<Vec<(Venue, CandleWithIndicators)>, StoreError> {
        let venue_s = venue.map(Venue::as_str);
        let from = from_ms.unwrap_or(i64::MIN);
        let to = to_ms.unwrap_or(i64::MAX);
        let limit = limit.map(|l| i64::try_from(l).unwrap_or(i64::MAX));
        let rows = self
            .client
            .query(
                "SELECT venue, open_ms, open, high, low, close, volume, trades FROM candles
                 WHERE ($1::text IS NULL OR venue = $1) AND symbol = $2 AND interval = $3
                   AND open_ms BETWEEN $4 AND $5
                 ORDER BY open_ms DESC, venue DESC LIMIT $6",
                &[
                    &venue_s,
                    &symbol.as_str(),
                    &interval.as_str(),
                    &from,
                    &to,
                    &limit,
                ],
            )
            .map_err(|e| query_error(&self.target, "reading candles", &e))?;
        let mut out: Vec<(Venue, CandleWithIndicators)> = rows
            .iter()
            .filter_map(|r| {
                Some((
                    parse_venue(r.get(0))?,
                    CandleWithIndicators {
                        candle: Candle {
                            open_ms: r.get(1),
                            open: r.get(2),
                            high: r.get(3),
                            low: r.get(4),
                            close: r.get(5),
                            volume: r.get(6),
                            trades: u64::try_from(r.get::<_, i64>(7)).unwrap_or(0),
                        },
                        values: BTreeMap::new(),
                    },
                ))
            })
            .collect();
        out.reverse();
        let (client, target) = (&mut self.client, &self.target);
        attach_values(&mut out, |v, lo, hi| {
            client
                .query(
                    "SELECT open_ms, name, value FROM indicator_values
                     WHERE venue = $1 AND symbol = $2 AND interval = $3 AND open_ms BETWEEN $4 AND $5",
                    &[&v.as_str(), &symbol.as_str(), &interval.as_str(), &lo, &hi],
                )
                .map(|rows| rows.iter().map(|r| (r.get(0), r.get(1), r.get(2))).collect())
                .map_err(|e| query_error(target, "reading indicator values", &e))
        })?;
        Ok(out)
    }

    fn venues_for(&mut self, symbol: Symbol) -> Result<Vec<Venue>, StoreError> {
        let mut found = Vec::new();
        for venue in Venue::ALL {
            let row = self
                .client
                .query_one(
                    "SELECT EXISTS (SELECT 1 FROM candles WHERE venue = $1 AND symbol = $2)
                         OR EXISTS (SELECT 1 FROM trades WHERE venue = $1 AND symbol = $2)",
                    &[&venue.as_str(), &symbol.as_str()],
                )
                .map_err(self.err("looking up venues"))?;
            if row.get::<_, bool>(0) {
                found.push(venue);
            }
        }
        Ok(found)
    }

    fn symbols(&mut self) -> Result<Vec<(Venue, Symbol, u64)>, StoreError> {
        let mut out: BTreeMap<(Venue, Symbol), u64> = BTreeMap::new();
        let rows = self
            .client
            .query(
                "SELECT venue, symbol, count(*) FROM candles GROUP BY venue, symbol",
                &[],
            )
            .map_err(self.err("listing symbols"))?;
        for r in rows {
            if let (Some(v), Ok(s)) = (parse_venue(r.get(0)), Symbol::new(r.get::<_, &str>(1))) {
                out.insert((v, s), u64::try_from(r.get::<_, i64>(2)).unwrap_or(0));
            }
        }
        // Distinct (venue, symbol) of trades by hopping along the primary key.
        let (mut v, mut s) = (String::new(), String::new());
        loop {
            let row = self
                .client
                .query_opt(
                    "SELECT venue, symbol FROM trades WHERE (venue, symbol) > ($1, $2)
                     ORDER BY venue, symbol LIMIT 1",
                    &[&v, &s],
                )
                .map_err(self.err("listing symbols"))?;
            let Some(row) = row else { break };
            let (nv, ns): (String, String) = (row.get(0), row.get(1));
            if let (Some(venue), Ok(symbol)) = (parse_venue(&nv), Symbol::new(&ns)) {
                out.entry((venue, symbol)).or_insert(0);
            }
            (v, s) = (nv, ns);
        }
        Ok(out.into_iter().map(|((v, s), n)| (v, s, n)).collect())
    }

    fn alerts(
        &mut self,
        since_ms: Option<TsMs>,
        limit: Option<usize>,
    ) -> Result<Vec<AlertRecord>, StoreError> {
        let limit = limit.map(|l| i64::try_from(l).unwrap_or(i64::MAX));
        let rows = self
            .client
            .query(
                "SELECT alert_id, ts_ms, venue, symbol, rule, value, message, delivered, severity
                 FROM alerts WHERE ts_ms >= $1 ORDER BY ts_ms DESC, alert_id DESC LIMIT $2",
                &[&since_ms.unwrap_or(i64::MIN), &limit],
            )
            .map_err(self.err("reading alerts"))?;
        Ok(rows
            .iter()
            .filter_map(|r| {
                let key = VenueSymbol::new(
                    parse_venue(r.get(2))?,
                    Symbol::new(r.get::<_, &str>(3)).ok()?,
                );
                Some(AlertRecord {
                    alert_id: r.get(0),
                    ts_ms: r.get(1),
                    key,
                    rule: r.get(4),
                    value: r.get::<_, Option<f64>>(5).unwrap_or(f64::NAN),
                    message: r.get(6),
                    delivered: r.get(7),
                    severity: r
                        .get::<_, &str>(8)
                        .parse()
                        .unwrap_or(crate::alerts::Severity::Warning),
                })
            })
            .collect())
    }

    fn deliveries(
        &mut self,
        since_ms: Option<TsMs>,
    ) -> Result<HashMap<String, Vec<StoredDelivery>>, StoreError> {
        let rows = self
            .client
            .query(
                "SELECT d.alert_id, d.sink, d.ts_ms, d.status, d.error
                 FROM alert_deliveries d JOIN alerts a ON a.alert_id = d.alert_id
                 WHERE a.ts_ms >= $1 ORDER BY d.alert_id, d.sink",
                &[&since_ms.unwrap_or(i64::MIN)],
            )
            .map_err(self.err("reading alert deliveries"))?;
        let mut out: HashMap<String, Vec<StoredDelivery>> = HashMap::new();
        for r in rows {
            let d = StoredDelivery {
                alert_id: r.get(0),
                sink: r.get(1),
                ts_ms: r.get(2),
                outcome: crate::alerts::DeliveryOutcome::from_stored(r.get(3), r.get(4)),
            };
            out.entry(d.alert_id.clone()).or_default().push(d);
        }
        Ok(out)
    }

    fn rules(&mut self) -> Result<Vec<RuleRecord>, StoreError> {
        let rows = self
            .client
            .query(
                "SELECT r.rule_id, r.origin, r.spec, r.state, r.snoozed_until_ms, r.created_ms,
                        r.updated_ms, (SELECT max(a.ts_ms) FROM alerts a WHERE a.rule = r.rule_id)
                 FROM alert_rules r ORDER BY r.created_ms, r.rule_id",
                &[],
            )
            .map_err(self.err("reading alert rules"))?;
        let mut out = Vec::new();
        for r in rows {
            let rule_id: String = r.get(0);
            let parsed = r.get::<_, &str>(1).parse().and_then(|origin| {
                let spec = serde_json::from_str(r.get(2)).map_err(|e| format!("spec: {e}"))?;
                Ok((origin, spec, r.get::<_, &str>(3).parse()?))
            });
            match parsed {
                Ok((origin, spec, state)) => out.push(RuleRecord {
                    rule_id,
                    origin,
                    spec,
                    state,
                    snoozed_until_ms: r.get(4),
                    created_ms: r.get(5),
                    updated_ms: r.get(6),
                    last_fired_ms: r.get(7),
                }),
                Err(e) => tracing::warn!("stored alert rule {rule_id:?} skipped: {e}"),
            }
        }
        Ok(out)
    }

    fn watchlist_edits(&mut self) -> Result<Vec<WatchlistEdit>, StoreError> {
        let rows = self
            .client
            .query(
                "SELECT list, venue, symbol, change, ts_ms FROM watchlist_edits ORDER BY ts_ms, list",
                &[],
            )
            .map_err(self.err("reading watchlist edits"))?;
        let mut out = Vec::new();
        for r in rows {
            let (list, venue, symbol): (String, &str, &str) = (r.get(0), r.get(1), r.get(2));
            match (parse_venue(venue), Symbol::new(symbol)) {
                (Some(v), Ok(s)) => out.push(WatchlistEdit {
                    list,
                    key: VenueSymbol::new(v, s),
                    added: r.get::<_, &str>(3) == "add",
                    ts_ms: r.get(4),
                }),
                _ => tracing::warn!(
                    "watchlist edit {venue}:{symbol} in {list:?} skipped: unknown venue or symbol"
                ),
            }
        }
        Ok(out)
    }

    fn trade_count(&mut self, venue: Venue, symbol: Symbol) -> Result<u64, StoreError> {
        let row = self
            .client
            .query_one(
                "SELECT count(*) FROM trades WHERE venue = $1 AND symbol = $2",
                &[&venue.as_str(), &symbol.as_str()],
            )
            .map_err(self.err("counting trades"))?;
        Ok(u64::try_from(row.get::<_, i64>(0)).unwrap_or(0))
    }

    fn candle_ranges(&mut self) -> Result<Vec<crate::store::queries::StoredRange>, StoreError> {
        let rows = self
            .client
            .query(
                "SELECT venue, symbol, interval, min(open_ms), max(open_ms), count(*) FROM candles
                 GROUP BY venue, symbol, interval",
                &[],
            )
            .map_err(self.err("reading the stored candle ranges"))?;
        let mut out: Vec<crate::store::queries::StoredRange> = rows
            .iter()
            .filter_map(|r| {
                Some(crate::store::queries::StoredRange {
                    key: VenueSymbol::new(
                        parse_venue(r.get(0))?,
                        Symbol::new(r.get::<_, &str>(1)).ok()?,
                    ),
                    interval: r.get::<_, &str>(2).parse().ok()?,
                    first_ms: r.get(3),
                    last_ms: r.get(4),
                    count: u64::try_from(r.get::<_, i64>(5)).unwrap_or(0),
                })
            })
            .collect();
        out.sort_by_key(|r| (r.key.venue, r.key.symbol, r.interval));
        Ok(out)
    }

    fn trades_page(
        &mut self,
        key: VenueSymbol,
        from_ms: TsMs,
        to_ms: TsMs,
        after: Option<(TsMs, u64)>,
        limit: usize,
    ) -> Result<Vec<(TsMs, crate::domain::TradeTick)>, StoreError> {
        let (after_ts, after_id) = match after {
            Some((t, id)) => (t, i64::try_from(id).unwrap_or(i64::MAX)),
            None => (i64::MIN, i64::MIN),
        };
        let lo = from_ms.max(after_ts);
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self
            .client
            .query(
                "SELECT ts_ms, trade_id, price, qty, taker_side FROM trades
                 WHERE venue = $1 AND symbol = $2 AND ts_ms BETWEEN $3 AND $4
                   AND (ts_ms > $5 OR trade_id > $6)
                 ORDER BY ts_ms, trade_id LIMIT $7",
                &[
                    &key.venue.as_str(),
                    &key.symbol.as_str(),
                    &lo,
                    &to_ms,
                    &after_ts,
                    &after_id,
                    &limit,
                ],
            )
            .map_err(self.err("reading trades"))?;
        Ok(rows
            .iter()
            .map(|r| {
                (
                    r.get::<_, i64>(0),
                    crate::domain::TradeTick {
                        trade_id: u64::try_from(r.get::<_, i64>(1)).unwrap_or(0),
                        price: r.get(2),
                        qty: r.get(3),
                        side: crate::domain::Side::from_stored(r.get(4)),
                    },
                )
            })
            .collect())
    }

    fn portfolio_entries(&mut self) -> Result<Vec<crate::portfolio::Entry>, StoreError> {
        super::portfolio::entries(&mut self.client, &self.target)
    }

    fn book_snapshots(
        &mut self,
        venue: Option<Venue>,
        symbol: Symbol,
        from_ms: Option<TsMs>,
        to_ms: Option<TsMs>,
    ) -> Result<Vec<crate::domain::BookRecord>, StoreError> {
        let venue_text = venue.map(|v| v.as_str().to_string());
        let rows = self
            .client
            .query(
                "SELECT venue, symbol, ts_ms, side, level, price, qty FROM book_snapshots
                 WHERE symbol = $1 AND ($2::text IS NULL OR venue = $2)
                   AND ts_ms >= $3 AND ts_ms <= $4
                 ORDER BY venue, ts_ms, side, level",
                &[
                    &symbol.as_str(),
                    &venue_text,
                    &from_ms.unwrap_or(TsMs::MIN),
                    &to_ms.unwrap_or(TsMs::MAX),
                ],
            )
            .map_err(self.err("reading book snapshots"))?;
        let rows = rows.iter().filter_map(|r| {
            let venue = parse_venue(r.get::<_, &str>(0))?;
            let symbol = Symbol::new(r.get::<_, &str>(1)).ok()?;
            Some((
                venue,
                symbol,
                r.get::<_, i64>(2),
                r.get::<_, String>(3),
                i64::from(r.get::<_, i32>(4)),
                r.get::<_, f64>(5),
                r.get::<_, f64>(6),
            ))
        });
        Ok(crate::store::queries::group_book_rows(rows))
    }
}
