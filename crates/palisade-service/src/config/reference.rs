//! The book's configuration reference and the Debian package's commented configuration file
//! are generated from the settings' own definitions (their doc comments, defaults and
//! environment names). This test fails when either has drifted from them;
//! `PALISADE_BLESS=1 cargo test -p palisade-service config::reference` rewrites both.

use std::path::PathBuf;

use super::{Config, ENV_KEYS};

/// One setting as its struct declares it.
struct Setting {
    name: String,
    doc: String,
    default: Option<String>,
    env: bool,
}

/// The `pub name: Type` fields of `struct_name` in `source`, with their `///` docs.
fn fields(source: &str, struct_name: &str) -> Vec<(String, String)> {
    let start = source
        .find(&format!("pub struct {struct_name} {{"))
        .unwrap_or_else(|| panic!("{struct_name} not found"));
    let body = &source[start..];
    let body = &body[..body.find("\n}\n").expect("the struct ends")];
    let mut out = Vec::new();
    let mut doc: Vec<&str> = Vec::new();
    for line in body.lines().skip(1) {
        let line = line.trim();
        if let Some(text) = line.strip_prefix("///") {
            doc.push(text.trim());
        } else if let Some(field) = line.strip_prefix("pub ") {
            let name = field.split(':').next().unwrap().trim().to_owned();
            out.push((name, doc.join(" ")));
            doc.clear();
        }
    }
    out
}

/// A default as TOML writes it; `None` when unset.
fn toml_value(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::Null => None,
        serde_json::Value::Array(items) => Some(format!(
            "[{}]",
            items
                .iter()
                .filter_map(toml_value)
                .collect::<Vec<_>>()
                .join(", ")
        )),
        other => Some(other.to_string()),
    }
}

fn settings(
    source: &str,
    struct_name: &str,
    defaults: &serde_json::Value,
    env: bool,
) -> Vec<Setting> {
    fields(source, struct_name)
        .into_iter()
        .map(|(name, doc)| {
            let default = match name.as_str() {
                // Depends on the machine it runs on.
                "hash_concurrency" => Some("the number of CPU cores".to_owned()),
                _ => defaults.get(&name).and_then(toml_value),
            };
            Setting {
                env: env && ENV_KEYS.contains(&name.as_str()),
                name,
                doc,
                default,
            }
        })
        .collect()
}

/// Tables documented elsewhere, or in their own section.
const TABLES: [&str; 2] = ["access_control", "oidc"];

fn sections() -> Vec<(&'static str, Vec<Setting>)> {
    let defaults = serde_json::to_value(Config::default()).unwrap();
    let top: Vec<_> = settings(include_str!("mod.rs"), "Config", &defaults, true)
        .into_iter()
        .filter(|s| !TABLES.contains(&s.name.as_str()))
        .collect();
    let access = settings(
        include_str!("../authz/settings.rs"),
        "AccessControl",
        &defaults["access_control"],
        false,
    )
    .into_iter()
    .filter(|s| s.name != "rules")
    .collect();
    let oidc = settings(
        include_str!("../oidc/settings.rs"),
        "OidcSettings",
        &defaults["oidc"],
        false,
    )
    .into_iter()
    .filter(|s| s.name != "clients")
    .collect();
    vec![("", top), ("access_control", access), ("oidc", oidc)]
}

fn markdown() -> String {
    let mut out = String::from(
        "<!-- Generated from crates/palisade-service/src/config/ by the config::reference test: edit the doc comments there, then run it with PALISADE_BLESS=1. -->\n",
    );
    for (table, settings) in sections() {
        if table.is_empty() {
            out.push_str("\n## Top-level settings\n");
        } else {
            out.push_str(&format!("\n## `[{table}]`\n"));
        }
        for s in settings {
            out.push_str(&format!("\n### `{}`\n\n{}\n\n", s.name, s.doc));
            match &s.default {
                Some(value) if s.name == "hash_concurrency" => {
                    out.push_str(&format!("Default: {value}."))
                }
                Some(value) => out.push_str(&format!("Default: `{value}`.")),
                None => out.push_str("Default: unset."),
            }
            if s.env {
                out.push_str(&format!(
                    " Environment: `PALISADE_{}`.",
                    s.name.to_ascii_uppercase()
                ));
            }
            out.push('\n');
        }
    }
    out
}

/// Wraps a doc comment into `# ` lines of at most 90 columns.
fn comment(text: &str) -> String {
    let mut out = String::new();
    let mut line = String::from("#");
    for word in text.split_whitespace() {
        if line.len() + word.len() + 1 > 90 {
            out.push_str(&line);
            out.push('\n');
            line = String::from("#");
        }
        line.push(' ');
        line.push_str(word);
    }
    out.push_str(&line);
    out.push('\n');
    out
}

fn commented_toml() -> String {
    let mut out = String::from(
        "# palisade's configuration (/etc/palisade/palisade.toml). Every setting is shown with\n\
         # its default, commented out: palisade serves safely with none of them. The service\n\
         # unit passes --data-dir /var/lib/palisade, which wins over data_dir here.\n\
         # Check a change with `palisade config check --config /etc/palisade/palisade.toml`.\n\
         # Generated from the settings' definitions (see the book's configuration reference).\n",
    );
    for (table, settings) in sections() {
        if !table.is_empty() {
            out.push_str(&format!("\n#[{table}]\n"));
        }
        for s in settings {
            out.push('\n');
            out.push_str(&comment(&s.doc));
            match &s.default {
                Some(_) if s.name == "hash_concurrency" => {
                    out.push_str("# Default: the number of CPU cores.\n")
                }
                Some(value) => out.push_str(&format!("#{} = {value}\n", s.name)),
                None => out.push_str(&format!("# {}: unset by default.\n", s.name)),
            }
        }
    }
    out
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Compares `path` with `generated`, or rewrites it under `PALISADE_BLESS=1`.
fn check(relative: &str, generated: &str, marker: Option<&str>) {
    let path = root().join(relative);
    let current = std::fs::read_to_string(&path).unwrap_or_default();
    let (head, body) = match marker {
        Some(marker) => {
            let at = current
                .find(marker)
                .unwrap_or_else(|| panic!("{relative} lacks the line {marker:?}"));
            (&current[..at + marker.len()], &current[at + marker.len()..])
        }
        None => ("", current.as_str()),
    };
    let wanted = if marker.is_some() {
        format!("\n{generated}")
    } else {
        generated.to_owned()
    };
    if body == wanted {
        return;
    }
    if std::env::var_os("PALISADE_BLESS").is_some() {
        std::fs::write(&path, format!("{head}{wanted}")).unwrap();
        return;
    }
    panic!(
        "{relative} has drifted from the settings' definitions: run PALISADE_BLESS=1 cargo test -p palisade-service config::reference"
    );
}

#[test]
fn the_reference_and_the_packaged_file_match_the_settings() {
    let markdown = markdown();
    // Every setting is in it, and its environment name where it has one.
    for name in ENV_KEYS {
        assert!(markdown.contains(&format!("### `{name}`")), "{name}");
    }
    check(
        "book/src/reference/configuration.md",
        &markdown,
        Some("<!-- generated below -->"),
    );
    check("deploy/debian/palisade.toml", &commented_toml(), None);
}

#[test]
fn the_packaged_file_is_valid_as_it_is_and_uncommented() {
    let text = commented_toml();
    let empty: toml::Table = text.parse().unwrap();
    assert!(empty.is_empty());
    // Uncommenting every default gives a configuration that loads, to the same defaults.
    let uncommented: String = text
        .lines()
        .filter_map(|l| {
            l.strip_prefix('#')
                .filter(|rest| !rest.starts_with(' ') && !rest.is_empty())
        })
        .map(|l| format!("{l}\n"))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("all.toml");
    std::fs::write(&file, &uncommented).unwrap();
    let loaded = Config::load(Some(&file), super::Overrides::default()).unwrap();
    assert_eq!(loaded.listen, Config::default().listen);
    assert_eq!(
        loaded.session_idle_minutes,
        Config::default().session_idle_minutes
    );
}
