//! The provider as an app meets it: discovery, the code flow with consent, tokens and
//! their claims, refresh, UserInfo, introspection, revocation, client credentials, and
//! the sign-in the request rides through.

use http::StatusCode;
use palisade_service::config::Redacted;
use serde_json::json;

use super::*;

#[tokio::test]
async fn discovery_names_every_endpoint_and_the_key_set_is_public() {
    let app = provider(&[confidential("grafana")]).await;
    let meta = app
        .send(page_get("/.well-known/openid-configuration", None))
        .await;
    assert_eq!(meta.status, StatusCode::OK);
    assert_eq!(meta.headers["access-control-allow-origin"], "*");
    assert!(
        meta.headers["cache-control"]
            .to_str()
            .unwrap()
            .contains("max-age")
    );
    let meta = meta.json();
    assert_eq!(meta["issuer"], ORIGIN);
    for (field, path) in [
        ("authorization_endpoint", "/oauth2/authorize"),
        ("token_endpoint", "/oauth2/token"),
        ("userinfo_endpoint", "/oauth2/userinfo"),
        ("jwks_uri", "/oauth2/jwks"),
        ("introspection_endpoint", "/oauth2/introspect"),
        ("revocation_endpoint", "/oauth2/revoke"),
        ("end_session_endpoint", "/oauth2/logout"),
    ] {
        assert_eq!(meta[field], format!("{ORIGIN}{path}"), "{field}");
    }
    assert_eq!(meta["response_types_supported"], json!(["code"]));
    assert_eq!(meta["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(meta["authorization_response_iss_parameter_supported"], true);
    let oauth = app
        .send(page_get("/.well-known/oauth-authorization-server", None))
        .await
        .json();
    assert_eq!(oauth, meta);
    let jwks = app.send(page_get("/oauth2/jwks", None)).await;
    assert_eq!(jwks.status, StatusCode::OK);
    assert_eq!(jwks.headers["access-control-allow-origin"], "*");
    let keys = jwks.json()["keys"].as_array().unwrap().clone();
    let algs: Vec<&str> = keys.iter().map(|k| k["alg"].as_str().unwrap()).collect();
    for alg in ["RS256", "ES256", "EdDSA"] {
        assert!(algs.contains(&alg), "{algs:?}");
    }
    for key in &keys {
        // Public parts only.
        for private in ["d", "p", "q", "dp", "dq", "qi"] {
            assert!(key.get(private).is_none(), "{key}");
        }
    }
    let rsa = keys.iter().find(|k| k["kty"] == "RSA").unwrap();
    let modulus = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(rsa["n"].as_str().unwrap())
        .unwrap();
    assert!(modulus.len() * 8 >= 2048);
}

/// The whole flow: signed out → the login page, carrying the request; signed in → the
/// consent page naming the app; allowed → a code with `state` and `iss`; the code → an ID
/// token whose claims and signature (checked with another implementation) are right, an
/// access token in the RFC 9068 profile, a refresh token; the consent is remembered.
#[tokio::test]
async fn the_code_flow_signs_a_user_in_to_an_app() {
    let app = provider(&[confidential("grafana")]).await;
    let (verifier, challenge) = pkce();
    let params = code_params("grafana", &challenge);
    let anonymous = authorize(&app, None, &params).await;
    assert_eq!(anonymous.status, StatusCode::SEE_OTHER);
    let to_login = location(&anonymous).unwrap();
    assert!(to_login.starts_with("/login?"), "{to_login}");
    let rd = query_of(&to_login)["rd"].clone();
    assert!(
        rd.starts_with(&format!("{ORIGIN}/oauth2/authorize?")),
        "{rd}"
    );
    // The login page keeps it as its way back.
    let login_page = app.send(page_get(&to_login, None)).await;
    assert_eq!(hidden(&login_page.body, "rd"), rd);

    let cookie = signed_in(&app, "alice").await;
    let consent = authorize(&app, Some(&cookie), &params).await;
    assert_eq!(consent.status, StatusCode::OK);
    assert!(consent.body.contains("App grafana"), "{}", consent.body);
    assert!(consent.body.contains("your email address"));
    let answer = authorized(&app, &cookie, &params).await;
    assert_eq!(answer["state"], "st-123");
    assert_eq!(answer["iss"], ORIGIN);
    let tokens = exchange(&app, "grafana", &answer["code"], &verifier).await;
    assert_eq!(tokens.status, StatusCode::OK, "{}", tokens.body);
    assert_eq!(tokens.headers["cache-control"], "no-store");
    let tokens = tokens.json();
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 600);
    let id = verified(&app, tokens["id_token"].as_str().unwrap()).await;
    let user = app.user_named("alice").await;
    assert_eq!(id["iss"], ORIGIN);
    assert_eq!(id["aud"], "grafana");
    assert_eq!(id["azp"], "grafana");
    assert_eq!(id["nonce"], "n-456");
    assert_eq!(id["preferred_username"], "alice");
    assert_eq!(id["email"], "alice@example.com");
    assert_eq!(id["amr"], json!(["pwd"]));
    let sub = id["sub"].as_str().unwrap();
    assert!(
        sub != "alice" && sub != user.id.to_string() && sub.len() >= 20,
        "{sub}"
    );
    for claim in ["exp", "iat", "auth_time", "sid", "at_hash", "acr"] {
        assert!(!id[claim].is_null(), "{claim}");
    }
    let access = tokens["access_token"].as_str().unwrap();
    let (header, at) = decode(access);
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(verified(&app, access).await["sub"], sub);
    assert_eq!(at["client_id"], "grafana");
    // at_hash binds the ID token to this access token.
    let digest = Sha256::digest(access.as_bytes());
    assert_eq!(id["at_hash"], URL_SAFE_NO_PAD.encode(&digest[..16]));
    assert!(tokens["refresh_token"].as_str().unwrap().len() >= 43);

    // Remembered: the next request gets a code at once.
    let again = authorize(&app, Some(&cookie), &params).await;
    assert_eq!(again.status, StatusCode::SEE_OTHER, "{}", again.body);
    assert!(query_of(&location(&again).unwrap()).contains_key("code"));
    // The same user is the same `sub` to the app next time.
    let (code, verifier) = code_for(&app, &cookie, "grafana").await;
    let second = exchange(&app, "grafana", &code, &verifier).await.json();
    assert_eq!(decode(second["id_token"].as_str().unwrap()).1["sub"], sub);
}

#[tokio::test]
async fn userinfo_releases_claims_by_scope() {
    let mut client = confidential("wiki");
    client.first_party = true;
    let app = provider(&[client]).await;
    let cookie = signed_in(&app, "bob").await;
    let user = app.user_named("bob").await;
    sqlx::query("INSERT INTO user_groups (user_id, name) VALUES ($1, 'staff')")
        .bind(user.id)
        .execute(&app.db)
        .await
        .unwrap();
    let (verifier, challenge) = pkce();
    let mut params = code_params("wiki", &challenge);
    params.retain(|(k, _)| *k != "scope");
    params.push(("scope", "openid email"));
    // First party: no consent page.
    let answer = authorized(&app, &cookie, &params).await;
    let tokens = exchange(&app, "wiki", &answer["code"], &verifier)
        .await
        .json();
    let info = userinfo(&app, tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(info.status, StatusCode::OK, "{}", info.body);
    let info = info.json();
    assert_eq!(info["email"], "bob@example.com");
    assert_eq!(info["email_verified"], false);
    assert!(
        info.get("preferred_username").is_none() && info.get("groups").is_none(),
        "{info}"
    );

    let (code, verifier) = code_for(&app, &cookie, "wiki").await;
    let tokens = exchange(&app, "wiki", &code, &verifier).await.json();
    let info = userinfo(&app, tokens["access_token"].as_str().unwrap())
        .await
        .json();
    assert_eq!(info["groups"], json!(["staff"]));
    assert_eq!(info["preferred_username"], "bob");
    // An ID token is not an access token.
    let with_id_token = userinfo(&app, tokens["id_token"].as_str().unwrap()).await;
    assert_eq!(with_id_token.status, StatusCode::UNAUTHORIZED);
    assert!(
        with_id_token.headers["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );
}

#[tokio::test]
async fn refresh_rotates_and_introspection_and_revocation_answer_for_own_tokens() {
    let app = provider(&[confidential("grafana"), confidential("other")]).await;
    let cookie = signed_in(&app, "carol").await;
    let (code, verifier) = code_for(&app, &cookie, "grafana").await;
    let first = exchange(&app, "grafana", &code, &verifier).await.json();
    let refresh_token = first["refresh_token"].as_str().unwrap();
    let second = refresh(&app, "grafana", refresh_token).await;
    assert_eq!(second.status, StatusCode::OK, "{}", second.body);
    let second = second.json();
    assert_ne!(second["refresh_token"], first["refresh_token"]);
    let active = introspect(&app, "grafana", second["access_token"].as_str().unwrap()).await;
    assert_eq!(active["active"], true);
    assert_eq!(active["username"], "carol");
    let refresh_info = introspect(&app, "grafana", second["refresh_token"].as_str().unwrap()).await;
    assert_eq!(refresh_info["active"], true);
    assert_eq!(refresh_info["token_type"], "refresh_token");
    // Another client learns nothing about it, and cannot revoke it.
    let foreign = introspect(&app, "other", second["access_token"].as_str().unwrap()).await;
    assert_eq!(foreign, json!({"active": false}));
    let revoked = post_form(
        &app,
        "/oauth2/revoke",
        Some(("other", SECRET)),
        &[("token", second["refresh_token"].as_str().unwrap())],
        "127.0.0.1:40000",
    )
    .await;
    assert_eq!(revoked.status, StatusCode::OK);
    assert_eq!(
        introspect(&app, "grafana", second["access_token"].as_str().unwrap()).await["active"],
        true
    );
    // Its own client revokes it: the whole grant ends.
    let revoked = post_form(
        &app,
        "/oauth2/revoke",
        Some(("grafana", SECRET)),
        &[("token", second["refresh_token"].as_str().unwrap())],
        "127.0.0.1:40000",
    )
    .await;
    assert_eq!(revoked.status, StatusCode::OK);
    assert_eq!(
        introspect(&app, "grafana", second["access_token"].as_str().unwrap()).await["active"],
        false
    );
    assert_eq!(
        refresh(&app, "grafana", second["refresh_token"].as_str().unwrap())
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        userinfo(&app, second["access_token"].as_str().unwrap())
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn client_credentials_gives_the_client_its_own_token() {
    let mut client = confidential("robot");
    client.grant_types = Some(vec!["client_credentials".into()]);
    client.redirect_uris = vec![];
    client.scopes = Some(vec!["groups".into()]);
    let app = provider(&[client]).await;
    let reply = post_form(
        &app,
        "/oauth2/token",
        Some(("robot", SECRET)),
        &[("grant_type", "client_credentials"), ("scope", "groups")],
        "127.0.0.1:40000",
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let tokens = reply.json();
    assert!(tokens.get("refresh_token").is_none() && tokens.get("id_token").is_none());
    let claims = verified(&app, tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(claims["sub"], "robot");
    assert_eq!(
        introspect(&app, "robot", tokens["access_token"].as_str().unwrap()).await["active"],
        true
    );
    // Not a user's token: no UserInfo.
    let info = userinfo(&app, tokens["access_token"].as_str().unwrap()).await;
    assert_eq!(info.status, StatusCode::FORBIDDEN, "{}", info.body);
    for scope in ["openid", "offline_access", "email"] {
        let reply = post_form(
            &app,
            "/oauth2/token",
            Some(("robot", SECRET)),
            &[("grant_type", "client_credentials"), ("scope", scope)],
            "127.0.0.1:40000",
        )
        .await;
        assert_eq!(reply.json()["error"], "invalid_scope", "{scope}");
    }
    // The code flow is not this client's.
    let code = post_form(
        &app,
        "/oauth2/token",
        Some(("robot", SECRET)),
        &[("grant_type", "authorization_code"), ("code", "x")],
        "127.0.0.1:40000",
    )
    .await;
    assert_eq!(code.json()["error"], "unauthorized_client");
}

/// `prompt` and `max_age`: none without a session says `login_required`, none without
/// consent `consent_required`; an old sign-in is asked again (the login page shows its form
/// to the signed-in user), and `auth_time` says when it happened.
#[tokio::test]
async fn prompt_and_max_age_are_obeyed() {
    let app = provider(&[confidential("grafana")]).await;
    let (_, challenge) = pkce();
    let mut params = code_params("grafana", &challenge);
    params.push(("prompt", "none"));
    let reply = authorize(&app, None, &params).await;
    let to = location(&reply).unwrap();
    assert!(to.starts_with(REDIRECT), "{to}");
    assert_eq!(query_of(&to)["error"], "login_required");
    assert_eq!(query_of(&to)["state"], "st-123");
    assert_eq!(query_of(&to)["iss"], ORIGIN);
    let cookie = signed_in(&app, "dave").await;
    let reply = authorize(&app, Some(&cookie), &params).await;
    assert_eq!(
        query_of(&location(&reply).unwrap())["error"],
        "consent_required"
    );
    // Consented; then prompt=none gives a code.
    authorized(&app, &cookie, &code_params("grafana", &challenge)).await;
    let reply = authorize(&app, Some(&cookie), &params).await;
    assert!(query_of(&location(&reply).unwrap()).contains_key("code"));
    // A sign-in older than max_age: to the login page, with its form shown.
    app.clock.advance(120);
    let mut old = code_params("grafana", &challenge);
    old.push(("max_age", "60"));
    let reply = authorize(&app, Some(&cookie), &old).await;
    let to = location(&reply).unwrap();
    assert!(
        to.starts_with("/login?") && query_of(&to)["prompt"] == "login",
        "{to}"
    );
    let page = app.send(page_get(&to, Some(&cookie))).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("value=\"dave\""),
        "the form names who is signed in"
    );
    let mut none_old = old.clone();
    none_old.push(("prompt", "none"));
    let reply = authorize(&app, Some(&cookie), &none_old).await;
    assert_eq!(
        query_of(&location(&reply).unwrap())["error"],
        "login_required"
    );
    // prompt=consent asks again.
    let mut consent = code_params("grafana", &challenge);
    consent.push(("prompt", "consent"));
    assert_eq!(
        authorize(&app, Some(&cookie), &consent).await.status,
        StatusCode::OK
    );
}

/// `form_post`: the answer is a page whose form posts the code, `state` and `iss` to the
/// redirect URI — and whose policy lets the form go there and nowhere else.
#[tokio::test]
async fn form_post_answers_with_a_form_to_the_app() {
    let mut client = confidential("nextcloud");
    client.first_party = true;
    let app = provider(&[client]).await;
    let cookie = signed_in(&app, "erin").await;
    let (_, challenge) = pkce();
    let mut params = code_params("nextcloud", &challenge);
    params.push(("response_mode", "form_post"));
    let reply = authorize(&app, Some(&cookie), &params).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert!(
        reply.body.contains(&format!("action=\"{REDIRECT}\"")),
        "{}",
        reply.body
    );
    assert_eq!(hidden(&reply.body, "state"), "st-123");
    assert_eq!(hidden(&reply.body, "iss"), ORIGIN);
    assert!(hidden(&reply.body, "code").len() >= 43);
    let csp = reply.headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("form-action 'self' https://app.example.com"),
        "{csp}"
    );
    assert!(!csp.contains("unsafe-inline"));
}

/// A user the client's rule refuses sees why, and the app is told `access_denied`.
#[tokio::test]
async fn the_clients_rule_decides_who_may_sign_in() {
    let mut client = confidential("admin-panel");
    client.subject = palisade_service::OneOrMany::One("group:admins".into());
    let mut mfa = confidential("vault-ui");
    mfa.policy = Some("two_factor".into());
    let app = provider(&[client, mfa]).await;
    let cookie = signed_in(&app, "frank").await;
    let (_, challenge) = pkce();
    let reply = authorize(&app, Some(&cookie), &code_params("admin-panel", &challenge)).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert!(
        reply.body.contains("not allowed to use App admin-panel"),
        "{}",
        reply.body
    );
    let back = html_unescape(
        reply
            .body
            .split("id=\"oidc-onwards\" href=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap(),
    );
    assert!(back.starts_with(REDIRECT));
    assert_eq!(query_of(&back)["error"], "access_denied");
    let reply = authorize(&app, Some(&cookie), &code_params("vault-ui", &challenge)).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert!(reply.body.contains("second factor"));
    // In the group: in.
    let user = app.user_named("frank").await;
    sqlx::query("INSERT INTO user_groups (user_id, name) VALUES ($1, 'admins')")
        .bind(user.id)
        .execute(&app.db)
        .await
        .unwrap();
    app.changed_elsewhere().await;
    let reply = authorize(&app, Some(&cookie), &code_params("admin-panel", &challenge)).await;
    assert_eq!(
        reply.status,
        StatusCode::OK,
        "the consent page: {}",
        reply.body
    );
}

/// Revoking an app on the account page (or by the API) ends every token it holds.
#[tokio::test]
async fn revoking_an_app_ends_its_tokens() {
    let app = provider(&[confidential("grafana")]).await;
    let cookie = signed_in(&app, "gina").await;
    let (code, verifier) = code_for(&app, &cookie, "grafana").await;
    let tokens = exchange(&app, "grafana", &code, &verifier).await.json();
    let apps = app
        .json("GET", "/api/v1/account/apps", None, Some(&cookie))
        .await
        .json();
    assert_eq!(apps[0]["client_id"], "grafana");
    assert_eq!(apps[0]["name"], "App grafana");
    let page = app.send(page_get("/account", Some(&cookie))).await;
    assert!(page.body.contains("Apps with access") && page.body.contains("revoke-grafana"));
    let done = app
        .send(form(
            "/account/apps/grafana/revoke",
            &[("csrf", &form_token(&page.body))],
            Some(&cookie),
            "127.0.0.1:40000",
        ))
        .await;
    assert_eq!(done.status, StatusCode::SEE_OTHER);
    assert_eq!(
        refresh(&app, "grafana", tokens["refresh_token"].as_str().unwrap())
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        introspect(&app, "grafana", tokens["access_token"].as_str().unwrap()).await["active"],
        false
    );
    assert_eq!(
        app.json("GET", "/api/v1/account/apps", None, Some(&cookie))
            .await
            .json(),
        json!([])
    );
    assert_eq!(
        app.json(
            "DELETE",
            "/api/v1/account/apps/grafana",
            None,
            Some(&cookie)
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
    // The consent page comes back; consented again, the API revokes it.
    let (_, challenge) = pkce();
    assert_eq!(
        authorize(&app, Some(&cookie), &code_params("grafana", &challenge))
            .await
            .status,
        StatusCode::OK
    );
    let (code, verifier) = code_for(&app, &cookie, "grafana").await;
    let tokens = exchange(&app, "grafana", &code, &verifier).await.json();
    let reply = app
        .json(
            "DELETE",
            "/api/v1/account/apps/grafana",
            None,
            Some(&cookie),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(introspect(&app, "grafana", access).await["active"], false);
}

/// Pairwise clients each see another `sub` for the same user.
#[tokio::test]
async fn pairwise_subjects_differ_per_client() {
    let mut a = confidential("a");
    a.subject_type = Some("pairwise".into());
    a.first_party = true;
    let mut b = a.clone();
    b.id = "b".into();
    let mut c = confidential("c");
    c.first_party = true;
    let app = provider(&[a, b, c]).await;
    let cookie = signed_in(&app, "hal").await;
    let mut subs = Vec::new();
    for client in ["a", "b", "c", "a"] {
        let (code, verifier) = code_for(&app, &cookie, client).await;
        let tokens = exchange(&app, client, &code, &verifier).await.json();
        subs.push(
            decode(tokens["id_token"].as_str().unwrap()).1["sub"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    assert_ne!(subs[0], subs[1]);
    assert_ne!(subs[0], subs[2]);
    assert_ne!(subs[1], subs[2]);
    assert_eq!(subs[0], subs[3], "stable per client");
}

/// A configuration error names the client and the field, and stops the start.
#[tokio::test]
async fn a_client_that_cannot_be_read_stops_the_start() {
    let dir = tempfile::tempdir().unwrap();
    type Edit = Box<dyn Fn(&mut ClientSettings)>;
    let cases: Vec<(Edit, &str)> = vec![
        (
            Box::new(|c| c.redirect_uris = vec!["http://app.example.com/cb".into()]),
            "redirect_uris[0]",
        ),
        (
            Box::new(|c| c.redirect_uris = vec!["https://app.example.com/cb#x".into()]),
            "fragment",
        ),
        (
            Box::new(|c| c.redirect_uris = vec!["https://user@app.example.com/cb".into()]),
            "user name",
        ),
        (Box::new(|c| c.policy = Some("bypass".into())), "policy"),
        (
            Box::new(|c| c.signing_alg = Some("HS256".into())),
            "signing_alg",
        ),
        (
            Box::new(|c| c.secret_sha256 = Some(Redacted::new("abc".into()))),
            "secret_sha256",
        ),
        (
            Box::new(|c| c.subject = palisade_service::OneOrMany::One("root".into())),
            "subject[0]",
        ),
        (
            Box::new(|c| c.scopes = Some(vec!["admin".into()])),
            "scopes[0]",
        ),
        (
            Box::new(|c| c.grant_types = Some(vec!["password".into()])),
            "grant_types[0]",
        ),
    ];
    for (edit, field) in cases {
        let mut client = confidential("broken");
        edit(&mut client);
        let mut config = test_config(dir.path(), None);
        with_clients(&mut config, &[client]);
        let error = start_error(&config).await;
        assert!(
            error.contains("oidc.clients[0] (broken)") && error.contains(field),
            "{field}: {error}"
        );
    }
}

/// A browser app (a public client on its own origin) may read the token, UserInfo,
/// introspection and revocation answers — never with credentials (no cookie is read
/// there) — and its preflight is answered.
#[tokio::test]
async fn browser_apps_read_the_token_endpoints_across_origins() {
    let app = provider(&[public("spa")]).await;
    let cookie = signed_in(&app, "ivy").await;
    for path in [
        "/oauth2/token",
        "/oauth2/userinfo",
        "/oauth2/introspect",
        "/oauth2/revoke",
    ] {
        let mut preflight = req("OPTIONS", path, None, None, "127.0.0.1:40000");
        let headers = preflight.headers_mut();
        headers.insert("origin", "https://spa.example.net".parse().unwrap());
        headers.insert("access-control-request-method", "POST".parse().unwrap());
        headers.insert(
            "access-control-request-headers",
            "authorization".parse().unwrap(),
        );
        let reply = app.send(preflight).await;
        assert_eq!(reply.status, StatusCode::NO_CONTENT, "{path}");
        assert_eq!(reply.headers["access-control-allow-origin"], "*", "{path}");
        assert!(
            reply.headers["access-control-allow-headers"]
                .to_str()
                .unwrap()
                .contains("authorization")
        );
        assert!(
            !reply
                .headers
                .contains_key("access-control-allow-credentials"),
            "{path}"
        );
    }
    let (code, verifier) = code_for(&app, &cookie, "spa").await;
    let mut exchange = req(
        "POST",
        "/oauth2/token",
        Some((
            "application/x-www-form-urlencoded",
            query_string(&[
                ("grant_type", "authorization_code"),
                ("client_id", "spa"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", &verifier),
            ]),
        )),
        None,
        "127.0.0.1:40000",
    );
    exchange
        .headers_mut()
        .insert("origin", "https://spa.example.net".parse().unwrap());
    exchange
        .headers_mut()
        .insert("sec-fetch-site", "cross-site".parse().unwrap());
    let reply = app.send(exchange).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.headers["access-control-allow-origin"], "*");
    assert!(
        !reply
            .headers
            .contains_key("access-control-allow-credentials")
    );
    // The consent form is not among them.
    let mut consent = req("OPTIONS", "/oauth2/consent", None, None, "127.0.0.1:40000");
    consent
        .headers_mut()
        .insert("origin", "https://spa.example.net".parse().unwrap());
    let reply = app.send(consent).await;
    assert!(!reply.headers.contains_key("access-control-allow-origin"));
}
