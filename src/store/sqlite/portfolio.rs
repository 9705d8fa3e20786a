//! The portfolio's ledger in SQLite (`portfolio_entries`).

use rusqlite::{Connection, params};

use crate::domain::{Symbol, Venue, VenueSymbol, now_ms};
use crate::portfolio::{Action, Entry};
use crate::store::StoreError;

/// Adds `entries` in one transaction, leaving an id already stored as it is; returns how many
/// were new.
pub fn add(conn: &mut Connection, entries: &[Entry]) -> Result<u64, StoreError> {
    let err = |e| StoreError::query("storing portfolio entries", e);
    let tx = conn.transaction().map_err(err)?;
    let mut added = 0u64;
    {
        let mut insert = tx
            .prepare_cached(
                "INSERT OR IGNORE INTO portfolio_entries
                 (entry_id, source, ts_ms, action, asset, qty, quote, price, fee, fee_asset,
                  venue, symbol, added_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            )
            .map_err(err)?;
        let now = now_ms();
        for e in entries {
            added += put(&mut insert, e, now).map_err(err)? as u64;
        }
    }
    tx.commit().map_err(err)?;
    Ok(added)
}

/// Runs an insert of the table's 13 columns for `e` (added at `now`).
fn put(stmt: &mut rusqlite::CachedStatement, e: &Entry, now: i64) -> rusqlite::Result<usize> {
    stmt.execute(params![
        e.id,
        e.source,
        e.ts_ms,
        e.action.as_str(),
        e.asset,
        e.qty,
        e.quote,
        e.price,
        e.fee,
        e.fee_asset,
        e.market.map(|m| m.venue.as_str()),
        e.market.map(|m| m.symbol.as_str().to_string()),
        now,
    ])
}

const UPSERT: &str = "INSERT INTO portfolio_entries
     (entry_id, source, ts_ms, action, asset, qty, quote, price, fee, fee_asset, venue, symbol,
      added_ms)
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
     ON CONFLICT (entry_id) DO UPDATE SET source = excluded.source, ts_ms = excluded.ts_ms,
       action = excluded.action, asset = excluded.asset, qty = excluded.qty,
       quote = excluded.quote, price = excluded.price, fee = excluded.fee,
       fee_asset = excluded.fee_asset, venue = excluded.venue, symbol = excluded.symbol";

/// Entries added, edited (the same id: replaced) or deleted in the monitor, inside the
/// writer's transaction.
pub fn write_changes(
    tx: &rusqlite::Transaction,
    changes: &[crate::portfolio::EntryChange],
) -> rusqlite::Result<()> {
    use crate::portfolio::EntryChange;
    if changes.is_empty() {
        return Ok(());
    }
    let now = now_ms();
    for c in changes {
        match c {
            EntryChange::Upsert(e) => {
                put(&mut tx.prepare_cached(UPSERT)?, e, now)?;
            }
            EntryChange::Delete(id) => {
                tx.prepare_cached("DELETE FROM portfolio_entries WHERE entry_id = ?1")?
                    .execute(params![id])?;
            }
        }
    }
    Ok(())
}

/// Every stored entry, by time. A database from before the portfolio has none.
pub fn entries(conn: &Connection) -> Result<Vec<Entry>, StoreError> {
    let err = |e| StoreError::query("reading portfolio entries", e);
    let has: bool = conn
        .query_row(
            "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'portfolio_entries')",
            [],
            |r| r.get(0),
        )
        .map_err(err)?;
    if !has {
        return Ok(Vec::new());
    }
    let mut stmt = conn
        .prepare_cached(
            "SELECT entry_id, source, ts_ms, action, asset, qty, quote, price, fee, fee_asset,
                    venue, symbol
             FROM portfolio_entries ORDER BY ts_ms, rowid",
        )
        .map_err(err)?;
    let rows = stmt
        .query_map([], |r| {
            Ok(Row {
                id: r.get(0)?,
                source: r.get(1)?,
                ts_ms: r.get(2)?,
                action: r.get(3)?,
                asset: r.get(4)?,
                qty: r.get(5)?,
                quote: r.get(6)?,
                price: r.get(7)?,
                fee: r.get(8)?,
                fee_asset: r.get(9)?,
                venue: r.get(10)?,
                symbol: r.get(11)?,
            })
        })
        .map_err(err)?;
    let mut out = Vec::new();
    for row in rows {
        out.push(row.map_err(err)?.entry()?);
    }
    Ok(out)
}

/// A stored entry as read, before it is checked.
pub struct Row {
    pub id: String,
    pub source: String,
    pub ts_ms: i64,
    pub action: String,
    pub asset: String,
    pub qty: f64,
    pub quote: Option<String>,
    pub price: Option<f64>,
    pub fee: f64,
    pub fee_asset: Option<String>,
    pub venue: Option<String>,
    pub symbol: Option<String>,
}

impl Row {
    /// The entry; a row another program wrote wrongly is named.
    pub fn entry(self) -> Result<Entry, StoreError> {
        let bad = |why: String| StoreError::Invalid {
            what: format!("portfolio entry {:?}: {why}", self.id),
        };
        let action: Action = self.action.parse().map_err(bad)?;
        let market = match (&self.venue, &self.symbol) {
            (Some(v), Some(s)) => {
                let venue: Venue = v.parse().map_err(bad)?;
                let symbol = Symbol::new(s).map_err(|e| bad(e.to_string()))?;
                Some(VenueSymbol::new(venue, symbol))
            }
            _ => None,
        };
        Ok(Entry {
            ts_ms: self.ts_ms,
            action,
            asset: self.asset,
            qty: self.qty,
            quote: self.quote,
            price: self.price,
            fee: self.fee,
            fee_asset: self.fee_asset,
            market,
            id: self.id,
            source: self.source,
        })
    }
}
