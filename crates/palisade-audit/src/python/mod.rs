//! Python: requirements files, Pipfile.lock and poetry.lock against OSV advisories (as in
//! the PyPA advisory-database), matched with PEP 440 versions and PEP 503 names.

mod lockfiles;
mod osv;

use std::path::{Path, PathBuf};
use std::str::FromStr;

use pep440_rs::Version;

pub use lockfiles::{read_pipfile_lock, read_poetry_lock, read_requirements};
pub use osv::OsvDb;

use crate::{AuditError, Finding, Severity};

/// A locked (or not) Python package.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PyPackage {
    /// PEP 503 normalised name.
    pub name: String,
    /// The pinned version; `None` when the line does not pin one (cannot be audited).
    pub version: Option<String>,
    /// Where it was declared.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
}

/// PEP 503: lower case, runs of `-`, `_`, `.` become one `-`.
pub fn normalise(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut dash = false;
    for c in name.trim().chars() {
        if matches!(c, '-' | '_' | '.') {
            dash = true;
        } else {
            if dash && !out.is_empty() {
                out.push('-');
            }
            dash = false;
            out.extend(c.to_lowercase());
        }
    }
    out
}

pub(crate) fn lockfile_error(path: &Path, message: impl Into<String>) -> AuditError {
    AuditError::Lockfile {
        path: path.to_owned(),
        message: message.into(),
    }
}

/// Audits Python packages. Returns the findings (aliases merged: one finding per advisory
/// and package, listing the other ids) and the packages that could not be audited.
pub fn audit_python(packages: &[PyPackage], db: &OsvDb) -> (Vec<Finding>, Vec<PyPackage>) {
    let mut findings: Vec<Finding> = Vec::new();
    let mut unpinned = Vec::new();
    for p in packages {
        let Some(version) = p.version.as_deref() else {
            unpinned.push(p.clone());
            continue;
        };
        let Ok(parsed) = Version::from_str(version) else {
            unpinned.push(p.clone());
            continue;
        };
        for a in db.matching(&p.name, &parsed) {
            let duplicate = findings.iter_mut().find(|f| {
                f.package == p.name
                    && f.version == version
                    && f.lockfile == p.file
                    && (f.id == a.id || f.aliases.contains(&a.id) || a.aliases.contains(&f.id))
            });
            if let Some(f) = duplicate {
                for id in std::iter::once(&a.id).chain(&a.aliases) {
                    if *id != f.id && !f.aliases.contains(id) {
                        f.aliases.push(id.clone());
                    }
                }
                continue;
            }
            findings.push(Finding {
                ecosystem: "PyPI",
                package: p.name.clone(),
                version: version.to_owned(),
                id: a.id.clone(),
                aliases: a.aliases.clone(),
                title: a.summary.clone(),
                severity: Severity::Unknown,
                cvss_score: None,
                fixed_in: a.fixed.clone(),
                informational: None,
                lockfile: p.file.clone(),
                line: Some(p.line),
            });
        }
    }
    (findings, unpinned)
}
