//! Each defence of the provider, attacked: redirect URIs that nearly match, PKCE missing or
//! weakened, codes replayed or taken to another client, forged tokens and assertions, a
//! cross-site consent, and the sign-in's end taking every token with it.

use http::StatusCode;
use serde_json::json;

use super::*;

/// Every near-miss of the registered redirect URI — and every open-redirect payload of the
/// shared corpus — gets a page and no redirect, whatever else the request says.
#[tokio::test]
async fn a_redirect_uri_not_registered_exactly_gets_no_redirect() {
    let app = provider(&[confidential("grafana")]).await;
    let cookie = signed_in(&app, "ivan").await;
    let (_, challenge) = pkce();
    let mut near_misses: Vec<String> = [
        "https://APP.example.com/callback",
        "https://app.example.com/Callback",
        "https://app.example.com/callback/",
        "https://app.example.com/callback?x=1",
        "https://app.example.com/callback#frag",
        "https://user@app.example.com/callback",
        "https://app.example.com.evil.net/callback",
        "https://app.example.com:443/callback",
        "http://app.example.com/callback",
        "https://app.example.com/callback/../callback",
        "https://app.example.com/callbackx",
        "https://app.example.com/callback%2F",
        " https://app.example.com/callback",
        "https://app.example.com/callback ",
        "https://evil.example.net/callback",
        "//app.example.com/callback",
    ]
    .map(str::to_owned)
    .to_vec();
    if let Some(dir) = crate::attacks::payload_dir() {
        let corpus = dir.join("payloadsallthethings/open-redirect");
        for file in std::fs::read_dir(&corpus).unwrap() {
            let text = std::fs::read_to_string(file.unwrap().path()).unwrap_or_default();
            near_misses.extend(
                text.lines()
                    .filter(|l| !l.trim().is_empty())
                    .take(400)
                    .map(str::to_owned),
            );
        }
    }
    let mut tried = 0;
    for uri in &near_misses {
        for (cookie, prompt) in [(Some(cookie.as_str()), None), (None, Some("none"))] {
            let mut params = code_params("grafana", &challenge);
            params.retain(|(k, _)| *k != "redirect_uri");
            params.push(("redirect_uri", uri));
            if let Some(prompt) = prompt {
                params.push(("prompt", prompt));
            }
            let reply = authorize(&app, cookie, &params).await;
            assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{uri:?}");
            assert!(location(&reply).is_none(), "{uri:?} was redirected to");
            assert!(reply.body.contains("has not registered"), "{uri:?}");
            tried += 1;
        }
    }
    eprintln!("{tried} near-miss redirect URIs: none redirected to");
    // An unknown client: a page too, never a redirect.
    let mut params = code_params("nobody", &challenge);
    params.push(("prompt", "none"));
    let reply = authorize(&app, None, &params).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(location(&reply).is_none());
    // Two redirect URIs: ambiguous, refused with a page.
    let mut params = code_params("grafana", &challenge);
    params.push(("redirect_uri", "https://evil.example.net/"));
    let reply = authorize(&app, Some(&cookie), &params).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert!(location(&reply).is_none());
}

/// Implicit and hybrid flows are refused back to the app; so is anything but S256.
#[tokio::test]
async fn only_the_code_flow_with_s256_pkce_is_served() {
    let mut no_pkce = confidential("legacy");
    no_pkce.require_pkce = false;
    let app = provider(&[confidential("grafana"), public("spa"), no_pkce]).await;
    let cookie = signed_in(&app, "judy").await;
    let (verifier, challenge) = pkce();
    let error_of =
        |reply: &Reply| query_of(&location(reply).expect("told to the app"))["error"].clone();
    for response_type in ["token", "id_token", "code id_token", "code token", "none"] {
        let mut params = code_params("grafana", &challenge);
        params.retain(|(k, _)| *k != "response_type");
        params.push(("response_type", response_type));
        let reply = authorize(&app, Some(&cookie), &params).await;
        assert_eq!(
            error_of(&reply),
            "unsupported_response_type",
            "{response_type}"
        );
    }
    for client in ["grafana", "spa"] {
        // No challenge at all.
        let mut params = code_params(client, &challenge);
        params.retain(|(k, _)| !k.starts_with("code_challenge"));
        assert_eq!(
            error_of(&authorize(&app, Some(&cookie), &params).await),
            "invalid_request",
            "{client}"
        );
        // plain, or no method (which means plain).
        for method in [Some("plain"), None] {
            let mut params = code_params(client, &verifier);
            params.retain(|(k, _)| *k != "code_challenge_method");
            if let Some(method) = method {
                params.push(("code_challenge_method", method));
            }
            assert_eq!(
                error_of(&authorize(&app, Some(&cookie), &params).await),
                "invalid_request",
                "{client} {method:?}"
            );
        }
    }
    // A wrong verifier, or none, at the token endpoint.
    let (code, _) = code_for(&app, &cookie, "grafana").await;
    for wrong in ["", "x", &pkce().0] {
        let reply = exchange(&app, "grafana", &code, wrong).await;
        assert_eq!(reply.json()["error"], "invalid_grant", "{wrong:?}");
    }
    // Still unspent: the right verifier works.
    let (right, challenge2) = pkce();
    let answer = authorized(&app, &cookie, &code_params("grafana", &challenge2)).await;
    assert_eq!(
        exchange(&app, "grafana", &answer["code"], &right)
            .await
            .status,
        StatusCode::OK
    );
    // A public client redeems with PKCE alone.
    let (code, verifier) = code_for(&app, &cookie, "spa").await;
    let reply = post_form(
        &app,
        "/oauth2/token",
        None,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", "spa"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", &verifier),
        ],
        "127.0.0.1:40000",
    )
    .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    // A code issued without a challenge, redeemed with a verifier: a downgrade, refused.
    let mut params = code_params("legacy", &challenge);
    params.retain(|(k, _)| !k.starts_with("code_challenge"));
    let answer = authorized(&app, &cookie, &params).await;
    let reply = exchange(&app, "legacy", &answer["code"], &verifier).await;
    assert_eq!(reply.json()["error"], "invalid_grant");
}

/// A code used twice: the second use fails and revokes everything the first gave.
#[tokio::test]
async fn a_replayed_code_revokes_what_the_first_use_issued() {
    let app = provider(&[confidential("grafana")]).await;
    let cookie = signed_in(&app, "kim").await;
    let (code, verifier) = code_for(&app, &cookie, "grafana").await;
    let first = exchange(&app, "grafana", &code, &verifier).await;
    assert_eq!(first.status, StatusCode::OK);
    let first = first.json();
    let access = first["access_token"].as_str().unwrap();
    assert_eq!(userinfo(&app, access).await.status, StatusCode::OK);
    let replay = exchange(&app, "grafana", &code, &verifier).await;
    assert_eq!(replay.status, StatusCode::BAD_REQUEST);
    assert_eq!(replay.json()["error"], "invalid_grant");
    assert_eq!(
        userinfo(&app, access).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(introspect(&app, "grafana", access).await["active"], false);
    assert_eq!(
        refresh(&app, "grafana", first["refresh_token"].as_str().unwrap())
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        app.audit_events_named("oidc_code_replayed").await.unwrap(),
        1
    );
}

/// A code issued to client A, presented by client B: refused, and not spent — A still
/// redeems it.
#[tokio::test]
async fn a_code_is_bound_to_its_client_and_redirect_uri() {
    let app = provider(&[confidential("a"), confidential("b")]).await;
    let cookie = signed_in(&app, "lee").await;
    let (code, verifier) = code_for(&app, &cookie, "a").await;
    let stolen = exchange(&app, "b", &code, &verifier).await;
    assert_eq!(stolen.json()["error"], "invalid_grant");
    let elsewhere = post_form(
        &app,
        "/oauth2/token",
        Some(("a", SECRET)),
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "https://app.example.com/other"),
            ("code_verifier", &verifier),
        ],
        "127.0.0.1:40000",
    )
    .await;
    assert_eq!(elsewhere.json()["error"], "invalid_grant");
    assert_eq!(
        exchange(&app, "a", &code, &verifier).await.status,
        StatusCode::OK
    );
    // Expired after a minute.
    let (code, verifier) = code_for(&app, &cookie, "a").await;
    app.clock.advance(61);
    assert_eq!(
        exchange(&app, "a", &code, &verifier).await.json()["error"],
        "invalid_grant"
    );
}

/// A rotated refresh token presented again revokes the whole family, the newest pair too,
/// and the audit log says so.
#[tokio::test]
async fn a_reused_refresh_token_revokes_the_family() {
    let app = provider(&[confidential("grafana")]).await;
    let cookie = signed_in(&app, "mia").await;
    let (code, verifier) = code_for(&app, &cookie, "grafana").await;
    let first = exchange(&app, "grafana", &code, &verifier).await.json();
    let old = first["refresh_token"].as_str().unwrap();
    let second = refresh(&app, "grafana", old).await.json();
    let reuse = refresh(&app, "grafana", old).await;
    assert_eq!(reuse.json()["error"], "invalid_grant");
    let newest = second["refresh_token"].as_str().unwrap();
    assert_eq!(
        refresh(&app, "grafana", newest).await.json()["error"],
        "invalid_grant"
    );
    assert_eq!(
        introspect(&app, "grafana", second["access_token"].as_str().unwrap()).await["active"],
        false
    );
    assert_eq!(
        app.audit_events_named("oidc_refresh_reused").await.unwrap(),
        1
    );
}

/// The consent form sent from another site is refused by the shield; sent with a stale
/// form token, refused by the page; either way no code.
#[tokio::test]
async fn a_consent_form_posted_cross_site_is_refused() {
    let app = provider(&[confidential("grafana")]).await;
    let cookie = signed_in(&app, "ned").await;
    let (_, challenge) = pkce();
    let page = authorize(&app, Some(&cookie), &code_params("grafana", &challenge)).await;
    let fields = [
        ("csrf", form_token(&page.body)),
        ("request", hidden(&page.body, "request")),
        ("decision", "allow".to_owned()),
    ];
    let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut cross = form("/oauth2/consent", &fields, Some(&cookie), "127.0.0.1:40000");
    cross
        .headers_mut()
        .insert("origin", "https://evil.example.net".parse().unwrap());
    cross
        .headers_mut()
        .insert("sec-fetch-site", "cross-site".parse().unwrap());
    let reply = app.send(cross).await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert!(location(&reply).is_none());
    let mut forged = fields.clone();
    forged[0].1 = "not-a-token";
    let reply = app
        .send(form(
            "/oauth2/consent",
            &forged,
            Some(&cookie),
            "127.0.0.1:40000",
        ))
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert!(location(&reply).is_none());
    let consents: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM oidc_consents")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(consents, 0);
}

/// A password change, a disabled account, an ended session, `user end-sessions`, a
/// support factor reset (the last three with offline tokens, which outlive a session):
/// refresh fails and introspection says inactive at once.
#[tokio::test]
async fn the_end_of_a_sign_in_ends_its_tokens() {
    let app = provider(&[confidential("grafana")]).await;
    the_end_of_a_sign_in_ends_its_tokens_on(&[&app]).await;
}

pub(crate) async fn the_end_of_a_sign_in_ends_its_tokens_on(apps: &[&TestApp]) {
    let (a, b) = (apps[0], apps[apps.len() - 1]);
    let endings = [
        "password",
        "disabled",
        "session",
        "offline-password",
        "offline-end-sessions",
        "offline-factor-reset",
    ];
    for (n, ending) in endings.into_iter().enumerate() {
        let name = format!("user{n}");
        let cookie = signed_in(a, &name).await;
        let (verifier, challenge) = pkce();
        let mut params = code_params("grafana", &challenge);
        if !ending.starts_with("offline") {
            params.retain(|(k, _)| *k != "scope");
            params.push(("scope", "openid profile"));
        }
        let answer = authorized(a, &cookie, &params).await;
        let tokens = exchange(a, "grafana", &answer["code"], &verifier)
            .await
            .json();
        let access = tokens["access_token"].as_str().unwrap();
        let refresh_token = tokens["refresh_token"].as_str().unwrap();
        assert_eq!(
            introspect(b, "grafana", access).await["active"],
            true,
            "{ending}"
        );
        match ending {
            "password" | "offline-password" => {
                let reply = a
                    .json("POST", "/api/v1/password", Some(json!({"current_password": STRONG, "new_password": "another strong passphrase here"})), Some(&cookie))
                    .await;
                assert!(reply.status.is_success(), "{}", reply.body);
            }
            "disabled" => {
                let user = a.user_named(&name).await;
                sqlx::query("UPDATE users SET disabled = 1 WHERE id = $1")
                    .bind(user.id)
                    .execute(&a.db)
                    .await
                    .unwrap();
            }
            "offline-end-sessions" => {
                let admin = palisade_service::admin::Admin::open(&a.config)
                    .await
                    .unwrap();
                admin.end_sessions(&name).await.unwrap();
            }
            "offline-factor-reset" => {
                let admin = palisade_service::admin::Admin::open(&a.config)
                    .await
                    .unwrap();
                admin.reset_second_factors(&name).await.unwrap();
            }
            _ => {
                let reply = a.json("POST", "/api/v1/logout", None, Some(&cookie)).await;
                assert!(reply.status.is_success(), "{}", reply.body);
            }
        }
        // Another instance sees it within a second (its database reads are not cached).
        if apps.len() > 1 {
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        for app in [a, b] {
            assert_eq!(
                introspect(app, "grafana", access).await["active"],
                false,
                "{ending}"
            );
            assert_eq!(
                userinfo(app, access).await.status,
                StatusCode::UNAUTHORIZED,
                "{ending}"
            );
        }
        assert_eq!(
            refresh(b, "grafana", refresh_token).await.json()["error"],
            "invalid_grant",
            "{ending}"
        );
    }
}

/// Forged ID token hints: `alg: none`, HS256 keyed with the public key, a foreign `kid`,
/// another issuer's key — the logout endpoint refuses each, the session stays.
#[tokio::test]
async fn forged_id_token_hints_are_refused() {
    let app = provider(&[confidential("grafana")]).await;
    let cookie = signed_in(&app, "olga").await;
    let (code, verifier) = code_for(&app, &cookie, "grafana").await;
    let tokens = exchange(&app, "grafana", &code, &verifier).await.json();
    let genuine = tokens["id_token"].as_str().unwrap();
    let (header, claims) = decode(genuine);
    let b64 = |v: &serde_json::Value| URL_SAFE_NO_PAD.encode(v.to_string());
    let jwks = app.send(page_get("/oauth2/jwks", None)).await.json();
    let public_text = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == header["kid"])
        .unwrap()
        .to_string();
    let hs256 = {
        use hmac::{KeyInit, Mac};
        let unsigned = format!(
            "{}.{}",
            b64(&json!({"alg": "HS256", "kid": header["kid"]})),
            b64(&claims)
        );
        let mut mac = hmac::Hmac::<Sha256>::new_from_slice(public_text.as_bytes()).unwrap();
        mac.update(unsigned.as_bytes());
        format!(
            "{unsigned}.{}",
            URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
        )
    };
    let foreign = {
        use p256::ecdsa::signature::Signer;
        let key = super::concurrency::random_p256();
        let unsigned = format!(
            "{}.{}",
            b64(&json!({"alg": "ES256", "kid": "attacker"})),
            b64(&claims)
        );
        let signature: p256::ecdsa::Signature = key.sign(unsigned.as_bytes());
        format!(
            "{unsigned}.{}",
            URL_SAFE_NO_PAD.encode(signature.to_bytes())
        )
    };
    let borrowed_kid = foreign.replacen(
        &b64(&json!({"alg": "ES256", "kid": "attacker"})),
        &b64(&json!({"alg": "ES256", "kid": header["kid"]})),
        1,
    );
    let none = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "kid": header["kid"]})),
        b64(&claims)
    );
    for (name, hint) in [
        ("none", none),
        ("hs256", hs256),
        ("foreign kid", foreign),
        ("borrowed kid", borrowed_kid),
    ] {
        let reply = app
            .send(page_get(
                &format!(
                    "/oauth2/logout?{}",
                    query_string(&[
                        ("id_token_hint", &hint),
                        (
                            "post_logout_redirect_uri",
                            "https://app.example.com/signed-out"
                        )
                    ])
                ),
                Some(&cookie),
            ))
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{name}");
        assert!(location(&reply).is_none(), "{name}");
        assert_eq!(
            app.json("GET", "/api/v1/me", None, Some(&cookie))
                .await
                .status,
            StatusCode::OK,
            "{name}: still signed in"
        );
    }
    // The genuine hint signs out at once and goes back to the app.
    let reply = app
        .send(page_get(
            &format!(
                "/oauth2/logout?{}",
                query_string(&[
                    ("id_token_hint", genuine),
                    (
                        "post_logout_redirect_uri",
                        "https://app.example.com/signed-out"
                    ),
                    ("state", "bye")
                ])
            ),
            Some(&cookie),
        ))
        .await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.body);
    assert_eq!(
        location(&reply).unwrap(),
        "https://app.example.com/signed-out?state=bye"
    );
    assert_eq!(
        app.json("GET", "/api/v1/me", None, Some(&cookie))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
}

/// `private_key_jwt`: an assertion signed by the client's key with its one algorithm, for
/// this provider, current, with a fresh `jti`, authenticates; a replayed `jti`, another
/// audience, an expired or long-lived one, `alg: none`, HS256 keyed with the client's public
/// key, another key (naming the client's `kid` or not) and another client's name do not.
#[tokio::test]
async fn private_key_jwt_assertions_are_checked_strictly() {
    use p256::ecdsa::signature::Signer;
    let key = super::concurrency::random_p256();
    let point = key.verifying_key().to_encoded_point(false);
    let jwk = json!({
        "kty": "EC", "crv": "P-256", "kid": "k1",
        "x": URL_SAFE_NO_PAD.encode(point.x().unwrap()),
        "y": URL_SAFE_NO_PAD.encode(point.y().unwrap()),
    });
    let mut client = ClientSettings::new("keyed", "Keyed");
    client.jwks = Some(json!({"keys": [jwk.clone()]}).to_string());
    client.assertion_alg = Some("ES256".into());
    client.grant_types = Some(vec!["client_credentials".into()]);
    let app = provider(&[client]).await;
    let b64 = |v: &serde_json::Value| URL_SAFE_NO_PAD.encode(v.to_string());
    let sign =
        |key: &p256::ecdsa::SigningKey, header: serde_json::Value, claims: serde_json::Value| {
            let unsigned = format!("{}.{}", b64(&header), b64(&claims));
            let signature: p256::ecdsa::Signature = key.sign(unsigned.as_bytes());
            format!(
                "{unsigned}.{}",
                URL_SAFE_NO_PAD.encode(signature.to_bytes())
            )
        };
    let now = now();
    let claims = |jti: &str| json!({"iss": "keyed", "sub": "keyed", "aud": format!("{ORIGIN}/oauth2/token"), "jti": jti, "iat": now, "exp": now + 60});
    let header = json!({"alg": "ES256", "kid": "k1"});
    let attempt = |assertion: String| {
        let app = &app;
        async move {
            post_form(
                app,
                "/oauth2/token",
                None,
                &[
                    ("grant_type", "client_credentials"),
                    (
                        "client_assertion_type",
                        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                    ),
                    ("client_assertion", &assertion),
                ],
                "127.0.0.1:40000",
            )
            .await
            .status
        }
    };
    assert_eq!(
        attempt(sign(&key, header.clone(), claims("j1"))).await,
        StatusCode::OK
    );
    assert_eq!(
        attempt(sign(&key, header.clone(), claims("j1"))).await,
        StatusCode::UNAUTHORIZED,
        "jti replayed"
    );
    let mut other_aud = claims("j2");
    other_aud["aud"] = json!("https://elsewhere.example.com/token");
    let mut expired = claims("j3");
    expired["exp"] = json!(now - 1);
    let mut long = claims("j4");
    long["exp"] = json!(now + 3600);
    let mut other_client = claims("j5");
    other_client["iss"] = json!("another");
    let stranger = super::concurrency::random_p256();
    let hs256 = {
        use hmac::{KeyInit, Mac};
        let unsigned = format!(
            "{}.{}",
            b64(&json!({"alg": "HS256", "kid": "k1"})),
            b64(&claims("j8"))
        );
        let mut mac = hmac::Hmac::<Sha256>::new_from_slice(jwk.to_string().as_bytes()).unwrap();
        mac.update(unsigned.as_bytes());
        format!(
            "{unsigned}.{}",
            URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
        )
    };
    for (what, assertion) in [
        ("another audience", sign(&key, header.clone(), other_aud)),
        ("expired", sign(&key, header.clone(), expired)),
        ("long-lived", sign(&key, header.clone(), long)),
        (
            "another client as iss",
            sign(&key, header.clone(), other_client),
        ),
        (
            "a stranger's key naming our kid",
            sign(&stranger, header.clone(), claims("j6")),
        ),
        (
            "a stranger's kid",
            sign(
                &stranger,
                json!({"alg": "ES256", "kid": "k2"}),
                claims("j7"),
            ),
        ),
        ("HS256 keyed with the public key", hs256),
        (
            "alg none",
            format!("{}.{}.", b64(&json!({"alg": "none"})), b64(&claims("j9"))),
        ),
    ] {
        assert_eq!(attempt(assertion).await, StatusCode::UNAUTHORIZED, "{what}");
    }
    // Neither a secret nor nothing stands in for the assertion (from another address:
    // this one has failed ten times, and is now held back, as it should be).
    let reply = post_form(
        &app,
        "/oauth2/token",
        Some(("keyed", SECRET)),
        &[("grant_type", "client_credentials")],
        "127.0.0.2:40000",
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    let reply = post_form(
        &app,
        "/oauth2/token",
        None,
        &[("grant_type", "client_credentials"), ("client_id", "keyed")],
        "127.0.0.2:40000",
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
}

/// Made-up client ids (of any length) leave no counters of their own behind — only the
/// address's, which stops the address after 100 failures.
#[tokio::test]
async fn made_up_client_ids_leave_nothing_but_the_address_counter() {
    let app = provider(&[confidential("grafana")]).await;
    let long = "x".repeat(4000);
    for i in 0..101 {
        let id = format!("nobody-{i}-{long}");
        let reply = post_form(
            &app,
            "/oauth2/token",
            Some((&id, "secret")),
            &[("grant_type", "client_credentials")],
            "127.0.0.7:5000",
        )
        .await;
        let expected = if i < 100 {
            StatusCode::UNAUTHORIZED
        } else {
            StatusCode::TOO_MANY_REQUESTS
        };
        assert_eq!(reply.status, expected, "attempt {i}");
    }
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM throttle WHERE key LIKE 'oidc-%'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(rows, 1, "the address's counter only");
}
