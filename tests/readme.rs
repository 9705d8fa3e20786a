#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The README is part of the product: it must document the real schema, the shipped config must
//! be valid, and the quick start must stay two commands.

use std::path::Path;

fn readme() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap()
}

#[test]
fn readme_documents_the_current_schema() {
    assert!(
        readme().contains(tickwatch::store::SCHEMA_DOC.trim()),
        "paste store::SCHEMA_DOC into README.md"
    );
    assert!(
        readme().contains(tickwatch::store::postgres::SCHEMA_DOC.trim()),
        "paste store::postgres::SCHEMA_DOC into README.md"
    );
}

#[test]
fn quick_start_is_exactly_two_commands() {
    let text = readme();
    let start = text.find("## Quick start").unwrap();
    let block = &text[start..];
    let code = block.split("```").nth(1).unwrap();
    let cmds: Vec<&str> = code
        .lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert_eq!(cmds.len(), 2, "{cmds:?}");
    assert!(cmds[0].starts_with("cargo run --release"));
    assert!(cmds[1].starts_with("cargo test"));
}

#[test]
fn the_shipped_config_is_valid_and_in_the_readme() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    tickwatch::config::Config::parse(&text, &path).unwrap();
    assert!(
        readme().contains(text.trim()),
        "the README's config section must show config.toml"
    );
}

#[test]
fn readme_lists_every_key() {
    let table = tickwatch::ui::Keymap::default().markdown();
    assert!(
        readme().contains(table.trim()),
        "paste Keymap::default().markdown() into README.md:\n{table}"
    );
}
