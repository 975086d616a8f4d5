//! Versioned pepper keys.

use std::collections::BTreeMap;
use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use super::HashError;
use crate::secret::{SecretBytes, SecretString};

/// Minimum pepper length in bytes.
pub const MIN_PEPPER_BYTES: usize = 32;

/// The server-side keys mixed into every password hash, by version.
///
/// A pepper is a secret kept outside the database, so a stolen table of hashes cannot be
/// attacked offline without it. It is applied as `HMAC-SHA256(pepper, password)` before the
/// slow hash, never appended to the password: appending lets bcrypt's 72-byte truncation cut
/// the pepper away. The version is stored with each hash, so a new pepper can become
/// current while hashes made under older ones still verify (and ask to be replaced).
pub struct PepperSet {
    current: u32,
    keys: BTreeMap<u32, SecretBytes>,
}

impl PepperSet {
    /// A set whose current pepper is `key`, version `id`. Keys shorter than 32 bytes are
    /// refused.
    pub fn new(id: u32, key: SecretBytes) -> Result<Self, HashError> {
        check_len(&key)?;
        Ok(Self {
            current: id,
            keys: BTreeMap::from([(id, key)]),
        })
    }

    /// Adds an older pepper that still verifies but is no longer used for new hashes.
    pub fn with_previous(mut self, id: u32, key: SecretBytes) -> Result<Self, HashError> {
        check_len(&key)?;
        if self.keys.contains_key(&id) {
            return Err(HashError::Config("two peppers share one version"));
        }
        self.keys.insert(id, key);
        Ok(self)
    }

    /// A new random 32-byte pepper from the OS CSPRNG.
    pub fn generate_key() -> Result<SecretBytes, HashError> {
        let mut key = vec![0u8; MIN_PEPPER_BYTES];
        getrandom::fill(&mut key).map_err(|_| HashError::Rng)?;
        Ok(SecretBytes::new(key))
    }

    /// The version used for new hashes.
    pub fn current(&self) -> u32 {
        self.current
    }

    /// Every version held, in ascending order.
    pub fn versions(&self) -> impl Iterator<Item = u32> + '_ {
        self.keys.keys().copied()
    }

    /// `HMAC-SHA256(pepper[id], password)`, or `UnknownPepper` when `id` is not held.
    pub(crate) fn apply(&self, id: u32, password: &[u8]) -> Result<Zeroizing<[u8; 32]>, HashError> {
        let key = self.keys.get(&id).ok_or(HashError::UnknownPepper(id))?;
        let mut mac = key.expose(|k| {
            <Hmac<Sha256> as KeyInit>::new_from_slice(k).expect("HMAC takes any key length")
        });
        mac.update(password);
        let mut out = Zeroizing::new([0u8; 32]);
        out.copy_from_slice(&mac.finalize().into_bytes());
        Ok(out)
    }
}

fn check_len(key: &SecretBytes) -> Result<(), HashError> {
    if key.len() < MIN_PEPPER_BYTES {
        return Err(HashError::Config("a pepper must be at least 32 bytes"));
    }
    Ok(())
}

impl fmt::Debug for PepperSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PepperSet")
            .field("current", &self.current)
            .field("versions", &self.keys.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// The pepper of the widespread Python recipe `bcrypt.hashpw(password + PEPPER, salt)`,
/// needed only to verify hashes imported from such an application.
#[derive(Debug)]
pub struct LegacyPepper(pub(crate) SecretString);

impl LegacyPepper {
    /// Wraps the legacy application's pepper string.
    pub fn new(pepper: SecretString) -> Self {
        Self(pepper)
    }
}
