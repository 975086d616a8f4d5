//! Reading the configuration file: TOML, with syntax errors that never quote a line.

use std::path::Path;

/// The configuration file, checked to be TOML. A syntax error is reported by line and
/// column only: the TOML parser's own message quotes the line, which may hold a secret
/// (a `database_url` with its password).
pub(super) fn read_toml(file: &Path) -> Result<String, String> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| format!("configuration: {}: {e}", file.display()))?;
    if let Err(e) = text.parse::<toml::Table>() {
        let at = e.span().map_or(0, |span| span.start).min(text.len());
        let before = text.get(..at).unwrap_or_default();
        let line = before.matches('\n').count() + 1;
        let column = before
            .rsplit('\n')
            .next()
            .unwrap_or_default()
            .chars()
            .count()
            + 1;
        return Err(format!(
            "configuration: {} is not valid TOML at line {line}, column {column}: {}",
            file.display(),
            e.message()
        ));
    }
    Ok(text)
}
