//! Many requests in flight: one refresh token sent 64 times at once, one code redeemed 64
//! times at once, client secrets guessed 64 at a time — on SQLite and across two
//! PostgreSQL instances.

use std::sync::Arc;

use http::StatusCode;

use super::*;
use crate::postgres::two_instances_with;
use crate::test_database::TestDatabase as PgDb;

pub(crate) fn random_p256() -> p256::ecdsa::SigningKey {
    loop {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).unwrap();
        if let Ok(key) = p256::ecdsa::SigningKey::from_slice(&bytes) {
            return key;
        }
    }
}

/// One refresh token, 64 times at once (spread over the instances): exactly one new pair;
/// the others are reuse, which revokes the family — so the new pair is dead too.
async fn one_refresh_token_sent_64_times(apps: &[Arc<TestApp>]) {
    let a = &apps[0];
    let cookie = signed_in(a, "rita").await;
    let (code, verifier) = code_for(a, &cookie, "grafana").await;
    let tokens = exchange(a, "grafana", &code, &verifier).await.json();
    let token = tokens["refresh_token"].as_str().unwrap().to_owned();
    let mut tasks = Vec::new();
    for i in 0..64 {
        let app = apps[i % apps.len()].clone();
        let token = token.clone();
        tasks.push(tokio::spawn(async move {
            refresh(&app, "grafana", &token).await
        }));
    }
    let mut ok = Vec::new();
    let mut refused = 0;
    for task in tasks {
        let reply = task.await.unwrap();
        match reply.status {
            StatusCode::OK => ok.push(reply.json()),
            StatusCode::BAD_REQUEST => {
                assert_eq!(reply.json()["error"], "invalid_grant");
                refused += 1;
            }
            other => panic!("{other}: {}", reply.body),
        }
    }
    assert_eq!(ok.len(), 1, "exactly one rotation");
    assert_eq!(refused, 63);
    let newest = ok[0]["refresh_token"].as_str().unwrap();
    assert_eq!(
        refresh(a, "grafana", newest).await.json()["error"],
        "invalid_grant",
        "the family is revoked"
    );
    assert_eq!(
        a.audit_events_named("oidc_refresh_reused").await.unwrap(),
        1
    );
}

/// One code, 64 redemptions at once: one answer; the replays revoke it.
async fn one_code_redeemed_64_times(apps: &[Arc<TestApp>]) {
    let a = &apps[0];
    let cookie = signed_in(a, "sam").await;
    let (code, verifier) = code_for(a, &cookie, "grafana").await;
    let mut tasks = Vec::new();
    for i in 0..64 {
        let app = apps[i % apps.len()].clone();
        let (code, verifier) = (code.clone(), verifier.clone());
        tasks.push(tokio::spawn(async move {
            exchange(&app, "grafana", &code, &verifier).await
        }));
    }
    let mut ok = Vec::new();
    for task in tasks {
        let reply = task.await.unwrap();
        if reply.status == StatusCode::OK {
            ok.push(reply.json());
        } else {
            assert_eq!(reply.json()["error"], "invalid_grant", "{}", reply.body);
        }
    }
    assert_eq!(ok.len(), 1);
    // The replays revoked what the one success issued.
    let refresh_token = ok[0]["refresh_token"].as_str().unwrap();
    assert_eq!(
        refresh(a, "grafana", refresh_token).await.json()["error"],
        "invalid_grant"
    );
}

/// Secret guessing, 64 in flight from one address: 10 are checked and refused, the rest
/// throttled — the right secret from that address too. From 150 addresses: once the
/// client's count is past 100, every address that failed is refused; the owner, at an
/// address that never failed, is never locked out.
async fn secret_guessing_is_throttled(apps: &[Arc<TestApp>]) {
    let mut tasks = Vec::new();
    for i in 0..64 {
        let app = apps[i % apps.len()].clone();
        tasks.push(tokio::spawn(async move {
            let guess = format!("guess-{i:02}-0123456789abcdefghijklmnopqrstuvwxyz");
            post_form(
                &app,
                "/oauth2/token",
                Some(("grafana", &guess)),
                &[("grant_type", "refresh_token"), ("refresh_token", "x")],
                "127.0.0.9:5000",
            )
            .await
        }));
    }
    let (mut refused, mut throttled) = (0, 0);
    for task in tasks {
        let reply = task.await.unwrap();
        match reply.status {
            StatusCode::UNAUTHORIZED => refused += 1,
            StatusCode::TOO_MANY_REQUESTS => {
                assert!(reply.headers.contains_key("retry-after"));
                throttled += 1;
            }
            other => panic!("{other}: {}", reply.body),
        }
    }
    assert_eq!((refused, throttled), (10, 54));
    let owner = |client: &'static str| {
        let app = apps[0].clone();
        async move {
            post_form(
                &app,
                "/oauth2/token",
                Some(("grafana", SECRET)),
                &[
                    ("grant_type", "refresh_token"),
                    ("refresh_token", "unknown"),
                ],
                client,
            )
            .await
        }
    };
    assert_eq!(
        owner("127.0.0.9:5001").await.status,
        StatusCode::TOO_MANY_REQUESTS,
        "the guessing address"
    );
    assert_eq!(
        owner("127.0.1.1:5000").await.json()["error"],
        "invalid_grant",
        "the owner elsewhere is authenticated"
    );

    let mut tasks = Vec::new();
    for i in 0..150u32 {
        let app = apps[i as usize % apps.len()].clone();
        tasks.push(tokio::spawn(async move {
            let address = format!("127.2.{}.{}:5000", i / 200, i % 200 + 1);
            post_form(
                &app,
                "/oauth2/token",
                Some(("grafana", "wrong-wrong-wrong-wrong-wrong-wrong-wrong")),
                &[("grant_type", "refresh_token"), ("refresh_token", "x")],
                &address,
            )
            .await
            .status
        }));
    }
    let mut statuses = std::collections::BTreeMap::new();
    for task in tasks {
        *statuses.entry(task.await.unwrap().as_u16()).or_insert(0) += 1;
    }
    // The 64 above counted for the client as well: past 100 after 36 more.
    assert_eq!(statuses.get(&401), Some(&36), "{statuses:?}");
    assert_eq!(statuses.get(&429), Some(&114), "{statuses:?}");
    assert_eq!(
        owner("127.2.0.1:6000").await.status,
        StatusCode::TOO_MANY_REQUESTS,
        "an address that failed"
    );
    assert_eq!(
        owner("127.3.0.1:5000").await.json()["error"],
        "invalid_grant",
        "the owner is never locked out"
    );
}

async fn sqlite_provider() -> Arc<TestApp> {
    Arc::new(provider(&[confidential("grafana")]).await)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_refresh_token_sent_64_times_rotates_once_on_sqlite() {
    one_refresh_token_sent_64_times(&[sqlite_provider().await]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_code_redeemed_64_times_answers_once_on_sqlite() {
    one_code_redeemed_64_times(&[sqlite_provider().await]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn secret_guessing_is_throttled_on_sqlite() {
    secret_guessing_is_throttled(&[sqlite_provider().await]).await;
}

async fn pg_pair(db: &PgDb) -> Vec<Arc<TestApp>> {
    let (a, b) = two_instances_with(db, |c| with_clients(c, &[confidential("grafana")])).await;
    vec![Arc::new(a), Arc::new(b)]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_refresh_token_sent_64_times_rotates_once_across_two_instances_on_postgres() {
    let Some(db) = PgDb::create("refresh token reuse on two PostgreSQL instances").await else {
        return;
    };
    one_refresh_token_sent_64_times(&pg_pair(&db).await).await;
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_code_redeemed_64_times_answers_once_across_two_instances_on_postgres() {
    let Some(db) = PgDb::create("code replay on two PostgreSQL instances").await else {
        return;
    };
    one_code_redeemed_64_times(&pg_pair(&db).await).await;
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn secret_guessing_is_throttled_across_two_instances_on_postgres() {
    let Some(db) = PgDb::create("client secret guessing on two PostgreSQL instances").await else {
        return;
    };
    secret_guessing_is_throttled(&pg_pair(&db).await).await;
    db.drop_db().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_end_of_a_sign_in_ends_its_tokens_on_the_other_instance_on_postgres() {
    let Some(db) = PgDb::create("token end across two PostgreSQL instances").await else {
        return;
    };
    let apps = pg_pair(&db).await;
    super::attacks::the_end_of_a_sign_in_ends_its_tokens_on(&[&apps[0], &apps[1]]).await;
    db.drop_db().await;
}
