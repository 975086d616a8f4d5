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
        .fetch_all(&self.pool)
        .await?;
        Ok(!counted.is_empty())
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

    /// After a successful login, in one atomic statement: the (account, client) counter
    /// starts over, and the account-wide counter takes back this one attempt (clearing it
    /// would hand a distributed attacker a fresh allowance every time the owner signs in).
    pub(crate) async fn reset_after_login(
        &self,
        pair_key: &str,
        account_key: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE throttle SET failures = CASE WHEN key = $1 OR failures <= 0 THEN 0 ELSE failures - 1 END \
             WHERE key = $1 OR key = $2",
        )
        .bind(pair_key)
        .bind(account_key)
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
        let rows = sqlx::query_as::<_, (i64, i64)>(
            "INSERT INTO throttle (key, failures, at) VALUES ($1, 1, $2) \
             ON CONFLICT (key) DO UPDATE SET \
               failures = CASE WHEN throttle.at <= $3 THEN 1 ELSE throttle.failures + 1 END, \
               at = CASE WHEN throttle.at <= $3 THEN $2 ELSE throttle.at END \
             RETURNING failures, at",
        )
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
    use palisade::throttle::{Decision, ThrottlePolicy};

    use super::*;
    use crate::store::tests::{postgres_store, sqlite_store};

    /// The delay condition in the store's SQL agrees with the library's pure rule, on every
    /// failure count a counter can reach, on both databases.
    async fn sql_gate_agrees_with_the_policy(store: &Store) {
        let policy = ThrottlePolicy::default();
        for account_wide in [false, true] {
            let schedule = policy.schedule(account_wide);
            for failures in 0..(schedule.free_failures + schedule.doublings + 3) {
                let key = format!("gate-test:{account_wide}:{failures}");
                let at = 1_000_000;
                sqlx::query("INSERT INTO throttle (key, failures, at) VALUES ($1, $2, $3)")
                    .bind(&key)
                    .bind(i64::from(failures))
                    .bind(at)
                    .execute(&store.pool)
                    .await
                    .unwrap();
                let counter = store.counter(&key).await.unwrap();
                let delay = schedule.delay(failures) as i64;
                for now in [at, at + delay - 1, at + delay] {
                    let expected =
                        policy.check_delay(counter, now, account_wide) == Decision::Allowed;
                    let before = store.counter(&key).await.unwrap();
                    let counted = store
                        .count_attempt_if_allowed(&key, schedule, now)
                        .await
                        .unwrap();
                    assert_eq!(
                        counted,
                        expected,
                        "{failures} failures, {} s later",
                        now - at
                    );
                    let after = store.counter(&key).await.unwrap();
                    if counted {
                        assert_eq!(after.failures, before.failures + 1);
                        assert_eq!(after.at, now);
                        store.uncount_attempt(&key).await.unwrap();
                        // Put `at` back for the next instant.
                        sqlx::query("UPDATE throttle SET at = $1 WHERE key = $2")
                            .bind(at)
                            .bind(&key)
                            .execute(&store.pool)
                            .await
                            .unwrap();
                    } else {
                        assert_eq!(after, before, "a refused attempt changes nothing");
                    }
                }
            }
            // Forgotten after `forget_after`: counted again from one.
            let key = format!("gate-test:{account_wide}:old");
            sqlx::query("INSERT INTO throttle (key, failures, at) VALUES ($1, 1000, 0)")
                .bind(&key)
                .execute(&store.pool)
                .await
                .unwrap();
            let later = schedule.forget_after as i64;
            assert!(
                store
                    .count_attempt_if_allowed(&key, schedule, later)
                    .await
                    .unwrap()
            );
            assert_eq!(store.counter(&key).await.unwrap().failures, 1);
        }
    }

    #[tokio::test]
    async fn the_sql_gate_agrees_with_the_policy_on_sqlite() {
        let (store, _dir) = sqlite_store().await;
        sql_gate_agrees_with_the_policy(&store).await;
    }

    #[tokio::test]
    async fn the_sql_gate_agrees_with_the_policy_on_postgres() {
        let Some((store, db)) = postgres_store("the SQL gate on PostgreSQL").await else {
            return;
        };
        sql_gate_agrees_with_the_policy(&store).await;
        db.drop_db().await;
    }

    /// A successful login: the pair counter starts over, the account counter loses one
    /// attempt (never below zero), and no other counter changes.
    async fn reset_after_login_touches_only_its_two_counters(store: &Store) {
        let now = 1_000_000;
        for key in [
            "pair:acct:id:1|c",
            "acct:id:1",
            "pair:acct:id:2|c",
            "acct:id:3",
        ] {
            for _ in 0..3 {
                store.count_attempt(key, now, 300).await.unwrap();
            }
        }
        store.count_attempt("acct:id:4", now, 300).await.unwrap();
        store.uncount_attempt("acct:id:4").await.unwrap();
        store
            .reset_after_login("pair:acct:id:1|c", "acct:id:1")
            .await
            .unwrap();
        store
            .reset_after_login("pair:acct:id:4|c", "acct:id:4")
            .await
            .unwrap();
        let failures =
            |key: &'static str| async move { store.counter(key).await.unwrap().failures };
        assert_eq!(failures("pair:acct:id:1|c").await, 0);
        assert_eq!(failures("acct:id:1").await, 2);
        assert_eq!(failures("pair:acct:id:2|c").await, 3);
        assert_eq!(failures("acct:id:3").await, 3);
        assert_eq!(failures("acct:id:4").await, 0);
    }

    #[tokio::test]
    async fn reset_after_login_on_sqlite() {
        let (store, _dir) = sqlite_store().await;
        reset_after_login_touches_only_its_two_counters(&store).await;
    }

    #[tokio::test]
    async fn reset_after_login_on_postgres() {
        let Some((store, db)) = postgres_store("the login reset on PostgreSQL").await else {
            return;
        };
        reset_after_login_touches_only_its_two_counters(&store).await;
        db.drop_db().await;
    }

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
