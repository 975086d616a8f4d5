//! Guessing and registering with many requests in flight, as an attacker would: every
//! counter must see the attempts that are still running, on every instance.
//!
//! The service's clock stands still during a flood (or moves at a set pace), so the bound on
//! what was hashed is exact: the free attempts, plus one for each delay that could have
//! elapsed. Replacing the store's atomic statements by a read, a decision in the process
//! and a write-back makes every test here fail (the hashes then reach the thousands).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::body::Body;
use http::{Request, StatusCode};
use palisade::throttle::DelaySchedule;

use super::postgres::two_instances;
use super::support::*;
use super::test_database::TestDatabase as PgDb;

/// Sends `total` requests, `in_flight` at a time, request `i` made by `make(i)` and sent to
/// `apps[i % apps.len()]`. Every `advance_every` requests the clock moves one second.
/// Returns the count of each status.
pub(crate) async fn flood(
    apps: &[&TestApp],
    total: usize,
    in_flight: usize,
    advance_every: Option<usize>,
    make: impl Fn(usize) -> Request<Body> + Send + Sync + 'static,
) -> BTreeMap<u16, usize> {
    let next = Arc::new(AtomicUsize::new(0));
    let make = Arc::new(make);
    let routers: Arc<Vec<axum::Router>> = Arc::new(apps.iter().map(|a| a.router.clone()).collect());
    let clock = apps[0].clock.clone();
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..in_flight {
        let (next, make, routers, clock) =
            (next.clone(), make.clone(), routers.clone(), clock.clone());
        workers.spawn(async move {
            let mut statuses = BTreeMap::new();
            loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= total {
                    return statuses;
                }
                if advance_every.is_some_and(|n| i > 0 && i % n == 0) {
                    clock.advance(1);
                }
                let router = routers[i % routers.len()].clone();
                let response = tower::ServiceExt::oneshot(router, make(i)).await.unwrap();
                *statuses.entry(response.status().as_u16()).or_insert(0) += 1;
            }
        });
    }
    let mut statuses = BTreeMap::new();
    while let Some(done) = workers.join_next().await {
        for (status, n) in done.unwrap() {
            *statuses.entry(status).or_insert(0) += n;
        }
    }
    statuses
}

/// The most attempts a counter lets through in `elapsed` seconds: its free ones at once,
/// then one each time the delay owed has passed.
fn most_allowed(schedule: DelaySchedule, elapsed: i64) -> u64 {
    let (mut allowed, mut at) = (u64::from(schedule.free_failures), 0i64);
    loop {
        at += schedule.delay(allowed as u32) as i64;
        if at > elapsed {
            return allowed;
        }
        allowed += 1;
    }
}

fn hashes(apps: &[&TestApp]) -> u64 {
    apps.iter().map(|a| a.hashes()).sum()
}

/// `127.0.x.y`, one of 65,536 loopback client addresses.
fn client(n: usize) -> String {
    format!("127.0.{}.{}:40000", (n / 250) % 256, 1 + n % 250)
}

fn login(identifier: &str, password: &str, client: &str) -> Request<Body> {
    let body = serde_json::json!({"identifier": identifier, "password": password}).to_string();
    req(
        "POST",
        "/api/v1/login",
        Some(("application/json", body)),
        None,
        client,
    )
}

fn registration(i: usize, client: &str) -> Request<Body> {
    let body = serde_json::json!({
        "username": format!("flood{i}"),
        "email": format!("flood{i}@example.com"),
        "password": format!("correct horse battery {i} staple"),
    });
    req(
        "POST",
        "/api/v1/register",
        Some(("application/json", body.to_string())),
        None,
        client,
    )
}

fn assert_no_server_error(statuses: &BTreeMap<u16, usize>) {
    assert!(
        statuses.keys().all(|s| *s < 500),
        "server errors under load: {statuses:?}"
    );
}

/// 3,000 wrong passwords at one account, 64 in flight, from 1,000 addresses (three each:
/// under every per-address limit), spread over `apps`. Only the account-wide delay can
/// stop this; then the owner, from a fresh address, signs in once it has passed.
pub(crate) async fn distributed_guessing(apps: &[&TestApp], advance_every: Option<usize>) {
    let app = apps[0];
    let reply = app.register("victim", "victim@example.com", STRONG).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let schedule = app.service.throttle_policy().schedule(true);
    let (before, started) = (hashes(apps), app.clock.now());
    let statuses = flood(apps, 3_000, 64, advance_every, |i| {
        login("victim", &format!("guess {i}"), &client(i % 1_000))
    })
    .await;
    let hashed = hashes(apps) - before;
    let bound = most_allowed(schedule, app.clock.now() - started);
    eprintln!(
        "3,000 guesses, 64 in flight, 1,000 addresses, {} instance(s), {} s: {hashed} hashed (bound {bound}); {statuses:?}",
        apps.len(),
        app.clock.now() - started
    );
    assert_no_server_error(&statuses);
    assert!(hashed <= bound, "{hashed} hashed, bound {bound}");
    assert!(
        hashed >= u64::from(schedule.free_failures),
        "the free attempts were all used"
    );
    assert_eq!(statuses.get(&401).copied().unwrap_or(0) as u64, hashed);
    assert_eq!(
        statuses.get(&429).copied().unwrap_or(0) as u64,
        3_000 - hashed
    );
    app.clock.advance(schedule.max_delay as i64);
    let reply = apps[apps.len() - 1]
        .login_from("victim", STRONG, "127.1.0.1:5000")
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
}

/// 200 logins to one account, 64 in flight, each from its own address: three in four with
/// the right password, the rest wrong. Every success takes back exactly its own attempt from
/// the account-wide counter (a take-back written as read, subtract, write back loses some
/// under this load and leaves the counter too high), and starts its pair counter over.
pub(crate) async fn owner_and_guesser_at_once(apps: &[&TestApp]) {
    let app = apps[0];
    let reply = app.register("owner", "owner@example.com", STRONG).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let id = app.user_named("owner").await.id;
    let statuses = flood(apps, 200, 64, None, |i| {
        let password = if i % 4 == 0 {
            "wrong guess here"
        } else {
            STRONG
        };
        login("owner", password, &client(2_000 + i))
    })
    .await;
    assert_no_server_error(&statuses);
    assert_eq!(statuses.get(&200), Some(&150), "{statuses:?}");
    assert_eq!(statuses.get(&401), Some(&50), "{statuses:?}");
    let counter = |key: String| async move {
        sqlx::query_scalar::<_, i64>("SELECT failures FROM throttle WHERE key = $1")
            .bind(key)
            .fetch_optional(&app.db)
            .await
            .unwrap()
    };
    assert_eq!(
        counter(format!("acct:id:{id}")).await,
        Some(50),
        "the account-wide counter holds the failures only"
    );
    let owner_address = client(2_001);
    let client_key = owner_address.split(':').next().unwrap();
    assert_eq!(
        counter(format!("pair:acct:id:{id}|{client_key}")).await,
        Some(0),
        "a success starts its pair counter over"
    );
}

/// 200 logins to one account, 64 in flight, from only four addresses, one in four wrong:
/// successes reset the very pair counters that attempts in flight are counting into, so
/// the gate and the reset take the same two row locks at once (in the same order, or
/// PostgreSQL aborts one of them as a deadlock: a 500). The account-wide counter ends at
/// the failures that were hashed, exactly; a refused attempt counts nowhere.
pub(crate) async fn owner_and_guesser_sharing_addresses(apps: &[&TestApp]) {
    let app = apps[0];
    let reply = app.register("shared", "shared@example.com", STRONG).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let id = app.user_named("shared").await.id;
    let statuses = flood(apps, 200, 64, None, |i| {
        let password = if i % 4 == 0 {
            "wrong guess here"
        } else {
            STRONG
        };
        login("shared", password, &client(3_000 + i % 4))
    })
    .await;
    eprintln!("200 logins from four addresses, 64 in flight: {statuses:?}");
    assert_no_server_error(&statuses);
    let (ok, wrong) = (statuses.get(&200), statuses.get(&401).copied().unwrap_or(0));
    assert!(ok.is_some_and(|n| *n > 0), "{statuses:?}");
    let failures = sqlx::query_scalar::<_, i64>("SELECT failures FROM throttle WHERE key = $1")
        .bind(format!("acct:id:{id}"))
        .fetch_optional(&app.db)
        .await
        .unwrap();
    assert_eq!(failures, Some(wrong as i64), "{statuses:?}");
}

/// 2,000 wrong passwords at one account from one address, 8 in flight: the pair delay.
pub(crate) async fn guessing_from_one_address(apps: &[&TestApp], advance_every: Option<usize>) {
    let app = apps[0];
    let reply = app.register("target", "target@example.com", STRONG).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let schedule = app.service.throttle_policy().schedule(false);
    let (before, started) = (hashes(apps), app.clock.now());
    let statuses = flood(apps, 2_000, 8, advance_every, |i| {
        login("target", &format!("guess {i}"), "127.0.0.9:40000")
    })
    .await;
    let hashed = hashes(apps) - before;
    let bound = most_allowed(schedule, app.clock.now() - started);
    eprintln!(
        "2,000 guesses, 8 in flight, one address, {} instance(s): {hashed} hashed (bound {bound}); {statuses:?}",
        apps.len()
    );
    assert_no_server_error(&statuses);
    assert!(hashed <= bound, "{hashed} hashed, bound {bound}");
    assert!(hashed >= u64::from(schedule.free_failures));
    assert_eq!(statuses.get(&401).copied().unwrap_or(0) as u64, hashed);
}

/// 3,000 registrations, 64 in flight, from 20 addresses: each address gets its rate.
pub(crate) async fn distributed_registrations(apps: &[&TestApp]) {
    let limit = u64::from(apps[0].service.throttle_policy().client_attempts);
    let before = hashes(apps);
    let statuses = flood(apps, 3_000, 64, None, |i| {
        registration(i, &client(100 + i % 20))
    })
    .await;
    let hashed = hashes(apps) - before;
    eprintln!(
        "3,000 registrations, 64 in flight, 20 addresses: {hashed} hashed (bound {}); {statuses:?}",
        20 * limit
    );
    assert_no_server_error(&statuses);
    assert!(hashed <= 20 * limit, "{hashed} hashed");
    assert_eq!(statuses.get(&201).copied().unwrap_or(0) as u64, hashed);
    assert_eq!(hashed, 20 * limit, "every address used its whole rate");
}

/// 2,000 registrations from one address, 8 in flight.
pub(crate) async fn registrations_from_one_address(apps: &[&TestApp]) {
    let limit = u64::from(apps[0].service.throttle_policy().client_attempts);
    let before = hashes(apps);
    let statuses = flood(apps, 2_000, 8, None, |i| {
        registration(10_000 + i, "127.0.0.77:40000")
    })
    .await;
    let hashed = hashes(apps) - before;
    eprintln!("2,000 registrations, 8 in flight, one address: {hashed} hashed; {statuses:?}");
    assert_no_server_error(&statuses);
    assert!(hashed <= limit, "{hashed} hashed, limit {limit}");
    assert_eq!(statuses.get(&201).copied().unwrap_or(0) as u64, hashed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn distributed_guessing_on_sqlite() {
    let app = TestApp::sqlite().await;
    distributed_guessing(&[&app], None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn distributed_guessing_over_two_minutes_on_sqlite() {
    // One second every 25 requests: the delays that elapse let a few more through.
    let app = TestApp::sqlite().await;
    distributed_guessing(&[&app], Some(25)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guessing_from_one_address_on_sqlite() {
    let app = TestApp::sqlite().await;
    guessing_from_one_address(&[&app], None).await;
    let app = TestApp::sqlite().await;
    guessing_from_one_address(&[&app], Some(20)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owner_and_guesser_at_once_on_sqlite() {
    owner_and_guesser_at_once(&[&TestApp::sqlite().await]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owner_and_guesser_at_once_across_two_instances_on_postgres() {
    let Some(db) = PgDb::create("owner and guesser on two PostgreSQL instances").await else {
        return;
    };
    let (a, b) = two_instances(&db).await;
    owner_and_guesser_at_once(&[&a, &b]).await;
    drop((a, b));
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owner_and_guesser_sharing_addresses_on_sqlite() {
    owner_and_guesser_sharing_addresses(&[&TestApp::sqlite().await]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn owner_and_guesser_sharing_addresses_across_two_instances_on_postgres() {
    let Some(db) = PgDb::create("shared addresses on two PostgreSQL instances").await else {
        return;
    };
    let (a, b) = two_instances(&db).await;
    owner_and_guesser_sharing_addresses(&[&a, &b]).await;
    drop((a, b));
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registrations_under_concurrency_on_sqlite() {
    let app = TestApp::sqlite().await;
    distributed_registrations(&[&app]).await;
    registrations_from_one_address(&[&app]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guessing_under_concurrency_on_postgres() {
    let Some(db) = PgDb::create("guessing under concurrency on PostgreSQL").await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::with_config(test_config(dir.path(), Some(db.url.clone())), dir).await;
    distributed_guessing(&[&app], None).await;
    guessing_from_one_address(&[&app], Some(20)).await;
    drop(app);
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registrations_under_concurrency_on_postgres() {
    let Some(db) = PgDb::create("registrations under concurrency on PostgreSQL").await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let app = TestApp::with_config(test_config(dir.path(), Some(db.url.clone())), dir).await;
    distributed_registrations(&[&app]).await;
    registrations_from_one_address(&[&app]).await;
    drop(app);
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guessing_split_across_two_instances_on_postgres() {
    let Some(db) = PgDb::create("guessing across two instances on PostgreSQL").await else {
        return;
    };
    let (a, b) = two_instances(&db).await;
    distributed_guessing(&[&a, &b], Some(25)).await;
    guessing_from_one_address(&[&a, &b], None).await;
    distributed_registrations(&[&a, &b]).await;
    drop((a, b));
    db.drop_db().await;
}
