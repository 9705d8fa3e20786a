//! The Dockerfile cannot be built here (no Docker engine), so it is held to what can be checked
//! without one: its command lines are ones tickwatch accepts, what it copies exists, it runs as
//! a non-root user, and its health check asks the port the image's config serves.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::Path;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The Dockerfile's instructions, continuation lines joined.
fn instructions() -> Vec<(String, String)> {
    let text = std::fs::read_to_string(root().join("Dockerfile")).unwrap();
    let mut out = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') || (line.is_empty() && current.is_empty()) {
            continue;
        }
        if let Some(part) = line.strip_suffix('\\') {
            current.push_str(part);
            current.push(' ');
            continue;
        }
        current.push_str(line);
        let (op, rest) = current.split_once(' ').unwrap();
        out.push((op.to_string(), rest.trim().to_string()));
        current.clear();
    }
    out
}

fn one(op: &str) -> Vec<String> {
    instructions()
        .into_iter()
        .filter(|(o, _)| o == op)
        .map(|(_, r)| r)
        .collect()
}

/// An exec-form (JSON array) argument list.
fn exec_form(s: &str) -> Vec<String> {
    serde_json::from_str(s).unwrap_or_else(|e| panic!("not a JSON array ({e}): {s}"))
}

/// Runs tickwatch with `args` and `--help`: clap rejects an unknown flag or command before it
/// prints help, so success means the command line is one tickwatch accepts.
fn accepted(args: &[String]) {
    let dir = tempfile::tempdir().unwrap();
    let out = support::tickwatch_cmd(dir.path())
        .args(args)
        .arg("--help")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn the_dockerfile_runs_commands_tickwatch_accepts_as_a_non_root_user() {
    let from = one("FROM");
    assert_eq!(from.len(), 2, "two stages: {from:?}");
    assert!(from[0].starts_with("rust:1-bookworm AS "), "{from:?}");
    assert_eq!(from[1], "debian:bookworm-slim");

    let user = one("USER");
    assert_eq!(user.len(), 1);
    assert!(!["root", "0"].contains(&user[0].as_str()), "{user:?}");

    assert_eq!(exec_form(&one("ENTRYPOINT")[0]), ["tickwatch"]);
    let cmd = exec_form(&one("CMD")[0]);
    assert_eq!(cmd[0], "record");
    accepted(&cmd);

    // HEALTHCHECK [options] CMD ["tickwatch", "healthcheck", ...]
    let health = one("HEALTHCHECK");
    let check = exec_form(health[0].split_once("CMD ").unwrap().1);
    assert_eq!(check[..2], ["tickwatch", "healthcheck"]);
    accepted(&check[1..]);

    // it asks the port the image's config serves, which the image exposes
    let addr = &check[check.iter().position(|a| a == "--addr").unwrap() + 1];
    let port = addr.rsplit(':').next().unwrap();
    assert_eq!(one("EXPOSE"), [port]);
    let config = std::fs::read_to_string(root().join("assets/container.toml")).unwrap();
    assert!(
        config.contains(&format!("listen = \"0.0.0.0:{port}\"")),
        "{config}"
    );

    // what it copies from the build context exists (the stage copy excepted)
    for copy in one("COPY").iter().filter(|c| !c.starts_with("--from")) {
        let parts: Vec<&str> = copy.split_whitespace().collect();
        for src in &parts[..parts.len() - 1] {
            assert!(root().join(src).exists(), "COPY {src}: no such file");
        }
    }
    // and the build output never goes into the build context
    let ignore = std::fs::read_to_string(root().join(".dockerignore")).unwrap();
    assert!(ignore.lines().any(|l| l.trim() == "target"), "{ignore}");
}
