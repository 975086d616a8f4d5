//! Stores on a fresh database, for the store's own tests: SQLite in a temporary folder, or
//! a new PostgreSQL database on the server `PALISADE_TEST_DATABASE_URL` names (SKIPPED
//! without it, a failure under CI=true).

use crate::config::{Config, Redacted};
use crate::store::Store;

pub(crate) async fn sqlite_store() -> (Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let config = Config {
        data_dir: dir.path().to_owned(),
        ..Config::default()
    };
    let db = crate::db::connect(&config).await.unwrap();
    (Store::new(db.pool), dir)
}

/// A database made for one test, dropped by [`TestDatabase::drop`].
pub(crate) struct TestDatabase {
    admin: String,
    name: String,
}

impl TestDatabase {
    pub(crate) async fn drop(self) {
        let pool = sqlx::AnyPool::connect(&self.admin).await.unwrap();
        let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        )))
        .execute(&pool)
        .await;
    }
}

pub(crate) async fn postgres_store(test: &str) -> Option<(Store, TestDatabase)> {
    let Ok(admin) = std::env::var("PALISADE_TEST_DATABASE_URL") else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "{test}: PALISADE_TEST_DATABASE_URL is not set (CI=true)"
        );
        eprintln!("SKIPPED {test}: set PALISADE_TEST_DATABASE_URL to a PostgreSQL URL");
        return None;
    };
    sqlx::any::install_default_drivers();
    let mut bytes = [0u8; 6];
    getrandom::fill(&mut bytes).unwrap();
    let name = format!(
        "palisade_unit_{}",
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    );
    let pool = sqlx::AnyPool::connect(&admin).await.unwrap();
    // CREATE DATABASE takes no bind parameters; the name is ours (hex), not input.
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&pool)
        .await
        .unwrap();
    let mut url = url::Url::parse(&admin).unwrap();
    url.set_path(&name);
    let config = Config {
        database_url: Some(Redacted::new(url.to_string())),
        ..Config::default()
    };
    let db = crate::db::connect(&config).await.unwrap();
    Some((Store::new(db.pool), TestDatabase { admin, name }))
}
