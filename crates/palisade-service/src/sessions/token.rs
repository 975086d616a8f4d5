//! Session tokens: 256 random bits, of which only the SHA-256 is stored.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use palisade::secret::SecretString;
use sha2::{Digest, Sha256};

use crate::error::AppError;

/// A session token as issued to a client: 256 random bits. Only its SHA-256 is stored;
/// this copy is zeroized when dropped.
pub(crate) struct IssuedToken(SecretString);

impl IssuedToken {
    pub(crate) fn generate() -> Result<Self, AppError> {
        Ok(Self(SecretString::new(
            URL_SAFE_NO_PAD.encode(random_bytes::<32>()?),
        )))
    }

    /// 256 random bits behind `prefix` (an API token: `palisade_at_…`).
    pub(crate) fn generate_with_prefix(prefix: &str) -> Result<Self, AppError> {
        Ok(Self(SecretString::new(format!(
            "{prefix}{}",
            URL_SAFE_NO_PAD.encode(random_bytes::<32>()?)
        ))))
    }

    /// Runs `f` with the token (to set a cookie or answer a login).
    pub(crate) fn expose<R>(&self, f: impl FnOnce(&str) -> R) -> R {
        self.0.expose(f)
    }
}

/// The one place a token leaves the service: the login response body.
impl serde::Serialize for IssuedToken {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.expose(|t| serializer.serialize_str(t))
    }
}

impl std::fmt::Debug for IssuedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IssuedToken([redacted])")
    }
}

pub(crate) fn token_hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    out
}

#[cfg(test)]
#[test]
fn hex_is_lowercase_two_digits_per_byte() {
    assert_eq!(hex(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
    assert_eq!(
        token_hash("abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}

pub(crate) fn random_bytes<const N: usize>() -> Result<[u8; N], AppError> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes)
        .map_err(|_| AppError::internal("OS random number generator failed"))?;
    Ok(bytes)
}

/// Whether `token` has the shape of one of ours (43 URL-safe base64 characters). Anything
/// else, a stored hash (64 hex characters) included, is refused before any lookup.
pub(crate) fn well_formed(token: &str) -> bool {
    token.len() == 43
        && token
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}
