//! Reading Python lockfiles and requirements files into packages.

use std::path::{Path, PathBuf};

use super::{PyPackage, lockfile_error, normalise};
use crate::AuditError;

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
        out.push(requirement(entry, path, start)?);
    }
    Ok(())
}

/// One requirement line (`name[extras]==version; markers --hash=…`): the package, with its
/// version only when it is pinned exactly.
fn requirement(entry: &str, path: &Path, start: usize) -> Result<PyPackage, AuditError> {
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
    Ok(PyPackage {
        name: normalise(name),
        version,
        file: path.to_owned(),
        line: start,
    })
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
