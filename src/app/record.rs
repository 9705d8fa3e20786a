//! `tickwatch record`: headless, sources to the database and alerts, a stats line on stderr,
//! a clean flush on SIGINT/SIGTERM.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::{
    Pipeline, PipelineOptions, UsageError, configured_sources, db_path, notify_config, on_signal,
    settings, watchlist,
};
use crate::cli::{Cli, RecordArgs};
use crate::engine::runner::StorePolicy;
use crate::pipeline::{PipelineStats, describe, effective_state};

pub fn run(args: &RecordArgs, cli: &Cli) -> anyhow::Result<()> {
    if !(args.stats_every.is_finite() && args.stats_every > 0.0) {
        return Err(UsageError(format!(
            "--stats-every {}: give a number of seconds above 0",
            args.stats_every
        ))
        .into());
    }
    let mut s = settings(cli)?;
    let (_guard, log) = super::init_logging(
        cli.log_file.as_deref().or(s.config.log.file.as_deref()),
        &s.config.log.level,
        true,
    );
    super::config_watch::check_rule_names(&s)?;
    let sources = configured_sources(&s)?;
    s.engine.watchlist = watchlist(&s);
    s.engine.alert_max_lag_ms = Some(120_000);
    let db = db_path(cli, Some(&s), crate::store::default_db_path());
    let pipeline = Pipeline::start(PipelineOptions {
        engine: s.engine.clone(),
        ring_capacity: s.config.engine.ring_capacity,
        db: Some(db.clone()),
        require_db: true,
        store_policy: StorePolicy::Spill {
            max_rows: s.config.storage.max_pending_rows,
        },
        view: false,
        frame: s.frame,
        notify: Some(notify_config(&s)),
        stop_after_finished: None,
    })?;
    eprintln!(
        "tickwatch record: {} → {} (log: {}); Ctrl-C or SIGTERM stops and flushes",
        s.config.sources.join(", "),
        db.display(),
        log.map_or("none".into(), |p| p.display().to_string())
    );
    let mut tasks = Vec::new();
    for src in sources {
        tasks.push(pipeline.spawn_source(src)?);
    }
    if let Some(path) = super::config_watch::watched_path(cli.config.as_deref(), false) {
        let watch = super::config_watch::ConfigWatch::new(path, &s.config, |c| c.alerts.clone());
        super::config_watch::spawn(&pipeline, watch);
    }
    let stop = Arc::new(AtomicBool::new(false));
    on_signal(&pipeline, stop.clone());
    let every = Duration::from_secs_f64(args.stats_every);
    let mut last = Instant::now();
    let mut last_events = 0;
    while !stop.load(Ordering::SeqCst) && !tasks.iter().all(|t| t.is_finished()) {
        std::thread::sleep(Duration::from_millis(100));
        if last.elapsed() >= every {
            let ev = PipelineStats::get(&pipeline.stats.events_processed);
            eprintln!(
                "{}",
                stats_line(&pipeline, ev - last_events, last.elapsed(), s.stale_after)
            );
            last_events = ev;
            last = Instant::now();
        }
    }
    eprintln!("tickwatch record: stopping, flushing the database…");
    let stats = pipeline.stats.clone();
    let (summary, store) = pipeline.shutdown()?;
    let store_err = store.as_ref().and_then(|s| s.last_error.clone());
    eprintln!(
        "tickwatch record: {} events, {} candles closed, {} alerts; stored {} rows; dropped {} (ring) {} (db); rejected {}",
        summary.events,
        summary.candles_closed,
        summary.alerts,
        PipelineStats::get(&stats.store_written),
        PipelineStats::get(&stats.dropped_ring),
        PipelineStats::get(&stats.store_dropped),
        summary.rejected
    );
    if let Some(e) = store_err {
        anyhow::bail!("the database failed during the run: {e}");
    }
    Ok(())
}

fn stats_line(p: &Pipeline, events: u64, over: Duration, stale_after: Duration) -> String {
    let st = &p.stats;
    let now = crate::domain::now_ms();
    let sources: Vec<String> = p
        .health
        .snapshot()
        .iter()
        .map(|h| {
            format!(
                "{}: {}",
                h.name,
                describe(
                    &effective_state(h, now, stale_after.as_millis() as i64),
                    now
                )
            )
        })
        .collect();
    format!(
        "{} events {:.0}/s | dropped {} | rejected {} | db written {} pending {} dropped {} | alerts {} | {}",
        chrono::Utc::now().format("%H:%M:%S"),
        events as f64 / over.as_secs_f64().max(1e-9),
        PipelineStats::get(&st.dropped_ring),
        PipelineStats::get(&st.rejected),
        PipelineStats::get(&st.store_written),
        PipelineStats::get(&st.store_pending),
        PipelineStats::get(&st.store_dropped),
        PipelineStats::get(&st.alerts_fired),
        sources.join(", ")
    )
}
