//! Passkeys, driven by a software authenticator: added, used as a second step and alone;
//! and the attacks — a challenge answered twice (64 in flight, SQLite and two PostgreSQL
//! instances), answered for another login, from another origin, for another RP, without
//! user verification, and a cloned authenticator whose counter goes back.

use http::StatusCode;
use serde_json::{Value, json};

use super::authenticator::SoftAuthenticator;
use super::concurrency::flood;
use super::support::{Reply, STRONG, TestApp, req, test_config};
use super::test_database::TestDatabase as PgDb;

const ORIGIN: &str = "http://localhost:8080";
const RP_ID: &str = "localhost";

fn passkey_config(dir: &std::path::Path, database_url: Option<String>) -> palisade_service::Config {
    let mut config = test_config(dir, database_url);
    config.public_origin = Some(ORIGIN.to_owned());
    config
}

async fn passkey_app() -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let config = passkey_config(dir.path(), None);
    TestApp::with_config(config, dir).await
}

/// A request from `client` as a page of `ORIGIN` sends it.
fn call(
    method: &str,
    path: &str,
    body: Option<Value>,
    token: Option<&str>,
    cookie: Option<(&str, &str)>,
    client: &str,
) -> http::Request<axum::body::Body> {
    let mut request = req(
        method,
        path,
        body.map(|b| ("application/json", b.to_string())),
        token,
        client,
    );
    request
        .headers_mut()
        .insert("origin", http::HeaderValue::from_static(ORIGIN));
    if let Some((name, value)) = cookie {
        request.headers_mut().insert(
            http::header::COOKIE,
            format!("{name}={value}").parse().unwrap(),
        );
    }
    request
}

fn set_cookie(reply: &Reply, name: &str) -> Option<String> {
    reply
        .headers
        .get_all(http::header::SET_COOKIE)
        .iter()
        .find_map(|v| {
            let rest = v.to_str().ok()?.strip_prefix(&format!("{name}="))?;
            let value = rest.split(';').next()?;
            (!value.is_empty()).then(|| value.to_owned())
        })
}

/// Registers `name`, signs in, adds a passkey: the session and the authenticator.
async fn with_passkey(app: &TestApp, name: &str) -> (String, SoftAuthenticator) {
    let client = "127.0.0.1:41000";
    let email = format!("{name}@example.com");
    let body = json!({"username": name, "email": email, "password": STRONG});
    let reply = app
        .send(call(
            "POST",
            "/api/v1/register",
            Some(body),
            None,
            None,
            client,
        ))
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    let body = json!({"identifier": name, "password": STRONG});
    let reply = app
        .send(call(
            "POST",
            "/api/v1/login",
            Some(body),
            None,
            None,
            client,
        ))
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let session = reply.json()["token"].as_str().unwrap().to_owned();
    let mut authenticator = SoftAuthenticator::new(RP_ID, ORIGIN);
    let body = json!({"name": "laptop"});
    let options = app
        .send(call(
            "POST",
            "/api/v1/mfa/passkeys",
            Some(body),
            Some(&session),
            None,
            client,
        ))
        .await;
    assert_eq!(options.status, StatusCode::OK, "{}", options.body);
    let public_key = &options.json()["options"]["publicKey"];
    assert_eq!(public_key["rp"]["id"], RP_ID);
    assert_eq!(
        public_key["authenticatorSelection"]["userVerification"],
        "required"
    );
    let credential = authenticator.register(&options.json());
    let done = app
        .send(call(
            "POST",
            "/api/v1/mfa/passkeys/finish",
            Some(json!({"credential": credential})),
            Some(&session),
            None,
            client,
        ))
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert_eq!(done.json()["recovery_codes"].as_array().unwrap().len(), 10);
    (session, authenticator)
}

/// Password, then the options for a passkey: the pending login's token and the options.
async fn pending_with_challenge(app: &TestApp, name: &str, client: &str) -> (String, Value) {
    let body = json!({"identifier": name, "password": STRONG});
    let reply = app
        .send(call(
            "POST",
            "/api/v1/login",
            Some(body),
            None,
            None,
            client,
        ))
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.body);
    let pending = reply.json()["token"].as_str().unwrap().to_owned();
    let options = app
        .send(call(
            "POST",
            "/api/v1/login/second-step/challenge",
            None,
            Some(&pending),
            None,
            client,
        ))
        .await;
    assert_eq!(options.status, StatusCode::OK, "{}", options.body);
    (pending, options.json())
}

fn second_step(pending: &str, assertion: &Value, client: &str) -> http::Request<axum::body::Body> {
    call(
        "POST",
        "/api/v1/login/second-step",
        Some(json!({"passkey": assertion})),
        Some(pending),
        None,
        client,
    )
}

#[tokio::test]
async fn a_passkey_is_added_then_used_as_the_second_step_and_alone() {
    let app = passkey_app().await;
    let (session, mut authenticator) = with_passkey(&app, "pia").await;
    let listed = app
        .send(call(
            "GET",
            "/api/v1/mfa",
            None,
            Some(&session),
            None,
            "127.0.0.1:41000",
        ))
        .await;
    assert_eq!(
        listed.json()["factors"][0]["kind"],
        "passkey",
        "{}",
        listed.body
    );

    let client = "127.0.0.1:41001";
    let (pending, options) = pending_with_challenge(&app, "pia", client).await;
    let assertion = authenticator.assert(&options);
    let done = app.send(second_step(&pending, &assertion, client)).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    // The same answer again, on a new pending login: its challenge is gone.
    let (pending, _) = pending_with_challenge(&app, "pia", client).await;
    let replay = app.send(second_step(&pending, &assertion, client)).await;
    assert_eq!(replay.status, StatusCode::FORBIDDEN, "{}", replay.body);

    // Alone: a challenge bound to this browser's cookie, answered with user verification.
    let begin = app
        .send(call(
            "POST",
            "/api/v1/login/passkey/challenge",
            None,
            None,
            None,
            client,
        ))
        .await;
    assert_eq!(begin.status, StatusCode::OK, "{}", begin.body);
    let cookie = set_cookie(&begin, palisade_service::PASSKEY_SIGN_IN_COOKIE).unwrap();
    let assertion = authenticator.assert(&begin.json());
    let cookie_pair = Some((palisade_service::PASSKEY_SIGN_IN_COOKIE, cookie.as_str()));
    let body = json!({"credential": assertion});
    let signed = app
        .send(call(
            "POST",
            "/api/v1/login/passkey",
            Some(body.clone()),
            None,
            cookie_pair,
            client,
        ))
        .await;
    assert_eq!(signed.status, StatusCode::OK, "{}", signed.body);
    assert_eq!(signed.json()["user"]["username"], "pia");
    // Once only.
    let again = app
        .send(call(
            "POST",
            "/api/v1/login/passkey",
            Some(body.clone()),
            None,
            cookie_pair,
            client,
        ))
        .await;
    assert_eq!(again.status, StatusCode::UNAUTHORIZED, "{}", again.body);
    // Alone, a passkey must verify its user (a touch is not enough to be the only factor).
    let begin = app
        .send(call(
            "POST",
            "/api/v1/login/passkey/challenge",
            None,
            None,
            None,
            client,
        ))
        .await;
    let cookie = set_cookie(&begin, palisade_service::PASSKEY_SIGN_IN_COOKIE).unwrap();
    authenticator.verifies_user = false;
    let body = json!({"credential": authenticator.assert(&begin.json())});
    authenticator.verifies_user = true;
    let cookie_pair = Some((palisade_service::PASSKEY_SIGN_IN_COOKIE, cookie.as_str()));
    let touch_only = app
        .send(call(
            "POST",
            "/api/v1/login/passkey",
            Some(body),
            None,
            cookie_pair,
            client,
        ))
        .await;
    assert_eq!(
        touch_only.status,
        StatusCode::UNAUTHORIZED,
        "{}",
        touch_only.body
    );
    // Without the browser's cookie the answer is worth nothing.
    let begin = app
        .send(call(
            "POST",
            "/api/v1/login/passkey/challenge",
            None,
            None,
            None,
            client,
        ))
        .await;
    let assertion = authenticator.assert(&begin.json());
    let stolen = app
        .send(call(
            "POST",
            "/api/v1/login/passkey",
            Some(json!({"credential": assertion})),
            None,
            None,
            client,
        ))
        .await;
    assert_eq!(stolen.status, StatusCode::UNAUTHORIZED, "{}", stolen.body);
}

/// Answers that must not pass: another origin, another RP ID, no user verification, a
/// challenge issued to someone else's login; each audited as a failed second factor.
#[tokio::test]
async fn forged_answers_are_refused() {
    let app = passkey_app().await;
    let (_, mut authenticator) = with_passkey(&app, "quinn").await;
    let client = "127.0.0.1:41002";
    for tamper in ["origin", "rp", "no-uv"] {
        let (pending, options) = pending_with_challenge(&app, "quinn", client).await;
        let mut forged = SoftAuthenticator::new(RP_ID, ORIGIN);
        std::mem::swap(&mut forged, &mut authenticator);
        match tamper {
            "origin" => forged.origin = "http://evil.example:8080".into(),
            "rp" => forged.rp_id = "evil.example".into(),
            _ => forged.verifies_user = false,
        }
        let assertion = forged.assert(&options);
        std::mem::swap(&mut forged, &mut authenticator);
        let refused = app.send(second_step(&pending, &assertion, client)).await;
        assert_eq!(
            refused.status,
            StatusCode::FORBIDDEN,
            "{tamper}: {}",
            refused.body
        );
    }
    // A challenge issued to another user's pending login.
    let (_, mut other) = with_passkey(&app, "rhea").await;
    let (_, rheas_options) = pending_with_challenge(&app, "rhea", client).await;
    let (quinns_pending, _) = pending_with_challenge(&app, "quinn", client).await;
    let crossed = app
        .send(second_step(
            &quinns_pending,
            &other.assert(&rheas_options),
            client,
        ))
        .await;
    assert_eq!(crossed.status, StatusCode::FORBIDDEN, "{}", crossed.body);
    let crossed = app
        .send(second_step(
            &quinns_pending,
            &authenticator.assert(&rheas_options),
            client,
        ))
        .await;
    assert_eq!(crossed.status, StatusCode::FORBIDDEN, "{}", crossed.body);
    assert!(
        app.audit_events_named("second_factor_failed")
            .await
            .unwrap()
            >= 5
    );
}

/// A cloned authenticator: the original signs in, then the clone answers with the counter
/// it had when it was copied. Refused, and audited.
#[tokio::test]
async fn a_counter_that_goes_back_is_refused_and_audited() {
    let app = passkey_app().await;
    let (_, mut authenticator) = with_passkey(&app, "sol").await;
    let client = "127.0.0.1:41003";
    let at_copy = authenticator.counter;
    for _ in 0..2 {
        let (pending, options) = pending_with_challenge(&app, "sol", client).await;
        let done = app
            .send(second_step(
                &pending,
                &authenticator.assert(&options),
                client,
            ))
            .await;
        assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    }
    authenticator.counter = at_copy;
    let (pending, options) = pending_with_challenge(&app, "sol", client).await;
    let cloned = app
        .send(second_step(
            &pending,
            &authenticator.assert(&options),
            client,
        ))
        .await;
    assert_eq!(cloned.status, StatusCode::FORBIDDEN, "{}", cloned.body);
    assert_eq!(
        app.audit_events_named("passkey_counter_regressed")
            .await
            .unwrap(),
        1
    );
}

/// One answer sent 64 times at once, from an authenticator without a counter (so that
/// only the challenge's single use stands in the way): to a passkey sign-in, and to the
/// second step of one pending login. Each time exactly one signs in.
async fn an_answer_signs_in_once(apps: &[&TestApp]) {
    let app = apps[0];
    let (_, mut authenticator) = with_passkey(app, "tove").await;
    authenticator.keeps_counter = false;
    authenticator.counter = 0;
    let client = "127.0.0.1:41005";
    let begin = app
        .send(call(
            "POST",
            "/api/v1/login/passkey/challenge",
            None,
            None,
            None,
            client,
        ))
        .await;
    let cookie = set_cookie(&begin, palisade_service::PASSKEY_SIGN_IN_COOKIE).unwrap();
    let body = json!({"credential": authenticator.assert(&begin.json())});
    let statuses = flood(apps, 64, 64, None, move |i| {
        let client = format!("127.0.{}.{}:40000", 50 + i / 200, 1 + i % 200);
        let cookie = Some((palisade_service::PASSKEY_SIGN_IN_COOKIE, cookie.as_str()));
        call(
            "POST",
            "/api/v1/login/passkey",
            Some(body.clone()),
            None,
            cookie,
            &client,
        )
    })
    .await;
    eprintln!("one passkey sign-in answer, 64 in flight: {statuses:?}");
    assert_eq!(statuses.get(&200), Some(&1), "{statuses:?}");
    assert_eq!(statuses.get(&401), Some(&63), "{statuses:?}");

    let client = "127.0.0.1:41004";
    let (pending, options) = pending_with_challenge(apps[apps.len() - 1], "tove", client).await;
    let assertion = authenticator.assert(&options);
    let statuses = flood(apps, 64, 64, None, move |i| {
        let client = format!("127.0.{}.{}:40000", 40 + i / 200, 1 + i % 200);
        second_step(&pending, &assertion, &client)
    })
    .await;
    eprintln!("one passkey answer, 64 second steps in flight: {statuses:?}");
    assert_eq!(statuses.get(&200), Some(&1), "{statuses:?}");
    let refused: usize = [401, 403, 429].iter().filter_map(|s| statuses.get(s)).sum();
    assert_eq!(refused, 63, "{statuses:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_signs_in_once_on_sqlite() {
    an_answer_signs_in_once(&[&passkey_app().await]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_signs_in_once_across_two_instances_on_postgres() {
    let Some(db) = PgDb::create("passkey replay on two PostgreSQL instances").await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let config = passkey_config(dir.path(), Some(db.url.clone()));
    let (clock, hand) = palisade_service::Clock::manual(super::support::now());
    let a = TestApp::with_clock(
        config.clone(),
        tempfile::tempdir().unwrap(),
        clock.clone(),
        hand.clone(),
    )
    .await;
    let b = TestApp::with_clock(config, dir, clock, hand).await;
    an_answer_signs_in_once(&[&a, &b]).await;
    drop((a, b));
    db.drop_db().await;
}

/// Where passkeys cannot work (`public_origin` is an address), the endpoints say so.
#[tokio::test]
async fn without_a_host_name_passkeys_are_unavailable() {
    let app = TestApp::sqlite().await;
    assert_eq!(
        app.register("uma", "uma@example.com", STRONG).await.status,
        StatusCode::CREATED
    );
    let session = app.login("uma", STRONG).await;
    let reply = app
        .json(
            "POST",
            "/api/v1/mfa/passkeys",
            Some(json!({"name": "key"})),
            Some(&session),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND, "{}", reply.body);
    assert!(
        reply.json()["type"]
            .as_str()
            .unwrap()
            .ends_with(":passkeys-unavailable")
    );
}

/// A passkey proves a change to the factors (its own challenge, bound to the session);
/// a finish without a start, and a passkey challenge for an account without one, find
/// nothing.
#[tokio::test]
async fn a_passkey_proves_a_change_and_nothing_is_finished_unstarted() {
    let app = passkey_app().await;
    let (session, mut authenticator) = with_passkey(&app, "vera").await;
    let client = "127.0.0.1:41006";
    let post = |path: &'static str, body: Option<Value>, token: Option<String>| {
        call("POST", path, body, token.as_deref(), None, client)
    };
    // Adding an app needs a proof now: the passkey's, over its own challenge.
    let refused = app
        .send(post(
            "/api/v1/mfa/totp",
            Some(json!({"name": "phone"})),
            Some(session.clone()),
        ))
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    let options = app
        .send(post(
            "/api/v1/mfa/passkeys/challenge",
            None,
            Some(session.clone()),
        ))
        .await;
    assert_eq!(options.status, StatusCode::OK, "{}", options.body);
    let proof = authenticator.assert(&options.json());
    let body = json!({"name": "phone", "passkey": proof});
    let added = app
        .send(post(
            "/api/v1/mfa/totp",
            Some(body.clone()),
            Some(session.clone()),
        ))
        .await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.body);
    // The same proof again: its challenge is spent.
    let again = app
        .send(post(
            "/api/v1/mfa/totp",
            Some(json!({"name": "tablet", "passkey": body["passkey"]})),
            Some(session.clone()),
        ))
        .await;
    assert_eq!(again.status, StatusCode::FORBIDDEN, "{}", again.body);

    // A finish nobody started.
    let mut stranger = SoftAuthenticator::new(RP_ID, ORIGIN);
    let fake_options =
        json!({"options": {"publicKey": {"challenge": "AAAA", "user": {"id": "AAAA"}}}});
    let body = json!({"credential": stranger.register(&fake_options)});
    let unstarted = app
        .send(post(
            "/api/v1/mfa/passkeys/finish",
            Some(body),
            Some(session.clone()),
        ))
        .await;
    assert_eq!(
        unstarted.status,
        StatusCode::NOT_FOUND,
        "{}",
        unstarted.body
    );

    // An account with a password only has no passkey to be asked for.
    let body = json!({"username": "wren", "email": "wren@example.com", "password": STRONG});
    app.send(post("/api/v1/register", Some(body), None)).await;
    let wren = app
        .send(post(
            "/api/v1/login",
            Some(json!({"identifier": "wren", "password": STRONG})),
            None,
        ))
        .await
        .json()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let none = app
        .send(post("/api/v1/mfa/passkeys/challenge", None, Some(wren)))
        .await;
    assert_eq!(none.status, StatusCode::NOT_FOUND, "{}", none.body);
}

/// The second step of an account with an authenticator app but no passkey: there is no
/// passkey to ask for (404), and the pending login is not used up by asking.
#[tokio::test]
async fn second_step_challenge_for_an_account_without_a_passkey() {
    use palisade::totp::{Totp, TotpSecret};
    let app = passkey_app().await;
    let client = "127.0.0.1:41007";
    let post = |path: &str, body: Option<Value>, token: Option<&str>| {
        call("POST", path, body, token, None, client)
    };
    let body = json!({"username": "xena", "email": "xena@example.com", "password": STRONG});
    app.send(post("/api/v1/register", Some(body), None)).await;
    let login = json!({"identifier": "xena", "password": STRONG});
    let session = app
        .send(post("/api/v1/login", Some(login.clone()), None))
        .await
        .json()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let added = app
        .send(post(
            "/api/v1/mfa/totp",
            Some(json!({"name": "phone"})),
            Some(&session),
        ))
        .await
        .json();
    let secret = TotpSecret::from_base32(added["secret"].as_str().unwrap()).unwrap();
    let totp = Totp::default();
    let code = |t: i64| {
        totp.code(&secret, totp.step_at(t as u64))
            .expose(str::to_owned)
    };
    let confirm = format!("/api/v1/mfa/totp/{}/confirm", added["id"].as_str().unwrap());
    let confirmed = app
        .send(post(
            &confirm,
            Some(json!({"code": code(app.clock.now())})),
            Some(&session),
        ))
        .await;
    assert_eq!(confirmed.status, StatusCode::OK, "{}", confirmed.body);
    let pending = app
        .send(post("/api/v1/login", Some(login), None))
        .await
        .json()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let none = app
        .send(post(
            "/api/v1/login/second-step/challenge",
            None,
            Some(&pending),
        ))
        .await;
    assert_eq!(none.status, StatusCode::NOT_FOUND, "{}", none.body);
    app.clock.advance(30);
    let done = app
        .send(post(
            "/api/v1/login/second-step",
            Some(json!({"code": code(app.clock.now())})),
            Some(&pending),
        ))
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
}

#[tokio::test]
async fn a_passkey_proves_a_password_reset() {
    let app = passkey_app().await;
    let (_, mut authenticator) = with_passkey(&app, "petra").await;
    let client = "127.0.0.1:41008";
    let before = super::mail::delivered(&app);
    let asked = app
        .send(call(
            "POST",
            "/api/v1/password/reset",
            Some(json!({"email": "petra@example.com"})),
            None,
            None,
            client,
        ))
        .await;
    assert_eq!(asked.status, StatusCode::ACCEPTED);
    let new = super::mail::deliver(&app, &before).await;
    let token = super::mail::one(&new, "petra@example.com", "Reset your password").token();
    // Its page offers the passkey, and lets this origin ask for it.
    let page = app
        .send(call(
            "GET",
            &format!("/password/reset?token={token}"),
            None,
            None,
            None,
            client,
        ))
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("id=\"reset-passkey\""), "{}", page.body);
    assert!(
        page.headers["permissions-policy"]
            .to_str()
            .unwrap()
            .contains("publickey-credentials-get=(self)")
    );
    let complete = |body: Value| {
        call(
            "POST",
            "/api/v1/password/reset/complete",
            Some(body),
            None,
            None,
            client,
        )
    };
    let new_password = "lantern harbor quietly sixteen";
    let bare = app
        .send(complete(
            json!({"token": token, "new_password": new_password}),
        ))
        .await;
    assert_eq!(bare.status, StatusCode::FORBIDDEN, "{}", bare.body);
    let options = app
        .send(call(
            "POST",
            "/api/v1/password/reset/challenge",
            Some(json!({"token": token})),
            None,
            None,
            client,
        ))
        .await;
    assert_eq!(options.status, StatusCode::OK, "{}", options.body);
    let assertion = authenticator.assert(&options.json());
    let done = app
        .send(complete(
            json!({"token": token, "new_password": new_password, "passkey": assertion}),
        ))
        .await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    // The challenge was the reset's, used once.
    let again = app
        .send(complete(
            json!({"token": token, "new_password": STRONG, "passkey": assertion}),
        ))
        .await;
    assert_eq!(again.status, StatusCode::BAD_REQUEST, "{}", again.body);
}
