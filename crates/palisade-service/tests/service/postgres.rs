//! The same suites on PostgreSQL, and two instances sharing one database.

use http::StatusCode;

use super::support::*;
use super::test_database::TestDatabase as PgDb;

async fn pg_app(db: &PgDb) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    TestApp::with_config(test_config(dir.path(), Some(db.url.clone())), dir).await
}

/// Two services with their own pools and hashing threads, sharing the database, one clock
/// and (as an operator must arrange) the keys in the data directory.
pub(crate) async fn two_instances(db: &PgDb) -> (TestApp, TestApp) {
    two_instances_with(db, |_| {}).await
}

/// Two instances on one database, with one configuration changed by `edit`.
pub(crate) async fn two_instances_with(
    db: &PgDb,
    edit: impl Fn(&mut palisade_service::Config),
) -> (TestApp, TestApp) {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path(), Some(db.url.clone()));
    edit(&mut config);
    let (clock, hand) = palisade_service::Clock::manual(now());
    let a = TestApp::with_clock(
        config.clone(),
        tempfile::tempdir().unwrap(),
        clock.clone(),
        hand.clone(),
    )
    .await;
    let b = TestApp::with_clock(config, dir, clock, hand).await;
    (a, b)
}

#[tokio::test]
async fn account_lifecycle_on_postgres() {
    let Some(db) = PgDb::create("account lifecycle on PostgreSQL").await else {
        return;
    };
    super::api::account_lifecycle(&pg_app(&db).await).await;
    db.drop_db().await;
}

#[tokio::test]
async fn throttling_on_postgres() {
    let Some(db) = PgDb::create("throttling on PostgreSQL").await else {
        return;
    };
    let app = pg_app(&db).await;
    super::throttling::many_accounts_one_address(&app).await;
    db.drop_db().await;
}

#[tokio::test]
async fn two_instances_share_sessions_and_failure_counts() {
    let Some(db) = PgDb::create("two instances on PostgreSQL").await else {
        return;
    };
    let (app_a, app_b) = two_instances(&db).await;
    assert_eq!(
        app_a
            .register("shared", "shared@example.com", STRONG)
            .await
            .status,
        StatusCode::CREATED
    );
    let token = app_a.login("shared", STRONG).await;
    assert_eq!(
        app_b
            .json("GET", "/api/v1/me", None, Some(&token))
            .await
            .status,
        StatusCode::OK,
        "a session made on A is valid on B"
    );
    // Four failures on A, one more on B: the fifth sets a delay that A enforces.
    for _ in 0..4 {
        assert_eq!(
            app_a
                .login_from("shared", "wrong password!", "192.0.2.50:1")
                .await
                .status,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        app_b
            .login_from("shared", "wrong password!", "192.0.2.50:1")
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app_a
            .login_from("shared", STRONG, "192.0.2.50:1")
            .await
            .status,
        StatusCode::TOO_MANY_REQUESTS,
        "failures counted on B count on A"
    );
    // Logging out on B ends the session for A.
    assert_eq!(
        app_b
            .json("POST", "/api/v1/logout", None, Some(&token))
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app_a
            .json("GET", "/api/v1/me", None, Some(&token))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    drop((app_a, app_b));
    db.drop_db().await;
}
