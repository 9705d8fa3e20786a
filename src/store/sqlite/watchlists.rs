//! Watchlist edits made in the monitor, read back at start.

use rusqlite::Connection;

use crate::domain::WatchlistEdit;
use crate::domain::{Symbol, Venue, VenueSymbol};
use crate::store::StoreError;

/// Every stored edit, oldest first. Rows naming a venue or symbol this binary does not know
/// are skipped with a warning (a newer binary wrote them).
pub fn edits(conn: &Connection) -> Result<Vec<WatchlistEdit>, StoreError> {
    let err = |e| StoreError::query("reading watchlist edits", e);
    let mut stmt = conn
        .prepare_cached(
            "SELECT list, venue, symbol, change, ts_ms FROM watchlist_edits ORDER BY ts_ms, list",
        )
        .map_err(err)?;
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
                r.get::<_, i64>(4)?,
            ))
        })
        .map_err(err)?;
    let mut out = Vec::new();
    for row in rows {
        let (list, venue, symbol, change, ts_ms) = row.map_err(err)?;
        match (venue.parse::<Venue>(), Symbol::new(&symbol)) {
            (Ok(v), Ok(s)) => out.push(WatchlistEdit {
                list,
                key: VenueSymbol::new(v, s),
                added: change == "add",
                ts_ms,
            }),
            _ => tracing::warn!(
                "watchlist edit {venue}:{symbol} in {list:?} skipped: unknown venue or symbol"
            ),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_latest_edit_per_list_and_symbol_is_kept_and_read_back() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let mut conn =
            crate::store::open(&dir.path().join("w.db")).unwrap_or_else(|e| panic!("{e}"));
        let key = |s: &str| {
            VenueSymbol::new(
                Venue::Binance,
                Symbol::new(s).unwrap_or_else(|e| panic!("{e}")),
            )
        };
        let edit = |list: &str, s: &str, added: bool, ts_ms: i64| WatchlistEdit {
            list: list.into(),
            key: key(s),
            added,
            ts_ms,
        };
        let batch = crate::domain::OutputBatch {
            watchlist: vec![
                edit("all", "PEPEUSDT", true, 1),
                edit("majors", "ETHUSDT", false, 2),
                edit("all", "PEPEUSDT", false, 3),
            ],
            ..Default::default()
        };
        crate::store::write_batches(&mut conn, &[batch]).unwrap_or_else(|e| panic!("{e}"));
        let got = edits(&conn).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            got,
            vec![
                edit("majors", "ETHUSDT", false, 2),
                edit("all", "PEPEUSDT", false, 3)
            ]
        );
    }
}
