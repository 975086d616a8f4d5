//! What the operations page shows: the mail outbox, the keys and peppers (as `palisade
//! keys status` prints them), the database and palisade's version. Read only.

use palisade::secret::Keyring;

use super::Administration;
use crate::error::AppError;
use crate::store::{MailProblem, OutboxCounts};

/// Failed or given-up messages shown, at most.
const MAIL_PROBLEMS: i64 = 20;

pub(crate) struct Status {
    pub(crate) outbox: OutboxCounts,
    pub(crate) mail_problems: Vec<MailProblem>,
    /// Each key's id, whether it seals new secrets, and how many secrets it seals.
    pub(crate) keys: Vec<(String, bool, i64)>,
    /// Secrets sealed by keys the keyring no longer has (they cannot be opened).
    pub(crate) missing_keys: Vec<(String, i64)>,
    /// Password hashes per pepper version.
    pub(crate) peppers: Vec<(String, i64)>,
    pub(crate) database: String,
    pub(crate) version: &'static str,
}

impl Administration {
    pub(crate) async fn status(&self, keyring: &Keyring) -> Result<Status, AppError> {
        let per_key = self.store.secrets_per_key().await?;
        let count = |id: &str| per_key.iter().find(|(k, _)| k == id).map_or(0, |(_, n)| *n);
        let keys = keyring
            .keys()
            .iter()
            .enumerate()
            .map(|(i, k)| (k.id(), i == 0, count(&k.id())))
            .collect::<Vec<_>>();
        let missing_keys = per_key
            .iter()
            .filter(|(k, _)| !keys.iter().any(|(id, _, _)| id == k))
            .cloned()
            .collect();
        Ok(Status {
            outbox: self.store.outbox_counts().await?,
            mail_problems: self.store.mail_problems(MAIL_PROBLEMS).await?,
            keys,
            missing_keys,
            peppers: self.store.hashes_per_pepper().await?,
            database: self.store.database_version().await?,
            version: env!("CARGO_PKG_VERSION"),
        })
    }
}
