//! What an operator does to the service's data, from the command line while the service
//! runs: users (list, disable, unlock, import, groups), access rules (check), keys and peppers (status, rotation,
//! re-encryption, retirement), backups. Every change is audited as done by `cli`. Results are
//! returned, never printed: the `palisade` binary decides how to show them.

mod authz;
mod backup;
mod import;
mod keys;
mod oidc;
mod users;

pub use authz::AuthzReport;
pub use backup::{BackupReport, RestoreReport, backup, restore};
pub use import::{ImportReport, ImportRow, NumberedRow, read_import_file};
pub use keys::{
    KeyStatus, ReencryptReport, Retired, keyring, new_key_file, rotate_key, rotate_pepper,
};
pub use oidc::{ClientSummary, new_client_secret};
pub use users::{SecondFactorList, UserSummary};

use crate::config::Config;
use crate::store::{AuditRecord, Store};

/// A connection to the service's database, with its configuration.
pub struct Admin {
    store: Store,
    config: Config,
}

impl Admin {
    /// Connects (and migrates) the database the configuration names.
    pub async fn open(config: &Config) -> Result<Self, String> {
        let db = crate::db::connect(config).await?;
        Ok(Self {
            store: Store::new(db.pool),
            config: config.clone(),
        })
    }

    /// Queues messages for the running service's workers to send (sealed with the keyring).
    fn mailer(&self) -> Result<crate::mail::Mailer, String> {
        let (keyring, _, _) = crate::keys::load_keyring(&self.config, false)?;
        crate::mail::Mailer::new(
            &self.config,
            self.store.clone(),
            crate::clock::Clock::system(),
            std::sync::Arc::new(keyring),
        )
    }

    /// Records an administrator's action in the audit trail.
    async fn audit(
        &self,
        event: &str,
        user: Option<(i64, &str)>,
        detail: &str,
    ) -> Result<(), String> {
        self.store
            .audit(&AuditRecord {
                at: crate::clock::system_now(),
                event,
                user_id: user.map(|u| u.0),
                subject: user.map(|u| u.1),
                client: None,
                detail: Some(detail),
            })
            .await
            .map_err(|e| e.to_string())
    }
}

/// Sends a test message to `to` at once, past the outbox: returns where it went, or the
/// transport's own error (refused certificate, authentication, connection).
pub async fn send_test_mail(config: &Config, to: &str) -> Result<String, String> {
    let to = palisade::validate::Email::parse(to).map_err(|e| format!("address: {e}"))?;
    crate::mail::send_test(config, to.as_str()).await
}

/// A Unix time as the pages show it (UTC, to the minute).
pub fn utc(t: i64) -> String {
    crate::web::utc(t)
}
