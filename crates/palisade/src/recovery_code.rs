//! Recovery codes: the way back in when the second factor is lost.
//!
//! Each is 16 characters from an alphabet without look-alikes (no `0`/`o`, `1`/`l`/`i`),
//! about 79 bits, shown in four groups (`7kq2-…`), typed in any case with or without the
//! dashes and spaces. The first group is the code's *selector*: stored in clear beside the
//! password hash of the whole code, it finds the one hash to verify instead of trying all
//! ten (a stolen table still leaves 59 bits under Argon2 per code).

use std::fmt;

use zeroize::Zeroizing;

use crate::secret::SecretString;

/// The characters of a code: digits and lowercase letters without `0 1 i l o`.
const ALPHABET: &[u8; 31] = b"23456789abcdefghjkmnpqrstuvwxyz";
/// Characters per code.
pub const CODE_LEN: usize = 16;
/// Characters per group, as shown; the first group is the selector.
const GROUP: usize = 4;
/// Codes in a new set.
pub const SET_SIZE: usize = 10;

/// One recovery code, normalized. Never printed: `Debug` shows nothing of it.
pub struct RecoveryCode(Zeroizing<String>);

/// Why typed text is not a recovery code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecoveryCodeError {
    /// Not 16 characters once dashes and spaces are dropped.
    #[error("a recovery code has 16 letters and digits")]
    Length,
    /// A character no code has.
    #[error("a recovery code has only the letters and digits it was shown with")]
    Character,
    /// No random bytes to make a code from.
    #[error("the operating system's random source failed")]
    Randomness,
}

impl RecoveryCode {
    /// A new random code: each character drawn uniformly (rejection sampling).
    pub fn generate() -> Result<Self, RecoveryCodeError> {
        let mut code = Zeroizing::new(String::with_capacity(CODE_LEN));
        let mut bytes = Zeroizing::new([0u8; 64]);
        while code.len() < CODE_LEN {
            getrandom::fill(&mut *bytes).map_err(|_| RecoveryCodeError::Randomness)?;
            // 248 = 8 × 31: bytes at or above it would favour the first characters.
            for &b in bytes.iter().filter(|&&b| b < 248) {
                if code.len() == CODE_LEN {
                    break;
                }
                code.push(char::from(ALPHABET[usize::from(b % 31)]));
            }
        }
        Ok(Self(code))
    }

    /// A code as a person typed it: case, dashes and spaces do not matter.
    pub fn parse(typed: &str) -> Result<Self, RecoveryCodeError> {
        let mut code = Zeroizing::new(String::with_capacity(CODE_LEN));
        for c in typed.chars() {
            if c == '-' || c.is_whitespace() {
                continue;
            }
            let c = c.to_ascii_lowercase();
            if !c.is_ascii() || !ALPHABET.contains(&(c as u8)) {
                return Err(RecoveryCodeError::Character);
            }
            if code.len() == CODE_LEN {
                return Err(RecoveryCodeError::Length);
            }
            code.push(c);
        }
        if code.len() != CODE_LEN {
            return Err(RecoveryCodeError::Length);
        }
        Ok(Self(code))
    }

    /// The first group, stored in clear to find this code's hash.
    pub fn selector(&self) -> String {
        self.0[..GROUP].to_owned()
    }

    /// The normalized code, to hash or verify.
    pub fn expose<R>(&self, f: impl FnOnce(&str) -> R) -> R {
        f(&self.0)
    }

    /// As shown to the user, once: `xxxx-xxxx-xxxx-xxxx`.
    pub fn display(&self) -> SecretString {
        let groups: Vec<&str> = (0..CODE_LEN)
            .step_by(GROUP)
            .map(|i| &self.0[i..i + GROUP])
            .collect();
        SecretString::new(groups.join("-"))
    }
}

impl fmt::Debug for RecoveryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RecoveryCode([redacted])")
    }
}

/// A new set of [`SET_SIZE`] codes whose selectors differ.
pub fn generate_set() -> Result<Vec<RecoveryCode>, RecoveryCodeError> {
    let mut set: Vec<RecoveryCode> = Vec::with_capacity(SET_SIZE);
    while set.len() < SET_SIZE {
        let code = RecoveryCode::generate()?;
        if set.iter().all(|c| c.selector() != code.selector()) {
            set.push(code);
        }
    }
    Ok(set)
}

/// Bits of entropy in one code.
pub fn entropy_bits() -> f64 {
    CODE_LEN as f64 * (ALPHABET.len() as f64).log2()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_carries_at_least_64_bits_and_no_look_alikes() {
        assert!(entropy_bits() >= 64.0, "{}", entropy_bits());
        for c in b"01ilo" {
            assert!(!ALPHABET.contains(c), "{}", char::from(*c));
        }
        let mut unique = ALPHABET.to_vec();
        unique.dedup();
        assert_eq!(unique.len(), ALPHABET.len());
    }

    #[test]
    fn a_set_has_ten_distinct_codes_and_selectors() {
        let set = generate_set().unwrap();
        assert_eq!(set.len(), SET_SIZE);
        let mut codes: Vec<String> = set.iter().map(|c| c.expose(str::to_owned)).collect();
        let mut selectors: Vec<String> = set.iter().map(RecoveryCode::selector).collect();
        codes.sort();
        codes.dedup();
        selectors.sort();
        selectors.dedup();
        assert_eq!((codes.len(), selectors.len()), (SET_SIZE, SET_SIZE));
        for code in &codes {
            assert_eq!(code.len(), CODE_LEN);
            assert!(code.bytes().all(|b| ALPHABET.contains(&b)), "{code}");
        }
    }

    #[test]
    fn characters_are_drawn_evenly() {
        // 31 characters × 2,000 codes × 16: about 1,032 each; a modulo bias would put the
        // first 8 characters near 1,140. Bounds are ±15%, far outside chance (σ ≈ 32).
        let mut counts = [0usize; 31];
        for _ in 0..2_000 {
            RecoveryCode::generate().unwrap().expose(|code| {
                for b in code.bytes() {
                    counts[ALPHABET.iter().position(|&a| a == b).unwrap()] += 1;
                }
            });
        }
        let expected = 2_000 * CODE_LEN / 31;
        for (i, n) in counts.iter().enumerate() {
            assert!(
                n.abs_diff(expected) < expected * 15 / 100,
                "{} drawn {n} times, expected about {expected}",
                char::from(ALPHABET[i])
            );
        }
    }

    #[test]
    fn typed_codes_are_normalized_or_refused() {
        let code = RecoveryCode::generate().unwrap();
        let shown = code.display().expose(str::to_owned);
        assert_eq!(shown.len(), CODE_LEN + 3);
        let plain = code.expose(str::to_owned);
        for typed in [
            shown.clone(),
            shown.to_uppercase(),
            plain.clone(),
            format!("  {}  ", shown.replace('-', " ")),
        ] {
            let parsed = RecoveryCode::parse(&typed).unwrap();
            assert_eq!(parsed.expose(str::to_owned), plain, "{typed:?}");
            assert_eq!(parsed.selector(), plain[..4]);
        }
        assert_eq!(
            RecoveryCode::parse(&plain[..15]).unwrap_err(),
            RecoveryCodeError::Length
        );
        assert_eq!(
            RecoveryCode::parse(&format!("{plain}2")).unwrap_err(),
            RecoveryCodeError::Length
        );
        for bad in [
            "0000-0000-0000-0000",
            "abcd-efgh-jkmn-pqr!",
            "аbcd-efgh-jkmn-pqrs",
        ] {
            assert_eq!(
                RecoveryCode::parse(bad).unwrap_err(),
                RecoveryCodeError::Character,
                "{bad}"
            );
        }
    }

    #[test]
    fn a_code_is_never_printed() {
        let code = RecoveryCode::generate().unwrap();
        let plain = code.expose(str::to_owned);
        let printed = format!("{code:?} {:?} {}", code.display(), code.display());
        assert!(!printed.contains(&plain[4..]), "{printed}");
    }
}
