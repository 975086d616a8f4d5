//! The clients kept in the database (beside the configuration file's): listed, added
//! (checked exactly as they will be read back; a confidential client without keys gets a
//! secret, shown once, only its SHA-256 kept), their secret rotated, removed with every
//! grant and consent. The command line (`palisade oidc client …`) and the console both
//! call these; each records its own audit event.

use palisade::secret::SecretString;

use super::{ClientSettings, Clients, compile_client};
use crate::store::{StoreError, StoredClient};

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
    let secret = super::random_secret().map_err(|e| e.to_string())?;
    let hash = super::secret_hash(&secret);
    Ok((SecretString::new(secret), hash))
}

impl Clients {
    /// Every client: the configuration file's, then the database's.
    pub(crate) async fn summaries(&self) -> Result<Vec<ClientSummary>, String> {
        let mut all: Vec<ClientSummary> = self
            .defaults
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

    /// Stores a new client; its secret, when it has one.
    pub(crate) async fn add_stored(
        &self,
        settings: ClientSettings,
        now: i64,
    ) -> Result<Option<SecretString>, String> {
        if settings.secret_sha256.is_some() {
            return Err(
                "a stored client's secret is made by palisade: leave secret_sha256 out".into(),
            );
        }
        if self.is_configured(&settings.id) {
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
        compile_client(
            &settings,
            secret.as_ref().map(|(_, hash)| hash.as_str()),
            &self.defaults,
            self.site,
            "client",
        )?;
        let row = StoredClient {
            id: settings.id.clone(),
            secret_hash: secret.as_ref().map(|(_, hash)| hash.clone()),
            settings: serde_json::to_string(&settings).map_err(|e| e.to_string())?,
            created_at: now,
            updated_at: now,
        };
        self.store.insert_client(&row).await.map_err(|e| match e {
            StoreError::Conflict(_) => format!("client id {:?} is taken", settings.id),
            e => e.to_string(),
        })?;
        Ok(secret.map(|(secret, _)| secret))
    }

    /// Removes a stored client, its grants and consents: every token issued to it ends.
    pub(crate) async fn remove_stored(&self, id: &str) -> Result<(), String> {
        if self.is_configured(id) {
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
        Ok(())
    }

    /// A new secret for a stored confidential client (the old one stops working at once).
    pub(crate) async fn rotate_stored_secret(
        &self,
        id: &str,
        now: i64,
    ) -> Result<SecretString, String> {
        if self.is_configured(id) {
            return Err(format!(
                "client {id:?} is in the configuration file: put a new secret_sha256 there (`palisade oidc secret` makes one)"
            ));
        }
        let (secret, hash) = new_client_secret()?;
        let done = self
            .store
            .set_client_secret(id, &hash, now)
            .await
            .map_err(|e| e.to_string())?;
        if !done {
            return Err(format!("no stored confidential client {id:?}"));
        }
        Ok(secret)
    }
}
