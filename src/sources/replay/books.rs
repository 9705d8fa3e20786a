//! Order book files written by `tickwatch export --book` (one row per level, the header
//! [`BOOK_CSV_HEADER`]): read whole (they hold top levels every few seconds, not every update),
//! grouped into one book per (venue, symbol, time), and played back between the events of the
//! other files by time.

use std::io::BufRead;
use std::path::Path;

use anyhow::{Context, anyhow};

use super::ReplayReport;
use crate::domain::{BOOK_CSV_HEADER, BookRecord, BookSnapshot, BookSync, Level, Symbol, Venue};
use crate::domain::{MAX_PRICE, MIN_PRICE, TsMs, VenueSymbol};

/// Whether `path` is an exported book file (its first line is the book header).
pub fn is_book_file(path: &Path) -> bool {
    let Ok(f) = std::fs::File::open(path) else {
        return false;
    };
    let mut first = String::new();
    if std::io::BufReader::new(f).read_line(&mut first).is_err() {
        return false;
    }
    first.trim_start_matches('\u{feff}').trim() == BOOK_CSV_HEADER
}

/// A book file is read whole (its books are merged by time with the other files), so one
/// beyond this is refused: export a shorter range (`--from`, `--to`) or fewer levels.
const MAX_BOOK_FILE_BYTES: u64 = 1 << 30;

/// Every book of the file, by time. A bad row is named by file and line; with `skip_bad` it is
/// counted in `report` and skipped (its book keeps the other levels), else it ends the read.
pub fn read(path: &Path, skip_bad: bool, report: &ReplayReport) -> anyhow::Result<Vec<BookRecord>> {
    let f = std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let size = f.metadata().map(|m| m.len()).unwrap_or(0);
    if size > MAX_BOOK_FILE_BYTES {
        return Err(anyhow!(
            "{} is {} MB of order books, more than a replay holds ({} MB): export a shorter range (--from, --to) or fewer levels",
            path.display(),
            size >> 20,
            MAX_BOOK_FILE_BYTES >> 20
        ));
    }
    let mut books: Vec<BookRecord> = Vec::new();
    for (i, line) in std::io::BufReader::new(f).lines().enumerate() {
        let line_no = i + 1;
        let line = line.with_context(|| {
            format!(
                "reading {} failed after line {}; check the file",
                path.display(),
                line_no - 1
            )
        })?;
        if line_no == 1 || line.trim().is_empty() {
            continue;
        }
        let (key, ts_ms, bid, level) = match parse_row(&line) {
            Ok(r) => r,
            Err(why) => {
                let shown = crate::format::visible(&line.chars().take(120).collect::<String>());
                let msg = format!("{}:{line_no}: {why} (row `{shown}`)", path.display());
                if skip_bad {
                    report.note_bad(msg);
                    continue;
                }
                return Err(anyhow!(
                    "{msg}; fix or delete that row, or pass --skip-bad to skip bad rows and count them"
                ));
            }
        };
        let same = books
            .last()
            .is_some_and(|b| b.key == key && b.ts_ms == ts_ms);
        if !same {
            books.push(BookRecord {
                key,
                ts_ms,
                bids: Vec::new(),
                asks: Vec::new(),
            });
        }
        if let Some(b) = books.last_mut() {
            if bid {
                b.bids.push(level);
            } else {
                b.asks.push(level);
            }
        }
        report
            .rows
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    // best first on each side, whatever order the rows came in
    for b in &mut books {
        b.bids.sort_by(|x, y| y.price.total_cmp(&x.price));
        b.asks.sort_by(|x, y| x.price.total_cmp(&y.price));
    }
    books.sort_by_key(|b| b.ts_ms);
    Ok(books)
}

fn parse_row(line: &str) -> Result<(VenueSymbol, TsMs, bool, Level), String> {
    let f: Vec<&str> = line.trim_end_matches('\r').split(',').collect();
    if f.len() != 8 {
        return Err(format!(
            "{} columns where a book row has 8 ({BOOK_CSV_HEADER})",
            f.len()
        ));
    }
    let ts_ms: TsMs = f[0]
        .parse()
        .map_err(|_| format!("ts_ms {:?} is not a whole number of milliseconds", f[0]))?;
    // 2001-09-09 .. 2286: a time in seconds or microseconds is a mistake, not a date
    if !(1_000_000_000_000..10_000_000_000_000).contains(&ts_ms) {
        return Err(format!(
            "ts_ms {ts_ms} is not a time in milliseconds since 1970"
        ));
    }
    let venue: Venue = f[2].parse().map_err(|e| format!("venue: {e}"))?;
    let symbol = Symbol::new(f[3]).map_err(|e| format!("symbol: {e}"))?;
    let bid = match f[4] {
        "bid" => true,
        "ask" => false,
        other => return Err(format!("side {other:?} is neither bid nor ask")),
    };
    f[5].parse::<u32>()
        .map_err(|_| format!("level {:?} is not a whole number from 0", f[5]))?;
    let price: f64 = f[6]
        .parse()
        .map_err(|_| format!("price {:?} is not a number", f[6]))?;
    if !(MIN_PRICE..=MAX_PRICE).contains(&price) {
        return Err(format!("price {price} is not a positive price"));
    }
    let qty: f64 = f[7]
        .parse()
        .map_err(|_| format!("qty {:?} is not a number", f[7]))?;
    if !(qty.is_finite() && qty >= 0.0) {
        return Err(format!("qty {qty} is not a size (finite, 0 or more)"));
    }
    Ok((
        VenueSymbol::new(venue, symbol),
        ts_ms,
        bid,
        Level { price, qty },
    ))
}

/// A stored book as the engine and the ladder take it: in sync (only synced books are stored),
/// at its recorded time. Only its top levels were stored, so the book is taken to hold more.
pub fn snapshot(b: &BookRecord) -> BookSnapshot {
    BookSnapshot {
        key: b.key,
        bids: b.bids.clone(),
        asks: b.asks.clone(),
        more_bids: true,
        more_asks: true,
        sync: BookSync::Synced,
        updated_ms: b.ts_ms,
        gaps: 0,
        checksum_failures: 0,
        resyncs: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_group_into_books_and_bad_rows_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("b.csv");
        let t = 1_765_000_000_000i64;
        let text = format!(
            "{BOOK_CSV_HEADER}\n\
             {t},x,binance,BTCUSDT,bid,0,100.5,2\n\
             {t},x,binance,BTCUSDT,ask,0,101,1\n\
             {t},x,binance,BTCUSDT,bid,1,100,3\n\
             {},x,binance,BTCUSDT,bid,0,100.4,1\n",
            t + 1000
        );
        std::fs::write(&p, &text).unwrap();
        assert!(is_book_file(&p));
        let r = ReplayReport::default();
        let books = read(&p, false, &r).unwrap();
        assert_eq!(books.len(), 2);
        assert_eq!(books[0].bids.len(), 2);
        assert_eq!(books[0].bids[0].price, 100.5);
        assert_eq!(books[0].asks[0].price, 101.0);
        assert_eq!(books[1].ts_ms, t + 1000);

        std::fs::write(&p, format!("{text}{t},x,binance,BTCUSDT,middle,0,1,1\n")).unwrap();
        let e = read(&p, false, &r).unwrap_err().to_string();
        assert!(
            e.contains("b.csv:6") && e.contains("neither bid nor ask"),
            "{e}"
        );
        let r = ReplayReport::default();
        assert_eq!(read(&p, true, &r).unwrap().len(), 2);
        assert_eq!(r.bad_rows.load(std::sync::atomic::Ordering::Relaxed), 1);
        let not = dir.path().join("t.csv");
        std::fs::write(&not, "1,2,3\n").unwrap();
        assert!(!is_book_file(&not));
    }
}
