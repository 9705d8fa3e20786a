//! Trade-history exports of exchanges, turned into ledger [`Entry`](super::Entry)s: Binance's
//! Spot "Trade History" and Coinbase's "Transaction history" CSV files. A file is read whole or
//! not at all: a row that does not parse is an error naming its line, and a row that is
//! deliberately not an entry (a Coinbase transfer between its own products) is listed in
//! [`Imported::skipped`] with the reason. The layouts are described in the README.

mod binance;
mod coinbase;
mod csv;
mod values;

use std::collections::HashMap;

use super::Entry;
use crate::format::visible;

/// The export layouts tickwatch reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Layout {
    /// Binance Spot "Trade History": `Date(UTC),Pair,Side,Price,Executed,Amount,Fee`.
    BinanceTrades,
    /// Coinbase "Transaction history" (coinbase.com, Statements).
    CoinbaseTransactions,
}

impl Layout {
    /// The prefix of an entry's `source`: `binance-trades:<file>`, `coinbase:<file>`.
    pub fn source_name(self) -> &'static str {
        match self {
            Layout::BinanceTrades => "binance-trades",
            Layout::CoinbaseTransactions => "coinbase",
        }
    }
}

impl std::fmt::Display for Layout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Layout::BinanceTrades => "Binance Spot trade history",
            Layout::CoinbaseTransactions => "Coinbase transaction history",
        })
    }
}

/// What a file held.
#[derive(Debug, Clone, PartialEq)]
pub struct Imported {
    pub layout: Layout,
    /// In the order of the file's rows (a Coinbase Convert row gives two).
    pub entries: Vec<Entry>,
    /// Rows deliberately not entries, each `file:line: why`.
    pub skipped: Vec<String>,
}

/// Which layouts are accepted, for the error of a file that is none of them.
const ACCEPTED: &str = "tickwatch reads a Binance Spot \"Trade History\" export (header \
    Date(UTC),Pair,Side,Price,Executed,Amount,Fee) or a Coinbase \"Transaction history\" CSV \
    (header ID,Timestamp,Transaction Type,Asset,Quantity Transacted,Price Currency,...; or \
    Timestamp,Transaction Type,Asset,Quantity Transacted,Spot Price Currency,...)";

/// Why a file was not imported; nothing of it is kept.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ImportError {
    /// No header of an accepted layout where one belongs.
    #[error("{file}:{line}: not a trade-history export that tickwatch reads ({found}): {accepted}", accepted = ACCEPTED)]
    UnknownLayout {
        file: String,
        line: usize,
        found: String,
    },
    /// The header of a known layout, but without a column tickwatch needs.
    #[error(
        "{file}:{line}: this {layout} header lacks the column(s) {missing}: the export's format \
         changed or the file was edited; {accepted}",
        accepted = ACCEPTED
    )]
    MissingColumns {
        file: String,
        line: usize,
        layout: Layout,
        missing: String,
    },
    /// A row that does not parse.
    #[error("{file}:{line}: {problem}")]
    Row {
        file: String,
        line: usize,
        problem: String,
    },
}

impl ImportError {
    /// The line of the file the error is about.
    pub fn line(&self) -> usize {
        match self {
            ImportError::UnknownLayout { line, .. }
            | ImportError::MissingColumns { line, .. }
            | ImportError::Row { line, .. } => *line,
        }
    }
}

/// Lines before the header that a Coinbase file may have (`You can use this transaction
/// report...`, `User,<name>,<id>`); a header further down is not looked for.
const MAX_PREAMBLE: usize = 20;

/// The layout of an export, from its header row; None when it is none tickwatch reads.
pub fn detect(text: &str) -> Option<Layout> {
    find_header(text).map(|h| h.layout)
}

/// Parses a whole export. `path_shown` names the file in errors, skipped rows and each entry's
/// `source` (its file name).
pub fn parse(path_shown: &str, text: &str) -> Result<Imported, ImportError> {
    let file = visible(path_shown);
    let Some(header) = find_header(text) else {
        let (line, first) = text
            .trim_start_matches('\u{feff}')
            .lines()
            .enumerate()
            .find(|(_, l)| !l.trim().is_empty())
            .map_or((1, "the file is empty".to_string()), |(i, l)| {
                let l: String = l.chars().take(80).collect();
                (i + 1, format!("its first line is {:?}", visible(&l)))
            });
        return Err(ImportError::UnknownLayout {
            file,
            line,
            found: first,
        });
    };
    let name = std::path::Path::new(path_shown)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or(path_shown);
    let ctx = Context {
        file: file.clone(),
        source: format!("{}:{}", header.layout.source_name(), visible(name)),
        layout: header.layout,
        seen: HashMap::new(),
    };
    let rows = csv::records(header.rest, header.line + 1).map_err(|e| ImportError::Row {
        file: file.clone(),
        line: e.line,
        problem: e.problem,
    })?;
    let missing = |missing: Vec<&str>| ImportError::MissingColumns {
        file: file.clone(),
        line: header.line,
        layout: header.layout,
        missing: missing.join(", "),
    };
    match header.layout {
        Layout::BinanceTrades => {
            let cols = binance::Columns::find(&header.fields).map_err(missing)?;
            binance::parse(ctx, &cols, &rows)
        }
        Layout::CoinbaseTransactions => {
            let cols = coinbase::Columns::find(&header.fields).map_err(missing)?;
            coinbase::parse(ctx, &cols, &rows)
        }
    }
}

/// A file's header row and what follows it.
struct Header<'a> {
    layout: Layout,
    /// The header's line in the file.
    line: usize,
    fields: Vec<String>,
    /// The text after the header row.
    rest: &'a str,
}

/// The header: Binance's on the first line that is not blank, Coinbase's on one of the first
/// [`MAX_PREAMBLE`] lines. A UTF-8 byte order mark before it is ignored.
fn find_header(text: &str) -> Option<Header<'_>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut offset = 0;
    let mut first = true;
    for (i, line) in text.split_inclusive('\n').enumerate().take(MAX_PREAMBLE) {
        offset += line.len();
        if line.trim().is_empty() {
            continue;
        }
        // a header row is one line; a preamble line that is not valid CSV is no header
        let fields = csv::records(line, i + 1)
            .ok()
            .and_then(|r| r.into_iter().next())
            .map(|r| r.fields)
            .unwrap_or_default();
        let has = |name: &str| fields.iter().any(|f| f.trim().eq_ignore_ascii_case(name));
        let layout = if first && has("Date(UTC)") && (has("Pair") || has("Market")) {
            Layout::BinanceTrades
        } else if has("Timestamp") && has("Transaction Type") {
            Layout::CoinbaseTransactions
        } else {
            first = false;
            continue;
        };
        return Some(Header {
            layout,
            line: i + 1,
            fields,
            rest: &text[offset..],
        });
    }
    None
}

/// What every row of one file shares.
struct Context {
    file: String,
    source: String,
    layout: Layout,
    /// How often each row (its fields, normalized) came before: the occurrence counter of ids.
    seen: HashMap<String, usize>,
}

impl Context {
    fn row_error(&self, line: usize, problem: impl Into<String>) -> ImportError {
        ImportError::Row {
            file: self.file.clone(),
            line,
            problem: problem.into(),
        }
    }

    fn skipped(&self, line: usize, why: &str) -> String {
        format!("{}:{line}: {why}", self.file)
    }

    /// The id of a row without an exchange id: a digest of the layout, the row's fields
    /// (trimmed) and how many identical rows came before it in the file. The same file gives
    /// the same ids every time; two identical fills in one file stay two entries.
    fn row_id(&mut self, fields: &[String]) -> String {
        let key = fields
            .iter()
            .map(|f| f.trim())
            .collect::<Vec<_>>()
            .join("\u{1f}");
        let n = self.seen.entry(key.clone()).or_insert(0);
        let occurrence = *n;
        *n += 1;
        let digest = fnv1a_128(
            format!("{}\u{1e}{key}\u{1e}{occurrence}", self.layout.source_name()).as_bytes(),
        );
        format!("{}-{digest:032x}", self.layout.source_name())
    }

    /// Checks that a row has as many fields as the header.
    fn check_width(&self, row: &csv::Record, width: usize) -> Result<(), ImportError> {
        if row.fields.len() == width {
            return Ok(());
        }
        Err(self.row_error(
            row.line,
            format!(
                "{} fields where the header has {width}: a field with a comma in it must be in \
                 double quotes",
                row.fields.len()
            ),
        ))
    }
}

/// FNV-1a, 128 bits: stable across Rust versions and platforms (std's hasher is not), and
/// wide enough that distinct rows never share an id in practice.
fn fnv1a_128(bytes: &[u8]) -> u128 {
    const OFFSET: u128 = 0x6c62_272e_07bb_0142_62b8_2175_6295_c58d;
    const PRIME: u128 = 0x0000_0000_0100_0000_0000_0000_0000_013b;
    bytes
        .iter()
        .fold(OFFSET, |h, &b| (h ^ u128::from(b)).wrapping_mul(PRIME))
}

/// The index of the first column named any of `names` (case and spaces around ignored).
fn column(header: &[String], names: &[&str]) -> Option<usize> {
    header
        .iter()
        .position(|h| names.iter().any(|n| h.trim().eq_ignore_ascii_case(n)))
}

#[cfg(test)]
mod tests;
