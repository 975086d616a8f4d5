//! Offline dependency audit: lockfiles against advisory databases on disk, with results as
//! text, JSON or SARIF 2.1.0.
//!
//! This version reads `Cargo.lock` (format v1 to v4, registry, git and path sources,
//! several versions of one crate) against a RustSec advisory-db checkout, through the
//! `rustsec` crate's own matching (semver with `patched` / `unaffected`, withdrawn
//! advisories skipped). Informational advisories (unmaintained, unsound, notice) are
//! reported apart from vulnerabilities.
#![forbid(unsafe_code)]

pub mod python;
mod sarif;

use std::path::{Path, PathBuf};

pub use sarif::sarif;

/// How bad a finding is, from its CVSS score where the advisory has one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// No CVSS score in the advisory.
    Unknown,
    /// CVSS below 4.0.
    Low,
    /// CVSS 4.0 to 6.9.
    Medium,
    /// CVSS 7.0 to 8.9.
    High,
    /// CVSS 9.0 and above.
    Critical,
}

impl Severity {
    /// From a CVSS base score.
    pub fn from_score(score: Option<f64>) -> Self {
        match score {
            None => Severity::Unknown,
            Some(s) if s >= 9.0 => Severity::Critical,
            Some(s) if s >= 7.0 => Severity::High,
            Some(s) if s >= 4.0 => Severity::Medium,
            Some(_) => Severity::Low,
        }
    }

    /// The lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Unknown => "unknown",
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }
}

/// One advisory matching one locked package.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// `crates.io` (later also `PyPI`).
    pub ecosystem: &'static str,
    /// Package name.
    pub package: String,
    /// Locked version.
    pub version: String,
    /// Advisory id (`RUSTSEC-…`).
    pub id: String,
    /// Other ids of the same advisory (CVE, GHSA), merged into this finding.
    pub aliases: Vec<String>,
    /// One-line title.
    pub title: String,
    /// Severity from CVSS.
    pub severity: Severity,
    /// The CVSS base score, when the advisory has a vector.
    pub cvss_score: Option<f64>,
    /// Version requirements that fix it.
    pub fixed_in: Vec<String>,
    /// `None` for a vulnerability; `Some(kind)` for an informational advisory
    /// (`unmaintained`, `unsound`, `notice`).
    pub informational: Option<String>,
    /// The lockfile, and the 1-based line of the package's entry.
    pub lockfile: PathBuf,
    /// Line of `name = "<package>"` for this version.
    pub line: Option<usize>,
}

/// Why an audit could not run (exit 2): always names the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    /// The advisory database could not be opened.
    #[error("advisory database {path}: {message}")]
    Database {
        /// Its directory.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// A lockfile could not be read or parsed.
    #[error("{path}: {message}")]
    Lockfile {
        /// The file.
        path: PathBuf,
        /// What went wrong (with the line, when the parser gives one).
        message: String,
    },
}

/// A loaded RustSec database.
pub struct RustSecDb(rustsec::Database);

impl std::fmt::Debug for RustSecDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RustSecDb")
    }
}

impl RustSecDb {
    /// Opens an advisory-db checkout (a directory holding `crates/`).
    pub fn open(path: &Path) -> Result<Self, AuditError> {
        if !path.join("crates").is_dir() {
            return Err(AuditError::Database {
                path: path.to_owned(),
                message: "not a RustSec advisory-db checkout (no crates/ directory)".into(),
            });
        }
        rustsec::Database::open(path)
            .map(Self)
            .map_err(|e| AuditError::Database {
                path: path.to_owned(),
                message: e.to_string(),
            })
    }
}

/// The line of `name = "<package>"` whose following `version` is `version`.
fn package_line(text: &str, package: &str, version: &str) -> Option<usize> {
    let lines: Vec<&str> = text.lines().collect();
    let name_line = format!("name = \"{package}\"");
    let version_line = format!("version = \"{version}\"");
    lines.iter().enumerate().find_map(|(i, l)| {
        (l.trim() == name_line && lines.get(i + 1).is_some_and(|n| n.trim() == version_line))
            .then_some(i + 1)
    })
}

/// Audits a `Cargo.lock`.
pub fn audit_cargo(lockfile: &Path, db: &RustSecDb) -> Result<Vec<Finding>, AuditError> {
    let text = std::fs::read_to_string(lockfile).map_err(|e| AuditError::Lockfile {
        path: lockfile.to_owned(),
        message: e.to_string(),
    })?;
    let parsed: rustsec::Lockfile =
        text.parse()
            .map_err(|e: cargo_lock::Error| AuditError::Lockfile {
                path: lockfile.to_owned(),
                message: e.to_string(),
            })?;
    let settings = rustsec::report::Settings {
        informational_warnings: vec![
            rustsec::advisory::Informational::Unmaintained,
            rustsec::advisory::Informational::Unsound,
            rustsec::advisory::Informational::Notice,
        ],
        ..Default::default()
    };
    let report = rustsec::Report::generate(&db.0, &parsed, &settings);
    let mut findings = Vec::new();
    let finding = |advisory: &rustsec::advisory::Metadata,
                   package: &rustsec::package::Package,
                   versions: Option<&rustsec::advisory::Versions>,
                   informational: Option<String>| {
        let score = advisory.cvss.as_ref().map(|c| c.score());
        Finding {
            ecosystem: "crates.io",
            package: package.name.to_string(),
            version: package.version.to_string(),
            id: advisory.id.to_string(),
            aliases: advisory.aliases.iter().map(ToString::to_string).collect(),
            title: advisory.title.clone(),
            severity: Severity::from_score(score),
            cvss_score: score,
            fixed_in: versions
                .map(|v| v.patched().iter().map(ToString::to_string).collect())
                .unwrap_or_default(),
            informational,
            lockfile: lockfile.to_owned(),
            line: package_line(&text, package.name.as_str(), &package.version.to_string()),
        }
    };
    for v in &report.vulnerabilities.list {
        findings.push(finding(&v.advisory, &v.package, Some(&v.versions), None));
    }
    for (kind, warnings) in &report.warnings {
        for w in warnings {
            if let Some(advisory) = &w.advisory {
                findings.push(finding(
                    advisory,
                    &w.package,
                    w.versions.as_ref(),
                    Some(kind.to_string()),
                ));
            }
        }
    }
    findings.sort_by(|a, b| (&a.package, &a.version, &a.id).cmp(&(&b.package, &b.version, &b.id)));
    Ok(findings)
}

#[cfg(test)]
mod tests;
