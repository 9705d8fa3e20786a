//! Locates the shared test data (real exchange captures and published indicator tables) that
//! live beside the project in `../shared` and are never copied into it. Tests find them through
//! `TICKWATCH_FIXTURES` and `TICKWATCH_VECTORS`, which `.ci/run` sets.

use std::path::PathBuf;

/// A check that cannot run here (no shared data, no tmux, no TA-Lib...): it says SKIPPED on a
/// developer's machine, and panics under CI (`CI=true` or `CI=1`), so that a green CI run
/// always means every check really ran.
pub fn cannot_run(why: &str) {
    if under_ci() {
        panic!("this check must run under CI but cannot: {why}");
    }
    eprintln!("SKIPPED: {why}");
}

/// Whether this process runs under CI (`CI=true` or `CI=1`, as CI services set it).
pub fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v.eq_ignore_ascii_case("true") || v == "1")
}

fn dir(var: &str) -> Option<PathBuf> {
    match std::env::var_os(var) {
        Some(p) if !p.is_empty() => {
            let path = PathBuf::from(p);
            if path.is_dir() {
                Some(path)
            } else {
                cannot_run(&format!("{var}={} is not a directory", path.display()));
                None
            }
        }
        _ => {
            cannot_run(&format!(
                "{var} is not set; set it to ../shared/{} (as .ci/run does) to run this test",
                if var.ends_with("VECTORS") {
                    "vectors"
                } else {
                    "fixtures"
                }
            ));
            None
        }
    }
}

/// `../shared/fixtures`, from `TICKWATCH_FIXTURES`; `None` (with a SKIPPED line) when unset,
/// a panic under CI.
pub fn fixtures() -> Option<PathBuf> {
    dir("TICKWATCH_FIXTURES")
}

/// The text of the fixture `rel` under `dir` (from [`fixtures`]); a missing or unreadable one is
/// a panic that names it (the shared files are a few MB at most).
pub fn fixture_text(dir: &std::path::Path, rel: &str) -> String {
    std::fs::read_to_string(dir.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// `../shared/vectors`, from `TICKWATCH_VECTORS`; `None` (with a SKIPPED line) when unset,
/// a panic under CI.
pub fn vectors() -> Option<PathBuf> {
    dir("TICKWATCH_VECTORS")
}

#[cfg(test)]
mod tests {
    use std::process::Command;

    /// Run only as the child of the test below: a test that needs the fixtures.
    #[test]
    #[ignore = "helper: runs only as the child of missing_fixtures_skip_locally_and_fail_under_ci"]
    fn child_needs_fixtures() {
        // under CI a missing directory panics here; locally it says SKIPPED
        let _ = super::fixtures();
    }

    fn run_child(ci: Option<&str>) -> std::process::Output {
        let exe = std::env::current_exe().unwrap_or_else(|e| panic!("{e}"));
        let mut c = Command::new(exe);
        c.args([
            "--exact",
            "testdata::tests::child_needs_fixtures",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env_remove("TICKWATCH_FIXTURES")
        .env_remove("CI");
        if let Some(v) = ci {
            c.env("CI", v);
        }
        c.output().unwrap_or_else(|e| panic!("{e}"))
    }

    /// A test without its shared data passes with SKIPPED on a developer's machine and fails
    /// under CI, so that a green CI run means the check ran.
    #[test]
    fn missing_fixtures_skip_locally_and_fail_under_ci() {
        let local = run_child(None);
        let out = String::from_utf8_lossy(&local.stderr).to_string()
            + &String::from_utf8_lossy(&local.stdout);
        assert!(local.status.success(), "{out}");
        assert!(
            out.contains("SKIPPED: TICKWATCH_FIXTURES is not set"),
            "{out}"
        );
        assert!(out.contains("1 passed"), "the child did not run: {out}");
        for ci in ["true", "1"] {
            let under_ci = run_child(Some(ci));
            let out = String::from_utf8_lossy(&under_ci.stderr).to_string()
                + &String::from_utf8_lossy(&under_ci.stdout);
            assert!(!under_ci.status.success(), "CI={ci}: {out}");
            assert!(out.contains("must run under CI"), "CI={ci}: {out}");
        }
    }
}
