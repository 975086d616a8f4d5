//! Stored hashes (PHC strings, bcrypt, peppered): inspecting and verifying never panics
//! and never allocates what the string asks for unchecked.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use palisade::password::{Algorithm, Argon2Params, PasswordHasher, PepperSet, inspect};
use palisade::secret::SecretBytes;

fn hasher() -> &'static PasswordHasher {
    static HASHER: OnceLock<PasswordHasher> = OnceLock::new();
    HASHER.get_or_init(|| {
        let peppers = PepperSet::new(1, SecretBytes::copy_from(&[7u8; 32])).expect("a pepper");
        PasswordHasher::new(peppers)
            .with_algorithm(Algorithm::Argon2id(Argon2Params {
                m_kib: 64,
                t: 1,
                p: 1,
            }))
            .expect("cheap parameters")
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(stored) = std::str::from_utf8(data) else {
        return;
    };
    let _ = inspect(stored);
    let _ = hasher().verify(b"correct horse battery staple", stored);
});
