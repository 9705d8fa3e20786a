//! Which watchlist rows show and in what order: named watchlists (groups) from the config, a
//! symbol filter typed after `/`, and a sort on any column. Pure, tested here.

use std::cmp::Ordering;

use crate::domain::{Symbol, TsMs, Venue, VenueSymbol, display_name};
use crate::view::WatchRow;

/// A column to sort on; `Config` is the watchlist's own order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SortKey {
    #[default]
    Config,
    Symbol,
    Last,
    Change,
    Volume,
    Rsi,
    Z,
    Age,
}

impl SortKey {
    pub fn next(self) -> SortKey {
        match self {
            SortKey::Config => SortKey::Symbol,
            SortKey::Symbol => SortKey::Last,
            SortKey::Last => SortKey::Change,
            SortKey::Change => SortKey::Volume,
            SortKey::Volume => SortKey::Rsi,
            SortKey::Rsi => SortKey::Z,
            SortKey::Z => SortKey::Age,
            SortKey::Age => SortKey::Config,
        }
    }

    /// The header of the column it sorts (None for the config order).
    pub fn column(self) -> Option<&'static str> {
        match self {
            SortKey::Config => None,
            SortKey::Symbol => Some("Symbol"),
            SortKey::Last => Some("Last"),
            SortKey::Change => Some("Chg%"),
            SortKey::Volume => Some("Vol"),
            SortKey::Rsi => Some("RSI"),
            SortKey::Z => Some("z tick"),
            SortKey::Age => Some("Age"),
        }
    }

    /// Names ascend by default, numbers descend (top gainers first).
    fn default_descending(self) -> bool {
        !matches!(self, SortKey::Config | SortKey::Symbol)
    }
}

/// One named watchlist: entries are a symbol at one venue or at any.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub name: String,
    pub entries: Vec<(Option<Venue>, Symbol)>,
}

impl Group {
    pub fn contains(&self, key: VenueSymbol) -> bool {
        self.entries
            .iter()
            .any(|(v, s)| *s == key.symbol && v.is_none_or(|v| v == key.venue))
    }

    fn position(&self, key: VenueSymbol) -> Option<usize> {
        self.entries
            .iter()
            .position(|(v, s)| *s == key.symbol && v.is_none_or(|v| v == key.venue))
    }
}

/// The name of the built-in group that shows every symbol.
pub const ALL: &str = "all";

#[derive(Debug, Clone, PartialEq)]
pub struct WatchState {
    /// `groups[0]` is "all" (every symbol the engine has), then the config's, in file order.
    groups: Vec<Group>,
    active: usize,
    pub filter: String,
    pub sort: SortKey,
    pub descending: bool,
}

impl WatchState {
    pub fn new(groups: Vec<Group>) -> WatchState {
        let mut all = vec![Group {
            name: ALL.into(),
            entries: Vec::new(),
        }];
        all.extend(groups.into_iter().filter(|g| g.name != ALL));
        WatchState {
            groups: all,
            active: 0,
            filter: String::new(),
            sort: SortKey::Config,
            descending: false,
        }
    }

    pub fn active(&self) -> &Group {
        &self.groups[self.active.min(self.groups.len() - 1)]
    }

    pub fn is_all(&self) -> bool {
        self.active == 0
    }

    pub fn group_count(&self) -> usize {
        self.groups.len()
    }

    /// Switches to the next (`step` 1) or previous (-1) watchlist; false when there is only one.
    pub fn cycle(&mut self, step: isize) -> bool {
        let n = self.groups.len() as isize;
        if n < 2 {
            return false;
        }
        self.active = (self.active as isize + step).rem_euclid(n) as usize;
        true
    }

    pub fn cycle_sort(&mut self) {
        self.sort = self.sort.next();
        self.descending = self.sort.default_descending();
    }

    pub fn reverse(&mut self) {
        self.descending = !self.descending;
    }

    /// Adds `key` to the active watchlist (nothing to do for "all": the engine's rows are it).
    pub fn add(&mut self, key: VenueSymbol) -> bool {
        let list = self.active().name.clone();
        self.add_to(&list, key)
    }

    /// Adds `key` to the watchlist named `list` (the one a subscription was asked from, which
    /// may no longer be the active one when the source answers).
    pub fn add_to(&mut self, list: &str, key: VenueSymbol) -> bool {
        match self.groups.iter_mut().skip(1).find(|g| g.name == list) {
            Some(g) if !g.contains(key) => {
                g.entries.push((Some(key.venue), key.symbol));
                true
            }
            _ => false,
        }
    }

    /// Removes `key` from the active watchlist, or from every one when "all" is active.
    pub fn remove(&mut self, key: VenueSymbol) -> bool {
        let list = self.active().name.clone();
        self.remove_from(&list, key)
    }

    /// Removes `key` from the watchlist named `list`, or from every one for "all".
    pub fn remove_from(&mut self, list: &str, key: VenueSymbol) -> bool {
        let range = match self.groups.iter().position(|g| g.name == list) {
            None => return false,
            Some(0) => 0..self.groups.len(),
            Some(i) => i..i + 1,
        };
        let mut changed = false;
        for g in &mut self.groups[range] {
            let before = g.entries.len();
            g.entries
                .retain(|(v, s)| !(*s == key.symbol && v.is_none_or(|v| v == key.venue)));
            changed |= g.entries.len() != before;
        }
        changed
    }

    /// The rows to show: in the active group, matching the filter, sorted.
    pub fn visible<'a>(&self, rows: &'a [WatchRow], now_ms: TsMs) -> Vec<&'a WatchRow> {
        let group = self.active();
        let needle = self.filter.trim().to_ascii_uppercase();
        let mut out: Vec<&WatchRow> = rows
            .iter()
            .filter(|r| self.is_all() || group.contains(r.key))
            // the venue's own name or the screen's (`BTCUSDT` or `BTC/USDT`)
            .filter(|r| {
                needle.is_empty()
                    || r.key.symbol.as_str().contains(&needle)
                    || display_name(r.key.venue, &r.key.symbol).contains(&needle)
            })
            .collect();
        if !self.is_all() {
            // the group's own order
            out.sort_by_key(|r| group.position(r.key).unwrap_or(usize::MAX));
        }
        let num = |r: &WatchRow| -> Option<f64> {
            match self.sort {
                SortKey::Last => r.last,
                SortKey::Change => r.change_pct,
                SortKey::Volume => Some(r.volume),
                SortKey::Rsi => r.rsi,
                SortKey::Z => r.z.map(f64::abs),
                SortKey::Age => r.last_recv_ms.map(|t| (now_ms - t) as f64),
                SortKey::Config | SortKey::Symbol => None,
            }
            .filter(|v| v.is_finite())
        };
        match self.sort {
            SortKey::Config => {
                if self.descending {
                    out.reverse();
                }
            }
            SortKey::Symbol => {
                // by the name shown, so that a pair's venues sit together
                out.sort_by_cached_key(|r| (display_name(r.key.venue, &r.key.symbol), r.key.venue));
                if self.descending {
                    out.reverse();
                }
            }
            _ => out.sort_by(|a, b| {
                // rows without a value go last whichever the direction
                match (num(a), num(b)) {
                    (Some(x), Some(y)) => {
                        let o = x.partial_cmp(&y).unwrap_or(Ordering::Equal);
                        if self.descending { o.reverse() } else { o }
                    }
                    (Some(_), None) => Ordering::Less,
                    (None, Some(_)) => Ordering::Greater,
                    (None, None) => Ordering::Equal,
                }
            }),
        }
        out
    }

    /// "majors (3/6)" style words for the watchlist title, with the filter and the sort.
    pub fn describe(&self, shown: usize, total: usize) -> String {
        let mut s = if self.groups.len() > 1 {
            format!(
                "{} {}/{}",
                self.active().name,
                self.active + 1,
                self.groups.len()
            )
        } else {
            "Watchlist".into()
        };
        s.push_str(&format!(" ({shown}/{total})"));
        if !self.filter.is_empty() {
            s.push_str(&format!(" /{}", self.filter));
        }
        if let Some(col) = self.sort.column() {
            s.push_str(&format!(
                " by {col} {}",
                if self.descending { "↓" } else { "↑" }
            ));
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sym(s: &str) -> Symbol {
        Symbol::new(s).unwrap_or_else(|e| panic!("{e}"))
    }

    fn row(s: &str, last: f64, chg: Option<f64>, vol: f64) -> WatchRow {
        WatchRow {
            key: VenueSymbol::new(Venue::Sim, sym(s)),
            last: Some(last),
            change_pct: chg,
            volume: vol,
            rsi: None,
            z: None,
            spark: Vec::new(),
            last_recv_ms: Some(0),
            last_exch_ms: Some(0),
        }
    }

    fn names(v: &[&WatchRow]) -> Vec<String> {
        v.iter()
            .map(|r| r.key.symbol.as_str().to_string())
            .collect()
    }

    #[test]
    fn groups_filter_and_sort() {
        let rows = vec![
            row("BTCUSDT", 90_000.0, Some(1.0), 10.0),
            row("ETHUSDT", 3_000.0, Some(-2.0), 50.0),
            row("SOLUSDT", 150.0, None, 5.0),
        ];
        let mut w = WatchState::new(vec![Group {
            name: "majors".into(),
            entries: vec![(None, sym("ETHUSDT")), (Some(Venue::Sim), sym("BTCUSDT"))],
        }]);
        assert_eq!(
            names(&w.visible(&rows, 0)),
            ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
        );
        assert!(w.cycle(1));
        assert_eq!(names(&w.visible(&rows, 0)), ["ETHUSDT", "BTCUSDT"]);
        assert_eq!(w.describe(2, 3), "majors 2/2 (2/3)");
        w.cycle(1);
        w.filter = "sol".into();
        assert_eq!(names(&w.visible(&rows, 0)), ["SOLUSDT"]);
        w.filter.clear();
        w.sort = SortKey::Change;
        w.descending = true;
        // no value sorts last both ways
        assert_eq!(
            names(&w.visible(&rows, 0)),
            ["BTCUSDT", "ETHUSDT", "SOLUSDT"]
        );
        w.reverse();
        assert_eq!(
            names(&w.visible(&rows, 0)),
            ["ETHUSDT", "BTCUSDT", "SOLUSDT"]
        );
        w.cycle_sort();
        assert_eq!((w.sort, w.descending), (SortKey::Volume, true));
        assert_eq!(
            names(&w.visible(&rows, 0)),
            ["ETHUSDT", "BTCUSDT", "SOLUSDT"]
        );
    }

    #[test]
    fn the_filter_and_the_symbol_sort_use_the_screen_name_too() {
        let at = |venue: Venue, s: &str| WatchRow {
            key: VenueSymbol::new(venue, sym(s)),
            ..row(s, 1.0, None, 1.0)
        };
        let rows = vec![
            at(Venue::Okx, "ETH-USDT"),
            at(Venue::Okx, "BTC-USDT"),
            at(Venue::Coinbase, "BTC-USD"),
            at(Venue::Binance, "BTCUSDT"),
        ];
        let mut w = WatchState::new(Vec::new());
        w.sort = SortKey::Symbol;
        // by BTC/USD, BTC/USDT (binance, okx), ETH/USDT: a pair's venues sit together
        assert_eq!(
            names(&w.visible(&rows, 0)),
            ["BTC-USD", "BTCUSDT", "BTC-USDT", "ETH-USDT"]
        );
        w.filter = "btc/usdt".into();
        assert_eq!(names(&w.visible(&rows, 0)), ["BTCUSDT", "BTC-USDT"]);
        w.filter = "btcusdt".into();
        assert_eq!(names(&w.visible(&rows, 0)), ["BTCUSDT"]);
    }

    #[test]
    fn add_and_remove() {
        let rows = vec![
            row("BTCUSDT", 1.0, None, 1.0),
            row("ETHUSDT", 1.0, None, 1.0),
        ];
        let mut w = WatchState::new(vec![Group {
            name: "majors".into(),
            entries: vec![(None, sym("BTCUSDT"))],
        }]);
        w.cycle(1);
        let eth = VenueSymbol::new(Venue::Sim, sym("ETHUSDT"));
        assert!(w.add(eth));
        assert!(!w.add(eth));
        assert_eq!(names(&w.visible(&rows, 0)), ["BTCUSDT", "ETHUSDT"]);
        assert!(w.remove(eth));
        assert_eq!(names(&w.visible(&rows, 0)), ["BTCUSDT"]);
        w.cycle(1);
        let btc = VenueSymbol::new(Venue::Sim, sym("BTCUSDT"));
        assert!(w.remove(btc), "removing in all removes from every group");
        // an answer for a list that is no longer active still lands in that list
        assert!(w.add_to("majors", eth));
        assert!(!w.add_to("all", eth), "all is every symbol already");
        assert!(w.remove_from("majors", eth));
        w.cycle(1);
        assert!(w.visible(&rows, 0).is_empty());
    }
}
