//! Keys and peppers: status, rotation, re-encryption of the vault, retirement.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE;
use palisade::password::PepperSet;
use palisade::secret::{FernetKey, Keyring};
use zeroize::Zeroizing;

use super::Admin;
use crate::config::Config;
use crate::keys::{
    KeySource, load_keyring, load_or_create_pepper, pepper_file_text, replace_private,
};

/// The keyring the configuration names (never created here).
pub fn keyring(config: &Config) -> Result<Keyring, String> {
    Ok(load_keyring(config, false)?.0)
}

/// Writes a new key file (mode 0600) with one new key; returns the key's id.
pub fn new_key_file(path: &Path) -> Result<String, String> {
    let ring = Keyring::new(vec![FernetKey::generate().map_err(|e| e.to_string())?])
        .map_err(|e| e.to_string())?;
    ring.write_new_file(path).map_err(|e| e.to_string())?;
    Ok(ring.keys()[0].id())
}

fn key_file(config: &Config) -> Result<PathBuf, String> {
    match load_keyring(config, false)?.1 {
        KeySource::File(path) => Ok(path),
        KeySource::Env => Err(
            "the keys come from PALISADE_KEYS: change that variable (the first key encrypts)"
                .into(),
        ),
    }
}

fn copy(key: &FernetKey) -> Result<FernetKey, String> {
    key.encode()
        .expose(|e| FernetKey::parse(std::str::from_utf8(e).expect("base64")))
        .map_err(|e| e.to_string())
}

fn write_keys(path: &Path, keys: Vec<FernetKey>) -> Result<(), String> {
    let ring = Keyring::new(keys).map_err(|e| e.to_string())?;
    let mut text = Zeroizing::new(String::from(
        "# palisade Fernet keys: the first encrypts, all decrypt. Keep this file private.\n",
    ));
    for key in ring.keys() {
        key.encode()
            .expose(|k| text.push_str(std::str::from_utf8(k).expect("base64")));
        text.push('\n');
    }
    replace_private(path, text.as_bytes())
}

/// Puts a new key first in the key file (it encrypts from now on; older keys still
/// decrypt); returns its id.
pub fn rotate_key(config: &Config) -> Result<String, String> {
    let path = key_file(config)?;
    let old = keyring(config)?;
    let new = FernetKey::generate().map_err(|e| e.to_string())?;
    let id = new.id();
    let mut keys = vec![new];
    for k in old.keys() {
        keys.push(copy(k)?);
    }
    write_keys(&path, keys)?;
    Ok(id)
}

/// Adds a pepper version, current from the next start; returns it.
pub fn rotate_pepper(config: &Config) -> Result<u32, String> {
    let (peppers, _) = load_or_create_pepper(&config.data_dir)?;
    let next = peppers.versions().max().unwrap_or(0) + 1;
    let key = PepperSet::generate_key().map_err(|e| e.to_string())?;
    let old = pepper_file_text(&config.data_dir)?;
    let text =
        Zeroizing::new(key.expose(|k| format!("{next} {}\n{}", URL_SAFE.encode(k), old.as_str())));
    replace_private(&config.data_dir.join("pepper"), text.as_bytes())?;
    Ok(next)
}

/// What depends on each key and pepper version.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyStatus {
    /// Loaded keys, current (encrypting) first: id, and secrets sealed under it.
    pub keys: Vec<(String, i64)>,
    /// Secrets sealed under keys that are not loaded (they cannot be read).
    pub missing: Vec<(String, i64)>,
    /// Pepper versions: the version, whether it is current, and password hashes under it.
    pub peppers: Vec<(u32, bool, i64)>,
    /// Hashes under no loaded pepper version (imported ones: `none (imported)`).
    pub other_hashes: Vec<(String, i64)>,
}

/// How a retirement went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retired {
    /// The key is gone from the key file.
    Done,
    /// Refused: this many secrets still need it (run a re-encryption first).
    StillNeeded(i64),
}

/// What a re-encryption did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReencryptReport {
    /// The key everything is now sealed under.
    pub key: String,
    /// Secrets re-sealed.
    pub done: u64,
    /// Secrets that could not be opened: owner, name, why.
    pub failed: Vec<(i64, String, String)>,
}

impl Admin {
    async fn secrets_per_key(&self) -> Result<Vec<(String, i64)>, String> {
        self.store
            .secrets_per_key()
            .await
            .map_err(|e| e.to_string())
    }

    /// Secrets per key and password hashes per pepper version.
    pub async fn key_status(&self) -> Result<KeyStatus, String> {
        let ring = keyring(&self.config)?;
        let counts = self.secrets_per_key().await?;
        let count = |id: &str| counts.iter().find(|(k, _)| k == id).map_or(0, |(_, n)| *n);
        let mut status = KeyStatus {
            keys: ring
                .keys()
                .iter()
                .map(|k| (k.id(), count(&k.id())))
                .collect(),
            ..KeyStatus::default()
        };
        status.missing = counts
            .iter()
            .filter(|(k, _)| !ring.keys().iter().any(|key| key.id() == *k))
            .cloned()
            .collect();
        let (peppers, _) = load_or_create_pepper(&self.config.data_dir)?;
        let mut per_version = std::collections::BTreeMap::<String, i64>::new();
        for hash in self
            .store
            .password_hashes()
            .await
            .map_err(|e| e.to_string())?
        {
            let version = match hash
                .strip_prefix("$pepper$")
                .and_then(|r| r.split('$').next())
            {
                Some(v) => format!("v{v}"),
                None => "none (imported)".to_owned(),
            };
            *per_version.entry(version).or_default() += 1;
        }
        for v in peppers.versions() {
            let n = per_version.remove(&format!("v{v}")).unwrap_or(0);
            status.peppers.push((v, v == peppers.current(), n));
        }
        status.other_hashes = per_version.into_iter().collect();
        Ok(status)
    }

    /// Removes a key from the key file, unless it is current or secrets still need it.
    pub async fn retire_key(&self, id: &str) -> Result<Retired, String> {
        let path = key_file(&self.config)?;
        let ring = keyring(&self.config)?;
        let position = ring
            .keys()
            .iter()
            .position(|k| k.id() == id)
            .ok_or_else(|| format!("no key {id} in {}", path.display()))?;
        if position == 0 {
            return Err(format!("key {id} is the current key: rotate first"));
        }
        let depending = self
            .secrets_per_key()
            .await?
            .into_iter()
            .find(|(k, _)| k == id)
            .map_or(0, |(_, n)| n);
        if depending > 0 {
            return Ok(Retired::StillNeeded(depending));
        }
        let keys = ring
            .keys()
            .iter()
            .filter(|k| k.id() != id)
            .map(copy)
            .collect::<Result<Vec<_>, _>>()?;
        write_keys(&path, keys)?;
        Ok(Retired::Done)
    }

    /// Re-seals every secret (vault values, then TOTP secrets) not under the current key, one committed batch at a time:
    /// safe to interrupt and run again. `max_batches` stops early (tests of an
    /// interruption); `progress(done, total)` is called after each batch.
    pub async fn reencrypt(
        &self,
        batch: i64,
        max_batches: Option<usize>,
        progress: &mut dyn FnMut(u64, i64),
    ) -> Result<ReencryptReport, String> {
        let ring = keyring(&self.config)?;
        let current = ring.keys()[0].id();
        let total: i64 = self
            .secrets_per_key()
            .await?
            .iter()
            .filter(|(k, _)| *k != current)
            .map(|(_, n)| n)
            .sum();
        let mut report = ReencryptReport {
            key: current.clone(),
            ..ReencryptReport::default()
        };
        let (mut after, mut batches) = ((i64::MIN, String::new()), 0usize);
        while max_batches.is_none_or(|m| batches < m) {
            let rows = self
                .store
                .secrets_to_reseal(&current, (after.0, &after.1), batch.clamp(1, 10_000))
                .await
                .map_err(|e| e.to_string())?;
            let Some(last) = rows.last() else { break };
            after = (last.0, last.1.clone());
            let mut resealed = Vec::new();
            for (owner, name, sealed) in rows {
                match ring.reseal(&sealed, &crate::vault::aad(owner, &name)) {
                    Ok(new) => resealed.push((owner, name, sealed, new)),
                    Err(e) => report.failed.push((owner, name, e.to_string())),
                }
            }
            report.done += self
                .store
                .reseal_batch(&resealed, &current, crate::clock::system_now())
                .await
                .map_err(|e| e.to_string())?;
            batches += 1;
            progress(report.done, total);
        }
        // Then the authenticator apps' secrets, the same way.
        let mut after = String::new();
        while max_batches.is_none_or(|m| batches < m) {
            let rows = self
                .store
                .totp_to_reseal(&current, &after, batch.clamp(1, 10_000))
                .await
                .map_err(|e| e.to_string())?;
            let Some(last) = rows.last() else { break };
            after = last.0.clone();
            let mut resealed = Vec::new();
            for (id, user_id, sealed) in rows {
                match ring.reseal(&sealed, &crate::mfa::aad(user_id, &id)) {
                    Ok(new) => resealed.push((id, sealed, new)),
                    Err(e) => {
                        report
                            .failed
                            .push((user_id, format!("second factor {id}"), e.to_string()))
                    }
                }
            }
            report.done += self
                .store
                .reseal_totp_batch(&resealed, &current)
                .await
                .map_err(|e| e.to_string())?;
            batches += 1;
            progress(report.done, total);
        }
        // Then the OpenID provider's signing keys (a handful: all at once).
        if max_batches.is_none_or(|m| batches < m) {
            let rows = self
                .store
                .signing_keys_to_reseal(&current)
                .await
                .map_err(|e| e.to_string())?;
            for row in rows {
                let aad = crate::oidc::signing_key_aad(&row.alg, row.generation);
                match ring.reseal(&row.private_sealed, &aad) {
                    Ok(new) => {
                        report.done += self
                            .store
                            .reseal_signing_key(&row.kid, &row.private_sealed, &new)
                            .await
                            .map_err(|e| e.to_string())?;
                    }
                    Err(e) => {
                        report
                            .failed
                            .push((0, format!("signing key {}", row.kid), e.to_string()))
                    }
                }
            }
            progress(report.done, total);
        }
        Ok(report)
    }
}
