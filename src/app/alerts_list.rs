//! `tickwatch alerts list`: the alerts fired, newest first, with severity and where each was
//! delivered, as a table, CSV or JSON.

use std::collections::HashMap;
use std::io::Write;

use anyhow::Context;

use super::{UsageError, db_path, settings};
use crate::alerts::DeliveryOutcome;
use crate::alerts::rules::parse_duration;
use crate::cli::{AlertsListArgs, Cli, ListFormat};
use crate::domain::AlertRecord;
use crate::domain::{TsMs, iso8601, now_ms};
use crate::format::visible;
use crate::store;
use crate::store::StoredDelivery;

/// `--since`: a time (as `export --from` reads it) or a span back from `now` (`30m`, `7d`).
pub fn parse_since(s: &str, now: TsMs) -> Result<TsMs, String> {
    let t = s.trim();
    let relative = t.ends_with(['s', 'm', 'h', 'd']) && t[..t.len() - 1].parse::<u64>().is_ok();
    if relative {
        return parse_duration(t).map(|d| now - d);
    }
    super::export::parse_time(t).map_err(|e| format!("{e}, or a time back from now like 30m or 7d"))
}

pub fn run(args: &AlertsListArgs, cli: &Cli) -> anyhow::Result<()> {
    let since = match &args.since {
        Some(s) => Some(parse_since(s, now_ms()).map_err(|e| UsageError(format!("--since: {e}")))?),
        None => None,
    };
    // the config is read only for its database path
    let at = match &cli.db {
        Some(_) => db_path(cli, None, store::default_db_path())?,
        None => db_path(cli, Some(&settings(cli)?), store::default_db_path())?,
    };
    let mut reader = store::open_reader(&at)
        .with_context(|| format!("cannot read the alert history in {}", at.describe()))?;
    let alerts = reader.alerts(since, args.limit)?;
    let deliveries = reader.deliveries(since)?;
    let stdout = std::io::stdout();
    let format = ListFormat::or_for_stdout(args.format);
    let mut out = std::io::BufWriter::new(stdout.lock());
    match format {
        ListFormat::Table => write_table(&mut out, &alerts)?,
        ListFormat::Csv => write_csv(&mut out, &alerts)?,
        ListFormat::Json => write_json(&mut out, &alerts, &deliveries)?,
    }
    out.flush().context("writing the alert list")?;
    if alerts.is_empty() && format == ListFormat::Table {
        eprintln!("no alerts in {}", at.describe());
    }
    Ok(())
}

const CSV_HEADER: &str = "time,ts_ms,severity,venue,symbol,rule,value,message,delivered";

/// Text read back from the database is shown through [`visible`]: an old database may hold a
/// server's answer or a rule name with escape sequences in it.
fn csv_field(s: &str) -> String {
    let s = visible(s);
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

fn value_text(v: f64) -> String {
    if v.is_finite() {
        v.to_string()
    } else {
        String::new()
    }
}

pub fn write_csv(out: &mut impl Write, alerts: &[AlertRecord]) -> std::io::Result<()> {
    writeln!(out, "{CSV_HEADER}")?;
    for a in alerts {
        writeln!(
            out,
            "{},{},{},{},{},{},{},{},{}",
            iso8601(a.ts_ms),
            a.ts_ms,
            a.severity,
            a.key.venue,
            csv_field(a.key.symbol.as_str()),
            csv_field(&a.rule),
            value_text(a.value),
            csv_field(&a.message),
            csv_field(&a.delivered),
        )?;
    }
    Ok(())
}

pub fn write_json(
    out: &mut impl Write,
    alerts: &[AlertRecord],
    deliveries: &HashMap<String, Vec<StoredDelivery>>,
) -> std::io::Result<()> {
    writeln!(out, "[")?;
    for (i, a) in alerts.iter().enumerate() {
        let sinks: Vec<serde_json::Value> = deliveries
            .get(&a.alert_id)
            .map(|ds| {
                ds.iter()
                    .map(|d| {
                        let o = &d.outcome;
                        serde_json::json!({
                            "sink": visible(&d.sink),
                            "status": o.status(),
                            "reason": o.reason().map(visible),
                            "ok": o.is_sent(),
                            // only failures: a skip is not an error of the sink
                            "error": match o {
                                DeliveryOutcome::Failed(e) => Some(visible(e)),
                                _ => None,
                            },
                            "ts_ms": d.ts_ms,
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        let obj = serde_json::json!({
            "time": iso8601(a.ts_ms),
            "ts_ms": a.ts_ms,
            "alert_id": visible(&a.alert_id),
            "severity": a.severity.as_str(),
            "venue": a.key.venue.as_str(),
            "symbol": visible(a.key.symbol.as_str()),
            "rule": visible(&a.rule),
            "value": a.value.is_finite().then_some(a.value),
            "message": visible(&a.message),
            "delivered": visible(&a.delivered),
            "deliveries": sinks,
        });
        let sep = if i + 1 < alerts.len() { "," } else { "" };
        writeln!(out, "  {obj}{sep}")?;
    }
    writeln!(out, "]")
}

pub fn write_table(out: &mut impl Write, alerts: &[AlertRecord]) -> std::io::Result<()> {
    let rows: Vec<[String; 5]> = alerts
        .iter()
        .map(|a| {
            [
                {
                    let t = iso8601(a.ts_ms);
                    t.get(..19).map_or(t.clone(), |s| s.replace('T', " "))
                },
                a.severity.to_string(),
                visible(&a.key.to_string()),
                visible(&a.rule),
                visible(&a.delivered),
            ]
        })
        .collect();
    let header = ["TIME (UTC)", "SEVERITY", "SYMBOL", "RULE", "DELIVERED"];
    let mut w = header.map(|h| h.chars().count());
    for r in &rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.chars().count());
        }
    }
    let line = |cells: [&str; 6]| {
        format!(
            "{:<w0$}  {:<w1$}  {:<w2$}  {:<w3$}  {:<w4$}  {}",
            cells[0],
            cells[1],
            cells[2],
            cells[3],
            cells[4],
            cells[5],
            w0 = w[0],
            w1 = w[1],
            w2 = w[2],
            w3 = w[3],
            w4 = w[4],
        )
    };
    writeln!(
        out,
        "{}",
        line([
            header[0], header[1], header[2], header[3], header[4], "MESSAGE"
        ])
        .trim_end()
    )?;
    for (r, a) in rows.iter().zip(alerts) {
        writeln!(
            out,
            "{}",
            line([&r[0], &r[1], &r[2], &r[3], &r[4], &visible(&a.message)]).trim_end()
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_takes_times_and_spans_back_from_now() {
        let now = 1_700_000_000_000;
        assert_eq!(parse_since("30m", now), Ok(now - 1_800_000));
        assert_eq!(parse_since("7d", now), Ok(now - 7 * 86_400_000));
        assert_eq!(parse_since("2023-11-14", now), Ok(1_699_920_000_000));
        assert_eq!(parse_since("1699920000000", now), Ok(1_699_920_000_000));
        let e = parse_since("yesterday", now).unwrap_err();
        assert!(e.contains("30m"), "{e}");
    }

    #[test]
    fn csv_fields_with_separators_are_quoted() {
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("plain"), "plain");
    }
}
