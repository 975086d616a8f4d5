//! The OpenID provider's clients from the console and the admin API: listed (the
//! configuration file's and the database's), added, their secret rotated, removed — the
//! database's only (the file's are changed in the file). Each change is audited with the
//! administrator; a new secret is returned once, to be shown once.

use palisade::secret::SecretString;

use super::{Actor, Administration};
use crate::error::AppError;
use crate::oidc::{ClientSettings, ClientSummary, Clients};
use crate::store::AuditRecord;

impl Administration {
    pub(crate) async fn clients(&self, clients: &Clients) -> Result<Vec<ClientSummary>, AppError> {
        clients.summaries().await.map_err(AppError::ClientRefused)
    }

    /// Adds a client; its secret when it has one (shown once, never stored).
    pub(crate) async fn add_client(
        &self,
        actor: &Actor<'_>,
        clients: &Clients,
        settings: ClientSettings,
    ) -> Result<Option<SecretString>, AppError> {
        let id = settings.id.clone();
        let secret = clients
            .add_stored(settings, self.clock.now())
            .await
            .map_err(AppError::ClientRefused)?;
        self.audit_client(actor, "admin_oidc_client_added", &id)
            .await?;
        Ok(secret)
    }

    /// A new secret for a stored confidential client: the old one stops working at once.
    pub(crate) async fn rotate_client_secret(
        &self,
        actor: &Actor<'_>,
        clients: &Clients,
        id: &str,
    ) -> Result<SecretString, AppError> {
        let secret = clients
            .rotate_stored_secret(id, self.clock.now())
            .await
            .map_err(AppError::ClientRefused)?;
        self.audit_client(actor, "admin_oidc_client_secret_rotated", id)
            .await?;
        Ok(secret)
    }

    /// Removes a stored client with its grants and consents: every token it holds ends.
    pub(crate) async fn remove_client(
        &self,
        actor: &Actor<'_>,
        clients: &Clients,
        id: &str,
    ) -> Result<(), AppError> {
        clients
            .remove_stored(id)
            .await
            .map_err(AppError::ClientRefused)?;
        self.audit_client(actor, "admin_oidc_client_removed", id)
            .await
    }

    async fn audit_client(&self, actor: &Actor<'_>, event: &str, id: &str) -> Result<(), AppError> {
        let detail = format!("by {} (id {}): client {id}", actor.username, actor.user_id);
        self.store
            .audit(&AuditRecord {
                at: self.clock.now(),
                event,
                user_id: Some(actor.user_id),
                subject: Some(actor.username),
                client: Some(actor.client),
                detail: Some(&detail),
            })
            .await?;
        Ok(())
    }
}
