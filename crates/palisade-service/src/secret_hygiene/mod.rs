//! No password, token, hash or secret setting reaches `Debug` output: every type that holds
//! one is built here with a marker value and formatted. (The whole-service test of logs and
//! error messages is `tests/service/secret_hygiene.rs`.)

use palisade::secret::SecretString;
use serde_json::json;

use crate::config::{Config, Redacted};

mod oidc;

const MARKER: &str = "Zebra-Marker-7731-Quokka";

fn assert_hidden(what: &str, shown: &str) {
    assert!(!shown.contains(MARKER), "{what} shows the secret: {shown}");
}

#[test]
fn request_types_and_settings_never_print_a_secret() {
    let password = format!("{MARKER} correct horse");
    let requests: Vec<(&str, String)> = vec![
        (
            "RegisterRequest",
            format!(
                "{:?}",
                serde_json::from_value::<crate::accounts::api::RegisterRequest>(
                    json!({"username": "u", "email": "u@example.com", "password": password})
                )
                .unwrap()
            ),
        ),
        (
            "LoginRequest",
            format!(
                "{:?}",
                serde_json::from_value::<crate::accounts::api::LoginRequest>(
                    json!({"identifier": "u", "password": password})
                )
                .unwrap()
            ),
        ),
        (
            "PasswordChangeRequest",
            format!(
                "{:?}",
                serde_json::from_value::<crate::accounts::api::PasswordChangeRequest>(
                    json!({"current_password": password, "new_password": password})
                )
                .unwrap()
            ),
        ),
        (
            "EndSessionRequest",
            format!(
                "{:?}",
                serde_json::from_value::<crate::accounts::api::EndSessionRequest>(
                    json!({"password": password})
                )
                .unwrap()
            ),
        ),
        (
            "RevealRequest",
            format!(
                "{:?}",
                serde_json::from_value::<crate::vault::api::RevealRequest>(
                    json!({"password": password})
                )
                .unwrap()
            ),
        ),
        (
            "PutSecret",
            format!(
                "{:?}",
                serde_json::from_value::<crate::vault::api::PutSecret>(json!({"value": password}))
                    .unwrap()
            ),
        ),
        (
            "CreateToken",
            format!(
                "{:?}",
                serde_json::from_value::<crate::api_tokens::api::CreateToken>(
                    json!({"name": "ci", "password": password})
                )
                .unwrap()
            ),
        ),
        (
            "AddFactorRequest",
            format!(
                "{:?}",
                serde_json::from_value::<crate::mfa::api::AddFactorRequest>(
                    json!({"name": "phone", "password": password, "code": MARKER, "recovery_code": MARKER})
                )
                .unwrap()
            ),
        ),
        (
            "ChangeProofs",
            format!(
                "{:?}",
                serde_json::from_value::<crate::mfa::api::ChangeProofs>(
                    json!({"password": password, "code": MARKER, "recovery_code": MARKER})
                )
                .unwrap()
            ),
        ),
        (
            "ConfirmRequest",
            format!(
                "{:?}",
                serde_json::from_value::<crate::mfa::api::ConfirmRequest>(json!({"code": MARKER}))
                    .unwrap()
            ),
        ),
        (
            "SecondStepRequest",
            format!(
                "{:?}",
                serde_json::from_value::<crate::mfa::api::SecondStepRequest>(
                    json!({"code": MARKER, "recovery_code": MARKER})
                )
                .unwrap()
            ),
        ),
        (
            "Proof",
            format!(
                "{:?} {:?}",
                crate::mfa::Proof::Totp(SecretString::new(MARKER.into())),
                crate::mfa::Proof::RecoveryCode(SecretString::new(MARKER.into()))
            ),
        ),
        (
            "TotpEnrolment",
            format!(
                "{:?}",
                crate::mfa::authenticator_app::TotpEnrolment {
                    id: "f".into(),
                    secret: SecretString::new(MARKER.into()),
                    uri: SecretString::new(MARKER.into()),
                    qr_svg: SecretString::new(MARKER.into()),
                    reissued: None,
                    replaced: None,
                }
            ),
        ),
        (
            "SealedTotp",
            format!(
                "{:?}",
                crate::store::SealedTotp {
                    id: "f".into(),
                    secret_sealed: MARKER.into(),
                    last_step: None,
                }
            ),
        ),
        (
            "StoredRecoveryCode",
            format!(
                "{:?}",
                crate::store::StoredRecoveryCode {
                    selector: "abcd".into(),
                    code_hash: MARKER.into(),
                }
            ),
        ),
        (
            "ResetCompletion",
            format!(
                "{:?}",
                serde_json::from_value::<crate::recovery::api::ResetCompletion>(json!({
                    "token": MARKER, "new_password": password, "code": MARKER, "recovery_code": MARKER
                }))
                .unwrap()
            ),
        ),
        (
            "ResetToken",
            format!(
                "{:?}",
                serde_json::from_value::<crate::recovery::api::ResetToken>(json!({"token": MARKER}))
                    .unwrap()
            ),
        ),
        (
            "EmailChangeRequest",
            format!(
                "{:?}",
                serde_json::from_value::<crate::accounts::email_api::EmailChangeRequest>(
                    json!({"new_email": "n@example.com", "password": password})
                )
                .unwrap()
            ),
        ),
        (
            "EmailConfirmRequest",
            format!(
                "{:?}",
                serde_json::from_value::<crate::accounts::email_api::EmailConfirmRequest>(
                    json!({"token": MARKER})
                )
                .unwrap()
            ),
        ),
        (
            "NewMail (its sealed bodies hold a link)",
            format!(
                "{:?}",
                crate::store::NewMail {
                    id: "m".into(),
                    user_id: Some(1),
                    kind: "password_reset",
                    recipient: "u@example.com".into(),
                    subject: "s".into(),
                    sealed: MARKER.into(),
                    key_id: "k".into(),
                    created_at: 0,
                    discard_after: 0,
                }
            ),
        ),
        (
            "StoredHash",
            format!(
                "{:?}",
                crate::store::StoredHash::from(format!("$pepper$1${MARKER}"))
            ),
        ),
        (
            "SecretString",
            format!(
                "{:?} {}",
                SecretString::new(password.clone()),
                SecretString::new(password.clone())
            ),
        ),
    ];
    for (what, shown) in &requests {
        assert_hidden(what, shown);
        assert!(shown.contains("redacted"), "{what}: {shown}");
    }
    let config = Config {
        database_url: Some(Redacted::new(format!(
            "postgres://app:{MARKER}@db.example.com/app"
        ))),
        metrics_token: Some(Redacted::new(MARKER.into())),
        legacy_bcrypt_pepper: Some(Redacted::new(MARKER.into())),
        database_password_token: Some(Redacted::new(MARKER.into())),
        smtp_password_token: Some(Redacted::new(MARKER.into())),
        oidc: crate::oidc::OidcSettings {
            clients: vec![crate::oidc::ClientSettings {
                secret_sha256: Some(Redacted::new(MARKER.into())),
                ..crate::oidc::ClientSettings::new("app", "App")
            }],
            ..Default::default()
        },
        ..Config::default()
    };
    assert_hidden("Config", &format!("{config:?}"));
    assert_hidden("Config (pretty)", &format!("{config:#?}"));
    // Secret settings cannot be written out through serde either.
    assert!(serde_json::to_string(&config).is_err());
}

#[test]
fn the_smtp_transport_never_prints_its_password() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("smtp-password");
    std::fs::write(&file, MARKER).unwrap();
    std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    let config = Config {
        smtp_host: Some("mail.example.com".into()),
        smtp_username: Some("palisade".into()),
        smtp_password_file: Some(file),
        mail_from: Some("a@example.com".into()),
        ..Config::default()
    };
    let transport = crate::mail::Transport::from_config(&config).unwrap();
    assert_hidden(
        "Transport",
        &format!("{transport:?} {}", transport.describe()),
    );
}

#[test]
fn tokens_sessions_and_user_rows_never_print_a_secret() {
    let token = crate::sessions::IssuedToken::generate().unwrap();
    let user = crate::store::UserRow {
        id: 1,
        username: "u".into(),
        email: "u@example.com".into(),
        display_name: None,
        disabled: 0,
        created_at: 0,
        email_verified_at: None,
    };
    let session = crate::store::SessionRow {
        id: "s".into(),
        user_id: 1,
        created_at: 0,
        last_seen_at: 0,
        last_auth_at: 0,
        expires_at: 0,
        client_addr: "127.0.0.1".into(),
        user_agent: "tests".into(),
        second_factor: 0,
    };
    let hash = crate::store::StoredHash::from(format!("$pepper$1${MARKER}"));
    let shown = format!("{:?}", (&token, &session, &user, &hash));
    assert!(!token.expose(|t| shown.contains(t)), "{shown}");
    assert_hidden("a user row and its hash", &shown);
    let presented = token.expose(|t| {
        let request = http::Request::builder()
            .header(http::header::AUTHORIZATION, format!("Bearer {t}"))
            .body(())
            .unwrap();
        let (parts, ()) = request.into_parts();
        crate::sessions::PresentedToken::from_parts(&parts).unwrap()
    });
    let shown = format!("{presented:?}");
    assert!(!token.expose(|t| shown.contains(t)), "{shown}");
    let auth = crate::sessions::Authenticated {
        session: std::sync::Arc::new(session),
        user: std::sync::Arc::new(user),
    };
    assert_hidden("an authenticated request", &format!("{auth:?}"));
    let api_token = crate::sessions::IssuedToken::generate_with_prefix("palisade_at_").unwrap();
    let created = crate::api_tokens::Created {
        token: api_token,
        row: crate::store::ApiTokenRow {
            id: "t".into(),
            name: "ci".into(),
            created_at: 0,
            expires_at: None,
            last_used_at: None,
            scope: String::new(),
        },
        reissued: Some(token),
    };
    let shown = format!("{created:?}");
    for secret in [&created.token, created.reissued.as_ref().unwrap()] {
        assert!(!secret.expose(|t| shown.contains(t)), "{shown}");
    }
}
