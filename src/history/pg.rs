//! Chart history from PostgreSQL: the same answer as the SQLite reader (the same bucket fold),
//! on one read-only connection kept across requests and opened again after an error. Each
//! request reads one snapshot (a REPEATABLE READ, read-only transaction).

use postgres::{Client, IsolationLevel, Transaction};

use super::query::{
    Bucket, bucket_at, bucket_ending_at, column_of, fold_candle, later_close, probe_bucket_ends,
};
use super::{HistoryRequest, HistorySlice, HistorySource, StoredClose};
use crate::domain::{Candle, Interval, TsMs, VenueSymbol};
use crate::store::PgTarget;
use crate::store::postgres::connect;

pub struct PgHistory {
    target: PgTarget,
    client: Option<Client>,
}

impl PgHistory {
    /// A reader for `target`; nothing is opened until the first request.
    pub fn new(target: PgTarget) -> PgHistory {
        PgHistory {
            target,
            client: None,
        }
    }

    fn with_snapshot<T: Default>(
        &mut self,
        read: impl FnOnce(&mut Transaction) -> Result<T, postgres::Error>,
    ) -> Result<T, String> {
        let shown = self.target.shown().to_string();
        if self.client.as_ref().is_none_or(Client::is_closed) {
            self.client = Some(connect(&self.target, true).map_err(|e| e.to_string())?);
        }
        let Some(client) = self.client.as_mut() else {
            return Ok(T::default());
        };
        let result = (|| {
            let mut tx = client
                .build_transaction()
                .isolation_level(IsolationLevel::RepeatableRead)
                .read_only(true)
                .start()?;
            // A database that holds no tickwatch tables yet holds nothing: not an error.
            let ready: bool = tx
                .query_one("SELECT to_regclass('candles') IS NOT NULL", &[])?
                .get(0);
            let out = if ready { read(&mut tx)? } else { T::default() };
            tx.commit()?;
            Ok(out)
        })();
        result.map_err(|e: postgres::Error| {
            self.client = None;
            format!("chart history from {shown}: {e}")
        })
    }
}

impl HistorySource for PgHistory {
    fn load(&mut self, req: &HistoryRequest) -> Result<HistorySlice, String> {
        self.with_snapshot(|tx| read_slice(tx, req))
    }

    fn last_closes(&mut self, keys: &[VenueSymbol]) -> Result<Vec<StoredClose>, String> {
        self.with_snapshot(|tx| read_last_closes(tx, keys))
    }
}

fn open_ms_at(
    tx: &mut Transaction,
    req: &HistoryRequest,
    desc: bool,
) -> Result<Option<TsMs>, postgres::Error> {
    let sql = if desc {
        "SELECT open_ms FROM candles WHERE venue = $1 AND symbol = $2 AND interval = $3
         ORDER BY open_ms DESC LIMIT 1"
    } else {
        "SELECT open_ms FROM candles WHERE venue = $1 AND symbol = $2 AND interval = $3
         ORDER BY open_ms LIMIT 1"
    };
    Ok(tx
        .query_opt(
            sql,
            &[
                &req.key.venue.as_str(),
                &req.key.symbol.as_str(),
                &req.interval.as_str(),
            ],
        )?
        .map(|r| r.get(0)))
}

fn read_slice(tx: &mut Transaction, req: &HistoryRequest) -> Result<HistorySlice, postgres::Error> {
    let first_stored_ms = open_ms_at(tx, req, false)?;
    let last_stored_ms = match first_stored_ms {
        Some(_) => open_ms_at(tx, req, true)?,
        None => None,
    };
    if first_stored_ms.is_none() || req.to_ms <= req.from_ms {
        return Ok(HistorySlice {
            first_stored_ms,
            last_stored_ms,
            ..HistorySlice::default()
        });
    }
    let (venue, symbol, interval) = (
        req.key.venue.as_str(),
        req.key.symbol.as_str(),
        req.interval.as_str(),
    );
    let rows = tx.query(
        "SELECT open_ms, open, high, low, close, volume, trades FROM candles
         WHERE venue = $1 AND symbol = $2 AND interval = $3 AND open_ms >= $4 AND open_ms < $5
         ORDER BY open_ms",
        &[&venue, &symbol, &interval, &req.from_ms, &req.to_ms],
    )?;
    let mut buckets: Vec<Bucket> = Vec::new();
    for r in &rows {
        let c = Candle {
            open_ms: r.get(0),
            open: r.get(1),
            high: r.get(2),
            low: r.get(3),
            close: r.get(4),
            volume: r.get(5),
            trades: u64::try_from(r.get::<_, i64>(6)).unwrap_or(0),
        };
        fold_candle(&mut buckets, c, req);
    }
    let source_candles = rows.len();
    let cols = &req.columns;
    if !cols.is_empty() && !buckets.is_empty() {
        if probe_bucket_ends(source_candles, buckets.len()) {
            // Each bucket shows its last member's values...
            let ends: Vec<i64> = buckets.iter().map(|b| b.last_ms).collect();
            let rows = tx.query(
                "SELECT open_ms, name, value FROM indicator_values
                 WHERE venue = $1 AND symbol = $2 AND interval = $3 AND open_ms = ANY($4)",
                &[&venue, &symbol, &interval, &ends],
            )?;
            for r in rows {
                let open_ms: TsMs = r.get(0);
                let Some(i) = column_of(cols, r.get(1)) else {
                    continue;
                };
                if let Some(b) = bucket_ending_at(&mut buckets, open_ms) {
                    b.out.values[i] = Some(r.get(2));
                }
            }
            // ...and, for a column it lacks, the latest earlier value in the bucket.
            for b in buckets.iter_mut().filter(|b| b.members > 1) {
                let missing: Vec<&str> = (0..cols.len())
                    .filter(|&i| b.out.values[i].is_none())
                    .map(|i| cols[i].as_str())
                    .collect();
                if missing.is_empty() {
                    continue;
                }
                let rows = tx.query(
                    "SELECT DISTINCT ON (name) name, value FROM indicator_values
                     WHERE venue = $1 AND symbol = $2 AND interval = $3
                       AND open_ms >= $4 AND open_ms <= $5 AND name = ANY($6)
                     ORDER BY name, open_ms DESC",
                    &[
                        &venue,
                        &symbol,
                        &interval,
                        &b.first_ms,
                        &b.last_ms,
                        &missing,
                    ],
                )?;
                for r in rows {
                    if let Some(i) = column_of(cols, r.get(0)) {
                        b.out.values[i] = Some(r.get(1));
                    }
                }
            }
        } else {
            let rows = tx.query(
                "SELECT open_ms, name, value FROM indicator_values
                 WHERE venue = $1 AND symbol = $2 AND interval = $3
                   AND open_ms >= $4 AND open_ms < $5
                 ORDER BY open_ms",
                &[&venue, &symbol, &interval, &req.from_ms, &req.to_ms],
            )?;
            let mut k = 0;
            for r in rows {
                let Some(b) = bucket_at(&mut buckets, &mut k, r.get(0)) else {
                    continue;
                };
                if let Some(i) = column_of(cols, r.get(1)) {
                    b.out.values[i] = Some(r.get(2));
                }
            }
        }
    }
    Ok(HistorySlice {
        candles: buckets.into_iter().map(|b| b.out).collect(),
        source_candles,
        first_stored_ms,
        last_stored_ms,
    })
}

fn read_last_closes(
    tx: &mut Transaction,
    keys: &[VenueSymbol],
) -> Result<Vec<StoredClose>, postgres::Error> {
    let stmt = tx.prepare(
        "SELECT open_ms, close FROM candles WHERE venue = $1 AND symbol = $2 AND interval = $3
         ORDER BY open_ms DESC LIMIT 1",
    )?;
    let mut out = Vec::new();
    for key in keys {
        let mut best: Option<StoredClose> = None;
        for interval in Interval::ALL {
            let row = tx.query_opt(
                &stmt,
                &[
                    &key.venue.as_str(),
                    &key.symbol.as_str(),
                    &interval.as_str(),
                ],
            )?;
            if let Some(r) = row {
                best = later_close(best, *key, interval, r.get(0), r.get(1));
            }
        }
        out.extend(best);
    }
    Ok(out)
}
