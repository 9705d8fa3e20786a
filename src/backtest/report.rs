//! The summary of a backtest per rule and instrument: how often it fired, what the price did
//! after, and the longest time it stayed quiet.

use super::{Fire, Outcome, Pair};
use crate::domain::{TsMs, VenueSymbol};

/// One rule on one instrument over the window.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub rule: String,
    pub key: VenueSymbol,
    pub fires: usize,
    /// Fires per day of the window (None for a window shorter than a second).
    pub per_day: Option<f64>,
    /// The median percent move after each of [`super::HORIZONS`], over the fires that have one.
    pub median_moves: [Option<f64>; 3],
    /// The longest time without a fire: between the window's start, the fires and its end.
    pub longest_quiet_ms: TsMs,
}

/// The median of `values` (None when empty).
pub fn median(values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let n = values.len();
    Some(if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    })
}

/// The longest gap between `from`, the times (ascending) and `to`.
pub fn longest_quiet(from: TsMs, to: TsMs, times: &[TsMs]) -> TsMs {
    let mut prev = from;
    let mut longest = 0;
    for &t in times.iter().chain(std::iter::once(&to)) {
        longest = longest.max(t - prev);
        prev = prev.max(t);
    }
    longest
}

/// The summary rows, one per (rule, instrument) evaluated, in the outcome's order.
pub fn summarize(o: &Outcome) -> Vec<Summary> {
    o.pairs
        .iter()
        .map(|Pair { rule, key }| {
            // the part of the window this instrument's data cover
            let (from, to) = o
                .fed
                .iter()
                .find(|f| f.key == *key)
                .map_or((o.from_ms, o.to_ms), |f| (f.from_ms, f.to_ms));
            let days = (to - from) as f64 / 86_400_000.0;
            let mine: Vec<&Fire> = o
                .fires
                .iter()
                .filter(|f| f.rule == *rule && f.key == *key)
                .collect();
            let mut median_moves = [None; 3];
            for (i, m) in median_moves.iter_mut().enumerate() {
                let mut v: Vec<f64> = mine.iter().filter_map(|f| f.moves[i]).collect();
                *m = median(&mut v);
            }
            let times: Vec<TsMs> = mine.iter().map(|f| f.ts_ms).collect();
            Summary {
                rule: rule.clone(),
                key: *key,
                fires: mine.len(),
                per_day: (to - from >= 1_000).then(|| mine.len() as f64 / days),
                median_moves,
                longest_quiet_ms: longest_quiet(from, to, &times),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even_counts() {
        assert_eq!(median(&mut []), None);
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&mut [4.0, 1.0, 2.0, 3.0]), Some(2.5));
    }

    #[test]
    fn longest_quiet_counts_the_window_edges() {
        assert_eq!(longest_quiet(0, 100, &[]), 100);
        assert_eq!(longest_quiet(0, 100, &[10, 30]), 70);
        assert_eq!(longest_quiet(0, 100, &[60, 70]), 60);
    }
}
