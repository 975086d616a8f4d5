//! The OpenID provider's JWS check (`oidc/jwt.rs`): never panics, and nothing but the
//! genuine tokens verifies — every change of a genuine token's text, and every made-up
//! token (`alg: none`, HMAC, another key, a `kid` that is not ours), is refused.
#![no_main]

use libfuzzer_sys::fuzz_target;
use palisade_service::fuzzing::{genuine_jwts, verify_jwt};

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    if verify_jwt(token) {
        assert!(
            genuine_jwts().iter().any(|g| g == token),
            "{token:?} verified but was never signed"
        );
    }
});
