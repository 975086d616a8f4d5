//! Hashing and verification.

use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::phc::{self, Argon2Hash, Inner, Stored, Variant};
use super::{HashError, LegacyPepper, PepperSet};

/// Argon2id cost parameters. The default is OWASP's recommendation: 19 MiB, 2 passes,
/// 1 lane.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Argon2Params {
    /// Memory in KiB.
    pub m_kib: u32,
    /// Passes over memory.
    pub t: u32,
    /// Lanes.
    pub p: u32,
}

impl Default for Argon2Params {
    fn default() -> Self {
        Self {
            m_kib: 19 * 1024,
            t: 2,
            p: 1,
        }
    }
}

/// The algorithm used for new hashes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Algorithm {
    /// Argon2id (the default).
    Argon2id(Argon2Params),
    /// bcrypt with the given cost (4 to 20), fed the base64 of the peppered HMAC: 44 bytes,
    /// under bcrypt's 72-byte limit and free of NUL, so nothing is ever truncated.
    Bcrypt {
        /// log2 of the number of rounds.
        cost: u32,
    },
}

impl Default for Algorithm {
    fn default() -> Self {
        Algorithm::Argon2id(Argon2Params::default())
    }
}

/// Why a stored hash should be replaced after a successful verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RehashReason {
    /// Made by another algorithm than the current one.
    Algorithm,
    /// Same algorithm, other cost parameters.
    Parameters,
    /// Made under an older pepper version.
    PepperVersion,
    /// Imported without a pepper (plain bcrypt or Argon2, or `bcrypt(password + PEPPER)`).
    Unpeppered,
}

/// Proof that a password matched a stored hash. Only [`PasswordHasher::verify`] makes one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    rehash: Option<RehashReason>,
}

impl Verified {
    /// Whether the stored hash should be replaced by [`PasswordHasher::hash`] of the same
    /// password, now that it is known.
    pub fn needs_rehash(&self) -> bool {
        self.rehash.is_some()
    }

    /// Why it should be replaced.
    pub fn rehash_reason(&self) -> Option<RehashReason> {
        self.rehash
    }
}

/// The answer of a verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use]
pub enum Verdict {
    /// The password matches.
    Valid(Verified),
    /// The password does not match.
    Invalid,
}

impl Verdict {
    /// Whether the password matched.
    pub fn is_valid(&self) -> bool {
        matches!(self, Verdict::Valid(_))
    }
}

/// Hashes and verifies passwords with a versioned pepper. Cheap to share behind an `Arc`.
pub struct PasswordHasher {
    algorithm: Algorithm,
    peppers: PepperSet,
    legacy_pepper: Option<LegacyPepper>,
    /// A hash under the current configuration, verified against by `dummy_verify`.
    pub(super) dummy: OnceLock<String>,
}

impl std::fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordHasher")
            .field("algorithm", &self.algorithm)
            .field("peppers", &self.peppers)
            .field(
                "legacy_pepper",
                &self.legacy_pepper.as_ref().map(|_| "[redacted]"),
            )
            .finish_non_exhaustive()
    }
}

impl PasswordHasher {
    /// Argon2id with OWASP parameters and the given peppers.
    pub fn new(peppers: PepperSet) -> Self {
        Self {
            algorithm: Algorithm::default(),
            peppers,
            legacy_pepper: None,
            dummy: OnceLock::new(),
        }
    }

    /// Uses `algorithm` for new hashes. Parameters outside the accepted bounds are refused
    /// (Argon2: m ≥ 8·p KiB and ≤ 1 GiB, 1 ≤ t ≤ 64, 1 ≤ p ≤ 64; bcrypt: 4 ≤ cost ≤ 20).
    pub fn with_algorithm(mut self, algorithm: Algorithm) -> Result<Self, HashError> {
        match algorithm {
            Algorithm::Argon2id(p) => {
                let probe = Argon2Hash {
                    variant: Variant::Id,
                    version: 0x13,
                    m_kib: p.m_kib,
                    t: p.t,
                    p: p.p,
                    salt: vec![0; 16],
                    hash: vec![0; 32],
                };
                phc::parse(&probe.encode())?;
            }
            Algorithm::Bcrypt { cost } => {
                if !(4..=phc::MAX_BCRYPT_COST).contains(&cost) {
                    return Err(HashError::ParametersOutOfBounds);
                }
            }
        }
        self.algorithm = algorithm;
        self.dummy = OnceLock::new();
        Ok(self)
    }

    /// Verifies bcrypt hashes made by the Python recipe `bcrypt(password + PEPPER)` with
    /// this pepper (plain `bcrypt(password)` hashes verify with or without it).
    pub fn with_legacy_pepper(mut self, pepper: LegacyPepper) -> Self {
        self.legacy_pepper = Some(pepper);
        self
    }

    /// The algorithm used for new hashes.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The pepper set.
    pub fn peppers(&self) -> &PepperSet {
        &self.peppers
    }

    /// Hashes `password` with the current algorithm and pepper, under a fresh random salt.
    pub fn hash(&self, password: &[u8]) -> Result<String, HashError> {
        let id = self.peppers.current();
        let keyed = self.peppers.apply(id, password)?;
        let mut salt = [0u8; 16];
        getrandom::fill(&mut salt).map_err(|_| HashError::Rng)?;
        let inner = match self.algorithm {
            Algorithm::Argon2id(p) => {
                let mut h = Argon2Hash {
                    variant: Variant::Id,
                    version: 0x13,
                    m_kib: p.m_kib,
                    t: p.t,
                    p: p.p,
                    salt: salt.to_vec(),
                    hash: vec![0; 32],
                };
                let mut out = [0u8; 32];
                argon2_raw(&h, &keyed[..], &mut out)?;
                h.hash = out.to_vec();
                h.encode()
            }
            Algorithm::Bcrypt { cost } => {
                let input = bcrypt_input(&keyed);
                bcrypt::hash_with_salt(&input[..], cost, salt)
                    .map_err(|_| HashError::Internal("bcrypt"))?
                    .format_for_version(bcrypt::Version::TwoB)
            }
        };
        Ok(phc::with_pepper(id, &inner))
    }

    /// Checks `password` against `stored` in constant time with respect to the hash value.
    ///
    /// Errors are for stored strings that cannot be checked at all (unrecognised format,
    /// parameters out of bounds, a pepper version this hasher does not hold): they mean a
    /// damaged row or a missing key, never a wrong password.
    pub fn verify(&self, password: &[u8], stored: &str) -> Result<Verdict, HashError> {
        let (matched, rehash) = match phc::parse(stored)? {
            Stored::Peppered { pepper, inner } => {
                let keyed = self.peppers.apply(pepper, password)?;
                let matched = match &inner {
                    Inner::Argon2(h) => argon2_matches(h, &keyed[..])?,
                    Inner::Bcrypt { encoded, .. } => bcrypt_matches(&bcrypt_input(&keyed), encoded),
                };
                let rehash = if pepper != self.peppers.current() {
                    Some(RehashReason::PepperVersion)
                } else {
                    self.parameter_drift(&inner)
                };
                (matched, rehash)
            }
            Stored::Bare(Inner::Argon2(h)) => (
                argon2_matches(&h, password)?,
                Some(RehashReason::Unpeppered),
            ),
            Stored::Bare(Inner::Bcrypt { encoded, .. }) => (
                self.legacy_bcrypt_matches(password, encoded),
                Some(RehashReason::Unpeppered),
            ),
        };
        Ok(if matched {
            Verdict::Valid(Verified { rehash })
        } else {
            Verdict::Invalid
        })
    }

    /// Does the work of one verification against a hash of the current configuration and
    /// throws the answer away: call it for logins to accounts that do not exist, so they
    /// take as long as logins to accounts that do.
    pub fn dummy_verify(&self, password: &[u8]) {
        let stored = self.dummy.get_or_init(|| {
            let mut random = Zeroizing::new([0u8; 32]);
            let _ = getrandom::fill(&mut random[..]);
            self.hash(&random[..]).unwrap_or_default()
        });
        let _ = self.verify(password, stored);
    }

    /// Does the work of a failed verification against an imported (unpeppered) bcrypt hash
    /// of `cost`: one bcrypt computation, two when a legacy pepper is configured (both
    /// recipes are tried). Pair it with [`PasswordHasher::dummy_verify`] so that, while
    /// imported hashes remain, every login pays for both kinds and none can be told apart.
    pub fn dummy_verify_legacy(&self, password: &[u8], cost: u32) {
        let cost = cost.clamp(4, phc::MAX_BCRYPT_COST);
        // A fixed, valid hash shape of the right cost: the work is in the computation.
        let stored = format!("$2b${cost:02}$abcdefghijklmnopqrstu................................");
        let _ = self.legacy_bcrypt_matches(password, &stored);
    }

    fn parameter_drift(&self, inner: &Inner<'_>) -> Option<RehashReason> {
        match (self.algorithm, inner) {
            (Algorithm::Argon2id(p), Inner::Argon2(h)) => {
                let same = h.variant == Variant::Id
                    && h.version == 0x13
                    && (h.m_kib, h.t, h.p) == (p.m_kib, p.t, p.p)
                    && h.hash.len() == 32;
                (!same).then_some(RehashReason::Parameters)
            }
            (Algorithm::Bcrypt { cost }, Inner::Bcrypt { cost: stored, .. }) => {
                (cost != *stored).then_some(RehashReason::Parameters)
            }
            _ => Some(RehashReason::Algorithm),
        }
    }

    fn legacy_bcrypt_matches(&self, password: &[u8], encoded: &str) -> bool {
        if let Some(LegacyPepper(pepper)) = &self.legacy_pepper {
            let mut with_pepper = Zeroizing::new(password.to_vec());
            pepper.expose(|p| with_pepper.extend_from_slice(p.as_bytes()));
            if bcrypt_matches(&with_pepper, encoded) {
                return true;
            }
        }
        bcrypt_matches(password, encoded)
    }
}

/// What a stored hash is, read without hashing anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoredKind {
    /// Peppered (this library's own), with its pepper version.
    Peppered {
        /// The pepper version.
        pepper: u32,
    },
    /// An imported Argon2 hash without pepper.
    ImportedArgon2,
    /// An imported bcrypt hash (plain or `password + PEPPER`), with its cost.
    ImportedBcrypt {
        /// log2 of the rounds.
        cost: u32,
    },
}

/// Classifies a stored hash without computing anything: for importers (refuse rows that
/// cannot be verified) and for timing equalisation (the slowest imported cost).
pub fn inspect(stored: &str) -> Result<StoredKind, HashError> {
    Ok(match phc::parse(stored)? {
        Stored::Peppered { pepper, .. } => StoredKind::Peppered { pepper },
        Stored::Bare(Inner::Argon2(_)) => StoredKind::ImportedArgon2,
        Stored::Bare(Inner::Bcrypt { cost, .. }) => StoredKind::ImportedBcrypt { cost },
    })
}

/// The bcrypt input for a peppered hash: standard base64 of the 32-byte HMAC (44 ASCII
/// bytes, no NUL, under the 72-byte limit).
fn bcrypt_input(keyed: &[u8; 32]) -> Zeroizing<Vec<u8>> {
    Zeroizing::new(STANDARD.encode(keyed).into_bytes())
}

fn bcrypt_matches(password: &[u8], encoded: &str) -> bool {
    // bcrypt::verify recomputes and compares with `subtle`; like every bcrypt it uses only
    // the first 72 bytes, which is right for imported hashes and never reached by ours.
    bcrypt::verify(password, encoded).unwrap_or(false)
}

thread_local! {
    /// Argon2's working memory, kept per thread and reused: allocating 19 MiB per hash made
    /// the C allocator keep freed buffers resident (measured: +19 MiB per hash on a worker
    /// thread, 440 MB under a login flood). Zeroized after every hash: its blocks would let
    /// a guess be checked without paying Argon2's cost.
    static ARGON2_MEMORY: std::cell::RefCell<Vec<argon2::Block>> = const { std::cell::RefCell::new(Vec::new()) };
}

fn argon2_raw(h: &Argon2Hash, password: &[u8], out: &mut [u8]) -> Result<(), HashError> {
    use zeroize::Zeroize;
    let params = argon2::Params::new(h.m_kib, h.t, h.p, Some(out.len()))
        .map_err(|_| HashError::ParametersOutOfBounds)?;
    let blocks = params.block_count();
    let version = if h.version == 0x10 {
        argon2::Version::V0x10
    } else {
        argon2::Version::V0x13
    };
    let argon = argon2::Argon2::new(h.variant.algorithm(), version, params);
    ARGON2_MEMORY.with_borrow_mut(|memory| {
        // Grow to fit; give memory back after an unusually large (imported) hash.
        if memory.len() < blocks || memory.len() > blocks * 2 {
            *memory = vec![argon2::Block::new(); blocks];
        }
        let result =
            argon.hash_password_into_with_memory(password, &h.salt, out, &mut memory[..blocks]);
        memory[..blocks].iter_mut().for_each(Zeroize::zeroize);
        result.map_err(|_| HashError::ParametersOutOfBounds)
    })
}

fn argon2_matches(h: &Argon2Hash, password: &[u8]) -> Result<bool, HashError> {
    let mut out = Zeroizing::new(vec![0u8; h.hash.len()]);
    argon2_raw(h, password, &mut out)?;
    Ok(out.ct_eq(&h.hash).into())
}
