//! Secrets: zeroizing containers, a Fernet keyring, and sealed values for storage.
//!
//! Stops: secrets lingering in freed memory, leaking through `Debug`/`Display`/logs, keys
//! readable by other local users, and tokens that cannot be re-keyed without downtime.
//!
//! # Example
//! ```
//! use palisade::secret::{FernetKey, Keyring};
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let ring = Keyring::new(vec![FernetKey::generate()?])?;
//! let token = ring.encrypt(b"db password")?;
//! let out = ring.decrypt(&token, None)?;
//! out.plaintext.expose(|v| assert_eq!(v, b"db password"));
//! assert_eq!(format!("{:?}", out.plaintext), "[redacted]");
//! # Ok(()) }
//! ```
//!
//! # Deployment caveat
//! Memory is zeroized on drop but not locked: a secret can reach swap or a core dump while
//! it is alive. Disable core dumps and use encrypted swap on hosts that hold keys.

mod envelope;
mod fernet;
mod keyfile;
mod value;

pub use envelope::sealed_key_id;
pub use fernet::{Decrypted, FernetError, FernetKey, Keyring};
pub use keyfile::{KeyLoadError, ensure_private_file};
pub use value::{SecretBytes, SecretString};
