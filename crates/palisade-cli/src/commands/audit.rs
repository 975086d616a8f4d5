//! `palisade audit`: lockfiles against local advisory databases (Cargo.lock against a
//! RustSec advisory-db checkout in this version).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use palisade_audit::python::{self, OsvDb, PyPackage};
use palisade_audit::{Finding, RustSecDb, Severity, audit_cargo, sarif};
use serde_json::json;

use crate::commands::csp::Format;

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

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Cargo,
    Requirements,
    Pipfile,
    Poetry,
}

fn kind(path: &Path) -> Option<Kind> {
    let name = path.file_name()?.to_str()?;
    match name {
        "Cargo.lock" => Some(Kind::Cargo),
        "Pipfile.lock" => Some(Kind::Pipfile),
        "poetry.lock" => Some(Kind::Poetry),
        n if n.starts_with("requirements") && n.ends_with(".txt") => Some(Kind::Requirements),
        _ => None,
    }
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
        } else if kind(&p).is_some() {
            out.push(p);
        }
    }
    Ok(())
}

pub(crate) fn run(args: AuditArgs) -> Result<ExitCode, String> {
    let (rustsec, osv) = open_databases(&args.dbs)?;
    let lockfiles = lockfiles(&args.paths)?;
    let mut report = Report::default();
    for lockfile in &lockfiles {
        audit_one(lockfile, &rustsec, &osv, &args.ignore, &mut report)?;
    }
    let rendered = render(
        args.format,
        &lockfiles,
        &report.findings,
        &report.not_audited,
    );
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
    let failing = report.findings.iter().any(|f| {
        f.informational.is_none()
            && (matches!(args.fail_on, FailOn::Any) || f.severity >= threshold)
    });
    Ok(if failing {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// The databases named by `--db` (or `PALISADE_ADVISORY_DB`): RustSec checkouts (they have
/// `crates/`) and OSV directories.
fn open_databases(given: &[PathBuf]) -> Result<(Vec<RustSecDb>, Vec<OsvDb>), String> {
    let mut dbs = given.to_vec();
    if dbs.is_empty()
        && let Ok(env) = std::env::var("PALISADE_ADVISORY_DB")
    {
        dbs.extend(env.split(',').filter(|s| !s.is_empty()).map(PathBuf::from));
    }
    if dbs.is_empty() {
        return Err("no advisory database: give --db DIR (a RustSec advisory-db checkout) or set PALISADE_ADVISORY_DB".into());
    }
    let (mut rustsec, mut osv) = (Vec::new(), Vec::new());
    for d in &dbs {
        if d.join("crates").is_dir() {
            rustsec.push(RustSecDb::open(d).map_err(|e| e.to_string())?);
        } else {
            osv.push(OsvDb::open(d).map_err(|e| e.to_string())?);
        }
    }
    Ok((rustsec, osv))
}

/// Every lockfile named, or found under the directories named (default `.`).
fn lockfiles(given: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let paths = if given.is_empty() {
        vec![PathBuf::from(".")]
    } else {
        given.to_vec()
    };
    let mut lockfiles = Vec::new();
    for p in &paths {
        find_lockfiles(p, 4, &mut lockfiles)?;
    }
    if lockfiles.is_empty() {
        let names: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
        return Err(format!("no lockfile found under {}", names.join(", ")));
    }
    Ok(lockfiles)
}

/// What the run found, without duplicates.
#[derive(Default)]
struct Report {
    findings: Vec<Finding>,
    not_audited: Vec<PyPackage>,
}

impl Report {
    fn keep(&mut self, f: Finding, ignore: &[String]) {
        let seen = self.findings.iter().any(|g| {
            g.id == f.id
                && g.package == f.package
                && g.version == f.version
                && g.lockfile == f.lockfile
        });
        if !ignore.contains(&f.id) && !seen {
            self.findings.push(f);
        }
    }
}

/// The advisories a Rust project has accepted in cargo-audit's own file,
/// `.cargo/audit.toml` beside its `Cargo.lock` (`[advisories] ignore = [...]`), so that one
/// reviewed list serves both tools. Each is named on stderr: an accepted risk stays visible.
fn accepted_advisories(lockfile: &Path) -> Result<Vec<String>, String> {
    #[derive(serde::Deserialize)]
    struct AuditToml {
        #[serde(default)]
        advisories: Advisories,
    }
    #[derive(serde::Deserialize, Default)]
    struct Advisories {
        #[serde(default)]
        ignore: Vec<String>,
    }
    let dir = lockfile.parent().unwrap_or(Path::new(""));
    let path = dir.join(".cargo").join("audit.toml");
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    let file: AuditToml =
        toml::from_str(&text).map_err(|e| format!("{}: {}", path.display(), e.message()))?;
    for id in &file.advisories.ignore {
        eprintln!(
            "{}: {id} accepted by {}",
            lockfile.display(),
            path.display()
        );
    }
    Ok(file.advisories.ignore)
}

/// Audits one lockfile against the databases of its ecosystem.
fn audit_one(
    lockfile: &Path,
    rustsec: &[RustSecDb],
    osv: &[OsvDb],
    ignore: &[String],
    report: &mut Report,
) -> Result<(), String> {
    let Some(kind) = kind(lockfile) else {
        return Err(format!(
            "{}: unknown lockfile format (Cargo.lock, requirements*.txt, Pipfile.lock, poetry.lock)",
            lockfile.display()
        ));
    };
    if kind == Kind::Cargo {
        let mut ignore = ignore.to_vec();
        ignore.extend(accepted_advisories(lockfile)?);
        let ignore = &ignore[..];
        if rustsec.is_empty() {
            return Err(format!(
                "{}: no RustSec database given (--db advisory-db)",
                lockfile.display()
            ));
        }
        for db in rustsec {
            for f in audit_cargo(lockfile, db).map_err(|e| e.to_string())? {
                report.keep(f, ignore);
            }
        }
        return Ok(());
    }
    if osv.is_empty() {
        return Err(format!(
            "{}: no OSV database given (--db path/to/advisory-database)",
            lockfile.display()
        ));
    }
    let packages = match kind {
        Kind::Requirements => python::read_requirements(lockfile),
        Kind::Pipfile => python::read_pipfile_lock(lockfile),
        _ => python::read_poetry_lock(lockfile),
    }
    .map_err(|e| e.to_string())?;
    for db in osv {
        let (found, unpinned) = python::audit_python(&packages, db);
        for f in found {
            report.keep(f, ignore);
        }
        for u in unpinned {
            if !report.not_audited.contains(&u) {
                report.not_audited.push(u);
            }
        }
    }
    Ok(())
}

fn render(
    format: Format,
    lockfiles: &[PathBuf],
    findings: &[Finding],
    not_audited: &[PyPackage],
) -> String {
    match format {
        Format::Sarif => sarif(findings).to_string(),
        Format::Json => json!({
            "lockfiles": lockfiles.iter().map(|l| l.to_string_lossy()).collect::<Vec<_>>(),
            "not_audited": not_audited.iter().map(|p| json!({"package": p.name, "file": p.file.to_string_lossy(), "line": p.line, "reason": "not pinned"})).collect::<Vec<_>>(),
            "findings": findings.iter().map(|f| json!({
                "ecosystem": f.ecosystem, "package": f.package, "version": f.version, "id": f.id, "aliases": f.aliases,
                "title": f.title, "severity": f.severity.as_str(), "cvss_score": f.cvss_score, "fixed_in": f.fixed_in,
                "informational": f.informational, "lockfile": f.lockfile.to_string_lossy(), "line": f.line,
            })).collect::<Vec<_>>(),
        })
        .to_string(),
        Format::Text => {
            let mut text = format!("{:<28} {:<16} {:<20} {:<9} {}\n", "package", "version", "advisory", "severity", "fixed in");
            for f in findings {
                let severity = f.informational.clone().unwrap_or_else(|| f.severity.as_str().to_owned());
                text.push_str(&format!("{:<28} {:<16} {:<20} {:<9} {}\n", f.package, f.version, f.id, severity, if f.fixed_in.is_empty() { "-".to_owned() } else { f.fixed_in.join(", ") }));
            }
            for p in not_audited {
                text.push_str(&format!("{:<28} {:<16} cannot audit: not pinned ({}:{})\n", p.name, "-", p.file.display(), p.line));
            }
            let vulns = findings.iter().filter(|f| f.informational.is_none()).count();
            text.push_str(&format!("{} lockfile(s): {vulns} vulnerabilities, {} informational\n", lockfiles.len(), findings.len() - vulns));
            text
        }
    }
}
