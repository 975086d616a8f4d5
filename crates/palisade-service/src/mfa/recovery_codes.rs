//! Recovery codes: ten single-use codes (79 bits each) stored as password hashes, shown
//! once; a new set replaces the old under re-authentication.

use super::*;
use crate::accounts::Accounts;
use crate::error::AppError;
use crate::sessions::{Authenticated, IssuedToken};
use crate::store::StoredRecoveryCode;
use palisade::http::ClientInfo;
use palisade::recovery_code::{self, RecoveryCode};
use palisade::secret::{Keyring, SecretString};
use palisade::validate::Password;

/// Recovery codes as shown, once.
pub(crate) type ShownCodes = Vec<SecretString>;

/// A new set of recovery codes: as shown, and as stored (selector and password hash).
pub(super) async fn recovery_set(
    accounts: &Accounts,
) -> Result<(ShownCodes, Vec<StoredRecoveryCode>), AppError> {
    let set = recovery_code::generate_set().map_err(AppError::internal)?;
    let hashes = futures_util::future::try_join_all(set.iter().map(|code| async {
        let password = code.expose(|c| Password::parse(c.to_owned()))?;
        accounts
            .hashing
            .hash(password)
            .await
            .map_err(AppError::from)
    }))
    .await?;
    let stored = set
        .iter()
        .zip(hashes)
        .map(|(code, code_hash)| StoredRecoveryCode {
            selector: code.selector(),
            code_hash,
        })
        .collect();
    Ok((set.iter().map(RecoveryCode::display).collect(), stored))
}

impl SecondFactors {
    /// A new set of recovery codes, replacing the old ones.
    pub(crate) async fn regenerate_codes(
        &self,
        accounts: &Accounts,
        keyring: &Keyring,
        auth: &Authenticated,
        password: Option<SecretString>,
        proof: Option<Proof>,
        client: &ClientInfo,
    ) -> Result<(ShownCodes, Option<IssuedToken>), AppError> {
        let reissued = self
            .guard(accounts, keyring, auth, password, proof, client)
            .await?;
        let (shown, stored) = recovery_set(accounts).await?;
        if !self
            .store
            .replace_recovery_codes(auth.user.id, &stored)
            .await?
        {
            return Err(AppError::NotFound);
        }
        accounts
            .audit_user("recovery_codes_replaced", auth, client, None)
            .await;
        Ok((shown, reissued))
    }
}
