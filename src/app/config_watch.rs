//! Hot reload of the config file: polled every few seconds, its alert rules take effect at once
//! (`EngineCtl::SetConfigRules`). A file with a mistake keeps the old rules and puts the error,
//! with its line and column, on the health board (entry "config") until it is fixed. Other
//! settings need a restart: the log says so.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use super::Pipeline;
use crate::alerts::rules::{RuleConfig, build_all};
use crate::config::{self, Config, ConfigError, Settings};
use crate::pipeline::SourceState;
use crate::view::EngineCtl;

/// The health board entry that shows a config file that failed to re-load.
pub(crate) const HEALTH_NAME: &str = "config";
pub(crate) const POLL_EVERY: Duration = Duration::from_secs(2);

/// Refuses two `[[alerts]]` with the same name (rules are kept and stored by name), pointing
/// at the second one's `[[alerts]]` line when the file is at hand.
pub(crate) fn check_rule_names(settings: &Settings) -> Result<(), ConfigError> {
    let Err((i, e)) = build_all(&settings.config.alerts) else {
        return Ok(());
    };
    let path = settings.path.clone().unwrap_or_default();
    let location = std::fs::read_to_string(&path).ok().and_then(|text| {
        text.lines()
            .enumerate()
            .filter(|(_, l)| l.trim_start().starts_with("[[alerts]]"))
            .nth(i)
            .map(|(n, l)| (n + 1, l.len() - l.trim_start().len() + 1))
    });
    Err(ConfigError {
        path,
        location,
        message: e.to_string(),
    })
}

/// The config file the command reads, if any: the one to watch.
pub(crate) fn watched_path(explicit: Option<&Path>, demo: bool) -> Option<PathBuf> {
    if demo {
        explicit.map(Path::to_path_buf)
    } else {
        config::find(explicit).filter(|p| p.is_file())
    }
}

/// What one look at the file found.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Reload {
    Unchanged,
    /// The file changed and is valid: these are its rules. `restart_needed`: settings other
    /// than the rules differ from the running ones.
    Applied {
        rules: Vec<RuleConfig>,
        restart_needed: bool,
    },
    /// The file changed and has a mistake (path:line:col: message).
    Invalid(String),
}

/// Watches one config file by its modification time and size.
pub(crate) struct ConfigWatch {
    path: PathBuf,
    seen: Option<(SystemTime, u64)>,
    /// The running settings other than the rules, to tell when a restart is needed.
    running: String,
    rules_of: fn(&Config) -> Vec<RuleConfig>,
}

/// Everything but the rules, in a comparable form.
fn without_rules(c: &Config) -> String {
    let c = Config {
        alerts: Vec::new(),
        ..c.clone()
    };
    format!("{c:?}")
}

fn stamp(path: &Path) -> Option<(SystemTime, u64)> {
    let m = std::fs::metadata(path).ok()?;
    Some((m.modified().ok()?, m.len()))
}

impl ConfigWatch {
    /// Watches `path`, whose content is what `running` was loaded from. `rules_of` picks the
    /// rules from a loaded config (the demo adds its own when the file has none).
    pub(crate) fn new(
        path: PathBuf,
        running: &Config,
        rules_of: fn(&Config) -> Vec<RuleConfig>,
    ) -> ConfigWatch {
        ConfigWatch {
            seen: stamp(&path),
            path,
            running: without_rules(running),
            rules_of,
        }
    }

    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Looks at the file once.
    pub(crate) fn poll(&mut self) -> Reload {
        let now = stamp(&self.path);
        if now == self.seen {
            return Reload::Unchanged;
        }
        self.seen = now;
        let settings = match config::load(Some(&self.path)) {
            Ok(s) => s,
            Err(e) => return Reload::Invalid(e.to_string()),
        };
        if let Err(e) = check_rule_names(&settings) {
            return Reload::Invalid(e.to_string());
        }
        Reload::Applied {
            rules: (self.rules_of)(&settings.config),
            restart_needed: without_rules(&settings.config) != self.running,
        }
    }
}

/// Polls `watch` every [`POLL_EVERY`] on the pipeline's runtime until it shuts down.
pub(crate) fn spawn(pipeline: &Pipeline, mut watch: ConfigWatch) {
    let Some(rt) = pipeline.runtime() else { return };
    let ctl = pipeline.ctl.clone();
    let health = pipeline.health.clone();
    tracing::info!(path = %watch.path().display(), "watching the config file for changes");
    rt.spawn(async move {
        let mut tick = tokio::time::interval(POLL_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        tick.tick().await;
        let mut failed = false;
        loop {
            tick.tick().await;
            match watch.poll() {
                Reload::Unchanged => {}
                Reload::Invalid(e) => {
                    tracing::error!("config file not re-loaded, the old alert rules stay: {e}");
                    health.set(HEALTH_NAME, SourceState::Failed(e));
                    failed = true;
                }
                Reload::Applied {
                    rules,
                    restart_needed,
                } => {
                    let n = rules.len();
                    if ctl.send(EngineCtl::SetConfigRules(rules)).is_err() {
                        return;
                    }
                    if failed {
                        health.set(HEALTH_NAME, SourceState::Live);
                        failed = false;
                    }
                    tracing::info!("config file re-loaded: {n} alert rule(s) applied");
                    if restart_needed {
                        tracing::warn!(
                            "config file changed outside [[alerts]]: those changes take effect after a restart"
                        );
                    }
                }
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, text: &str) {
        std::fs::write(path, text).unwrap();
        // a later mtime even on file systems with coarse timestamps
        let t = SystemTime::now() + Duration::from_secs(stamp_bump());
        let f = std::fs::File::options().write(true).open(path).unwrap();
        f.set_modified(t).unwrap();
    }

    fn stamp_bump() -> u64 {
        use std::sync::atomic::{AtomicU64, Ordering};
        static N: AtomicU64 = AtomicU64::new(1);
        N.fetch_add(1, Ordering::SeqCst)
    }

    const RULE: &str = "[[alerts]]\nname = \"a\"\nkind = \"price_above\"\nvalue = 100\n";

    #[test]
    fn a_changed_file_is_re_loaded_and_a_broken_one_reported() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.toml");
        write(&path, &format!("sources = [\"sim\"]\n{RULE}"));
        let running = config::load(Some(&path)).unwrap().config;
        let mut w = ConfigWatch::new(path.clone(), &running, |c| c.alerts.clone());
        assert_eq!(w.poll(), Reload::Unchanged);

        write(
            &path,
            &format!("sources = [\"sim\"]\n{RULE}\n[[alerts]]\nkind = \"zscore\"\nvalue = 4\n"),
        );
        let Reload::Applied {
            rules,
            restart_needed,
        } = w.poll()
        else {
            panic!("not applied")
        };
        assert_eq!(rules.len(), 2);
        assert!(!restart_needed);
        assert_eq!(w.poll(), Reload::Unchanged);

        write(
            &path,
            "sources = [\"sim\"]\n[[alerts]]\nkind = \"rsi_above\"\nvalue = 700\n",
        );
        let Reload::Invalid(e) = w.poll() else {
            panic!("not reported")
        };
        assert!(
            e.contains("config.toml:4:9:") && e.contains("between 0 and 100"),
            "{e}"
        );

        write(&path, &format!("sources = [\"sim\"]\n{RULE}{RULE}"));
        let Reload::Invalid(e) = w.poll() else {
            panic!("duplicate names not reported")
        };
        assert!(
            e.contains("config.toml:6:1:") && e.contains("same name"),
            "{e}"
        );

        write(
            &path,
            &format!("sources = [\"sim\"]\n[ui]\nfps = 10\n{RULE}"),
        );
        let Reload::Applied { restart_needed, .. } = w.poll() else {
            panic!("not applied")
        };
        assert!(restart_needed, "[ui] changed");

        std::fs::remove_file(&path).unwrap();
        let Reload::Invalid(e) = w.poll() else {
            panic!("a removed file is reported")
        };
        assert!(e.contains("cannot read"), "{e}");
    }
}
