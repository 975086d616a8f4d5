//! The OpenID provider's clients made from the command line (stored in the database, so
//! every instance sees them), and the signing keys' forced rotation.

use palisade::secret::SecretString;

use super::Admin;
use crate::oidc::{ClientSettings, Clients, SiteRequirements};

pub use crate::oidc::{ClientSummary, new_client_secret};

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
        self.clients()?.summaries().await
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
        let id = settings.id.clone();
        let secret = self
            .clients()?
            .add_stored(settings, crate::clock::system_now())
            .await?;
        self.audit("oidc_client_added", None, &format!("cli: client {id}"))
            .await?;
        Ok(secret)
    }

    /// Removes a stored client, its grants and consents; every token issued to it ends.
    pub async fn remove_oidc_client(&self, id: &str) -> Result<(), String> {
        self.clients()?.remove_stored(id).await?;
        self.audit("oidc_client_removed", None, &format!("cli: client {id}"))
            .await
    }

    /// A new secret for a stored confidential client (the old one stops working at once).
    pub async fn rotate_oidc_secret(&self, id: &str) -> Result<SecretString, String> {
        let secret = self
            .clients()?
            .rotate_stored_secret(id, crate::clock::system_now())
            .await?;
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
