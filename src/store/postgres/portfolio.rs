//! The portfolio's ledger in PostgreSQL (`portfolio_entries`), as in SQLite.

use postgres::Client;

use super::connect::query_error;
use crate::domain::now_ms;
use crate::portfolio::Entry;
use crate::store::sqlite::portfolio::Row;
use crate::store::{PgTarget, StoreError};

pub fn add(client: &mut Client, t: &PgTarget, entries: &[Entry]) -> Result<u64, StoreError> {
    let err = |e: postgres::Error| query_error(t, "storing portfolio entries", &e);
    let mut tx = client.transaction().map_err(err)?;
    let insert = tx
        .prepare(
            "INSERT INTO portfolio_entries
             (entry_id, source, ts_ms, ts, action, asset, qty, quote, price, fee, fee_asset,
              venue, symbol, added_ms)
             VALUES ($1, $2, $3, to_timestamp($3::bigint / 1000.0), $4, $5, $6, $7, $8, $9,
                     $10, $11, $12, $13)
             ON CONFLICT (entry_id) DO NOTHING",
        )
        .map_err(err)?;
    let now = now_ms();
    let mut added = 0;
    for e in entries {
        added += put(&mut tx, &insert, e, now).map_err(err)?;
    }
    tx.commit().map_err(err)?;
    Ok(added)
}

/// Runs an insert of the table's columns for `e` (added at `now`; `ts` from `ts_ms`).
fn put(
    tx: &mut postgres::Transaction,
    stmt: &postgres::Statement,
    e: &Entry,
    now: i64,
) -> Result<u64, postgres::Error> {
    let venue = e.market.map(|m| m.venue.as_str().to_string());
    let symbol = e.market.map(|m| m.symbol.as_str().to_string());
    tx.execute(
        stmt,
        &[
            &e.id,
            &e.source,
            &e.ts_ms,
            &e.action.as_str(),
            &e.asset,
            &e.qty,
            &e.quote,
            &e.price,
            &e.fee,
            &e.fee_asset,
            &venue,
            &symbol,
            &now,
        ],
    )
}

/// Entries added, edited (the same id: replaced) or deleted in the monitor, inside the
/// writer's transaction.
pub fn write_changes(
    tx: &mut postgres::Transaction,
    changes: &[crate::portfolio::EntryChange],
) -> Result<(), postgres::Error> {
    use crate::portfolio::EntryChange;
    if changes.is_empty() {
        return Ok(());
    }
    let upsert = tx.prepare(
        "INSERT INTO portfolio_entries
         (entry_id, source, ts_ms, ts, action, asset, qty, quote, price, fee, fee_asset,
          venue, symbol, added_ms)
         VALUES ($1, $2, $3, to_timestamp($3::bigint / 1000.0), $4, $5, $6, $7, $8, $9,
                 $10, $11, $12, $13)
         ON CONFLICT (entry_id) DO UPDATE SET source = excluded.source, ts_ms = excluded.ts_ms,
           ts = excluded.ts, action = excluded.action, asset = excluded.asset,
           qty = excluded.qty, quote = excluded.quote, price = excluded.price,
           fee = excluded.fee, fee_asset = excluded.fee_asset, venue = excluded.venue,
           symbol = excluded.symbol",
    )?;
    let delete = tx.prepare("DELETE FROM portfolio_entries WHERE entry_id = $1")?;
    let now = now_ms();
    for c in changes {
        match c {
            EntryChange::Upsert(e) => {
                put(tx, &upsert, e, now)?;
            }
            EntryChange::Delete(id) => {
                tx.execute(&delete, &[id])?;
            }
        }
    }
    Ok(())
}

pub fn entries(client: &mut Client, t: &PgTarget) -> Result<Vec<Entry>, StoreError> {
    let rows = client
        .query(
            "SELECT entry_id, source, ts_ms, action, asset, qty, quote, price, fee, fee_asset,
                    venue, symbol
             FROM portfolio_entries ORDER BY ts_ms, added_ms, entry_id",
            &[],
        )
        .map_err(|e| query_error(t, "reading portfolio entries", &e))?;
    rows.iter()
        .map(|r| {
            Row {
                id: r.get(0),
                source: r.get(1),
                ts_ms: r.get(2),
                action: r.get(3),
                asset: r.get(4),
                qty: r.get(5),
                quote: r.get(6),
                price: r.get(7),
                fee: r.get(8),
                fee_asset: r.get(9),
                venue: r.get(10),
                symbol: r.get(11),
            }
            .entry()
        })
        .collect()
}
