//! `--metrics ADDR`: the Prometheus endpoint of a running pipeline.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use super::Pipeline;
use crate::metrics::{Figures, Readiness};
use crate::pipeline::SourceState;

/// Binds `addr` before anything starts, so that a taken port stops the command at once with
/// a message naming it (a malformed address is a usage error, exit code 2).
pub(crate) fn bind(addr: Option<&String>) -> anyhow::Result<Option<std::net::TcpListener>> {
    let Some(addr) = addr else { return Ok(None) };
    match crate::metrics::bind(addr) {
        Ok(l) => Ok(Some(l)),
        Err(e @ crate::metrics::BindError::BadAddress(_)) => {
            Err(super::UsageError(e.to_string()).into())
        }
        Err(e) => Err(e.into()),
    }
}

/// Serves the pipeline's figures on `listener` (bound by [`crate::metrics::bind`] before the
/// pipeline started). Healthy while the pipeline runs and its database can be written.
pub(crate) fn serve(
    pipeline: &Pipeline,
    listener: std::net::TcpListener,
    stale_after: Duration,
) -> anyhow::Result<SocketAddr> {
    let rt = pipeline
        .runtime()
        .context("the metrics endpoint needs the pipeline's runtime")?;
    let stop = pipeline.stop.clone();
    let failure = pipeline.store_failure.clone();
    let health = pipeline.health.clone();
    let readiness: Readiness = Arc::new(move || {
        if stop.stopping() {
            return Some("stopping".into());
        }
        if let Some(why) = failure.as_ref().and_then(|f| f.get()) {
            return Some(format!("the database cannot be written: {why}"));
        }
        health.snapshot().into_iter().find_map(|h| match h.state {
            // "db": the name `Pipeline::start` gives the storage on the board
            SourceState::Failed(why) if h.name == "db" => Some(format!("database: {why}")),
            _ => None,
        })
    });
    let figures = Figures {
        stats: pipeline.stats.clone(),
        health: pipeline.health.clone(),
        stale_after,
        readiness,
    };
    crate::metrics::spawn(rt, listener, figures).context("cannot serve the metrics endpoint")
}

/// `tickwatch healthcheck`: "ok" and exit 0, or why not and exit 1 (2 for a bad address).
pub(crate) fn healthcheck(addr: &str, timeout_secs: u64) -> anyhow::Result<()> {
    let timeout = Duration::from_secs(timeout_secs.clamp(1, 60));
    match crate::metrics::probe::probe(addr, timeout) {
        Ok(()) => {
            println!("ok");
            Ok(())
        }
        Err(e @ crate::metrics::probe::ProbeError::BadAddress(_)) => {
            Err(super::UsageError(e.to_string()).into())
        }
        Err(e) => Err(e.into()),
    }
}
