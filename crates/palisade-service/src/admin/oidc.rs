//! The OpenID provider's clients made from the command line (stored in the database, so
//! every instance sees them), and the signing keys' forced rotation.

use palisade::secret::SecretString;

use super::Admin;
use crate::oidc::{ClientSettings, Clients, SiteRequirements};
use crate::store::StoredClient;

/// A client as listed (never its secret).
#[derive(Debug, Clone)]
pub struct ClientSummary {
    /// Its settings (as `[[oidc.clients]]` would hold them, without a secret).
    pub settings: ClientSettings,
    /// `configuration file` or `database`.
    pub source: &'static str,
    /// Whether it proves itself with a secret.
    pub has_secret: bool,
}

/// A new 256-bit client secret and its SHA-256 (hex), for a configuration file's
/// `secret_sha256`.
pub fn new_client_secret() -> Result<(SecretString, String), String> {
    let secret = crate::oidc::random_secret().map_err(|e| e.to_string())?;
    let hash = crate::oidc::secret_hash(&secret);
    Ok((SecretString::new(secret), hash))
}

impl Admin {
    fn clients(&self) -> Result<Clients, String> {
        Clients::new(
            &self.config.oidc,
            SiteRequirements {
                second_factor: self.config.require_second_factor,
                verified_email: self.config.require_verified_email,
            },
            self.store.clone(),
        )
        .map_err(|e| format!("configuration: {e}"))
    }

    /// Every client: the configuration file's, then the database's.
    pub async fn oidc_clients(&self) -> Result<Vec<ClientSummary>, String> {
        let mut all: Vec<ClientSummary> = self
            .config
            .oidc
            .clients
            .iter()
            .map(|c| ClientSummary {
                has_secret: c.secret_sha256.is_some(),
                settings: ClientSettings {
                    secret_sha256: None,
                    ..c.clone()
                },
                source: "configuration file",
            })
            .collect();
        for stored in self
            .store
            .stored_clients()
            .await
            .map_err(|e| e.to_string())?
        {
            let settings: ClientSettings = serde_json::from_str(&stored.settings)
                .map_err(|e| format!("stored client {}: {e}", stored.id))?;
            all.push(ClientSummary {
                has_secret: stored.secret_hash.is_some(),
                settings,
                source: "database",
            });
        }
        Ok(all)
    }

    /// One client.
    pub async fn oidc_client(&self, id: &str) -> Result<ClientSummary, String> {
        self.oidc_clients()
            .await?
            .into_iter()
            .find(|c| c.settings.id == id)
            .ok_or_else(|| format!("no client {id:?}"))
    }

    /// Stores a new client, checked as the configuration file's are; a confidential
    /// client without keys gets a secret, returned once (only its SHA-256 is kept).
    pub async fn add_oidc_client(
        &self,
        settings: ClientSettings,
    ) -> Result<Option<SecretString>, String> {
        if settings.secret_sha256.is_some() {
            return Err(
                "a stored client's secret is made by palisade: leave secret_sha256 out".into(),
            );
        }
        let clients = self.clients()?;
        if clients.is_configured(&settings.id) {
            return Err(format!(
                "client id {:?} is in the configuration file already",
                settings.id
            ));
        }
        let wants_secret = !settings.public && settings.jwks.is_none();
        let secret = if wants_secret {
            Some(new_client_secret()?)
        } else {
            None
        };
        // Checked exactly as it will be read back.
        crate::oidc::compile_client(
            &settings,
            secret.as_ref().map(|(_, hash)| hash.as_str()),
            &self.config.oidc,
            SiteRequirements {
                second_factor: self.config.require_second_factor,
                verified_email: self.config.require_verified_email,
            },
            "client",
        )?;
        let now = crate::clock::system_now();
        let row = StoredClient {
            id: settings.id.clone(),
            secret_hash: secret.as_ref().map(|(_, hash)| hash.clone()),
            settings: serde_json::to_string(&settings).map_err(|e| e.to_string())?,
            created_at: now,
            updated_at: now,
        };
        self.store.insert_client(&row).await.map_err(|e| match e {
            crate::store::StoreError::Conflict(_) => {
                format!("client id {:?} is taken", settings.id)
            }
            e => e.to_string(),
        })?;
        self.audit(
            "oidc_client_added",
            None,
            &format!("cli: client {}", settings.id),
        )
        .await?;
        Ok(secret.map(|(secret, _)| secret))
    }

    /// Removes a stored client, its grants and consents; every token issued to it ends.
    pub async fn remove_oidc_client(&self, id: &str) -> Result<(), String> {
        if self.clients()?.is_configured(id) {
            return Err(format!(
                "client {id:?} is in the configuration file: remove it there"
            ));
        }
        if !self
            .store
            .delete_client(id)
            .await
            .map_err(|e| e.to_string())?
        {
            return Err(format!("no stored client {id:?}"));
        }
        self.audit("oidc_client_removed", None, &format!("cli: client {id}"))
            .await
    }

    /// A new secret for a stored confidential client (the old one stops working at once).
    pub async fn rotate_oidc_secret(&self, id: &str) -> Result<SecretString, String> {
        if self.clients()?.is_configured(id) {
            return Err(format!(
                "client {id:?} is in the configuration file: put a new secret_sha256 there (`palisade oidc secret` makes one)"
            ));
        }
        let (secret, hash) = new_client_secret()?;
        let done = self
            .store
            .set_client_secret(id, &hash, crate::clock::system_now())
            .await
            .map_err(|e| e.to_string())?;
        if !done {
            return Err(format!("no stored confidential client {id:?}"));
        }
        self.audit(
            "oidc_client_secret_rotated",
            None,
            &format!("cli: client {id}"),
        )
        .await?;
        Ok(secret)
    }

    /// Starts new signing keys for every algorithm: published now and signing in an hour
    /// (while every cache of the key set learns them), or — `withdraw` — signing at once,
    /// with the old keys withdrawn at once (tokens they signed stop verifying).
    pub async fn rotate_signing_keys(&self, withdraw: bool) -> Result<Vec<String>, String> {
        let (keyring, _, _) = crate::keys::load_keyring(&self.config, false)?;
        let keys = crate::oidc::SigningKeys::new(
            self.store.clone(),
            std::sync::Arc::new(keyring),
            crate::clock::Clock::system(),
            self.config.oidc.signing_key_rotation_days,
        );
        let made = keys.rotate_now(withdraw).await.map_err(|e| e.to_string())?;
        self.audit(
            "oidc_signing_keys_rotated",
            None,
            &format!(
                "cli: {}{}",
                made.join(", "),
                if withdraw { "; old keys withdrawn" } else { "" }
            ),
        )
        .await?;
        Ok(made)
    }
}
