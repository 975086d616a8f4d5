//! Every query the service runs: literal SQL, values only as bind parameters. One file per
//! table; `Store` is the only way in.

mod audit;
mod csp_reports;
mod secrets;
mod sessions;
mod throttle;
mod users;

#[cfg(test)]
mod tests;

use sqlx::AnyPool;

pub(crate) use sessions::SessionRow;
pub(crate) use users::{NewUser, StoredHash, UserRow};

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
            sqlx::Error::Database(db) => {
                let code = db.code()?;
                // SQLite gives (extended) result codes as numbers; the low byte is the
                // primary code. PostgreSQL gives SQLSTATEs.
                match code.parse::<i64>().map(|c| c & 0xff) {
                    Ok(13) => Some("the disk is full (SQLite)"),
                    Ok(10) => Some("disk I/O error (SQLite)"),
                    Ok(5 | 6) => Some("the database is busy (SQLite)"),
                    Ok(_) => None,
                    Err(_) if code == "53100" => Some("the disk is full (PostgreSQL)"),
                    Err(_) if code.starts_with("08") || code.starts_with("57P") => {
                        Some("the database is restarting or unreachable")
                    }
                    Err(_) if code.starts_with("53") => Some("the database is out of resources"),
                    Err(_) => None,
                }
            }
            _ => None,
        }
    }
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

#[derive(Debug, Clone)]
pub(crate) struct Store {
    pool: AnyPool,
}

impl Store {
    pub(crate) fn new(pool: AnyPool) -> Self {
        Self { pool }
    }

    /// One round trip: whether the database answers (for `/healthz`).
    pub(crate) async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query_scalar::<_, i64>("SELECT 1")
            .fetch_one(&self.pool)
            .await?;
        Ok(())
    }
}
