//! The `throttle` table: delay and rate counters, changed only by atomic statements.

use palisade::throttle::{Counter, DelaySchedule};

use super::{Store, StoreError};

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
}
