//! `tickwatch portfolio`: positions, cost basis and P/L, now or at a past time, valued from
//! the prices stored in the database.

use std::io::Write;

use anyhow::Context;

use super::{UsageError, db_path, settings_or_defaults};
use crate::cli::{Cli, ListFormat, PortfolioArgs, PortfolioCommand};
use crate::domain::{iso8601, now_ms};
use crate::format::visible;
use crate::portfolio::Portfolio;
use crate::portfolio::ledger::{Accounts, NoRates, Rates, Valuation, value};
use crate::portfolio::prices::{Conversions, Markets, StoredPrices};
use crate::store;

pub fn run(args: &PortfolioArgs, cli: &Cli) -> anyhow::Result<()> {
    let s = settings_or_defaults(cli)?;
    if let Some(PortfolioCommand::Import { files }) = &args.command {
        return import(files, cli, &s);
    }
    let at_ms = match &args.at {
        Some(t) => super::export::parse_time(t).map_err(|e| UsageError(format!("--at: {e}")))?,
        None => now_ms(),
    };
    let at = db_path(cli, Some(&s), store::default_db_path())?;
    // a database that does not exist yet holds no entries and no prices
    let mut reader = match store::open_reader(&at) {
        Ok(r) => Some(r),
        Err(store::StoreError::NotFound { .. }) => None,
        Err(e) => return Err(e).context("reading the portfolio's entries and prices"),
    };
    let stored = match reader.as_mut() {
        Some(r) => r.portfolio_entries()?,
        None => Vec::new(),
    };
    let Some(p) = Portfolio::new(&s.config.portfolio, stored).map_err(UsageError)? else {
        return Err(UsageError(format!(
            "the portfolio is empty: add [[portfolio.entries]] to the config or run `tickwatch portfolio import FILE` (with the database {})",
            at.describe()
        ))
        .into());
    };
    let (basis, markets) = (&p.basis, &p.markets);
    // without a database only the base currency and pegged coins have a value
    let rates: Box<dyn Rates + '_> = match reader {
        Some(r) => Box::new(Conversions {
            markets,
            prices: StoredPrices::new(r),
            basis,
        }),
        None => Box::new(NoRates),
    };
    let accounts = Accounts::build(&p.entries, at_ms, basis, rates.as_ref())?;
    let valuation = value(&accounts, basis, rates.as_ref(), at_ms);
    let stdout = std::io::stdout();
    let format = ListFormat::or_for_stdout(args.format);
    let mut out = std::io::BufWriter::new(stdout.lock());
    let method = format!("{:?}", basis.method).to_lowercase();
    match format {
        ListFormat::Table => table(&mut out, &valuation, &method, markets)?,
        ListFormat::Csv => csv(&mut out, &valuation)?,
        ListFormat::Json => json(&mut out, &valuation, &method)?,
    }
    out.flush().context("writing the portfolio")?;
    Ok(())
}

/// An export larger than this is not a trade history (a year of an active trader's fills is a
/// few MB).
const MAX_IMPORT_BYTES: u64 = 256 * 1024 * 1024;

/// `portfolio import FILE...`: every file read and checked, the whole ledger checked with
/// them, then their entries stored in one transaction; or nothing at all.
fn import(
    files: &[std::path::PathBuf],
    cli: &Cli,
    s: &crate::config::Settings,
) -> anyhow::Result<()> {
    let mut new = Vec::new();
    let mut reports = Vec::new();
    for f in files {
        let shown = f.display().to_string();
        let size = std::fs::metadata(f)
            .map_err(|e| UsageError(format!("{shown}: {e}; check the path")))?
            .len();
        if size > MAX_IMPORT_BYTES {
            return Err(UsageError(format!(
                "{shown} is {} MB: not a trade-history export",
                size / (1024 * 1024)
            ))
            .into());
        }
        let bytes = std::fs::read(f).with_context(|| format!("reading {shown}"))?;
        let text = String::from_utf8(bytes).map_err(|e| {
            UsageError(format!(
                "{shown} is not UTF-8 text (byte {}): export it as CSV again",
                e.utf8_error().valid_up_to()
            ))
        })?;
        let name = f
            .file_name()
            .map_or(shown.clone(), |n| n.to_string_lossy().into_owned());
        let imported = crate::portfolio::import::parse(&name, &text)
            .map_err(|e| UsageError(format!("{e}; nothing was imported")))?;
        reports.push((
            name,
            imported.layout,
            imported.entries.len(),
            imported.skipped,
        ));
        new.extend(imported.entries);
    }
    let at = db_path(cli, Some(s), store::default_db_path())?;
    let stored = match store::open_reader(&at) {
        Ok(mut r) => r.portfolio_entries()?,
        Err(store::StoreError::NotFound { .. }) => Vec::new(),
        Err(e) => return Err(e).context("reading the portfolio's entries"),
    };
    let known: std::collections::HashSet<&str> = stored.iter().map(|e| e.id.as_str()).collect();
    let fresh: Vec<crate::portfolio::Entry> = new
        .iter()
        .filter(|e| !known.contains(e.id.as_str()))
        .cloned()
        .collect();
    // the ledger with them must add up (no sale of more than is held), else nothing is added
    let mut all = stored.clone();
    all.extend(fresh.iter().cloned());
    if let Some(p) = Portfolio::new(&s.config.portfolio, all).map_err(UsageError)? {
        Accounts::build(
            &p.entries,
            i64::MAX,
            &p.basis,
            &crate::portfolio::ledger::NoRates,
        )
        .map_err(|e| UsageError(format!("{e}; nothing was imported")))?;
    }
    let mut writer = store::open_batch_store(&at)
        .with_context(|| format!("opening {} to store the entries", at.describe()))?;
    let added = writer.add_portfolio_entries(&fresh)?;
    for (name, layout, n, skipped) in &reports {
        println!(
            "{}: {layout}, {n} entr{}",
            visible(name),
            if *n == 1 { "y" } else { "ies" }
        );
        for why in skipped.iter().take(20) {
            println!("  skipped {}", visible(why));
        }
        if skipped.len() > 20 {
            println!("  ... and {} more rows skipped", skipped.len() - 20);
        }
    }
    println!(
        "{added} new entr{} stored in {}; {} already there",
        if added == 1 { "y" } else { "ies" },
        at.describe(),
        new.len() as u64 - added
    );
    Ok(())
}

fn num(v: Option<f64>, decimals: usize) -> String {
    v.map_or("?".into(), |v| format!("{v:.decimals$}"))
}

fn signed(v: Option<f64>) -> String {
    v.map_or("?".into(), |v| format!("{v:+.2}"))
}

fn table(
    out: &mut impl Write,
    v: &Valuation,
    method: &str,
    markets: &Markets,
) -> anyhow::Result<()> {
    writeln!(
        out,
        "portfolio at {} in {} ({method})",
        iso8601(v.at_ms),
        v.base
    )?;
    writeln!(
        out,
        "{:<10} {:>14} {:>12} {:>12} {:>14} {:>11} {:>12} {:>12} {:>7}",
        "asset", "qty", "avg cost", "last", "value", "day chg", "unrealized", "realized", "weight"
    )?;
    for p in &v.positions {
        writeln!(
            out,
            "{:<10} {:>14} {:>12} {:>12} {:>14} {:>11} {:>12} {:>12} {:>7}",
            visible(&p.asset),
            format!("{:.8}", p.qty)
                .trim_end_matches('0')
                .trim_end_matches('.'),
            num(p.avg_cost, 2),
            num(p.last, 2),
            num(p.value, 2),
            signed(p.day_change),
            signed(p.unrealized),
            signed(p.realized),
            p.weight.map_or("".into(), |w| format!("{:.1}%", w * 100.0)),
        )?;
    }
    for c in &v.cash {
        let note = if c.balance < 0.0 {
            " (more paid than the ledger says came in)"
        } else {
            ""
        };
        writeln!(
            out,
            "cash {:<5} {:>14.2}{}",
            visible(&c.currency),
            c.balance,
            note
        )?;
    }
    writeln!(
        out,
        "total value {:.2} · cost {:.2} · unrealized {:+.2} · realized {:+.2} · P/L {:+.2} {}",
        v.value,
        v.cost,
        v.unrealized,
        v.realized,
        v.pnl(),
        v.base
    )?;
    for m in &v.missing {
        let how = match markets.of(m) {
            Some((key, _)) => format!("no price of {key} stored at that time"),
            None => format!("no market gives its price: set [portfolio].prices.{m}"),
        };
        writeln!(
            out,
            "missing: {} has no value in {} ({how}); the totals leave it out",
            visible(m),
            v.base
        )?;
    }
    Ok(())
}

fn csv(out: &mut impl Write, v: &Valuation) -> anyhow::Result<()> {
    let f = |x: Option<f64>| x.map_or(String::new(), |x| x.to_string());
    writeln!(
        out,
        "asset,qty,avg_cost,last,value,day_change,unrealized,realized,fees,weight"
    )?;
    for p in &v.positions {
        writeln!(
            out,
            "{},{},{},{},{},{},{},{},{},{}",
            visible(&p.asset),
            p.qty,
            f(p.avg_cost),
            f(p.last),
            f(p.value),
            f(p.day_change),
            f(p.unrealized),
            f(p.realized),
            f(p.fees),
            f(p.weight)
        )?;
    }
    for c in &v.cash {
        writeln!(
            out,
            "cash:{},{},,1,{},,,,,",
            visible(&c.currency),
            c.balance,
            f(c.value.filter(|_| c.balance > 0.0))
        )?;
    }
    writeln!(
        out,
        "total,,,,{},,{},{},,",
        v.value, v.unrealized, v.realized
    )?;
    Ok(())
}

fn json(out: &mut impl Write, v: &Valuation, method: &str) -> anyhow::Result<()> {
    let positions: Vec<serde_json::Value> = v
        .positions
        .iter()
        .map(|p| {
            serde_json::json!({
                "asset": p.asset, "qty": p.qty, "cost": p.cost, "avg_cost": p.avg_cost,
                "last": p.last, "value": p.value, "day_change": p.day_change,
                "unrealized": p.unrealized, "realized": p.realized, "fees": p.fees,
                "weight": p.weight,
            })
        })
        .collect();
    let cash: Vec<serde_json::Value> = v
        .cash
        .iter()
        .map(
            |c| serde_json::json!({"currency": c.currency, "balance": c.balance, "value": c.value}),
        )
        .collect();
    let doc = serde_json::json!({
        "at": iso8601(v.at_ms), "at_ms": v.at_ms, "base": v.base, "method": method,
        "positions": positions, "cash": cash,
        "totals": {"value": v.value, "cost": v.cost, "unrealized": v.unrealized,
                   "realized": v.realized, "pnl": v.pnl()},
        "missing": v.missing,
    });
    serde_json::to_writer_pretty(&mut *out, &doc)?;
    writeln!(out)?;
    Ok(())
}

/// The portfolio of the config and the database, for the `P` view and the portfolio rules.
/// Err: a ledger that cannot be read whole (logged; the monitor or recorder runs on without
/// one, rather than with a part of it).
pub(super) fn load(
    s: &crate::config::Settings,
    db: &store::Location,
) -> Result<Option<std::sync::Arc<Portfolio>>, String> {
    let stored = match store::open_reader(db).and_then(|mut r| r.portfolio_entries()) {
        Ok(e) => e,
        Err(store::StoreError::NotFound { .. }) => Vec::new(),
        Err(e) => {
            let why = format!("the stored entries cannot be read: {e}");
            tracing::warn!("portfolio: {why}");
            return Err(why);
        }
    };
    Portfolio::new(&s.config.portfolio, stored)
        .map(|p| p.map(std::sync::Arc::new))
        .map_err(|e| {
            tracing::warn!("portfolio: {e}");
            e
        })
}

/// Computes the portfolio's highest value from stored prices on a thread of its own (a year of
/// daily valuations reads the database for a while) and hands it to the engine, which
/// measures drawdown from it and from every live value.
pub(super) fn send_stored_high(
    pipeline: &super::Pipeline,
    portfolio: Option<std::sync::Arc<Portfolio>>,
    db: &store::Location,
) {
    let Some(p) = portfolio else { return };
    let ctl = pipeline.ctl.clone();
    let db = db.clone();
    let spawned = std::thread::Builder::new()
        .name("portfolio-high".into())
        .spawn(move || {
            let reader = match store::open_reader(&db) {
                Ok(r) => r,
                Err(store::StoreError::NotFound { .. }) => return,
                Err(e) => {
                    tracing::warn!("portfolio: no stored high-water mark: {e}");
                    return;
                }
            };
            let rates = Conversions {
                markets: &p.markets,
                prices: StoredPrices::new(reader),
                basis: &p.basis,
            };
            let started = std::time::Instant::now();
            let at_ms = now_ms();
            let high = crate::portfolio::series::stored_high(&p, &rates, at_ms);
            let accounts = match Accounts::build(&p.entries, at_ms, &p.basis, &rates) {
                Ok(a) => Some(a),
                Err(e) => {
                    tracing::warn!("portfolio: {e}");
                    None
                }
            };
            match high {
                Some(high) => tracing::info!(
                    high,
                    millis = started.elapsed().as_millis() as u64,
                    "portfolio: high-water mark and costs from stored prices"
                ),
                None => tracing::info!(
                    "portfolio: stored prices give no whole valuation; drawdown is measured from the live values"
                ),
            }
            let stored = crate::portfolio::StoredBasis {
                portfolio: p.clone(),
                high,
                accounts,
                at_ms,
            };
            // the engine may have stopped already: nothing to tell
            let _ = ctl.send(crate::view::EngineCtl::PortfolioStored(Box::new(stored)));
        });
    if let Err(e) = spawned {
        tracing::warn!("portfolio: cannot start the high-water mark thread: {e}");
    }
}
