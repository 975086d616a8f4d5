//! Every query the service runs: literal SQL, values only as bind parameters. One file per
//! table, and `login.rs` for the statements that serve a login across tables in one round
//! trip; `Store` is the only way in.

mod admin;
mod api_tokens;
mod audit;
mod csp_reports;
mod deletion;
mod email_tokens;
mod groups;
mod known_browsers;
mod login;
mod oidc_clients;
mod oidc_grants;
mod oidc_keys;
mod oidc_logouts;
mod oidc_refresh_tokens;
mod operations;
mod outbox;
mod passkeys;
mod password_resets;
mod pending_logins;
mod pending_signups;
mod recovery_codes;
mod second_factors;
mod secrets;
mod session_cache;
mod sessions;
mod throttle;
mod users;

#[cfg(test)]
mod tests;

use std::sync::Arc;

use sqlx::AnyPool;

pub(crate) use admin::{AuditQuery, AuditRow, GroupRemoval, UserListRow, UserQuery};
pub(crate) use api_tokens::{ApiTokenRow, TokenInsert};
pub(crate) use audit::AuditRecord;
pub(crate) use deletion::{Deleted, Deletion};
pub(crate) use email_tokens::{EmailConfirmed, EmailPurpose, EmailToken};
pub(crate) use login::{LoginGate, LoginStart};
pub(crate) use oidc_clients::StoredClient;
pub(crate) use oidc_grants::{CodeRow, GrantRow, NewRefresh, Spent, revoke_grants_of_user};
pub(crate) use oidc_keys::StoredSigningKey;
pub(crate) use oidc_refresh_tokens::RefreshUse;
pub(crate) use operations::{MailProblem, OutboxCounts};
pub(crate) use outbox::{DueMail, NewMail};
pub(crate) use passkeys::{NewPasskey, PasskeyRow};
pub(crate) use pending_logins::PendingLoginRow;
pub(crate) use pending_signups::PendingSignup;
pub(crate) use recovery_codes::StoredRecoveryCode;
pub(crate) use second_factors::{NewTotp, SealedTotp, SecondFactorRow};
pub(crate) use session_cache::Groups;
pub(crate) use sessions::SessionRow;
pub(crate) use users::{NewUser, StoredHash, UserRow, Verification};

/// A storage failure. `Conflict` is the only one a user can cause.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StoreError {
    /// A unique field is taken.
    #[error("{0} is already registered")]
    Conflict(&'static str),
    /// Anything else: logged, answered with a fixed 500, or 503 when [`unavailable`] says
    /// the database is out of reach rather than the statement wrong.
    #[error(transparent)]
    Db(#[from] sqlx::Error),
}

impl StoreError {
    /// Why the database cannot serve anyone right now, when that is the failure: it is
    /// down or restarting, no connection came free in time, or its disk is full. These
    /// pass on their own, so the answer is 503 with `Retry-After`, not a 500.
    pub(crate) fn unavailable(&self) -> Option<&'static str> {
        let StoreError::Db(e) = self else {
            return None;
        };
        match e {
            sqlx::Error::PoolTimedOut => Some("no database connection came free in time"),
            sqlx::Error::PoolClosed | sqlx::Error::WorkerCrashed => Some("the pool is closed"),
            sqlx::Error::Io(_) | sqlx::Error::Tls(_) => Some("the database is unreachable"),
            sqlx::Error::Database(db) => classify_code(&db.code()?),
            _ => None,
        }
    }
}

/// A database error code that means "unavailable". PostgreSQL gives five-character
/// SQLSTATEs (`08006`, `57P01`, `53100`); SQLite gives (extended) result codes as numbers
/// of at most four digits, whose low byte is the primary code.
fn classify_code(code: &str) -> Option<&'static str> {
    if code.len() == 5 {
        return match code {
            "53100" => Some("the disk is full (PostgreSQL)"),
            _ if code.starts_with("08") || code.starts_with("57P") => {
                Some("the database is restarting or unreachable")
            }
            _ if code.starts_with("53") => Some("the database is out of resources"),
            _ => None,
        };
    }
    match code.parse::<i64>().ok()? & 0xff {
        13 => Some("the disk is full (SQLite)"),
        10 => Some("disk I/O error (SQLite)"),
        5 | 6 => Some("the database is busy (SQLite)"),
        _ => None,
    }
}

#[cfg(test)]
#[test]
fn unavailable_codes_of_both_databases() {
    let unavailable = [
        "08006", "08001", "57P01", "57P03", "53100", "53300", "13", "778", "5", "6", "10",
    ];
    for code in unavailable {
        assert!(classify_code(code).is_some(), "{code}");
    }
    // A constraint, a syntax error, a missing row: the statement's fault, not an outage.
    for code in ["23505", "42601", "40001", "19", "2067", "1", "0"] {
        assert!(classify_code(code).is_none(), "{code}");
    }
    assert_eq!(
        classify_code("53100"),
        Some("the disk is full (PostgreSQL)")
    );
}

/// The one row a write with `RETURNING` gives back. Such writes are always run with
/// `fetch_all`: SQLite commits an autocommit statement only when it is stepped past its
/// last row, so stopping at the first (`fetch_one`, `fetch_optional`) drops a failed commit
/// — a full disk — and reports a write that did not happen.
fn only_row<T>(rows: Vec<T>) -> Result<T, StoreError> {
    rows.into_iter()
        .next()
        .ok_or(StoreError::Db(sqlx::Error::RowNotFound))
}

/// Which database the pool talks to. Almost every statement is the same on both; the few
/// that fold several writes into one round trip are written once per database.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dialect {
    Sqlite,
    Postgres,
}

#[derive(Debug, Clone)]
pub(crate) struct Store {
    pool: AnyPool,
    /// One connection of its own for `/healthz`: behind the pool's queue, a flood of
    /// writes (failed logins) would make the probe time out while the database is fine.
    probe: AnyPool,
    dialect: Dialect,
    /// Sessions recently read by this instance (see `session_cache` for why it is safe).
    sessions: Arc<session_cache::SessionCache>,
}

impl Store {
    pub(crate) fn new(pool: AnyPool) -> Self {
        let dialect = if pool
            .connect_options()
            .database_url
            .scheme()
            .starts_with("postgres")
        {
            Dialect::Postgres
        } else {
            Dialect::Sqlite
        };
        let probe = sqlx::any::AnyPoolOptions::new()
            .max_connections(1)
            .acquire_timeout(std::time::Duration::from_secs(3))
            .connect_lazy_with(pool.connect_options().as_ref().clone());
        Self {
            pool,
            probe,
            dialect,
            sessions: Arc::default(),
        }
    }

    /// Runs a write that may end a session or change a user, then forgets every session
    /// this instance remembers — on an error too, since the write may have landed.
    async fn revoking<T, E: Into<StoreError>>(
        &self,
        write: impl std::future::Future<Output = Result<T, E>>,
    ) -> Result<T, StoreError> {
        let done = write.await;
        self.sessions.invalidate();
        done.map_err(Into::into)
    }

    /// A transaction that will write: on SQLite it takes the write lock at once (a
    /// deferred one could fail to upgrade under contention), on PostgreSQL an ordinary one.
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>, sqlx::Error> {
        match self.dialect {
            Dialect::Sqlite => self.pool.begin_with("BEGIN IMMEDIATE").await,
            Dialect::Postgres => self.pool.begin().await,
        }
    }

    /// One round trip: whether the database answers (for `/healthz`).
    pub(crate) async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query_scalar::<_, i64>("SELECT 1")
            .fetch_one(&self.probe)
            .await?;
        Ok(())
    }
}
