//! Logout: RP-initiated (back only to a registered address, the user asked unless the
//! hint names this very session) and back-channel (a signed logout token to each app
//! when a session ends, delivered once across instances, retried when the app is down).

use std::sync::{Arc, Mutex};

use axum::extract::State;
use http::StatusCode;

use super::*;
use crate::postgres::two_instances_with;
use crate::test_database::TestDatabase as PgDb;

#[tokio::test]
async fn rp_initiated_logout_asks_and_goes_back_only_where_registered() {
    let app = provider(&[confidential("grafana")]).await;
    let cookie = signed_in(&app, "uma").await;
    let back = "https://app.example.com/signed-out";
    // Not registered: a page, no redirect, still signed in.
    for uri in [
        "https://evil.example.net/",
        "https://app.example.com/signed-out/",
        "https://app.example.com/signed-out?x=1",
    ] {
        let reply = app
            .send(page_get(
                &format!(
                    "/oauth2/logout?{}",
                    query_string(&[("client_id", "grafana"), ("post_logout_redirect_uri", uri)])
                ),
                Some(&cookie),
            ))
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{uri}");
        assert!(location(&reply).is_none());
    }
    // Without a client a post-logout URI cannot be checked: refused.
    let reply = app
        .send(page_get(
            &format!(
                "/oauth2/logout?{}",
                query_string(&[("post_logout_redirect_uri", back)])
            ),
            Some(&cookie),
        ))
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    // No hint: the user is asked; a link alone signs nobody out.
    let reply = app
        .send(page_get(
            &format!(
                "/oauth2/logout?{}",
                query_string(&[
                    ("client_id", "grafana"),
                    ("post_logout_redirect_uri", back),
                    ("state", "s1")
                ])
            ),
            Some(&cookie),
        ))
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.body.contains("logout-confirm"));
    assert_eq!(
        app.json("GET", "/api/v1/me", None, Some(&cookie))
            .await
            .status,
        StatusCode::OK
    );
    let csp = reply.headers["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        csp.contains("form-action 'self' https://app.example.com"),
        "{csp}"
    );
    let fields = [
        ("csrf", form_token(&reply.body)),
        ("client_id", hidden(&reply.body, "client_id")),
        (
            "post_logout_redirect_uri",
            hidden(&reply.body, "post_logout_redirect_uri"),
        ),
        ("state", hidden(&reply.body, "state")),
    ];
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut cross = form(
        "/oauth2/logout/confirm",
        &fields,
        Some(&cookie),
        "127.0.0.1:40000",
    );
    cross
        .headers_mut()
        .insert("origin", "https://evil.example.net".parse().unwrap());
    cross
        .headers_mut()
        .insert("sec-fetch-site", "cross-site".parse().unwrap());
    assert_eq!(app.send(cross).await.status, StatusCode::FORBIDDEN);
    let done = app
        .send(form(
            "/oauth2/logout/confirm",
            &fields,
            Some(&cookie),
            "127.0.0.1:40000",
        ))
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER, "{}", done.body);
    assert_eq!(location(&done).unwrap(), format!("{back}?state=s1"));
    assert_eq!(
        app.json("GET", "/api/v1/me", None, Some(&cookie))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
}

/// What an app's back-channel endpoint received.
#[derive(Clone, Default)]
struct Received {
    tokens: Arc<Mutex<Vec<String>>>,
    /// Answer 503 to this many deliveries first.
    failures: Arc<Mutex<u32>>,
    /// Then answer 400 to this many.
    refusals: Arc<Mutex<u32>>,
}

async fn backchannel(State(received): State<Received>, body: String) -> StatusCode {
    {
        let mut failures = received.failures.lock().unwrap();
        if *failures > 0 {
            *failures -= 1;
            return StatusCode::SERVICE_UNAVAILABLE;
        }
        let mut refusals = received.refusals.lock().unwrap();
        if *refusals > 0 {
            *refusals -= 1;
            return StatusCode::BAD_REQUEST;
        }
    }
    let token = form_urlencoded::parse(body.as_bytes())
        .find(|(k, _)| k == "logout_token")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    received.tokens.lock().unwrap().push(token);
    StatusCode::OK
}

/// An app's back-channel logout endpoint on loopback; its URI.
async fn app_endpoint(received: Received) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let router = axum::Router::new()
        .route("/backchannel", axum::routing::post(backchannel))
        .with_state(received);
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://127.0.0.1:{port}/backchannel")
}

fn listening(uri: &str) -> ClientSettings {
    let mut client = confidential("grafana");
    client.backchannel_logout_uri = Some(uri.to_owned());
    client
}

/// Signs a user in to the app and signs them out: the ID token's `sub` and `sid`.
async fn sign_in_and_out(app: &TestApp, name: &str) -> (String, String) {
    let cookie = signed_in(app, name).await;
    let (code, verifier) = code_for(app, &cookie, "grafana").await;
    let tokens = exchange(app, "grafana", &code, &verifier).await.json();
    let (_, id) = decode(tokens["id_token"].as_str().unwrap());
    let reply = app
        .json("POST", "/api/v1/logout", None, Some(&cookie))
        .await;
    assert!(reply.status.is_success());
    (
        id["sub"].as_str().unwrap().to_owned(),
        id["sid"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn a_session_ended_sends_one_signed_logout_token_to_the_app() {
    let received = Received::default();
    *received.failures.lock().unwrap() = 1;
    let uri = app_endpoint(received.clone()).await;
    let app = provider(&[listening(&uri)]).await;
    let (sub, sid) = sign_in_and_out(&app, "vic").await;
    // The app is down: nothing delivered, tried again later.
    assert_eq!(app.service.oidc_round().await.unwrap(), 0);
    assert!(received.tokens.lock().unwrap().is_empty());
    assert_eq!(
        app.service.oidc_round().await.unwrap(),
        0,
        "not before its time"
    );
    app.clock.advance(31);
    assert_eq!(app.service.oidc_round().await.unwrap(), 1);
    assert_eq!(app.service.oidc_round().await.unwrap(), 0, "once");
    let tokens = received.tokens.lock().unwrap().clone();
    assert_eq!(tokens.len(), 1);
    let (header, _) = decode(&tokens[0]);
    assert_eq!(header["typ"], "logout+jwt");
    let claims = verified(&app, &tokens[0]).await;
    assert_eq!(claims["iss"], ORIGIN);
    assert_eq!(claims["aud"], "grafana");
    assert_eq!(claims["sub"], sub);
    assert_eq!(claims["sid"], sid);
    assert!(claims["events"]["http://schemas.openid.net/event/backchannel-logout"].is_object());
    assert!(claims.get("nonce").is_none());
    assert!(!claims["jti"].is_null() && !claims["iat"].is_null() && !claims["exp"].is_null());
}

/// Every path that ends a session tells the app: a password change ends the other
/// sessions, `user end-sessions` all of them.
#[tokio::test]
async fn every_way_a_session_ends_tells_the_app() {
    let received = Received::default();
    let uri = app_endpoint(received.clone()).await;
    let app = provider(&[listening(&uri)]).await;
    let other = signed_in(&app, "walt").await;
    let (code, verifier) = code_for(&app, &other, "grafana").await;
    exchange(&app, "grafana", &code, &verifier).await;
    let current = app.login("walt", STRONG).await;
    let reply = app
        .json("POST", "/api/v1/password", Some(serde_json::json!({"current_password": STRONG, "new_password": "another strong passphrase here"})), Some(&current))
        .await;
    assert!(reply.status.is_success(), "{}", reply.body);
    assert_eq!(app.service.oidc_round().await.unwrap(), 1);
    // Signed in again, then every session ended from the command line.
    let again = app.login("walt", "another strong passphrase here").await;
    let (code, verifier) = code_for(&app, &again, "grafana").await;
    exchange(&app, "grafana", &code, &verifier).await;
    let admin = palisade_service::admin::Admin::open(&app.config)
        .await
        .unwrap();
    admin.end_sessions("walt").await.unwrap();
    assert_eq!(app.service.oidc_round().await.unwrap(), 1);
    assert_eq!(received.tokens.lock().unwrap().len(), 2);
}

/// An app that never exchanged its code does not know the `sid`: it is not told. An app
/// that refuses a logout (400) has said its last word: not sent again.
#[tokio::test]
async fn only_apps_that_got_tokens_are_told_and_a_refusal_is_final() {
    let received = Received::default();
    let uri = app_endpoint(received.clone()).await;
    let app = provider(&[listening(&uri)]).await;
    let cookie = signed_in(&app, "quinn").await;
    code_for(&app, &cookie, "grafana").await;
    let reply = app
        .json("POST", "/api/v1/logout", None, Some(&cookie))
        .await;
    assert!(reply.status.is_success());
    assert_eq!(app.service.oidc_round().await.unwrap(), 0);
    let queued: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM oidc_logouts")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(queued, 0, "nothing to tell an app that never got tokens");

    *received.refusals.lock().unwrap() = 1;
    sign_in_and_out(&app, "ruth").await;
    assert_eq!(app.service.oidc_round().await.unwrap(), 0);
    app.clock.advance(3600);
    assert_eq!(app.service.oidc_round().await.unwrap(), 0, "not sent again");
    let given_up: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM oidc_logouts WHERE given_up_at IS NOT NULL")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(given_up, 1);
    assert!(received.tokens.lock().unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_logout_goes_once_across_two_instances_on_postgres() {
    let Some(db) = PgDb::create("back-channel logout on two PostgreSQL instances").await else {
        return;
    };
    let received = Received::default();
    let uri = app_endpoint(received.clone()).await;
    let (a, b) = two_instances_with(&db, |c| with_clients(c, &[listening(&uri)])).await;
    for n in 0..5 {
        sign_in_and_out(&a, &format!("pat{n}")).await;
    }
    let (a, b) = (Arc::new(a), Arc::new(b));
    let mut rounds = Vec::new();
    for i in 0..8 {
        let app = if i % 2 == 0 { a.clone() } else { b.clone() };
        rounds.push(tokio::spawn(async move {
            app.service.oidc_round().await.unwrap()
        }));
    }
    let mut delivered = 0;
    for round in rounds {
        delivered += round.await.unwrap();
    }
    assert_eq!(delivered, 5);
    assert_eq!(received.tokens.lock().unwrap().len(), 5);
    drop((a, b));
    db.drop_db().await;
}
