//! The real binary in a real terminal: tmux runs tickwatch detached, `send-keys` types and
//! `capture-pane` reads the screen. `start*` return None (after saying SKIPPED) where tmux is
//! not installed.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

pub struct Tmux {
    socket: String,
}

impl Tmux {
    pub fn cmd(&self) -> Command {
        let mut c = Command::new("tmux");
        c.args(["-L", &self.socket]);
        c
    }
    pub fn capture(&self) -> String {
        let out = self
            .cmd()
            .args(["capture-pane", "-p", "-t", "tw"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
    pub fn keys(&self, keys: &[&str]) {
        let mut c = self.cmd();
        c.args(["send-keys", "-t", "tw"]).args(keys);
        assert!(c.status().unwrap().success());
    }
    /// Waits until the screen satisfies `pred`; returns the last capture either way.
    pub fn wait_for(&self, what: &str, timeout: Duration, pred: impl Fn(&str) -> bool) -> String {
        let end = Instant::now() + timeout;
        loop {
            let screen = self.capture();
            if pred(&screen) {
                return screen;
            }
            if Instant::now() > end {
                panic!("timed out waiting for {what}; screen:\n{screen}");
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.cmd().arg("kill-server").status();
    }
}

/// Runs `tickwatch --demo --db DB` in a detached tmux session of the given size.
pub fn start(dir: &Path, width: u16, height: u16, db: &str) -> Option<(Tmux, PathBuf)> {
    start_with(dir, width, height, &format!("--demo --db '{db}'"), "")
}

/// Runs `tickwatch ARGS` (shell words, quoted by the caller) with `ENV` (e.g. `NO_COLOR=1 `)
/// in a detached tmux session of the given size, in `dir` with its own data and config
/// directories; returns the file its exit code lands in.
pub fn start_with(
    dir: &Path,
    width: u16,
    height: u16,
    args: &str,
    env: &str,
) -> Option<(Tmux, PathBuf)> {
    if Command::new("tmux").arg("-V").output().is_err() {
        super::cannot_run("tmux is not installed (apt-get install tmux, as .ci/run does)");
        return None;
    }
    let bin = assert_cmd::cargo::cargo_bin("tickwatch");
    let exit_file = dir.join("exit");
    let script = format!(
        "cd '{d}' && {env}XDG_DATA_HOME='{d}/data' XDG_CONFIG_HOME='{d}/cfg' '{bin}' {args} --log-file '{d}/tw.log'; echo $? > '{e}'; sleep 30",
        d = dir.display(),
        bin = bin.display(),
        e = exit_file.display()
    );
    let t = Tmux {
        socket: format!(
            "tickwatch-test-{}-{}x{}-{}",
            std::process::id(),
            width,
            height,
            NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ),
    };
    let ok = t
        .cmd()
        .args([
            "new-session",
            "-d",
            "-s",
            "tw",
            "-x",
            &width.to_string(),
            "-y",
            &height.to_string(),
        ])
        .args(["-e", "TERM=xterm-256color", "sh", "-c", &script])
        .status()
        .unwrap();
    assert!(ok.success());
    Some((t, exit_file))
}

pub fn wait_exit(exit_file: &Path) -> i32 {
    let end = Instant::now() + Duration::from_secs(20);
    while Instant::now() < end {
        // the shell creates the file before it writes the status: an empty file is not yet it
        if let Ok(s) = std::fs::read_to_string(exit_file)
            && let Ok(code) = s.trim().parse()
        {
            return code;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    // what the program was doing when it did not stop: the end of its log
    let log = exit_file
        .parent()
        .and_then(|d| std::fs::read_to_string(d.join("tw.log")).ok())
        .unwrap_or_default();
    let tail: Vec<&str> = log.lines().rev().take(30).collect();
    let tail: Vec<&str> = tail.into_iter().rev().collect();
    panic!(
        "tickwatch did not exit within 20 s; the end of its log:\n{}",
        tail.join("\n")
    );
}
