//! Interoperability with Python's `cryptography` (Fernet) and `bcrypt` packages.
//!
//! Runs when `PALISADE_PYTHON_TESTS=1` (CI sets it and installs both packages); otherwise
//! each test says it was skipped. With the variable set, a missing package fails the test.

use std::io::Write;
use std::process::{Command, Stdio};

use palisade::password::{LegacyPepper, PasswordHasher, PepperSet, RehashReason, Verdict};
use palisade::secret::{FernetKey, Keyring, SecretBytes, SecretString};

fn enabled(test: &str) -> bool {
    if std::env::var("PALISADE_PYTHON_TESTS").as_deref() == Ok("1") {
        return true;
    }
    eprintln!(
        "SKIPPED {test}: set PALISADE_PYTHON_TESTS=1 (needs python3 with cryptography and bcrypt)"
    );
    false
}

/// Runs a Python script with `input` on stdin and returns its stdout lines.
fn python(script: &str, input: &str) -> Vec<String> {
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3 runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

fn key_text(key: &FernetKey) -> String {
    key.encode()
        .expose(|k| String::from_utf8(k.to_vec()).unwrap())
}

#[test]
fn fernet_tokens_cross_both_ways_and_through_rotation() {
    if !enabled("fernet interop") {
        return;
    }
    let old = FernetKey::generate().unwrap();
    let new = FernetKey::generate().unwrap();
    let (old_text, new_text) = (key_text(&old), key_text(&new));
    let ours = Keyring::new(vec![FernetKey::parse(&old_text).unwrap()]).unwrap();
    let our_token = ours.encrypt("naïve ☃ value".as_bytes()).unwrap();

    let script = r#"
import sys
from cryptography.fernet import Fernet, MultiFernet
old, new, token = sys.stdin.read().split()
print(Fernet(old.encode()).decrypt(token.encode()).decode())
print(Fernet(old.encode()).encrypt("from python".encode()).decode())
print(MultiFernet([Fernet(new.encode()), Fernet(old.encode())]).rotate(token.encode()).decode())
"#;
    let lines = python(script, &format!("{old_text} {new_text} {our_token}"));
    assert_eq!(lines[0], "naïve ☃ value");
    let decrypted = ours.decrypt(&lines[1], None).unwrap();
    decrypted
        .plaintext
        .expose(|p| assert_eq!(p, b"from python"));

    // Python's MultiFernet.rotate output decrypts with the new key alone, keeping the time.
    let new_only = Keyring::new(vec![FernetKey::parse(&new_text).unwrap()]).unwrap();
    let rotated = new_only.decrypt(&lines[2], None).unwrap();
    assert_eq!(
        rotated.timestamp,
        ours.decrypt(&our_token, None).unwrap().timestamp
    );

    // Our rotate output decrypts in Python with the new key alone.
    let both = Keyring::new(vec![
        FernetKey::parse(&new_text).unwrap(),
        FernetKey::parse(&old_text).unwrap(),
    ])
    .unwrap();
    let our_rotated = both.rotate(&lines[1]).unwrap();
    let script = r#"
import sys
from cryptography.fernet import Fernet
new, token = sys.stdin.read().split()
print(Fernet(new.encode()).decrypt(token.encode()).decode())
"#;
    assert_eq!(
        python(script, &format!("{new_text} {our_rotated}")),
        ["from python"]
    );
}

#[test]
fn bcrypt_hashes_from_python_verify_and_ask_to_be_replaced() {
    if !enabled("bcrypt interop") {
        return;
    }
    // The usual recipe: bcrypt.hashpw(password + PEPPER, bcrypt.gensalt(...)).
    let script = r#"
import bcrypt
PEPPER = b"legacy-pepper-from-settings.py"
for password in [b"plain-old-password", "pässwörd-ünicode".encode()]:
    for prefix in [b"2a", b"2b"]:
        print(password.hex(), "plain", bcrypt.hashpw(password, bcrypt.gensalt(4, prefix)).decode())
        print(password.hex(), "peppered", bcrypt.hashpw(password + PEPPER, bcrypt.gensalt(4, prefix)).decode())
    # $2y$ is $2b$ under another name (PHP); pyca/bcrypt verifies it the same way.
    h = bcrypt.hashpw(password, bcrypt.gensalt(4)).decode().replace("$2b$", "$2y$", 1)
    assert bcrypt.checkpw(password, h.encode())
    print(password.hex(), "plain", h)
"#;
    let lines = python(script, "");
    assert_eq!(lines.len(), 10);
    let peppers = || PepperSet::new(1, SecretBytes::new(vec![7; 32])).unwrap();
    let with_legacy = PasswordHasher::new(peppers()).with_legacy_pepper(LegacyPepper::new(
        SecretString::new("legacy-pepper-from-settings.py".into()),
    ));
    let without_legacy = PasswordHasher::new(peppers());
    for line in &lines {
        let mut parts = line.split(' ');
        let (hex, kind, stored) = (
            parts.next().unwrap(),
            parts.next().unwrap(),
            parts.next().unwrap(),
        );
        let password: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect();
        match with_legacy.verify(&password, stored).unwrap() {
            Verdict::Valid(v) => assert_eq!(v.rehash_reason(), Some(RehashReason::Unpeppered)),
            Verdict::Invalid => panic!("{kind} {stored} did not verify"),
        }
        assert_eq!(
            with_legacy.verify(b"wrong password", stored).unwrap(),
            Verdict::Invalid
        );
        let expect_plain = kind == "plain";
        assert_eq!(
            without_legacy.verify(&password, stored).unwrap().is_valid(),
            expect_plain,
            "{kind} {stored}"
        );
        // The replacement hash is ours: peppered Argon2id.
        let replacement = with_legacy.hash(&password).unwrap();
        assert!(replacement.starts_with("$pepper$1$argon2id$"));
    }
}
