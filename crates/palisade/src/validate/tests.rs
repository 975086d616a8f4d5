use super::*;
use proptest::prelude::*;

use crate::test_helpers as testdata;

#[test]
fn email_normalises_idna_and_folds_case_for_comparison() {
    let e = Email::parse("Alice.Smith+tag@Bücher.EXAMPLE").unwrap();
    assert_eq!(e.as_str(), "Alice.Smith+tag@xn--bcher-kva.example");
    assert_eq!(e.local_part(), "Alice.Smith+tag");
    assert_eq!(e.domain(), "xn--bcher-kva.example");
    let other = Email::parse("alice.smith+TAG@xn--bcher-kva.example").unwrap();
    assert_eq!(e.comparison_key(), other.comparison_key());
}

#[test]
fn email_refusals_name_the_rule_and_never_echo() {
    let long_local = format!("{}@example.com", "a".repeat(65));
    let long_total = format!("a@{}.com", "b".repeat(250));
    let cases: &[(&str, &str)] = &[
        ("", "must not be empty"),
        ("no-at.example.com", "exactly one '@'"),
        ("a@b@example.com", "exactly one '@'"),
        ("@example.com", "before the '@'"),
        ("a@", "domain after"),
        ("a@localhost", "at least one '.'"),
        (".a@example.com", "'..'"),
        ("a..b@example.com", "'..'"),
        ("\"quoted\"@example.com", "may contain only"),
        ("a b@example.com", "may contain only"),
        ("a@exa mple.com", "invalid domain"),
        ("a@-example.com", "invalid domain"),
        ("a@example.123", "invalid domain"),
        ("a@[127.0.0.1]", "invalid domain"),
        ("a@b.c\r\nINFO admin", "control characters"),
        ("a@xn--zz.com", "invalid domain"),
        (&long_local, "64 bytes"),
        (&long_total, ""),
    ];
    for (input, expected) in cases {
        let err = Email::parse(input).unwrap_err();
        assert_eq!(err.field(), "email");
        let msg = err.to_string();
        assert!(msg.contains(expected), "{input:?}: {msg}");
        if input.len() > 3 {
            assert!(!msg.contains(*input), "echoed {input:?}");
        }
    }
}

#[test]
fn username_rules() {
    assert_eq!(Username::parse("Alice_01").unwrap().as_str(), "alice_01");
    for bad in [
        "ab",
        "a".repeat(33).as_str(),
        "_lead",
        "a@b",
        "аdmin", /* Cyrillic а */
        "bob smith",
        "x\u{202e}y",
    ] {
        let err = Username::parse(bad).unwrap_err();
        assert_eq!(err.field(), "username", "{bad}");
    }
}

#[test]
fn display_name_refuses_controls_bidi_and_untrimmed() {
    assert_eq!(DisplayName::parse("Zoë 山田").unwrap().as_str(), "Zoë 山田");
    assert_eq!(
        DisplayName::parse("evil\u{202e}txt.exe")
            .unwrap_err()
            .rule(),
        &Rule::InvisibleOrBidiCharacter
    );
    assert_eq!(
        DisplayName::parse("a\u{2066}b").unwrap_err().rule(),
        &Rule::InvisibleOrBidiCharacter
    );
    assert_eq!(
        DisplayName::parse("zero\u{200b}width").unwrap_err().rule(),
        &Rule::InvisibleOrBidiCharacter
    );
    assert_eq!(
        DisplayName::parse("bell\x07").unwrap_err().rule(),
        &Rule::ControlCharacter
    );
    assert_eq!(
        DisplayName::parse("line\nbreak").unwrap_err().rule(),
        &Rule::ControlCharacter
    );
    assert_eq!(
        DisplayName::parse(" padded").unwrap_err().rule(),
        &Rule::SurroundingWhitespace
    );
    assert_eq!(
        DisplayName::parse(&"x".repeat(65)).unwrap_err().rule(),
        &Rule::TooLong { max: 64 }
    );
}

#[test]
fn password_bounds_without_trimming() {
    let p = Password::parse("  spaces kept  ".into()).unwrap();
    assert_eq!(p.expose(str::len), 15);
    assert_eq!(format!("{p:?}"), "Password([redacted])");
    assert_eq!(
        Password::parse(String::new()).unwrap_err().rule(),
        &Rule::Empty
    );
    assert!(Password::parse("nul\0inside".into()).is_err());
    assert!(Password::parse("x".repeat(1024)).is_ok());
    let err = Password::parse("secretvalue".repeat(100)).unwrap_err();
    assert_eq!(err.rule(), &Rule::TooManyBytes { max: 1024 });
    assert!(!err.to_string().contains("secretvalue"));
    assert_eq!(
        err.for_field("new_password").to_string(),
        "new_password: must be at most 1024 bytes long"
    );
}

#[test]
fn log_safe_cannot_forge_a_line() {
    let forged = "a@b.c\r\nINFO admin logged in";
    let shown = LogSafe::new(forged).to_string();
    assert_eq!(shown, "a@b.c\\r\\nINFO admin logged in");
    assert!(!shown.contains('\n') && !shown.contains('\r'));
    // Terminal escapes, bidi overrides, unicode line separators, backslash ambiguity.
    assert_eq!(LogSafe::new("\x1b[31mred").to_string(), "\\u{1b}[31mred");
    assert_eq!(
        LogSafe::new("a\u{202e}b\u{2028}c").to_string(),
        "a\\u{202e}b\\u{2028}c"
    );
    assert_eq!(
        LogSafe::new("lit\\nnot-a-newline").to_string(),
        "lit\\\\nnot-a-newline"
    );
    // Truncation says how much was cut.
    assert_eq!(
        LogSafe::with_max_chars("abcdef", 3).to_string(),
        "abc…(+3 chars)"
    );
}

#[test]
fn log_safe_over_crlf_payloads() {
    let Some(dir) = testdata::testdata_dir("log_safe_over_crlf_payloads") else {
        return;
    };
    let text =
        std::fs::read_to_string(dir.join("payloads/payloadsallthethings/crlf/crlfinjection.txt"))
            .unwrap();
    let mut count = 0;
    for payload in text.lines() {
        // Payloads are URL-encoded; decode %XX so the raw bytes are what we test.
        let decoded = percent_decode(payload);
        let shown = LogSafe::with_max_chars(&decoded, 10_000).to_string();
        assert!(!shown.chars().any(|c| c.is_control()), "{payload}");
        count += 1;
    }
    assert!(count > 10);
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let hex = s
            .get(i + 1..i + 3)
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        if let (b'%', Some(b)) = (bytes[i], hex) {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn naughty_strings_never_panic_and_accepted_values_reparse() {
    let Some(dir) = testdata::testdata_dir("naughty strings") else {
        return;
    };
    let list: Vec<String> = serde_json::from_str(
        &std::fs::read_to_string(dir.join("payloads/naughty-strings/blns.json")).unwrap(),
    )
    .unwrap();
    assert!(list.len() > 500);
    for s in &list {
        check_all(s);
    }
}

fn check_all(s: &str) {
    if let Ok(e) = Email::parse(s) {
        assert_eq!(Email::parse(e.as_str()).unwrap(), e);
    }
    if let Ok(u) = Username::parse(s) {
        assert_eq!(Username::parse(u.as_str()).unwrap(), u);
    }
    if let Ok(d) = DisplayName::parse(s) {
        assert_eq!(DisplayName::parse(d.as_str()).unwrap(), d);
        assert!(
            !d.as_str()
                .chars()
                .any(|c| c.is_control() || is_invisible_or_bidi(c))
        );
    }
    if let Ok(p) = Password::parse(s.to_owned()) {
        assert!(!p.expose(|v| v.contains('\0')));
    }
    let shown = LogSafe::new(s).to_string();
    assert!(!shown.chars().any(char::is_control));
}

proptest! {
    #[test]
    fn parsers_never_panic_and_are_idempotent(s in any::<String>()) {
        check_all(&s);
    }

    #[test]
    fn email_shaped_inputs_roundtrip(local in "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]{1,20}", domain in "[a-zA-Z0-9äöü-]{1,20}\\.[a-z]{2,6}") {
        let input = format!("{local}@{domain}");
        check_all(&input);
    }

    #[test]
    fn log_safe_is_one_line(s in any::<String>(), max in 0usize..200) {
        let shown = LogSafe::with_max_chars(&s, max).to_string();
        prop_assert!(!shown.contains('\n') && !shown.contains('\r'));
    }
}
