use std::fmt;

use super::{Rule, ValidationError};
use crate::secret::SecretString;

const FIELD: &str = "password";

/// A password as typed at login or registration: 1 to 1,024 bytes of UTF-8 with no NUL.
///
/// These are the bounds for *accepting* a password at all (a user imported from an older
/// system may have a short one); whether a *new* password is good enough is the job of
/// [`crate::password::PasswordPolicy`]. Nothing is trimmed or truncated. The value is held
/// in a [`SecretString`]: zeroized on drop, `[redacted]` in `Debug`.
pub struct Password(SecretString);

impl Password {
    /// Maximum length in bytes: bounds the hashing and strength-checking work one request
    /// can cause.
    pub const MAX_BYTES: usize = 1024;

    /// Parses a password, taking ownership so no unzeroized copy is left behind.
    pub fn parse(input: String) -> Result<Self, ValidationError> {
        Self::from_secret(SecretString::new(input))
    }

    /// Parses a password already held as a secret (a request field, a prompt).
    pub fn from_secret(secret: SecretString) -> Result<Self, ValidationError> {
        let rule = secret.expose(|s| {
            if s.is_empty() {
                Some(Rule::Empty)
            } else if s.len() > Self::MAX_BYTES {
                Some(Rule::TooManyBytes {
                    max: Self::MAX_BYTES,
                })
            } else if s.contains('\0') {
                Some(Rule::Format("must not contain the NUL character"))
            } else {
                None
            }
        });
        match rule {
            Some(rule) => Err(ValidationError::new(FIELD, rule)),
            None => Ok(Self(secret)),
        }
    }

    /// Runs `f` with the password.
    pub fn expose<R>(&self, f: impl FnOnce(&str) -> R) -> R {
        self.0.expose(f)
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password([redacted])")
    }
}
