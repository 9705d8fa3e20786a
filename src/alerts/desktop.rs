//! Desktop notifications through notify-rust (the freedesktop D-Bus `Notify` call on Linux,
//! the platform's own service elsewhere).

use std::time::Duration;

use crate::alerts::Severity;
use crate::alerts::sinks::{Notice, SinkError};

/// How long a notification stays up (critical ones stay until dismissed).
const SHOW_FOR_MS: u32 = 10_000;

/// The notification body: the alert's message and its time.
pub fn body(n: &Notice) -> String {
    format!(
        "{}\n{}",
        n.alert.message,
        crate::domain::iso8601(n.alert.ts_ms)
    )
}

/// Shows `n` as a desktop notification: summary = its title, body = message and time,
/// urgency low / normal / critical for info / warning / critical. Runs the blocking D-Bus call
/// on a blocking thread with a timeout, so a hung notification daemon can never stall the
/// caller.
pub async fn notify(n: &Notice, timeout: Duration) -> Result<(), SinkError> {
    let summary = n.title.clone();
    let body = body(n);
    let severity = n.alert.severity;
    let call = tokio::task::spawn_blocking(move || {
        let mut note = notify_rust::Notification::new();
        note.appname("tickwatch").summary(&summary).body(&body);
        style(&mut note, severity);
        note.show()
            .map(|_| ())
            .map_err(|e| SinkError::permanent(explain(&e.to_string())))
    });
    match tokio::time::timeout(timeout, call).await {
        Ok(Ok(r)) => r,
        Ok(Err(join)) => Err(SinkError::permanent(format!(
            "notification task failed: {join}"
        ))),
        Err(_) => Err(SinkError::transient(format!(
            "the notification service did not answer within {} s",
            timeout.as_secs_f64()
        ))),
    }
}

/// Urgency and expiry from the severity (the urgency hint exists on the freedesktop API only).
#[cfg(all(unix, not(target_os = "macos")))]
fn style(note: &mut notify_rust::Notification, severity: Severity) {
    use notify_rust::{Timeout, Urgency};
    let (urgency, timeout) = match severity {
        Severity::Info => (Urgency::Low, Timeout::Milliseconds(SHOW_FOR_MS)),
        Severity::Warning => (Urgency::Normal, Timeout::Milliseconds(SHOW_FOR_MS)),
        Severity::Critical => (Urgency::Critical, Timeout::Never),
    };
    note.urgency(urgency).timeout(timeout);
}

#[cfg(not(all(unix, not(target_os = "macos"))))]
fn style(note: &mut notify_rust::Notification, severity: Severity) {
    let _ = severity;
    note.timeout(notify_rust::Timeout::Milliseconds(SHOW_FOR_MS));
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
