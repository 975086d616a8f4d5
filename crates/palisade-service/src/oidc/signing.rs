//! The provider's signing keys: one series per algorithm, in the database so every
//! instance signs with the same key, private parts sealed by the keyring.
//!
//! A key's life: made and published (in the JWKS) at once; it signs from `signs_from`,
//! `PUBLISH_AHEAD` later, so every cache of the key set (`JWKS_MAX_AGE`) holds it before
//! any token it signed arrives; it stops signing when its successor starts, and leaves
//! the key set once every token it signed has expired (`KEEP_AFTER`). Rotation runs on a
//! schedule on every instance; the `(alg, generation)` key makes one of them win.
//! `palisade keys rotate-signing --now` starts a successor at once and withdraws the old
//! key at once (a leak): tokens it signed stop verifying.

use std::sync::{Arc, RwLock};

use palisade::secret::Keyring;
use serde_json::Value;

use super::jwt::{Alg, PublicKey, SigningKey};
use crate::clock::Clock;
use crate::error::AppError;
use crate::store::{Store, StoredSigningKey};

/// How long clients may cache the key set (the JWKS answer's `max-age`), seconds.
pub(crate) const JWKS_MAX_AGE: i64 = 300;
/// How long a new key is published before it signs (a multiple of `JWKS_MAX_AGE`).
pub(crate) const PUBLISH_AHEAD: i64 = 3600;
/// How long an old key stays published after its successor starts: the longest token
/// lifetime allowed (a day), plus a cache's lifetime.
pub(crate) const KEEP_AFTER: i64 = 86_400 + JWKS_MAX_AGE;
/// How long an instance trusts its copy of the key set, seconds.
const RELOAD_AFTER: i64 = 10;

/// A loaded key.
#[derive(Debug)]
pub(crate) struct LoadedKey {
    pub(crate) alg: Alg,
    pub(crate) generation: i64,
    pub(crate) signs_from: i64,
    pub(crate) retire_at: Option<i64>,
    pub(crate) key: SigningKey,
    pub(crate) public: PublicKey,
}

#[derive(Default)]
struct Loaded {
    at: i64,
    keys: Vec<Arc<LoadedKey>>,
}

/// The key set, read from the database and kept for `RELOAD_AFTER` seconds.
pub(crate) struct SigningKeys {
    store: Store,
    keyring: Arc<Keyring>,
    clock: Clock,
    rotation_secs: i64,
    loaded: RwLock<Option<Loaded>>,
    /// One rotation at a time in this instance.
    rotating: tokio::sync::Mutex<()>,
}

fn aad(alg: Alg, generation: i64) -> Vec<u8> {
    signing_key_aad(alg.name(), generation)
}

/// The associated data a signing key's private part is sealed with: its series and place.
pub(crate) fn signing_key_aad(alg: &str, generation: i64) -> Vec<u8> {
    format!("palisade-oidc-signing-key\0{alg}\0{generation}").into_bytes()
}

impl SigningKeys {
    pub(crate) fn new(
        store: Store,
        keyring: Arc<Keyring>,
        clock: Clock,
        rotation_days: u64,
    ) -> Self {
        Self {
            store,
            keyring,
            clock,
            rotation_secs: (rotation_days as i64).saturating_mul(86_400),
            loaded: RwLock::new(None),
            rotating: tokio::sync::Mutex::new(()),
        }
    }

    /// The key that signs for `alg` now: the newest whose time has come. Keys are made
    /// the first time one is needed.
    pub(crate) async fn signer(&self, alg: Alg) -> Result<Arc<LoadedKey>, AppError> {
        let now = self.clock.now();
        for attempt in 0..2 {
            let keys = self.keys().await?;
            let current = keys
                .iter()
                .filter(|k| k.alg == alg && k.signs_from <= now)
                .filter(|k| k.retire_at.is_none_or(|r| r > now))
                .max_by_key(|k| k.generation);
            if let Some(key) = current {
                return Ok(key.clone());
            }
            if attempt == 0 {
                self.rotate_due().await?;
            }
        }
        Err(AppError::internal(format_args!(
            "no {} signing key could be made",
            alg.name()
        )))
    }

    /// Every published key (the JWKS), and with them the keys tokens are checked with.
    pub(crate) async fn keys(&self) -> Result<Vec<Arc<LoadedKey>>, AppError> {
        let now = self.clock.now();
        if let Some(loaded) = self.loaded.read().expect("not poisoned").as_ref()
            && loaded.at + RELOAD_AFTER > now
            && loaded.at <= now
        {
            return Ok(loaded.keys.clone());
        }
        let stored = self.store.published_signing_keys(now).await?;
        let mut keys = Vec::with_capacity(stored.len());
        for row in stored {
            match self.open(&row) {
                Ok(key) => keys.push(Arc::new(key)),
                // A key sealed by a key no longer in the keyring: logged, skipped; the
                // next rotation replaces it.
                Err(e) => {
                    tracing::error!(kid = %row.kid, error = %e, "a signing key cannot be opened")
                }
            }
        }
        *self.loaded.write().expect("not poisoned") = Some(Loaded {
            at: now,
            keys: keys.clone(),
        });
        Ok(keys)
    }

    /// The public keys tokens of ours are checked against.
    pub(crate) async fn public_keys(&self) -> Result<Vec<PublicKey>, AppError> {
        Ok(self
            .keys()
            .await?
            .iter()
            .map(|k| k.public.clone())
            .collect())
    }

    /// The JWKS document.
    pub(crate) async fn jwks(&self) -> Result<Value, AppError> {
        let keys: Vec<Value> = self
            .keys()
            .await?
            .iter()
            .map(|k| k.key.public_jwk())
            .collect();
        Ok(serde_json::json!({ "keys": keys }))
    }

    fn open(&self, row: &StoredSigningKey) -> Result<LoadedKey, String> {
        let alg = Alg::parse(&row.alg).ok_or("unknown algorithm")?;
        let der = self
            .keyring
            .open(&row.private_sealed, &aad(alg, row.generation))
            .map_err(|e| e.to_string())?;
        let key = SigningKey::from_pkcs8(alg, &der)?;
        let public = PublicKey::from_jwk(&key.public_jwk(), alg)?;
        Ok(LoadedKey {
            alg,
            generation: row.generation,
            signs_from: row.signs_from,
            retire_at: row.retire_at,
            key,
            public,
        })
    }

    /// Makes each algorithm's first key, and a successor for every key older than the
    /// rotation period. Returns how many keys this instance made.
    pub(crate) async fn rotate_due(&self) -> Result<usize, AppError> {
        let _one = self.rotating.lock().await;
        let now = self.clock.now();
        let mut made = 0;
        for alg in Alg::ALL {
            let newest = self.store.newest_signing_key(alg.name()).await?;
            let start = match newest {
                None => Some((1, now)),
                Some((generation, created_at)) if created_at + self.rotation_secs <= now => {
                    Some((generation + 1, now + PUBLISH_AHEAD))
                }
                Some(_) => None,
            };
            if let Some((generation, signs_from)) = start
                && self
                    .insert(alg, generation, signs_from, signs_from + KEEP_AFTER)
                    .await?
            {
                made += 1;
            }
        }
        if made > 0 {
            *self.loaded.write().expect("not poisoned") = None;
        }
        Ok(made)
    }

    /// `palisade keys rotate-signing`: a successor for every algorithm now, signing after
    /// `PUBLISH_AHEAD`; with `withdraw`, signing at once and the old keys withdrawn at once.
    pub(crate) async fn rotate_now(&self, withdraw: bool) -> Result<Vec<String>, AppError> {
        let _one = self.rotating.lock().await;
        let now = self.clock.now();
        let mut made = Vec::new();
        for alg in Alg::ALL {
            let generation = self
                .store
                .newest_signing_key(alg.name())
                .await?
                .map_or(1, |(g, _)| g + 1);
            let (signs_from, retire_older_at) = if withdraw {
                (now, now)
            } else {
                (now + PUBLISH_AHEAD, now + PUBLISH_AHEAD + KEEP_AFTER)
            };
            if self
                .insert(alg, generation, signs_from, retire_older_at)
                .await?
            {
                made.push(alg.name().to_owned());
            }
        }
        *self.loaded.write().expect("not poisoned") = None;
        Ok(made)
    }

    async fn insert(
        &self,
        alg: Alg,
        generation: i64,
        signs_from: i64,
        retire_older_at: i64,
    ) -> Result<bool, AppError> {
        // RSA generation takes a while: off the async threads.
        let der = tokio::task::spawn_blocking(move || SigningKey::generate(alg))
            .await
            .map_err(|e| AppError::internal(format_args!("key generation: {e}")))?
            .map_err(|e| AppError::internal(format_args!("{e}")))?;
        let key = SigningKey::from_pkcs8(alg, &der)
            .map_err(|e| AppError::internal(format_args!("{e}")))?;
        let sealed = der
            .expose(|d| self.keyring.seal(d, &aad(alg, generation)))
            .map_err(|e| AppError::internal(format_args!("sealing a signing key: {e}")))?;
        let row = StoredSigningKey {
            kid: key.kid.clone(),
            alg: alg.name().to_owned(),
            generation,
            private_sealed: sealed,
            public_jwk: key.public_jwk().to_string(),
            created_at: self.clock.now(),
            signs_from,
            retire_at: None,
        };
        Ok(self.store.insert_signing_key(&row, retire_older_at).await?)
    }
}
