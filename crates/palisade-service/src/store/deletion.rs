//! Deleting an account: every row about the user goes in one transaction, but the audit
//! trail, which keeps its events under an opaque name (`deleted-<id>`: ids are never
//! reused) without the username or what the events said; the username is reserved for a
//! while (`retired_usernames`).

use std::collections::HashSet;

use super::{AuditRecord, NewMail, Store, StoreError};

/// What a deletion did.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Deleted {
    /// The account is gone; the name its audit events now carry.
    Gone { opaque: String },
    /// There was no such account (another request deleted it first).
    NoSuchUser,
    /// The account is the last member of the group that must keep one (the
    /// administrators): nothing changed.
    LastMember,
}

/// One account's deletion, as the service decided it.
pub(crate) struct Deletion<'a> {
    pub(crate) user_id: i64,
    pub(crate) username: &'a str,
    pub(crate) email: &'a str,
    pub(crate) now: i64,
    /// The username is free again after this.
    pub(crate) reserved_until: i64,
    /// Throttle counters about the account (its key, and the prefix of its per-address ones).
    pub(crate) counter: &'a str,
    pub(crate) counter_prefix: &'a str,
    /// Apps with a back-channel logout URI: each is told of the user's sessions.
    pub(crate) listening: &'a HashSet<String>,
    /// The group that must keep a member (the administrators): the last one is not
    /// deleted.
    pub(crate) keep_one_in: &'a str,
    /// The last message to the address: that the account is gone.
    pub(crate) notice: Option<&'a NewMail>,
    /// The deletion's own audit event (its subject becomes the opaque name), written in
    /// the same transaction.
    pub(crate) audit: AuditRecord<'a>,
}

/// The name a deleted user's audit events keep.
pub(crate) fn opaque_name(user_id: i64) -> String {
    format!("deleted-{user_id}")
}

#[derive(sqlx::FromRow)]
struct EndedGrant {
    client_id: String,
    sid: String,
    redeemed: i64,
}

impl Store {
    /// Deletes the account of `d.user_id` and everything about it (see the module). Two
    /// deletions of one account at once: one does it, the other finds `NoSuchUser`.
    pub(crate) async fn delete_user(&self, d: &Deletion<'_>) -> Result<Deleted, StoreError> {
        self.revoking(async {
            let mut tx = self.begin_write().await?;
            // Locks the row (PostgreSQL): a second deletion waits here, then finds nothing.
            let locked = sqlx::query("UPDATE users SET disabled = 1 WHERE id = $1")
                .bind(d.user_id)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if locked == 0 {
                return Ok(Deleted::NoSuchUser);
            }
            // The group's members, locked (PostgreSQL; SQLite has one writer) in one order,
            // as a removal from the group locks them: two administrators deleting
            // themselves at once leave one.
            let sql = match self.dialect {
                super::Dialect::Postgres => {
                    "SELECT user_id FROM user_groups WHERE name = $1 ORDER BY user_id FOR UPDATE"
                }
                super::Dialect::Sqlite => "SELECT user_id FROM user_groups WHERE name = $1",
            };
            let members: Vec<i64> = sqlx::query_scalar(sql)
                .bind(d.keep_one_in)
                .fetch_all(&mut *tx)
                .await?;
            if members == [d.user_id] {
                tx.rollback().await?;
                return Ok(Deleted::LastMember);
            }
            // Apps that signed the user in are told their sessions ended (by `sid`: the
            // user's subject goes with the account).
            let grants = sqlx::query_as::<_, EndedGrant>(
                "UPDATE oidc_grants SET logout_done = 1 WHERE user_id = $1 AND logout_done = 0 \
                 RETURNING client_id, sid, redeemed",
            )
            .bind(d.user_id)
            .fetch_all(&mut *tx)
            .await?;
            let mut told = HashSet::new();
            for grant in grants {
                if grant.redeemed == 0
                    || !d.listening.contains(&grant.client_id)
                    || !told.insert((grant.client_id.clone(), grant.sid.clone()))
                {
                    continue;
                }
                sqlx::query(
                    "INSERT INTO oidc_logouts (id, client_id, user_id, sid, created_at, next_attempt_at) \
                     VALUES ($1, $2, $3, $4, $5, $5)",
                )
                .bind(uuid::Uuid::new_v4().simple().to_string())
                .bind(&grant.client_id)
                .bind(d.user_id)
                .bind(&grant.sid)
                .bind(d.now)
                .execute(&mut *tx)
                .await?;
            }
            let opaque = opaque_name(d.user_id);
            // The events about the user keep what happened, when and from where, not
            // who (by name) or what they said.
            sqlx::query(
                "UPDATE audit_events SET subject = $2, detail = NULL WHERE user_id = $1",
            )
            .bind(d.user_id)
            .bind(&opaque)
            .execute(&mut *tx)
            .await?;
            // Where the user acted as an administrator, their name becomes the same
            // opaque one (those events are about someone else and keep their detail).
            let actor = format!("by {} (id {})", d.username, d.user_id);
            sqlx::query(
                "UPDATE audit_events SET detail = $3 || substr(detail, length($2) + 1) \
                 WHERE event >= 'admin_' AND event < 'admin`' AND substr(detail, 1, length($2)) = $2 \
                 AND (user_id IS NULL OR user_id <> $1)",
            )
            .bind(d.user_id)
            .bind(&actor)
            .bind(format!("by {opaque} (id {})", d.user_id))
            .execute(&mut *tx)
            .await?;
            // Mail to the address, sent or not (it is about this account, and a pending
            // notice would arrive after the account is gone).
            sqlx::query("DELETE FROM outbox WHERE user_id = $1 OR recipient = $2")
                .bind(d.user_id)
                .bind(d.email)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM throttle WHERE key = $1")
                .bind(d.counter)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM throttle WHERE substr(key, 1, length($1)) = $1")
                .bind(d.counter_prefix)
                .execute(&mut *tx)
                .await?;
            // Sessions, factors, codes, tokens, groups, secrets, consents, grants, links,
            // known browsers and the OpenID subject go by their foreign keys.
            sqlx::query("DELETE FROM users WHERE id = $1")
                .bind(d.user_id)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO retired_usernames (username, reserved_until) VALUES ($1, $2) \
                 ON CONFLICT (username) DO UPDATE SET reserved_until = excluded.reserved_until",
            )
            .bind(d.username)
            .bind(d.reserved_until)
            .execute(&mut *tx)
            .await?;
            if let Some(notice) = d.notice {
                Self::insert_mail(&mut tx, notice).await?;
            }
            let audit = AuditRecord {
                subject: Some(&opaque),
                ..d.audit
            };
            super::audit::insert(&audit).execute(&mut *tx).await?;
            tx.commit().await?;
            Ok::<_, StoreError>(Deleted::Gone { opaque })
        })
        .await
    }

    /// Refuses (`Conflict("username")`) a username reserved after its account's deletion.
    /// Called inside the transaction that makes an account, after its insert: on
    /// PostgreSQL that insert waited for a deletion of the same name in flight, and this
    /// statement then sees the reservation it made.
    pub(super) async fn refuse_retired(
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        username: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let reserved = sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM retired_usernames WHERE username = $1 AND reserved_until > $2",
        )
        .bind(username)
        .bind(now)
        .fetch_one(&mut **tx)
        .await?;
        if reserved > 0 {
            Err(StoreError::Conflict("username"))
        } else {
            Ok(())
        }
    }

    /// Forgets reservations that ended at or before `now`.
    pub(crate) async fn delete_old_reservations(&self, now: i64) -> Result<u64, StoreError> {
        Ok(
            sqlx::query("DELETE FROM retired_usernames WHERE reserved_until <= $1")
                .bind(now)
                .execute(&self.pool)
                .await?
                .rows_affected(),
        )
    }
}
