//! A login's statements: three round trips, whatever the outcome.
//!
//! 1. [`Store::login_lookup`]: count the attempt against the address's rate and look the
//!    account up, in one statement.
//! 2. [`Store::count_login_attempt`]: count it into the account's two delay counters, or
//!    refuse it and count nothing, before any hashing.
//! 3. After the hash, [`Store::finish_login`] (reset the counters, start the session, audit
//!    it) or the failure's audit record ([`Store::audit`]).
//!
//! PostgreSQL runs 2 and 3 as one statement each (writes chained in a `WITH`); SQLite,
//! which has no writes in `WITH` and no network between the service and its file, as one
//! transaction each. Row locks are always taken pair counter first, then account counter,
//! so that two logins cannot wait on each other (PostgreSQL would abort one, `40P01`).

use palisade::throttle::{Counter, DelaySchedule};
use sqlx::FromRow;

use super::pending_logins::PendingLoginRow;
use super::throttle::{DELAY_GATE, delay_gate, rate_upsert};
use super::users::{StoredHash, UserRow};
use super::{Dialect, SessionRow, Store, StoreError, audit::AuditRecord};

/// What the first statement found.
#[derive(Debug)]
pub(crate) struct LoginLookup {
    /// The address's rate counter, this attempt included.
    pub(crate) rate: Counter,
    /// The account named, and its hash, if there is one.
    pub(crate) user: Option<(UserRow, StoredHash)>,
    /// The highest bcrypt cost among imported hashes still stored (0: none).
    pub(crate) legacy_cost: u32,
    /// Whether the account has a confirmed second factor (read in the same statement, so
    /// that a login costs the same round trips with or without one).
    pub(crate) second_factor: bool,
}

/// Whether the attempt was counted, or which counter refused it (nothing counted).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LoginGate {
    Counted,
    Refused {
        account_wide: bool,
        counter: Counter,
    },
}

/// One column of the account a login names (`$4` username, `$5` email comparison key).
macro_rules! login_user {
    ($column:literal) => {
        concat!(
            "(SELECT ",
            $column,
            " FROM users WHERE id = \
               (SELECT MIN(id) FROM users WHERE username = $4 OR email_key = $5))"
        )
    };
}

const LOOKUP: &str = concat!(
    rate_upsert!(),
    " RETURNING failures, at, (SELECT MAX(legacy_cost) FROM users) AS max_legacy_cost, ",
    login_user!("id"),
    " AS id, ",
    login_user!("username"),
    " AS username, ",
    login_user!("email"),
    " AS email, ",
    login_user!("display_name"),
    " AS display_name, ",
    login_user!("password_hash"),
    " AS password_hash, ",
    login_user!("disabled"),
    " AS disabled, ",
    login_user!("created_at"),
    " AS created_at, ",
    login_user!("email_verified_at"),
    " AS email_verified_at, (SELECT COUNT(*) FROM second_factors WHERE confirmed_at IS NOT NULL AND user_id = \
       (SELECT MIN(id) FROM users WHERE username = $4 OR email_key = $5)) AS second_factors"
);

/// Pair counter (`$1`, schedule `$4..$6`), then the account counter (`$7`, `$8..$10`)
/// only if the pair counted.
const GATE_POSTGRES: &str = concat!(
    "WITH pair AS (",
    delay_gate!("$1", "$4", "$5", "$6", "TRUE"),
    "), account AS (",
    delay_gate!("$7", "$8", "$9", "$10", "EXISTS (SELECT 1 FROM pair)"),
    ") SELECT (SELECT COUNT(*) FROM pair), (SELECT COUNT(*) FROM account)"
);

/// After a good password: the pair counter (`$1`) starts over, and the account-wide one
/// (`$2`) takes back this one attempt (clearing it would hand a distributed attacker a
/// fresh allowance every time the owner signs in); the login is audited (`$3..$8`), then
/// `$insert` starts the session or the pending login (`$9..`).
/// `(SELECT COUNT(*) FROM pair) >= 0` is always true: it makes the pair row be locked
/// before the account row, the order of the gate.
macro_rules! finish_postgres {
    ($insert:expr) => {
        concat!(
            "WITH pair AS (UPDATE throttle SET failures = 0 WHERE key = $1 RETURNING key), \
             account AS (UPDATE throttle SET failures = CASE WHEN failures <= 0 THEN 0 ELSE failures - 1 END \
                WHERE key = $2 AND (SELECT COUNT(*) FROM pair) >= 0 RETURNING key), \
             audit AS (INSERT INTO audit_events (at, event, user_id, subject, client_addr, detail) \
              VALUES ($3, $4, $5, $6, $7, $8)) ",
            $insert
        )
    };
}
const FINISH_SESSION_POSTGRES: &str = finish_postgres!(
    "INSERT INTO sessions (id, user_id, token_hash, created_at, last_seen_at, last_auth_at, expires_at, client_addr, user_agent, second_factor) \
     VALUES ($9, $10, $11, $12, $13, $14, $15, $16, $17, $18)"
);
const FINISH_PENDING_POSTGRES: &str = finish_postgres!(
    "INSERT INTO pending_logins (token_hash, user_id, created_at, expires_at, client_addr, user_agent) \
     VALUES ($9, $10, $11, $12, $13, $14)"
);
const RESET_SQLITE: &str = "UPDATE throttle SET failures = CASE WHEN key = $1 OR failures <= 0 THEN 0 ELSE failures - 1 END \
     WHERE key = $1 OR key = $2";
const INSERT_PENDING_SQLITE: &str = "INSERT INTO pending_logins (token_hash, user_id, created_at, expires_at, client_addr, user_agent) \
     VALUES ($1, $2, $3, $4, $5, $6)";

/// What a good password starts: a session, or (with a second factor enrolled) a login
/// waiting for its second step. Each with its token's hash.
#[derive(Debug, Clone, Copy)]
pub(crate) enum LoginStart<'a> {
    Session(&'a SessionRow, &'a str),
    Pending(&'a PendingLoginRow, &'a str),
}

#[derive(FromRow)]
struct LookupRow {
    failures: i64,
    at: i64,
    max_legacy_cost: Option<i64>,
    id: Option<i64>,
    username: Option<String>,
    email: Option<String>,
    display_name: Option<String>,
    password_hash: Option<String>,
    disabled: Option<i64>,
    created_at: Option<i64>,
    email_verified_at: Option<i64>,
    second_factors: i64,
}

fn schedule_binds(s: DelaySchedule) -> (i64, i64, i64) {
    (
        i64::from(s.free_failures),
        i64::from(s.doublings),
        s.max_delay.min(i64::MAX as u64) as i64,
    )
}

impl Store {
    /// Counts a login attempt into the address's rate counter `rate_key` (window
    /// `window` seconds) and looks up the account named by `username` or `email_key`, in
    /// one round trip whether or not the account exists (a malformed identifier is
    /// looked up all the same: same work).
    pub(crate) async fn login_lookup(
        &self,
        rate_key: &str,
        now: i64,
        window: i64,
        username: &str,
        email_key: &str,
    ) -> Result<LoginLookup, StoreError> {
        let rows = sqlx::query_as::<_, LookupRow>(LOOKUP)
            .bind(rate_key)
            .bind(now)
            .bind(now - window)
            .bind(username)
            .bind(email_key)
            .fetch_all(&self.pool)
            .await?;
        let row = super::only_row(rows)?;
        let user = match (row.id, row.username, row.email, row.password_hash) {
            (Some(id), Some(username), Some(email), Some(hash)) => Some((
                UserRow {
                    id,
                    username,
                    email,
                    display_name: row.display_name,
                    disabled: row.disabled.unwrap_or(1),
                    created_at: row.created_at.unwrap_or(0),
                    email_verified_at: row.email_verified_at,
                },
                StoredHash::from(hash),
            )),
            _ => None,
        };
        Ok(LoginLookup {
            rate: Counter {
                failures: row.failures.clamp(0, u32::MAX as i64) as u32,
                at: row.at,
            },
            user,
            legacy_cost: row.max_legacy_cost.unwrap_or(0).clamp(0, 31) as u32,
            second_factor: row.second_factors > 0,
        })
    }

    /// Counts a login attempt into its (account, client) counter `pair_key` and its
    /// account-wide counter `account_key`, both or neither: refused, nothing stays
    /// counted, when either owes a delay.
    pub(crate) async fn count_login_attempt(
        &self,
        pair_key: &str,
        pair: DelaySchedule,
        account_key: &str,
        account: DelaySchedule,
        now: i64,
    ) -> Result<LoginGate, StoreError> {
        let forget =
            |s: DelaySchedule| now.saturating_sub(s.forget_after.min(i64::MAX as u64) as i64);
        let (pair_free, pair_doublings, pair_max) = schedule_binds(pair);
        let (acct_free, acct_doublings, acct_max) = schedule_binds(account);
        debug_assert_eq!(pair.forget_after, account.forget_after);
        let (pair_counted, account_counted) = match self.dialect {
            Dialect::Postgres => {
                let rows = sqlx::query_as::<_, (i64, i64)>(GATE_POSTGRES)
                    .bind(pair_key)
                    .bind(now)
                    .bind(forget(pair))
                    .bind(pair_free)
                    .bind(pair_doublings)
                    .bind(pair_max)
                    .bind(account_key)
                    .bind(acct_free)
                    .bind(acct_doublings)
                    .bind(acct_max)
                    .fetch_all(&self.pool)
                    .await?;
                let (p, a) = super::only_row(rows)?;
                if p > 0 && a == 0 {
                    // The account refused after the pair counted: take that back.
                    self.uncount_attempt(pair_key).await?;
                }
                (p > 0, a > 0)
            }
            Dialect::Sqlite => {
                let mut tx = self.begin_write().await?;
                let gate = |sql, key, (free, doublings, max), s| {
                    sqlx::query(sql)
                        .bind(key)
                        .bind(now)
                        .bind(forget(s))
                        .bind(free)
                        .bind(doublings)
                        .bind(max)
                };
                let p = !gate(
                    DELAY_GATE,
                    pair_key,
                    (pair_free, pair_doublings, pair_max),
                    pair,
                )
                .fetch_all(&mut *tx)
                .await?
                .is_empty();
                let a = p
                    && !gate(
                        DELAY_GATE,
                        account_key,
                        (acct_free, acct_doublings, acct_max),
                        account,
                    )
                    .fetch_all(&mut *tx)
                    .await?
                    .is_empty();
                if a {
                    tx.commit().await?;
                } else {
                    // Refused: the pair's count goes with the transaction.
                    tx.rollback().await?;
                }
                (p, a)
            }
        };
        if pair_counted && account_counted {
            return Ok(LoginGate::Counted);
        }
        let account_wide = pair_counted;
        let key = if account_wide { account_key } else { pair_key };
        Ok(LoginGate::Refused {
            account_wide,
            counter: self.counter(key).await?,
        })
    }

    /// After a good password, all or nothing: the pair counter starts over, the account
    /// counter takes back this attempt, the session or pending login is inserted (its
    /// token only as a hash) and the login audited.
    pub(crate) async fn finish_login(
        &self,
        pair_key: &str,
        account_key: &str,
        start: LoginStart<'_>,
        audit: &AuditRecord<'_>,
    ) -> Result<(), StoreError> {
        match self.dialect {
            Dialect::Postgres => {
                let sql = match start {
                    LoginStart::Session(..) => FINISH_SESSION_POSTGRES,
                    LoginStart::Pending(..) => FINISH_PENDING_POSTGRES,
                };
                let query = sqlx::query(sql)
                    .bind(pair_key)
                    .bind(account_key)
                    .bind(audit.at)
                    .bind(audit.event)
                    .bind(audit.user_id)
                    .bind(audit.subject)
                    .bind(audit.client)
                    .bind(audit.detail);
                let query = match start {
                    LoginStart::Session(session, token_hash) => query
                        .bind(&session.id)
                        .bind(session.user_id)
                        .bind(token_hash)
                        .bind(session.created_at)
                        .bind(session.last_seen_at)
                        .bind(session.last_auth_at)
                        .bind(session.expires_at)
                        .bind(&session.client_addr)
                        .bind(&session.user_agent)
                        .bind(session.second_factor),
                    LoginStart::Pending(pending, token_hash) => query
                        .bind(token_hash)
                        .bind(pending.user_id)
                        .bind(pending.created_at)
                        .bind(pending.expires_at)
                        .bind(&pending.client_addr)
                        .bind(&pending.user_agent),
                };
                query.execute(&self.pool).await?;
            }
            Dialect::Sqlite => {
                let mut tx = self.begin_write().await?;
                sqlx::query(RESET_SQLITE)
                    .bind(pair_key)
                    .bind(account_key)
                    .execute(&mut *tx)
                    .await?;
                match start {
                    LoginStart::Session(session, token_hash) => {
                        super::sessions::insert(session, token_hash)
                            .execute(&mut *tx)
                            .await?;
                    }
                    LoginStart::Pending(pending, token_hash) => {
                        sqlx::query(INSERT_PENDING_SQLITE)
                            .bind(token_hash)
                            .bind(pending.user_id)
                            .bind(pending.created_at)
                            .bind(pending.expires_at)
                            .bind(&pending.client_addr)
                            .bind(&pending.user_agent)
                            .execute(&mut *tx)
                            .await?;
                    }
                }
                super::audit::insert(audit).execute(&mut *tx).await?;
                tx.commit().await?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use palisade::throttle::{Decision, ThrottlePolicy};

    use super::*;
    use crate::store::NewUser;
    use crate::store::tests::{postgres_store, sqlite_store};

    async fn put_counter(store: &Store, key: &str, failures: u32, at: i64) {
        sqlx::query("DELETE FROM throttle WHERE key = $1")
            .bind(key)
            .execute(&store.pool)
            .await
            .unwrap();
        sqlx::query("INSERT INTO throttle (key, failures, at) VALUES ($1, $2, $3)")
            .bind(key)
            .bind(i64::from(failures))
            .bind(at)
            .execute(&store.pool)
            .await
            .unwrap();
    }

    /// The delay condition in the login's SQL agrees with the library's pure rule, for the
    /// pair counter and the account counter, on every failure count a counter can reach:
    /// counted means both counters counted; refused means neither changed and the refusing
    /// counter is named.
    async fn sql_gate_agrees_with_the_policy(store: &Store) {
        let policy = ThrottlePolicy::default();
        let (pair, account) = (policy.schedule(false), policy.schedule(true));
        for account_wide in [false, true] {
            let schedule = policy.schedule(account_wide);
            for failures in 0..(schedule.free_failures + schedule.doublings + 3) {
                let at = 1_000_000;
                let counter = Counter { failures, at };
                let delay = schedule.delay(failures) as i64;
                for now in [at, at + delay - 1, at + delay] {
                    let (pair_key, account_key) = (
                        format!("pair:acct:t{account_wide}:{failures}:{now}|c"),
                        format!("acct:t{account_wide}:{failures}:{now}"),
                    );
                    let (tested, other) = if account_wide {
                        (&account_key, &pair_key)
                    } else {
                        (&pair_key, &account_key)
                    };
                    put_counter(store, tested, failures, at).await;
                    sqlx::query("DELETE FROM throttle WHERE key = $1")
                        .bind(other)
                        .execute(&store.pool)
                        .await
                        .unwrap();
                    let gate = store
                        .count_login_attempt(&pair_key, pair, &account_key, account, now)
                        .await
                        .unwrap();
                    let case = format!("{failures} failures, {} s later, {tested}", now - at);
                    match policy.check_delay(counter, now, account_wide) {
                        Decision::Allowed => {
                            assert_eq!(gate, LoginGate::Counted, "{case}");
                            let after = store.counter(tested).await.unwrap();
                            assert_eq!(after.failures, failures + 1, "{case}");
                            assert_eq!(after.at, now, "{case}");
                            assert_eq!(store.counter(other).await.unwrap().failures, 1);
                        }
                        Decision::Throttled { .. } => {
                            assert_eq!(
                                gate,
                                LoginGate::Refused {
                                    account_wide,
                                    counter
                                },
                                "{case}"
                            );
                            assert_eq!(store.counter(tested).await.unwrap(), counter, "{case}");
                            let other = store.counter(other).await.unwrap().failures;
                            assert_eq!(other, 0, "{case}: nothing counted");
                        }
                    }
                }
            }
            // Forgotten after `forget_after`: counted again from one.
            put_counter(store, "acct:old", 1000, 0).await;
            put_counter(store, "pair:acct:old|c", 1000, 0).await;
            let later = schedule.forget_after as i64;
            let gate = store
                .count_login_attempt("pair:acct:old|c", pair, "acct:old", account, later)
                .await
                .unwrap();
            assert_eq!(gate, LoginGate::Counted);
            assert_eq!(store.counter("acct:old").await.unwrap().failures, 1);
            assert_eq!(store.counter("pair:acct:old|c").await.unwrap().failures, 1);
        }
    }

    #[tokio::test]
    async fn the_sql_gate_agrees_with_the_policy_on_sqlite() {
        let (store, _dir) = sqlite_store().await;
        sql_gate_agrees_with_the_policy(&store).await;
    }

    #[tokio::test]
    async fn the_sql_gate_agrees_with_the_policy_on_postgres() {
        let Some((store, db)) = postgres_store("the login gate on PostgreSQL").await else {
            return;
        };
        sql_gate_agrees_with_the_policy(&store).await;
        db.drop_db().await;
    }

    /// The lookup counts the address's attempt in a fixed window and finds the account by
    /// username or email key, with its hash; an unknown name finds nothing but counts.
    async fn lookup_counts_and_finds(store: &Store) {
        let id = store
            .insert_user(
                NewUser {
                    username: "alice",
                    email: "Alice@Example.com",
                    email_key: "alice@example.com",
                    display_name: Some("Alice"),
                    password_hash: "$argon2id$stand-in",
                    legacy_cost: Some(10),
                },
                5,
                None,
            )
            .await
            .unwrap();
        let now = 1_000;
        let first = store
            .login_lookup("ip:a", now, 60, "alice", "")
            .await
            .unwrap();
        let (user, hash) = first.user.unwrap();
        assert_eq!((user.id, user.username.as_str()), (id, "alice"));
        assert_eq!(user.display_name.as_deref(), Some("Alice"));
        assert_eq!((user.disabled, user.created_at), (0, 5));
        assert_eq!(hash.as_str(), "$argon2id$stand-in");
        assert_eq!(first.legacy_cost, 10);
        assert_eq!(
            first.rate,
            Counter {
                failures: 1,
                at: now
            }
        );
        let by_email = store
            .login_lookup("ip:a", now + 59, 60, "", "alice@example.com")
            .await
            .unwrap();
        assert_eq!(by_email.user.unwrap().0.id, id);
        assert_eq!(
            by_email.rate,
            Counter {
                failures: 2,
                at: now
            }
        );
        let nobody = store
            .login_lookup("ip:a", now + 60, 60, "bob", "")
            .await
            .unwrap();
        assert!(nobody.user.is_none());
        assert_eq!(
            nobody.rate,
            Counter {
                failures: 1,
                at: now + 60
            },
            "a new window"
        );
    }

    #[tokio::test]
    async fn lookup_counts_and_finds_on_sqlite() {
        let (store, _dir) = sqlite_store().await;
        lookup_counts_and_finds(&store).await;
    }

    #[tokio::test]
    async fn lookup_counts_and_finds_on_postgres() {
        let Some((store, db)) = postgres_store("the login lookup on PostgreSQL").await else {
            return;
        };
        lookup_counts_and_finds(&store).await;
        db.drop_db().await;
    }

    /// A successful login: the pair counter starts over, the account counter loses one
    /// attempt (never below zero), no other counter changes, and the session and its audit
    /// record are written.
    async fn finish_touches_only_its_two_counters(store: &Store) {
        let now = 1_000_000;
        let user_id = store
            .insert_user(
                NewUser {
                    username: "carol",
                    email: "carol@example.com",
                    email_key: "carol@example.com",
                    display_name: None,
                    password_hash: "$argon2id$stand-in",
                    legacy_cost: None,
                },
                now,
                None,
            )
            .await
            .unwrap();
        for key in [
            "pair:acct:id:1|c",
            "acct:id:1",
            "pair:acct:id:2|c",
            "acct:id:3",
        ] {
            put_counter(store, key, 3, now).await;
        }
        put_counter(store, "acct:id:4", 0, now).await;
        let session = |id: &str| SessionRow {
            id: id.to_owned(),
            user_id,
            created_at: now,
            last_seen_at: now,
            last_auth_at: now,
            expires_at: now + 60,
            client_addr: "127.0.0.1".into(),
            user_agent: "test".into(),
            second_factor: 0,
        };
        let audit = AuditRecord {
            at: now,
            event: "logged_in",
            user_id: Some(user_id),
            subject: Some("carol"),
            client: Some("127.0.0.1"),
            detail: None,
        };
        for (pair, account, id) in [
            ("pair:acct:id:1|c", "acct:id:1", "s1"),
            ("pair:acct:id:4|c", "acct:id:4", "s4"),
        ] {
            let hash = format!("hash-{id}");
            store
                .finish_login(
                    pair,
                    account,
                    LoginStart::Session(&session(id), &hash),
                    &audit,
                )
                .await
                .unwrap();
        }
        let failures =
            |key: &'static str| async move { store.counter(key).await.unwrap().failures };
        assert_eq!(failures("pair:acct:id:1|c").await, 0);
        assert_eq!(failures("acct:id:1").await, 2);
        assert_eq!(failures("pair:acct:id:2|c").await, 3);
        assert_eq!(failures("acct:id:3").await, 3);
        assert_eq!(failures("acct:id:4").await, 0);
        let sessions = sqlx::query_scalar::<_, String>(
            "SELECT token_hash FROM sessions WHERE user_id = $1 ORDER BY id",
        )
        .bind(user_id)
        .fetch_all(&store.pool)
        .await
        .unwrap();
        assert_eq!(sessions, ["hash-s1", "hash-s4"]);
        let audited = sqlx::query_scalar::<_, i64>(
            "SELECT COUNT(*) FROM audit_events WHERE event = 'logged_in' AND user_id = $1",
        )
        .bind(user_id)
        .fetch_one(&store.pool)
        .await
        .unwrap();
        assert_eq!(audited, 2);
    }

    #[tokio::test]
    async fn finish_login_on_sqlite() {
        let (store, _dir) = sqlite_store().await;
        finish_touches_only_its_two_counters(&store).await;
    }

    #[tokio::test]
    async fn finish_login_on_postgres() {
        let Some((store, db)) = postgres_store("the login finish on PostgreSQL").await else {
            return;
        };
        finish_touches_only_its_two_counters(&store).await;
        db.drop_db().await;
    }
}
