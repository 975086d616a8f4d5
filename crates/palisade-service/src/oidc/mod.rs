//! The OpenID Connect provider: apps that speak OpenID Connect (Grafana, Gitea, Nextcloud,
//! any OAuth library) sign their users in with palisade.
//!
//! `settings` is `[oidc]` as written and `clients` compiles it; `jwt` signs and checks
//! tokens (ring), `signing` keeps the rotating key set; `tokens` makes ID and access
//! tokens; the endpoints each have a file: `discovery` (metadata, JWKS), `authorize` (the
//! front channel, with `request` reading an authorization request and `consent` the page),
//! `token` (with `client_auth`), `userinfo`, `introspect` (introspection and revocation),
//! `logout` (RP-initiated) and `backchannel` (the logout tokens' queue and worker).

pub(crate) mod api;
pub(crate) mod apps;
mod authorize;
mod backchannel;
mod client_auth;
mod clients;
mod consent;
pub(crate) mod discovery;
mod error;
pub(crate) mod introspect;
mod jwt;
mod logout;
mod registry;
mod request;
mod settings;
mod signing;
pub(crate) mod token;
mod tokens;
pub(crate) mod userinfo;
mod verified;

pub(crate) use backchannel::spawn_worker;
pub(crate) use clients::{Client, Clients, SiteRequirements, compile as compile_client};
pub use registry::{ClientSummary, new_client_secret};
pub use settings::{ClientSettings, OidcSettings};
pub(crate) use signing::SigningKeys;
pub(crate) use signing::signing_key_aad;
#[cfg(test)]
pub(crate) use tokens::TokenResponse;

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::clock::Clock;
use crate::error::AppError;
use crate::sessions::random_bytes;
use crate::store::Store;

/// The provider: its clients, keys, and what it needs to issue tokens.
pub(crate) struct Oidc {
    /// `public_origin`: the `iss` of every token, and the base of every endpoint.
    pub(crate) issuer: String,
    /// Shown on the provider's pages.
    pub(crate) site: Arc<crate::web::Site>,
    pub(crate) clients: Clients,
    pub(crate) keys: signing::SigningKeys,
    pub(crate) store: Store,
    pub(crate) clock: Clock,
    pub(crate) id_token_secs: i64,
    /// Sessions idle this long are over (their grants with them).
    pub(crate) idle_secs: i64,
    pairwise_salt: tokio::sync::OnceCell<String>,
    /// Access tokens checked lately (UserInfo's hot path).
    verified: verified::VerifiedTokens,
    /// For back-channel logout deliveries.
    pub(crate) http: reqwest::Client,
}

impl Oidc {
    pub(crate) fn new(
        config: &crate::config::Config,
        store: Store,
        clock: Clock,
        keyring: Arc<palisade::secret::Keyring>,
        site: Arc<crate::web::Site>,
    ) -> Result<Self, String> {
        let requirements = SiteRequirements {
            second_factor: config.require_second_factor,
            verified_email: config.require_verified_email,
        };
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(std::time::Duration::from_secs(10))
            .build()
            .map_err(|e| format!("back-channel client: {e}"))?;
        Ok(Self {
            issuer: config.origin(),
            site,
            clients: Clients::new(&config.oidc, requirements, store.clone())
                .map_err(|e| format!("configuration: {e}"))?,
            keys: signing::SigningKeys::new(
                store.clone(),
                keyring,
                clock.clone(),
                config.oidc.signing_key_rotation_days,
            ),
            store,
            clock,
            id_token_secs: (config.oidc.id_token_minutes * 60) as i64,
            idle_secs: (config.session_idle_minutes * 60) as i64,
            pairwise_salt: tokio::sync::OnceCell::new(),
            verified: verified::VerifiedTokens::default(),
            http,
        })
    }

    /// An endpoint's URL.
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.issuer)
    }

    /// The `sub` `client` knows the user by: their stable random subject, or — for a
    /// pairwise client — a value derived from it and the client, which no other client
    /// can match.
    pub(crate) async fn subject(&self, client: &Client, user_id: i64) -> Result<String, AppError> {
        let subject = self.store.subject_of(user_id, &random_id()?).await?;
        if !client.pairwise {
            return Ok(subject);
        }
        let salt = self
            .pairwise_salt
            .get_or_try_init(|| async {
                let fresh = random_id()?;
                Ok::<_, AppError>(self.store.oidc_setting("pairwise_salt", &fresh).await?)
            })
            .await?;
        let mut h = Sha256::new();
        for part in [salt.as_str(), client.id.as_str(), subject.as_str()] {
            h.update(part.as_bytes());
            h.update([0]);
        }
        Ok(URL_SAFE_NO_PAD.encode(&h.finalize()[..20]))
    }

    /// The idle cutoff at `now`: sessions not used since are over.
    pub(crate) fn idle_cutoff(&self, now: i64) -> i64 {
        now - self.idle_secs
    }
}

/// What the fuzz targets reach (`crate::fuzzing`).
pub(crate) mod fuzzing {
    pub(crate) use super::jwt::PublicKey;
    use super::jwt::{Alg, SigningKey};

    /// An ES256 and an EdDSA key, and a token each signs.
    pub(crate) fn fixture() -> (Vec<PublicKey>, Vec<String>) {
        let mut keys = Vec::new();
        let mut tokens = Vec::new();
        for alg in [Alg::Es256, Alg::EdDsa] {
            let der = SigningKey::generate(alg).expect("a key");
            let key = SigningKey::from_pkcs8(alg, &der).expect("the key reads");
            keys.push(PublicKey::from_jwk(&key.public_jwk(), alg).expect("its public part"));
            let claims = serde_json::json!({"iss": "https://accounts.example.com", "sub": "s"});
            tokens.push(key.sign("JWT", &claims).expect("signed"));
        }
        (keys, tokens)
    }

    /// Whether `token` verifies with its header's algorithm (one of palisade's).
    pub(crate) fn verifies(token: &str, keys: &[PublicKey]) -> bool {
        super::jwt::header_alg(token)
            .is_some_and(|alg| super::jwt::verify(token, keys, alg).is_ok())
    }
}

/// 128 random bits, base64url (ids of grants and subjects).
pub(crate) fn random_id() -> Result<String, AppError> {
    Ok(URL_SAFE_NO_PAD.encode(random_bytes::<16>()?))
}

/// 256 random bits, base64url (codes, refresh tokens, client secrets).
pub(crate) fn random_secret() -> Result<String, AppError> {
    Ok(URL_SAFE_NO_PAD.encode(random_bytes::<32>()?))
}

/// SHA-256 of a presented secret, hex (what is stored).
pub(crate) fn secret_hash(secret: &str) -> String {
    crate::sessions::hex(&Sha256::digest(secret.as_bytes()))
}

/// The `sid` an app sees for a session: derived from the session's id, which it never
/// sees.
pub(crate) fn sid_of(session_id: &str) -> String {
    let mut h = Sha256::new();
    h.update(b"palisade oidc sid\0");
    h.update(session_id.as_bytes());
    URL_SAFE_NO_PAD.encode(&h.finalize()[..16])
}
