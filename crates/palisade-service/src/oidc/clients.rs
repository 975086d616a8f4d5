//! The provider's clients, compiled: every field checked once (at start for the
//! configuration file's, at each lookup for stored ones), so a handler never reads a raw
//! setting. An error names the client and the field.

use std::collections::HashMap;
use std::sync::Arc;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

mod compile;

pub(crate) use compile::{SiteRequirements, compile, is_client_id};

use super::jwt::{Alg, PublicKey};
use super::settings::{ClientSettings, OidcSettings};
use crate::authz::{Identity, Outcome, Policy, Subject};
use crate::store::{Store, StoreError, StoredClient};

/// Scopes the provider knows.
pub(crate) const SCOPES: [&str; 5] = ["openid", "profile", "email", "groups", "offline_access"];
/// Longest access-token lifetime a client may set (the signing keys outlive it).
const MAX_ACCESS_MINUTES: u64 = 1440;

/// How a client proves itself at the token endpoint.
#[derive(Clone)]
pub(crate) enum ClientAuth {
    /// A public client: nothing (PKCE protects its codes).
    None,
    /// `client_secret_basic` or `client_secret_post`: the SHA-256 of its secret.
    Secret([u8; 32]),
    /// `private_key_jwt`: assertions signed with one of its keys, with `alg` only.
    PrivateKeyJwt { keys: Vec<PublicKey>, alg: Alg },
    /// A stored confidential client whose secret was never set (cannot authenticate).
    Unusable,
}

impl std::fmt::Debug for ClientAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::None => "None",
            Self::Secret(_) => "Secret([redacted])",
            Self::PrivateKeyJwt { .. } => "PrivateKeyJwt",
            Self::Unusable => "Unusable",
        })
    }
}

/// A client, ready to use.
#[derive(Debug, Clone)]
pub(crate) struct Client {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) auth: ClientAuth,
    pub(crate) redirect_uris: Vec<String>,
    pub(crate) post_logout_redirect_uris: Vec<String>,
    pub(crate) backchannel_logout_uri: Option<String>,
    pub(crate) code_grant: bool,
    pub(crate) refresh_grant: bool,
    pub(crate) client_credentials_grant: bool,
    pub(crate) scopes: Vec<String>,
    pub(crate) access_token_secs: i64,
    pub(crate) refresh_token_secs: i64,
    pub(crate) first_party: bool,
    pub(crate) signing_alg: Alg,
    pub(crate) require_pkce: bool,
    pub(crate) pairwise: bool,
    subjects: Vec<Subject>,
    policy: Policy,
    require_second_factor: bool,
    require_verified_email: bool,
}

impl Client {
    /// Whether `secret` is this client's (constant time).
    pub(crate) fn secret_matches(&self, secret: &str) -> bool {
        match &self.auth {
            ClientAuth::Secret(hash) => {
                bool::from(Sha256::digest(secret.as_bytes()).as_slice().ct_eq(hash))
            }
            _ => false,
        }
    }

    /// Whether `who` may sign in to this client: its `subject` and `policy`, applied by the
    /// forward-auth rules' own code.
    pub(crate) fn admits(&self, who: Identity<'_>) -> bool {
        (self.subjects.is_empty() || crate::authz::subjects_match(&self.subjects, who))
            && crate::authz::policy_outcome(
                self.policy,
                Some(who),
                self.require_second_factor,
                self.require_verified_email,
            ) == Outcome::Allow
    }

    /// Whether the policy asks for a second factor (said on the refusal page).
    pub(crate) fn wants_second_factor(&self) -> bool {
        self.policy == Policy::TwoFactor
    }

    /// Whether the client's groups need reading to decide.
    pub(crate) fn uses_groups(&self) -> bool {
        self.subjects.iter().any(|s| matches!(s, Subject::Group(_)))
    }

    /// The one registered redirect URI equal to `uri`, byte for byte.
    pub(crate) fn redirect_uri(&self, uri: &str) -> Option<&str> {
        self.redirect_uris
            .iter()
            .find(|r| r.as_bytes() == uri.as_bytes())
            .map(String::as_str)
    }

    /// The one registered post-logout URI equal to `uri`, byte for byte.
    pub(crate) fn post_logout_redirect_uri(&self, uri: &str) -> Option<&str> {
        self.post_logout_redirect_uris
            .iter()
            .find(|r| r.as_bytes() == uri.as_bytes())
            .map(String::as_str)
    }
}

/// Every client: the configuration file's, compiled at start, then the database's.
pub(crate) struct Clients {
    configured: HashMap<String, Arc<Client>>,
    pub(super) defaults: OidcSettings,
    pub(super) site: SiteRequirements,
    pub(super) store: Store,
}

impl Clients {
    /// Checks `[oidc]` alone (for `Config::check`).
    pub(crate) fn compile_config(
        settings: &OidcSettings,
        require_second_factor: bool,
        require_verified_email: bool,
    ) -> Result<HashMap<String, Arc<Client>>, String> {
        let site = SiteRequirements {
            second_factor: require_second_factor,
            verified_email: require_verified_email,
        };
        let mut clients = HashMap::new();
        for (i, c) in settings.clients.iter().enumerate() {
            let client = compile(c, None, settings, site, &format!("oidc.clients[{i}]"))?;
            if clients
                .insert(client.id.clone(), Arc::new(client))
                .is_some()
            {
                return Err(format!("oidc.clients[{i}].id: {:?} is given twice", c.id));
            }
        }
        for (name, value) in [
            ("access_token_minutes", settings.access_token_minutes),
            ("id_token_minutes", settings.id_token_minutes),
        ] {
            if value == 0 || value > MAX_ACCESS_MINUTES {
                return Err(format!("oidc.{name}: from 1 to {MAX_ACCESS_MINUTES}"));
            }
        }
        if settings.refresh_token_days == 0 || settings.signing_key_rotation_days == 0 {
            return Err(
                "oidc.refresh_token_days and oidc.signing_key_rotation_days must be at least 1"
                    .into(),
            );
        }
        Ok(clients)
    }

    pub(crate) fn new(
        settings: &OidcSettings,
        site: SiteRequirements,
        store: Store,
    ) -> Result<Self, String> {
        Ok(Self {
            configured: Self::compile_config(settings, site.second_factor, site.verified_email)?,
            defaults: settings.clone(),
            site,
            store,
        })
    }

    /// The client `id`, if there is one (a stored client that no longer compiles is
    /// logged and treated as absent).
    pub(crate) async fn get(&self, id: &str) -> Result<Option<Arc<Client>>, StoreError> {
        if let Some(client) = self.configured.get(id) {
            return Ok(Some(client.clone()));
        }
        if !is_client_id(id) {
            return Ok(None);
        }
        let Some(stored) = self.store.stored_client(id).await? else {
            return Ok(None);
        };
        Ok(self.compile_stored(&stored).map(Arc::new))
    }

    fn compile_stored(&self, stored: &StoredClient) -> Option<Client> {
        let compiled = serde_json::from_str::<ClientSettings>(&stored.settings)
            .map_err(|e| e.to_string())
            .and_then(|settings| {
                compile(
                    &settings,
                    stored.secret_hash.as_deref(),
                    &self.defaults,
                    self.site,
                    "stored client",
                )
            });
        match compiled {
            Ok(client) => Some(client),
            Err(e) => {
                tracing::error!(client = %stored.id, error = %e, "a stored OpenID client cannot be read");
                None
            }
        }
    }

    /// Whether `id` is a client of the configuration file.
    pub(crate) fn is_configured(&self, id: &str) -> bool {
        self.configured.contains_key(id)
    }

    /// Every client: the configuration file's first, then the stored ones.
    pub(crate) async fn all(&self) -> Result<Vec<Arc<Client>>, StoreError> {
        let mut all: Vec<Arc<Client>> = self.configured.values().cloned().collect();
        all.sort_by(|a, b| a.id.cmp(&b.id));
        for stored in self.store.stored_clients().await? {
            if !self.configured.contains_key(&stored.id)
                && let Some(client) = self.compile_stored(&stored)
            {
                all.push(Arc::new(client));
            }
        }
        Ok(all)
    }

    /// Whether any client exists (the provider then keeps its keys rotated).
    pub(crate) async fn any(&self) -> Result<bool, StoreError> {
        Ok(!self.configured.is_empty() || !self.store.stored_clients().await?.is_empty())
    }
}
