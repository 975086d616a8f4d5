//! The OpenID Connect provider, driven as an app (a relying party) and as an attacker
//! would drive it: flows, the attacks each defence stops, concurrency, logout.

mod attacks;
mod concurrency;
mod flows;
mod keys;
mod logout;

use std::collections::HashMap;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::StatusCode;
use palisade_service::{ClientSettings, Config};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::support::*;

pub(crate) const REDIRECT: &str = "https://app.example.com/callback";
pub(crate) const SECRET: &str = "tests-client-secret-0123456789-abcdefghijklmnop";

pub(crate) fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A confidential client with `SECRET`, redirecting to `REDIRECT`.
pub(crate) fn confidential(id: &str) -> ClientSettings {
    let mut c = ClientSettings::new(id, &format!("App {id}"));
    c.secret_sha256 = Some(palisade_service::config::Redacted::new(sha256_hex(SECRET)));
    c.redirect_uris = vec![REDIRECT.to_owned()];
    c.post_logout_redirect_uris = vec!["https://app.example.com/signed-out".to_owned()];
    c.signing_alg = Some("ES256".to_owned());
    c
}

/// A public client (PKCE only).
pub(crate) fn public(id: &str) -> ClientSettings {
    let mut c = ClientSettings::new(id, &format!("Public {id}"));
    c.public = true;
    c.redirect_uris = vec![REDIRECT.to_owned()];
    c.signing_alg = Some("ES256".to_owned());
    c
}

pub(crate) fn with_clients(config: &mut Config, clients: &[ClientSettings]) {
    config.oidc.clients = clients.to_vec();
}

/// A provider on SQLite with `clients`.
pub(crate) async fn provider(clients: &[ClientSettings]) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path(), None);
    with_clients(&mut config, clients);
    TestApp::with_config(config, dir).await
}

/// A user `name` signed in: their session token (the browser's cookie).
pub(crate) async fn signed_in(app: &TestApp, name: &str) -> String {
    let reply = app
        .register(name, &format!("{name}@example.com"), STRONG)
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
    app.login(name, STRONG).await
}

/// A PKCE verifier and its S256 challenge.
pub(crate) fn pkce() -> (String, String) {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).unwrap();
    let verifier = URL_SAFE_NO_PAD.encode(bytes);
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

pub(crate) fn query_string(params: &[(&str, &str)]) -> String {
    let mut q = form_urlencoded::Serializer::new(String::new());
    for (k, v) in params {
        q.append_pair(k, v);
    }
    q.finish()
}

/// `GET /oauth2/authorize?params` with the session `cookie`.
pub(crate) async fn authorize(
    app: &TestApp,
    cookie: Option<&str>,
    params: &[(&str, &str)],
) -> Reply {
    app.send(page_get(
        &format!("/oauth2/authorize?{}", query_string(params)),
        cookie,
    ))
    .await
}

pub(crate) fn location(reply: &Reply) -> Option<String> {
    reply
        .headers
        .get(http::header::LOCATION)
        .map(|v| v.to_str().unwrap().to_owned())
}

/// The query of a URL, decoded.
pub(crate) fn query_of(url: &str) -> HashMap<String, String> {
    let query = url.split_once('?').map_or("", |(_, q)| q);
    form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

pub(crate) fn html_unescape(text: &str) -> String {
    text.replace("&#34;", "\"")
        .replace("&#38;", "&")
        .replace("&#60;", "<")
        .replace("&#62;", ">")
        .replace("&quot;", "\"")
        .replace("&#x27;", "'")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// A hidden field's value in a page.
pub(crate) fn hidden(page: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let rest = page
        .split(&marker)
        .nth(1)
        .unwrap_or_else(|| panic!("no field {name} in {page}"));
    html_unescape(rest.split('"').next().unwrap())
}

/// The standard parameters of a code request for `client_id`.
pub(crate) fn code_params<'a>(client_id: &'a str, challenge: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("response_type", "code"),
        ("client_id", client_id),
        ("redirect_uri", REDIRECT),
        ("scope", "openid profile email groups offline_access"),
        ("state", "st-123"),
        ("nonce", "n-456"),
        ("code_challenge", challenge),
        ("code_challenge_method", "S256"),
    ]
}

/// Runs authorize (answering the consent page with `allow`) and returns the redirect's
/// query.
pub(crate) async fn authorized(
    app: &TestApp,
    cookie: &str,
    params: &[(&str, &str)],
) -> HashMap<String, String> {
    let reply = authorize(app, Some(cookie), params).await;
    let reply = if reply.status == StatusCode::OK {
        assert!(reply.body.contains("consent-allow"), "{}", reply.body);
        app.send(form(
            "/oauth2/consent",
            &[
                ("csrf", &form_token(&reply.body)),
                ("request", &hidden(&reply.body, "request")),
                ("decision", "allow"),
            ],
            Some(cookie),
            "127.0.0.1:40000",
        ))
        .await
    } else {
        reply
    };
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
    let to = location(&reply).unwrap();
    assert!(to.starts_with(REDIRECT), "{to}");
    query_of(&to)
}

/// A code for `client_id`, and its verifier.
pub(crate) async fn code_for(app: &TestApp, cookie: &str, client_id: &str) -> (String, String) {
    let (verifier, challenge) = pkce();
    let answer = authorized(app, cookie, &code_params(client_id, &challenge)).await;
    assert_eq!(answer.get("state").map(String::as_str), Some("st-123"));
    assert_eq!(answer.get("iss").map(String::as_str), Some(ORIGIN));
    (answer["code"].clone(), verifier)
}

/// `POST /oauth2/token` (or another endpoint) with `fields`, HTTP Basic when `basic`.
pub(crate) async fn post_form(
    app: &TestApp,
    path: &str,
    basic: Option<(&str, &str)>,
    fields: &[(&str, &str)],
    client: &str,
) -> Reply {
    let mut request = req(
        "POST",
        path,
        Some(("application/x-www-form-urlencoded", query_string(fields))),
        None,
        client,
    );
    request.headers_mut().remove("origin");
    if let Some((id, secret)) = basic {
        let value = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{id}:{secret}"))
        );
        request
            .headers_mut()
            .insert(http::header::AUTHORIZATION, value.parse().unwrap());
    }
    app.send(request).await
}

/// Redeems a code as the confidential client `client_id`: the token answer.
pub(crate) async fn exchange(app: &TestApp, client_id: &str, code: &str, verifier: &str) -> Reply {
    post_form(
        app,
        "/oauth2/token",
        Some((client_id, SECRET)),
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier),
        ],
        "127.0.0.1:40000",
    )
    .await
}

pub(crate) async fn refresh(app: &TestApp, client_id: &str, token: &str) -> Reply {
    post_form(
        app,
        "/oauth2/token",
        Some((client_id, SECRET)),
        &[("grant_type", "refresh_token"), ("refresh_token", token)],
        "127.0.0.1:40000",
    )
    .await
}

pub(crate) async fn introspect(app: &TestApp, client_id: &str, token: &str) -> Value {
    let reply = post_form(
        app,
        "/oauth2/introspect",
        Some((client_id, SECRET)),
        &[("token", token)],
        "127.0.0.1:40000",
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.json()
}

pub(crate) async fn userinfo(app: &TestApp, access_token: &str) -> Reply {
    app.send(req(
        "GET",
        "/oauth2/userinfo",
        None,
        Some(access_token),
        "127.0.0.1:40000",
    ))
    .await
}

/// A JWT's parts, decoded without checking the signature.
pub(crate) fn decode(jwt: &str) -> (Value, Value) {
    let mut parts = jwt.split('.');
    let mut part = || {
        serde_json::from_slice::<Value>(&URL_SAFE_NO_PAD.decode(parts.next().unwrap()).unwrap())
            .unwrap()
    };
    (part(), part())
}

/// The claims of an ES256 token of the provider's, checked against its published JWKS with
/// an implementation other than the provider's (RustCrypto's p256).
pub(crate) async fn verified(app: &TestApp, jwt: &str) -> Value {
    use p256::ecdsa::signature::Verifier;
    let (header, claims) = decode(jwt);
    assert_eq!(header["alg"], "ES256");
    let jwks = app.send(page_get("/oauth2/jwks", None)).await.json();
    let key = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == header["kid"])
        .expect("the token's kid is published");
    let coordinate = |name: &str| URL_SAFE_NO_PAD.decode(key[name].as_str().unwrap()).unwrap();
    let mut point = vec![4u8];
    point.extend(coordinate("x"));
    point.extend(coordinate("y"));
    let verifying = p256::ecdsa::VerifyingKey::from_sec1_bytes(&point).unwrap();
    let (signed, signature) = jwt.rsplit_once('.').unwrap();
    let signature =
        p256::ecdsa::Signature::from_slice(&URL_SAFE_NO_PAD.decode(signature).unwrap()).unwrap();
    verifying
        .verify(signed.as_bytes(), &signature)
        .expect("the signature verifies");
    claims
}
