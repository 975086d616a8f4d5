//! `palisade csp check`: judge a Content-Security-Policy offline.

use std::io::Read;
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use palisade::csp_eval::{Report, Severity, evaluate, observatory_expectation};
use serde_json::json;

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum Format {
    Text,
    Json,
    Sarif,
}

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum FailOn {
    Info,
    Low,
    Medium,
    High,
}

#[derive(Args)]
pub(crate) struct CheckArgs {
    /// The policy (a header value), or `-` to read it from standard input.
    policy: String,
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// Exit 1 when a finding is at least this severe.
    #[arg(long, value_enum, default_value = "high")]
    fail_on: FailOn,
}

fn sarif_level(s: Severity) -> &'static str {
    match s {
        Severity::High => "error",
        Severity::Medium => "warning",
        Severity::Low | Severity::Info => "note",
    }
}

pub(crate) fn sarif(report: &Report, policy: &str) -> serde_json::Value {
    let mut rules: Vec<&str> = report.findings.iter().map(|f| f.id).collect();
    rules.sort_unstable();
    rules.dedup();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "palisade csp check",
                "version": env!("CARGO_PKG_VERSION"),
                "rules": rules.iter().map(|id| {
                    let first = report.findings.iter().find(|f| f.id == *id).expect("listed");
                    json!({"id": id, "shortDescription": {"text": first.message}, "help": {"text": first.fix},
                           "defaultConfiguration": {"level": sarif_level(first.severity)}})
                }).collect::<Vec<_>>(),
            }},
            "artifacts": [{"location": {"uri": "policy"}, "contents": {"text": policy}}],
            "results": report.findings.iter().map(|f| json!({
                "ruleId": f.id,
                "level": sarif_level(f.severity),
                "message": {"text": format!("{}: {} Fix: {}", f.directive, f.message, f.fix)},
                "properties": {"severity": f.severity.as_str(), "directive": f.directive},
            })).collect::<Vec<_>>(),
        }],
    })
}

pub(crate) fn run(args: CheckArgs) -> Result<ExitCode, String> {
    let policy = if args.policy == "-" {
        let mut text = String::new();
        std::io::stdin()
            .take(64 * 1024)
            .read_to_string(&mut text)
            .map_err(|e| format!("standard input: {e}"))?;
        text
    } else {
        args.policy
    };
    let report = evaluate(policy.trim());
    match args.format {
        Format::Text => {
            if report.findings.is_empty() {
                println!("no findings");
            }
            println!(
                "MDN Observatory category (served over HTTPS): {}",
                observatory_expectation(policy.trim(), true)
            );
            for f in &report.findings {
                println!(
                    "{:<6} {:<30} {}: {}\n       fix: {}",
                    f.severity.as_str(),
                    f.id,
                    f.directive,
                    f.message,
                    f.fix
                );
            }
        }
        Format::Json => {
            let findings: Vec<_> = report
                .findings
                .iter()
                .map(|f| json!({"severity": f.severity.as_str(), "id": f.id, "directive": f.directive, "message": f.message, "fix": f.fix}))
                .collect();
            let policies: Vec<_> = report
                .policies
                .iter()
                .map(|p| {
                    p.directives
                        .iter()
                        .map(|d| (d.name.clone(), json!(d.values)))
                        .collect::<serde_json::Map<_, _>>()
                })
                .collect();
            let observatory = observatory_expectation(policy.trim(), true);
            println!(
                "{}",
                json!({"policies": policies, "findings": findings, "observatory": observatory})
            );
        }
        Format::Sarif => println!("{}", sarif(&report, &policy)),
    }
    let threshold = match args.fail_on {
        FailOn::Info => Severity::Info,
        FailOn::Low => Severity::Low,
        FailOn::Medium => Severity::Medium,
        FailOn::High => Severity::High,
    };
    Ok(if report.worst().is_some_and(|w| w >= threshold) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
