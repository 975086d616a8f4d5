//! Zeroize-on-drop containers for secret values.

use std::fmt;

use zeroize::{Zeroize, Zeroizing};

/// Secret bytes: a key, a decrypted value, a pepper.
///
/// Guarantees:
/// - the heap buffer is overwritten with zeros when the value is dropped (the allocation is
///   made once, at its final size, so no unzeroed copy is left behind by a reallocation);
/// - `Debug` and `Display` print `[redacted]`;
/// - there is no `Clone` that could spread copies silently, no `Serialize`, no `Deref`: the
///   bytes are read only inside [`SecretBytes::expose`].
///
/// Not guaranteed: the memory is not locked (`mlock`), so it may reach swap; copies the
/// caller makes inside `expose` are the caller's to zeroize.
pub struct SecretBytes(Zeroizing<Box<[u8]>>);

impl SecretBytes {
    /// Takes ownership of `bytes`. A vector with spare capacity is copied into an exact
    /// allocation and the original zeroized (shrinking in place could free an unzeroized
    /// block), so the buffer zeroized on drop is the whole allocation.
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(Zeroizing::new(exact_size(bytes).into_boxed_slice()))
    }

    /// Copies `bytes` into a new secret. The caller stays responsible for `bytes`.
    pub fn copy_from(bytes: &[u8]) -> Self {
        Self(Zeroizing::new(Box::from(bytes)))
    }

    /// Runs `f` with read access to the secret bytes; the borrow cannot outlive the call.
    pub fn expose<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
        f(&self.0)
    }

    /// Length in bytes (not secret: ciphertext lengths reveal it anyway).
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the secret is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// An independent copy, zeroized on its own drop. Named, not `Clone`, so copies are
    /// deliberate and easy to find.
    pub fn duplicate(&self) -> Self {
        Self::copy_from(&self.0)
    }
}

impl From<Vec<u8>> for SecretBytes {
    fn from(bytes: Vec<u8>) -> Self {
        Self::new(bytes)
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// A secret UTF-8 string (a password, a database password). Same guarantees as
/// [`SecretBytes`].
pub struct SecretString(Zeroizing<Box<str>>);

impl SecretString {
    /// Takes ownership of `s`; like [`SecretBytes::new`], never leaves an unzeroized copy.
    pub fn new(s: String) -> Self {
        let bytes = exact_size(s.into_bytes());
        let s = String::from_utf8(bytes).expect("was a String");
        Self(Zeroizing::new(s.into_boxed_str()))
    }

    /// Decodes UTF-8 from secret bytes; on failure the bytes are zeroized and `None` returned.
    pub fn from_utf8(bytes: SecretBytes) -> Option<Self> {
        let mut boxed: Box<[u8]> = Box::default();
        let SecretBytes(mut inner) = bytes;
        std::mem::swap(&mut *inner, &mut boxed);
        match String::from_utf8(boxed.into_vec()) {
            Ok(s) => Some(Self::new(s)),
            Err(e) => {
                e.into_bytes().zeroize();
                None
            }
        }
    }

    /// Runs `f` with read access to the secret string.
    pub fn expose<R>(&self, f: impl FnOnce(&str) -> R) -> R {
        f(&self.0)
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the string is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// An independent copy, zeroized on its own drop.
    pub fn duplicate(&self) -> Self {
        Self(Zeroizing::new(Box::<str>::from(&**self.0)))
    }
}

impl From<String> for SecretString {
    fn from(s: String) -> Self {
        Self::new(s)
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl fmt::Display for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Returns `bytes` in an allocation of exactly its length, zeroizing any other copy.
pub(crate) fn exact_size(mut bytes: Vec<u8>) -> Vec<u8> {
    if bytes.capacity() == bytes.len() {
        return bytes;
    }
    let exact = bytes.as_slice().to_vec();
    bytes.zeroize();
    exact
}

/// Deserializes from a string, taking ownership of the decoded buffer (the deserializer's
/// own scratch copies, if any, are beyond reach). The only way in from a request body.
#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for SecretString {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(Self::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_never_show_the_value() {
        let b = SecretBytes::copy_from(b"hunter2-bytes");
        let s = SecretString::new("hunter2-string".into());
        for text in [
            format!("{b:?}"),
            format!("{b}"),
            format!("{s:?}"),
            format!("{s}"),
            format!("{:?}", Some(&s)),
        ] {
            assert_eq!(
                text.trim_start_matches("Some(").trim_end_matches(')'),
                "[redacted]"
            );
            assert!(!text.contains("hunter2"));
        }
    }

    #[test]
    fn expose_gives_the_value() {
        let s = SecretString::new("abc".into());
        assert_eq!(s.expose(|v| v.to_owned()), "abc");
        let b = SecretBytes::new(vec![1, 2, 3]);
        assert_eq!(b.expose(|v| v.to_vec()), vec![1, 2, 3]);
        assert_eq!(b.duplicate().expose(|v| v.len()), 3);
    }

    #[test]
    fn from_utf8_rejects_invalid_bytes() {
        assert!(SecretString::from_utf8(SecretBytes::new(vec![0xff, 0xfe])).is_none());
        let ok = SecretString::from_utf8(SecretBytes::new(b"ok".to_vec())).unwrap();
        assert_eq!(ok.expose(str::len), 2);
    }

    #[cfg(feature = "serde")]
    #[test]
    fn deserializes_straight_into_a_secret() {
        let s: SecretString = serde_json::from_str("\"hunter2 \\u00e9\"").unwrap();
        assert_eq!(s.expose(str::to_owned), "hunter2 é");
        assert_eq!(format!("{s:?}"), "[redacted]");
        assert!(serde_json::from_str::<SecretString>("42").is_err());
    }
}
