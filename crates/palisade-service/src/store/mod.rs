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
    /// Anything else: logged, answered with a fixed 500.
    #[error(transparent)]
    Db(#[from] sqlx::Error),
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
