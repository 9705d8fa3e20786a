//! Command hooks: a program run once per alert (not through a shell), with the alert in
//! environment variables and as the JSON object of [`super::payload`] (one line) on standard
//! input:
//!
//! `TICKWATCH_ALERT_ID`, `TICKWATCH_ALERT_SYMBOL`, `TICKWATCH_ALERT_VENUE`,
//! `TICKWATCH_ALERT_RULE`, `TICKWATCH_ALERT_SEVERITY`, `TICKWATCH_ALERT_VALUE`,
//! `TICKWATCH_ALERT_MESSAGE`, `TICKWATCH_ALERT_TIME` (RFC 3339), `TICKWATCH_ALERT_TITLE`.
//!
//! Exit status 0 is a delivery; anything else fails with the last line the program wrote to
//! standard error. A program still running after `timeout_secs` is killed together with
//! everything it started (its own process group) and the delivery fails. Command failures are
//! not retried: a hook may have done part of its work.

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::config::CommandConfig;
use super::{Notice, SinkError};

/// The environment a hook gets for `n`.
pub fn env_vars(n: &Notice) -> Vec<(&'static str, String)> {
    let a = &n.alert;
    vec![
        ("TICKWATCH_ALERT_ID", a.alert_id.clone()),
        ("TICKWATCH_ALERT_SYMBOL", a.key.symbol.as_str().to_string()),
        ("TICKWATCH_ALERT_VENUE", a.key.venue.as_str().to_string()),
        ("TICKWATCH_ALERT_RULE", a.rule.clone()),
        ("TICKWATCH_ALERT_SEVERITY", a.severity.as_str().to_string()),
        ("TICKWATCH_ALERT_VALUE", format!("{}", a.value)),
        ("TICKWATCH_ALERT_MESSAGE", a.message.clone()),
        ("TICKWATCH_ALERT_TIME", crate::domain::iso8601(a.ts_ms)),
        ("TICKWATCH_ALERT_TITLE", n.title.clone()),
    ]
}

/// How much of the program's standard error is kept (its end).
const STDERR_KEEP: usize = 8 * 1024;
/// After the program exits, how long to wait for the rest of its standard error (a
/// background child it left may hold the pipe open).
const STDERR_GRACE: Duration = Duration::from_millis(500);

/// Runs one program per notice.
pub struct CommandSink {
    cfg: CommandConfig,
}

impl CommandSink {
    pub fn new(cfg: CommandConfig) -> CommandSink {
        CommandSink { cfg }
    }

    pub async fn deliver(&self, n: &Notice) -> Result<(), SinkError> {
        let mut cmd = tokio::process::Command::new(&self.cfg.program);
        cmd.args(&self.cfg.args)
            .envs(env_vars(n))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        #[cfg(unix)]
        cmd.process_group(0);
        let mut child = cmd
            .spawn()
            .map_err(|e| SinkError::permanent(format!("cannot run {}: {e}", self.cfg.program)))?;
        let pid = child.id();
        let mut stdin = child.stdin.take();
        let json = format!("{}\n", super::payload(n));
        let stderr = child.stderr.take();
        let reader = tokio::spawn(async move {
            let mut kept = Vec::new();
            if let Some(mut err) = stderr {
                let mut chunk = [0u8; 4096];
                while let Ok(k) = err.read(&mut chunk).await {
                    if k == 0 {
                        break;
                    }
                    kept.extend_from_slice(&chunk[..k]);
                    if kept.len() > STDERR_KEEP {
                        kept.drain(..kept.len() - STDERR_KEEP);
                    }
                }
            }
            kept
        });
        let timeout = Duration::from_secs(self.cfg.timeout_secs.max(1));
        let run = async {
            if let Some(si) = stdin.as_mut() {
                // a program that does not read its input may exit first: a broken pipe is fine
                let _ = si.write_all(json.as_bytes()).await;
                let _ = si.shutdown().await;
            }
            drop(stdin.take());
            child.wait().await
        };
        let status = match tokio::time::timeout(timeout, run).await {
            Ok(Ok(status)) => status,
            Ok(Err(e)) => {
                return Err(SinkError::permanent(format!(
                    "waiting for {} failed: {e}",
                    self.cfg.program
                )));
            }
            Err(_) => {
                kill_group(pid).await;
                let _ = child.kill().await;
                reader.abort();
                return Err(SinkError::permanent(format!(
                    "{} did not finish within {} s and was stopped",
                    self.cfg.program,
                    timeout.as_secs()
                )));
            }
        };
        if status.success() {
            reader.abort();
            return Ok(());
        }
        let err = match tokio::time::timeout(STDERR_GRACE, reader).await {
            Ok(Ok(bytes)) => bytes,
            _ => Vec::new(),
        };
        let text = String::from_utf8_lossy(&err);
        let last = text
            .lines()
            .rev()
            .map(str::trim)
            .find(|l| !l.is_empty())
            .unwrap_or("");
        let how = match status.code() {
            Some(c) => format!("exit status {c}"),
            None => "killed by a signal".to_string(),
        };
        let last: String = last.chars().take(200).collect();
        Err(SinkError::permanent(if last.is_empty() {
            format!("{} failed ({how})", self.cfg.program)
        } else {
            format!("{} failed ({how}): {last}", self.cfg.program)
        }))
    }
}

/// Kills the process group a hook runs in (it was started as its leader), so that whatever it
/// started dies with it. Uses the POSIX `kill` utility: no unsafe code, no extra dependency.
async fn kill_group(pid: Option<u32>) {
    #[cfg(unix)]
    if let Some(pid) = pid {
        let _ = tokio::process::Command::new("kill")
            .args(["-s", "KILL", "--", &format!("-{pid}")])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .await;
    }
    #[cfg(not(unix))]
    let _ = pid;
}
