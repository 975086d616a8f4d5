//! What the admin API reads and changes beyond the other tables' own statements: the user
//! search (case-insensitive prefix, keyset pages: no `OFFSET`, no `COUNT(*)`), a user's
//! latest audit events, and group removal that never leaves a group empty when it must not.

use sqlx::FromRow;

use super::{Dialect, Store, StoreError};

/// One line of the user search.
#[derive(Debug, Clone, FromRow)]
pub(crate) struct UserListRow {
    pub(crate) username: String,
    pub(crate) email: String,
    pub(crate) display_name: Option<String>,
    pub(crate) disabled: i64,
    pub(crate) created_at: i64,
    pub(crate) email_verified_at: Option<i64>,
    /// 1 when the user has a confirmed second factor.
    pub(crate) has_second_factor: i64,
}

/// What to search for. `prefix` is matched, without regard to case, at the start of the
/// username, the address or the display name.
#[derive(Debug, Default, Clone)]
pub(crate) struct UserQuery {
    pub(crate) prefix: String,
    pub(crate) disabled_only: bool,
    pub(crate) unconfirmed_only: bool,
    pub(crate) without_second_factor_only: bool,
    pub(crate) in_group: Option<String>,
    /// Only users with failed sign-ins counted against their account (the throttle's
    /// `acct:id:` counter, forgotten a day after the last failure).
    pub(crate) throttled_only: bool,
    /// The last username of the previous page.
    pub(crate) after: String,
    pub(crate) limit: i64,
}

/// One audit event, as the admin API shows it.
#[derive(Debug, Clone, FromRow, serde::Serialize)]
pub(crate) struct AuditRow {
    pub(crate) id: i64,
    pub(crate) at: i64,
    pub(crate) event: String,
    /// The user's name when the event was recorded.
    pub(crate) subject: Option<String>,
    pub(crate) client_addr: Option<String>,
    pub(crate) detail: Option<String>,
}

/// Which audit events: all filters together; newest first, before the event `before`.
#[derive(Debug, Clone)]
pub(crate) struct AuditQuery {
    pub(crate) user_id: Option<i64>,
    pub(crate) event: Option<String>,
    pub(crate) client: Option<String>,
    pub(crate) since: i64,
    pub(crate) until: i64,
    pub(crate) before: i64,
    pub(crate) limit: i64,
}

/// How a removal from a group that must keep a member went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GroupRemoval {
    Removed,
    NotAMember,
    /// The user is the group's last member: nothing changed.
    LastMember,
}

/// `LIKE` pattern for a prefix: `%` and `_` in it match themselves.
fn prefix_pattern(prefix: &str) -> String {
    let mut pattern = String::with_capacity(prefix.len() + 1);
    for c in prefix.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

const SEARCH: &str = "SELECT u.username, u.email, u.display_name, u.disabled, u.created_at, \
        u.email_verified_at, \
        CASE WHEN EXISTS (SELECT 1 FROM second_factors f WHERE f.user_id = u.id \
                          AND f.confirmed_at IS NOT NULL) THEN 1 ELSE 0 END AS has_second_factor \
    FROM users u \
    WHERE u.username > $1 \
      AND ($2 = '%' OR lower(u.username) LIKE $2 ESCAPE '\\' OR u.email_key LIKE $2 ESCAPE '\\' \
           OR lower(COALESCE(u.display_name, '')) LIKE $2 ESCAPE '\\') \
      AND ($3 = 0 OR u.disabled <> 0) \
      AND ($4 = 0 OR u.email_verified_at IS NULL) \
      AND ($5 = 0 OR NOT EXISTS (SELECT 1 FROM second_factors f WHERE f.user_id = u.id \
                                 AND f.confirmed_at IS NOT NULL)) \
      AND ($6 = '' OR EXISTS (SELECT 1 FROM user_groups g WHERE g.user_id = u.id AND g.name = $6)) \
      AND ($8 = 0 OR EXISTS (SELECT 1 FROM throttle t WHERE t.key = 'acct:id:' || u.id)) \
    ORDER BY u.username LIMIT $7";

/// The search's filters on a candidate `u` (the `LIKE`s decide; the ranges below only find
/// candidates).
macro_rules! search_filters {
    () => {
        "u.username > $1 \
         AND (lower(u.username) LIKE $2 ESCAPE '\\' OR u.email_key LIKE $2 ESCAPE '\\' \
              OR lower(COALESCE(u.display_name, '')) LIKE $2 ESCAPE '\\') \
         AND ($3 = 0 OR u.disabled <> 0) \
         AND ($4 = 0 OR u.email_verified_at IS NULL) \
         AND ($5 = 0 OR NOT EXISTS (SELECT 1 FROM second_factors f WHERE f.user_id = u.id \
                                    AND f.confirmed_at IS NOT NULL)) \
         AND ($6 = '' OR EXISTS (SELECT 1 FROM user_groups g WHERE g.user_id = u.id AND g.name = $6)) \
         AND ($8 = 0 OR EXISTS (SELECT 1 FROM throttle t WHERE t.key = 'acct:id:' || u.id))"
    };
}

/// A page of the users found by `$candidates`, the second factor looked up for that page
/// only.
macro_rules! search_page {
    ($candidates:expr) => {
        concat!(
            "SELECT p.username, p.email, p.display_name, p.disabled, p.created_at, p.email_verified_at, \
               CASE WHEN EXISTS (SELECT 1 FROM second_factors f WHERE f.user_id = p.id \
                                 AND f.confirmed_at IS NOT NULL) THEN 1 ELSE 0 END AS has_second_factor \
             FROM (SELECT id, username, email, display_name, disabled, created_at, email_verified_at FROM (",
            $candidates,
            ") m ORDER BY username LIMIT $7) p ORDER BY p.username"
        )
    };
}

/// With a prefix: the users whose username, address key or lowercased display name lies in
/// the prefix's range (`$9` to `$10`: an index range scan each, the rows read there and
/// filtered), then one page of them in username order. (Joining the candidates' ids back
/// to `users` led PostgreSQL to a scan of every user: 66 ms a search, measured.)
const SEARCH_BY_PREFIX_SQLITE: &str = search_page!(concat!(
    "SELECT u.id, u.username, u.email, u.display_name, u.disabled, u.created_at, u.email_verified_at \
       FROM users u WHERE u.username >= $9 AND u.username < $10 AND ",
    search_filters!(),
    " UNION SELECT u.id, u.username, u.email, u.display_name, u.disabled, u.created_at, u.email_verified_at \
       FROM users u WHERE u.email_key >= $9 AND u.email_key < $10 AND ",
    search_filters!(),
    " UNION SELECT u.id, u.username, u.email, u.display_name, u.disabled, u.created_at, u.email_verified_at \
       FROM users u WHERE lower(COALESCE(u.display_name, '')) >= $9 \
        AND lower(COALESCE(u.display_name, '')) < $10 AND ",
    search_filters!()
));
const SEARCH_BY_PREFIX_POSTGRES: &str = search_page!(concat!(
    "SELECT u.id, u.username, u.email, u.display_name, u.disabled, u.created_at, u.email_verified_at \
       FROM users u WHERE (u.username COLLATE \"C\") >= $9 AND (u.username COLLATE \"C\") < $10 AND ",
    search_filters!(),
    " UNION SELECT u.id, u.username, u.email, u.display_name, u.disabled, u.created_at, u.email_verified_at \
       FROM users u WHERE (u.email_key COLLATE \"C\") >= $9 AND (u.email_key COLLATE \"C\") < $10 AND ",
    search_filters!(),
    " UNION SELECT u.id, u.username, u.email, u.display_name, u.disabled, u.created_at, u.email_verified_at \
       FROM users u WHERE (lower(COALESCE(u.display_name, '')) COLLATE \"C\") >= $9 \
        AND (lower(COALESCE(u.display_name, '')) COLLATE \"C\") < $10 AND ",
    search_filters!()
));

/// The audit-log page: the most selective filter given picks the index (user, then client
/// address, then event, else the primary key); the others are checked on what it finds.
/// (`+at`: the time bounds must not lead the planner to the `at` index and a sort of every
/// event, as SQLite's did — a second a page on a million events, measured.)
const AUDIT_BY_USER: &str = "SELECT id, at, event, subject, client_addr, detail FROM audit_events \
    WHERE user_id = $3 AND id < $1 AND ($2 = 0 OR user_id = $3) AND ($4 = '' OR event = $4) \
      AND ($5 = '' OR client_addr = $5) AND +at >= $6 AND +at <= $7 \
    ORDER BY user_id DESC, id DESC LIMIT $8";
const AUDIT_BY_CLIENT: &str = "SELECT id, at, event, subject, client_addr, detail FROM audit_events \
    WHERE client_addr = $5 AND id < $1 AND ($2 = 0 OR user_id = $3) AND ($4 = '' OR event = $4) \
      AND +at >= $6 AND +at <= $7 \
    ORDER BY client_addr DESC, id DESC LIMIT $8";
const AUDIT_BY_EVENT: &str = "SELECT id, at, event, subject, client_addr, detail FROM audit_events \
    WHERE event = $4 AND id < $1 AND ($2 = 0 OR user_id = $3) AND ($5 = '' OR client_addr = $5) \
      AND +at >= $6 AND +at <= $7 \
    ORDER BY event DESC, id DESC LIMIT $8";
const AUDIT_ALL: &str = "SELECT id, at, event, subject, client_addr, detail FROM audit_events \
    WHERE id < $1 AND ($2 = 0 OR user_id = $3) AND ($4 = '' OR event = $4) \
      AND ($5 = '' OR client_addr = $5) AND +at >= $6 AND +at <= $7 \
    ORDER BY id DESC LIMIT $8";

impl Store {
    /// One page of audit events, newest first.
    pub(crate) async fn search_audit(
        &self,
        query: &AuditQuery,
    ) -> Result<Vec<AuditRow>, StoreError> {
        let sql = if query.user_id.is_some() {
            AUDIT_BY_USER
        } else if query.client.is_some() {
            AUDIT_BY_CLIENT
        } else if query.event.is_some() {
            AUDIT_BY_EVENT
        } else {
            AUDIT_ALL
        };
        Ok(sqlx::query_as::<_, AuditRow>(sql)
            .bind(query.before)
            .bind(i64::from(query.user_id.is_some()))
            .bind(query.user_id.unwrap_or_default())
            .bind(query.event.clone().unwrap_or_default())
            .bind(query.client.clone().unwrap_or_default())
            .bind(query.since)
            .bind(query.until)
            .bind(query.limit)
            .fetch_all(&self.pool)
            .await?)
    }

    /// One page of users matching `query`, by username.
    pub(crate) async fn search_users(
        &self,
        query: &UserQuery,
    ) -> Result<Vec<UserListRow>, StoreError> {
        let lowest = query.prefix.to_lowercase();
        let sql = match (lowest.is_empty(), self.dialect) {
            (true, _) => SEARCH,
            (false, Dialect::Sqlite) => SEARCH_BY_PREFIX_SQLITE,
            (false, Dialect::Postgres) => SEARCH_BY_PREFIX_POSTGRES,
        };
        // Every string with the prefix sorts, byte by byte, from the prefix itself to the
        // prefix followed by the greatest character.
        let highest = format!("{lowest}\u{10FFFF}");
        let search = sqlx::query_as::<_, UserListRow>(sql)
            .bind(&query.after)
            .bind(prefix_pattern(&query.prefix))
            .bind(i64::from(query.disabled_only))
            .bind(i64::from(query.unconfirmed_only))
            .bind(i64::from(query.without_second_factor_only))
            .bind(query.in_group.clone().unwrap_or_default())
            .bind(query.limit)
            .bind(i64::from(query.throttled_only));
        let search = if lowest.is_empty() {
            search
        } else {
            search.bind(lowest).bind(highest)
        };
        Ok(search.fetch_all(&self.pool).await?)
    }

    /// The user named `username` (usernames are stored as given, lowercase).
    pub(crate) async fn user_by_username(
        &self,
        username: &str,
    ) -> Result<Option<super::UserRow>, StoreError> {
        Ok(sqlx::query_as::<_, super::UserRow>(
            "SELECT id, username, email, display_name, disabled, created_at, email_verified_at \
             FROM users WHERE username = $1",
        )
        .bind(username)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Every group and how many members it has, by name.
    pub(crate) async fn group_sizes(&self) -> Result<Vec<(String, i64)>, StoreError> {
        Ok(sqlx::query_as::<_, (String, i64)>(
            "SELECT name, COUNT(*) FROM user_groups GROUP BY name ORDER BY name",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// The latest `limit` audit events about a user, newest first.
    pub(crate) async fn audit_of_user(
        &self,
        user_id: i64,
        limit: i64,
    ) -> Result<Vec<AuditRow>, StoreError> {
        Ok(sqlx::query_as::<_, AuditRow>(
            "SELECT id, at, event, subject, client_addr, detail FROM audit_events \
             WHERE user_id = $1 ORDER BY id DESC LIMIT $2",
        )
        .bind(user_id)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Whether `user_id` is in `group`, read now (not remembered).
    pub(crate) async fn in_group(&self, user_id: i64, group: &str) -> Result<bool, StoreError> {
        let found: Option<i64> =
            sqlx::query_scalar("SELECT user_id FROM user_groups WHERE user_id = $1 AND name = $2")
                .bind(user_id)
                .bind(group)
                .fetch_optional(&self.pool)
                .await?;
        Ok(found.is_some())
    }

    /// Takes `user_id` out of `group` unless they are its last member. The members are
    /// locked first (PostgreSQL: `FOR UPDATE`; SQLite: the write lock), so two removals at
    /// once cannot both see another member and leave the group empty.
    pub(crate) async fn remove_group_keeping_one(
        &self,
        user_id: i64,
        group: &str,
    ) -> Result<GroupRemoval, StoreError> {
        let removal = async {
            let mut tx = self.begin_write().await?;
            let sql = match self.dialect {
                Dialect::Postgres => {
                    "SELECT user_id FROM user_groups WHERE name = $1 ORDER BY user_id FOR UPDATE"
                }
                Dialect::Sqlite => "SELECT user_id FROM user_groups WHERE name = $1",
            };
            let members: Vec<i64> = sqlx::query_scalar(sql)
                .bind(group)
                .fetch_all(&mut *tx)
                .await?;
            let outcome = if !members.contains(&user_id) {
                GroupRemoval::NotAMember
            } else if members.len() == 1 {
                GroupRemoval::LastMember
            } else {
                sqlx::query("DELETE FROM user_groups WHERE user_id = $1 AND name = $2")
                    .bind(user_id)
                    .bind(group)
                    .execute(&mut *tx)
                    .await?;
                GroupRemoval::Removed
            };
            tx.commit().await?;
            Ok::<_, sqlx::Error>(outcome)
        };
        self.revoking(removal).await
    }
}

#[cfg(test)]
mod tests {
    use super::GroupRemoval;
    use crate::store::Store;
    use crate::store::tests::{postgres_store, sqlite_store};

    /// Two members of a group that must keep one, each removed 32 times at once, on two
    /// connections pools (two instances): one member stays.
    async fn one_member_stays(a: Store, b: Store) {
        let mut ids = Vec::new();
        for name in ["amy", "bob"] {
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO users (username, email, email_key, password_hash, created_at, password_changed_at) \
                 VALUES ($1, $2, $2, 'x', 0, 0) RETURNING id",
            )
            .bind(name)
            .bind(format!("{name}@example.com"))
            .fetch_one(&a.pool)
            .await
            .unwrap();
            ids.push(id);
        }
        // Rounds, since a race is a matter of timing: each starts with both members.
        for _ in 0..10 {
            for id in &ids {
                a.add_group(*id, "admins").await.unwrap();
            }
            removal_round(&a, &b, &ids).await;
        }
    }

    async fn removal_round(a: &Store, b: &Store, ids: &[i64]) {
        // Every connection open before the removals start, so they race from the same
        // moment rather than one per new connection.
        for store in [a, b] {
            let warm = (0..16).map(|_| sqlx::query("SELECT 1").execute(&store.pool));
            futures_util::future::try_join_all(warm).await.unwrap();
        }
        let start = std::sync::Arc::new(tokio::sync::Barrier::new(64));
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..64 {
            let start = start.clone();
            let store = if i % 2 == 0 { a.clone() } else { b.clone() };
            let id = ids[i % 2];
            tasks.spawn(async move {
                start.wait().await;
                store.remove_group_keeping_one(id, "admins").await.unwrap()
            });
        }
        let outcomes = tasks.join_all().await;
        let removed = outcomes
            .iter()
            .filter(|o| **o == GroupRemoval::Removed)
            .count();
        let left: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM user_groups WHERE name = 'admins'")
                .fetch_one(&a.pool)
                .await
                .unwrap();
        assert_eq!((removed, left), (1, 1), "{outcomes:?}");
    }

    #[tokio::test]
    async fn the_last_member_stays_on_sqlite() {
        let (store, _dir) = sqlite_store().await;
        one_member_stays(store.clone(), store).await;
    }

    #[tokio::test]
    async fn the_last_member_stays_across_two_instances_on_postgres() {
        let Some((a, db)) = postgres_store("the last group member, two instances").await else {
            return;
        };
        let config = crate::config::Config {
            database_url: Some(crate::config::Redacted::new(db.url.clone())),
            ..crate::config::Config::default()
        };
        let b = Store::new(crate::db::connect(&config).await.unwrap().pool);
        one_member_stays(a, b).await;
    }

    #[test]
    fn prefixes_match_their_own_wildcards_literally() {
        assert_eq!(super::prefix_pattern("Ali"), "ali%");
        assert_eq!(super::prefix_pattern("a_b%c\\"), "a\\_b\\%c\\\\%");
        assert_eq!(super::prefix_pattern(""), "%");
    }
}
