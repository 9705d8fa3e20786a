//! Logs go to a file (never to the screen the monitor owns); headless commands also echo
//! warnings and errors to stderr. Colour codes only reach a terminal (never the file, a pipe or
//! journald), and not with NO_COLOR.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::writer::MakeWriterExt;
use tracing_subscriber::prelude::*;

/// The default log file: tickwatch.log in the platform data directory.
pub fn default_log_path() -> PathBuf {
    crate::store::default_db_path().with_file_name("tickwatch.log")
}

/// What a command echoes to stderr besides its own output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Echo {
    /// Nothing (the monitor owns the screen).
    Off,
    /// Warnings and errors.
    Warnings,
    /// Warnings and errors, except a source's failure: for commands that end with that failure
    /// as their error (replay, backfill), so that it is printed once.
    WarningsButSourceFailure,
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
    let echo = if echo_stderr {
        Echo::Warnings
    } else {
        Echo::Off
    };
    init_logging_with(file, level, echo)
}

/// [`init_logging`] with a choice of what goes to stderr.
pub fn init_logging_with(
    file: Option<&Path>,
    level: &str,
    echo: Echo,
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
                .with(stderr_layer(echo))
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
                .with(stderr_layer(echo))
                .try_init();
            (None, None)
        }
    }
}

/// Warnings and errors echoed to stderr (headless commands only).
fn stderr_layer<S>(echo: Echo) -> Option<impl tracing_subscriber::Layer<S>>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    let skip_failure = echo == Echo::WarningsButSourceFailure;
    (echo != Echo::Off).then(|| {
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr.with_max_level(tracing::Level::WARN))
            .with_target(false)
            .without_time()
            .with_ansi(colour_stderr(
                std::io::stderr().is_terminal(),
                std::env::var_os("NO_COLOR").as_deref(),
            ))
            .with_filter(NotReportedTwice { skip_failure })
    })
}

/// Drops the failures a command reports itself as its error, so that each is printed once: a
/// failure is logged at ERROR with a `source` field (`HealthBoard::set`). The database's
/// (`source = "db"`) is always the headless command's own error; a source's is the error of
/// replay and backfill (`skip_failure`), while `record` runs on and echoes it.
struct NotReportedTwice {
    skip_failure: bool,
}

impl<S: tracing::Subscriber> tracing_subscriber::layer::Filter<S> for NotReportedTwice {
    fn enabled(
        &self,
        _meta: &tracing::Metadata<'_>,
        _cx: &tracing_subscriber::layer::Context<'_, S>,
    ) -> bool {
        true
    }

    fn event_enabled(
        &self,
        event: &tracing::Event<'_>,
        _cx: &tracing_subscriber::layer::Context<'_, S>,
    ) -> bool {
        if *event.metadata().level() != tracing::Level::ERROR {
            return true;
        }
        let mut source = SourceField(None);
        event.record(&mut source);
        match source.0.as_deref() {
            None => true,
            Some("db") => false,
            Some(_) => !self.skip_failure,
        }
    }
}

/// The `source` field of an event, however it was recorded.
struct SourceField(Option<String>);

impl tracing::field::Visit for SourceField {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        if field.name() == "source" {
            self.0 = Some(value.to_string());
        }
    }

    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        if field.name() == "source" {
            // Display-recorded values (`source = %name`) arrive here, formatted as written
            self.0 = Some(format!("{value:?}"));
        }
    }
}

/// Colour on stderr only for a terminal, and never with NO_COLOR set (to anything non-empty,
/// as no-color.org says).
fn colour_stderr(is_terminal: bool, no_color: Option<&std::ffi::OsStr>) -> bool {
    is_terminal && no_color.is_none_or(|v| v.is_empty())
}

#[cfg(test)]
mod tests {
    use super::colour_stderr;

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(colour_stderr(true, None));
        assert!(colour_stderr(true, Some("".as_ref())));
        assert!(!colour_stderr(true, Some("1".as_ref())));
        assert!(!colour_stderr(false, None));
    }
}
