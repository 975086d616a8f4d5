//! OSV advisories for PyPI, loaded from a directory (the PyPA advisory-database).

use std::collections::HashMap;
use std::path::Path;
use std::str::FromStr;

use pep440_rs::Version;
use yaml_rust2::{Yaml, YamlLoader};

use crate::AuditError;

#[derive(Debug, Clone)]
struct Affected {
    /// (introduced, fixed or last_affected, is_last_affected)
    ranges: Vec<(Option<Version>, Option<Version>, bool)>,
    versions: Vec<Version>,
}

#[derive(Debug, Clone)]
pub(super) struct OsvAdvisory {
    pub(super) id: String,
    pub(super) aliases: Vec<String>,
    pub(super) summary: String,
    pub(super) fixed: Vec<String>,
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
                .entry(super::normalise(&name))
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
    pub(super) fn matching(&self, name: &str, version: &Version) -> Vec<&OsvAdvisory> {
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
