//! The stored hash strings: PHC strings for Argon2, modular crypt for bcrypt, and the
//! `$pepper$<version>` prefix that marks a peppered hash.
//!
//! ```text
//! $pepper$3$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>   peppered Argon2id (current)
//! $pepper$3$2b$12$<salt+hash>                             peppered bcrypt
//! $argon2id$v=19$...  $2b$12$...                          imported, unpeppered: verify, then replace
//! ```

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD;

use super::HashError;

const PEPPER_PREFIX: &str = "$pepper$";

/// Limits on parameters read from a stored hash: a hash row that asks for 64 GiB must not
/// be able to take the server down.
const MAX_M_KIB: u32 = 1024 * 1024;
const MAX_T: u32 = 64;
const MAX_P: u32 = 64;
pub(crate) const MAX_BCRYPT_COST: u32 = 20;

/// Argon2 variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Variant {
    D,
    I,
    Id,
}

impl Variant {
    fn ident(self) -> &'static str {
        match self {
            Variant::D => "argon2d",
            Variant::I => "argon2i",
            Variant::Id => "argon2id",
        }
    }

    pub(crate) fn algorithm(self) -> argon2::Algorithm {
        match self {
            Variant::D => argon2::Algorithm::Argon2d,
            Variant::I => argon2::Algorithm::Argon2i,
            Variant::Id => argon2::Algorithm::Argon2id,
        }
    }
}

/// A parsed Argon2 PHC string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Argon2Hash {
    pub(crate) variant: Variant,
    pub(crate) version: u32,
    pub(crate) m_kib: u32,
    pub(crate) t: u32,
    pub(crate) p: u32,
    pub(crate) salt: Vec<u8>,
    pub(crate) hash: Vec<u8>,
}

impl Argon2Hash {
    pub(crate) fn encode(&self) -> String {
        format!(
            "${}$v={}$m={},t={},p={}${}${}",
            self.variant.ident(),
            self.version,
            self.m_kib,
            self.t,
            self.p,
            STANDARD_NO_PAD.encode(&self.salt),
            STANDARD_NO_PAD.encode(&self.hash)
        )
    }

    fn parse(s: &str) -> Result<Self, HashError> {
        let bad = HashError::UnrecognisedFormat;
        let mut fields = s.split('$');
        if fields.next() != Some("") {
            return Err(bad);
        }
        let variant = match fields.next() {
            Some("argon2id") => Variant::Id,
            Some("argon2i") => Variant::I,
            Some("argon2d") => Variant::D,
            _ => return Err(bad),
        };
        let mut next = fields.next().ok_or(bad.clone())?;
        // Version 0x10 hashes omit the `v=` field.
        let version = match next.strip_prefix("v=") {
            Some(v) => {
                let v = v.parse().map_err(|_| bad.clone())?;
                next = fields.next().ok_or(bad.clone())?;
                v
            }
            None => 0x10,
        };
        if version != 0x10 && version != 0x13 {
            return Err(bad);
        }
        let (mut m, mut t, mut p) = (None, None, None);
        for param in next.split(',') {
            let (name, value) = param.split_once('=').ok_or(bad.clone())?;
            let value: u32 = value.parse().map_err(|_| bad.clone())?;
            let slot = match name {
                "m" => &mut m,
                "t" => &mut t,
                "p" => &mut p,
                _ => return Err(bad),
            };
            if slot.replace(value).is_some() {
                return Err(bad);
            }
        }
        let (Some(m_kib), Some(t), Some(p)) = (m, t, p) else {
            return Err(bad);
        };
        let b64 = |f: Option<&str>| -> Result<Vec<u8>, HashError> {
            STANDARD_NO_PAD
                .decode(f.ok_or(HashError::UnrecognisedFormat)?)
                .map_err(|_| HashError::UnrecognisedFormat)
        };
        let salt = b64(fields.next())?;
        let hash = b64(fields.next())?;
        if fields.next().is_some() || salt.len() < 8 || hash.len() < 4 || hash.len() > 64 {
            return Err(bad);
        }
        if m_kib > MAX_M_KIB || t > MAX_T || p > MAX_P || t == 0 || p == 0 || m_kib < 8 * p {
            return Err(HashError::ParametersOutOfBounds);
        }
        Ok(Self {
            variant,
            version,
            m_kib,
            t,
            p,
            salt,
            hash,
        })
    }
}

/// What a stored string is.
#[derive(Debug)]
pub(crate) enum Stored<'a> {
    /// `$pepper$<id>$` followed by an Argon2 or bcrypt string.
    Peppered { pepper: u32, inner: Inner<'a> },
    /// A bare hash, imported from elsewhere.
    Bare(Inner<'a>),
}

#[derive(Debug)]
pub(crate) enum Inner<'a> {
    Argon2(Argon2Hash),
    /// A modular-crypt bcrypt string (`$2a$`, `$2b$`, `$2y$`) and its cost.
    Bcrypt {
        encoded: &'a str,
        cost: u32,
    },
}

pub(crate) fn parse(stored: &str) -> Result<Stored<'_>, HashError> {
    match stored.strip_prefix(PEPPER_PREFIX) {
        Some(rest) => {
            let (id, inner) = rest.split_once('$').ok_or(HashError::UnrecognisedFormat)?;
            if id.is_empty() || id.len() > 10 || !id.bytes().all(|b| b.is_ascii_digit()) {
                return Err(HashError::UnrecognisedFormat);
            }
            let pepper = id.parse().map_err(|_| HashError::UnrecognisedFormat)?;
            // `inner` lost its leading `$` to split_once.
            let inner = parse_inner(&stored[stored.len() - inner.len() - 1..])?;
            Ok(Stored::Peppered { pepper, inner })
        }
        None => Ok(Stored::Bare(parse_inner(stored)?)),
    }
}

fn parse_inner(s: &str) -> Result<Inner<'_>, HashError> {
    if s.starts_with("$argon2") {
        return Ok(Inner::Argon2(Argon2Hash::parse(s)?));
    }
    let prefix_ok = ["$2a$", "$2b$", "$2y$"].iter().any(|p| s.starts_with(p));
    if !prefix_ok || s.len() != 60 || !s.is_ascii() {
        return Err(HashError::UnrecognisedFormat);
    }
    let cost: u32 = s[4..6].parse().map_err(|_| HashError::UnrecognisedFormat)?;
    if s.as_bytes()[6] != b'$' || !(4..=31).contains(&cost) {
        return Err(HashError::UnrecognisedFormat);
    }
    if cost > MAX_BCRYPT_COST {
        return Err(HashError::ParametersOutOfBounds);
    }
    Ok(Inner::Bcrypt { encoded: s, cost })
}

pub(crate) fn with_pepper(id: u32, inner: &str) -> String {
    format!("{PEPPER_PREFIX}{id}{inner}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argon2_phc_roundtrip_and_bounds() {
        let s = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$9sTbSlTio3Biev89thdrlKKiCaYsjjYVJxGAL3swxpQ";
        let h = Argon2Hash::parse(s).unwrap();
        assert_eq!(h.encode(), s);
        let huge = "$argon2id$v=19$m=67108864,t=2,p=1$c29tZXNhbHQ$9sTbSlTio3Biev89thdrlKKiCaYsjjYVJxGAL3swxpQ";
        assert!(matches!(
            Argon2Hash::parse(huge),
            Err(HashError::ParametersOutOfBounds)
        ));
        for bad in [
            "$argon2id$v=19$m=19456,t=2$c29tZXNhbHQ$9sTbSlTio3Biev89thdrlKKiCaYsjjYVJxGAL3swxpQ",
            "$argon2id$v=19$m=19456,t=2,p=1,m=5$c29tZXNhbHQ$9sTbSlTio3Biev89thdrlKKiCaYsjjYVJxGAL3swxpQ",
            "$argon2id$v=18$m=19456,t=2,p=1$c29tZXNhbHQ$9sTbSlTio3Biev89thdrlKKiCaYsjjYVJxGAL3swxpQ",
            "$argon2x$v=19$m=19456,t=2,p=1$c29tZXNhbHQ$9sTbSlTio3Biev89thdrlKKiCaYsjjYVJxGAL3swxpQ",
            "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHQ",
        ] {
            assert!(Argon2Hash::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn pepper_prefix() {
        let inner = "$2b$04$cVWp4XaNU8a4v1uMRum2SO026BWLIoQMD/TXg5uZV.0P.uO8m3YEm";
        let s = with_pepper(7, inner);
        match parse(&s).unwrap() {
            Stored::Peppered {
                pepper: 7,
                inner: Inner::Bcrypt { encoded, cost: 4 },
            } => assert_eq!(encoded, inner),
            other => panic!("{other:?}"),
        }
        assert!(parse("$pepper$$2b$04$x").is_err());
        assert!(
            parse("$pepper$-1$2b$04$cVWp4XaNU8a4v1uMRum2SO026BWLIoQMD/TXg5uZV.0P.uO8m3YEm")
                .is_err()
        );
        assert!(
            parse(
                "$pepper$99999999999$2b$04$cVWp4XaNU8a4v1uMRum2SO026BWLIoQMD/TXg5uZV.0P.uO8m3YEm"
            )
            .is_err()
        );
    }
}
