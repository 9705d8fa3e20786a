//! Dump files: opening a `.csv` or a downloaded `.zip`, reading lines into a reused buffer, and
//! telling a file's symbol, kind and venue from its name and first rows.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

use anyhow::{Context, anyhow, bail};

use super::layout::{
    self, Columns, DumpKind, Family, RowParser, binance_interval, columns_from_header,
    columns_from_row, interval_from_ms, is_header,
};
use super::merge::merge_time;
use crate::domain::{Symbol, TsMs, Venue};

/// What a dump file is, as far as its name and first rows tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DumpInfo {
    /// From a standard file name (`BTCUSDT-1m-2025-03-01.csv`); `None` for other names.
    pub symbol: Option<Symbol>,
    pub kind: DumpKind,
    pub venue: Venue,
    pub zipped: bool,
    pub header: bool,
    /// Columns per row (spot and futures layouts differ).
    pub columns: usize,
    /// Merge time of the first row (a trade's time, a kline's close time), when one of the
    /// first rows parses: the file is opened when the time-ordered merge reaches it.
    pub first_ms: Option<TsMs>,
}

/// What the user says a file is, overriding detection (`--kind`, `--venue`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReplayOverrides {
    pub kind: Option<DumpKind>,
    pub venue: Option<Venue>,
}

const RENAME_HINT: &str = "rename the file like BTCUSDT-trades-2025-03-01.csv (or BTCUSDT-1m-2025-03-01.csv for klines) or pass --kind";

/// Reads `path` with no overrides: see [`detect_with`].
pub fn detect(path: &Path) -> anyhow::Result<DumpInfo> {
    detect_with(path, &ReplayOverrides::default())
}

/// Opens `path` (a `.csv`, or a `.zip` holding one) and works out its layout: the kind from the
/// file name, confirmed by the header or the columns of the first rows; the venue from the
/// layout (futures files have a header and fewer trade columns) or a `futures` in the path.
pub fn detect_with(path: &Path, ov: &ReplayOverrides) -> anyhow::Result<DumpInfo> {
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut name = parse_name(&file_name);
    let path_says_futures = {
        let p = path.to_string_lossy().to_ascii_lowercase();
        p.contains("futures") || p.contains("usdm")
    };
    let (entry_name, head) = with_reader(path, |r, entry| {
        if let Some(entry) = entry
            && name.symbol.is_none()
            && matches!(name.kind, Ok(None))
        {
            // A renamed archive may still hold a standard entry name.
            name = parse_name(entry);
        }
        Ok((entry.map(str::to_string), read_head(r)?))
    })?;
    let zipped = entry_name.is_some();
    let shown = path.display();
    let named = match (ov.kind, name.kind) {
        (Some(k), _) => Some(k),
        (None, Ok(k)) => k,
        (None, Err(e)) => bail!("{shown}: {e}"),
    };
    let header = match &head.header {
        Some(h) => Some(
            columns_from_header(h)
                .map_err(|e| anyhow!("{shown} is in an unknown layout: {e}; {RENAME_HINT}"))?,
        ),
        None => None,
    };
    let Some(first_row) = head.rows.first() else {
        if let Some(line) = head.too_long {
            bail!(
                "{shown}{}:{line}: {}; download the file again",
                entry_suffix(entry_name.as_deref()),
                BadLine::TooLong.describe()
            );
        }
        bail!("{shown} has no data rows: nothing to replay; check that the download is complete");
    };
    let row = head.rows.iter().find_map(|r| columns_from_row(r).ok());
    let content: Columns = match (header, row) {
        (Some(h), r) => Columns {
            interval_ms: r
                .filter(|r| r.family == h.family)
                .and_then(|r| r.interval_ms),
            ..h
        },
        (None, Some(r)) => r,
        (None, None) => {
            let why = columns_from_row(first_row).err().unwrap_or_default();
            bail!("{shown} is in an unknown layout: {why}; {RENAME_HINT}");
        }
    };

    if let Some(k) = named
        && k.family() != content.family
    {
        bail!(
            "{shown} should hold {} by its name (or --kind), but its columns are those of {} data; {RENAME_HINT}",
            k.family(),
            content.family
        );
    }
    let kind = match content.family {
        Family::Trades => DumpKind::Trades,
        Family::AggTrades => DumpKind::AggTrades,
        Family::Klines => {
            kline_kind(named, content.interval_ms).map_err(|e| anyhow!("{shown}: {e}"))?
        }
    };
    let futures = content.futures.unwrap_or(path_says_futures);
    let venue = ov.venue.unwrap_or(if futures {
        Venue::BinanceFutures
    } else {
        Venue::Binance
    });
    Ok(DumpInfo {
        symbol: name.symbol,
        kind,
        venue,
        zipped,
        header: header.is_some(),
        columns: content.count,
        first_ms: first_time(&head.rows, kind, venue, content.count),
    })
}

/// `, ENTRY` for a row inside a zip, as the reader names places.
fn entry_suffix(entry: Option<&str>) -> String {
    // an entry's name comes from inside the archive: outside text
    entry
        .map(|e| format!(", {}", crate::format::visible(e)))
        .unwrap_or_default()
}

/// Where the file joins the time-ordered merge: the merge time of the first row the reader will
/// turn into an event. The same parser decides, so the reader's first event is never earlier.
fn first_time(rows: &[String], kind: DumpKind, venue: Venue, columns: usize) -> Option<TsMs> {
    let any = Symbol::new("X").ok()?;
    let mut parser = RowParser::new(kind, venue, any, columns);
    rows.iter()
        .find_map(|r| parser.parse(r, 0).ok())
        .map(|ev| merge_time(&ev))
}

/// The kline interval: from the name or `--kind`, checked against the candles' length.
fn kline_kind(named: Option<DumpKind>, row_ms: Option<i64>) -> Result<DumpKind, String> {
    match (named, row_ms) {
        (Some(DumpKind::Klines(i)), Some(ms)) if i.ms() != ms => match interval_from_ms(ms) {
            Ok(a) => Err(format!(
                "its name (or --kind) says {i} klines but its candles are {a} long; rename the file or pass the right --kind"
            )),
            Err(why) => Err(format!("its name (or --kind) says {i} klines but {why}")),
        },
        (Some(DumpKind::Klines(i)), _) => Ok(DumpKind::Klines(i)),
        (_, Some(ms)) => interval_from_ms(ms).map(DumpKind::Klines),
        (_, None) => Err(format!(
            "cannot tell the kline interval; {RENAME_HINT} such as --kind klines-1m"
        )),
    }
}

/// What a standard name (`SYMBOL-KIND-YYYY-MM[-DD][.anything].csv|.zip`) says.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct NameInfo {
    pub symbol: Option<Symbol>,
    /// `Ok(None)` for a name that is not standard; `Err` for a standard name of a dump tickwatch
    /// cannot use (a 3m klines file, a bookTicker file).
    pub kind: Result<Option<DumpKind>, String>,
}

pub(crate) fn parse_name(file_name: &str) -> NameInfo {
    let none = NameInfo {
        symbol: None,
        kind: Ok(None),
    };
    let parts: Vec<&str> = file_name.splitn(4, '-').collect();
    let [sym, kind, year, rest] = parts[..] else {
        return none;
    };
    let digits = |s: &str, n: usize| s.len() >= n && s.bytes().take(n).all(|b| b.is_ascii_digit());
    if year.len() != 4 || !digits(year, 4) || !digits(rest, 2) {
        return none;
    }
    let Ok(symbol) = Symbol::new(sym) else {
        return none;
    };
    let kind = match kind {
        "trades" => Ok(Some(DumpKind::Trades)),
        "aggTrades" => Ok(Some(DumpKind::AggTrades)),
        other => match binance_interval(other) {
            Ok(Some(i)) => Ok(Some(DumpKind::Klines(i))),
            Err(e) => Err(e),
            Ok(None) => Err(format!(
                "its name says it is a {other} dump; tickwatch replays trades, aggTrades and klines dumps"
            )),
        },
    };
    NameInfo {
        symbol: Some(symbol),
        kind,
    }
}

/// The header line (if any) and the first data rows.
struct Head {
    header: Option<String>,
    rows: Vec<String>,
    /// The first line among them too long to be a row.
    too_long: Option<u64>,
}

/// Enough rows to get past a few bad ones at the top of a file.
const HEAD_ROWS: usize = 20;

fn read_head(r: &mut dyn BufRead) -> anyhow::Result<Head> {
    let mut lines = Lines::new(r);
    let mut head = Head {
        header: None,
        rows: Vec::new(),
        too_long: None,
    };
    while head.rows.len() < HEAD_ROWS {
        let Some((line_no, line)) = lines.next_line()? else {
            break;
        };
        let text = match line {
            Ok(text) => text,
            Err(BadLine::TooLong) => {
                head.too_long.get_or_insert(line_no);
                continue;
            }
            Err(BadLine::NotUtf8) => continue,
        };
        let text = layout::strip_bom(text);
        if text.is_empty() {
            continue;
        }
        if line_no == 1 && is_header(text) {
            head.header = Some(text.to_string());
        } else {
            head.rows.push(text.to_string());
        }
    }
    Ok(head)
}

/// The longest line kept, without its line ending. No real dump row is near it (a kline row is
/// about 150 bytes); a longer line is a damaged file, and reading it whole could take all memory.
pub(crate) const MAX_LINE: usize = 64 * 1024;

/// Why a line could not be used as text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BadLine {
    NotUtf8,
    /// Longer than [`MAX_LINE`]; skipped without being held in memory.
    TooLong,
}

impl BadLine {
    pub(crate) fn describe(self) -> String {
        match self {
            BadLine::NotUtf8 => "the line is not UTF-8 text".to_string(),
            BadLine::TooLong => format!(
                "the line is longer than {} KiB, and no Binance dump row is near that long (a damaged file?)",
                MAX_LINE / 1024
            ),
        }
    }
}

/// Lines of a dump, read into one reused buffer of at most [`MAX_LINE`] bytes, without their
/// `\n` / `\r\n`.
pub(crate) struct Lines<'a> {
    inner: &'a mut dyn BufRead,
    buf: Vec<u8>,
    /// 1-based number of the line last returned.
    pub line_no: u64,
}

impl<'a> Lines<'a> {
    pub(crate) fn new(inner: &'a mut dyn BufRead) -> Self {
        Lines {
            inner,
            buf: Vec::with_capacity(256),
            line_no: 0,
        }
    }

    /// The next line and its number; the inner `Err` is a line that cannot be used as text.
    pub(crate) fn next_line(&mut self) -> io::Result<Option<(u64, Result<&str, BadLine>)>> {
        self.buf.clear();
        // room for the longest line plus its `\r\n`
        let cap = MAX_LINE + 2;
        let mut too_long = false;
        let mut read_any = false;
        loop {
            let chunk = match self.inner.fill_buf() {
                Ok(c) => c,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if chunk.is_empty() {
                break;
            }
            read_any = true;
            let (take, ended) = match chunk.iter().position(|&b| b == b'\n') {
                Some(i) => (i + 1, true),
                None => (chunk.len(), false),
            };
            if !too_long {
                if self.buf.len() + take <= cap {
                    self.buf.extend_from_slice(&chunk[..take]);
                } else {
                    // the rest of this line is passed over, never stored
                    too_long = true;
                    self.buf.clear();
                }
            }
            self.inner.consume(take);
            if ended {
                break;
            }
        }
        if !read_any {
            return Ok(None);
        }
        self.line_no += 1;
        if too_long {
            return Ok(Some((self.line_no, Err(BadLine::TooLong))));
        }
        let mut end = self.buf.len();
        while end > 0 && matches!(self.buf[end - 1], b'\n' | b'\r') {
            end -= 1;
        }
        if end > MAX_LINE {
            return Ok(Some((self.line_no, Err(BadLine::TooLong))));
        }
        let text = std::str::from_utf8(&self.buf[..end]).map_err(|_| BadLine::NotUtf8);
        Ok(Some((self.line_no, text)))
    }
}

/// Large reads: dumps are hundreds of megabytes and read front to back.
const READ_BUF: usize = 256 * 1024;

/// Opens `path` and calls `f` with a buffered reader of its CSV text and, for a zip, the name of
/// the CSV entry read (the first `.csv` in the archive).
pub(crate) fn with_reader<T>(
    path: &Path,
    f: impl FnOnce(&mut dyn BufRead, Option<&str>) -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    let shown = path.display();
    let meta = std::fs::metadata(path).map_err(|e| {
        anyhow!("cannot read {shown}: {e}; check the path and that the file is readable")
    })?;
    if meta.is_dir() {
        bail!("{shown} is a directory; give the dump files inside it");
    }
    let mut file = File::open(path)
        .map_err(|e| anyhow!("cannot open {shown}: {e}; check that the file is readable"))?;
    let mut magic = [0u8; 4];
    let got = read_up_to(&mut file, &mut magic).with_context(|| format!("reading {shown}"))?;
    let file = reopen(file).with_context(|| format!("reading {shown}"))?;
    // Local file header, or the end record of an empty archive.
    if got == 4 && (magic == *b"PK\x03\x04" || magic == *b"PK\x05\x06") {
        let mut archive = zip::ZipArchive::new(file).map_err(|e| {
            anyhow!("{shown} looks like a zip archive but cannot be read ({e}); download it again")
        })?;
        let index = (0..archive.len()).find(|&i| {
            archive
                .name_for_index(i)
                .is_some_and(|n| n.to_ascii_lowercase().ends_with(".csv"))
        });
        let Some(index) = index else {
            let names: Vec<&str> = archive.file_names().collect();
            bail!(
                "{shown} holds no .csv file (it has: {}); give the .csv or the archive from data.binance.vision",
                names.join(", ")
            );
        };
        let entry = archive
            .by_index(index)
            .map_err(|e| anyhow!("cannot read the CSV inside {shown} ({e}); download it again"))?;
        let name = entry.name().to_string();
        let mut reader = BufReader::with_capacity(READ_BUF, entry);
        f(&mut reader, Some(&name))
    } else {
        let mut reader = BufReader::with_capacity(READ_BUF, file);
        f(&mut reader, None)
    }
}

fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Rewinds after sniffing the magic bytes.
fn reopen(mut file: File) -> io::Result<File> {
    use std::io::Seek;
    file.rewind()?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Interval;

    #[test]
    fn standard_names_give_symbol_and_kind() {
        let cases = [
            ("BTCUSDT-1m-2025-03-01.csv", DumpKind::Klines(Interval::M1)),
            ("BTCUSDT-1m-2025-03.csv", DumpKind::Klines(Interval::M1)),
            ("BTCUSDT-trades-2025-03-01.csv", DumpKind::Trades),
            ("BTCUSDT-aggTrades-2025-03-01.zip", DumpKind::AggTrades),
            (
                "ADABTC-1m-2021-11-27.first10rows.csv",
                DumpKind::Klines(Interval::M1),
            ),
            (
                "LINKUSDT-1s-2023-02-01.usdm-futures.csv",
                DumpKind::Klines(Interval::S1),
            ),
        ];
        for (name, kind) in cases {
            let n = parse_name(name);
            assert_eq!(n.kind, Ok(Some(kind)), "{name}");
            assert!(n.symbol.is_some(), "{name}");
        }
        assert_eq!(
            parse_name("ADABTC-1m-2021-11-27.csv")
                .symbol
                .map(|s| s.to_string()),
            Some("ADABTC".into())
        );
        assert!(
            parse_name("BTCUSDT-3m-2025-03-01.csv")
                .kind
                .unwrap_err()
                .contains("3m")
        );
        assert!(
            parse_name("BTCUSDT-bookTicker-2025-03-01.csv")
                .kind
                .unwrap_err()
                .contains("bookTicker")
        );
        for odd in ["data.csv", "btc-trades.csv", "BTCUSDT-trades-march.csv"] {
            assert_eq!(
                parse_name(odd),
                NameInfo {
                    symbol: None,
                    kind: Ok(None)
                },
                "{odd}"
            );
        }
    }
}
