use std::fmt;

use super::{Rule, ValidationError, check_length};

const FIELD: &str = "username";

/// A username: 3 to 32 characters from `a-z`, `0-9`, `.`, `_`, `-`, starting with a letter
/// or digit. Upper-case ASCII is folded to lower case, so `Alice` and `alice` are one
/// account; anything else outside the set is refused (no homoglyphs, no `@`, so a username
/// can never be mistaken for an email address at login).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Username(String);

impl Username {
    /// Minimum length in characters.
    pub const MIN_CHARS: usize = 3;
    /// Maximum length in characters.
    pub const MAX_CHARS: usize = 32;

    /// Parses and normalises a username.
    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        check_length(FIELD, input, Self::MIN_CHARS, Self::MAX_CHARS)?;
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-');
        if !input.chars().all(allowed) {
            return Err(ValidationError::new(
                FIELD,
                Rule::Charset("letters a-z, digits, '.', '_' and '-'"),
            ));
        }
        if !input.starts_with(|c: char| c.is_ascii_alphanumeric()) {
            return Err(ValidationError::new(
                FIELD,
                Rule::Format("must start with a letter or a digit"),
            ));
        }
        Ok(Self(input.to_ascii_lowercase()))
    }

    /// The normalised username.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Username({:?})", self.0)
    }
}
