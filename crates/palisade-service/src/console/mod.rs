//! Administration from the web: the admin API (`/api/v1/admin/…`) for members of
//! `admin_group`. `access.rs` decides who gets in (everyone else gets 404 for every path
//! under it), `api.rs` answers; this file is the service they call, and every change it
//! makes is audited with the administrator, the target, the client address and what
//! changed.

mod access;
pub(crate) mod account_api;
pub(crate) mod api;
pub(crate) mod audit_api;
mod audit_log;
pub(crate) mod clients_api;
mod oidc_clients;
pub(crate) mod pages;
mod status;
mod user_actions;

pub(crate) use audit_log::Format;

pub(crate) use access::admins_only;

use std::sync::Arc;

use palisade::validate::Username;

use crate::clock::Clock;
use crate::error::AppError;
use crate::mail::{Content, Mailer, NOTICE_SECS};
use crate::store::{
    AuditRecord, AuditRow, GroupRemoval, SessionRow, Store, UserListRow, UserQuery, UserRow,
};

/// Users on one page of the search, at most.
pub(crate) const PAGE_MAX: i64 = 100;
/// Audit events on one page, at most.
pub(crate) const AUDIT_PAGE_MAX: i64 = 500;
/// Audit events shown with a user.
const USER_AUDIT_EVENTS: i64 = 20;

/// The administrator behind a change, for the audit trail.
pub(crate) struct Actor<'a> {
    pub(crate) user_id: i64,
    pub(crate) username: &'a str,
    pub(crate) client: &'a str,
}

impl<'a> Actor<'a> {
    pub(crate) fn of(user: &'a UserRow, client: &'a str) -> Self {
        Self {
            user_id: user.id,
            username: &user.username,
            client,
        }
    }
}

/// Everything the admin API shows of one user: no password hash, no factor's secret, no
/// token, no vault value.
pub(crate) struct UserDetail {
    pub(crate) user: UserRow,
    pub(crate) sessions: Vec<SessionRow>,
    /// Kind, name, added, last used.
    pub(crate) factors: Vec<(String, String, i64, Option<i64>)>,
    pub(crate) groups: Vec<String>,
    /// Name, created, expires, last used.
    pub(crate) tokens: Vec<(String, i64, Option<i64>, Option<i64>)>,
    pub(crate) audit: Vec<AuditRow>,
    /// Failed sign-ins counted against the account (forgotten a day after the last).
    pub(crate) failed_sign_ins: i64,
    pub(crate) last_failed_sign_in_at: Option<i64>,
}

/// The administration service.
pub(crate) struct Administration {
    store: Store,
    clock: Clock,
    mail: Arc<Mailer>,
    admin_group: String,
}

impl Administration {
    pub(crate) fn new(store: Store, clock: Clock, mail: Arc<Mailer>, admin_group: String) -> Self {
        Self {
            store,
            clock,
            mail,
            admin_group,
        }
    }

    /// Tells the owner of `user` what an administrator changed (after the change: a
    /// notice that fails to queue is logged, the change stands).
    async fn tell(&self, user: &UserRow, content: &Content) {
        let queued = match self
            .mail
            .letter(Some(user.id), &user.email, content, NOTICE_SECS)
        {
            Ok(mail) => self.store.queue_mail(&mail).await.map_err(AppError::from),
            Err(e) => Err(e),
        };
        match queued {
            Ok(()) => self.mail.queued(),
            Err(e) => {
                tracing::warn!(error = %e, "an administrator's change was not mailed to its user")
            }
        }
    }

    /// Whether `user_id` administers palisade, read now: a removal from the group takes
    /// effect at the next request.
    pub(crate) async fn is_admin(&self, user_id: i64) -> Result<bool, AppError> {
        Ok(self.store.in_group(user_id, &self.admin_group).await?)
    }

    /// The group whose members administer palisade.
    pub(crate) fn admin_group(&self) -> &str {
        &self.admin_group
    }

    /// One page of the user search.
    pub(crate) async fn search(&self, mut query: UserQuery) -> Result<Vec<UserListRow>, AppError> {
        query.limit = query.limit.clamp(1, PAGE_MAX);
        Ok(self.store.search_users(&query).await?)
    }

    /// Every group and its size.
    pub(crate) async fn groups(&self) -> Result<Vec<(String, i64)>, AppError> {
        Ok(self.store.group_sizes().await?)
    }

    async fn target(&self, username: &str) -> Result<UserRow, AppError> {
        // A name that cannot be a username names nobody.
        let name = Username::parse(username).map_err(|_| AppError::NotFound)?;
        self.store
            .user_by_username(name.as_str())
            .await?
            .ok_or(AppError::NotFound)
    }

    /// The id of `username`, if there is such a user (for filters).
    pub(crate) async fn user_id(&self, username: &str) -> Result<Option<i64>, AppError> {
        match self.target(username).await {
            Ok(user) => Ok(Some(user.id)),
            Err(AppError::NotFound) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Records that an administrator exported the audit log, and what they selected.
    pub(crate) async fn audit_exported(
        &self,
        actor: &Actor<'_>,
        what: &str,
    ) -> Result<(), AppError> {
        let detail = format!("by {} (id {}): {what}", actor.username, actor.user_id);
        self.store
            .audit(&AuditRecord {
                at: self.clock.now(),
                event: "admin_audit_exported",
                user_id: Some(actor.user_id),
                subject: Some(actor.username),
                client: Some(actor.client),
                detail: Some(&detail),
            })
            .await?;
        Ok(())
    }

    /// What palisade holds about `username` that an administrator may see.
    pub(crate) async fn user(&self, username: &str) -> Result<UserDetail, AppError> {
        let user = self.target(username).await?;
        let store = &self.store;
        let factors = store
            .second_factors_of(user.id)
            .await?
            .into_iter()
            .map(|f| (f.kind, f.name, f.created_at, f.last_used_at))
            .collect();
        let tokens = store
            .api_tokens_of(user.id)
            .await?
            .into_iter()
            .map(|t| (t.name, t.created_at, t.expires_at, t.last_used_at))
            .collect();
        let counter = store
            .counter(&crate::accounts::throttle::keys::account(user.id))
            .await?;
        Ok(UserDetail {
            failed_sign_ins: i64::from(counter.failures),
            last_failed_sign_in_at: (counter.failures > 0).then_some(counter.at),
            sessions: store.sessions_of(user.id).await?,
            factors,
            groups: store.groups_of(user.id).await?,
            tokens,
            audit: store.audit_of_user(user.id, USER_AUDIT_EVENTS).await?,
            user,
        })
    }

    async fn audit(
        &self,
        actor: &Actor<'_>,
        event: &str,
        target: &UserRow,
        what: &str,
    ) -> Result<(), AppError> {
        let detail = format!("by {} (id {}): {what}", actor.username, actor.user_id);
        self.store
            .audit(&AuditRecord {
                at: self.clock.now(),
                event,
                user_id: Some(target.id),
                subject: Some(&target.username),
                client: Some(actor.client),
                detail: Some(&detail),
            })
            .await?;
        Ok(())
    }

    /// Ends every session of `username` (and, through them, their apps' grants).
    pub(crate) async fn end_sessions(
        &self,
        actor: &Actor<'_>,
        username: &str,
    ) -> Result<u64, AppError> {
        let user = self.target(username).await?;
        let ended = self
            .store
            .end_all_sessions(user.id, self.clock.now())
            .await?;
        self.audit(
            actor,
            "admin_sessions_ended",
            &user,
            &format!("ended {ended} sessions"),
        )
        .await?;
        Ok(ended)
    }

    /// Disables `username` (ending their sessions) or enables them again. Nobody disables
    /// themselves: an administrator would lock themselves out.
    pub(crate) async fn set_disabled(
        &self,
        actor: &Actor<'_>,
        username: &str,
        disabled: bool,
    ) -> Result<u64, AppError> {
        let user = self.target(username).await?;
        if disabled && user.id == actor.user_id {
            return Err(AppError::AdminRule("You cannot disable your own account."));
        }
        self.store.set_disabled(user.id, disabled).await?;
        let (event, ended) = if disabled {
            let ended = self
                .store
                .end_all_sessions(user.id, self.clock.now())
                .await?;
            ("admin_user_disabled", ended)
        } else {
            ("admin_user_enabled", 0)
        };
        let what = if disabled {
            format!("disabled; ended {ended} sessions")
        } else {
            "enabled".to_owned()
        };
        self.audit(actor, event, &user, &what).await?;
        self.tell(
            &user,
            &Content::account_disabled(self.mail.site_name(), &user.username, disabled),
        )
        .await;
        Ok(ended)
    }

    /// Puts `username` in `group`; `false` if they were in it.
    pub(crate) async fn add_to_group(
        &self,
        actor: &Actor<'_>,
        username: &str,
        group: &str,
    ) -> Result<bool, AppError> {
        let group = checked_group(group)?;
        let user = self.target(username).await?;
        let added = self.store.add_group(user.id, group).await?;
        if added {
            self.audit(
                actor,
                "admin_group_added",
                &user,
                &format!("added to group {group}"),
            )
            .await?;
            if group == self.admin_group {
                let content = Content::admin_rights(self.mail.site_name(), &user.username, true);
                self.tell(&user, &content).await;
            }
        }
        Ok(added)
    }

    /// Takes `username` out of `group`; `false` if they were not in it. The administrators'
    /// group never loses its last member.
    pub(crate) async fn remove_from_group(
        &self,
        actor: &Actor<'_>,
        username: &str,
        group: &str,
    ) -> Result<bool, AppError> {
        let group = checked_group(group)?;
        let user = self.target(username).await?;
        let removed = if group == self.admin_group {
            match self.store.remove_group_keeping_one(user.id, group).await? {
                GroupRemoval::Removed => true,
                GroupRemoval::NotAMember => false,
                GroupRemoval::LastMember => {
                    return Err(AppError::AdminRule(
                        "This is the last administrator: make another one first.",
                    ));
                }
            }
        } else {
            self.store.remove_group(user.id, group).await?
        };
        if removed {
            self.audit(
                actor,
                "admin_group_removed",
                &user,
                &format!("removed from group {group}"),
            )
            .await?;
            if group == self.admin_group {
                let content = Content::admin_rights(self.mail.site_name(), &user.username, false);
                self.tell(&user, &content).await;
            }
        }
        Ok(removed)
    }
}

fn checked_group(group: &str) -> Result<&str, AppError> {
    if crate::authz::is_group_name(group) {
        Ok(group)
    } else {
        Err(AppError::Invalid(palisade::validate::ValidationError::new(
            "group",
            palisade::validate::Rule::Charset(
                "1 to 64 lowercase letters, digits, '-', '_' or '.', starting with a letter or digit",
            ),
        )))
    }
}
