//! Fernet tokens (AES-128-CBC + HMAC-SHA256) and an ordered keyring.
//!
//! Written against the Fernet specification over RustCrypto primitives rather than with the
//! `fernet` crate, because a keyring needs what that crate does not offer: the token's
//! timestamp (kept across `rotate`, as Python's `MultiFernet.rotate` does), a caller-supplied
//! clock for TTL checks, and plaintext that never leaves a zeroizing buffer.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aes::Aes128;
use aes::cipher::block_padding::Pkcs7;
use aes::cipher::{BlockModeDecrypt, BlockModeEncrypt, KeyIvInit};
use base64::Engine as _;
use base64::engine::general_purpose::{URL_SAFE, URL_SAFE_NO_PAD};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, Zeroizing};

use super::SecretBytes;

const VERSION: u8 = 0x80;
const HEADER_LEN: usize = 1 + 8 + 16;
const MAC_LEN: usize = 32;
const BLOCK: usize = 16;
/// Tokens stamped further than this in the future are refused (the spec's clock skew).
const MAX_CLOCK_SKEW_SECS: u64 = 60;

/// One Fernet key: 16 bytes of HMAC key and 16 bytes of AES key, zeroized on drop.
pub struct FernetKey {
    bytes: Zeroizing<[u8; 32]>,
}

impl FernetKey {
    /// A new key from the operating system's CSPRNG.
    pub fn generate() -> Result<Self, FernetError> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        getrandom::fill(&mut bytes[..]).map_err(|_| FernetError::Rng)?;
        Ok(Self { bytes })
    }

    /// Parses the standard encoding: URL-safe base64 of 32 bytes (padding optional).
    /// The error never contains the input.
    pub fn parse(encoded: &str) -> Result<Self, FernetError> {
        let encoded = encoded.trim();
        let mut buf = Zeroizing::new([0u8; 48]);
        let n = URL_SAFE
            .decode_slice(encoded, &mut buf[..])
            .or_else(|_| URL_SAFE_NO_PAD.decode_slice(encoded, &mut buf[..]))
            .map_err(|_| FernetError::InvalidKey)?;
        if n != 32 {
            return Err(FernetError::InvalidKey);
        }
        let mut bytes = Zeroizing::new([0u8; 32]);
        bytes.copy_from_slice(&buf[..32]);
        Ok(Self { bytes })
    }

    /// The key in its standard encoding (URL-safe base64 with padding), as Python's
    /// `Fernet.generate_key()` writes it. Secret: keep it out of logs.
    pub fn encode(&self) -> SecretBytes {
        SecretBytes::new(URL_SAFE.encode(&self.bytes[..]).into_bytes())
    }

    /// A short public identifier: the first 8 hex digits of SHA-256 over the key. Safe to
    /// log; lets an operator see which key a token needs.
    pub fn id(&self) -> String {
        use sha2::Digest;
        let digest = Sha256::digest(&self.bytes[..]);
        digest[..4].iter().map(|b| format!("{b:02x}")).collect()
    }

    /// A 32-byte key for another purpose, derived as `HMAC-SHA256(key, label)`, so one
    /// keyring serves Fernet and the vault without reusing key material across algorithms.
    pub(crate) fn derive(&self, label: &[u8]) -> Zeroizing<[u8; 32]> {
        let mut mac =
            <Hmac<Sha256> as KeyInit>::new_from_slice(&self.bytes[..]).expect("any key length");
        mac.update(label);
        let mut out = Zeroizing::new([0u8; 32]);
        out.copy_from_slice(&mac.finalize().into_bytes());
        out
    }

    fn signing_key(&self) -> &[u8] {
        &self.bytes[..16]
    }

    fn encryption_key(&self) -> &[u8] {
        &self.bytes[16..]
    }

    fn mac(&self, signed: &[u8]) -> Hmac<Sha256> {
        let mut mac =
            <Hmac<Sha256> as KeyInit>::new_from_slice(self.signing_key()).expect("any key length");
        mac.update(signed);
        mac
    }
}

impl fmt::Debug for FernetKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FernetKey({}, [redacted])", self.id())
    }
}

/// Why a Fernet operation failed. Never carries key or plaintext material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FernetError {
    /// A key is not URL-safe base64 of exactly 32 bytes.
    #[error("invalid Fernet key: expected URL-safe base64 of 32 bytes")]
    InvalidKey,
    /// A keyring needs at least one key.
    #[error("the keyring has no key")]
    EmptyKeyring,
    /// The token is malformed, was made with a key this keyring does not hold, or was
    /// tampered with. Deliberately one variant: telling these apart helps an attacker.
    #[error("invalid token")]
    InvalidToken,
    /// The token is authentic but older than the allowed time to live.
    #[error("token expired")]
    Expired,
    /// The token is authentic but stamped too far in the future.
    #[error("token timestamp is in the future")]
    FromTheFuture,
    /// The operating system's random number generator failed.
    #[error("the operating system's random number generator failed")]
    Rng,
    /// A sealed value names a key this keyring does not hold (retired or never loaded).
    #[error("sealed with key {0}, which is not in the keyring")]
    UnknownKey(String),
}

/// An authentic, decrypted token.
#[derive(Debug)]
pub struct Decrypted {
    /// The plaintext, in a zeroizing buffer.
    pub plaintext: SecretBytes,
    /// The token's timestamp, seconds since the Unix epoch.
    pub timestamp: u64,
    /// Position in the keyring of the key that authenticated the token (0 = current key).
    pub key_index: usize,
}

/// An ordered set of Fernet keys: the first encrypts, every one decrypts.
///
/// Adding a new key at the front rotates encryption without making old tokens unreadable;
/// [`Keyring::rotate`] moves a token onto the first key; a key can leave the ring once no
/// token needs it.
pub struct Keyring {
    keys: Vec<FernetKey>,
}

impl Keyring {
    /// A keyring whose first key encrypts. Fails on an empty list.
    pub fn new(keys: Vec<FernetKey>) -> Result<Self, FernetError> {
        if keys.is_empty() {
            return Err(FernetError::EmptyKeyring);
        }
        Ok(Self { keys })
    }

    /// The keys, encrypting key first.
    pub fn keys(&self) -> &[FernetKey] {
        &self.keys
    }

    /// Encrypts under the first key, stamped with the current time and a random IV.
    pub fn encrypt(&self, plaintext: &[u8]) -> Result<String, FernetError> {
        let mut iv = [0u8; 16];
        getrandom::fill(&mut iv).map_err(|_| FernetError::Rng)?;
        Ok(encrypt_parts(&self.keys[0], plaintext, unix_now(), iv))
    }

    /// Decrypts a token made by any key of the ring. With `ttl`, tokens older than `ttl`
    /// are refused with [`FernetError::Expired`].
    pub fn decrypt(&self, token: &str, ttl: Option<Duration>) -> Result<Decrypted, FernetError> {
        self.decrypt_at(token, ttl, unix_now())
    }

    /// [`Keyring::decrypt`] with the clock passed in (`now` in seconds since the epoch).
    pub fn decrypt_at(
        &self,
        token: &str,
        ttl: Option<Duration>,
        now: u64,
    ) -> Result<Decrypted, FernetError> {
        let raw = Zeroizing::new(decode_token(token)?);
        let timestamp = u64::from_be_bytes(raw[1..9].try_into().expect("length checked"));
        let (signed, tag) = raw.split_at(raw.len() - MAC_LEN);
        // Every key is tried so the time taken does not say which one matched.
        let mut found = None;
        for (index, key) in self.keys.iter().enumerate() {
            let expected = key.mac(signed).finalize().into_bytes();
            if bool::from(expected.as_slice().ct_eq(tag)) && found.is_none() {
                found = Some(index);
            }
        }
        let key_index = found.ok_or(FernetError::InvalidToken)?;
        if let Some(ttl) = ttl
            && timestamp.saturating_add(ttl.as_secs()) < now
        {
            return Err(FernetError::Expired);
        }
        if timestamp > now.saturating_add(MAX_CLOCK_SKEW_SECS) {
            return Err(FernetError::FromTheFuture);
        }
        let key = &self.keys[key_index];
        let iv: [u8; 16] = signed[9..HEADER_LEN].try_into().expect("length checked");
        let mut buf = signed[HEADER_LEN..].to_vec();
        let decryptor = cbc::Decryptor::<Aes128>::new_from_slices(key.encryption_key(), &iv)
            .expect("fixed key and IV sizes");
        let len = match decryptor.decrypt_padded::<Pkcs7>(&mut buf) {
            Ok(pt) => pt.len(),
            Err(_) => {
                buf.zeroize();
                return Err(FernetError::InvalidToken);
            }
        };
        // Wipe the padding before truncating; SecretBytes::new moves the rest to an exact
        // allocation and zeroizes this one.
        buf[len..].zeroize();
        buf.truncate(len);
        let plaintext = SecretBytes::new(buf);
        Ok(Decrypted {
            plaintext,
            timestamp,
            key_index,
        })
    }

    /// Re-encrypts a token under the first key, keeping its original timestamp (so a TTL
    /// still counts from when the value was first encrypted, as Python's
    /// `MultiFernet.rotate` does).
    pub fn rotate(&self, token: &str) -> Result<String, FernetError> {
        let decrypted = self.decrypt(token, None)?;
        let mut iv = [0u8; 16];
        getrandom::fill(&mut iv).map_err(|_| FernetError::Rng)?;
        Ok(decrypted
            .plaintext
            .expose(|pt| encrypt_parts(&self.keys[0], pt, decrypted.timestamp, iv)))
    }
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(&self.keys).finish()
    }
}

/// Builds a token from its parts. Deterministic: callers must pass a fresh random IV, which
/// is why this is not public.
pub(crate) fn encrypt_parts(
    key: &FernetKey,
    plaintext: &[u8],
    timestamp: u64,
    iv: [u8; 16],
) -> String {
    let padded_len = (plaintext.len() / BLOCK + 1) * BLOCK;
    let mut out = Vec::with_capacity(HEADER_LEN + padded_len + MAC_LEN);
    out.push(VERSION);
    out.extend_from_slice(&timestamp.to_be_bytes());
    out.extend_from_slice(&iv);
    out.resize(HEADER_LEN + padded_len, 0);
    out[HEADER_LEN..HEADER_LEN + plaintext.len()].copy_from_slice(plaintext);
    let encryptor = cbc::Encryptor::<Aes128>::new_from_slices(key.encryption_key(), &iv)
        .expect("fixed key and IV sizes");
    encryptor
        .encrypt_padded::<Pkcs7>(&mut out[HEADER_LEN..], plaintext.len())
        .expect("buffer sized for padding");
    let tag = key.mac(&out).finalize().into_bytes();
    out.extend_from_slice(&tag);
    URL_SAFE.encode(&out)
}

fn decode_token(token: &str) -> Result<Vec<u8>, FernetError> {
    let token = token.trim_end_matches(['\n', '\r']);
    let raw = URL_SAFE
        .decode(token)
        .map_err(|_| FernetError::InvalidToken)?;
    let body = raw.len().checked_sub(HEADER_LEN + MAC_LEN);
    match body {
        Some(n) if n > 0 && n % BLOCK == 0 && raw[0] == VERSION => Ok(raw),
        _ => Err(FernetError::InvalidToken),
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests;
