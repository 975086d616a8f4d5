//! Fernet tokens and sealed envelopes from storage or a user: opening never panics, and
//! nothing opens that was not sealed under the key.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use palisade::secret::{FernetKey, Keyring};

fn ring() -> &'static Keyring {
    static RING: OnceLock<Keyring> = OnceLock::new();
    RING.get_or_init(|| {
        // A fresh key: the seed tokens were made under the spec's published keys.
        Keyring::new(vec![FernetKey::generate().unwrap()]).unwrap()
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // A forged token or envelope must not open: the fuzzer cannot make a valid MAC.
    assert!(ring().decrypt(text, None).is_err());
    assert!(ring().open(text, b"palisade-vault\0001\0name").is_err());
});
