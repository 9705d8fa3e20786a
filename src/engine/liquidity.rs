//! The values liquidity rules are evaluated on, read off a published local book (and the one
//! published before it, for levels appearing or pulled). A value that the published levels
//! cannot give exactly (a band or a level count beyond them) is not given: a rule never fires
//! on a figure that is only an artefact of how many levels were published.

use crate::alerts::AlertRule;
use crate::alerts::rules::Condition;
use crate::domain::{BookSnapshot, Level};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Bid,
    Ask,
}

impl Side {
    fn name(self) -> &'static str {
        match self {
            Side::Bid => "bid",
            Side::Ask => "ask",
        }
    }

    fn levels(self, b: &BookSnapshot) -> &[Level] {
        match self {
            Side::Bid => &b.bids,
            Side::Ask => &b.asks,
        }
    }

    fn more(self, b: &BookSnapshot) -> bool {
        match self {
            Side::Bid => b.more_bids,
            Side::Ask => b.more_asks,
        }
    }

    /// Whether `a` is a better price than `b` on this side.
    fn better(self, a: f64, b: f64) -> bool {
        match self {
            Side::Bid => a > b,
            Side::Ask => a < b,
        }
    }
}

/// The value `rule` is evaluated on for `book` (None: the rule does not apply, or the book
/// cannot give it), with the message to send when it fires where the rule's own would say too
/// little.
pub fn value(
    rule: &AlertRule,
    book: &BookSnapshot,
    prev: Option<&BookSnapshot>,
) -> Option<(f64, Option<String>)> {
    let s = book.key.symbol;
    match rule.condition {
        Condition::SpreadAbove { .. } => book.spread_bps().map(|v| (v, None)),
        Condition::ImbalanceAbove { levels, .. } | Condition::ImbalanceBelow { levels, .. } => {
            // fewer levels published than the rule counts, while the book has more: unknown
            let short = |side: Side| side.levels(book).len() < levels && side.more(book);
            if short(Side::Bid) || short(Side::Ask) {
                return None;
            }
            book.imbalance(levels).map(|v| (v, None))
        }
        Condition::DepthBelow { within_pct, .. } => {
            book.depth_within(within_pct).map(|v| (v, None))
        }
        Condition::LevelAppear { size } => {
            let prev = prev?;
            Some(match largest(appeared(prev, book, size)) {
                Some((side, l)) => (
                    l.qty,
                    Some(format!(
                        "{s} {} of {} at {} appeared (>= {size})",
                        side.name(),
                        crate::format::qty(l.qty),
                        crate::format::price(l.price)
                    )),
                ),
                None => (0.0, None),
            })
        }
        Condition::LevelPulled { size } => {
            let prev = prev?;
            Some(match largest(pulled(prev, book, size)) {
                Some((side, l)) => (
                    l.qty,
                    Some(format!(
                        "{s} {} of {} at {} was pulled (>= {size})",
                        side.name(),
                        crate::format::qty(l.qty),
                        crate::format::price(l.price)
                    )),
                ),
                None => (0.0, None),
            })
        }
        _ => None,
    }
}

fn largest(found: Vec<(Side, Level)>) -> Option<(Side, Level)> {
    found.into_iter().max_by(|a, b| a.1.qty.total_cmp(&b.1.qty))
}

/// Whether `price` is among the levels `book` published on `side` (so that a level there
/// that comes or goes did so in the book, not by scrolling past the last published level).
fn in_view(book: &BookSnapshot, side: Side, price: f64) -> bool {
    if !side.more(book) {
        return true;
    }
    side.levels(book)
        .last()
        .is_some_and(|worst| side.better(price, worst.price))
}

fn qty_at(levels: &[Level], price: f64) -> f64 {
    levels
        .iter()
        .find(|l| l.price == price)
        .map_or(0.0, |l| l.qty)
}

/// Levels of at least `size` in `next` that `prev` did not have at that size, within what
/// `prev` showed.
fn appeared(prev: &BookSnapshot, next: &BookSnapshot, size: f64) -> Vec<(Side, Level)> {
    let mut out = Vec::new();
    for side in [Side::Bid, Side::Ask] {
        for l in side.levels(next).iter().filter(|l| l.qty >= size) {
            if qty_at(side.levels(prev), l.price) < size && in_view(prev, side, l.price) {
                out.push((side, *l));
            }
        }
    }
    out
}

/// Levels of at least `size` in `prev` that are gone (or below `size`) in `next` while the best
/// price of their side is still better than theirs (so the market did not trade through them)
/// and they are still within what `next` shows. The sizes are the ones that were pulled.
fn pulled(prev: &BookSnapshot, next: &BookSnapshot, size: f64) -> Vec<(Side, Level)> {
    let mut out = Vec::new();
    for side in [Side::Bid, Side::Ask] {
        let Some(best) = side.levels(next).first() else {
            continue;
        };
        for l in side.levels(prev).iter().filter(|l| l.qty >= size) {
            if qty_at(side.levels(next), l.price) < size
                && side.better(best.price, l.price)
                && in_view(next, side, l.price)
            {
                out.push((side, *l));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::rules::RuleConfig;
    use crate::domain::{BookSync, Symbol, Venue, VenueSymbol};

    fn book(bids: &[(f64, f64)], asks: &[(f64, f64)], more: bool) -> BookSnapshot {
        let lv = |v: &[(f64, f64)]| {
            v.iter()
                .map(|&(price, qty)| Level { price, qty })
                .collect::<Vec<_>>()
        };
        BookSnapshot {
            key: VenueSymbol::new(Venue::Binance, Symbol::new("BTCUSDT").unwrap()),
            bids: lv(bids),
            asks: lv(asks),
            more_bids: more,
            more_asks: more,
            sync: BookSync::Synced,
            updated_ms: 0,
            gaps: 0,
            checksum_failures: 0,
            resyncs: 0,
        }
    }

    fn rule(text: &str) -> AlertRule {
        toml::from_str::<RuleConfig>(text).unwrap().build().unwrap()
    }

    #[test]
    fn spread_and_imbalance_come_from_the_top_of_the_book() {
        let b = book(
            &[(99.0, 3.0), (98.0, 1.0)],
            &[(101.0, 1.0), (102.0, 1.0)],
            false,
        );
        let (v, _) = value(&rule("kind='spread_above'\nvalue=10"), &b, None).unwrap();
        assert!((v - 200.0).abs() < 1e-9, "2 / 100 = 200 bps, got {v}");
        let (v, _) = value(
            &rule("kind='imbalance_above'\nvalue=0.2\nlevels=2"),
            &b,
            None,
        )
        .unwrap();
        assert!((v - 2.0 / 6.0).abs() < 1e-12);
        let (v, _) = value(
            &rule("kind='imbalance_below'\nvalue=0.2\nlevels=1"),
            &b,
            None,
        )
        .unwrap();
        assert!((v - 0.5).abs() < 1e-12);
        // ten levels asked, two published out of more: not known
        let cut = book(
            &[(99.0, 3.0), (98.0, 1.0)],
            &[(101.0, 1.0), (102.0, 1.0)],
            true,
        );
        assert!(value(&rule("kind='imbalance_above'\nvalue=0.2"), &cut, None).is_none());
    }

    #[test]
    fn depth_is_the_quote_value_within_the_band_and_unknown_past_the_published_levels() {
        // mid 100, 2%: 98..102
        let b = book(
            &[(99.0, 1.0), (98.0, 2.0), (97.0, 5.0)],
            &[(101.0, 1.0), (103.0, 4.0)],
            true,
        );
        let (v, _) = value(&rule("kind='depth_below'\nvalue=1\nwithin_pct=2"), &b, None).unwrap();
        assert!((v - (99.0 + 196.0 + 101.0)).abs() < 1e-9, "{v}");
        // 5%: 95..105 reaches past the last published bid (97) while the book has more
        assert!(value(&rule("kind='depth_below'\nvalue=1\nwithin_pct=5"), &b, None).is_none());
        let whole = book(&[(99.0, 1.0)], &[(101.0, 1.0)], false);
        let (v, _) = value(
            &rule("kind='depth_below'\nvalue=1\nwithin_pct=5"),
            &whole,
            None,
        )
        .unwrap();
        assert!((v - 200.0).abs() < 1e-9);
    }

    #[test]
    fn a_level_appearing_is_found_but_not_one_scrolling_into_view() {
        let r = rule("kind='level_appear'\nvalue=50");
        let prev = book(
            &[(99.0, 1.0), (98.0, 1.0)],
            &[(101.0, 1.0), (102.0, 1.0)],
            true,
        );
        // no earlier book: nothing to compare with
        assert!(value(&r, &prev, None).is_none());
        let next = book(
            &[(99.0, 1.0), (98.5, 60.0)],
            &[(101.0, 1.0), (102.0, 1.0)],
            true,
        );
        let (v, msg) = value(&r, &next, Some(&prev)).unwrap();
        assert_eq!(v, 60.0);
        let msg = msg.unwrap();
        assert!(msg.contains("bid of 60") && msg.contains("98.5"), "{msg}");
        // 97 was below the last level shown before: it scrolled into view, it did not appear
        let scrolled = book(
            &[(99.0, 1.0), (97.0, 80.0)],
            &[(101.0, 1.0), (102.0, 1.0)],
            true,
        );
        assert_eq!(value(&r, &scrolled, Some(&prev)).unwrap().0, 0.0);
        // growing past the size counts; staying above it does not
        let grown = book(
            &[(99.0, 55.0), (98.0, 1.0)],
            &[(101.0, 1.0), (102.0, 1.0)],
            true,
        );
        assert_eq!(value(&r, &grown, Some(&prev)).unwrap().0, 55.0);
        assert_eq!(value(&r, &grown, Some(&grown)).unwrap().0, 0.0);
    }

    #[test]
    fn a_level_pulled_is_found_but_not_one_the_market_traded_through() {
        let r = rule("kind='level_pulled'\nvalue=50");
        let prev = book(
            &[(99.0, 1.0), (98.0, 70.0), (97.0, 1.0)],
            &[(101.0, 1.0), (102.0, 90.0), (103.0, 1.0)],
            true,
        );
        // the ask wall at 102 is gone while the best ask is still 101: pulled
        let next = book(
            &[(99.0, 1.0), (98.0, 70.0), (97.0, 1.0)],
            &[(101.0, 1.0), (103.0, 1.0)],
            true,
        );
        let (v, msg) = value(&r, &next, Some(&prev)).unwrap();
        assert_eq!(v, 90.0);
        let msg = msg.unwrap();
        assert!(
            msg.contains("ask of 90.00 at 102.00") && msg.contains("was pulled (>= 50)"),
            "{msg}"
        );
        // the bid wall at 98 is gone and the best bid is now 97: traded through, not pulled
        let through = book(
            &[(97.0, 1.0)],
            &[(101.0, 1.0), (102.0, 90.0), (103.0, 1.0)],
            true,
        );
        assert_eq!(value(&r, &through, Some(&prev)).unwrap().0, 0.0);
    }
}
