//! `palisade audit`: lockfiles against local advisory databases (Cargo.lock against a
//! RustSec advisory-db checkout in this version).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use palisade_audit::{Finding, RustSecDb, Severity, audit_cargo, sarif};
use serde_json::json;

use crate::csp_cli::Format;

#[derive(Clone, Copy, ValueEnum)]
pub(crate) enum FailOn {
    Low,
    Medium,
    High,
    Critical,
    Any,
}

#[derive(Args)]
pub(crate) struct AuditArgs {
    /// Lockfiles, or directories to search for Cargo.lock (default: the current directory).
    paths: Vec<PathBuf>,
    /// A RustSec advisory-db checkout (also PALISADE_ADVISORY_DB, comma-separated).
    #[arg(long = "db", value_name = "DIR")]
    dbs: Vec<PathBuf>,
    #[arg(long, value_enum, default_value = "text")]
    format: Format,
    /// Write the report here instead of standard output.
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Exit 1 when a vulnerability is at least this severe (`any`: every vulnerability,
    /// whatever its score). Informational advisories never fail the run.
    #[arg(long, value_enum, default_value = "any")]
    fail_on: FailOn,
    /// Advisory ids to leave out.
    #[arg(long = "ignore", value_name = "ID")]
    ignore: Vec<String>,
}

fn find_lockfiles(path: &Path, depth: usize, out: &mut Vec<PathBuf>) -> Result<(), String> {
    if path.is_file() {
        out.push(path.to_owned());
        return Ok(());
    }
    let entries = std::fs::read_dir(path).map_err(|e| format!("{}: {e}", path.display()))?;
    for entry in entries.flatten() {
        let p = entry.path();
        let name = entry.file_name();
        if p.is_dir()
            && depth > 0
            && !matches!(name.to_str(), Some("target" | ".git" | "node_modules"))
        {
            find_lockfiles(&p, depth - 1, out)?;
        } else if name == "Cargo.lock" {
            out.push(p);
        }
    }
    Ok(())
}

pub(crate) fn run(args: AuditArgs) -> Result<ExitCode, String> {
    let mut dbs = args.dbs.clone();
    if dbs.is_empty()
        && let Ok(env) = std::env::var("PALISADE_ADVISORY_DB")
    {
        dbs.extend(env.split(',').filter(|s| !s.is_empty()).map(PathBuf::from));
    }
    if dbs.is_empty() {
        return Err("no advisory database: give --db DIR (a RustSec advisory-db checkout) or set PALISADE_ADVISORY_DB".into());
    }
    let dbs = dbs
        .iter()
        .map(|d| RustSecDb::open(d).map_err(|e| e.to_string()))
        .collect::<Result<Vec<_>, _>>()?;
    let paths = if args.paths.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        args.paths.clone()
    };
    let mut lockfiles = Vec::new();
    for p in &paths {
        find_lockfiles(p, 4, &mut lockfiles)?;
    }
    if lockfiles.is_empty() {
        return Err(format!(
            "no Cargo.lock found under {}",
            paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let mut findings: Vec<Finding> = Vec::new();
    for lockfile in &lockfiles {
        if lockfile.file_name().is_none_or(|n| n != "Cargo.lock") {
            return Err(format!(
                "{}: unknown lockfile format (this version reads Cargo.lock)",
                lockfile.display()
            ));
        }
        for db in &dbs {
            for f in audit_cargo(lockfile, db).map_err(|e| e.to_string())? {
                if !args.ignore.contains(&f.id)
                    && !findings.iter().any(|g| {
                        g.id == f.id
                            && g.package == f.package
                            && g.version == f.version
                            && g.lockfile == f.lockfile
                    })
                {
                    findings.push(f);
                }
            }
        }
    }
    let rendered = match args.format {
        Format::Sarif => sarif(&findings).to_string(),
        Format::Json => json!({
            "lockfiles": lockfiles.iter().map(|l| l.to_string_lossy()).collect::<Vec<_>>(),
            "findings": findings.iter().map(|f| json!({
                "ecosystem": f.ecosystem, "package": f.package, "version": f.version, "id": f.id, "aliases": f.aliases,
                "title": f.title, "severity": f.severity.as_str(), "cvss_score": f.cvss_score, "fixed_in": f.fixed_in,
                "informational": f.informational, "lockfile": f.lockfile.to_string_lossy(), "line": f.line,
            })).collect::<Vec<_>>(),
        })
        .to_string(),
        Format::Text => {
            let mut text = format!("{:<28} {:<16} {:<20} {:<9} {}\n", "package", "version", "advisory", "severity", "fixed in");
            for f in &findings {
                let severity = f.informational.clone().unwrap_or_else(|| f.severity.as_str().to_owned());
                text.push_str(&format!("{:<28} {:<16} {:<20} {:<9} {}\n", f.package, f.version, f.id, severity, if f.fixed_in.is_empty() { "-".to_owned() } else { f.fixed_in.join(", ") }));
            }
            let vulns = findings.iter().filter(|f| f.informational.is_none()).count();
            text.push_str(&format!("{} lockfile(s): {vulns} vulnerabilities, {} informational\n", lockfiles.len(), findings.len() - vulns));
            text
        }
    };
    match &args.output {
        Some(path) => std::fs::write(path, rendered.as_bytes())
            .map_err(|e| format!("{}: {e}", path.display()))?,
        None => print!(
            "{rendered}{}",
            if rendered.ends_with('\n') { "" } else { "\n" }
        ),
    }
    let threshold = match args.fail_on {
        FailOn::Any => Severity::Unknown,
        FailOn::Low => Severity::Low,
        FailOn::Medium => Severity::Medium,
        FailOn::High => Severity::High,
        FailOn::Critical => Severity::Critical,
    };
    let failing = findings.iter().any(|f| {
        f.informational.is_none()
            && (matches!(args.fail_on, FailOn::Any) || f.severity >= threshold)
    });
    Ok(if failing {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
