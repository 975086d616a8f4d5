use super::*;

use crate::test_helpers as testdata;

use testdata::{rfc3339_to_unix, testdata_dir};

fn load(name: &str) -> Option<Vec<serde_json::Value>> {
    let dir = testdata_dir(&format!("fernet spec {name}"))?;
    let text = std::fs::read_to_string(dir.join("fernet").join(name)).unwrap();
    Some(serde_json::from_str(&text).unwrap())
}

fn ring(secret: &serde_json::Value) -> Keyring {
    Keyring::new(vec![FernetKey::parse(secret.as_str().unwrap()).unwrap()]).unwrap()
}

#[test]
fn spec_generate_vectors() {
    let Some(cases) = load("generate.json") else {
        return;
    };
    assert!(!cases.is_empty());
    for case in &cases {
        let ring = ring(&case["secret"]);
        let iv: Vec<u8> = case["iv"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as u8)
            .collect();
        let now = rfc3339_to_unix(case["now"].as_str().unwrap());
        let token = encrypt_parts(
            &ring.keys[0],
            case["src"].as_str().unwrap().as_bytes(),
            now,
            iv.try_into().unwrap(),
        );
        assert_eq!(token, case["token"].as_str().unwrap());
    }
    eprintln!(
        "fernet generate.json: {} of {} pass",
        cases.len(),
        cases.len()
    );
}

#[test]
fn spec_verify_vectors() {
    let Some(cases) = load("verify.json") else {
        return;
    };
    assert!(!cases.is_empty());
    for case in &cases {
        let ring = ring(&case["secret"]);
        let now = rfc3339_to_unix(case["now"].as_str().unwrap());
        let ttl = Duration::from_secs(case["ttl_sec"].as_u64().unwrap());
        let out = ring
            .decrypt_at(case["token"].as_str().unwrap(), Some(ttl), now)
            .unwrap();
        out.plaintext
            .expose(|pt| assert_eq!(pt, case["src"].as_str().unwrap().as_bytes()));
    }
    eprintln!(
        "fernet verify.json: {} of {} pass",
        cases.len(),
        cases.len()
    );
}

#[test]
fn spec_invalid_vectors() {
    let Some(cases) = load("invalid.json") else {
        return;
    };
    assert_eq!(cases.len(), 8);
    for case in &cases {
        let ring = ring(&case["secret"]);
        let now = rfc3339_to_unix(case["now"].as_str().unwrap());
        let ttl = Duration::from_secs(case["ttl_sec"].as_u64().unwrap());
        let desc = case["desc"].as_str().unwrap();
        let err = ring
            .decrypt_at(case["token"].as_str().unwrap(), Some(ttl), now)
            .unwrap_err();
        let expected = match desc {
            "expired TTL" => FernetError::Expired,
            d if d.starts_with("far-future") => FernetError::FromTheFuture,
            _ => FernetError::InvalidToken,
        };
        assert_eq!(err, expected, "{desc}");
    }
    eprintln!(
        "fernet invalid.json: {} of {} refused as expected",
        cases.len(),
        cases.len()
    );
}

fn fresh_ring(n: usize) -> Keyring {
    Keyring::new((0..n).map(|_| FernetKey::generate().unwrap()).collect()).unwrap()
}

#[test]
fn round_trip_and_every_key_decrypts() {
    let old = fresh_ring(1);
    let token = old.encrypt(b"db-password").unwrap();
    let old_key = FernetKey::parse(
        std::str::from_utf8(&old.keys[0].encode().expose(<[u8]>::to_vec)).unwrap(),
    )
    .unwrap();
    let ring = Keyring::new(vec![FernetKey::generate().unwrap(), old_key]).unwrap();
    let out = ring.decrypt(&token, None).unwrap();
    assert_eq!(out.key_index, 1);
    out.plaintext.expose(|pt| assert_eq!(pt, b"db-password"));
    // New tokens use the first key.
    assert_eq!(
        ring.decrypt(&ring.encrypt(b"x").unwrap(), None)
            .unwrap()
            .key_index,
        0
    );
}

#[test]
fn rotate_moves_to_first_key_and_keeps_timestamp() {
    let old = fresh_ring(1);
    let token = encrypt_parts(&old.keys[0], b"value", 1_000_000, [7; 16]);
    let encoded = old.keys[0].encode();
    let ring = Keyring::new(vec![
        FernetKey::generate().unwrap(),
        FernetKey::parse(std::str::from_utf8(&encoded.expose(<[u8]>::to_vec)).unwrap()).unwrap(),
    ])
    .unwrap();
    let rotated = ring.rotate(&token).unwrap();
    let out = ring.decrypt_at(&rotated, None, 1_000_001).unwrap();
    assert_eq!(out.key_index, 0);
    assert_eq!(out.timestamp, 1_000_000);
    // Once the old key is removed, the old token is refused and the rotated one still works.
    let only_new = Keyring::new(vec![
        FernetKey::parse(
            std::str::from_utf8(&ring.keys[0].encode().expose(<[u8]>::to_vec)).unwrap(),
        )
        .unwrap(),
    ])
    .unwrap();
    assert_eq!(
        only_new.decrypt(&token, None).unwrap_err(),
        FernetError::InvalidToken
    );
    assert!(only_new.decrypt(&rotated, None).is_ok());
}

#[test]
fn a_token_from_a_removed_key_is_refused() {
    let ring = fresh_ring(2);
    let token = encrypt_parts(&ring.keys[1], b"secret", unix_now(), [1; 16]);
    assert!(ring.decrypt(&token, None).is_ok());
    let without = Keyring::new(vec![ring.keys.into_iter().next().unwrap()]).unwrap();
    assert_eq!(
        without.decrypt(&token, None).unwrap_err(),
        FernetError::InvalidToken
    );
}

#[test]
fn every_single_bit_flip_is_refused() {
    let ring = fresh_ring(1);
    let token = ring.encrypt(b"attack at dawn").unwrap();
    let raw = URL_SAFE.decode(&token).unwrap();
    for i in 0..raw.len() {
        for bit in 0..8 {
            let mut t = raw.clone();
            t[i] ^= 1 << bit;
            let forged = URL_SAFE.encode(&t);
            assert!(ring.decrypt(&forged, None).is_err(), "byte {i} bit {bit}");
        }
    }
    // Truncation and extension too.
    assert!(
        ring.decrypt(&URL_SAFE.encode(&raw[..raw.len() - 1]), None)
            .is_err()
    );
    let mut longer = raw.clone();
    longer.extend_from_slice(&[0; 16]);
    assert!(ring.decrypt(&URL_SAFE.encode(&longer), None).is_err());
    assert!(ring.decrypt("", None).is_err());
}

#[test]
fn keys_parse_strictly_and_never_echo() {
    for bad in [
        "",
        "short",
        "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4",
        "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4=AAAA",
        "!!!!",
    ] {
        if bad == "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4" {
            // Unpadded but valid: accepted.
            assert!(FernetKey::parse(bad).is_ok());
            continue;
        }
        let err = FernetKey::parse(bad).unwrap_err();
        assert_eq!(err, FernetError::InvalidKey);
        if !bad.is_empty() {
            assert!(!err.to_string().contains(bad));
        }
    }
    let key = FernetKey::generate().unwrap();
    let shown = format!("{key:?}");
    let encoded = key
        .encode()
        .expose(|b| String::from_utf8(b.to_vec()).unwrap());
    assert!(!shown.contains(&encoded));
    assert!(!shown.contains(&encoded[..10]));
}
