//! `palisade user …`: list, disable, enable, unlock, end-sessions.

use std::process::ExitCode;

use clap::Subcommand;
use palisade::validate::Username;

use crate::config::Config;
use crate::store::Store;

#[derive(Subcommand)]
pub(crate) enum UserAction {
    /// List users.
    List,
    /// Disable a user (ends their sessions; they can no longer sign in).
    Disable { name: String },
    /// Enable a disabled user.
    Enable { name: String },
    /// Clear a user's failed-login counters.
    Unlock { name: String },
    /// End every session of a user.
    EndSessions { name: String },
    /// Import users from CSV (header: username,email,password_hash[,display_name]) or JSON
    /// lines, with bcrypt or Argon2 hashes from another application. They move to Argon2id
    /// with the current pepper at their next login. Re-running imports nobody twice.
    Import {
        file: std::path::PathBuf,
        /// Rows per transaction.
        #[arg(long, default_value_t = 500)]
        batch: usize,
    },
}

pub(crate) async fn run(config: Config, action: UserAction) -> Result<ExitCode, String> {
    let db = crate::db::connect(&config).await?;
    let store = Store::new(db.pool);
    let find = |name: String| {
        let store = store.clone();
        async move {
            let username = Username::parse(&name).map_err(|e| e.to_string())?;
            store
                .user_by_login(username.as_str(), "")
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("no user named {}", username.as_str()))
        }
    };
    let now = crate::clock::system_now();
    match action {
        UserAction::List => {
            println!("{:<8} {:<32} {:<40} status", "id", "username", "email");
            for u in store.list_users().await.map_err(|e| e.to_string())? {
                println!(
                    "{:<8} {:<32} {:<40} {}",
                    u.id,
                    u.username,
                    u.email,
                    if u.disabled != 0 {
                        "disabled"
                    } else {
                        "active"
                    }
                );
            }
        }
        UserAction::Disable { name } => {
            let user = find(name).await?;
            store
                .set_disabled(user.id, true)
                .await
                .map_err(store_error)?;
            let ended = store.end_all_sessions(user.id).await.map_err(store_error)?;
            audit(&store, now, "user_disabled", &user).await?;
            println!("disabled {} and ended {ended} sessions", user.username);
        }
        UserAction::Enable { name } => {
            let user = find(name).await?;
            store
                .set_disabled(user.id, false)
                .await
                .map_err(store_error)?;
            audit(&store, now, "user_enabled", &user).await?;
            println!("enabled {}", user.username);
        }
        UserAction::Unlock { name } => {
            let user = find(name).await?;
            let account = crate::accounts::keys::account(user.id);
            store.clear_counter(&account).await.map_err(store_error)?;
            let pairs = store
                .clear_counters_with_prefix(&crate::accounts::keys::pair_prefix(&account))
                .await
                .map_err(store_error)?;
            audit(&store, now, "user_unlocked", &user).await?;
            println!(
                "cleared failed-login counters of {} ({pairs} per-address)",
                user.username
            );
        }
        UserAction::EndSessions { name } => {
            let user = find(name).await?;
            let ended = store.end_all_sessions(user.id).await.map_err(store_error)?;
            audit(&store, now, "sessions_ended", &user).await?;
            println!("ended {ended} sessions of {}", user.username);
        }
        UserAction::Import { file, batch } => {
            return import(&store, &file, batch.max(1), now).await;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn store_error(e: crate::store::StoreError) -> String {
    e.to_string()
}

/// Records an administrator's action on a user in the audit trail.
async fn audit(
    store: &Store,
    now: i64,
    event: &str,
    user: &crate::store::UserRow,
) -> Result<(), String> {
    store
        .audit(
            now,
            event,
            Some(user.id),
            Some(&user.username),
            None,
            Some("cli"),
        )
        .await
        .map_err(store_error)
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ImportRow {
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
        Ok(
            palisade::password::StoredKind::ImportedBcrypt { .. }
            | palisade::password::StoredKind::ImportedArgon2,
        ) => {}
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
type NumberedRow = (u64, Result<ImportRow, String>);

/// Reads the rows of a CSV or JSON-lines file.
fn read_rows(path: &std::path::Path) -> Result<Vec<NumberedRow>, String> {
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

async fn import(
    store: &Store,
    path: &std::path::Path,
    batch: usize,
    now: i64,
) -> Result<ExitCode, String> {
    let rows = read_rows(path)?;
    let (mut valid, mut invalid) = (Vec::new(), 0usize);
    for (line, row) in rows {
        match row.and_then(validate) {
            Ok(v) => valid.push(v),
            Err(why) => {
                invalid += 1;
                eprintln!("{}:{line}: skipped: {why}", path.display());
            }
        }
    }
    let mut inserted = 0;
    for chunk in valid.chunks(batch) {
        let users: Vec<crate::store::NewUser<'_>> = chunk
            .iter()
            .map(|v| crate::store::NewUser {
                username: &v.username,
                email: &v.email,
                email_key: &v.email_key,
                display_name: v.display_name.as_deref(),
                password_hash: &v.password_hash,
                legacy_cost: match palisade::password::inspect(&v.password_hash) {
                    Ok(palisade::password::StoredKind::ImportedBcrypt { cost }) => Some(cost),
                    _ => None,
                },
            })
            .collect();
        inserted += store
            .import_users(&users, now)
            .await
            .map_err(|e| e.to_string())?;
    }
    let present = valid.len() as u64 - inserted;
    store
        .audit(
            now,
            "users_imported",
            None,
            None,
            None,
            Some(&format!(
                "{inserted} imported, {present} already present, {invalid} invalid"
            )),
        )
        .await
        .map_err(|e| e.to_string())?;
    println!(
        "imported {inserted} users; {present} already present; {invalid} invalid rows skipped"
    );
    Ok(if invalid > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
