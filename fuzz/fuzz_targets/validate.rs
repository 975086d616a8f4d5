//! Input newtypes: parsing never panics; an email's comparison key is idempotent; what
//! `LogSafe` writes has no control characters.
#![no_main]

use libfuzzer_sys::fuzz_target;
use palisade::validate::{DisplayName, Email, LogSafe, Username};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(email) = Email::parse(text) {
        let key = email.comparison_key();
        let again = Email::parse(&key).expect("a comparison key parses as an email");
        assert_eq!(again.comparison_key(), key, "comparison key not idempotent");
    }
    let _ = Username::parse(text);
    let _ = DisplayName::parse(text);
    let shown = LogSafe::new(text).to_string();
    assert!(!shown.chars().any(char::is_control), "{shown:?}");
});
