//! Importing users from another application: CSV or JSON lines with bcrypt or Argon2
//! hashes. Invalid rows are reported by line and skipped; re-running duplicates nobody.

use palisade::password::StoredKind;
use palisade::validate::Username;

use super::Admin;
use crate::store::NewUser;

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportReport {
    /// Users inserted.
    pub inserted: u64,
    /// Valid rows whose username or email was already registered.
    pub present: u64,
    /// Rows skipped: their line, and why (never the hash).
    pub skipped: Vec<(u64, String)>,
}

impl Admin {
    /// Imports `rows` in transactions of `batch` rows.
    pub async fn import(
        &self,
        rows: Vec<NumberedRow>,
        batch: usize,
    ) -> Result<ImportReport, String> {
        let mut report = ImportReport::default();
        let mut valid = Vec::new();
        for (line, row) in rows {
            match row.and_then(validate) {
                Ok(v) => valid.push(v),
                Err(why) => report.skipped.push((line, why)),
            }
        }
        let now = crate::clock::system_now();
        for chunk in valid.chunks(batch.max(1)) {
            let users: Vec<NewUser<'_>> = chunk.iter().map(Valid::as_new_user).collect();
            report.inserted += self
                .store
                .import_users(&users, now)
                .await
                .map_err(|e| e.to_string())?;
        }
        report.present = valid.len() as u64 - report.inserted;
        let detail = format!(
            "{} imported, {} already present, {} invalid",
            report.inserted,
            report.present,
            report.skipped.len()
        );
        self.audit("users_imported", None, &detail).await?;
        Ok(report)
    }
}

/// One user to import, as read from the file.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportRow {
    username: String,
    email: String,
    password_hash: String,
    #[serde(default)]
    display_name: Option<String>,
}

struct Valid {
    username: String,
    email: String,
    email_key: String,
    display_name: Option<String>,
    password_hash: String,
}

fn validate(row: ImportRow) -> Result<Valid, String> {
    let username = Username::parse(&row.username).map_err(|e| e.to_string())?;
    let email = palisade::validate::Email::parse(&row.email).map_err(|e| e.to_string())?;
    let display_name = match row.display_name.as_deref() {
        None | Some("") => None,
        Some(d) => Some(
            palisade::validate::DisplayName::parse(d)
                .map_err(|e| e.to_string())?
                .as_str()
                .to_owned(),
        ),
    };
    match palisade::password::inspect(&row.password_hash) {
        Ok(StoredKind::ImportedBcrypt { .. } | StoredKind::ImportedArgon2) => {}
        // Never echo the hash: it is a secret too.
        _ => return Err(
            "password_hash: not a bcrypt ($2a$/$2b$/$2y$) or Argon2 hash this service can verify"
                .into(),
        ),
    }
    Ok(Valid {
        username: username.as_str().to_owned(),
        email_key: email.comparison_key(),
        email: email.as_str().to_owned(),
        display_name,
        password_hash: row.password_hash,
    })
}

/// A row of the input: its line number, and the row or why it could not be read.
pub type NumberedRow = (u64, Result<ImportRow, String>);

/// Reads the rows of a CSV file (header `username,email,password_hash[,display_name]`)
/// or of JSON lines with the same fields.
pub fn read_import_file(path: &std::path::Path) -> Result<Vec<NumberedRow>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let json_lines = text.trim_start().starts_with('{');
    if json_lines {
        return Ok(text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(n, l)| {
                (
                    n as u64 + 1,
                    serde_json::from_str::<ImportRow>(l).map_err(|_| {
                        "not a JSON object with username, email, password_hash[, display_name]"
                            .to_owned()
                    }),
                )
            })
            .collect());
    }
    let mut reader = csv::ReaderBuilder::new()
        .flexible(false)
        .from_reader(text.as_bytes());
    let mut rows = Vec::new();
    for record in reader.deserialize::<ImportRow>() {
        match record {
            Ok(row) => rows.push((rows.len() as u64 + 2, Ok(row))),
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line());
                if matches!(e.kind(), csv::ErrorKind::Io(_)) {
                    return Err(format!("{}: {e}", path.display()));
                }
                rows.push((
                    line,
                    Err("not a CSV row of username,email,password_hash[,display_name]".to_owned()),
                ));
            }
        }
    }
    Ok(rows)
}

impl Valid {
    fn as_new_user(&self) -> NewUser<'_> {
        NewUser {
            username: &self.username,
            email: &self.email,
            email_key: &self.email_key,
            display_name: self.display_name.as_deref(),
            password_hash: &self.password_hash,
            legacy_cost: match palisade::password::inspect(&self.password_hash) {
                Ok(StoredKind::ImportedBcrypt { cost }) => Some(cost),
                _ => None,
            },
        }
    }
}
