//! Revocation stays immediate although each instance remembers the sessions it read
//! (a busy client's requests then cost no database round trip).
//!
//! The attack: a stolen or logged-out token kept in use, by many requests in flight, at
//! the moment it is revoked. On the instance that revoked it, no request started after the
//! revocation answered may get through (remove the store's invalidation after a revoking
//! write and these fail: the remembered session keeps answering 200). On another instance
//! sharing the database, the window is bounded by how long a read is trusted (under 1 s).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use http::StatusCode;

use super::postgres::two_instances;
use super::support::*;
use super::test_database::TestDatabase as PgDb;

/// How a token is revoked.
#[derive(Debug, Clone, Copy)]
enum Revocation {
    Logout,
    /// The owner changes the password from another session.
    PasswordChange,
    /// The owner ends this session from another session.
    EndSession,
    /// An operator disables the account (`palisade user disable`, its own connection).
    Disable,
}

const ALL: [Revocation; 4] = [
    Revocation::Logout,
    Revocation::PasswordChange,
    Revocation::EndSession,
    Revocation::Disable,
];

/// Requests `GET /api/v1/me` with `token` on `app` from `in_flight` tasks until stopped;
/// each request's start and status.
struct Hammer {
    stop: Arc<AtomicBool>,
    tasks: tokio::task::JoinSet<Vec<(Instant, StatusCode)>>,
}

impl Hammer {
    fn start(app: &TestApp, token: &str, in_flight: usize) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..in_flight {
            let (router, stop, token) = (app.router.clone(), stop.clone(), token.to_owned());
            // Many addresses, as many clients sharing (or stealing) one token would be.
            let client = format!("127.0.{}.{}:4000", i / 200, 1 + i % 200);
            tasks.spawn(async move {
                let mut seen = Vec::new();
                while !stop.load(Ordering::SeqCst) {
                    let started = Instant::now();
                    let request = req("GET", "/api/v1/me", None, Some(&token), &client);
                    let response = tower::ServiceExt::oneshot(router.clone(), request)
                        .await
                        .unwrap();
                    seen.push((started, response.status()));
                    tokio::task::yield_now().await;
                }
                seen
            });
        }
        Self { stop, tasks }
    }

    async fn finish(mut self) -> Vec<(Instant, StatusCode)> {
        self.stop.store(true, Ordering::SeqCst);
        let mut all = Vec::new();
        while let Some(seen) = self.tasks.join_next().await {
            all.extend(seen.unwrap());
        }
        all
    }
}

/// Revokes `token` through `on` (whose other session is `other`); returns when the
/// revocation was answered.
async fn revoke(on: &TestApp, how: Revocation, user: &str, token: &str, other: &str) -> Instant {
    match how {
        Revocation::Logout => {
            let reply = on.json("POST", "/api/v1/logout", None, Some(token)).await;
            assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.body);
        }
        Revocation::PasswordChange => {
            let body = serde_json::json!({"current_password": STRONG, "new_password": "pebble lantern quartz harbour"});
            let reply = on
                .json("POST", "/api/v1/password", Some(body), Some(other))
                .await;
            assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        }
        Revocation::EndSession => {
            let id = on.session_id(other, false).await;
            let reply = on
                .json(
                    "DELETE",
                    &format!("/api/v1/sessions/{id}"),
                    None,
                    Some(other),
                )
                .await;
            assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.body);
        }
        Revocation::Disable => {
            let admin = palisade_service::admin::Admin::open(&on.config)
                .await
                .unwrap();
            admin.disable(user).await.unwrap();
        }
    }
    Instant::now()
}

/// A new user `name` with two sessions: the one to revoke, and the owner's other one.
async fn signed_in_twice(app: &TestApp, name: &str) -> (String, String, String) {
    assert_eq!(
        app.register(name, &format!("{name}@example.com"), STRONG)
            .await
            .status,
        StatusCode::CREATED
    );
    let token = app.login(name, STRONG).await;
    let other = app.login(name, STRONG).await;
    (name.to_owned(), token, other)
}

/// On the instance that revoked: every request that started after the revocation was
/// answered is refused, while 64 are in flight; and the token was being served from
/// memory just before (the requests were not all slow database reads).
async fn revoked_at_once_on_this_instance(app: &TestApp, how: Revocation, n: usize) {
    let (user, token, other) = signed_in_twice(app, &format!("revoked{n}")).await;
    let hammer = Hammer::start(app, &token, 64);
    tokio::time::sleep(Duration::from_millis(150)).await;
    let revoked = if matches!(how, Revocation::Disable) {
        // The operator's command is another process: its window is another instance's.
        revoke(app, how, &user, &token, &other).await;
        tokio::time::sleep(Duration::from_millis(1100)).await;
        Instant::now()
    } else {
        revoke(app, how, &user, &token, &other).await
    };
    tokio::time::sleep(Duration::from_millis(150)).await;
    let seen = hammer.finish().await;
    let served_before = seen
        .iter()
        .filter(|(t, s)| *t < revoked && *s == StatusCode::OK)
        .count();
    assert!(
        served_before > 64,
        "{how:?}: the token was in use ({served_before} served)"
    );
    let after: Vec<_> = seen.iter().filter(|(t, _)| *t >= revoked).collect();
    assert!(
        !after.is_empty(),
        "{how:?}: requests ran after the revocation"
    );
    let leaked = after
        .iter()
        .filter(|(_, s)| *s != StatusCode::UNAUTHORIZED)
        .count();
    assert_eq!(
        leaked,
        0,
        "{how:?}: {leaked} of {} requests started after the revocation were not refused",
        after.len()
    );
}

/// On another instance sharing the database: the last request that got through started
/// less than a second after the revocation was answered.
async fn revoked_within_a_second_elsewhere(a: &TestApp, b: &TestApp, how: Revocation, n: usize) {
    let (user, token, other) = signed_in_twice(a, &format!("elsewhere{n}")).await;
    let hammer = Hammer::start(b, &token, 64);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let revoked = revoke(a, how, &user, &token, &other).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let seen = hammer.finish().await;
    assert!(
        seen.iter()
            .any(|(t, s)| *t < revoked && *s == StatusCode::OK),
        "{how:?}: B served the token before"
    );
    let window = seen
        .iter()
        .filter(|(t, s)| *t >= revoked && *s == StatusCode::OK)
        .map(|(t, _)| t.duration_since(revoked))
        .max()
        .unwrap_or_default();
    let refused_late = seen
        .iter()
        .filter(|(t, _)| *t >= revoked + Duration::from_secs(1))
        .all(|(_, s)| *s == StatusCode::UNAUTHORIZED);
    eprintln!("{how:?}: B served the revoked token for {window:?} after A's revocation");
    assert!(
        window < Duration::from_secs(1) && refused_late,
        "{how:?}: B still served the token {window:?} after the revocation"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn revocation_is_immediate_on_sqlite() {
    let app = TestApp::sqlite().await;
    for (n, how) in ALL.into_iter().enumerate() {
        revoked_at_once_on_this_instance(&app, how, n).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn revocation_is_immediate_on_postgres_and_within_a_second_on_another_instance() {
    let Some(db) = PgDb::create("revocation on PostgreSQL").await else {
        return;
    };
    let (a, b) = two_instances(&db).await;
    for (n, how) in ALL.into_iter().enumerate() {
        revoked_at_once_on_this_instance(&a, how, n).await;
        revoked_within_a_second_elsewhere(&a, &b, how, n).await;
    }
    drop((a, b));
    db.drop_db().await;
}

/// Remembering a session never lengthens it: idle and absolute expiry hold to the second
/// for a session read a moment before.
async fn expiry_is_exact_while_remembered(app: &TestApp) {
    let idle = app.config.session_idle_minutes as i64 * 60;
    let absolute = app.config.session_absolute_minutes as i64 * 60;
    assert_eq!(
        app.register("exact", "exact@example.com", STRONG)
            .await
            .status,
        StatusCode::CREATED
    );
    let me = |token: String| async move {
        app.json("GET", "/api/v1/me", None, Some(&token))
            .await
            .status
    };
    let (a, b) = (
        app.login("exact", STRONG).await,
        app.login("exact", STRONG).await,
    );
    assert_eq!(me(a.clone()).await, StatusCode::OK);
    assert_eq!(me(b.clone()).await, StatusCode::OK);
    app.clock.advance(idle - 1);
    assert_eq!(
        me(a.clone()).await,
        StatusCode::OK,
        "one second before idle expiry"
    );
    app.clock.advance(1);
    assert_eq!(
        me(b.clone()).await,
        StatusCode::UNAUTHORIZED,
        "idle for exactly the limit"
    );
    assert_eq!(me(a.clone()).await, StatusCode::OK, "used a second ago");
    // Absolute: kept busy, it still ends at its lifetime to the second.
    let c = app.login("exact", STRONG).await;
    let mut used = 0;
    while used + 60 < absolute - 1 {
        let step = (absolute - 1 - used).min(idle / 2);
        app.clock.advance(step);
        used += step;
        assert_eq!(
            me(c.clone()).await,
            StatusCode::OK,
            "{used} s into its life"
        );
    }
    app.clock.advance(absolute - 1 - used);
    assert_eq!(
        me(c.clone()).await,
        StatusCode::OK,
        "one second before its end"
    );
    app.clock.advance(1);
    assert_eq!(me(c).await, StatusCode::UNAUTHORIZED, "at its absolute end");
}

#[tokio::test]
async fn expiry_is_exact_while_remembered_on_sqlite() {
    expiry_is_exact_while_remembered(&TestApp::sqlite().await).await;
}

#[tokio::test]
async fn expiry_is_exact_while_remembered_on_postgres() {
    let Some(db) = PgDb::create("exact expiry on PostgreSQL").await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::with_config(test_config(dir.path(), Some(db.url.clone())), dir).await;
    expiry_is_exact_while_remembered(&app).await;
    drop(app);
    db.drop_db().await;
}
