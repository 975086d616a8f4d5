//! People's own data: everything palisade holds about an account, as one JSON document
//! ("Download my data"), and the account's deletion — by its owner (password and second
//! factor) or by an administrator from the console. `api.rs` and `pages.rs` answer; this
//! is the service they (and the console) call.

pub(crate) mod api;
pub(crate) mod pages;

use std::sync::Arc;

use serde::Serialize;

use crate::clock::Clock;
use crate::error::AppError;
use crate::mail::{Content, Mailer, NOTICE_SECS};
use crate::oidc::Oidc;
use crate::store::{AuditRecord, Deleted, Deletion, Store, UserRow};

/// Audit events in an export, newest first, at most (a flood of failed sign-ins by
/// someone else must not make the document unbounded); `audit_events_truncated` says so.
pub(crate) const EXPORT_AUDIT_MAX: i64 = 10_000;

/// Everything palisade holds about one account, but secrets: no password hash, factor
/// key, token, recovery code or vault value — their names and dates only.
#[derive(Debug, Serialize)]
pub(crate) struct Export {
    pub(crate) exported_at: i64,
    pub(crate) profile: Profile,
    pub(crate) sessions: Vec<ExportedSession>,
    pub(crate) second_factors: Vec<ExportedFactor>,
    pub(crate) recovery_codes_left: i64,
    pub(crate) groups: Vec<String>,
    pub(crate) api_tokens: Vec<Dated>,
    pub(crate) vault_secrets: Vec<Dated>,
    pub(crate) apps: Vec<ExportedApp>,
    pub(crate) audit_events: Vec<ExportedEvent>,
    pub(crate) audit_events_truncated: bool,
}

#[derive(Debug, Serialize)]
pub(crate) struct Profile {
    pub(crate) username: String,
    pub(crate) email: String,
    pub(crate) display_name: Option<String>,
    pub(crate) email_confirmed_at: Option<i64>,
    pub(crate) created_at: i64,
    pub(crate) disabled: bool,
}

#[derive(Debug, Serialize)]
pub(crate) struct ExportedSession {
    pub(crate) created_at: i64,
    pub(crate) last_seen_at: i64,
    pub(crate) client_addr: String,
    pub(crate) user_agent: String,
    pub(crate) second_factor: bool,
}

#[derive(Debug, Serialize)]
pub(crate) struct ExportedFactor {
    pub(crate) kind: String,
    pub(crate) name: String,
    pub(crate) added_at: i64,
    pub(crate) last_used_at: Option<i64>,
}

/// A named thing and when it was made (or last changed).
#[derive(Debug, Serialize)]
pub(crate) struct Dated {
    pub(crate) name: String,
    pub(crate) at: i64,
}

#[derive(Debug, Serialize)]
pub(crate) struct ExportedApp {
    pub(crate) client_id: String,
    pub(crate) name: String,
    pub(crate) scope: String,
    pub(crate) granted_at: i64,
}

#[derive(Debug, Serialize)]
pub(crate) struct ExportedEvent {
    pub(crate) at: i64,
    pub(crate) event: String,
    pub(crate) client_addr: Option<String>,
    pub(crate) detail: Option<String>,
}

/// Who deleted an account, for its audit event and its notice.
pub(crate) enum DeletedBy<'a> {
    Owner,
    Admin { user_id: i64, username: &'a str },
}

/// The export and deletion service.
pub(crate) struct AccountData {
    store: Store,
    clock: Clock,
    mail: Arc<Mailer>,
    oidc: Arc<Oidc>,
    reserved_secs: i64,
    /// The administrators' group, which never loses its last member.
    admin_group: String,
}

impl AccountData {
    pub(crate) fn new(
        store: Store,
        clock: Clock,
        mail: Arc<Mailer>,
        oidc: Arc<Oidc>,
        reserved_days: u64,
        admin_group: String,
    ) -> Self {
        Self {
            store,
            clock,
            mail,
            oidc,
            admin_group,
            reserved_secs: i64::try_from(reserved_days.saturating_mul(24 * 3600))
                .unwrap_or(i64::MAX / 2),
        }
    }

    /// The document of everything held about `user`.
    pub(crate) async fn export(&self, user: &UserRow) -> Result<Export, AppError> {
        let store = &self.store;
        let id = user.id;
        let sessions = store
            .sessions_of(id)
            .await?
            .into_iter()
            .map(|s| ExportedSession {
                created_at: s.created_at,
                last_seen_at: s.last_seen_at,
                client_addr: s.client_addr,
                user_agent: s.user_agent,
                second_factor: s.second_factor != 0,
            })
            .collect();
        let second_factors = store
            .second_factors_of(id)
            .await?
            .into_iter()
            .map(|f| ExportedFactor {
                kind: f.kind,
                name: f.name,
                added_at: f.created_at,
                last_used_at: f.last_used_at,
            })
            .collect();
        let api_tokens = store
            .api_tokens_of(id)
            .await?
            .into_iter()
            .map(|t| Dated {
                name: t.name,
                at: t.created_at,
            })
            .collect();
        let vault_secrets = store
            .secret_names(id)
            .await?
            .into_iter()
            .map(|(name, at)| Dated { name, at })
            .collect();
        let apps = self
            .oidc
            .apps_of(id)
            .await?
            .into_iter()
            .map(|a| ExportedApp {
                client_id: a.client_id,
                name: a.name,
                scope: a.scope,
                granted_at: a.granted_at,
            })
            .collect();
        let mut audit = store.audit_of_user(id, EXPORT_AUDIT_MAX + 1).await?;
        let audit_events_truncated = audit.len() as i64 > EXPORT_AUDIT_MAX;
        audit.truncate(EXPORT_AUDIT_MAX as usize);
        let audit_events = audit
            .into_iter()
            .map(|e| ExportedEvent {
                at: e.at,
                event: e.event,
                client_addr: e.client_addr,
                detail: e.detail,
            })
            .collect();
        Ok(Export {
            exported_at: self.clock.now(),
            profile: Profile {
                username: user.username.clone(),
                email: user.email.clone(),
                display_name: user.display_name.clone(),
                email_confirmed_at: user.email_verified_at,
                created_at: user.created_at,
                disabled: user.disabled != 0,
            },
            sessions,
            second_factors,
            recovery_codes_left: store.recovery_codes_left(id).await?,
            groups: store.groups_of(id).await?,
            api_tokens,
            vault_secrets,
            apps,
            audit_events,
            audit_events_truncated,
        })
    }

    /// Deletes `user`'s account (see `store::deletion`), mails the address that it is
    /// gone, and records who did it from where. `false`: it was already gone. The last
    /// administrator is not deleted.
    pub(crate) async fn delete(
        &self,
        user: &UserRow,
        by: DeletedBy<'_>,
        client: &str,
    ) -> Result<bool, AppError> {
        let now = self.clock.now();
        let by_admin = matches!(by, DeletedBy::Admin { .. });
        let notice = self.mail.letter(
            None,
            &user.email,
            &Content::account_deleted(self.mail.site_name(), &user.username, by_admin),
            NOTICE_SECS,
        )?;
        let listening = self.oidc.listening_clients().await?;
        let counter = crate::accounts::throttle::keys::account(user.id);
        let detail = match by {
            DeletedBy::Owner => "deleted by its owner".to_owned(),
            DeletedBy::Admin { user_id, username } => {
                format!("by {username} (id {user_id}): deleted the account")
            }
        };
        let deletion = Deletion {
            user_id: user.id,
            username: &user.username,
            email: &user.email,
            now,
            reserved_until: now.saturating_add(self.reserved_secs),
            counter: &counter,
            counter_prefix: &crate::accounts::throttle::keys::pair_prefix(&counter),
            listening: &listening,
            keep_one_in: &self.admin_group,
            notice: Some(&notice),
            audit: AuditRecord {
                at: now,
                event: if by_admin {
                    "admin_user_deleted"
                } else {
                    "account_deleted"
                },
                user_id: Some(user.id),
                subject: None,
                client: Some(client),
                detail: Some(&detail),
            },
        };
        match self.store.delete_user(&deletion).await? {
            Deleted::Gone { .. } => {}
            Deleted::NoSuchUser => return Ok(false),
            Deleted::LastMember => {
                return Err(AppError::AdminRule(
                    "This is the last administrator: make another one first, then delete this account.",
                ));
            }
        }
        self.mail.queued();
        Ok(true)
    }
}
