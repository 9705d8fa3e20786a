//! Logs go to a file (never to the screen the monitor owns); headless commands also echo
//! warnings and errors to stderr.

use std::path::{Path, PathBuf};

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::writer::MakeWriterExt;
use tracing_subscriber::prelude::*;

/// The default log file: tickwatch.log in the platform data directory.
pub fn default_log_path() -> PathBuf {
    crate::store::default_db_path().with_file_name("tickwatch.log")
}

/// Installs the global subscriber. Keep the returned guard alive until exit: it flushes the
/// background writer. Returns the path in use (or None when the file could not be opened; the
/// reason is printed to stderr before any screen takes over).
pub fn init_logging(
    file: Option<&Path>,
    level: &str,
    echo_stderr: bool,
) -> (
    Option<tracing_appender::non_blocking::WorkerGuard>,
    Option<PathBuf>,
) {
    let path = file.map(Path::to_path_buf).unwrap_or_else(default_log_path);
    let filter = EnvFilter::try_from_env("TICKWATCH_LOG")
        .or_else(|_| EnvFilter::try_new(level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let opened = path
        .parent()
        .map_or(Ok(()), std::fs::create_dir_all)
        .and_then(|_| {
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
        });

    match opened {
        Ok(f) => {
            let (writer, guard) = tracing_appender::non_blocking(f);
            let file_layer = tracing_subscriber::fmt::layer()
                .with_writer(writer)
                .with_ansi(false);
            let _ = tracing_subscriber::registry()
                .with(filter)
                .with(file_layer)
                .with(stderr_layer(echo_stderr))
                .try_init();
            (Some(guard), Some(path))
        }
        Err(e) => {
            eprintln!(
                "tickwatch: cannot open the log file {}: {e}; logging disabled (pass --log-file)",
                path.display()
            );
            let _ = tracing_subscriber::registry()
                .with(filter)
                .with(stderr_layer(echo_stderr))
                .try_init();
            (None, None)
        }
    }
}

/// Warnings and errors echoed to stderr (headless commands only).
fn stderr_layer<S>(on: bool) -> Option<impl tracing_subscriber::Layer<S>>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    on.then(|| {
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr.with_max_level(tracing::Level::WARN))
            .with_target(false)
            .without_time()
    })
}
