//! Watchlists at start: the config's `[[watchlists]]` with the edits made in the monitor (stored
//! in the database) applied, and symbols added in the monitor put back into their source's list
//! so they are subscribed again.

use crate::store::Location;

use crate::config::Settings;
use crate::domain::WatchlistEdit;
use crate::domain::{Venue, parse_watch_symbol};
use crate::ui::watch_state::{ALL, Group};

/// The stored edits, or none when the database is missing or unreadable (logged: the lists
/// then come from the config alone).
pub fn stored_edits(db: &Location) -> Vec<WatchlistEdit> {
    if db.sqlite_path().is_some_and(|p| !p.exists()) {
        return Vec::new();
    }
    match crate::store::open_reader(db).and_then(|mut r| r.watchlist_edits()) {
        Ok(e) => e,
        // a new PostgreSQL database, before its first writer: nothing edited yet
        Err(crate::store::StoreError::NoHistory { .. }) => Vec::new(),
        Err(e) => {
            tracing::warn!("watchlist edits not loaded (the config's lists apply): {e}");
            Vec::new()
        }
    }
}

/// The symbol list of `venue`'s source in the config, when it has one.
fn source_symbols(s: &mut Settings, venue: Venue) -> Option<&mut Vec<String>> {
    match venue {
        Venue::Binance => Some(&mut s.config.binance.symbols),
        Venue::Coinbase => Some(&mut s.config.coinbase.products),
        Venue::Kraken => Some(&mut s.config.kraken.symbols),
        Venue::Okx => Some(&mut s.config.okx.symbols),
        Venue::Bybit => Some(&mut s.config.bybit.symbols),
        Venue::AlphaVantage => Some(&mut s.config.alphavantage.symbols),
        Venue::Sim => Some(&mut s.config.sim.symbols),
        Venue::Yahoo => Some(&mut s.config.yahoo.symbols),
        // not wired into the config yet: no list to edit
        Venue::BinanceFutures => None,
        // what portfolio alerts are about, not a market
        Venue::Portfolio => None,
    }
}

/// Applies the "all" list's edits to the sources' symbol lists (added symbols are subscribed at
/// start, removed ones are not) and returns the named groups with their edits applied.
pub fn apply(s: &mut Settings, edits: &[WatchlistEdit]) -> Vec<Group> {
    for e in edits.iter().filter(|e| e.list == ALL) {
        let sym = e.key.symbol.as_str().to_string();
        if let Some(list) = source_symbols(s, e.key.venue) {
            let has = list.iter().any(|x| x.eq_ignore_ascii_case(&sym));
            if e.added && !has {
                list.push(sym);
            } else if !e.added {
                list.retain(|x| !x.eq_ignore_ascii_case(&sym));
            }
        }
    }
    let mut groups: Vec<Group> = s
        .config
        .watchlists
        .iter()
        .map(|w| Group {
            name: w.name.clone(),
            // validated with the config
            entries: w
                .symbols
                .iter()
                .filter_map(|x| parse_watch_symbol(x).ok())
                .collect(),
        })
        .collect();
    for e in edits.iter().filter(|e| e.list != ALL) {
        let Some(g) = groups.iter_mut().find(|g| g.name == e.list) else {
            tracing::info!(list = %e.list, "stored edit of a watchlist the config no longer has");
            continue;
        };
        if e.added {
            if !g.contains(e.key) {
                g.entries.push((Some(e.key.venue), e.key.symbol));
            }
        } else {
            g.entries
                .retain(|(v, sym)| !(*sym == e.key.symbol && v.is_none_or(|v| v == e.key.venue)));
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{Config, WatchlistConfig};
    use crate::domain::{Symbol, VenueSymbol};

    fn edit(list: &str, venue: Venue, sym: &str, added: bool) -> WatchlistEdit {
        WatchlistEdit {
            list: list.into(),
            key: VenueSymbol::new(venue, Symbol::new(sym).unwrap_or_else(|e| panic!("{e}"))),
            added,
            ts_ms: 0,
        }
    }

    #[test]
    fn edits_apply_over_the_config() {
        let cfg = Config {
            sources: vec!["binance".into()],
            watchlists: vec![WatchlistConfig {
                name: "majors".into(),
                symbols: vec!["BTCUSDT".into(), "ETHUSDT".into()],
            }],
            ..Config::default()
        };
        let mut s = cfg
            .into_settings(std::path::Path::new("<test>"))
            .unwrap_or_else(|e| panic!("{e}"));
        let groups = apply(
            &mut s,
            &[
                edit(ALL, Venue::Binance, "PEPEUSDT", true),
                edit(ALL, Venue::Binance, "XRPUSDT", false),
                edit("majors", Venue::Binance, "ETHUSDT", false),
                edit("majors", Venue::Binance, "PEPEUSDT", true),
                edit("gone", Venue::Binance, "BTCUSDT", true),
            ],
        );
        assert!(s.config.binance.symbols.contains(&"PEPEUSDT".to_string()));
        assert!(!s.config.binance.symbols.contains(&"XRPUSDT".to_string()));
        assert_eq!(groups.len(), 1);
        let names: Vec<&str> = groups[0].entries.iter().map(|(_, s)| s.as_str()).collect();
        assert_eq!(names, ["BTCUSDT", "PEPEUSDT"]);
    }
}
