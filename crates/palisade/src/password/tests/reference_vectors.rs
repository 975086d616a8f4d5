//! Argon2 and bcrypt against their published reference vectors (the shared test data).

use super::*;
use crate::test_helpers as testdata;
use phc::{Inner, Stored};

#[test]
fn argon2_reference_vectors() {
    let Some(dir) = testdata::testdata_dir("argon2 vectors") else {
        return;
    };
    let v: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("passwords/argon2_vectors.json")).unwrap(),
    )
    .unwrap();
    let h = hasher_v1();
    let (mut passed, mut skipped) = (0, 0);
    for case in v["hash_vectors"].as_array().unwrap() {
        if case["large_ram"].as_bool().unwrap() {
            skipped += 1; // 1 GiB each: beyond the bound a stored hash may ask for in tests' time.
            continue;
        }
        let encoded = case["encoded"].as_str().unwrap();
        let password = case["password"].as_str().unwrap().as_bytes();
        let verified = valid(h.verify(password, encoded).unwrap());
        assert_eq!(verified.rehash_reason(), Some(RehashReason::Unpeppered));
        assert_eq!(
            h.verify(b"not the password", encoded).unwrap(),
            Verdict::Invalid
        );
        let Stored::Bare(Inner::Argon2(parsed)) = phc::parse(encoded).unwrap() else {
            panic!()
        };
        assert_eq!(parsed.hash, hex(case["hash_hex"].as_str().unwrap()));
        passed += 1;
    }
    for case in v["invalid_encoded"].as_array().unwrap() {
        let r = h.verify(
            case["password"].as_str().unwrap().as_bytes(),
            case["encoded"].as_str().unwrap(),
        );
        assert!(!matches!(r, Ok(Verdict::Valid(_))), "{case}");
        passed += 1;
    }
    for case in v["rfc9106_kats"].as_array().unwrap() {
        // Secret and associated data are Argon2 inputs palisade does not use (its pepper is
        // an HMAC); these pin the dependency's core against RFC 9106.
        let alg = match case["type"].as_str().unwrap() {
            "argon2d" => argon2::Algorithm::Argon2d,
            "argon2i" => argon2::Algorithm::Argon2i,
            _ => argon2::Algorithm::Argon2id,
        };
        let version = if case["version"] == 16 {
            argon2::Version::V0x10
        } else {
            argon2::Version::V0x13
        };
        let ad = hex(case["ad_hex"].as_str().unwrap());
        let mut b = argon2::ParamsBuilder::new();
        b.m_cost(case["memory_kib"].as_u64().unwrap() as u32)
            .t_cost(case["t_cost"].as_u64().unwrap() as u32)
            .p_cost(case["parallelism"].as_u64().unwrap() as u32)
            .data(argon2::AssociatedData::new(&ad).unwrap())
            .output_len(32);
        let secret = hex(case["secret_hex"].as_str().unwrap());
        let a = argon2::Argon2::new_with_secret(&secret, alg, version, b.build().unwrap()).unwrap();
        let mut out = [0u8; 32];
        a.hash_password_into(
            &hex(case["password_hex"].as_str().unwrap()),
            &hex(case["salt_hex"].as_str().unwrap()),
            &mut out,
        )
        .unwrap();
        assert_eq!(out.to_vec(), hex(case["tag_hex"].as_str().unwrap()));
        passed += 1;
    }
    eprintln!("argon2_vectors.json: {passed} pass, {skipped} skipped (large_ram)");
}

#[test]
fn bcrypt_reference_vectors() {
    let Some(dir) = testdata::testdata_dir("bcrypt vectors") else {
        return;
    };
    let v: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("passwords/bcrypt_vectors.json")).unwrap(),
    )
    .unwrap();
    let h = hasher_v1();
    let mut passed = 0;
    for case in v["valid"].as_array().unwrap() {
        let password = hex(case["password_hex"].as_str().unwrap());
        let stored = case["hash"].as_str().unwrap();
        let verified = valid(h.verify(&password, stored).unwrap());
        assert_eq!(verified.rehash_reason(), Some(RehashReason::Unpeppered));
        let mut wrong = password.clone();
        wrong.push(b'!');
        if password.len() < 72 {
            assert_eq!(
                h.verify(&wrong, stored).unwrap(),
                Verdict::Invalid,
                "{stored}"
            );
        }
        passed += 1;
    }
    for case in v["wrong_password"].as_array().unwrap() {
        assert_eq!(
            h.verify(
                case["password"].as_str().unwrap().as_bytes(),
                case["hash"].as_str().unwrap()
            )
            .unwrap(),
            Verdict::Invalid
        );
        passed += 1;
    }
    for case in v["invalid_hash"].as_array().unwrap() {
        let password = match case["password_hex"].as_str() {
            Some(p) => hex(p),
            None => case["password"].as_str().unwrap().as_bytes().to_vec(),
        };
        let stored = match case["hash_hex"].as_str() {
            Some(s) => String::from_utf8(hex(s)).unwrap(),
            None => case["hash"].as_str().unwrap().to_owned(),
        };
        let r = h.verify(&password, &stored);
        assert!(!matches!(r, Ok(Verdict::Valid(_))), "{case}");
        passed += 1;
    }
    eprintln!("bcrypt_vectors.json: {passed} pass");
}
