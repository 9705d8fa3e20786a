#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Without a notification service, a desktop delivery fails fast, is shown once on the health
//! board, counted for every alert, and nothing stalls. (Its own test binary: it sets the D-Bus
//! address for the whole process.)

use std::sync::Arc;
use std::time::Duration;

use tickwatch::alerts::notifier::{self, NotifyConfig};
use tickwatch::domain::AlertRecord;
use tickwatch::domain::{Symbol, Venue, VenueSymbol};
use tickwatch::pipeline::{HealthBoard, PipelineStats, SourceState};

fn alert(i: u32) -> AlertRecord {
    AlertRecord {
        alert_id: format!("a{i}"),
        ts_ms: 1_700_000_000_000,
        key: VenueSymbol::new(Venue::Sim, Symbol::new("BTCUSDT").unwrap()),
        rule: "anomaly".into(),
        value: 7.5,
        message: "BTCUSDT anomaly".into(),
        delivered: "tui".into(),
        severity: Default::default(),
    }
}

#[test]
fn a_missing_notification_service_is_reported_once_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    // SAFETY: set before any thread of this test binary reads the environment.
    unsafe {
        std::env::set_var(
            "DBUS_SESSION_BUS_ADDRESS",
            format!("unix:path={}/no-bus", dir.path().display()),
        );
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (tx, rx) = flume::bounded(8);
    let health = HealthBoard::default();
    let stats = Arc::new(PipelineStats::default());
    let mut cfg = NotifyConfig::desktop_only(Duration::from_secs(5));
    // every alert here is the same rule on the same symbol: no dedupe, each one is counted
    cfg.policy.dedupe = Duration::ZERO;
    let task = rt.spawn(notifier::run(cfg, rx, None, health.clone(), stats.clone()));
    for i in 0..3 {
        tx.send(alert(i)).unwrap();
    }
    drop(tx);
    rt.block_on(async { tokio::time::timeout(Duration::from_secs(20), task).await })
        .unwrap()
        .unwrap();
    assert_eq!(PipelineStats::get(&stats.deliveries_failed), 3);
    let desktop = health
        .snapshot()
        .into_iter()
        .find(|h| h.name == "desktop")
        .expect("shown on the status bar");
    match desktop.state {
        SourceState::Failed(reason) => assert!(reason.contains("notification"), "{reason}"),
        other => panic!("expected failed, got {other:?}"),
    }
}
