//! Signing keys rotate on schedule: the next key is published an hour before it signs
//! (longer than any cache of the key set), the old one stays until its tokens have
//! expired; `keys rotate-signing --now` withdraws the old key at once. Of instances
//! rotating together, one makes each key.

use std::sync::Arc;

use http::StatusCode;

use super::*;
use crate::postgres::two_instances_with;
use crate::test_database::TestDatabase as PgDb;

async fn kids(app: &TestApp) -> Vec<String> {
    let jwks = app.send(page_get("/oauth2/jwks", None)).await.json();
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

async fn id_token(app: &TestApp, cookie: &str) -> String {
    let (code, verifier) = code_for(app, cookie, "grafana").await;
    let tokens = exchange(app, "grafana", &code, &verifier).await.json();
    tokens["id_token"].as_str().unwrap().to_owned()
}

fn kid(jwt: &str) -> String {
    decode(jwt).0["kid"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn keys_are_published_before_they_sign_and_kept_until_their_tokens_expire() {
    let app = provider(&[confidential("grafana")]).await;
    let cookie = signed_in(&app, "xena").await;
    let first = id_token(&app, &cookie).await;
    let k1 = kid(&first);
    assert_eq!(kids(&app).await.len(), 3, "one key per algorithm");
    // Thirty days on: the worker makes successors, published but not yet signing.
    app.clock.advance(30 * 86_400);
    app.service.oidc_round().await.unwrap();
    let published = kids(&app).await;
    assert_eq!(published.len(), 6, "{published:?}");
    let cookie = app.login("xena", STRONG).await;
    assert_eq!(
        kid(&id_token(&app, &cookie).await),
        k1,
        "the new key waits for caches"
    );
    // An hour later it signs; the old key is still published for the tokens it signed.
    app.clock.advance(3601);
    let cookie = app.login("xena", STRONG).await;
    let second = id_token(&app, &cookie).await;
    let k2 = kid(&second);
    assert_ne!(k1, k2);
    assert!(published.contains(&k2));
    assert!(kids(&app).await.contains(&k1));
    verified(&app, &second).await;
    // A day later the old key is gone.
    app.clock.advance(86_400 + 301);
    let now_published = kids(&app).await;
    assert!(
        !now_published.contains(&k1) && now_published.contains(&k2),
        "{now_published:?}"
    );
    assert_eq!(now_published.len(), 3);
    // A leak: rotate now, withdrawing the old keys at once.
    let admin = palisade_service::admin::Admin::open(&app.config)
        .await
        .unwrap();
    let made = admin.rotate_signing_keys(true).await.unwrap();
    assert_eq!(made, ["RS256", "ES256", "EdDSA"]);
    app.clock.advance(11);
    let published = kids(&app).await;
    assert!(!published.contains(&k2), "withdrawn: {published:?}");
    // A hint signed by the withdrawn key no longer signs anyone out.
    let reply = app
        .send(page_get(
            &format!(
                "/oauth2/logout?{}",
                query_string(&[("id_token_hint", &second)])
            ),
            Some(&cookie),
        ))
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let cookie = app.login("xena", STRONG).await;
    let third = id_token(&app, &cookie).await;
    assert!(published.contains(&kid(&third)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn instances_rotating_together_make_each_key_once_on_postgres() {
    let Some(db) = PgDb::create("signing key rotation on two PostgreSQL instances").await else {
        return;
    };
    let (a, b) = two_instances_with(&db, |c| with_clients(c, &[confidential("grafana")])).await;
    let (a, b) = (Arc::new(a), Arc::new(b));
    for round in 0..2 {
        let mut tasks = Vec::new();
        for i in 0..8 {
            let app = if i % 2 == 0 { a.clone() } else { b.clone() };
            tasks.push(tokio::spawn(async move {
                app.service.oidc_round().await.unwrap()
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        let keys: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM oidc_signing_keys")
            .fetch_one(&a.db)
            .await
            .unwrap();
        assert_eq!(keys, 3 * (round + 1), "round {round}");
        a.clock.advance(30 * 86_400);
    }
    drop((a, b));
    db.drop_db().await;
}
