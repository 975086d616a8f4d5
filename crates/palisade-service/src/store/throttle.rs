//! The `throttle` table: delay and rate counters, changed only by atomic statements.

use palisade::throttle::Counter;

use super::{Store, StoreError};

/// The upsert of a fixed-window rate counter: `$1` key, `$2` now, `$3` now − window.
macro_rules! rate_upsert {
    () => {
        "INSERT INTO throttle (key, failures, at) VALUES ($1, 1, $2) \
         ON CONFLICT (key) DO UPDATE SET \
           failures = CASE WHEN throttle.at <= $3 THEN 1 ELSE throttle.failures + 1 END, \
           at = CASE WHEN throttle.at <= $3 THEN $2 ELSE throttle.at END"
    };
}
pub(super) use rate_upsert;

/// Counts one attempt into the delay counter `key` if, and only if, the counter allows an
/// attempt now and `only_if` holds, in one statement (the row is locked while the
/// condition is evaluated, so attempts in flight are all seen); returns a row when it
/// counted. `$2` is now, `$3` now − forget_after; `free`, `doublings` and `max` are the
/// schedule's placeholders. The condition is `ThrottlePolicy::check_delay` in SQL;
/// `the_sql_gate_agrees_with_the_policy` checks both against each other.
macro_rules! delay_gate {
    ($key:literal, $free:literal, $doublings:literal, $max:literal, $only_if:literal) => {
        concat!(
            "INSERT INTO throttle (key, failures, at) SELECT ",
            $key,
            ", 1, $2 WHERE ",
            $only_if,
            " ON CONFLICT (key) DO UPDATE SET \
               failures = CASE WHEN throttle.at <= $3 THEN 1 ELSE throttle.failures + 1 END, \
               at = $2 \
             WHERE throttle.at <= $3 \
                OR throttle.failures < ",
            $free,
            "   OR throttle.at + CASE WHEN throttle.failures - ",
            $free,
            " >= ",
            $doublings,
            "        THEN ",
            $max,
            "        ELSE CAST(1 AS BIGINT) << CAST(throttle.failures - ",
            $free,
            " AS INTEGER) END <= $2 \
             RETURNING failures"
        )
    };
}
pub(super) use delay_gate;

/// One delay counter's gate: `$1` key, `$4..$6` its schedule.
pub(super) const DELAY_GATE: &str = delay_gate!("$1", "$4", "$5", "$6", "TRUE");

impl Store {
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

    /// Takes back one attempt counted into a delay counter that a later check refused,
    /// atomically.
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
        let rows =
            sqlx::query_as::<_, (i64, i64)>(concat!(rate_upsert!(), " RETURNING failures, at"))
                .bind(key)
                .bind(now)
                .bind(now - window)
                .fetch_all(&self.pool)
                .await?;
        let (failures, at) = super::only_row(rows)?;
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
}

#[cfg(test)]
mod tests {
    use crate::store::tests::sqlite_store;

    /// Counters nobody touched for a day delay nobody: the cleanup removes them, and only them.
    #[tokio::test]
    async fn stale_counters_are_forgotten() {
        let (store, _dir) = sqlite_store().await;
        let now = 1_000_000;
        for i in 0..20 {
            store
                .count_attempt(&format!("made-up-{i}"), now, 300)
                .await
                .unwrap();
        }
        assert_eq!(
            store.delete_stale_counters(now - 86_400).await.unwrap(),
            0,
            "fresh counters stay"
        );
        assert_eq!(store.delete_stale_counters(now + 1).await.unwrap(), 20);
    }
}
