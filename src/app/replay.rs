//! `tickwatch replay`: dumps through the same pipeline, on screen or headless.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::{Pipeline, PipelineOptions, UsageError, notify_config};
use crate::cli::{Cli, ReplayArgs};
use crate::domain::Interval;
use crate::domain::Symbol;
use crate::engine::runner::StorePolicy;
use crate::pipeline::PipelineStats;
use crate::sources::replay::{
    DumpInfo, DumpKind, ReplayConfig, ReplayOverrides, ReplaySource, Speed,
};

pub fn run(args: &ReplayArgs, cli: &Cli) -> anyhow::Result<()> {
    // A config is optional for a replay: its indicators and alert rules apply when there is one.
    let mut s = super::settings_or_defaults(cli)?;
    let (_guard, log) = super::init_logging_with(
        cli.log_file.as_deref().or(s.config.log.file.as_deref()),
        &s.config.log.level,
        // the replay's failure is its error, printed once at the end
        if args.headless {
            super::Echo::WarningsButSourceFailure
        } else {
            super::Echo::Off
        },
    );
    let speed_text = args.speed.clone().unwrap_or_else(|| {
        if args.headless {
            "max".into()
        } else {
            "10x".into()
        }
    });
    let speed: Speed = speed_text.parse().map_err(UsageError)?;
    if speed.factor().is_some_and(|f| !(f.is_finite() && f > 0.0)) {
        return Err(UsageError(format!(
            "--speed {speed_text} is not a positive factor: use 1x, 10x, 100x or max"
        ))
        .into());
    }
    let symbol = match &args.symbol {
        Some(t) => Some(Symbol::new(t).map_err(|e| UsageError(format!("--symbol: {e}")))?),
        None => None,
    };
    let kind = match &args.kind {
        Some(t) => Some(
            t.parse::<DumpKind>()
                .map_err(|e| UsageError(format!("--kind: {e}")))?,
        ),
        None => None,
    };
    // A path to nothing is a mistake in the command line (exit 2); a file that is unreadable
    // or damaged is not (exit 1, from the source's checks below).
    let missing: Vec<String> = args
        .files
        .iter()
        .filter(|f| !f.exists())
        .map(|f| f.display().to_string())
        .collect();
    if !missing.is_empty() {
        return Err(UsageError(format!(
            "no such file: {}; check the path(s)",
            missing.join(", ")
        ))
        .into());
    }
    let source = ReplaySource::with_overrides(
        ReplayConfig {
            files: args.files.clone(),
            symbol,
            speed,
            skip_bad: args.skip_bad,
        },
        ReplayOverrides { kind, venue: None },
    )?;
    let report = source.report();
    let plan = source.files();
    // The config's database is the live history, never a replay's; its storage settings
    // (retention) still apply.
    let named = cli.db.clone().unwrap_or_else(crate::store::replay_db_path);
    let db = super::located(&named, Some(&s))?;
    s.engine.alert_delivered = if args.headless {
        String::new()
    } else {
        "tui".into()
    };
    s.engine.watchlist = plan
        .iter()
        .map(|(_, info, sym)| crate::domain::VenueSymbol::new(info.venue, *sym))
        .collect();
    for key in source.book_keys() {
        if !s.engine.watchlist.contains(&key) {
            s.engine.watchlist.push(key);
        }
    }
    s.engine.watchlist.dedup();
    s.engine.kline_bases = kline_bases(&plan);
    let mut notify = match args.headless {
        true => None,
        false => Some(notify_config(&s)?),
    };
    let terminal_writes = notify
        .as_mut()
        .and_then(crate::alerts::notifier::NotifyConfig::route_terminal_to_ui);
    let mut pipeline = Pipeline::start(PipelineOptions {
        engine: s.engine.clone(),
        ring_capacity: s.config.engine.ring_capacity,
        ring_events: s.config.engine.ring_events,
        db: Some(db.clone()),
        require_db: args.headless,
        // a replay can wait for the disk: the database stays a gap-free prefix of the input
        store_policy: StorePolicy::Block,
        view: !args.headless,
        frame: s.frame,
        notify,
        stop_after_finished: args.headless.then_some(1),
        publish: None,
    })?;
    let mut task = pipeline.spawn_source(Box::new(source))?;
    let started = Instant::now();

    if !args.headless {
        let shutdown = Arc::new(AtomicBool::new(false));
        super::on_signal(&pipeline, shutdown.clone());
        let files: Vec<String> = args.files.iter().map(|f| f.display().to_string()).collect();
        let ui = crate::ui::run(
            crate::ui::UiLink {
                slot: pipeline.slot.clone(),
                ctl: pipeline.ctl.clone(),
                stats: pipeline.stats.clone(),
                health: pipeline.health.clone(),
                title: format!("tickwatch — replay {} at {speed_text}", files.join(", ")),
                terminal_writes,
                controls: pipeline.controls.clone(),
                books: pipeline.books.clone(),
                history_db: Some(db.clone()),
            },
            crate::ui::UiOptions {
                initial_interval: plan.first().map_or(s.interval, |p| {
                    kline_interval(p.1.kind).unwrap_or(s.interval)
                }),
                ..super::monitor::ui_options(cli, &s)
            },
            shutdown,
        );
        pipeline.shutdown()?;
        return ui;
    }

    eprintln!(
        "replaying {} file(s) at {speed_text} into {} (log: {})",
        args.files.len(),
        db.describe(),
        log.map_or("none".into(), |p| p.display().to_string())
    );
    let stop = Arc::new(AtomicBool::new(false));
    super::on_signal(&pipeline, stop.clone());
    let mut last = Instant::now();
    let mut last_rows = 0u64;
    let mut failure = None;
    let mut ended = None;
    while !stop.load(Ordering::SeqCst) {
        ended = pipeline.wait_source(&mut task, Duration::from_millis(50), "replay");
        if ended.is_some() {
            break;
        }
        if let Some(why) = pipeline.store_failure() {
            // nothing more can be stored: stop reading instead of replaying into nowhere
            eprintln!("the database cannot be written ({why}); stopping the replay");
            failure = Some(why);
            break;
        }
        if last.elapsed() >= Duration::from_secs(1) {
            let rows = report.rows.load(Ordering::Relaxed);
            eprintln!(
                "  {rows} rows ({:.0} rows/s), {} bad, {} duplicates, db pending {}",
                (rows - last_rows) as f64 / last.elapsed().as_secs_f64(),
                report.bad_rows.load(Ordering::Relaxed),
                report.duplicates.load(Ordering::Relaxed),
                PipelineStats::get(&pipeline.stats.store_pending)
            );
            last_rows = rows;
            last = Instant::now();
        }
    }
    let interrupted = ended.is_none();
    let source_result = ended.unwrap_or_else(|| Err(anyhow::anyhow!("interrupted")));
    let summary = if interrupted {
        Default::default()
    } else {
        pipeline.wait_engine()?
    };
    let elapsed = started.elapsed();
    let stats = pipeline.stats.clone();
    let (_, store) = pipeline.shutdown()?;
    let rows = report.rows.load(Ordering::Relaxed);
    let bad = report.bad_rows.load(Ordering::Relaxed);
    let duplicates = report.duplicates.load(Ordering::Relaxed);
    println!(
        "replayed {rows} rows from {} file(s) in {:.2} s ({:.0} rows/s), {duplicates} duplicates skipped",
        report.files_done.load(Ordering::Relaxed),
        elapsed.as_secs_f64(),
        rows as f64 / elapsed.as_secs_f64().max(1e-9)
    );
    println!(
        "candles closed {}, alerts {}, bad rows skipped {bad}, rejected {}, late trades {}",
        summary.candles_closed,
        summary.alerts,
        summary.rejected,
        PipelineStats::get(&stats.late_trades)
    );
    for m in report.bad_samples().iter().take(5) {
        println!("  skipped: {m}");
    }
    for m in summary.rejections.iter().take(5) {
        println!("  rejected: {m}");
    }
    if let Some(st) = &store {
        // trades already in the database (a file replayed again) are not stored twice
        let again = if st.duplicate_trades > 0 {
            format!(" ({} more were stored already)", st.duplicate_trades)
        } else {
            String::new()
        };
        println!(
            "stored {} trades{again}, {} candles, {} indicator values, {} alerts in {}",
            st.trades.saturating_sub(st.duplicate_trades),
            st.candles,
            st.indicator_values,
            st.alerts,
            db.describe()
        );
        if let Some((_, info, sym)) = plan.first() {
            let iv = kline_interval(info.kind).map_or("1m".to_string(), |i| i.to_string());
            println!(
                "export with: tickwatch export --db {} --symbol {sym} --interval {iv}",
                db.describe()
            );
        }
        if let Some(why) = failure {
            anyhow::bail!(
                "the database cannot be written: {why}; free space or fix its permissions, then replay again (rows already stored are not stored twice)"
            );
        }
        if let Some(e) = &st.last_error {
            anyhow::bail!("the database failed during the replay: {e}");
        }
    }
    source_result
}

/// For each symbol given as klines, the shortest kline interval: from it up its candles come
/// from the klines, and trades of the same symbol (if given too) build only shorter ones.
fn kline_bases(
    plan: &[(std::path::PathBuf, DumpInfo, Symbol)],
) -> Vec<(crate::domain::VenueSymbol, Interval)> {
    let mut bases: Vec<(crate::domain::VenueSymbol, Interval)> = Vec::new();
    for (_, info, sym) in plan {
        let Some(iv) = kline_interval(info.kind) else {
            continue;
        };
        let key = crate::domain::VenueSymbol::new(info.venue, *sym);
        match bases.iter_mut().find(|(k, _)| *k == key) {
            Some((_, base)) => *base = (*base).min(iv),
            None => bases.push((key, iv)),
        }
    }
    bases
}

fn kline_interval(kind: DumpKind) -> Option<Interval> {
    match kind {
        DumpKind::Klines(i) => Some(i),
        DumpKind::Trades | DumpKind::AggTrades => None,
    }
}
