//! The column layouts of data.binance.vision dumps: recognising them from a header or a first
//! row, and turning one row into a [`MarketEvent`] without allocating.

use std::fmt;
use std::str::FromStr;

use crate::domain::{
    Candle, EventKind, Interval, MarketEvent, Side, Symbol, TradeTick, TsMs, Venue,
};

/// What a dump holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DumpKind {
    Trades,
    AggTrades,
    Klines(Interval),
}

impl fmt::Display for DumpKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DumpKind::Trades => f.write_str("trades"),
            DumpKind::AggTrades => f.write_str("aggTrades"),
            DumpKind::Klines(i) => write!(f, "{i} klines"),
        }
    }
}

impl FromStr for DumpKind {
    type Err = String;

    /// `trades`, `aggTrades`, or a kline interval as `1m` / `klines-1m` (any case for the names).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        match t.to_ascii_lowercase().as_str() {
            "trades" => return Ok(DumpKind::Trades),
            "aggtrades" | "agg-trades" | "agg_trades" => return Ok(DumpKind::AggTrades),
            _ => {}
        }
        let iv = t
            .strip_prefix("klines-")
            .or_else(|| t.strip_prefix("klines:"))
            .unwrap_or(t);
        match binance_interval(iv) {
            Ok(Some(i)) => Ok(DumpKind::Klines(i)),
            Ok(None) => Err(format!(
                "unknown dump kind {s:?}: use trades, aggTrades, or klines-<interval> such as klines-1m"
            )),
            Err(e) => Err(e),
        }
    }
}

/// The three row shapes; spot and futures differ only in the trailing columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    Trades,
    AggTrades,
    Klines,
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Family::Trades => "trades",
            Family::AggTrades => "aggTrades",
            Family::Klines => "klines",
        })
    }
}

impl DumpKind {
    pub(crate) fn family(self) -> Family {
        match self {
            DumpKind::Trades => Family::Trades,
            DumpKind::AggTrades => Family::AggTrades,
            DumpKind::Klines(_) => Family::Klines,
        }
    }
}

/// Binance kline intervals that tickwatch does not aggregate, with their length.
const OTHER_INTERVALS: [(&str, TsMs); 9] = [
    ("3m", 180_000),
    ("30m", 1_800_000),
    ("2h", 7_200_000),
    ("6h", 21_600_000),
    ("8h", 28_800_000),
    ("12h", 43_200_000),
    ("3d", 259_200_000),
    ("1w", 604_800_000),
    ("1mo", 2_592_000_000),
];

fn unsupported_interval(name: &str) -> String {
    format!(
        "this is a {name} klines dump, and tickwatch only uses 1s, 1m, 5m, 15m, 1h, 4h and 1d candles: \
         download the 1m (or another of those) klines instead"
    )
}

/// Reads a Binance interval token: `Ok(Some)` for tickwatch's intervals, an error naming it for
/// Binance's others (3m, 2h, 1w...), `Ok(None)` when the token is not an interval at all.
pub(crate) fn binance_interval(tok: &str) -> Result<Option<Interval>, String> {
    if let Ok(i) = tok.parse::<Interval>() {
        return Ok(Some(i));
    }
    if tok == "1M" || OTHER_INTERVALS.iter().any(|(n, _)| *n == tok) {
        return Err(unsupported_interval(tok));
    }
    Ok(None)
}

/// The interval whose length is `ms` (close_time - open_time + 1 of a kline row).
pub(crate) fn interval_from_ms(ms: TsMs) -> Result<Interval, String> {
    if let Some(i) = Interval::ALL.into_iter().find(|i| i.ms() == ms) {
        return Ok(i);
    }
    match OTHER_INTERVALS.iter().find(|(_, l)| *l == ms) {
        Some((name, _)) => Err(unsupported_interval(name)),
        None => Err(describe_length(ms)),
    }
}

/// Why candles `ms` long (close_time - open_time + 1) are no Binance interval, in words: when
/// the length is an interval times 1000 or 10^6 the file's timestamps are in a finer unit than
/// Binance's milliseconds or microseconds.
pub(crate) fn describe_length(ms: TsMs) -> String {
    let scaled = [
        (1_000, "nanoseconds"),
        (1_000_000, "an unknown unit finer than nanoseconds"),
    ]
    .into_iter()
    .find_map(|(f, unit)| {
        Interval::ALL
            .into_iter()
            .find(|i| i.ms().checked_mul(f) == Some(ms))
            .map(|i| (i, unit))
    });
    match scaled {
        Some((i, unit)) => format!(
            "its timestamps look like {unit} (its candles would be {i} long); tickwatch reads Binance's milliseconds or microseconds: convert the open_time and close_time columns"
        ),
        None => format!(
            "its candles are {ms} ms long (close_time - open_time + 1), which is no Binance interval; check that the open_time and close_time columns are milliseconds or microseconds"
        ),
    }
}

/// Binance writes microseconds in spot files from 2025-01-01 on; anything this large cannot be
/// milliseconds before the year 5000, so it is taken as microseconds.
pub(crate) fn to_ms(raw: i64) -> TsMs {
    if raw >= 100_000_000_000_000 {
        raw / 1000
    } else {
        raw
    }
}

/// The most columns any layout has (klines).
const MAX_COLS: usize = 12;

/// What a header or first row says about a file's layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Columns {
    pub family: Family,
    pub count: usize,
    /// `Some(true)` when the layout is the futures one, `None` when spot and futures look alike.
    pub futures: Option<bool>,
    /// For klines read from a row: the candle length.
    pub interval_ms: Option<TsMs>,
}

/// A header row starts with a letter; data rows start with a digit.
pub(crate) fn is_header(line: &str) -> bool {
    strip_bom(line)
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic())
}

pub(crate) fn strip_bom(line: &str) -> &str {
    line.strip_prefix('\u{feff}').unwrap_or(line)
}

/// Recognises a header row. Names are matched on the first column and the column count so that
/// small renames between dump vintages (`qty` / `quantity`) do not matter.
pub(crate) fn columns_from_header(line: &str) -> Result<Columns, String> {
    let line = strip_bom(line);
    let names: Vec<String> = line
        .split(',')
        .map(|c| c.trim().to_ascii_lowercase())
        .collect();
    let first = names.first().map(String::as_str).unwrap_or("");
    let (family, futures) = match (first, names.len()) {
        ("id" | "trade_id", 6) => (Family::Trades, true),
        ("id" | "trade_id", 7) => (Family::Trades, false),
        ("agg_trade_id" | "agg_id" | "aggregate_trade_id", 7) => (Family::AggTrades, true),
        ("agg_trade_id" | "agg_id" | "aggregate_trade_id", 8) => (Family::AggTrades, false),
        // Only futures kline dumps carry a header.
        ("open_time", 12) => (Family::Klines, true),
        _ => {
            return Err(format!(
                "its header `{}` is not a Binance trades, aggTrades or klines header",
                clip(line)
            ));
        }
    };
    Ok(Columns {
        family,
        count: names.len(),
        futures: Some(futures),
        interval_ms: None,
    })
}

fn is_bool(s: &str) -> bool {
    parse_bool(s).is_some()
}

fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "true" | "True" | "TRUE" => Some(true),
        "false" | "False" | "FALSE" => Some(false),
        _ => None,
    }
}

/// Recognises a header-less file from its first data row. The layouts differ in column count
/// and in where the booleans sit, so this is never ambiguous for real dumps.
pub(crate) fn columns_from_row(line: &str) -> Result<Columns, String> {
    let f: Vec<&str> = line.split(',').collect();
    let at = |i: usize| f.get(i).copied().unwrap_or("");
    let (family, futures) = match f.len() {
        6 if is_bool(at(5)) => (Family::Trades, Some(true)),
        7 if is_bool(at(5)) && is_bool(at(6)) => (Family::Trades, Some(false)),
        7 if is_bool(at(6)) => (Family::AggTrades, Some(true)),
        8 if is_bool(at(6)) && is_bool(at(7)) => (Family::AggTrades, Some(false)),
        12 => (Family::Klines, None),
        n => {
            return Err(format!(
                "its first row `{}` has {n} columns in no Binance trades, aggTrades or klines layout",
                clip(line)
            ));
        }
    };
    let interval_ms = if family == Family::Klines {
        let open = at(0).parse::<i64>().map(to_ms);
        let close = at(6).parse::<i64>().map(to_ms);
        match (open, close) {
            (Ok(o), Ok(c)) => match c.checked_sub(o).and_then(|d| d.checked_add(1)) {
                Some(len) if len > 0 => Some(len),
                _ => {
                    return Err(format!(
                        "its first row `{}` has a close_time (column 7) that is not after its open_time (column 1): the row is damaged",
                        clip(line)
                    ));
                }
            },
            _ => {
                return Err(format!(
                    "its first row `{}` has 12 columns but no open_time/close_time numbers in columns 1 and 7",
                    clip(line)
                ));
            }
        }
    } else {
        None
    };
    Ok(Columns {
        family,
        count: f.len(),
        futures,
        interval_ms,
    })
}

/// A row shortened for messages, its control characters made visible (a row is outside text:
/// an escape sequence in it must be shown, not obeyed by the terminal).
pub(crate) fn clip(line: &str) -> String {
    const MAX: usize = 100;
    if line.len() <= MAX {
        return crate::format::visible(line);
    }
    let mut end = MAX;
    while !line.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", crate::format::visible(&line[..end]))
}

fn num<T: FromStr>(s: &str, name: &str) -> Result<T, String> {
    s.parse::<T>()
        .map_err(|_| format!("{name} `{}` is not a number", clip(s)))
}

fn boolean(s: &str, name: &str) -> Result<bool, String> {
    parse_bool(s).ok_or_else(|| format!("{name} `{}` is not true or false", clip(s)))
}

/// Turns rows of one file into events, checking each against [`MarketEvent::validate`] and
/// against the previous row's time.
#[derive(Debug, Clone)]
pub struct RowParser {
    kind: DumpKind,
    venue: Venue,
    symbol: Symbol,
    columns: usize,
    last_ms: TsMs,
}

impl RowParser {
    /// `columns` is the file's column count (spot and futures differ).
    pub fn new(kind: DumpKind, venue: Venue, symbol: Symbol, columns: usize) -> RowParser {
        RowParser {
            kind,
            venue,
            symbol,
            columns,
            last_ms: TsMs::MIN,
        }
    }

    /// Parses one data row (without its line ending). The error says what is wrong with it.
    pub fn parse(&mut self, line: &str, recv_ms: TsMs) -> Result<MarketEvent, String> {
        let mut f = [""; MAX_COLS];
        let mut n = 0;
        for part in line.split(',') {
            if let Some(slot) = f.get_mut(n) {
                *slot = part;
            }
            n += 1;
        }
        if n != self.columns {
            return Err(format!(
                "expected {} columns of {} data, found {n}",
                self.columns, self.kind
            ));
        }
        let (exch_ms, kind) = match self.kind {
            DumpKind::Trades => self.trade(f[0], f[1], f[2], f[4], f[5])?,
            DumpKind::AggTrades => self.trade(f[0], f[1], f[2], f[5], f[6])?,
            DumpKind::Klines(interval) => {
                let open_ms = to_ms(num::<i64>(f[0], "open_time")?);
                let candle = Candle {
                    open_ms,
                    open: num(f[1], "open")?,
                    high: num(f[2], "high")?,
                    low: num(f[3], "low")?,
                    close: num(f[4], "close")?,
                    volume: num(f[5], "volume")?,
                    trades: num(f[8], "count")?,
                };
                let kind = EventKind::Candle {
                    interval,
                    candle,
                    closed: true,
                };
                (open_ms, kind)
            }
        };
        let ev = MarketEvent {
            venue: self.venue,
            symbol: self.symbol,
            exch_ms,
            recv_ms,
            kind,
        };
        ev.validate()?;
        self.check_order(exch_ms)?;
        Ok(ev)
    }

    fn trade(
        &self,
        id: &str,
        price: &str,
        qty: &str,
        time: &str,
        buyer_maker: &str,
    ) -> Result<(TsMs, EventKind), String> {
        let tick = TradeTick {
            trade_id: num(id, "trade id")?,
            price: num(price, "price")?,
            qty: num(qty, "quantity")?,
            side: Side::from_buyer_maker(boolean(buyer_maker, "is_buyer_maker")?),
        };
        Ok((to_ms(num::<i64>(time, "time")?), EventKind::Trade(tick)))
    }

    /// Trades may share a millisecond; candles must strictly advance.
    fn check_order(&mut self, ts: TsMs) -> Result<(), String> {
        let in_order = match self.kind {
            DumpKind::Klines(_) => ts > self.last_ms,
            _ => ts >= self.last_ms,
        };
        if !in_order {
            return Err(format!(
                "time {} is {} the previous row's {}: rows must be in time order{}",
                crate::domain::iso8601(ts),
                if ts == self.last_ms {
                    "the same as"
                } else {
                    "before"
                },
                crate::domain::iso8601(self.last_ms),
                if matches!(self.kind, DumpKind::Klines(_)) {
                    " without repeated candles"
                } else {
                    ""
                }
            ));
        }
        self.last_ms = ts;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sym() -> Symbol {
        Symbol::new("BTCUSDT").unwrap()
    }

    #[test]
    fn microseconds_become_milliseconds() {
        assert_eq!(to_ms(1_740_787_200_123_456), 1_740_787_200_123);
        assert_eq!(to_ms(1_740_787_200_123), 1_740_787_200_123);
    }

    #[test]
    fn layouts_are_told_apart_by_columns_and_booleans() {
        let c = columns_from_row("1,84000.1,0.01,840.0,1740787200000,True,True").unwrap();
        assert_eq!((c.family, c.futures), (Family::Trades, Some(false)));
        let c = columns_from_row("1,84000.1,0.01,840.0,1740787200000,true").unwrap();
        assert_eq!((c.family, c.futures), (Family::Trades, Some(true)));
        let c = columns_from_row("1,84000.1,0.01,5,6,1740787200000,false").unwrap();
        assert_eq!((c.family, c.futures), (Family::AggTrades, Some(true)));
        let c = columns_from_row("1,84000.1,0.01,5,6,1740787200000,False,True").unwrap();
        assert_eq!((c.family, c.futures), (Family::AggTrades, Some(false)));
        let c = columns_from_row("1740787200000000,1,2,0.5,1.5,10,1740787259999999,10,3,5,5,0")
            .unwrap();
        assert_eq!((c.family, c.interval_ms), (Family::Klines, Some(60_000)));
        assert!(columns_from_row("1,2,3,4,5").is_err());
        assert!(columns_from_header("time,price").is_err());
        let c = columns_from_header("\u{feff}agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker").unwrap();
        assert_eq!((c.family, c.futures), (Family::AggTrades, Some(true)));
    }

    #[test]
    fn intervals_outside_tickwatch_are_named() {
        assert_eq!(binance_interval("15m"), Ok(Some(Interval::M15)));
        assert_eq!(binance_interval("trades"), Ok(None));
        assert!(binance_interval("3m").unwrap_err().contains("3m"));
        assert!(interval_from_ms(7_200_000).unwrap_err().contains("2h"));
        assert_eq!(
            "klines-5m".parse::<DumpKind>(),
            Ok(DumpKind::Klines(Interval::M5))
        );
        assert_eq!("AggTrades".parse::<DumpKind>(), Ok(DumpKind::AggTrades));
        assert!("bookTicker".parse::<DumpKind>().is_err());
    }

    #[test]
    fn rows_parse_and_bad_rows_say_why() {
        let mut p = RowParser::new(DumpKind::Trades, Venue::Binance, sym(), 7);
        let e = p
            .parse("7,84000.5,0.25,21000.1,1740787200000123,True,True", 1)
            .unwrap();
        assert_eq!(e.exch_ms, 1_740_787_200_000);
        match e.kind {
            EventKind::Trade(t) => {
                assert_eq!(
                    (t.trade_id, t.price, t.qty, t.side),
                    (7, 84000.5, 0.25, Side::Sell)
                )
            }
            other => panic!("{other:?}"),
        }
        let cases = [
            ("8,NaN,1,1,1740787200001,true,true", "price"),
            ("8,0,1,1,1740787200001,true,true", "price"),
            ("8,1,-1,1,1740787200001,true,true", "quantity"),
            ("8,1,1,1,1740787200,true,true", "outside"),
            ("8,1,1,1,1740787100000,true,true", "time order"),
            ("8,1,1,1,1740787200001,yes,true", "is_buyer_maker"),
            ("8,abc,1,1,1740787200001,true,true", "not a number"),
            ("garbage", "columns"),
        ];
        for (row, want) in cases {
            let err = p.parse(row, 1).unwrap_err();
            assert!(err.contains(want), "{row}: {err}");
        }
        // A bad row does not move the time-order mark.
        assert!(p.parse("9,1,1,1,1740787200000,false,true", 1).is_ok());
    }

    #[test]
    fn repeated_candles_are_out_of_order() {
        let mut p = RowParser::new(DumpKind::Klines(Interval::M1), Venue::Binance, sym(), 12);
        let row = "1740787200000,1,2,0.5,1.5,10,1740787259999,10,3,5,5,0";
        let e = p.parse(row, 1).unwrap();
        assert!(
            matches!(e.kind, EventKind::Candle { closed: true, candle, .. } if candle.trades == 3)
        );
        assert!(p.parse(row, 1).unwrap_err().contains("same as"));
    }
}
