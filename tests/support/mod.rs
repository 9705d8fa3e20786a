//! Local protocol servers for source tests: a scriptable WebSocket server and a minimal HTTP/1.1
//! server, both on 127.0.0.1:0, with faults injected on demand. Venue-neutral; `binance` holds
//! Binance's formats and an in-memory market that answers its REST API.

#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::result_large_err
)]

pub mod alphavantage;
pub mod binance;
pub mod coinbase;
pub mod dbus;
pub mod http;
pub mod smtp;
pub mod tmux;
pub mod ws;

use std::time::Duration;

/// Polls `f` every 5 ms until it returns Some, or panics after `secs` seconds with `what`.
pub async fn wait_for<T>(secs: u64, what: &str, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(v) = f() {
            return v;
        }
        if tokio::time::Instant::now() > deadline {
            panic!("timed out after {secs} s waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Source state changes as the health board logs them (`tracing` events with a `source` field),
/// captured process-wide so that no transition is missed however short it is.
pub mod states {
    use std::sync::{Mutex, OnceLock};

    use tracing::field::{Field, Visit};
    use tracing_subscriber::Layer;
    use tracing_subscriber::layer::{Context, SubscriberExt};

    static LOG: OnceLock<Mutex<Vec<(String, String)>>> = OnceLock::new();

    struct Capture;

    #[derive(Default)]
    struct Fields {
        source: Option<String>,
        message: String,
    }

    impl Visit for Fields {
        fn record_str(&mut self, field: &Field, value: &str) {
            if field.name() == "source" {
                self.source = Some(value.to_string());
            }
        }
        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            match field.name() {
                "message" => self.message = format!("{value:?}"),
                "source" => self.source = Some(format!("{value:?}").trim_matches('"').to_string()),
                _ => {}
            }
        }
    }

    impl<S: tracing::Subscriber> Layer<S> for Capture {
        fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
            if event.metadata().target() != "tickwatch::pipeline" {
                return;
            }
            let mut f = Fields::default();
            event.record(&mut f);
            if let (Some(src), Some(log)) = (f.source, LOG.get()) {
                log.lock().unwrap().push((src, f.message));
            }
        }
    }

    /// Starts capturing (once per test binary).
    pub fn capture() {
        LOG.get_or_init(|| {
            let _ = tracing::subscriber::set_global_default(
                tracing_subscriber::registry().with(Capture),
            );
            Mutex::new(Vec::new())
        });
    }

    /// The state lines logged for source `name`, in order.
    pub fn of(name: &str) -> Vec<String> {
        LOG.get()
            .map(|l| {
                l.lock()
                    .unwrap()
                    .iter()
                    .filter(|(s, _)| s == name)
                    .map(|(_, m)| m.clone())
                    .collect()
            })
            .unwrap_or_default()
    }
}
