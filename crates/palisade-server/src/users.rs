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
    let now = crate::accounts::now();
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
                .map_err(|e| e.to_string())?;
            let ended = store
                .end_all_sessions(user.id)
                .await
                .map_err(|e| e.to_string())?;
            store
                .audit(
                    now,
                    "user_disabled",
                    Some(user.id),
                    Some(&user.username),
                    None,
                    Some("cli"),
                )
                .await
                .map_err(|e| e.to_string())?;
            println!("disabled {} and ended {ended} sessions", user.username);
        }
        UserAction::Enable { name } => {
            let user = find(name).await?;
            store
                .set_disabled(user.id, false)
                .await
                .map_err(|e| e.to_string())?;
            store
                .audit(
                    now,
                    "user_enabled",
                    Some(user.id),
                    Some(&user.username),
                    None,
                    Some("cli"),
                )
                .await
                .map_err(|e| e.to_string())?;
            println!("enabled {}", user.username);
        }
        UserAction::Unlock { name } => {
            let user = find(name).await?;
            let account = format!("acct:id:{}", user.id);
            store
                .clear_counter(&account)
                .await
                .map_err(|e| e.to_string())?;
            let pairs = store
                .clear_counters_with_prefix(&format!("pair:{account}|"))
                .await
                .map_err(|e| e.to_string())?;
            store
                .audit(
                    now,
                    "user_unlocked",
                    Some(user.id),
                    Some(&user.username),
                    None,
                    Some("cli"),
                )
                .await
                .map_err(|e| e.to_string())?;
            println!(
                "cleared failed-login counters of {} ({} per-address)",
                user.username, pairs
            );
        }
        UserAction::EndSessions { name } => {
            let user = find(name).await?;
            let ended = store
                .end_all_sessions(user.id)
                .await
                .map_err(|e| e.to_string())?;
            store
                .audit(
                    now,
                    "sessions_ended",
                    Some(user.id),
                    Some(&user.username),
                    None,
                    Some("cli"),
                )
                .await
                .map_err(|e| e.to_string())?;
            println!("ended {ended} sessions of {}", user.username);
        }
    }
    Ok(ExitCode::SUCCESS)
}
