//! Delivers fired alerts off the hot path. Each delivery result is stored with the alert; a
//! failing sink is shown on the health board (once per distinct error) and never stalls anyone.

use std::sync::Arc;
use std::time::Duration;

use crate::pipeline::{HealthBoard, PipelineStats, SourceState};
use crate::store::{AlertRecord, DeliveryRecord, StoreBatch, StoreSender};

/// Which sinks are on.
#[derive(Debug, Clone, PartialEq)]
pub struct NotifyConfig {
    pub desktop: bool,
    pub desktop_timeout: Duration,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        NotifyConfig {
            desktop: true,
            desktop_timeout: Duration::from_secs(5),
        }
    }
}

/// Runs until the alert channel closes (the engine stopped).
pub async fn run(
    cfg: NotifyConfig,
    rx: flume::Receiver<AlertRecord>,
    store: Option<StoreSender>,
    health: HealthBoard,
    stats: Arc<PipelineStats>,
) {
    let mut last_error: Option<String> = None;
    while let Ok(alert) = rx.recv_async().await {
        if !cfg.desktop {
            continue;
        }
        let result = crate::alerts::desktop::notify(&alert, cfg.desktop_timeout).await;
        match &result {
            Ok(()) => {
                if last_error.take().is_some() {
                    health.set("desktop", SourceState::Live);
                }
            }
            Err(e) => {
                PipelineStats::add(&stats.deliveries_failed, 1);
                if last_error.as_deref() != Some(e.as_str()) {
                    tracing::warn!("alert {} not delivered to the desktop: {e}", alert.alert_id);
                    health.set("desktop", SourceState::Failed(e.clone()));
                    last_error = Some(e.clone());
                }
            }
        }
        if let Some(tx) = &store {
            let batch = StoreBatch {
                deliveries: vec![DeliveryRecord {
                    alert_id: alert.alert_id.clone(),
                    sink: "desktop".into(),
                    result,
                }],
                ..Default::default()
            };
            if tx.try_send(batch).is_err() {
                PipelineStats::add(&stats.store_dropped, 1);
            }
        }
    }
}
