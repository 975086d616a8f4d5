//! The configuration file (`palisade serve --config FILE`): any bytes either load or give a
//! `configuration: …` message — never a panic — and a secret given in the file never shows
//! in the loaded configuration's `Debug` output or in the message.
#![no_main]

use std::io::Write;

use libfuzzer_sys::fuzz_target;
use palisade_service::{Config, Overrides};

fuzz_target!(|data: &[u8]| {
    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    file.write_all(data).expect("write");
    let secret_values: Vec<String> = secret_values(data);
    match Config::load(Some(file.path()), Overrides::default()) {
        Ok(config) => {
            let shown = format!("{config:?}");
            for value in &secret_values {
                assert!(!shown.contains(value.as_str()), "a secret setting shows in Debug");
            }
        }
        Err(message) => {
            assert!(message.starts_with("configuration"), "{message}");
            for value in &secret_values {
                assert!(!message.contains(value.as_str()), "a secret setting shows in an error");
            }
        }
    }
});

/// Values of the secret settings written as `key = "value"` lines, long enough that finding
/// them elsewhere is not a coincidence.
fn secret_values(data: &[u8]) -> Vec<String> {
    const SECRET_KEYS: [&str; 4] = [
        "metrics_token",
        "legacy_bcrypt_pepper",
        "database_password_token",
        "database_url",
    ];
    let Ok(text) = std::str::from_utf8(data) else {
        return Vec::new();
    };
    text.lines()
        .filter_map(|line| {
            let (key, value) = line.split_once('=')?;
            let key = key.trim();
            let value = value.trim().strip_prefix('"')?.strip_suffix('"')?;
            let wanted = SECRET_KEYS.contains(&key) && value.len() >= 12;
            // A URL's password is what is secret, not the rest of it.
            let value = if key == "database_url" {
                value.split_once("://")?.1.split_once('@')?.0.split_once(':')?.1
            } else {
                value
            };
            (wanted && value.len() >= 12 && value.chars().all(|c| c.is_ascii_alphanumeric()))
                .then(|| value.to_owned())
        })
        .collect()
}
