//! Migrations go forward only: a database a newer palisade migrated is refused by an older
//! one with a message that says so and what to do, and nothing in it changes.

use crate::support::{TestApp, test_config};

#[tokio::test]
async fn a_database_from_a_newer_palisade_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let config = test_config(dir.path(), None);
    let app = TestApp::with_config(config.clone(), dir).await;
    // What a newer release's migration leaves behind.
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (99990101000000, 'from the future', TRUE, X'00', 0)",
    )
    .execute(&app.db)
    .await
    .unwrap();
    let problem = match palisade_service::build(&config).await {
        Ok(_) => panic!("an older palisade opened a newer database"),
        Err(problem) => problem,
    };
    assert!(
        problem.contains("99990101000000") && problem.contains("forward only"),
        "{problem}"
    );
    let kept: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations WHERE version = 99990101000000")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(kept, 1);
}
