//! Input types that can only be made by parsing, and log-safe text.
//!
//! Stops: malformed or oversized input reaching storage, lookalike and bidi-spoofed names,
//! case-variant duplicate accounts, and log injection (forged log lines from CR/LF or
//! terminal escapes in user input).
//!
//! # Example
//! ```
//! use palisade::validate::{Email, LogSafe, Username};
//! let email = Email::parse("Alice@Bücher.Example").unwrap();
//! assert_eq!(email.as_str(), "Alice@xn--bcher-kva.example");
//! assert_eq!(email.comparison_key(), "alice@xn--bcher-kva.example");
//! let err = Username::parse("x\u{202e}y").unwrap_err();
//! assert_eq!(err.to_string(), "username: may contain only letters a-z, digits, '.', '_' and '-'");
//! assert_eq!(LogSafe::new("a@b.c\r\nINFO admin logged in").to_string(), r"a@b.c\r\nINFO admin logged in");
//! ```
//!
//! # Deployment caveat
//! Errors never echo the input, but they do name the field and the rule: that is what a
//! client needs and is safe to show. Log untrusted text only through [`LogSafe`].

mod display_name;
mod email;
mod log_safe;
mod password;
mod username;

pub use display_name::DisplayName;
pub use email::Email;
pub use log_safe::LogSafe;
pub use password::Password;
pub use username::Username;

use std::fmt;

/// Which rule an input broke. The input itself is never stored here.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rule {
    /// Empty input.
    Empty,
    /// Fewer than `min` characters.
    TooShort {
        /// The minimum, in characters.
        min: usize,
    },
    /// More than `max` characters.
    TooLong {
        /// The maximum, in characters.
        max: usize,
    },
    /// More than `max` bytes of UTF-8.
    TooManyBytes {
        /// The maximum, in bytes.
        max: usize,
    },
    /// A control character (including NUL, CR, LF, ESC).
    ControlCharacter,
    /// A bidirectional-override or invisible formatting character.
    InvisibleOrBidiCharacter,
    /// Leading or trailing whitespace (never trimmed silently).
    SurroundingWhitespace,
    /// Characters outside the allowed set (the message says which are allowed).
    Charset(&'static str),
    /// A structural rule, described in plain words.
    Format(&'static str),
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rule::Empty => f.write_str("must not be empty"),
            Rule::TooShort { min } => write!(f, "must be at least {min} characters long"),
            Rule::TooLong { max } => write!(f, "must be at most {max} characters long"),
            Rule::TooManyBytes { max } => write!(f, "must be at most {max} bytes long"),
            Rule::ControlCharacter => f.write_str("must not contain control characters"),
            Rule::InvisibleOrBidiCharacter => {
                f.write_str("must not contain invisible or text-direction characters")
            }
            Rule::SurroundingWhitespace => f.write_str("must not start or end with whitespace"),
            Rule::Charset(allowed) => write!(f, "may contain only {allowed}"),
            Rule::Format(what) => f.write_str(what),
        }
    }
}

/// An input was refused: names the field and the rule, never the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {rule}")]
pub struct ValidationError {
    field: &'static str,
    rule: Rule,
}

impl ValidationError {
    /// `field` broke `rule` (for validations written outside this module).
    pub fn new(field: &'static str, rule: Rule) -> Self {
        Self { field, rule }
    }

    /// A required field that was missing or empty.
    pub fn required(field: &'static str) -> Self {
        Self::new(field, Rule::Empty)
    }

    /// The field name (`email`, `username`, `display_name`, `password` unless renamed).
    pub fn field(&self) -> &'static str {
        self.field
    }

    /// The rule that failed.
    pub fn rule(&self) -> &Rule {
        &self.rule
    }

    /// The same error under another field name, for forms with two fields of one type
    /// (`current_password`, `new_password`).
    pub fn for_field(mut self, field: &'static str) -> Self {
        self.field = field;
        self
    }
}

/// Characters that reorder or hide text: bidi embeddings, overrides and isolates, the
/// implicit direction marks, zero-width characters and the BOM.
pub(crate) fn is_invisible_or_bidi(c: char) -> bool {
    matches!(c,
        '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}'
        | '\u{061C}' | '\u{FEFF}' | '\u{180E}' | '\u{00AD}')
}

/// Shared character-count and byte-count bounds.
pub(crate) fn check_length(
    field: &'static str,
    input: &str,
    min_chars: usize,
    max_chars: usize,
) -> Result<(), ValidationError> {
    if input.is_empty() {
        return Err(ValidationError::new(field, Rule::Empty));
    }
    // Bytes first: counting characters of a huge input is work an attacker chose.
    if input.len() > max_chars * 4 {
        return Err(ValidationError::new(
            field,
            Rule::TooLong { max: max_chars },
        ));
    }
    let chars = input.chars().count();
    if chars < min_chars {
        return Err(ValidationError::new(
            field,
            Rule::TooShort { min: min_chars },
        ));
    }
    if chars > max_chars {
        return Err(ValidationError::new(
            field,
            Rule::TooLong { max: max_chars },
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
