use std::fmt;

use super::{Rule, ValidationError};

const FIELD: &str = "email";
const ATEXT_SPECIALS: &str = "!#$%&'*+/=?^_`{|}~-";

/// An email address in the form accounts actually use: `local@domain`.
///
/// - at most 254 bytes in all and 64 in the local part (RFC 5321);
/// - exactly one `@`; the local part is dot-atoms of ASCII letters, digits and
///   ``!#$%&'*+/=?^_`{|}~-`` (no quoted strings, comments or IP literals: they are legal,
///   almost never real, and a favourite of injection payloads);
/// - the domain is converted with IDNA (UTS #46, strict) to lower-case ASCII, has at least
///   two labels, each 1 to 63 letters, digits or hyphens, and a non-numeric top level.
///
/// The stored form keeps the local part's case (some mail servers honour it);
/// [`Email::comparison_key`] folds it, so `Alice@example.com` and `alice@EXAMPLE.com`
/// cannot register twice.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Email {
    address: String,
    at: usize,
}

impl Email {
    /// Maximum length of the whole address in bytes.
    pub const MAX_BYTES: usize = 254;
    /// Maximum length of the local part in bytes.
    pub const MAX_LOCAL_BYTES: usize = 64;

    /// Parses and normalises an address.
    pub fn parse(input: &str) -> Result<Self, ValidationError> {
        let err = |rule| Err(ValidationError::new(FIELD, rule));
        if input.is_empty() {
            return err(Rule::Empty);
        }
        // Unicode domains may shrink or grow when converted; refuse clearly oversized input
        // before doing that work.
        if input.len() > Self::MAX_BYTES * 4 {
            return err(Rule::TooManyBytes {
                max: Self::MAX_BYTES,
            });
        }
        if input.chars().any(char::is_control) {
            return err(Rule::ControlCharacter);
        }
        let mut parts = input.split('@');
        let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
            return err(Rule::Format("must contain exactly one '@'"));
        };
        check_local(local)?;
        let domain = normalise_domain(domain)?;
        if local.len() + 1 + domain.len() > Self::MAX_BYTES {
            return err(Rule::TooManyBytes {
                max: Self::MAX_BYTES,
            });
        }
        Ok(Self {
            at: local.len(),
            address: format!("{local}@{domain}"),
        })
    }

    /// The normalised address (domain in lower-case ASCII).
    pub fn as_str(&self) -> &str {
        &self.address
    }

    /// The local part, as given.
    pub fn local_part(&self) -> &str {
        &self.address[..self.at]
    }

    /// The domain, in lower-case ASCII (punycode for international names).
    pub fn domain(&self) -> &str {
        &self.address[self.at + 1..]
    }

    /// A key for case-insensitive comparison and uniqueness: the whole address in
    /// lower case.
    pub fn comparison_key(&self) -> String {
        self.address.to_ascii_lowercase()
    }
}

fn check_local(local: &str) -> Result<(), ValidationError> {
    let err = |rule| Err(ValidationError::new(FIELD, rule));
    if local.is_empty() {
        return err(Rule::Format("needs a part before the '@'"));
    }
    if local.len() > Email::MAX_LOCAL_BYTES {
        return err(Rule::Format(
            "the part before the '@' must be at most 64 bytes",
        ));
    }
    let atext = |c: char| c.is_ascii_alphanumeric() || ATEXT_SPECIALS.contains(c);
    if !local.chars().all(|c| atext(c) || c == '.') {
        return err(Rule::Charset(
            "letters, digits and !#$%&'*+/=?^_`{|}~-. before the '@'",
        ));
    }
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return err(Rule::Format(
            "the part before the '@' must not start or end with '.' or contain '..'",
        ));
    }
    Ok(())
}

fn normalise_domain(domain: &str) -> Result<String, ValidationError> {
    let invalid = || ValidationError::new(FIELD, Rule::Format("has an invalid domain"));
    if domain.is_empty() {
        return Err(ValidationError::new(
            FIELD,
            Rule::Format("needs a domain after the '@'"),
        ));
    }
    let ascii = idna::domain_to_ascii_strict(domain).map_err(|_| invalid())?;
    if ascii.len() > 253 {
        return Err(invalid());
    }
    let labels: Vec<&str> = ascii.split('.').collect();
    if labels.len() < 2 {
        return Err(ValidationError::new(
            FIELD,
            Rule::Format("needs a domain with at least one '.'"),
        ));
    }
    for label in &labels {
        let ldh = label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-');
        if label.is_empty()
            || label.len() > 63
            || !ldh
            || label.starts_with('-')
            || label.ends_with('-')
        {
            return Err(invalid());
        }
    }
    let tld = labels.last().expect("at least two labels");
    if tld.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    Ok(ascii)
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.address)
    }
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Email({:?})", self.address)
    }
}
