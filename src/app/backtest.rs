//! `tickwatch alerts backtest`: how the rules would have behaved over the stored history, as a
//! table, CSV or JSON. Reads the database only; delivers nothing.

use std::io::Write;

use anyhow::Context;

use super::alerts_list::parse_since;
use super::{UsageError, db_path, settings_or_defaults};
use crate::alerts::AlertRule;
use crate::alerts::rules::Origin;
use crate::backtest::report::{Summary, summarize};
use crate::backtest::{BacktestError, HORIZONS, Outcome, Request, short_time};
use crate::cli::{BacktestArgs, Cli, ListFormat};
use crate::domain::{Symbol, TsMs, iso8601, now_ms};
use crate::format::visible;
use crate::store::{self, ReadStore};

pub fn run(args: &BacktestArgs, cli: &Cli) -> anyhow::Result<()> {
    let now = now_ms();
    let from = parse_since(&args.from, now).map_err(|e| UsageError(format!("--from: {e}")))?;
    let to = match &args.to {
        Some(t) => parse_since(t, now).map_err(|e| UsageError(format!("--to: {e}")))?,
        None => now,
    };
    if from > to {
        return Err(UsageError(format!(
            "--from {} is after --to {}",
            iso8601(from),
            iso8601(to)
        ))
        .into());
    }
    let symbol = args
        .symbol
        .as_deref()
        .map(Symbol::new)
        .transpose()
        .map_err(|e| UsageError(format!("--symbol: {e}")))?;
    let s = settings_or_defaults(cli)?;
    let at = db_path(cli, Some(&s), store::default_db_path())?;
    let mut reader = match store::open_reader(&at) {
        Ok(r) => r,
        Err(e @ store::StoreError::NotFound { .. }) => return Err(UsageError(e.to_string()).into()),
        Err(e) => {
            return Err(anyhow::Error::new(e)
                .context(format!("cannot read the history in {}", at.describe())));
        }
    };
    let rules = chosen_rules(args, cli, &s.engine.rules, reader.as_mut())?;
    let req = Request {
        rules,
        from_ms: from,
        to_ms: to,
        symbol,
        indicators: s.engine.indicators.clone(),
    };
    let outcome = match crate::backtest::run(reader.as_mut(), &req) {
        Ok(o) => o,
        Err(BacktestError::NoData(m)) => {
            return Err(UsageError(format!("{m} (database {})", at.describe())).into());
        }
        Err(BacktestError::NoRules(m)) => return Err(UsageError(m).into()),
        Err(e) => {
            return Err(anyhow::Error::new(e).context(format!("backtest over {}", at.describe())));
        }
    };
    let summary = summarize(&outcome);
    let stdout = std::io::stdout();
    let format = ListFormat::or_for_stdout(args.format);
    let mut out = std::io::BufWriter::new(stdout.lock());
    match format {
        ListFormat::Table => write_table(&mut out, &outcome, &summary)?,
        ListFormat::Csv => {
            write_csv(&mut out, &outcome, &summary)?;
            for n in &outcome.notes {
                eprintln!("note: {}", visible(n));
            }
        }
        ListFormat::Json => write_json(&mut out, &outcome, &summary)?,
    }
    out.flush().context("writing the backtest")?;
    Ok(())
}

/// The rules to run: the one named by --rule (among the config's and the database's), else
/// every rule of the config given with --config, else every rule of the config and the
/// database.
fn chosen_rules(
    args: &BacktestArgs,
    cli: &Cli,
    config: &[AlertRule],
    reader: &mut dyn ReadStore,
) -> anyhow::Result<Vec<AlertRule>> {
    let mut all: Vec<AlertRule> = config.to_vec();
    if args.rule.is_some() || cli.config.is_none() {
        for row in reader.rules()? {
            if row.origin != Origin::Monitor || all.iter().any(|r| r.name == row.rule_id) {
                continue;
            }
            match row.spec.build() {
                Ok(mut r) => {
                    r.name = row.rule_id.clone();
                    all.push(r);
                }
                Err(e) => eprintln!(
                    "note: the stored rule {:?} is skipped: {e}",
                    visible(&row.rule_id)
                ),
            }
        }
    }
    match &args.rule {
        Some(name) => match all.iter().find(|r| r.name == *name) {
            Some(r) => Ok(vec![r.clone()]),
            None => {
                let names: Vec<String> = all.iter().map(|r| format!("{:?}", visible(&r.name))).collect();
                let have = if names.is_empty() {
                    "there are none: add [[alerts]] to the config or make one in the monitor".into()
                } else {
                    format!("the rules are {}", names.join(", "))
                };
                Err(UsageError(format!("no alert rule named {:?}; {have}", visible(name))).into())
            }
        },
        None if all.is_empty() => Err(UsageError(
            "no alert rules to backtest: add [[alerts]] to the config (or name one with --config), or make one in the monitor".into(),
        )
        .into()),
        None => Ok(all),
    }
}

/// A number with up to `digits` decimals, trailing zeros trimmed.
fn num(v: f64, digits: usize) -> String {
    if !v.is_finite() {
        return String::new();
    }
    let t = format!("{v:.digits$}");
    if t.contains('.') {
        t.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        t
    }
}

/// A percent move for the table: `+1.25%`, or `—` when unknown.
fn pct(v: Option<f64>) -> String {
    v.map_or("—".into(), |m| format!("{m:+.2}%"))
}

/// A span: `3d 4h`, `2h 5m`, `45m`, `30s`.
fn span(ms: TsMs) -> String {
    let s = ms / 1000;
    let (d, h, m) = (s / 86_400, s % 86_400 / 3_600, s % 3_600 / 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, m) => format!("{m}m"),
        (0, h, m) => format!("{h}h {m}m"),
        (d, h, _) => format!("{d}d {h}h"),
    }
}

fn aligned(out: &mut impl Write, header: &[&str], rows: &[Vec<String>]) -> std::io::Result<()> {
    let mut w: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut l = String::new();
        for (i, c) in cells.iter().enumerate() {
            let pad = w[i].saturating_sub(c.chars().count());
            l.push_str(c);
            l.push_str(&" ".repeat(pad + 2));
        }
        l.trim_end().to_string()
    };
    writeln!(out, "{}", line(header.to_vec()))?;
    for r in rows {
        writeln!(out, "{}", line(r.iter().map(String::as_str).collect()))?;
    }
    Ok(())
}

fn fed_text(o: &Outcome) -> String {
    o.fed
        .iter()
        .map(|f| format!("{} ({})", visible(&f.key.to_string()), f.feed))
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn write_table(out: &mut impl Write, o: &Outcome, summary: &[Summary]) -> std::io::Result<()> {
    writeln!(
        out,
        "Backtest from {} to {} UTC over {}: nothing delivered, nothing stored.",
        short_time(o.from_ms),
        short_time(o.to_ms),
        fed_text(o)
    )?;
    writeln!(out)?;
    if o.fires.is_empty() {
        writeln!(out, "No rule would have fired.")?;
    } else {
        let rows: Vec<Vec<String>> = o
            .fires
            .iter()
            .map(|f| {
                vec![
                    short_time(f.ts_ms),
                    visible(&f.rule),
                    visible(&f.key.to_string()),
                    num(f.value, 4),
                    f.price.map_or("—".into(), crate::format::price),
                    pct(f.moves[0]),
                    pct(f.moves[1]),
                    pct(f.moves[2]),
                ]
            })
            .collect();
        aligned(
            out,
            &[
                "TIME (UTC)",
                "RULE",
                "SYMBOL",
                "VALUE",
                "PRICE",
                "AFTER 5M",
                "AFTER 1H",
                "AFTER 1D",
            ],
            &rows,
        )?;
    }
    writeln!(out)?;
    let rows: Vec<Vec<String>> = summary
        .iter()
        .map(|s| {
            vec![
                visible(&s.rule),
                visible(&s.key.to_string()),
                s.fires.to_string(),
                s.per_day.map_or("—".into(), |d| num(d, 2)),
                pct(s.median_moves[0]),
                pct(s.median_moves[1]),
                pct(s.median_moves[2]),
                span(s.longest_quiet_ms),
            ]
        })
        .collect();
    aligned(
        out,
        &[
            "RULE",
            "SYMBOL",
            "FIRES",
            "PER DAY",
            "MEDIAN 5M",
            "MEDIAN 1H",
            "MEDIAN 1D",
            "LONGEST QUIET",
        ],
        &rows,
    )?;
    for n in &o.notes {
        writeln!(out, "note: {}", visible(n))?;
    }
    Ok(())
}

/// The CSV header (documented in the README): fire rows, then summary rows.
pub const CSV_HEADER: &str = "row,rule,venue,symbol,time,ts_ms,value,price,move_5m_pct,move_1h_pct,move_1d_pct,fires,fires_per_day,longest_quiet_s";

fn csv_field(s: &str) -> String {
    let s = visible(s);
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

fn opt(v: Option<f64>) -> String {
    v.map_or(String::new(), |m| num(m, 6))
}

pub fn write_csv(out: &mut impl Write, o: &Outcome, summary: &[Summary]) -> std::io::Result<()> {
    writeln!(out, "{CSV_HEADER}")?;
    for f in &o.fires {
        writeln!(
            out,
            "fire,{},{},{},{},{},{},{},{},{},{},,,",
            csv_field(&f.rule),
            f.key.venue,
            csv_field(f.key.symbol.as_str()),
            iso8601(f.ts_ms),
            f.ts_ms,
            num(f.value, 8),
            opt(f.price),
            opt(f.moves[0]),
            opt(f.moves[1]),
            opt(f.moves[2]),
        )?;
    }
    for s in summary {
        writeln!(
            out,
            "summary,{},{},{},,,,,{},{},{},{},{},{}",
            csv_field(&s.rule),
            s.key.venue,
            csv_field(s.key.symbol.as_str()),
            opt(s.median_moves[0]),
            opt(s.median_moves[1]),
            opt(s.median_moves[2]),
            s.fires,
            opt(s.per_day),
            s.longest_quiet_ms / 1000,
        )?;
    }
    Ok(())
}

pub fn write_json(out: &mut impl Write, o: &Outcome, summary: &[Summary]) -> std::io::Result<()> {
    let moves = |m: &[Option<f64>; 3]| {
        let mut obj = serde_json::Map::new();
        for (i, (name, _)) in HORIZONS.iter().enumerate() {
            obj.insert((*name).to_string(), serde_json::json!(m[i]));
        }
        serde_json::Value::Object(obj)
    };
    let fires: Vec<serde_json::Value> = o
        .fires
        .iter()
        .map(|f| {
            serde_json::json!({
                "time": iso8601(f.ts_ms),
                "ts_ms": f.ts_ms,
                "rule": visible(&f.rule),
                "venue": f.key.venue.as_str(),
                "symbol": visible(f.key.symbol.as_str()),
                "value": f.value.is_finite().then_some(f.value),
                "price": f.price,
                "move_pct": moves(&f.moves),
            })
        })
        .collect();
    let rows: Vec<serde_json::Value> = summary
        .iter()
        .map(|s| {
            serde_json::json!({
                "rule": visible(&s.rule),
                "venue": s.key.venue.as_str(),
                "symbol": visible(s.key.symbol.as_str()),
                "fires": s.fires,
                "fires_per_day": s.per_day,
                "median_move_pct": moves(&s.median_moves),
                "longest_quiet_s": s.longest_quiet_ms / 1000,
            })
        })
        .collect();
    let fed: Vec<serde_json::Value> = o
        .fed
        .iter()
        .map(|f| {
            serde_json::json!({
                "venue": f.key.venue.as_str(),
                "symbol": visible(f.key.symbol.as_str()),
                "data": f.feed.to_string(),
                "from": iso8601(f.from_ms),
                "to": iso8601(f.to_ms),
            })
        })
        .collect();
    let doc = serde_json::json!({
        "from": iso8601(o.from_ms),
        "to": iso8601(o.to_ms),
        "fed": fed,
        "fires": fires,
        "summary": rows,
        "notes": o.notes.iter().map(|n| visible(n)).collect::<Vec<_>>(),
    });
    let text = serde_json::to_string_pretty(&doc).map_err(std::io::Error::other)?;
    writeln!(out, "{text}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_and_numbers_read_short() {
        assert_eq!(span(30_000), "30s");
        assert_eq!(span(45 * 60_000), "45m");
        assert_eq!(span(2 * 3_600_000 + 5 * 60_000), "2h 5m");
        assert_eq!(span(3 * 86_400_000 + 4 * 3_600_000), "3d 4h");
        assert_eq!(num(1.5, 4), "1.5");
        assert_eq!(num(2.0, 4), "2");
        assert_eq!(pct(Some(0.5)), "+0.50%");
        assert_eq!(pct(None), "—");
    }
}
