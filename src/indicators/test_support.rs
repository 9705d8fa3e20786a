//! Test helpers shared by the indicator tests: a tiny CSV reader for `../shared/vectors`,
//! tolerance checks and the random series used by the property tests.

use std::path::Path;

use proptest::prelude::*;

/// A CSV table with a header row; cells kept as text.
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// Reads `name` from the vectors directory, or `None` (test prints SKIPPED) when the
    /// directory is not configured.
    pub fn vectors(name: &str) -> Option<Table> {
        let dir = crate::testdata::vectors()?;
        Some(Table::read(&dir.join(name)))
    }

    pub fn read(path: &Path) -> Table {
        let text = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
        let mut lines = text.lines().filter(|l| !l.trim().is_empty());
        let header: Vec<String> = lines
            .next()
            .unwrap_or_else(|| panic!("{} is empty", path.display()))
            .split(',')
            .map(|s| s.trim().to_string())
            .collect();
        let rows: Vec<Vec<String>> = lines
            .map(|l| {
                l.split(',')
                    .map(|s| s.trim().to_string())
                    .collect::<Vec<_>>()
            })
            .collect();
        for (i, r) in rows.iter().enumerate() {
            assert_eq!(
                r.len(),
                header.len(),
                "{} row {} has {} cells",
                path.display(),
                i + 1,
                r.len()
            );
        }
        Table { header, rows }
    }

    pub fn rows(&self) -> usize {
        self.rows.len()
    }

    fn index(&self, column: &str) -> usize {
        self.header
            .iter()
            .position(|h| h == column)
            .unwrap_or_else(|| panic!("no column {column:?} in {:?}", self.header))
    }

    /// Raw text of a column.
    pub fn text(&self, column: &str) -> Vec<String> {
        let i = self.index(column);
        self.rows.iter().map(|r| r[i].clone()).collect()
    }

    /// A numeric column; empty cells are `None`.
    pub fn column(&self, column: &str) -> Vec<Option<f64>> {
        self.text(column)
            .iter()
            .map(|c| {
                if c.is_empty() {
                    None
                } else {
                    Some(
                        c.parse::<f64>()
                            .unwrap_or_else(|e| panic!("{column}: {c:?}: {e}")),
                    )
                }
            })
            .collect()
    }

    /// A numeric column with no empty cells.
    pub fn values(&self, column: &str) -> Vec<f64> {
        self.column(column)
            .into_iter()
            .map(|v| v.unwrap_or_else(|| panic!("empty cell in {column}")))
            .collect()
    }
}

/// Asserts that `got` and `want` are both `None`, or both `Some` and within `tol`.
#[track_caller]
pub fn assert_series(what: &str, got: &[Option<f64>], want: &[Option<f64>], tol: f64) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        match (g, w) {
            (None, None) => {}
            (Some(g), Some(w)) => {
                assert!(
                    (g - w).abs() <= tol,
                    "{what}[{i}]: got {g}, want {w} (tolerance {tol})"
                )
            }
            _ => panic!("{what}[{i}]: got {g:?}, want {w:?}"),
        }
    }
}

/// `|a - b| <= rel * max(1, |b|)`, with both `None` counting as equal.
pub fn close_opt(a: Option<f64>, b: Option<f64>, rel: f64) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => (a - b).abs() <= rel * b.abs().max(1.0),
        _ => false,
    }
}

/// Random price-like series: a base offset (0, 1e3, 1e8 or 1e9, to expose cancellation) plus
/// values in ±50, up to 200 long.
pub fn series() -> impl Strategy<Value = Vec<f64>> {
    (
        prop::sample::select(vec![0.0, 1e3, 1e8, 1e9]),
        prop::collection::vec(-50.0..50.0f64, 0..200),
    )
        .prop_map(|(offset, xs)| xs.into_iter().map(|x| offset + x).collect())
}

/// Random strictly positive series (prices or volumes), with large offsets too.
pub fn positive_series() -> impl Strategy<Value = Vec<f64>> {
    (
        prop::sample::select(vec![1.0, 1e3, 1e8, 1e9]),
        prop::collection::vec(0.0..50.0f64, 0..200),
    )
        .prop_map(|(offset, xs)| xs.into_iter().map(|x| offset + x).collect())
}

/// Population mean and variance by two passes (the reference the incremental code must match).
pub fn two_pass(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / n;
    (mean, var)
}

/// Exponentially weighted mean and (biased) variance of `xs` by explicit weights, two passes:
/// the first value carries weight `(1-a)^(k)`, value j > 0 carries `a (1-a)^(k-j)`.
pub fn ew_two_pass(xs: &[f64], alpha: f64) -> (f64, f64) {
    let k = xs.len() - 1;
    let weight = |j: usize| {
        if j == 0 {
            (1.0 - alpha).powi(k as i32)
        } else {
            alpha * (1.0 - alpha).powi((k - j) as i32)
        }
    };
    // Shifted by the first value so that weights summing to 1 - 1e-16 do not cost 1e-7 at 1e9.
    let x0 = xs[0];
    let mean = x0
        + xs.iter()
            .enumerate()
            .map(|(j, x)| weight(j) * (x - x0))
            .sum::<f64>();
    let var: f64 = xs
        .iter()
        .enumerate()
        .map(|(j, x)| weight(j) * (x - mean) * (x - mean))
        .sum();
    (mean, var)
}
