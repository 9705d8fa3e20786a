//! Locates the shared test data (real exchange captures and published indicator tables) that
//! live beside the project in `../shared` and are never copied into it. Tests find them through
//! `TICKWATCH_FIXTURES` and `TICKWATCH_VECTORS`, which `.ci/run` sets.

use std::path::PathBuf;

fn dir(var: &str) -> Option<PathBuf> {
    match std::env::var_os(var) {
        Some(p) if !p.is_empty() => {
            let path = PathBuf::from(p);
            if path.is_dir() {
                Some(path)
            } else {
                eprintln!("SKIPPED: {var}={} is not a directory", path.display());
                None
            }
        }
        _ => {
            eprintln!(
                "SKIPPED: {var} is not set; set it to ../shared/{} (as .ci/run does) to run this test",
                if var.ends_with("VECTORS") {
                    "vectors"
                } else {
                    "fixtures"
                }
            );
            None
        }
    }
}

/// `../shared/fixtures`, from `TICKWATCH_FIXTURES`; `None` (with a SKIPPED line) when unset.
pub fn fixtures() -> Option<PathBuf> {
    dir("TICKWATCH_FIXTURES")
}

/// `../shared/vectors`, from `TICKWATCH_VECTORS`; `None` (with a SKIPPED line) when unset.
pub fn vectors() -> Option<PathBuf> {
    dir("TICKWATCH_VECTORS")
}
