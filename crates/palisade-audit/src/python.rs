//! Python: requirements files, Pipfile.lock and poetry.lock against OSV advisories (as in
//! the PyPA advisory-database), matched with PEP 440 versions and PEP 503 names.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use pep440_rs::Version;
use yaml_rust2::{Yaml, YamlLoader};

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

fn lockfile_error(path: &Path, message: impl Into<String>) -> AuditError {
    AuditError::Lockfile {
        path: path.to_owned(),
        message: message.into(),
    }
}

/// Reads a requirements file, following `-r`/`-c` includes (relative to the including
/// file, each file once). Comments, hashes, markers and extras are understood; a line that
/// does not pin an exact version (`==`/`===`) is returned with `version: None`.
pub fn read_requirements(path: &Path) -> Result<Vec<PyPackage>, AuditError> {
    let mut seen = Vec::new();
    let mut out = Vec::new();
    read_requirements_into(path, &mut seen, &mut out)?;
    Ok(out)
}

fn read_requirements_into(
    path: &Path,
    seen: &mut Vec<PathBuf>,
    out: &mut Vec<PyPackage>,
) -> Result<(), AuditError> {
    let canonical = path
        .canonicalize()
        .map_err(|e| lockfile_error(path, e.to_string()))?;
    if seen.contains(&canonical) {
        return Ok(());
    }
    seen.push(canonical);
    let text = std::fs::read_to_string(path).map_err(|e| lockfile_error(path, e.to_string()))?;
    let mut logical = String::new();
    let mut start = 0;
    for (i, raw) in text.lines().enumerate() {
        if logical.is_empty() {
            start = i + 1;
        }
        let line = raw.split(" #").next().unwrap_or("");
        let line = if line.trim_start().starts_with('#') {
            ""
        } else {
            line
        };
        if let Some(cont) = line.strip_suffix('\\') {
            logical.push_str(cont);
            logical.push(' ');
            continue;
        }
        logical.push_str(line);
        let entry = std::mem::take(&mut logical);
        let entry = entry.trim();
        if entry.is_empty() {
            continue;
        }
        if let Some(include) = entry
            .strip_prefix("-r")
            .or_else(|| entry.strip_prefix("--requirement"))
            .or_else(|| entry.strip_prefix("-c"))
            .or_else(|| entry.strip_prefix("--constraint"))
        {
            let target = path
                .parent()
                .unwrap_or(Path::new("."))
                .join(include.trim_start_matches('=').trim());
            read_requirements_into(&target, seen, out)?;
            continue;
        }
        if let Some(target) = entry
            .strip_prefix("-e")
            .or_else(|| entry.strip_prefix("--editable"))
        {
            // An editable install pins nothing: reported as not auditable, never skipped.
            let target = target.trim_start_matches('=').trim();
            let name = target.rsplit(['/', '=']).next().unwrap_or(target);
            out.push(PyPackage {
                name: normalise(name),
                version: None,
                file: path.to_owned(),
                line: start,
            });
            continue;
        }
        if entry.starts_with('-') {
            continue; // options: --index-url, --hash on its own line, …
        }
        // Drop markers and hashes, then extras.
        let spec = entry
            .split(';')
            .next()
            .unwrap_or("")
            .split(" --hash")
            .next()
            .unwrap_or("")
            .trim();
        let name_end = spec
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
            .unwrap_or(spec.len());
        let name = &spec[..name_end];
        if name.is_empty() {
            return Err(lockfile_error(
                path,
                format!("line {start}: not a requirement"),
            ));
        }
        let rest = spec[name_end..].trim_start();
        let rest = match rest.strip_prefix('[') {
            Some(r) => r
                .split_once(']')
                .map(|(_, after)| after.trim_start())
                .ok_or_else(|| lockfile_error(path, format!("line {start}: unclosed extras")))?,
            None => rest,
        };
        let version = rest
            .strip_prefix("===")
            .or_else(|| rest.strip_prefix("=="))
            .map(|v| v.split(',').next().unwrap_or("").trim())
            .filter(|v| !v.is_empty() && !v.contains('*') && !rest.contains(','))
            .map(str::to_owned);
        out.push(PyPackage {
            name: normalise(name),
            version,
            file: path.to_owned(),
            line: start,
        });
    }
    Ok(())
}

fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .map_or(1, |i| i + 1)
}

/// Reads a Pipfile.lock (`default` and `develop` sections).
pub fn read_pipfile_lock(path: &Path) -> Result<Vec<PyPackage>, AuditError> {
    let text = std::fs::read_to_string(path).map_err(|e| lockfile_error(path, e.to_string()))?;
    let json: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| lockfile_error(path, format!("line {}: {e}", e.line())))?;
    let mut out = Vec::new();
    for section in ["default", "develop"] {
        for (name, entry) in json[section].as_object().into_iter().flatten() {
            let version = entry["version"]
                .as_str()
                .and_then(|v| v.strip_prefix("=="))
                .map(str::to_owned);
            out.push(PyPackage {
                name: normalise(name),
                version,
                file: path.to_owned(),
                line: line_of(&text, &format!("\"{name}\": {{")),
            });
        }
    }
    Ok(out)
}

/// Reads a poetry.lock (`[[package]]` name and version).
pub fn read_poetry_lock(path: &Path) -> Result<Vec<PyPackage>, AuditError> {
    let text = std::fs::read_to_string(path).map_err(|e| lockfile_error(path, e.to_string()))?;
    let doc: toml::Value = text
        .parse()
        .map_err(|e: toml::de::Error| lockfile_error(path, e.to_string()))?;
    let mut out = Vec::new();
    for p in doc
        .get("package")
        .and_then(|p| p.as_array())
        .into_iter()
        .flatten()
    {
        let (Some(name), Some(version)) = (
            p.get("name").and_then(|n| n.as_str()),
            p.get("version").and_then(|v| v.as_str()),
        ) else {
            return Err(lockfile_error(path, "a [[package]] lacks name or version"));
        };
        out.push(PyPackage {
            name: normalise(name),
            version: Some(version.to_owned()),
            file: path.to_owned(),
            line: line_of(&text, &format!("name = \"{name}\"")),
        });
    }
    Ok(out)
}

#[derive(Debug, Clone)]
struct Affected {
    /// (introduced, fixed or last_affected, is_last_affected)
    ranges: Vec<(Option<Version>, Option<Version>, bool)>,
    versions: Vec<Version>,
}

#[derive(Debug, Clone)]
struct OsvAdvisory {
    id: String,
    aliases: Vec<String>,
    summary: String,
    fixed: Vec<String>,
    affected: Vec<Affected>,
}

/// OSV advisories for PyPI, by normalised package name.
#[derive(Debug, Default)]
pub struct OsvDb {
    by_package: HashMap<String, Vec<OsvAdvisory>>,
    /// Advisories skipped because they are withdrawn.
    pub withdrawn: usize,
}

fn yaml_str(y: &Yaml) -> Option<String> {
    match y {
        Yaml::String(s) | Yaml::Real(s) => Some(s.clone()),
        Yaml::Integer(i) => Some(i.to_string()),
        _ => None,
    }
}

impl OsvDb {
    /// Loads every `.yaml`, `.yml` and `.json` file under `dir` (OSV schema). A file that
    /// does not parse is an error naming it and, for YAML, the line.
    pub fn open(dir: &Path) -> Result<Self, AuditError> {
        let mut db = OsvDb::default();
        let mut stack = vec![dir.to_owned()];
        let mut files = 0;
        while let Some(d) = stack.pop() {
            let entries = std::fs::read_dir(&d).map_err(|e| AuditError::Database {
                path: d.clone(),
                message: e.to_string(),
            })?;
            for entry in entries.flatten() {
                let p = entry.path();
                if p.is_dir() {
                    stack.push(p);
                    continue;
                }
                let ext = p.extension().and_then(|e| e.to_str()).unwrap_or("");
                if !matches!(ext, "yaml" | "yml" | "json") {
                    continue;
                }
                let text = std::fs::read_to_string(&p).map_err(|e| AuditError::Database {
                    path: p.clone(),
                    message: e.to_string(),
                })?;
                let doc = if ext == "json" {
                    let json: serde_json::Value =
                        serde_json::from_str(&text).map_err(|e| AuditError::Database {
                            path: p.clone(),
                            message: format!("line {}: {e}", e.line()),
                        })?;
                    YamlLoader::load_from_str(&json.to_string())
                        .ok()
                        .and_then(|mut d| d.pop())
                } else {
                    YamlLoader::load_from_str(&text)
                        .map_err(|e| AuditError::Database {
                            path: p.clone(),
                            message: format!("line {}: {e}", e.marker().line()),
                        })?
                        .pop()
                };
                let Some(doc) = doc else { continue };
                files += 1;
                db.add(&doc);
            }
        }
        if files == 0 {
            return Err(AuditError::Database {
                path: dir.to_owned(),
                message: "no OSV advisory files (.yaml, .yml, .json)".into(),
            });
        }
        Ok(db)
    }

    fn add(&mut self, doc: &Yaml) {
        if !doc["withdrawn"].is_badvalue() && !doc["withdrawn"].is_null() {
            self.withdrawn += 1;
            return;
        }
        let Some(id) = yaml_str(&doc["id"]) else {
            return;
        };
        let aliases: Vec<String> = doc["aliases"]
            .as_vec()
            .into_iter()
            .flatten()
            .filter_map(yaml_str)
            .collect();
        let summary = yaml_str(&doc["summary"])
            .or_else(|| {
                yaml_str(&doc["details"])
                    .map(|d| d.lines().next().unwrap_or("").chars().take(120).collect())
            })
            .unwrap_or_default();
        for affected in doc["affected"].as_vec().into_iter().flatten() {
            if yaml_str(&affected["package"]["ecosystem"]).as_deref() != Some("PyPI") {
                continue;
            }
            let Some(name) = yaml_str(&affected["package"]["name"]) else {
                continue;
            };
            let mut ranges = Vec::new();
            let mut fixed = Vec::new();
            for range in affected["ranges"].as_vec().into_iter().flatten() {
                if yaml_str(&range["type"]).as_deref() != Some("ECOSYSTEM") {
                    continue;
                }
                let mut introduced = None;
                for event in range["events"].as_vec().into_iter().flatten() {
                    if let Some(v) = yaml_str(&event["introduced"]) {
                        introduced = if v == "0" {
                            None
                        } else {
                            Version::from_str(&v).ok()
                        };
                        ranges.push((introduced.clone(), None, false));
                    } else if let Some(v) = yaml_str(&event["fixed"]) {
                        fixed.push(v.clone());
                        if let Some(last) = ranges.last_mut() {
                            last.1 = Version::from_str(&v).ok();
                        } else {
                            ranges.push((introduced.clone(), Version::from_str(&v).ok(), false));
                        }
                    } else if let Some(v) = yaml_str(&event["last_affected"])
                        && let Some(last) = ranges.last_mut()
                    {
                        last.1 = Version::from_str(&v).ok();
                        last.2 = true;
                    }
                }
            }
            let versions = affected["versions"]
                .as_vec()
                .into_iter()
                .flatten()
                .filter_map(yaml_str)
                .filter_map(|v| Version::from_str(&v).ok())
                .collect();
            self.by_package
                .entry(crate::python::normalise(&name))
                .or_default()
                .push(OsvAdvisory {
                    id: id.clone(),
                    aliases: aliases.clone(),
                    summary: summary.clone(),
                    fixed,
                    affected: vec![Affected { ranges, versions }],
                });
        }
    }

    /// Advisories affecting `name` at `version`.
    fn matching(&self, name: &str, version: &Version) -> Vec<&OsvAdvisory> {
        self.by_package
            .get(name)
            .into_iter()
            .flatten()
            .filter(|a| {
                a.affected.iter().any(|aff| {
                    aff.versions.contains(version)
                        || aff.ranges.iter().any(|(from, to, inclusive)| {
                            from.as_ref().is_none_or(|f| version >= f)
                                && to.as_ref().is_none_or(|t| {
                                    if *inclusive {
                                        version <= t
                                    } else {
                                        version < t
                                    }
                                })
                        })
                })
            })
            .collect()
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
