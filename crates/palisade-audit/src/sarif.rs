//! SARIF 2.1.0: one rule per advisory, each result at the package's line in its lockfile.

use serde_json::{Value, json};

use crate::{Finding, Severity};

fn level(f: &Finding) -> &'static str {
    match (f.informational.is_some(), f.severity) {
        (true, _) => "note",
        (false, Severity::Critical | Severity::High | Severity::Unknown) => "error",
        (false, Severity::Medium) => "warning",
        (false, Severity::Low) => "note",
    }
}

/// The SARIF log for `findings`.
pub fn sarif(findings: &[Finding]) -> Value {
    let mut rules: Vec<&Finding> = Vec::new();
    for f in findings {
        if !rules.iter().any(|r| r.id == f.id) {
            rules.push(f);
        }
    }
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "palisade audit",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules.iter().map(|f| {
                    let mut rule = json!({
                        "id": f.id,
                        "shortDescription": {"text": f.title},
                        "help": {"text": if f.fixed_in.is_empty() { "No fixed version is published.".to_owned() } else { format!("Upgrade to {}.", f.fixed_in.join(" or ")) }},
                        "defaultConfiguration": {"level": level(f)},
                        "properties": {"tags": ["security", f.ecosystem]},
                    });
                    if let Some(score) = f.cvss_score {
                        rule["properties"]["security-severity"] = json!(format!("{score:.1}"));
                    }
                    rule
                }).collect::<Vec<_>>(),
            }},
            "results": findings.iter().map(|f| json!({
                "ruleId": f.id,
                "level": level(f),
                "message": {"text": format!("{} {} is affected by {}: {}{}", f.package, f.version, f.id, f.title,
                    if f.aliases.is_empty() { String::new() } else { format!(" ({})", f.aliases.join(", ")) })},
                "locations": [{"physicalLocation": {
                    "artifactLocation": {"uri": f.lockfile.to_string_lossy()},
                    "region": {"startLine": f.line.unwrap_or(1)},
                }}],
                "properties": {"severity": f.severity.as_str(), "informational": f.informational},
            })).collect::<Vec<_>>(),
        }],
    })
}
