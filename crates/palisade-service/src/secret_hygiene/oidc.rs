//! The OpenID provider's secrets never reach `Debug` output.

use super::{MARKER, assert_hidden};
use crate::config::Redacted;

/// The provider's secrets: a client's secret hash (compiled), tokens in a token answer,
/// stored signing keys and codes.
#[test]
fn the_providers_clients_tokens_and_keys_never_print_a_secret() {
    let hex = crate::oidc::secret_hash(MARKER);
    let settings = crate::oidc::ClientSettings {
        secret_sha256: Some(Redacted::new(hex.clone())),
        redirect_uris: vec!["https://app.example.com/cb".into()],
        ..crate::oidc::ClientSettings::new("app", "App")
    };
    let client = crate::oidc::compile_client(
        &settings,
        None,
        &crate::oidc::OidcSettings::default(),
        crate::oidc::SiteRequirements {
            second_factor: false,
            verified_email: false,
        },
        "client",
    )
    .unwrap();
    let shown = format!("{client:?} {settings:?}");
    assert!(!shown.contains(&hex), "{shown}");
    let response = crate::oidc::TokenResponse {
        access_token: MARKER.into(),
        token_type: "Bearer",
        expires_in: 600,
        scope: "openid".into(),
        id_token: Some(MARKER.into()),
        refresh_token: Some(MARKER.into()),
    };
    assert_hidden("TokenResponse", &format!("{response:?}"));
    let key = crate::store::StoredSigningKey {
        kid: "k".into(),
        alg: "ES256".into(),
        generation: 1,
        private_sealed: MARKER.into(),
        public_jwk: "{}".into(),
        created_at: 0,
        signs_from: 0,
        retire_at: None,
    };
    assert_hidden("StoredSigningKey", &format!("{key:?}"));
    let code = crate::store::CodeRow {
        grant_id: "g".into(),
        redirect_uri: "https://app.example.com/cb".into(),
        code_challenge: Some(MARKER.into()),
        nonce: Some(MARKER.into()),
        expires_at: 0,
        used_at: None,
    };
    assert_hidden("CodeRow", &format!("{code:?}"));
    let stored = crate::store::StoredClient {
        id: "app".into(),
        secret_hash: Some(MARKER.into()),
        settings: "{}".into(),
        created_at: 0,
        updated_at: 0,
    };
    assert_hidden("StoredClient", &format!("{stored:?}"));
}
