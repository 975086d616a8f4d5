mod reference_vectors;

use super::*;
use crate::secret::{SecretBytes, SecretString};

fn key(byte: u8) -> SecretBytes {
    SecretBytes::new(vec![byte; 32])
}

fn hasher_v1() -> PasswordHasher {
    PasswordHasher::new(PepperSet::new(1, key(1)).unwrap())
}

fn valid(v: Verdict) -> Verified {
    match v {
        Verdict::Valid(v) => v,
        Verdict::Invalid => panic!("expected a valid verdict"),
    }
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

#[test]
fn argon2id_default_roundtrip_no_rehash() {
    let h = hasher_v1();
    let stored = h.hash(b"correct horse battery staple").unwrap();
    assert!(
        stored.starts_with("$pepper$1$argon2id$v=19$m=19456,t=2,p=1$"),
        "{stored}"
    );
    assert!(!valid(h.verify(b"correct horse battery staple", &stored).unwrap()).needs_rehash());
    assert_eq!(
        h.verify(b"correct horse battery stapl", &stored).unwrap(),
        Verdict::Invalid
    );
    // Salted: the same password never hashes twice to one string.
    assert_ne!(stored, h.hash(b"correct horse battery staple").unwrap());
}

#[test]
fn bcrypt_with_pepper_73_bytes_never_collides_with_72_byte_prefix() {
    let h = hasher_v1()
        .with_algorithm(Algorithm::Bcrypt { cost: 4 })
        .unwrap();
    let long = [b'a'; 73];
    let stored = h.hash(&long).unwrap();
    assert!(stored.starts_with("$pepper$1$2b$04$"));
    assert!(h.verify(&long, &stored).unwrap().is_valid());
    assert_eq!(h.verify(&long[..72], &stored).unwrap(), Verdict::Invalid);
    // And passwords differing only after byte 72 stay distinct.
    let mut other = long;
    other[72] = b'b';
    assert_eq!(h.verify(&other, &stored).unwrap(), Verdict::Invalid);
    // The weakness being fixed: plain bcrypt of the same inputs does collide.
    let plain = bcrypt::hash(&long[..], 4).unwrap();
    assert!(bcrypt::verify(&long[..72], &plain).unwrap());
}

#[test]
fn bcrypt_input_handles_nul_and_non_utf8() {
    let h = hasher_v1()
        .with_algorithm(Algorithm::Bcrypt { cost: 4 })
        .unwrap();
    let stored = h.hash(b"ab\0cd").unwrap();
    assert!(h.verify(b"ab\0cd", &stored).unwrap().is_valid());
    assert_eq!(h.verify(b"ab", &stored).unwrap(), Verdict::Invalid);
    let stored = h.hash(&[0xff, 0xfe, 0x00]).unwrap();
    assert!(h.verify(&[0xff, 0xfe, 0x00], &stored).unwrap().is_valid());
}

#[test]
fn old_pepper_verifies_and_asks_to_be_replaced() {
    let v1 = hasher_v1();
    let stored = v1.hash(b"a password under pepper one").unwrap();
    let v2 = PasswordHasher::new(
        PepperSet::new(2, key(2))
            .unwrap()
            .with_previous(1, key(1))
            .unwrap(),
    );
    let verified = valid(v2.verify(b"a password under pepper one", &stored).unwrap());
    assert_eq!(verified.rehash_reason(), Some(RehashReason::PepperVersion));
    let rehashed = v2.hash(b"a password under pepper one").unwrap();
    assert!(rehashed.starts_with("$pepper$2$"));
    assert!(
        !valid(
            v2.verify(b"a password under pepper one", &rehashed)
                .unwrap()
        )
        .needs_rehash()
    );
    // Wrong password under the old pepper is still wrong.
    assert_eq!(
        v2.verify(b"another password", &stored).unwrap(),
        Verdict::Invalid
    );
}

#[test]
fn a_hash_is_useless_without_its_pepper() {
    let stored = hasher_v1().hash(b"pepper protects me").unwrap();
    // Same version number, different key (a stolen database, the attacker guesses keys).
    let impostor = PasswordHasher::new(PepperSet::new(1, key(9)).unwrap());
    assert_eq!(
        impostor.verify(b"pepper protects me", &stored).unwrap(),
        Verdict::Invalid
    );
    // Version not held: an error, not a silent "invalid".
    let other = PasswordHasher::new(PepperSet::new(5, key(5)).unwrap());
    assert_eq!(
        other.verify(b"pepper protects me", &stored).unwrap_err(),
        HashError::UnknownPepper(1)
    );
    // Stripping the prefix does not make it verify as a bare hash either.
    let bare = stored.trim_start_matches("$pepper$1");
    assert_eq!(
        hasher_v1().verify(b"pepper protects me", bare).unwrap(),
        Verdict::Invalid
    );
}

#[test]
fn parameter_and_algorithm_changes_ask_for_rehash() {
    let cheap = Algorithm::Argon2id(Argon2Params {
        m_kib: 1024,
        t: 1,
        p: 1,
    });
    let old = hasher_v1().with_algorithm(cheap).unwrap();
    let stored = old.hash(b"parameters change").unwrap();
    let current = hasher_v1();
    assert_eq!(
        valid(current.verify(b"parameters change", &stored).unwrap()).rehash_reason(),
        Some(RehashReason::Parameters)
    );
    let bcrypt = hasher_v1()
        .with_algorithm(Algorithm::Bcrypt { cost: 4 })
        .unwrap();
    let stored = bcrypt.hash(b"parameters change").unwrap();
    assert_eq!(
        valid(current.verify(b"parameters change", &stored).unwrap()).rehash_reason(),
        Some(RehashReason::Algorithm)
    );
    let bcrypt5 = hasher_v1()
        .with_algorithm(Algorithm::Bcrypt { cost: 5 })
        .unwrap();
    assert_eq!(
        valid(bcrypt5.verify(b"parameters change", &stored).unwrap()).rehash_reason(),
        Some(RehashReason::Parameters)
    );
}

#[test]
fn configuration_bounds() {
    assert!(
        hasher_v1()
            .with_algorithm(Algorithm::Bcrypt { cost: 3 })
            .is_err()
    );
    assert!(
        hasher_v1()
            .with_algorithm(Algorithm::Bcrypt { cost: 21 })
            .is_err()
    );
    assert!(
        hasher_v1()
            .with_algorithm(Algorithm::Argon2id(Argon2Params {
                m_kib: 4,
                t: 1,
                p: 1
            }))
            .is_err()
    );
    assert!(
        hasher_v1()
            .with_algorithm(Algorithm::Argon2id(Argon2Params {
                m_kib: 1 << 21,
                t: 1,
                p: 1
            }))
            .is_err()
    );
    assert!(PepperSet::new(1, SecretBytes::new(vec![0; 31])).is_err());
    assert!(
        PepperSet::new(1, key(1))
            .unwrap()
            .with_previous(1, key(2))
            .is_err()
    );
}

#[test]
fn hostile_stored_hashes_are_errors_not_panics_or_huge_allocations() {
    let h = hasher_v1();
    for stored in [
        "",
        "$",
        "plaintext-password",
        "$pepper$1$",
        "$pepper$1$plain",
        "$argon2id$v=19$m=4294967295,t=1,p=1$c29tZXNhbHQ$9sTbSlTio3Biev89thdrlKKiCaYsjjYVJxGAL3swxpQ",
        "$argon2id$v=19$m=65536,t=4294967295,p=1$c29tZXNhbHQ$9sTbSlTio3Biev89thdrlKKiCaYsjjYVJxGAL3swxpQ",
        "$2b$31$cVWp4XaNU8a4v1uMRum2SO026BWLIoQMD/TXg5uZV.0P.uO8m3YEm",
    ] {
        assert!(h.verify(b"x", stored).is_err(), "{stored}");
    }
}

#[test]
fn debug_output_holds_no_pepper() {
    let h = hasher_v1().with_legacy_pepper(LegacyPepper::new(SecretString::new(
        "LEGACY-PEPPER-VALUE".into(),
    )));
    let shown = format!("{h:?}");
    assert!(
        !shown.contains("LEGACY") && !shown.contains("[1, 1, 1"),
        "{shown}"
    );
    assert!(shown.contains("[redacted]"));
}

#[test]
fn legacy_bcrypt_with_appended_pepper_verifies_and_needs_rehash() {
    let legacy = b"S3cr3t-Pepper";
    let stored_peppered = bcrypt::hash([&b"hunter2hunter2"[..], legacy].concat(), 4).unwrap();
    let stored_plain = bcrypt::hash(b"hunter2hunter2", 4).unwrap();
    let without = hasher_v1();
    assert_eq!(
        without.verify(b"hunter2hunter2", &stored_peppered).unwrap(),
        Verdict::Invalid
    );
    let with = hasher_v1()
        .with_legacy_pepper(LegacyPepper::new(SecretString::new("S3cr3t-Pepper".into())));
    for stored in [&stored_peppered, &stored_plain] {
        let v = valid(with.verify(b"hunter2hunter2", stored).unwrap());
        assert_eq!(v.rehash_reason(), Some(RehashReason::Unpeppered));
        assert_eq!(
            with.verify(b"hunter2hunter3", stored).unwrap(),
            Verdict::Invalid
        );
    }
}

#[test]
fn dummy_verify_uses_the_current_configuration() {
    let h = hasher_v1()
        .with_algorithm(Algorithm::Bcrypt { cost: 4 })
        .unwrap();
    h.dummy_verify(b"no such user");
    let dummy = h.dummy.get().unwrap();
    assert!(dummy.starts_with("$pepper$1$2b$04$"), "{dummy}");
    assert!(!h.verify(b"no such user", dummy).unwrap().is_valid());
}

proptest::proptest! {
    #[test]
    fn verify_never_panics_on_hostile_stored_strings(
        prefix in proptest::sample::select(vec!["", "$pepper$1", "$pepper$1$2b$04$", "$2b$04$", "$argon2id$v=19$m=8,t=1,p=1$"]),
        rest in ".{0,70}",
    ) {
        let stored = format!("{prefix}{rest}");
        let _ = hasher_v1().verify(b"x", &stored);
    }
}

#[test]
fn inspect_classifies_without_hashing_and_legacy_dummy_runs() {
    let h = hasher_v1();
    let stored = h.hash(b"x").unwrap();
    assert_eq!(
        inspect(&stored).unwrap(),
        StoredKind::Peppered { pepper: 1 }
    );
    let legacy = bcrypt::hash(b"x", 5).unwrap();
    assert_eq!(
        inspect(&legacy).unwrap(),
        StoredKind::ImportedBcrypt { cost: 5 }
    );
    assert_eq!(
        inspect(
            "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$9sTbSlTio3Biev89thdrlKKiCaYsjjYVJxGAL3swxpQ"
        )
        .unwrap(),
        StoredKind::ImportedArgon2
    );
    assert!(inspect("md5$abc").is_err());
    // The dummy shape parses as a bcrypt hash of the requested cost.
    let shape = format!(
        "$2b${:02}$abcdefghijklmnopqrstu................................",
        6
    );
    assert_eq!(
        inspect(&shape).unwrap(),
        StoredKind::ImportedBcrypt { cost: 6 }
    );
    assert_eq!(
        bcrypt::verify(b"x", &shape).ok(),
        Some(false),
        "a computable hash, so the dummy does the work"
    );
    h.dummy_verify_legacy(b"x", 4);
}
