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

/// A queued notice, as the services compose one (its bodies need no real sealing here).
pub(crate) fn notice(user_id: i64) -> crate::store::NewMail {
    crate::store::NewMail {
        id: format!(
            "notice-{user_id}-{}",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ),
        user_id: Some(user_id),
        kind: "test",
        recipient: "someone@example.com".into(),
        subject: "test".into(),
        sealed: "sealed".into(),
        key_id: "k".into(),
        created_at: 0,
        discard_after: 1,
    }
}

#[path = "../../../tests/service/test_database.rs"]
mod test_database;

pub(crate) use test_database::TestDatabase;

pub(crate) async fn postgres_store(test: &str) -> Option<(Store, TestDatabase)> {
    let db = TestDatabase::create(test).await?;
    let config = Config {
        database_url: Some(Redacted::new(db.url.clone())),
        ..Config::default()
    };
    let connected = crate::db::connect(&config).await.unwrap();
    Some((Store::new(connected.pool), db))
}
