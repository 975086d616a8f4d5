//! Password hashing with a versioned pepper, import of Python-era bcrypt hashes, and the
//! policy for new passwords.
//!
//! Stops: offline cracking of a stolen hash table (Argon2id, memory-hard, plus a pepper kept
//! out of the database); the bcrypt 72-byte truncation that silently drops an appended
//! pepper; weak, breached and personal passwords; user enumeration by timing (a dummy
//! verification costs what a real one does); and memory exhaustion from a login flood (the
//! async pool bounds concurrent hashes).
//!
//! # Example
//! ```
//! use palisade::password::{PasswordHasher, PepperSet, Verdict};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let hasher = PasswordHasher::new(PepperSet::new(1, PepperSet::generate_key()?)?);
//! let stored = hasher.hash(b"correct horse battery staple")?;
//! assert!(stored.starts_with("$pepper$1$argon2id$v=19$m=19456,t=2,p=1$"));
//! match hasher.verify(b"correct horse battery staple", &stored)? {
//!     Verdict::Valid(v) => assert!(!v.needs_rehash()),
//!     Verdict::Invalid => unreachable!(),
//! }
//! assert_eq!(hasher.verify(b"wrong", &stored)?, Verdict::Invalid);
//! # Ok(()) }
//! ```
//!
//! # Deployment caveat
//! The pepper only helps while it stays out of the database and its backups: keep it in a
//! file or secret store of its own. Losing it makes every peppered hash unverifiable.

mod blocklist;
mod hasher;
mod pepper;
mod phc;
mod policy;
#[cfg(feature = "tokio")]
mod pool;

pub use blocklist::{Blocklist, BlocklistError};
pub use hasher::{
    Algorithm, Argon2Params, PasswordHasher, RehashReason, StoredKind, Verdict, Verified, inspect,
};
pub use pepper::{LegacyPepper, MIN_PEPPER_BYTES, PepperSet};
pub use policy::{PasswordPolicy, PolicyViolation, user_words};
#[cfg(feature = "tokio")]
pub use pool::HashPool;

/// Why hashing or verification could not be done (never "wrong password", which is
/// [`Verdict::Invalid`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HashError {
    /// The stored string is not a hash this library knows.
    #[error("the stored password hash is not in a recognised format")]
    UnrecognisedFormat,
    /// The stored hash (or the configuration) asks for more work than allowed.
    #[error("password hash parameters are outside the accepted bounds")]
    ParametersOutOfBounds,
    /// The stored hash was made with a pepper version this hasher does not hold.
    #[error("the stored password hash needs pepper version {0}, which is not configured")]
    UnknownPepper(u32),
    /// Invalid configuration.
    #[error("invalid password hashing configuration: {0}")]
    Config(&'static str),
    /// The operating system's random number generator failed.
    #[error("the operating system's random number generator failed")]
    Rng,
    /// The hashing task could not run (the pool was shut down).
    #[error("password hashing failed: {0}")]
    Internal(&'static str),
}

#[cfg(test)]
mod tests;
