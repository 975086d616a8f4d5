use std::fmt;

use super::{Rule, ValidationError, check_length, is_invisible_or_bidi};

const FIELD: &str = "display_name";

/// A display name: 1 to 64 characters of any script, with no control characters, no
/// bidirectional-override or invisible characters (a right-to-left override can make
/// `evil<U+202E>txt.exe` render as `evilexe.txt`), and no surrounding whitespace (refused, not trimmed).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct DisplayName(String);

impl DisplayName {
    /// Maximum length in characters.
    pub const MAX_CHARS: usize = 64;

    /// Parses a display name.
    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        check_length(FIELD, input, 1, Self::MAX_CHARS)?;
        if input.chars().any(char::is_control) {
            return Err(ValidationError::new(FIELD, Rule::ControlCharacter));
        }
        if input.chars().any(is_invisible_or_bidi) {
            return Err(ValidationError::new(FIELD, Rule::InvisibleOrBidiCharacter));
        }
        if input.starts_with(char::is_whitespace) || input.ends_with(char::is_whitespace) {
            return Err(ValidationError::new(FIELD, Rule::SurroundingWhitespace));
        }
        Ok(Self(input.to_owned()))
    }

    /// The display name as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DisplayName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for DisplayName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DisplayName({:?})", self.0)
    }
}
