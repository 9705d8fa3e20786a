//! The same instrument at several venues: rows whose screen name (`BTC/USDT`, see
//! [`crate::domain::display_name`]) is the same at two or more venues form a group, and each row
//! shows how far its last price is from the group's reference, in basis points.
//!
//! The reference is the median of the group's live last prices: one venue with a bad print
//! moves it little, and with two venues it is their midpoint (each shows half the spread, with
//! opposite signs). A row whose data is stale or whose source is not live, or that has no
//! price, neither feeds the reference nor gets a figure: an old price must never produce a
//! number that looks live. Fewer than two live rows: no reference, no figures.
//!
//! USD and USDT (or USDC) are different quotes, so BTC/USD and BTC/USDT are different groups.
//! Binance futures are perpetuals: they group only with each other, never with spot pairs.

use std::collections::HashMap;

use crate::domain::{TsMs, Venue, VenueSymbol, display_name};
use crate::pipeline::{SourceHealth, SourceState, effective_state};
use crate::view::WatchRow;

/// Whether a row's price is current: its last event is no older than `stale_after_ms` (the rule
/// that dims a row in the watchlist), and the source named after its venue, if there is one
/// (`binance`, `kraken`...; a replay or NATS feed carries other venues' names), is live now (not
/// stale, reconnecting, rate-limited or failed).
pub fn is_current(
    row: &WatchRow,
    now: TsMs,
    stale_after_ms: i64,
    sources: &[SourceHealth],
) -> bool {
    let fresh = row.last_recv_ms.is_some_and(|t| now - t <= stale_after_ms);
    let venue = row.key.venue.as_str();
    fresh
        && sources
            .iter()
            .filter(|h| h.is_source && h.name == venue)
            .all(|h| {
                matches!(
                    effective_state(h, now, stale_after_ms),
                    SourceState::Live | SourceState::Dropping { .. }
                )
            })
}

/// What the cross-venue column shows for one row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum CrossVenue {
    /// The only venue with this name: nothing to compare (blank).
    Single,
    /// In a group, but not comparable now: stale, not live, no price, or too few live peers.
    NoFigure,
    /// Basis points from the group's reference: (price - reference) / reference * 10 000.
    Bp(f64),
}

impl CrossVenue {
    /// The cell text: blank, `—`, or the figure with one decimal (no decimal from 10 000 bp on,
    /// where the column would overflow and a tenth means nothing).
    pub fn text(self) -> String {
        match self {
            CrossVenue::Single => String::new(),
            CrossVenue::NoFigure => "—".into(),
            CrossVenue::Bp(bp) if !bp.is_finite() => "—".into(),
            CrossVenue::Bp(bp) if bp.abs() < 0.05 => "0.0".into(),
            CrossVenue::Bp(bp) if bp.abs() < 9_999.95 => format!("{bp:+.1}"),
            CrossVenue::Bp(bp) => format!("{bp:+.0}"),
        }
    }
}

/// The key rows are grouped by: the screen name, and whether it is a perpetual.
fn group_key(key: VenueSymbol) -> (String, bool) {
    (
        display_name(key.venue, &key.symbol),
        key.venue == Venue::BinanceFutures,
    )
}

/// The median of `values` (not empty), sorting them in place.
fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    }
}

/// The cross-venue figure of every row in `rows` (every row the engine has, so that a filter
/// or a watchlist that hides a venue does not move the reference). `live` says whether a row's
/// data is current (its source live and its last event recent).
pub fn cross_venue(
    rows: &[WatchRow],
    live: impl Fn(&WatchRow) -> bool,
) -> HashMap<VenueSymbol, CrossVenue> {
    let mut groups: HashMap<(String, bool), Vec<&WatchRow>> = HashMap::new();
    for r in rows {
        groups.entry(group_key(r.key)).or_default().push(r);
    }
    let price = |r: &WatchRow| r.last.filter(|p| p.is_finite() && *p > 0.0);
    let mut out = HashMap::with_capacity(rows.len());
    for members in groups.values() {
        if members.len() < 2 {
            for r in members {
                out.insert(r.key, CrossVenue::Single);
            }
            continue;
        }
        let current: Vec<(VenueSymbol, f64)> = members
            .iter()
            .filter(|r| live(r))
            .filter_map(|r| price(r).map(|p| (r.key, p)))
            .collect();
        let reference = if current.len() >= 2 {
            let mut prices: Vec<f64> = current.iter().map(|(_, p)| *p).collect();
            Some(median(&mut prices))
        } else {
            None
        };
        for r in members {
            let figure = match (reference, current.iter().find(|(k, _)| *k == r.key)) {
                (Some(m), Some((_, p))) => CrossVenue::Bp((p - m) / m * 10_000.0),
                _ => CrossVenue::NoFigure,
            };
            out.insert(r.key, figure);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Symbol;

    fn row(venue: Venue, sym: &str, last: Option<f64>) -> WatchRow {
        WatchRow {
            key: VenueSymbol::new(venue, Symbol::new(sym).unwrap_or_else(|e| panic!("{e}"))),
            last,
            change_pct: None,
            volume: 0.0,
            rsi: None,
            z: None,
            spark: Vec::new(),
            last_recv_ms: Some(0),
            last_exch_ms: Some(0),
        }
    }

    fn fig(map: &HashMap<VenueSymbol, CrossVenue>, r: &WatchRow) -> CrossVenue {
        map.get(&r.key)
            .copied()
            .unwrap_or_else(|| panic!("{:?}", r.key))
    }

    fn bp(c: CrossVenue) -> f64 {
        match c {
            CrossVenue::Bp(v) => v,
            other => panic!("no figure: {other:?}"),
        }
    }

    #[test]
    fn three_venues_against_their_median() {
        let rows = [
            row(Venue::Binance, "BTCUSDT", Some(100_000.0)),
            row(Venue::Okx, "BTC-USDT", Some(100_050.0)),
            row(Venue::Bybit, "BTCUSDT", Some(99_900.0)),
            // a different quote: its own group, alone
            row(Venue::Coinbase, "BTC-USD", Some(100_300.0)),
            row(Venue::Binance, "ETHUSDT", Some(3_000.0)),
        ];
        let m = cross_venue(&rows, |_| true);
        assert_eq!(fig(&m, &rows[0]), CrossVenue::Bp(0.0));
        assert!((bp(fig(&m, &rows[1])) - 5.0).abs() < 1e-6);
        assert!((bp(fig(&m, &rows[2])) + 10.0).abs() < 1e-6);
        assert_eq!(fig(&m, &rows[3]), CrossVenue::Single);
        assert_eq!(fig(&m, &rows[4]), CrossVenue::Single);
        assert_eq!(CrossVenue::Bp(bp(fig(&m, &rows[1]))).text(), "+5.0");
        assert_eq!(CrossVenue::Bp(bp(fig(&m, &rows[2]))).text(), "-10.0");
        assert_eq!(fig(&m, &rows[3]).text(), "");
    }

    #[test]
    fn two_venues_are_each_half_the_spread_from_their_midpoint() {
        let rows = [
            row(Venue::Coinbase, "BTC-USD", Some(64_012.34)),
            row(Venue::Kraken, "BTC/USD", Some(63_998.76)),
        ];
        let m = cross_venue(&rows, |_| true);
        let mid = (64_012.34 + 63_998.76) / 2.0;
        let want = (64_012.34 - mid) / mid * 1e4;
        assert!((bp(fig(&m, &rows[0])) - want).abs() < 1e-6);
        assert!((bp(fig(&m, &rows[1])) + want).abs() < 1e-6);
        assert_eq!(fig(&m, &rows[0]).text(), "+1.1");
        assert_eq!(fig(&m, &rows[1]).text(), "-1.1");
    }

    #[test]
    fn stale_and_priceless_rows_feed_nothing_and_show_no_figure() {
        let rows = [
            row(Venue::Binance, "BTCUSDT", Some(100_000.0)),
            row(Venue::Okx, "BTC-USDT", Some(100_020.0)),
            // a dead feed with an old price far away: must not move the reference
            row(Venue::Bybit, "BTCUSDT", Some(90_000.0)),
            row(Venue::BinanceFutures, "BTCUSDT", Some(100_100.0)),
            row(Venue::Yahoo, "EURUSD=X", None),
            row(Venue::Kraken, "EUR/USD", Some(f64::NAN)),
        ];
        let dead = rows[2].key;
        let m = cross_venue(&rows, |r| r.key != dead);
        assert!(
            (bp(fig(&m, &rows[0])) + 1.0).abs() < 1e-2,
            "median of two live"
        );
        assert!((bp(fig(&m, &rows[1])) - 1.0).abs() < 1e-2);
        assert_eq!(fig(&m, &rows[2]), CrossVenue::NoFigure);
        assert_eq!(fig(&m, &rows[2]).text(), "—");
        // perpetuals are not spot
        assert_eq!(fig(&m, &rows[3]), CrossVenue::Single);
        // in a group, but neither has a usable price
        assert_eq!(fig(&m, &rows[4]), CrossVenue::NoFigure);
        assert_eq!(fig(&m, &rows[5]), CrossVenue::NoFigure);

        // one live row left: comparing it with itself would be a fake 0.0
        let okx = rows[1].key;
        let m = cross_venue(&rows[..3], |r| r.key == okx);
        for r in &rows[..3] {
            assert_eq!(fig(&m, r), CrossVenue::NoFigure, "{:?}", r.key);
        }
    }

    #[test]
    fn figures_round_to_a_tenth_without_a_negative_zero() {
        let cases = [
            (0.04, "0.0"),
            (-0.04, "0.0"),
            (0.05, "+0.1"),
            (-12.34, "-12.3"),
            (9_999.9, "+9999.9"),
            (12_345.6, "+12346"),
            (f64::NAN, "—"),
        ];
        for (v, want) in cases {
            assert_eq!(CrossVenue::Bp(v).text(), want, "{v}");
        }
    }

    #[test]
    fn current_means_recent_data_from_a_live_source() {
        let mut r = row(Venue::Kraken, "BTC/USD", Some(1.0));
        r.last_recv_ms = Some(95_000);
        let health = |state: SourceState, last: TsMs| SourceHealth {
            name: "kraken".into(),
            state,
            since_ms: 0,
            last_event_ms: Some(last),
            last_error: None,
            detail: None,
            is_source: true,
            data_due_ms: None,
            dropped: 0,
            last_drop_ms: None,
        };
        let now = 100_000;
        assert!(is_current(&r, now, 10_000, &[]), "no source of that name");
        assert!(is_current(
            &r,
            now,
            10_000,
            &[health(SourceState::Live, 95_000)]
        ));
        assert!(
            !is_current(&r, now, 4_000, &[]),
            "older than the stale limit"
        );
        let reconnecting = SourceState::Reconnecting {
            at_ms: now + 1_000,
            attempt: 1,
            reason: "closed".into(),
        };
        assert!(!is_current(
            &r,
            now,
            10_000,
            &[health(reconnecting, 95_000)]
        ));
        assert!(!is_current(
            &r,
            now,
            10_000,
            &[health(SourceState::Failed("x".into()), 95_000)]
        ));
        // the source says live but has been quiet for the limit: stale
        assert!(!is_current(
            &r,
            now,
            10_000,
            &[health(SourceState::Live, 89_000)]
        ));
        r.last_recv_ms = None;
        assert!(!is_current(&r, now, 10_000, &[]), "never any data");
    }

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), 2.5);
        assert_eq!(median(&mut [7.0]), 7.0);
    }
}
