//! Sealed values for storage: XChaCha20-Poly1305 under a named keyring key, bound to
//! associated data.
//!
//! Format: `pv1.<key id>.<base64url(nonce ‖ ciphertext ‖ tag)>`. The key id (the first 8 hex
//! digits of SHA-256 over the Fernet key) says which key opens it, so re-encryption and key
//! retirement can count what depends on each key. The associated data — for the vault, the
//! owner and the secret's name — is authenticated but not stored: a sealed value copied onto
//! another user's row, or renamed, does not open.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{AeadInOut, KeyInit};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use zeroize::Zeroize;

use super::{FernetError, Keyring, SecretBytes};

const PREFIX: &str = "pv1";
const LABEL: &[u8] = b"palisade vault xchacha20poly1305 v1";
const NONCE_LEN: usize = 24;

impl Keyring {
    /// Seals `plaintext` under the first key, bound to `aad`.
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Result<String, FernetError> {
        let key = &self.keys()[0];
        let cipher =
            XChaCha20Poly1305::new_from_slice(&key.derive(LABEL)[..]).expect("32-byte key");
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::fill(&mut nonce).map_err(|_| FernetError::Rng)?;
        let mut buffer = Vec::with_capacity(NONCE_LEN + plaintext.len() + 16);
        buffer.extend_from_slice(plaintext);
        cipher
            .encrypt_in_place(&XNonce::from(nonce), aad, &mut buffer)
            .map_err(|_| FernetError::InvalidToken)?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&buffer);
        Ok(format!(
            "{PREFIX}.{}.{}",
            key.id(),
            URL_SAFE_NO_PAD.encode(out)
        ))
    }

    /// Opens a sealed value. Fails — never returns altered bytes — when the value was
    /// tampered with, when `aad` differs from the one it was sealed with, or when its key
    /// is not in the ring ([`FernetError::UnknownKey`], naming the key).
    pub fn open(&self, sealed: &str, aad: &[u8]) -> Result<SecretBytes, FernetError> {
        let (key_id, body) = split(sealed).ok_or(FernetError::InvalidToken)?;
        let key = self
            .keys()
            .iter()
            .find(|k| k.id() == key_id)
            .ok_or_else(|| FernetError::UnknownKey(key_id.to_owned()))?;
        let raw = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| FernetError::InvalidToken)?;
        if raw.len() < NONCE_LEN + 16 {
            return Err(FernetError::InvalidToken);
        }
        let (nonce, ciphertext) = raw.split_at(NONCE_LEN);
        let cipher =
            XChaCha20Poly1305::new_from_slice(&key.derive(LABEL)[..]).expect("32-byte key");
        let mut buffer = ciphertext.to_vec();
        match cipher.decrypt_in_place(
            &XNonce::try_from(nonce).map_err(|_| FernetError::InvalidToken)?,
            aad,
            &mut buffer,
        ) {
            Ok(()) => Ok(SecretBytes::new(buffer)),
            Err(_) => {
                buffer.zeroize();
                Err(FernetError::InvalidToken)
            }
        }
    }

    /// Re-seals a value under the first key (same associated data).
    pub fn reseal(&self, sealed: &str, aad: &[u8]) -> Result<String, FernetError> {
        self.open(sealed, aad)?
            .expose(|plaintext| self.seal(plaintext, aad))
    }
}

/// The id of the key a sealed value needs, without opening it.
pub fn sealed_key_id(sealed: &str) -> Option<&str> {
    split(sealed).map(|(id, _)| id)
}

fn split(sealed: &str) -> Option<(&str, &str)> {
    let mut parts = sealed.splitn(3, '.');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(PREFIX), Some(id), Some(body))
            if id.len() == 8 && id.bytes().all(|b| b.is_ascii_hexdigit()) =>
        {
            Some((id, body))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::FernetKey;

    fn ring() -> Keyring {
        Keyring::new(vec![FernetKey::generate().unwrap()]).unwrap()
    }

    #[test]
    fn round_trip_names_its_key() {
        let ring = ring();
        let sealed = ring.seal(b"db-password", b"owner 1\0name db").unwrap();
        assert_eq!(sealed_key_id(&sealed), Some(ring.keys()[0].id().as_str()));
        assert!(!sealed.contains("db-password"));
        ring.open(&sealed, b"owner 1\0name db")
            .unwrap()
            .expose(|v| assert_eq!(v, b"db-password"));
        assert_ne!(
            sealed,
            ring.seal(b"db-password", b"owner 1\0name db").unwrap(),
            "fresh nonce each time"
        );
    }

    #[test]
    fn moved_or_renamed_values_do_not_open() {
        let ring = ring();
        let sealed = ring.seal(b"alice's api key", b"owner 1\0name api").unwrap();
        assert_eq!(
            ring.open(&sealed, b"owner 2\0name api").unwrap_err(),
            FernetError::InvalidToken
        );
        assert_eq!(
            ring.open(&sealed, b"owner 1\0name other").unwrap_err(),
            FernetError::InvalidToken
        );
    }

    #[test]
    fn tampering_is_refused_never_garbled() {
        let ring = ring();
        let sealed = ring.seal(b"value", b"aad").unwrap();
        let (head, body) = sealed.rsplit_once('.').unwrap();
        let mut raw = URL_SAFE_NO_PAD.decode(body).unwrap();
        for i in 0..raw.len() {
            raw[i] ^= 1;
            let forged = format!("{head}.{}", URL_SAFE_NO_PAD.encode(&raw));
            assert_eq!(
                ring.open(&forged, b"aad").unwrap_err(),
                FernetError::InvalidToken,
                "byte {i}"
            );
            raw[i] ^= 1;
        }
        assert!(ring.open("pv1.zzzzzzzz.AAAA", b"aad").is_err());
        assert!(ring.open("garbage", b"aad").is_err());
    }

    #[test]
    fn retired_key_cannot_open_and_is_named() {
        let old = ring();
        let sealed = old.seal(b"value", b"aad").unwrap();
        let new = ring();
        assert_eq!(
            new.open(&sealed, b"aad").unwrap_err(),
            FernetError::UnknownKey(old.keys()[0].id())
        );
        let both = Keyring::new(vec![
            FernetKey::generate().unwrap(),
            FernetKey::parse(
                std::str::from_utf8(&old.keys()[0].encode().expose(<[u8]>::to_vec)).unwrap(),
            )
            .unwrap(),
        ])
        .unwrap();
        let resealed = both.reseal(&sealed, b"aad").unwrap();
        assert_eq!(sealed_key_id(&resealed), Some(both.keys()[0].id().as_str()));
    }
}
