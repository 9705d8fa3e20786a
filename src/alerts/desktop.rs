//! Desktop notifications through notify-rust (the freedesktop D-Bus Notify call on Linux).

use std::time::Duration;

use crate::store::AlertRecord;

/// Shows `alert` as a desktop notification. Runs the blocking D-Bus call on a blocking thread
/// with a timeout, so a hung notification daemon can never stall the caller.
pub async fn notify(alert: &AlertRecord, timeout: Duration) -> Result<(), String> {
    let summary = format!("tickwatch: {} {}", alert.key.symbol, alert.rule);
    let body = format!("{}\n{}", alert.message, crate::domain::iso8601(alert.ts_ms));
    let call = tokio::task::spawn_blocking(move || {
        notify_rust::Notification::new()
            .appname("tickwatch")
            .summary(&summary)
            .body(&body)
            .timeout(notify_rust::Timeout::Milliseconds(10_000))
            .show()
            .map(|_| ())
            .map_err(|e| explain(&e.to_string()))
    });
    match tokio::time::timeout(timeout, call).await {
        Ok(Ok(r)) => r,
        Ok(Err(join)) => Err(format!("notification task failed: {join}")),
        Err(_) => Err(format!(
            "the notification service did not answer within {} s",
            timeout.as_secs_f64()
        )),
    }
}

/// Turns a D-Bus error into advice.
fn explain(err: &str) -> String {
    let lower = err.to_ascii_lowercase();
    if lower.contains("dbus_session_bus_address")
        || lower.contains("no such file")
        || lower.contains("address")
        || lower.contains("connection refused")
    {
        format!(
            "no desktop notification service reachable ({err}); over ssh use the terminal sink, or set [notify] desktop = false"
        )
    } else {
        format!("desktop notification failed: {err}")
    }
}
