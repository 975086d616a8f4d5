//! Locates `../shared/testdata` (or `$PALISADE_TESTDATA`). Shared by unit and integration
#![allow(unreachable_pub, dead_code)]
//! tests through `#[path]`.

use std::path::PathBuf;

/// The test-data directory, or `None` (with a message saying the test was skipped) when it
/// is absent. Under `CI=true` an absent directory fails the test instead.
pub fn testdata_dir(test: &str) -> Option<PathBuf> {
    let dir = match std::env::var_os("PALISADE_TESTDATA") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata"),
    };
    if dir.is_dir() {
        return Some(dir);
    }
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{test}: test data not found at {} (CI=true)", dir.display());
    }
    eprintln!(
        "SKIPPED {test}: test data not found at {} (set PALISADE_TESTDATA)",
        dir.display()
    );
    None
}

/// Parses the RFC 3339 timestamps of the test vectors into seconds since the epoch.
pub fn rfc3339_to_unix(s: &str) -> u64 {
    let num = |a: usize, b: usize| s[a..b].parse::<i64>().expect("digits");
    let (y, m, d) = (num(0, 4), num(5, 7), num(8, 10));
    let (hh, mm, ss) = (num(11, 13), num(14, 16), num(17, 19));
    let rest = &s[19..];
    let offset = if rest == "Z" {
        0
    } else {
        let sign = if rest.starts_with('-') { -1 } else { 1 };
        sign * (rest[1..3].parse::<i64>().unwrap() * 3600 + rest[4..6].parse::<i64>().unwrap() * 60)
    };
    // Days from civil (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    (days * 86_400 + hh * 3600 + mm * 60 + ss - offset) as u64
}
