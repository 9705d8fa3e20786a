//! `tickwatch alerts ...`: `test` sends a test alert straight through each configured sink (no
//! engine, no database, one attempt each, all at once) and reports every result.

use std::time::{Duration, Instant};

use anyhow::Context;

use super::{UsageError, notify_config, settings};
use crate::alerts::Severity;
use crate::alerts::sinks::{Notice, Sink};
use crate::cli::{AlertsCommand, Cli};
use crate::domain::AlertRecord;
use crate::domain::{Symbol, Venue, VenueSymbol, now_ms};

pub fn run(cmd: &AlertsCommand, cli: &Cli) -> anyhow::Result<()> {
    match cmd {
        AlertsCommand::Test { sink, severity } => test(sink.as_deref(), *severity, cli),
        AlertsCommand::List(args) => super::alerts_list::run(args, cli),
        AlertsCommand::Backtest(args) => super::backtest::run(args, cli),
    }
}

/// The alert `alerts test` sends: symbol TEST on the simulator, rule "test".
pub fn test_alert(severity: Severity) -> anyhow::Result<AlertRecord> {
    let ts = now_ms();
    Ok(AlertRecord {
        alert_id: format!("test-{ts}"),
        ts_ms: ts,
        key: VenueSymbol::new(Venue::Sim, Symbol::new("TEST").context("the test symbol")?),
        rule: "test".into(),
        value: 0.0,
        message: "Test alert from `tickwatch alerts test`: if you can read this, this sink works."
            .into(),
        delivered: String::new(),
        severity,
    })
}

fn test(only: Option<&str>, severity: Severity, cli: &Cli) -> anyhow::Result<()> {
    let s = settings(cli)?;
    let cfg = notify_config(&s)?;
    let names = cfg.sink_names();
    if names.is_empty() {
        return Err(UsageError(
            "no alert sinks are configured: [notify] has desktop = false, the terminal sink is off and there are no webhooks, email or commands".into(),
        )
        .into());
    }
    let specs: Vec<_> = match only {
        None => cfg.sinks.iter().collect(),
        Some(name) => {
            let found: Vec<_> = cfg.sinks.iter().filter(|s| s.name() == name).collect();
            if found.is_empty() {
                return Err(UsageError(format!(
                    "no sink named {name:?}; configured: {}",
                    names.join(", ")
                ))
                .into());
            }
            found
        }
    };
    let notice = Notice::of(test_alert(severity)?);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let results: Vec<(String, Result<Duration, String>)> = runtime.block_on(async {
        let mut tasks = Vec::new();
        for spec in specs {
            let sink = Sink::build(spec);
            let notice = notice.clone();
            tasks.push(tokio::spawn(async move {
                let started = Instant::now();
                let r = sink.deliver(&notice).await;
                (
                    sink.name().to_string(),
                    r.map(|()| started.elapsed()).map_err(|e| e.message),
                )
            }));
        }
        let mut out = Vec::new();
        for t in tasks {
            match t.await {
                Ok(r) => out.push(r),
                Err(e) => out.push(("?".into(), Err(format!("the test task failed: {e}")))),
            }
        }
        out
    });
    // the blocking desktop call may still be waiting on a hung service: do not wait for it
    runtime.shutdown_timeout(Duration::from_millis(100));
    let mut failed = 0;
    for (name, r) in &results {
        match r {
            Ok(took) => println!("{name} ok ({} ms)", took.as_millis()),
            Err(e) => {
                failed += 1;
                println!("{name} failed: {e}");
            }
        }
    }
    if failed > 0 {
        anyhow::bail!("{failed} of {} sink(s) failed", results.len());
    }
    Ok(())
}
