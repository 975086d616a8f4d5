//! Password policy: length rules, user words, the breached-passwords list.

mod support {
    pub mod testdata;
}

use std::sync::Arc;

use palisade::password::{Blocklist, PasswordPolicy, PolicyViolation, user_words};
use palisade::validate::{Email, Password, Username};

fn pw(s: &str) -> Password {
    Password::parse(s.to_owned()).unwrap()
}

#[test]
fn length_rules_without_composition_rules() {
    let policy = PasswordPolicy::new();
    assert_eq!(
        policy.check(&pw("Tr0ub4dor&3x"[..11].as_ref()), &[]),
        Err(PolicyViolation::TooShort { min: 12 })
    );
    // Lower-case words only: no "must contain a digit" rule.
    assert_eq!(
        policy.check(&pw("gravel orbit violet canteen"), &[]),
        Ok(())
    );
    // A non-repeating 256-character password (a simple LCG over printable ASCII).
    let mut state = 0x2545_f491_u32;
    let max: String = (0..256)
        .map(|_| {
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            char::from(b'!' + ((state >> 16) % 94) as u8)
        })
        .collect();
    assert_eq!(policy.check(&pw(&max), &[]), Ok(()));
    let over = format!("{max}z");
    assert_eq!(
        policy.check(&pw(&over), &[]),
        Err(PolicyViolation::TooLong { max: 256 })
    );
    // Characters, not bytes: 12 four-byte characters pass the length rule.
    let emoji = "🦀🌵🚲🍋🪁🧭🦉🎻🪴🧊🐙🍄";
    assert_eq!(emoji.chars().count(), 12);
    assert!(!matches!(
        policy.check(&pw(emoji), &[]),
        Err(PolicyViolation::TooShort { .. })
    ));
    // Configuration cannot weaken below the floor.
    assert!(PasswordPolicy::new().with_length(6, 64).is_err());
    assert!(PasswordPolicy::new().with_length(12, 32).is_err());
    assert!(PasswordPolicy::new().with_min_score(5).is_err());
}

#[test]
fn a_thousand_character_password_is_bounded_and_judged() {
    let policy = PasswordPolicy::new().with_length(12, 1000).unwrap();
    let long: String = "a".repeat(1000);
    assert!(matches!(
        policy.check(&pw(&long), &[]),
        Err(PolicyViolation::TooWeak { .. })
    ));
}

#[test]
fn the_users_own_words_do_not_make_a_password_strong() {
    let username = Username::parse("ottilie.brandvold").unwrap();
    let email = Email::parse("ottilie.brandvold@kestrelworks.example").unwrap();
    let words = user_words(Some(&username), Some(&email), Some("Ottilie Brandvold"));
    assert!(
        words.contains(&"brandvold".to_owned()) && words.contains(&"kestrelworks".to_owned()),
        "{words:?}"
    );
    let candidate = pw("brandvoldkestrelworks");
    let policy = PasswordPolicy::new();
    // Without the user's words it would pass; with them it must not.
    assert_eq!(policy.check(&candidate, &[]), Ok(()));
    let err = policy.check(&candidate, &words).unwrap_err();
    assert!(matches!(err, PolicyViolation::TooWeak { .. }), "{err:?}");
    // Site words work the same way.
    let site = PasswordPolicy::new().with_site_words(["brandvold", "kestrelworks"]);
    assert!(site.check(&candidate, &[]).is_err());
}

#[test]
fn refusals_say_what_failed_and_what_would_help() {
    let err = PasswordPolicy::new()
        .check(&pw("password1234"), &[])
        .unwrap_err();
    let PolicyViolation::TooWeak {
        score,
        min_score,
        ref warning,
        ref suggestions,
    } = err
    else {
        panic!("{err:?}")
    };
    assert!(score < min_score);
    assert!(warning.is_some() || !suggestions.is_empty());
    let text = err.to_string();
    assert!(
        text.starts_with("This password is too easy to guess (strength "),
        "{text}"
    );
    assert!(!text.contains("password1234"));
    assert!(
        PolicyViolation::TooShort { min: 12 }
            .to_string()
            .contains("at least 12 characters")
    );
}

fn ncsc_list(test: &str) -> Option<String> {
    let dir = support::testdata::testdata_dir(test)?;
    Some(std::fs::read_to_string(dir.join("passwords/ncsc-pwned-top100k.txt")).unwrap())
}

#[test]
fn with_the_breached_list_every_entry_past_the_length_rule_is_refused() {
    let Some(text) = ncsc_list("breached list, whole") else {
        return;
    };
    let dir = support::testdata::testdata_dir("breached list, whole").unwrap();
    let list =
        Arc::new(Blocklist::from_file(&dir.join("passwords/ncsc-pwned-top100k.txt")).unwrap());
    // 99,943 unique lines; fewer once case variants fold together.
    assert!(list.len() > 95_000, "{}", list.len());
    let policy = PasswordPolicy::new().with_blocklist(list);
    let mut checked = 0;
    for entry in text.lines() {
        let chars = entry.chars().count();
        if !(12..=256).contains(&chars) {
            continue;
        }
        let Ok(p) = Password::parse(entry.to_owned()) else {
            continue;
        };
        assert!(
            policy.check(&p, &[]).is_err(),
            "accepted a breached password (line length {chars})"
        );
        // Case variants are refused too.
        if let Ok(upper) = Password::parse(entry.to_uppercase()) {
            assert!(policy.check(&upper, &[]).is_err());
        }
        checked += 1;
    }
    eprintln!("breached list: {checked} entries of 12+ characters, all refused");
    assert!(checked > 1000);
}

/// How many of the 12+ character entries among the first 3,000 NCSC lines zxcvbn alone
/// lets through. Measured when this test was written; it must not grow.
const OUT_OF_THE_BOX_BASELINE: usize = 9;

#[test]
fn without_a_list_zxcvbn_is_the_floor_and_does_not_regress() {
    let Some(text) = ncsc_list("breached list, first 3000") else {
        return;
    };
    let policy = PasswordPolicy::new();
    let (mut long, mut passed) = (0, 0);
    for entry in text.lines().take(3000) {
        if entry.chars().count() < 12 {
            continue;
        }
        long += 1;
        if policy.check(&pw(entry), &[]).is_ok() {
            passed += 1;
        }
    }
    eprintln!("first 3000 NCSC lines: {long} of 12+ characters, {passed} pass without a blocklist");
    assert!(
        passed <= OUT_OF_THE_BOX_BASELINE,
        "{passed} > baseline {OUT_OF_THE_BOX_BASELINE}"
    );
}
