//! A PostgreSQL database made for one test. Shared, by path, with the store's unit tests
//! (`src/store/tests/mod.rs`), so both make and drop databases the same way.

/// A fresh database on the server named by `PALISADE_TEST_DATABASE_URL`, dropped by the
/// caller's guard. `None` (with a message) when the variable is unset.
pub(crate) struct TestDatabase {
    pub(crate) url: String,
    admin: String,
    name: String,
}

impl TestDatabase {
    pub(crate) async fn create(test: &str) -> Option<Self> {
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
            "palisade_test_{}",
            bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
        );
        let pool = sqlx::AnyPool::connect(&admin).await.unwrap();
        // CREATE DATABASE takes no bind parameters; the name is ours (hex), not input.
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
        let mut url = url::Url::parse(&admin).unwrap();
        url.set_path(&name);
        Some(Self {
            url: url.to_string(),
            admin,
            name,
        })
    }

    pub(crate) async fn drop_db(self) {
        let pool = sqlx::AnyPool::connect(&self.admin).await.unwrap();
        let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        )))
        .execute(&pool)
        .await;
    }
}
