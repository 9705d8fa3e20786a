//! `tickwatch record`: headless, sources to the database and alerts, a stats line on stderr,
//! a clean flush on SIGINT/SIGTERM.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::{
    Pipeline, PipelineOptions, UsageError, configured_sources, notify_config, on_signal, settings,
    watchlist,
};
use crate::cli::{Cli, RecordArgs};
use crate::engine::runner::StorePolicy;
use crate::pipeline::{PipelineStats, describe, effective_state};

/// The range of `--stats-every`, in seconds: ten lines a second to one a day.
const STATS_EVERY_SECS: std::ops::RangeInclusive<f64> = 0.1..=86_400.0;

/// `--stats-every` as a period, checked before anything starts.
fn stats_period(secs: f64) -> Result<Duration, UsageError> {
    if STATS_EVERY_SECS.contains(&secs)
        && let Ok(d) = Duration::try_from_secs_f64(secs)
    {
        return Ok(d);
    }
    Err(UsageError(format!(
        "--stats-every {secs}: give a number of seconds from {} to {} (one a day)",
        STATS_EVERY_SECS.start(),
        STATS_EVERY_SECS.end()
    )))
}

pub fn run(args: &RecordArgs, cli: &Cli) -> anyhow::Result<()> {
    let every = stats_period(args.stats_every)?;
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
    let db = super::live_or_demo_db(cli, &s, false)?;
    // a ledger that cannot be read is logged; its rules then wait (and say so)
    let portfolio = super::portfolio::load(&s, &db).ok().flatten();
    s.engine.portfolio = portfolio.clone();
    let metrics = super::metrics::bind(
        args.metrics
            .as_ref()
            .or(cli.metrics.as_ref())
            .or(s.config.metrics.listen.as_ref()),
    )?;
    let publish = match &args.publish {
        Some(url) => {
            crate::fanout::url::check(url).map_err(|e| UsageError(format!("--publish: {e}")))?;
            Some(crate::fanout::publisher::PublishConfig {
                url: url.clone(),
                stream: s.config.nats.stream.clone(),
                max_age: s.config.nats.max_age(),
                trade_format: s.config.nats.trade_format().map_err(UsageError)?,
            })
        }
        None => None,
    };
    let published_to = publish.as_ref().map(|p| {
        format!(
            " and NATS {} (stream {})",
            crate::fanout::url::redact(&p.url),
            p.stream
        )
    });
    let pipeline = Pipeline::start(PipelineOptions {
        engine: s.engine.clone(),
        ring_capacity: s.config.engine.ring_capacity,
        ring_events: s.config.engine.ring_events,
        db: Some(db.clone()),
        require_db: true,
        store_policy: StorePolicy::Spill {
            max_rows: s.config.storage.max_pending_rows,
        },
        view: false,
        frame: s.frame,
        notify: Some(notify_config(&s)?),
        stop_after_finished: None,
        publish,
    })?;
    eprintln!(
        "tickwatch record: {} → {}{} (log: {}); Ctrl-C or SIGTERM stops and flushes",
        s.config.sources.join(", "),
        db.describe(),
        published_to.unwrap_or_default(),
        log.map_or("none".into(), |p| p.display().to_string())
    );
    if let Some(listener) = metrics {
        let addr = super::metrics::serve(&pipeline, listener, s.stale_after)?;
        eprintln!("tickwatch record: metrics on http://{addr}/metrics (health: /healthz)");
    }
    let mut tasks = Vec::new();
    for src in sources {
        tasks.push(pipeline.spawn_source(src)?);
    }
    super::portfolio::send_stored_high(&pipeline, portfolio, &db);
    if let Some(path) = super::config_watch::watched_path(cli.config.as_deref(), false) {
        let watch = super::config_watch::ConfigWatch::new(path, &s.config, |c| c.alerts.clone());
        super::config_watch::spawn(&pipeline, watch);
    }
    let stop = Arc::new(AtomicBool::new(false));
    on_signal(&pipeline, stop.clone());
    let mut last = Instant::now();
    let mut last_events = 0;
    let mut failure = None;
    while !stop.load(Ordering::SeqCst) && !tasks.iter().all(|t| t.is_finished()) {
        std::thread::sleep(Duration::from_millis(100));
        if let Some(why) = pipeline.store_failure() {
            // nothing more can be stored: stop now rather than read the market into nowhere
            eprintln!("tickwatch record: the database cannot be written ({why}); stopping");
            failure = Some(why);
            break;
        }
        if last.elapsed() >= every {
            let ev = PipelineStats::get(&pipeline.stats.events_processed);
            // source states quote venues: shown, never obeyed, however they got in
            eprintln!(
                "{}",
                crate::format::visible(&stats_line(
                    &pipeline,
                    ev - last_events,
                    last.elapsed(),
                    s.stale_after
                ))
            );
            last_events = ev;
            last = Instant::now();
        }
    }
    eprintln!(
        "tickwatch record: stopping, flushing the database (at most {} s)…",
        crate::pipeline::StopClock::STORE.as_secs()
    );
    let stats = pipeline.stats.clone();
    let fanout = pipeline.fanout_stats();
    let stopped = Instant::now();
    let (summary, store) = pipeline.shutdown()?;
    let store_err = store.as_ref().and_then(|s| s.last_error.clone());
    let get = |c: &std::sync::atomic::AtomicU64| PipelineStats::get(c);
    eprintln!(
        "tickwatch record: {} events, {} candles closed, {} alerts; stored {} rows; dropped at the ring {} (trades refilled from the venue where it has ids); rejected {}; stopped in {:.1} s",
        summary.events,
        summary.candles_closed,
        summary.alerts,
        get(&stats.store_written),
        get(&stats.dropped_ring),
        summary.rejected,
        stopped.elapsed().as_secs_f64()
    );
    if let Some(f) = &fanout {
        eprintln!("tickwatch record: {}", fanout_line(f));
    }
    let not_published = fanout.as_ref().map_or(0, |f| get(&f.dropped));
    if let Some(why) = failure {
        anyhow::bail!(
            "the database cannot be written: {why}; free space or fix its permissions, then run again ({} rows were not stored)",
            get(&stats.store_dropped)
        );
    }
    let loss = Loss::of(&stats);
    if let Some(e) = store_err {
        anyhow::bail!("the database failed during the run: {e}{}", loss.suffix());
    }
    if !loss.is_none() {
        anyhow::bail!("data was lost during the run:{}", loss.suffix());
    }
    if not_published > 0 {
        anyhow::bail!(
            "{not_published} messages were not published to NATS (the server was away longer than the queue holds, or the stop came first); they are in the database"
        );
    }
    Ok(())
}

/// The publisher's counters, for the stats line and the summary.
fn fanout_line(f: &crate::fanout::publisher::FanoutStats) -> String {
    format!(
        "NATS published {} pending {} not published {}",
        PipelineStats::get(&f.published),
        PipelineStats::get(&f.pending),
        PipelineStats::get(&f.dropped)
    )
}

/// What a run lost for good, for the closing message and the exit code.
pub(crate) struct Loss {
    pub trades_lost: u64,
    pub rows_not_stored: u64,
    pub unprocessed: u64,
}

impl Loss {
    pub fn of(stats: &PipelineStats) -> Loss {
        Loss {
            trades_lost: PipelineStats::get(&stats.trades_lost),
            rows_not_stored: PipelineStats::get(&stats.store_dropped),
            unprocessed: PipelineStats::get(&stats.unprocessed_at_stop),
        }
    }

    pub fn is_none(&self) -> bool {
        self.trades_lost == 0 && self.rows_not_stored == 0 && self.unprocessed == 0
    }

    /// " N trades missed ...; M rows not stored; K events not processed", or "".
    pub fn suffix(&self) -> String {
        let mut parts = Vec::new();
        if self.trades_lost > 0 {
            parts.push(format!(
                "{} trades missed and not refillable from the venue (see the log)",
                self.trades_lost
            ));
        }
        if self.rows_not_stored > 0 {
            parts.push(format!("{} rows not stored", self.rows_not_stored));
        }
        if self.unprocessed > 0 {
            parts.push(format!(
                "{} events still queued when the stop's deadline passed",
                self.unprocessed
            ));
        }
        if parts.is_empty() {
            String::new()
        } else {
            format!(" {}", parts.join("; "))
        }
    }
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
    let fanout = p
        .fanout_stats()
        .map(|f| format!(" | {}", fanout_line(&f)))
        .unwrap_or_default();
    format!(
        "{} events {:.0}/s | dropped {} lost {} | rejected {} | db written {} pending {} dropped {} | alerts {}{fanout} | {}",
        chrono::Utc::now().format("%H:%M:%S"),
        events as f64 / over.as_secs_f64().max(1e-9),
        PipelineStats::get(&st.dropped_ring),
        PipelineStats::get(&st.trades_lost),
        PipelineStats::get(&st.rejected),
        PipelineStats::get(&st.store_written),
        PipelineStats::get(&st.store_pending),
        PipelineStats::get(&st.store_dropped),
        PipelineStats::get(&st.alerts_fired),
        sources.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_every_is_a_period_in_range() {
        assert_eq!(stats_period(10.0).ok(), Some(Duration::from_secs(10)));
        assert_eq!(stats_period(0.1).ok(), Some(Duration::from_millis(100)));
        for bad in [1e20, 0.0, -1.0, 0.05, 86_401.0, f64::NAN, f64::INFINITY] {
            let e = stats_period(bad).unwrap_err().0;
            assert!(e.contains("from 0.1 to 86400"), "{bad}: {e}");
        }
    }
}
