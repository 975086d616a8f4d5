//! No SQL text is ever assembled from values: every query is a literal.

use std::path::Path;

/// Variables allowed as a query's first argument: bound only to literals or constants.
const ALLOWED_NAMES: &[&str] = &["sql"];

/// A `const` (SCREAMING_CASE): fixed at compile time, so no value can reach it.
fn is_const(arg: &str) -> bool {
    let name = arg
        .find(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_'))
        .unwrap_or(arg.len());
    name > 1 && arg[name..].starts_with([')', ','])
}

fn check_source(path: &Path, text: &str, problems: &mut Vec<String>) {
    for call in [
        "query(",
        "query_as::<",
        "query_scalar::<",
        "query_as(",
        "query_scalar(",
        "raw_sql(",
        ".execute(\"",
        ".execute(format",
    ] {
        let mut rest = text;
        while let Some(i) = rest.find(call) {
            // sqlx's `query` is a free function: `uri.query()` or `path_and_query(` is not it.
            let method_or_longer_name = !call.starts_with('.')
                && rest[..i]
                    .chars()
                    .next_back()
                    .is_some_and(|c| c == '.' || c == '_' || c.is_ascii_alphanumeric());
            if method_or_longer_name {
                rest = &rest[i + call.len()..];
                continue;
            }
            let after = &rest[i + call.len()..];
            // Skip generic parameters, then look at the first argument.
            let arg = match call.ends_with('<') {
                true => after.split_once(">(").map(|(_, a)| a).unwrap_or(after),
                false => after,
            };
            let arg = arg.trim_start();
            // sqlx's own escape hatch, for test set-up only (CREATE DATABASE takes no binds).
            let test_escape = arg.starts_with("sqlx::AssertSqlSafe(")
                && path.components().any(|c| c.as_os_str() == "tests");
            let ok = test_escape
                || call.starts_with(".execute(\"")
                || arg.starts_with('"')
                || arg.starts_with("r\"")
                || arg.starts_with("r#\"")
                // `concat!` takes literals only.
                || arg.starts_with("concat!(")
                || is_const(arg)
                || ALLOWED_NAMES
                    .iter()
                    .any(|n| arg.starts_with(n) && arg[n.len()..].starts_with([')', ',']));
            if !ok || call == ".execute(format" {
                let line = text[..text.len() - rest.len() + i].lines().count() + 1;
                problems.push(format!(
                    "{}:{line}: query text is not a literal",
                    path.display()
                ));
            }
            rest = &rest[i + call.len()..];
        }
    }
    // format!/push_str with SQL keywords builds SQL from values (`concat!` cannot: it
    // takes literals only).
    for (n, line) in text.lines().enumerate() {
        let upper = line.to_ascii_uppercase();
        let sql = ["SELECT ", "INSERT ", "UPDATE ", "DELETE ", " WHERE "]
            .iter()
            .any(|k| upper.contains(k));
        if sql && (line.contains("format!(") || line.contains("push_str(")) {
            problems.push(format!(
                "{}:{}: SQL assembled with format!/push_str",
                path.display(),
                n + 1
            ));
        }
    }
}

fn scan(dir: &Path, problems: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            scan(&path, problems);
        } else if path.extension().is_some_and(|e| e == "rs") && !path.ends_with("sql_scan.rs") {
            check_source(&path, &std::fs::read_to_string(&path).unwrap(), problems);
        }
    }
}

#[test]
fn every_query_is_a_literal() {
    let mut problems = Vec::new();
    for dir in ["src", "tests"] {
        scan(
            &Path::new(env!("CARGO_MANIFEST_DIR")).join(dir),
            &mut problems,
        );
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn the_scanner_catches_assembled_sql() {
    let mut problems = Vec::new();
    let bad = r#"
        sqlx::query(&std::format!("SELECT * FROM users WHERE name = '{name}'"))
        sqlx::query_as::<_, Row>(text.as_str())
        let q = format!("DELETE FROM t WHERE id = {id}");
        sql.push_str(" WHERE x = ");
        sqlx::query(lookup_sql).bind(a)
        sqlx::query(Lookup).bind(a)
        query(text).bind(a)
    "#;
    check_source(Path::new("bad.rs"), bad, &mut problems);
    assert_eq!(problems.len(), 8, "{problems:#?}");
    let mut clean = Vec::new();
    check_source(
        Path::new("good.rs"),
        r#"sqlx::query("SELECT 1 WHERE a = $1").bind(a)
           sqlx::query(LOOKUP_2).bind(a)
           let q = parts.uri.query(); let p = uri.path_and_query(text);
           sqlx::query_as::<_, (i64, i64)>(concat!(rate_upsert!(), " RETURNING a")).bind(a)"#,
        &mut clean,
    );
    assert!(clean.is_empty(), "{clean:?}");
}
