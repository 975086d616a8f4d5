//! Every query the service runs: literal SQL, values only as bind parameters.

use palisade::throttle::{Counter, DelaySchedule};
use sqlx::{AnyPool, FromRow};

/// A storage failure. `Conflict` is the only one a user can cause.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StoreError {
    /// A unique field is taken.
    #[error("{0} is already registered")]
    Conflict(&'static str),
    /// Anything else: logged, answered with a fixed 500.
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

/// A password hash as stored. Not a key to anything by itself, but a target for offline
/// guessing: `[redacted]` in `Debug`, read only through [`StoredHash::as_str`].
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct StoredHash(String);

impl StoredHash {
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<String> for StoredHash {
    fn from(hash: String) -> Self {
        Self(hash)
    }
}

impl std::fmt::Debug for StoredHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StoredHash([redacted])")
    }
}

#[derive(Debug, Clone, FromRow)]
pub(crate) struct UserRow {
    pub(crate) id: i64,
    pub(crate) username: String,
    pub(crate) email: String,
    pub(crate) display_name: Option<String>,
    #[sqlx(try_from = "String")]
    pub(crate) password_hash: StoredHash,
    pub(crate) disabled: i64,
    pub(crate) created_at: i64,
}

#[derive(Debug, Clone, FromRow)]
pub(crate) struct SessionRow {
    pub(crate) id: String,
    pub(crate) user_id: i64,
    pub(crate) created_at: i64,
    pub(crate) last_seen_at: i64,
    pub(crate) last_auth_at: i64,
    pub(crate) expires_at: i64,
    pub(crate) client_addr: String,
    pub(crate) user_agent: String,
}

#[derive(FromRow)]
struct SessionWithUser {
    id: String,
    user_id: i64,
    created_at: i64,
    last_seen_at: i64,
    last_auth_at: i64,
    expires_at: i64,
    client_addr: String,
    user_agent: String,
    username: String,
    email: String,
    display_name: Option<String>,
    password_hash: String,
    disabled: i64,
    user_created_at: i64,
}

const USER_COLUMNS_BY_LOGIN: &str = "SELECT id, username, email, display_name, password_hash, disabled, created_at FROM users WHERE username = $1 OR email_key = $2";

#[derive(Debug, Clone)]
pub(crate) struct Store {
    pool: AnyPool,
}

pub(crate) struct NewUser<'a> {
    pub(crate) username: &'a str,
    pub(crate) email: &'a str,
    pub(crate) email_key: &'a str,
    pub(crate) display_name: Option<&'a str>,
    pub(crate) password_hash: &'a str,
    /// The bcrypt cost when `password_hash` is an imported bcrypt hash.
    pub(crate) legacy_cost: Option<u32>,
}

#[derive(FromRow)]
struct LoginLookup {
    id: Option<i64>,
    username: Option<String>,
    email: Option<String>,
    display_name: Option<String>,
    password_hash: Option<String>,
    disabled: Option<i64>,
    created_at: Option<i64>,
    max_legacy_cost: Option<i64>,
}

impl Store {
    pub(crate) fn new(pool: AnyPool) -> Self {
        Self { pool }
    }

    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }

    pub(crate) async fn insert_user(&self, user: NewUser<'_>, now: i64) -> Result<i64, StoreError> {
        let result = sqlx::query_scalar::<_, i64>(
            "INSERT INTO users (username, email, email_key, display_name, password_hash, legacy_cost, disabled, created_at, password_changed_at) \
             VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $7) RETURNING id",
        )
        .bind(user.username)
        .bind(user.email)
        .bind(user.email_key)
        .bind(user.display_name)
        .bind(user.password_hash)
        .bind(user.legacy_cost.map(i64::from))
        .bind(now)
        .fetch_one(&self.pool)
        .await;
        match result {
            Ok(id) => Ok(id),
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                Err(StoreError::Conflict(if e.message().contains("email") {
                    "email"
                } else {
                    "username"
                }))
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The user whose username is `username` or whose email comparison key is `email_key`.
    pub(crate) async fn user_by_login(
        &self,
        username: &str,
        email_key: &str,
    ) -> Result<Option<UserRow>, StoreError> {
        Ok(sqlx::query_as::<_, UserRow>(USER_COLUMNS_BY_LOGIN)
            .bind(username)
            .bind(email_key)
            .fetch_optional(&self.pool)
            .await?)
    }

    /// The user a login names (by username, or by email comparison key) if any, and the
    /// highest bcrypt cost among imported hashes still stored (0: none), in one round trip
    /// whether or not the user exists. The cost comes from an indexed MAX(), so it stays
    /// cheap with any number of imported users and is current on every instance.
    pub(crate) async fn login_lookup(
        &self,
        username: &str,
        email_key: &str,
    ) -> Result<(Option<UserRow>, u32), StoreError> {
        let row = sqlx::query_as::<_, LoginLookup>(
            "SELECT u.id, u.username, u.email, u.display_name, u.password_hash, u.disabled, u.created_at, m.max_legacy_cost \
             FROM (SELECT MAX(legacy_cost) AS max_legacy_cost FROM users) m \
             LEFT JOIN users u ON u.id = (SELECT id FROM users WHERE username = $1 OR email_key = $2 LIMIT 1)",
        )
        .bind(username)
        .bind(email_key)
        .fetch_one(&self.pool)
        .await?;
        let cost = row.max_legacy_cost.unwrap_or(0).clamp(0, 31) as u32;
        let user = match (row.id, row.username, row.email, row.password_hash) {
            (Some(id), Some(username), Some(email), Some(hash)) => Some(UserRow {
                id,
                username,
                email,
                display_name: row.display_name,
                password_hash: StoredHash::from(hash),
                disabled: row.disabled.unwrap_or(1),
                created_at: row.created_at.unwrap_or(0),
            }),
            _ => None,
        };
        Ok((user, cost))
    }

    /// The highest bcrypt cost among imported hashes still stored (0: none).
    pub(crate) async fn max_legacy_cost(&self) -> Result<u32, StoreError> {
        let cost = sqlx::query_scalar::<_, Option<i64>>("SELECT MAX(legacy_cost) FROM users")
            .fetch_one(&self.pool)
            .await?;
        Ok(cost.unwrap_or(0).clamp(0, 31) as u32)
    }

    /// Inserts users in one transaction, skipping any whose username or email is taken.
    /// Returns how many were inserted.
    pub(crate) async fn import_users(
        &self,
        users: &[NewUser<'_>],
        now: i64,
    ) -> Result<u64, StoreError> {
        let mut tx = self.pool.begin().await?;
        let mut inserted = 0;
        for user in users {
            inserted += sqlx::query(
                "INSERT INTO users (username, email, email_key, display_name, password_hash, legacy_cost, disabled, created_at, password_changed_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $7) ON CONFLICT DO NOTHING",
            )
            .bind(user.username)
            .bind(user.email)
            .bind(user.email_key)
            .bind(user.display_name)
            .bind(user.password_hash)
            .bind(user.legacy_cost.map(i64::from))
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        }
        tx.commit().await?;
        Ok(inserted)
    }

    pub(crate) async fn user_by_id(&self, id: i64) -> Result<Option<UserRow>, StoreError> {
        Ok(sqlx::query_as::<_, UserRow>(
            "SELECT id, username, email, display_name, password_hash, disabled, created_at FROM users WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&self.pool)
        .await?)
    }

    pub(crate) async fn list_users(&self) -> Result<Vec<UserRow>, StoreError> {
        Ok(sqlx::query_as::<_, UserRow>(
            "SELECT id, username, email, display_name, password_hash, disabled, created_at FROM users ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    pub(crate) async fn set_disabled(&self, id: i64, disabled: bool) -> Result<(), StoreError> {
        sqlx::query("UPDATE users SET disabled = $1 WHERE id = $2")
            .bind(i64::from(disabled))
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Replaces a hash found outdated at login (same password, new algorithm or pepper).
    pub(crate) async fn replace_hash(
        &self,
        id: i64,
        old_hash: &str,
        new_hash: &str,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE users SET password_hash = $1, legacy_cost = NULL WHERE id = $2 AND password_hash = $3")
            .bind(new_hash)
            .bind(id)
            .bind(old_hash)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Sets a new password and ends every session but `keep`, in one transaction.
    pub(crate) async fn change_password(
        &self,
        id: i64,
        new_hash: &str,
        keep: &str,
        now: i64,
    ) -> Result<u64, StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE users SET password_hash = $1, legacy_cost = NULL, password_changed_at = $2 WHERE id = $3")
            .bind(new_hash)
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let ended = sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id <> $2")
            .bind(id)
            .bind(keep)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(ended)
    }

    pub(crate) async fn insert_session(
        &self,
        s: &SessionRow,
        token_hash: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO sessions (id, user_id, token_hash, created_at, last_seen_at, last_auth_at, expires_at, client_addr, user_agent) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(&s.id)
        .bind(s.user_id)
        .bind(token_hash)
        .bind(s.created_at)
        .bind(s.last_seen_at)
        .bind(s.last_auth_at)
        .bind(s.expires_at)
        .bind(&s.client_addr)
        .bind(&s.user_agent)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The session behind a token hash and its user, in one round trip.
    pub(crate) async fn session_with_user(
        &self,
        token_hash: &str,
    ) -> Result<Option<(SessionRow, UserRow)>, StoreError> {
        let row = sqlx::query_as::<_, SessionWithUser>(
            "SELECT s.id, s.user_id, s.created_at, s.last_seen_at, s.last_auth_at, s.expires_at, s.client_addr, s.user_agent, \
                    u.username, u.email, u.display_name, u.password_hash, u.disabled, u.created_at AS user_created_at \
             FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|r| {
            let user = UserRow {
                id: r.user_id,
                username: r.username,
                email: r.email,
                display_name: r.display_name,
                password_hash: StoredHash::from(r.password_hash),
                disabled: r.disabled,
                created_at: r.user_created_at,
            };
            let session = SessionRow {
                id: r.id,
                user_id: r.user_id,
                created_at: r.created_at,
                last_seen_at: r.last_seen_at,
                last_auth_at: r.last_auth_at,
                expires_at: r.expires_at,
                client_addr: r.client_addr,
                user_agent: r.user_agent,
            };
            (session, user)
        }))
    }

    /// Records activity, at most once a minute per session.
    pub(crate) async fn touch_session(&self, id: &str, now: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE id = $2 AND last_seen_at < $3")
            .bind(now)
            .bind(id)
            .bind(now - 60)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Gives a session a new token and a fresh password-entry time (after re-authentication).
    pub(crate) async fn reissue_session(
        &self,
        id: &str,
        token_hash: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE sessions SET token_hash = $1, last_auth_at = $2, last_seen_at = $2 WHERE id = $3")
            .bind(token_hash)
            .bind(now)
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub(crate) async fn sessions_of(&self, user_id: i64) -> Result<Vec<SessionRow>, StoreError> {
        Ok(sqlx::query_as::<_, SessionRow>(
            "SELECT id, user_id, created_at, last_seen_at, last_auth_at, expires_at, client_addr, user_agent \
             FROM sessions WHERE user_id = $1 ORDER BY created_at DESC LIMIT 100",
        )
        .bind(user_id)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Ends one of the user's sessions; `false` when it is not theirs or does not exist.
    pub(crate) async fn end_session(&self, user_id: i64, id: &str) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM sessions WHERE id = $1 AND user_id = $2")
            .bind(id)
            .bind(user_id)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    pub(crate) async fn end_all_sessions(&self, user_id: i64) -> Result<u64, StoreError> {
        Ok(sqlx::query("DELETE FROM sessions WHERE user_id = $1")
            .bind(user_id)
            .execute(&self.pool)
            .await?
            .rows_affected())
    }

    pub(crate) async fn delete_expired_sessions(
        &self,
        now: i64,
        idle_cutoff: i64,
    ) -> Result<u64, StoreError> {
        Ok(
            sqlx::query("DELETE FROM sessions WHERE expires_at <= $1 OR last_seen_at <= $2")
                .bind(now)
                .bind(idle_cutoff)
                .execute(&self.pool)
                .await?
                .rows_affected(),
        )
    }

    pub(crate) async fn counter(&self, key: &str) -> Result<Counter, StoreError> {
        let row =
            sqlx::query_as::<_, (i64, i64)>("SELECT failures, at FROM throttle WHERE key = $1")
                .bind(key)
                .fetch_optional(&self.pool)
                .await?;
        Ok(row
            .map(|(f, at)| Counter {
                failures: f.clamp(0, u32::MAX as i64) as u32,
                at,
            })
            .unwrap_or_default())
    }

    /// Counts one attempt into a delay counter if, and only if, the counter allows an
    /// attempt now, in one atomic statement (the row is locked while the condition is
    /// evaluated, so attempts in flight are all seen). `false`: refused, nothing changed.
    /// The condition is [`palisade::throttle::ThrottlePolicy::check_delay`] written in SQL;
    /// `the_sql_gate_agrees_with_the_policy` checks both against each other.
    pub(crate) async fn count_attempt_if_allowed(
        &self,
        key: &str,
        schedule: DelaySchedule,
        now: i64,
    ) -> Result<bool, StoreError> {
        let counted = sqlx::query_scalar::<_, i64>(
            "INSERT INTO throttle (key, failures, at) VALUES ($1, 1, $2) \
             ON CONFLICT (key) DO UPDATE SET \
               failures = CASE WHEN throttle.at <= $3 THEN 1 ELSE throttle.failures + 1 END, \
               at = $2 \
             WHERE throttle.at <= $3 \
                OR throttle.failures < $4 \
                OR throttle.at + CASE WHEN throttle.failures - $4 >= $5 THEN $6 \
                     ELSE CAST(1 AS BIGINT) << CAST(throttle.failures - $4 AS INTEGER) END <= $2 \
             RETURNING failures",
        )
        .bind(key)
        .bind(now)
        .bind(now.saturating_sub(schedule.forget_after.min(i64::MAX as u64) as i64))
        .bind(i64::from(schedule.free_failures))
        .bind(i64::from(schedule.doublings))
        .bind(schedule.max_delay.min(i64::MAX as u64) as i64)
        .fetch_optional(&self.pool)
        .await?;
        Ok(counted.is_some())
    }

    /// Takes back one attempt counted by [`Store::count_attempt_if_allowed`] that turned
    /// out not to be a failure (or was refused by a later check), atomically.
    pub(crate) async fn uncount_attempt(&self, key: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE throttle SET failures = failures - 1 WHERE key = $1 AND failures > 0")
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Counts one attempt into a fixed-window rate counter, atomically, and returns it.
    pub(crate) async fn count_attempt(
        &self,
        key: &str,
        now: i64,
        window: i64,
    ) -> Result<Counter, StoreError> {
        let (failures, at) = sqlx::query_as::<_, (i64, i64)>(
            "INSERT INTO throttle (key, failures, at) VALUES ($1, 1, $2) \
             ON CONFLICT (key) DO UPDATE SET \
               failures = CASE WHEN throttle.at <= $3 THEN 1 ELSE throttle.failures + 1 END, \
               at = CASE WHEN throttle.at <= $3 THEN $2 ELSE throttle.at END \
             RETURNING failures, at",
        )
        .bind(key)
        .bind(now)
        .bind(now - window)
        .fetch_one(&self.pool)
        .await?;
        Ok(Counter {
            failures: failures.clamp(0, u32::MAX as i64) as u32,
            at,
        })
    }

    /// Forgets counters untouched since `cutoff` (they no longer delay anyone), so a spray
    /// of made-up names cannot grow the table without bound.
    pub(crate) async fn delete_stale_counters(&self, cutoff: i64) -> Result<u64, StoreError> {
        Ok(sqlx::query("DELETE FROM throttle WHERE at < $1")
            .bind(cutoff)
            .execute(&self.pool)
            .await?
            .rows_affected())
    }

    pub(crate) async fn clear_counter(&self, key: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM throttle WHERE key = $1")
            .bind(key)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Clears every counter whose key starts with `prefix`.
    pub(crate) async fn clear_counters_with_prefix(&self, prefix: &str) -> Result<u64, StoreError> {
        Ok(
            sqlx::query("DELETE FROM throttle WHERE substr(key, 1, $1) = $2")
                .bind(prefix.len() as i64)
                .bind(prefix)
                .execute(&self.pool)
                .await?
                .rows_affected(),
        )
    }

    pub(crate) async fn audit(
        &self,
        now: i64,
        event: &str,
        user_id: Option<i64>,
        subject: Option<&str>,
        client: Option<&str>,
        detail: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO audit_events (at, event, user_id, subject, client_addr, detail) VALUES ($1, $2, $3, $4, $5, $6)")
            .bind(now)
            .bind(event)
            .bind(user_id)
            .bind(subject)
            .bind(client)
            .bind(detail)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    pub(crate) async fn secret_names(&self, owner: i64) -> Result<Vec<(String, i64)>, StoreError> {
        Ok(sqlx::query_as::<_, (String, i64)>(
            "SELECT name, updated_at FROM secrets WHERE owner_id = $1 ORDER BY name",
        )
        .bind(owner)
        .fetch_all(&self.pool)
        .await?)
    }

    pub(crate) async fn secret(
        &self,
        owner: i64,
        name: &str,
    ) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar::<_, String>(
            "SELECT sealed FROM secrets WHERE owner_id = $1 AND name = $2",
        )
        .bind(owner)
        .bind(name)
        .fetch_optional(&self.pool)
        .await?)
    }

    pub(crate) async fn put_secret(
        &self,
        owner: i64,
        name: &str,
        sealed: &str,
        key_id: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO secrets (owner_id, name, sealed, key_id, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5) \
             ON CONFLICT (owner_id, name) DO UPDATE SET sealed = $3, key_id = $4, updated_at = $5",
        )
        .bind(owner)
        .bind(name)
        .bind(sealed)
        .bind(key_id)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    pub(crate) async fn delete_secret(&self, owner: i64, name: &str) -> Result<bool, StoreError> {
        Ok(
            sqlx::query("DELETE FROM secrets WHERE owner_id = $1 AND name = $2")
                .bind(owner)
                .bind(name)
                .execute(&self.pool)
                .await?
                .rows_affected()
                == 1,
        )
    }

    /// Secrets per key id.
    pub(crate) async fn secrets_per_key(&self) -> Result<Vec<(String, i64)>, StoreError> {
        Ok(sqlx::query_as::<_, (String, i64)>(
            "SELECT key_id, COUNT(*) FROM secrets GROUP BY key_id ORDER BY key_id",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// The next batch of secrets not sealed under `current`, after `(owner, name)` in key order.
    pub(crate) async fn secrets_to_reseal(
        &self,
        current: &str,
        after: (i64, &str),
        limit: i64,
    ) -> Result<Vec<(i64, String, String)>, StoreError> {
        Ok(sqlx::query_as::<_, (i64, String, String)>(
            "SELECT owner_id, name, sealed FROM secrets WHERE key_id <> $1 AND (owner_id > $2 OR (owner_id = $2 AND name > $3)) \
             ORDER BY owner_id, name LIMIT $4",
        )
        .bind(current)
        .bind(after.0)
        .bind(after.1)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Replaces sealed values in one transaction; each only if unchanged since it was read.
    pub(crate) async fn reseal_batch(
        &self,
        rows: &[(i64, String, String, String)],
        key_id: &str,
        now: i64,
    ) -> Result<u64, StoreError> {
        let mut tx = self.pool.begin().await?;
        let mut done = 0;
        for (owner, name, old, new) in rows {
            done += sqlx::query("UPDATE secrets SET sealed = $1, key_id = $2, updated_at = $3 WHERE owner_id = $4 AND name = $5 AND sealed = $6")
                .bind(new)
                .bind(key_id)
                .bind(now)
                .bind(owner)
                .bind(name)
                .bind(old)
                .execute(&mut *tx)
                .await?
                .rows_affected();
        }
        tx.commit().await?;
        Ok(done)
    }

    /// Every stored password hash (for counting pepper versions).
    pub(crate) async fn password_hashes(&self) -> Result<Vec<String>, StoreError> {
        Ok(
            sqlx::query_scalar::<_, String>("SELECT password_hash FROM users")
                .fetch_all(&self.pool)
                .await?,
        )
    }

    #[cfg(test)]
    pub(crate) async fn audit_events_named(&self, event: &str) -> Result<i64, StoreError> {
        Ok(
            sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM audit_events WHERE event = $1")
                .bind(event)
                .fetch_one(&self.pool)
                .await?,
        )
    }

    pub(crate) async fn insert_csp_report(
        &self,
        now: i64,
        client: &str,
        r: &palisade::http::csp::CspReport,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO csp_reports (at, client_addr, document_uri, blocked_uri, directive, disposition, source_file, line, col, sample) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(now)
        .bind(client)
        .bind(&r.document_uri)
        .bind(&r.blocked_uri)
        .bind(&r.effective_directive)
        .bind(&r.disposition)
        .bind(&r.source_file)
        .bind(r.line.map(|l| l.min(i64::MAX as u64) as i64))
        .bind(r.column.map(|c| c.min(i64::MAX as u64) as i64))
        .bind(&r.sample)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    #[cfg(test)]
    pub(crate) async fn count_rows(&self, table: CountedTable) -> Result<i64, StoreError> {
        let sql = match table {
            CountedTable::Users => "SELECT COUNT(*) FROM users",
            CountedTable::Sessions => "SELECT COUNT(*) FROM sessions",
            CountedTable::CspReports => "SELECT COUNT(*) FROM csp_reports",
        };
        Ok(sqlx::query_scalar::<_, i64>(sql)
            .fetch_one(&self.pool)
            .await?)
    }
}

/// Tables whose size the tests look at.
#[cfg(test)]
#[derive(Debug, Clone, Copy)]
pub(crate) enum CountedTable {
    Users,
    Sessions,
    CspReports,
}
