//! Which rules an event has to look at. The rule book's positions of its rules, by trigger and
//! by the symbol they name, so that the work of an event follows the rules that apply to its
//! symbol, not every rule there is (10,000 rules on other symbols cost a trade nothing).

use std::collections::{HashMap, HashSet};

use crate::alerts::AlertRule;
use crate::alerts::rules::{SymbolFilter, Trigger};
use crate::domain::Symbol;

/// The rules of one trigger.
#[derive(Debug, Default)]
struct Lane {
    /// Rules that name the symbol, in book order.
    named: HashMap<Symbol, Vec<usize>>,
    /// Rules for every symbol, in book order.
    all: Vec<usize>,
}

/// Positions in the rule book, rebuilt whenever rules are added, replaced or removed (a
/// person's action or a config reload, never per event).
#[derive(Debug, Default)]
pub struct RuleIndex {
    lanes: HashMap<Trigger, Lane>,
    /// Symbols named by a rule evaluated on market data (trades or candle closes).
    on_data: HashSet<Symbol>,
    /// A rule evaluated on market data watches every symbol.
    on_data_all: bool,
}

impl RuleIndex {
    /// The index of `rules`, position `i` being the i-th rule.
    pub fn build<'a>(rules: impl Iterator<Item = &'a AlertRule>) -> RuleIndex {
        let mut ix = RuleIndex::default();
        for (i, rule) in rules.enumerate() {
            let on_data = matches!(rule.trigger, Trigger::Tick | Trigger::Close(_));
            let lane = ix.lanes.entry(rule.trigger).or_default();
            match &rule.symbols {
                SymbolFilter::All => {
                    lane.all.push(i);
                    ix.on_data_all |= on_data;
                }
                SymbolFilter::List(list) => {
                    for s in list {
                        let at = lane.named.entry(*s).or_default();
                        // a list that names a symbol twice still evaluates the rule once
                        if at.last() != Some(&i) {
                            at.push(i);
                        }
                        if on_data {
                            ix.on_data.insert(*s);
                        }
                    }
                }
            }
        }
        ix
    }

    /// Positions of the rules evaluated on `trigger` that apply to `symbol`, in book order
    /// (the order alerts fire in).
    pub fn rules_for(&self, trigger: Trigger, symbol: Symbol) -> Merged<'_> {
        let Some(lane) = self.lanes.get(&trigger) else {
            return Merged { a: &[], b: &[] };
        };
        Merged {
            a: lane.named.get(&symbol).map_or(&[][..], Vec::as_slice),
            b: &lane.all,
        }
    }

    /// Whether any rule is evaluated on `trigger`.
    pub fn has(&self, trigger: Trigger) -> bool {
        self.lanes.contains_key(&trigger)
    }

    /// Whether a rule evaluated on trades or candle closes applies to `symbol`.
    pub fn watches(&self, symbol: Symbol) -> bool {
        self.on_data_all || self.on_data.contains(&symbol)
    }
}

/// Two ascending lists of positions walked as one ascending list (a rule is in one of them).
#[derive(Debug, Clone)]
pub struct Merged<'a> {
    a: &'a [usize],
    b: &'a [usize],
}

impl Iterator for Merged<'_> {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        let take_a = match (self.a.first(), self.b.first()) {
            (Some(x), Some(y)) => x < y,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => return None,
        };
        let side = if take_a { &mut self.a } else { &mut self.b };
        let (&first, rest) = side.split_first()?;
        *side = rest;
        Some(first)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let n = self.a.len() + self.b.len();
        (n, Some(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alerts::rules::RuleConfig;

    fn rule(text: &str) -> AlertRule {
        toml::from_str::<RuleConfig>(text).unwrap().build().unwrap()
    }

    fn sym(s: &str) -> Symbol {
        Symbol::new(s).unwrap()
    }

    #[test]
    fn an_event_sees_its_symbols_rules_and_the_rules_for_all_in_book_order() {
        let rules = [
            rule("name='a'\nkind='price_above'\nvalue=1"),
            rule("name='b'\nsymbols=['X','Y','X']\nkind='price_above'\nvalue=1"),
            rule("name='c'\nsymbols=['Y']\nkind='price_above'\nvalue=1"),
            rule("name='d'\nsymbols=['X']\nkind='rsi_above'\nvalue=50"),
            rule("name='e'\nsymbols=['X']\nkind='price_below'\nvalue=1"),
            rule("name='f'\nkind='zscore'\nvalue=3"),
            rule("name='g'\nsymbols=['Z']\nkind='stale'\nvalue=30"),
        ];
        let ix = RuleIndex::build(rules.iter());
        let of = |t: Trigger, s: &str| ix.rules_for(t, sym(s)).collect::<Vec<_>>();
        assert_eq!(of(Trigger::Tick, "X"), vec![0, 1, 4, 5]);
        assert_eq!(of(Trigger::Tick, "Y"), vec![0, 1, 2, 5]);
        assert_eq!(of(Trigger::Tick, "Q"), vec![0, 5]);
        assert_eq!(
            of(Trigger::Close(crate::domain::Interval::M1), "X"),
            vec![3]
        );
        assert_eq!(
            of(Trigger::Close(crate::domain::Interval::M5), "X"),
            Vec::<usize>::new()
        );
        assert_eq!(of(Trigger::Clock, "Z"), vec![6]);
        assert_eq!(of(Trigger::Clock, "X"), Vec::<usize>::new());
        assert!(ix.has(Trigger::Clock) && !ix.has(Trigger::Close(crate::domain::Interval::H1)));
        // 'a' and 'f' watch every symbol
        assert!(ix.watches(sym("Q")));
    }

    #[test]
    fn only_named_symbols_are_watched_when_no_rule_is_for_all() {
        let rules = [
            rule("symbols=['X']\nkind='price_above'\nvalue=1"),
            // feed silence is watched on the clock, not on data
            rule("kind='stale'\nvalue=30"),
        ];
        let ix = RuleIndex::build(rules.iter());
        assert!(ix.watches(sym("X")));
        assert!(!ix.watches(sym("Y")));
        assert!(!RuleIndex::default().watches(sym("X")));
        assert_eq!(
            RuleIndex::default()
                .rules_for(Trigger::Tick, sym("X"))
                .count(),
            0
        );
    }
}
