//! `tickwatch init`: writes the shipped, commented config.toml where tickwatch looks for it, so
//! that a user who installed only the binary has a file to edit.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;

/// `config.toml` in the platform config directory (`~/.config/tickwatch` on Linux).
pub(super) fn default_path() -> Option<PathBuf> {
    directories::ProjectDirs::from("", "", "tickwatch").map(|d| d.config_dir().join("config.toml"))
}

pub(super) fn run(path: Option<&Path>, force: bool) -> anyhow::Result<()> {
    let path = match path {
        Some(p) => p.to_path_buf(),
        None => default_path().context(
            "no platform config directory (is HOME set?); give a path: tickwatch init PATH",
        )?,
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the directory {}", dir.display()))?;
    }
    let mut open = std::fs::OpenOptions::new();
    open.write(true);
    if force {
        open.create(true).truncate(true);
    } else {
        // never replace a file the user may have edited
        open.create_new(true);
    }
    let mut file = match open.open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => anyhow::bail!(
            "{} already exists and was left as it is; pass --force to replace it with the shipped config",
            path.display()
        ),
        Err(e) => {
            return Err(e).with_context(|| format!("cannot write {}", path.display()));
        }
    };
    file.write_all(crate::config::SHIPPED.as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("cannot write {}", path.display()))?;
    println!(
        "wrote {}: edit it, then check it with `tickwatch check-config`",
        path.display()
    );
    Ok(())
}
