//! `tickwatch export`: closed candles with their indicator values, as CSV or JSON.

use std::io::Write;
use std::path::Path;

use anyhow::Context;

use super::UsageError;
use crate::cli::{ExportArgs, Format};
use crate::domain::{BOOK_CSV_HEADER, Interval, Symbol, TsMs, Venue, iso8601};
use crate::indicators::IndicatorSet;
use crate::store::{self, Location};

/// Parses a time given on the command line: RFC 3339 / ISO 8601 (`2025-03-01T12:00:00Z`), a date
/// (`2025-03-01`, midnight UTC), `2025-03-01 12:00[:00]` (UTC) or milliseconds since the epoch.
pub fn parse_time(s: &str) -> Result<TsMs, String> {
    let t = s.trim();
    if let Ok(ms) = t.parse::<i64>() {
        return Ok(ms);
    }
    if let Ok(d) = chrono::DateTime::parse_from_rfc3339(t) {
        return Ok(d.timestamp_millis());
    }
    for f in [
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
    ] {
        if let Ok(d) = chrono::NaiveDateTime::parse_from_str(t, f) {
            return Ok(d.and_utc().timestamp_millis());
        }
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(t, "%Y-%m-%d")
        && let Some(dt) = d.and_hms_opt(0, 0, 0)
    {
        return Ok(dt.and_utc().timestamp_millis());
    }
    Err(format!(
        "cannot read the time {s:?}: use 2025-03-01, 2025-03-01T12:00:00Z, \"2025-03-01 12:00\" or milliseconds since 1970"
    ))
}

pub fn run(args: &ExportArgs, db: Option<&Path>, config: Option<&Path>) -> anyhow::Result<()> {
    if args.portfolio {
        return portfolio_series(args, db, config);
    }
    let symbol_text = args.symbol.as_deref().unwrap_or_default();
    let symbol = Symbol::new(symbol_text).map_err(|e| UsageError(format!("--symbol: {e}")))?;
    let interval: Interval = args
        .interval
        .parse()
        .map_err(|e| UsageError(format!("--interval: {e}")))?;
    let venue: Option<Venue> = match &args.venue {
        Some(v) => Some(v.parse().map_err(|e| UsageError(format!("--venue: {e}")))?),
        None => None,
    };
    let from = args
        .from
        .as_deref()
        .map(parse_time)
        .transpose()
        .map_err(UsageError)?;
    let to = args
        .to
        .as_deref()
        .map(parse_time)
        .transpose()
        .map_err(UsageError)?;
    if let (Some(f), Some(t)) = (from, to)
        && f > t
    {
        return Err(UsageError(format!(
            "--from {} is after --to {}",
            iso8601(f),
            iso8601(t)
        ))
        .into());
    }
    // The indicator columns: the config's set if there is a config, else the default set.
    let specs = match crate::config::find(config) {
        Some(_) => crate::config::load(config)?.engine.indicators,
        None => crate::indicators::IndicatorSpec::default_set(),
    };
    let columns = IndicatorSet::new(&specs)
        .context("indicator settings")?
        .columns();

    let at = match db {
        Some(p) => Location::parse(p).map_err(|e| UsageError(e.to_string()))?,
        None => Location::Sqlite(store::default_db_path()),
    };
    let mut reader = store::open_reader(&at)?;
    if args.book {
        return export_books(args, reader.as_mut(), &at, venue, symbol, from, to);
    }
    let venues = reader.venues_for(symbol)?;
    let venue = match (venue, venues.as_slice()) {
        (Some(v), _) if venues.contains(&v) => v,
        (_, []) | (Some(_), _) => {
            let have = reader.symbols()?;
            let list: Vec<String> = have
                .iter()
                .take(20)
                .map(|(v, s, n)| format!("{s} ({v}, {n} candles)"))
                .collect();
            let mut msg = format!(
                "no candles for {symbol}{} in {}",
                venue.map(|v| format!(" at {v}")).unwrap_or_default(),
                at.describe()
            );
            if list.is_empty() {
                msg.push_str(": the database is empty (record, replay or backfill first)");
            } else {
                msg.push_str(&format!("; it has: {}", list.join(", ")));
            }
            for other in [store::demo_db_path(), store::replay_db_path()] {
                if at.sqlite_path().is_some_and(|p| p != other) && other.is_file() {
                    msg.push_str(&format!(
                        " (demo and replay data are kept apart: try --db {})",
                        other.display()
                    ));
                    break;
                }
            }
            return Err(UsageError(msg).into());
        }
        (None, [only]) => *only,
        (None, many) => {
            let names: Vec<&str> = many.iter().map(|v| v.as_str()).collect();
            return Err(UsageError(format!(
                "{symbol} is stored for several venues ({}): pass --venue",
                names.join(", ")
            ))
            .into());
        }
    };
    let rows = reader.candles(Some(venue), symbol, interval, from, to, None)?;

    let mut out = output(args)?;
    match args.format {
        Format::Csv => {
            write!(out, "open_time,open,high,low,close,volume,trades")?;
            for c in columns.iter() {
                write!(out, ",{c}")?;
            }
            writeln!(out)?;
            for (_, r) in &rows {
                let c = &r.candle;
                write!(
                    out,
                    "{},{},{},{},{},{},{}",
                    iso8601(c.open_ms),
                    tidy(c.open),
                    tidy(c.high),
                    tidy(c.low),
                    tidy(c.close),
                    tidy(c.volume),
                    c.trades
                )?;
                for name in columns.iter() {
                    match r.values.get(name) {
                        Some(v) => write!(out, ",{v}")?,
                        None => write!(out, ",")?,
                    }
                }
                writeln!(out)?;
            }
        }
        Format::Json => {
            writeln!(out, "[")?;
            for (i, (_, r)) in rows.iter().enumerate() {
                let c = &r.candle;
                write!(
                    out,
                    "  {{\"open_time\":\"{}\",\"open_ms\":{},\"open\":{},\"high\":{},\"low\":{},\"close\":{},\"volume\":{},\"trades\":{}",
                    iso8601(c.open_ms),
                    c.open_ms,
                    json_num(tidy(c.open)),
                    json_num(tidy(c.high)),
                    json_num(tidy(c.low)),
                    json_num(tidy(c.close)),
                    json_num(tidy(c.volume)),
                    c.trades
                )?;
                for name in columns.iter() {
                    write!(
                        out,
                        ",\"{name}\":{}",
                        r.values.get(name).map_or("null".into(), |v| json_num(*v))
                    )?;
                }
                writeln!(out, "}}{}", if i + 1 < rows.len() { "," } else { "" })?;
            }
            writeln!(out, "]")?;
        }
    }
    out.flush().context("writing the export")?;
    if rows.is_empty() {
        eprintln!("note: no {interval} candles for {symbol} at {venue} in that time range");
    }
    Ok(())
}

fn export_books(
    args: &ExportArgs,
    reader: &mut dyn store::ReadStore,
    at: &Location,
    venue: Option<Venue>,
    symbol: Symbol,
    from: Option<TsMs>,
    to: Option<TsMs>,
) -> anyhow::Result<()> {
    let books = reader.book_snapshots(venue, symbol, from, to)?;
    let mut venues: Vec<Venue> = books.iter().map(|b| b.key.venue).collect();
    venues.sort();
    venues.dedup();
    if venues.len() > 1 {
        let names: Vec<&str> = venues.iter().map(|v| v.as_str()).collect();
        return Err(UsageError(format!(
            "{symbol} has stored books at several venues ({}): pass --venue",
            names.join(", ")
        ))
        .into());
    }
    if books.is_empty() && from.is_none() && to.is_none() {
        return Err(UsageError(format!(
            "no order book snapshots of {symbol}{} in {}: they are stored while a venue's book is kept (`[<venue>] depth = true`) and `[storage] book_snapshot_secs` is above 0",
            venue.map(|v| format!(" at {v}")).unwrap_or_default(),
            at.describe()
        ))
        .into());
    }
    let mut out = output(args)?;
    match args.format {
        Format::Csv => {
            writeln!(out, "{BOOK_CSV_HEADER}")?;
            for b in &books {
                for (side, levels) in [("bid", &b.bids), ("ask", &b.asks)] {
                    for (i, l) in levels.iter().enumerate() {
                        writeln!(
                            out,
                            "{},{},{},{},{side},{i},{},{}",
                            b.ts_ms,
                            iso8601(b.ts_ms),
                            b.key.venue,
                            b.key.symbol,
                            l.price,
                            l.qty
                        )?;
                    }
                }
            }
        }
        Format::Json => {
            writeln!(out, "[")?;
            let side = |levels: &[crate::domain::Level]| -> String {
                let pairs: Vec<String> = levels
                    .iter()
                    .map(|l| format!("[{},{}]", json_num(l.price), json_num(l.qty)))
                    .collect();
                format!("[{}]", pairs.join(","))
            };
            for (i, b) in books.iter().enumerate() {
                writeln!(
                    out,
                    "  {{\"ts_ms\":{},\"time\":\"{}\",\"venue\":\"{}\",\"symbol\":\"{}\",\"bids\":{},\"asks\":{}}}{}",
                    b.ts_ms,
                    iso8601(b.ts_ms),
                    b.key.venue,
                    b.key.symbol,
                    side(&b.bids),
                    side(&b.asks),
                    if i + 1 < books.len() { "," } else { "" }
                )?;
            }
            writeln!(out, "]")?;
        }
    }
    out.flush().context("writing the export")?;
    if books.is_empty() {
        eprintln!("note: no order book snapshots of {symbol} in that time range");
    }
    Ok(())
}

/// At most this many rows of a portfolio series (a year of minutes is a mistake, not a chart).
const MAX_SERIES_ROWS: i64 = 100_000;

/// `export --portfolio`: the portfolio valued at every `--interval` step, from stored prices.
fn portfolio_series(
    args: &ExportArgs,
    db: Option<&Path>,
    config: Option<&Path>,
) -> anyhow::Result<()> {
    use crate::portfolio::prices::{Conversions, StoredPrices};
    let s = match crate::config::find(config) {
        Some(_) => crate::config::load(config)?,
        None => crate::config::Config::default().into_settings(Path::new("<defaults>"))?,
    };
    let step: Interval = args
        .interval
        .parse()
        .map_err(|e| UsageError(format!("--interval: {e}")))?;
    let at = match db
        .map(Path::to_path_buf)
        .or_else(|| s.config.storage.db.clone())
    {
        Some(p) => Location::parse(&p).map_err(|e| UsageError(e.to_string()))?,
        None => Location::Sqlite(store::default_db_path()),
    };
    let mut reader = store::open_reader(&at)?;
    let stored = reader.portfolio_entries()?;
    let Some(p) =
        crate::portfolio::Portfolio::new(&s.config.portfolio, stored).map_err(UsageError)?
    else {
        return Err(UsageError(
            "the portfolio is empty: add [[portfolio.entries]] to the config or run `tickwatch portfolio import FILE`".into(),
        )
        .into());
    };
    let first = p.entries.iter().map(|e| e.ts_ms).min().unwrap_or_default();
    let time = |t: &Option<String>, what: &str| -> anyhow::Result<Option<TsMs>> {
        Ok(t.as_deref()
            .map(parse_time)
            .transpose()
            .map_err(|e| UsageError(format!("{what}: {e}")))?)
    };
    let from = step.bucket(time(&args.from, "--from")?.unwrap_or(first));
    let to = time(&args.to, "--to")?.unwrap_or_else(crate::domain::now_ms);
    if from > to {
        return Err(UsageError(format!(
            "--from {} is after --to {}",
            iso8601(from),
            iso8601(to)
        ))
        .into());
    }
    if (to - from) / step.ms() > MAX_SERIES_ROWS {
        return Err(UsageError(format!(
            "{} rows of {step} from {} to {}: use a coarser --interval (1h, 1d) or a shorter range",
            (to - from) / step.ms(),
            iso8601(from),
            iso8601(to)
        ))
        .into());
    }
    let rates = Conversions {
        markets: &p.markets,
        prices: StoredPrices::new(reader),
        basis: &p.basis,
    };
    let mut out = output(args)?;
    let rows: Vec<_> = crate::portfolio::series::series(&p, &rates, from, to, step.ms())?
        .into_iter()
        .map(|pt| (pt.ts_ms, pt.valuation, pt.drawdown))
        .collect();
    match args.format {
        Format::Csv => {
            writeln!(
                out,
                "time,value,cost,unrealized,realized,pnl,drawdown,missing"
            )?;
            for (t, v, dd) in &rows {
                writeln!(
                    out,
                    "{},{},{},{},{},{},{},{}",
                    iso8601(*t),
                    tidy(v.value),
                    tidy(v.cost),
                    tidy(v.unrealized),
                    tidy(v.realized),
                    tidy(v.pnl()),
                    tidy(*dd),
                    crate::format::visible(&v.missing.join(" "))
                )?;
            }
        }
        Format::Json => {
            let items: Vec<serde_json::Value> = rows
                .iter()
                .map(|(t, v, dd)| {
                    serde_json::json!({
                        "time": iso8601(*t), "ts_ms": t, "value": tidy(v.value),
                        "cost": tidy(v.cost), "unrealized": tidy(v.unrealized),
                        "realized": tidy(v.realized), "pnl": tidy(v.pnl()),
                        "drawdown": tidy(*dd), "missing": v.missing,
                    })
                })
                .collect();
            serde_json::to_writer_pretty(&mut out, &items)?;
            writeln!(out)?;
        }
    }
    out.flush().context("writing the export")?;
    Ok(())
}

/// Where the export goes: `--output`, else standard output.
fn output(args: &ExportArgs) -> anyhow::Result<Box<dyn Write>> {
    Ok(match &args.output {
        Some(p) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(p).with_context(|| format!("cannot create {}", p.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    })
}

/// `v` to 12 significant digits: a volume summed from many trade quantities carries float
/// noise in its last digits (`12.98603399999999`), which says nothing and reads as a bug.
/// Prices and quantities have far fewer digits, so nothing real is lost.
fn tidy(v: f64) -> f64 {
    if !v.is_finite() || v == 0.0 {
        return v;
    }
    let magnitude = v.abs().log10().floor() as i32;
    let decimals = (11 - magnitude).clamp(0, 17) as usize;
    format!("{v:.decimals$}").parse().unwrap_or(v)
}

fn json_num(v: f64) -> String {
    if v.is_finite() {
        format!("{v}")
    } else {
        "null".into()
    }
}

#[cfg(test)]
mod tests {
    use super::{parse_time, tidy};

    #[test]
    fn summed_volumes_print_without_float_noise() {
        assert_eq!(tidy(0.045549000000000006).to_string(), "0.045549");
        assert_eq!(tidy(12.98603399999999).to_string(), "12.986034");
        // a sum of quantities with noise in its last bit
        let noisy = 0.1 + 0.2;
        assert_eq!(noisy.to_string(), "0.30000000000000004");
        assert_eq!(tidy(noisy).to_string(), "0.3");
        assert_eq!(tidy(0.00001234).to_string(), "0.00001234");
        assert_eq!(tidy(123456789.5).to_string(), "123456789.5");
        assert_eq!(tidy(0.0), 0.0);
        assert!(tidy(f64::NAN).is_nan());
    }

    #[test]
    fn times_in_every_documented_form() {
        assert_eq!(parse_time("1637971200000"), Ok(1_637_971_200_000));
        assert_eq!(parse_time("2021-11-27"), Ok(1_637_971_200_000));
        assert_eq!(parse_time("2021-11-27T00:01:00Z"), Ok(1_637_971_260_000));
        assert_eq!(parse_time("2021-11-27 00:01"), Ok(1_637_971_260_000));
        assert_eq!(
            parse_time("2021-11-27T01:01:00+01:00"),
            Ok(1_637_971_260_000)
        );
        assert!(parse_time("yesterday").unwrap_err().contains("2025-03-01"));
    }
}
