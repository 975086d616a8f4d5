//! `palisade user …`: list, disable, enable, unlock, end-sessions, import, group, mfa,
//! reset-link.

use std::process::ExitCode;

use clap::Subcommand;
use palisade_service::Config;
use palisade_service::admin::{Admin, read_import_file};

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
    /// End every session of a user, or with --everyone of every user (after a breach).
    EndSessions {
        #[arg(required_unless_present = "everyone")]
        name: Option<String>,
        #[arg(long, conflicts_with = "name")]
        everyone: bool,
    },
    /// A user's groups, for the forward-auth rules' `group:NAME` subjects.
    Group {
        #[command(subcommand)]
        action: GroupAction,
    },
    /// A user's second factors, for support: list them, or reset them when the user lost
    /// them all (also ends the user's sessions). Both are audited.
    Mfa {
        #[command(subcommand)]
        action: MfaAction,
    },
    /// Print a password reset link for a user, for support to hand over, or with --send
    /// mail it to them so that nobody else sees it (audited; it works once, for 15 minutes,
    /// and asks for their second factor if any).
    ResetLink {
        name: String,
        #[arg(long)]
        send: bool,
    },
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

#[derive(Subcommand)]
pub(crate) enum MfaAction {
    /// List a user's second factors and unused recovery codes.
    List { name: String },
    /// Remove every second factor and recovery code of a user, and end their sessions.
    Reset { name: String },
}

#[derive(Subcommand)]
pub(crate) enum GroupAction {
    /// Put a user in a group.
    Add { name: String, group: String },
    /// Take a user out of a group.
    Remove { name: String, group: String },
    /// List a user's groups.
    List { name: String },
}

pub(crate) async fn run(config: Config, action: UserAction) -> Result<ExitCode, String> {
    if matches!(action, UserAction::ResetLink { .. }) && config.public_origin.is_none() {
        // The link is built from public_origin; without it, from `listen`, which is where
        // this command's configuration says the service listens — not necessarily where
        // people reach it.
        eprintln!(
            "warning: public_origin is not set: the link names http://{} (from listen), which may not be where the service is reached; set public_origin in the configuration the service runs with",
            config.listen
        );
    }
    let admin = Admin::open(&config).await?;
    match action {
        UserAction::List => {
            println!("{:<8} {:<32} {:<40} status", "id", "username", "email");
            for u in admin.users().await? {
                let status = if u.disabled { "disabled" } else { "active" };
                println!("{:<8} {:<32} {:<40} {status}", u.id, u.username, u.email);
            }
        }
        UserAction::Disable { name } => {
            let ended = admin.disable(&name).await?;
            println!("disabled {name} and ended {ended} sessions");
        }
        UserAction::Enable { name } => {
            admin.enable(&name).await?;
            println!("enabled {name}");
        }
        UserAction::Unlock { name } => {
            let pairs = admin.unlock(&name).await?;
            println!("cleared failed-login counters of {name} ({pairs} per-address)");
        }
        UserAction::EndSessions {
            name: Some(name), ..
        } => {
            let ended = admin.end_sessions(&name).await?;
            println!("ended {ended} sessions of {name}");
        }
        UserAction::EndSessions { name: None, .. } => {
            let ended = admin.end_every_session().await?;
            println!("ended {ended} sessions of every user");
        }
        UserAction::Group {
            action: GroupAction::Add { name, group },
        } => {
            if admin.group_add(&name, &group).await? {
                println!("{name} is now in {group}");
            } else {
                println!("{name} was already in {group}");
            }
        }
        UserAction::Group {
            action: GroupAction::Remove { name, group },
        } => {
            if admin.group_remove(&name, &group).await? {
                println!("{name} is no longer in {group}");
            } else {
                eprintln!("{name} is not in {group}");
                return Ok(ExitCode::from(1));
            }
        }
        UserAction::Group {
            action: GroupAction::List { name },
        } => {
            for group in admin.groups(&name).await? {
                println!("{group}");
            }
        }
        UserAction::Mfa {
            action: MfaAction::List { name },
        } => {
            let list = admin.second_factors(&name).await?;
            println!("{:<6} {:<32} {:<20} last used", "kind", "name", "added");
            for (kind, factor, added, used) in &list.factors {
                let used = used.map_or_else(|| "never".to_owned(), palisade_service::admin::utc);
                println!(
                    "{kind:<6} {factor:<32} {:<20} {used}",
                    palisade_service::admin::utc(*added)
                );
            }
            println!("{} unused recovery codes", list.recovery_codes_left);
        }
        UserAction::Mfa {
            action: MfaAction::Reset { name },
        } => {
            let removed = admin.reset_second_factors(&name).await?;
            println!(
                "removed {removed} second factors and the recovery codes of {name}, and ended their sessions"
            );
        }
        UserAction::ResetLink { name, send: true } => {
            let to = admin.mail_reset_link(&name).await?;
            println!("queued a reset link for {name} to {to}; the running service sends it");
        }
        UserAction::ResetLink { name, send: false } => {
            let link = admin.reset_link(&name).await?;
            link.expose(|l| println!("{l}"));
            eprintln!("works once, for 15 minutes; any older link of {name} no longer works");
        }
        UserAction::Import { file, batch } => {
            let report = admin.import(read_import_file(&file)?, batch).await?;
            for (line, why) in &report.skipped {
                eprintln!("{}:{line}: skipped: {why}", file.display());
            }
            println!(
                "imported {} users; {} already present; {} invalid rows skipped",
                report.inserted,
                report.present,
                report.skipped.len()
            );
            if !report.skipped.is_empty() {
                return Ok(ExitCode::from(1));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
