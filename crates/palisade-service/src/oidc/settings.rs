//! `[oidc]` and `[[oidc.clients]]` as written: plain data, read by serde (from the
//! configuration file, or as JSON from the database for clients made with `palisade oidc
//! client add`) and compiled by `clients` into a form that cannot be misread.

use serde::{Deserialize, Serialize};

use crate::authz::OneOrMany;
use crate::config::Redacted;

/// `[oidc]`: the OpenID Connect provider, on when any client is configured or stored.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OidcSettings {
    /// Apps that sign in with palisade.
    pub clients: Vec<ClientSettings>,
    /// Lifetime of access tokens (JWTs resource servers check alone), minutes.
    pub access_token_minutes: u64,
    /// Lifetime of ID tokens, minutes.
    pub id_token_minutes: u64,
    /// Lifetime of a refresh token (each use gives a new one), days.
    pub refresh_token_days: u64,
    /// A new signing key every this many days; the old one stays published until every
    /// token it signed has expired.
    pub signing_key_rotation_days: u64,
}

impl Default for OidcSettings {
    fn default() -> Self {
        Self {
            clients: Vec::new(),
            access_token_minutes: 10,
            id_token_minutes: 10,
            refresh_token_days: 30,
            signing_key_rotation_days: 30,
        }
    }
}

/// One `[[oidc.clients]]` entry as written (and a stored client's settings).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientSettings {
    /// The `client_id`.
    pub id: String,
    /// The app's name, shown on the consent page.
    pub name: String,
    /// A public client (a single-page or native app) holds no secret: it proves nothing
    /// but PKCE.
    #[serde(default)]
    pub public: bool,
    /// Confidential clients from the configuration file: the SHA-256 (hex) of the secret,
    /// as `palisade oidc secret` prints it. Stored clients keep theirs in the database.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret_sha256: Option<Redacted>,
    /// Where codes may be sent: each compared byte for byte.
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// Where a logout may send the browser back to, compared byte for byte.
    #[serde(default)]
    pub post_logout_redirect_uris: Vec<String>,
    /// Back-channel logout: where a signed logout token is posted when a session ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backchannel_logout_uri: Option<String>,
    /// `authorization_code`, `refresh_token`, `client_credentials` (the first two when
    /// not given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant_types: Option<Vec<String>>,
    /// The scopes it may ask for (`openid profile email groups offline_access` when not
    /// given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scopes: Option<Vec<String>>,
    /// Access tokens' lifetime for this client, minutes (`[oidc]`'s when not given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token_minutes: Option<u64>,
    /// Refresh tokens' lifetime for this client, days.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token_days: Option<u64>,
    /// An app of the site itself: no consent page.
    #[serde(default)]
    pub first_party: bool,
    /// `RS256` (the default, which every OIDC library takes), `ES256` or `EdDSA`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_alg: Option<String>,
    /// PKCE for a confidential client (always for a public one): on unless `false`.
    #[serde(default = "yes")]
    pub require_pkce: bool,
    /// `public` (one `sub` per user for every app) or `pairwise` (a different one per app,
    /// so apps cannot match their users).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject_type: Option<String>,
    /// `private_key_jwt`: the client's public keys (a JWKS, as JSON text); the client then
    /// authenticates with assertions signed by them, never with a secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks: Option<String>,
    /// The one algorithm its assertions may use (`ES256`, `RS256` or `EdDSA`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assertion_alg: Option<String>,
    /// Who may sign in to it: `user:NAME` or `group:NAME`, any of them (anyone when empty)
    /// — the forward-auth rules' vocabulary.
    #[serde(default)]
    pub subject: OneOrMany,
    /// `authenticated` (the default) or `two_factor`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<String>,
}

fn yes() -> bool {
    true
}

impl ClientSettings {
    /// A client with nothing but its id and name (for `palisade oidc client add`).
    pub fn new(id: &str, name: &str) -> Self {
        Self {
            id: id.to_owned(),
            name: name.to_owned(),
            public: false,
            secret_sha256: None,
            redirect_uris: Vec::new(),
            post_logout_redirect_uris: Vec::new(),
            backchannel_logout_uri: None,
            grant_types: None,
            scopes: None,
            access_token_minutes: None,
            refresh_token_days: None,
            first_party: false,
            signing_alg: None,
            require_pkce: true,
            subject_type: None,
            jwks: None,
            assertion_alg: None,
            subject: OneOrMany::default(),
            policy: None,
        }
    }
}
