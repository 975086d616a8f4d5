use super::*;

fn testdata() -> Option<PathBuf> {
    let dir = std::env::var_os("PALISADE_TESTDATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/testdata")
        });
    if dir.is_dir() {
        return Some(dir);
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "test data missing (CI=true)"
    );
    eprintln!("SKIPPED audit tests: no test data at {}", dir.display());
    None
}

#[test]
fn the_shared_cargo_lockfiles() {
    let Some(dir) = testdata() else { return };
    let db = RustSecDb::open(&dir.join("advisories/rustsec")).unwrap();
    for (name, at_least) in [("ogham__exa", 1), ("BurntSushi__xsv", 1), ("ogham__dog", 1)] {
        let lockfile = dir.join("lockfiles/cargo").join(name).join("Cargo.lock");
        let findings = audit_cargo(&lockfile, &db).unwrap();
        let vulns: Vec<_> = findings
            .iter()
            .filter(|f| f.informational.is_none())
            .collect();
        let info = findings.len() - vulns.len();
        eprintln!(
            "{name}: {} vulnerabilities, {info} informational: {}",
            vulns.len(),
            vulns
                .iter()
                .map(|f| format!("{}@{} {}", f.package, f.version, f.id))
                .collect::<Vec<_>>()
                .join(", ")
        );
        assert!(vulns.len() >= at_least, "{name}");
        for f in &findings {
            assert!(f.line.is_some(), "{} {} has no line", f.package, f.version);
        }
    }
}

#[test]
fn broken_inputs_are_errors_with_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("Cargo.lock");
    std::fs::write(
        &broken,
        "[[package]]\nname = \"x\"\nversion = \"not-a-version\"\n",
    )
    .unwrap();
    let Some(data) = testdata() else { return };
    let db = RustSecDb::open(&data.join("advisories/rustsec")).unwrap();
    let err = audit_cargo(&broken, &db).unwrap_err();
    assert!(err.to_string().contains("Cargo.lock"), "{err}");
    assert!(matches!(
        RustSecDb::open(dir.path()),
        Err(AuditError::Database { .. })
    ));
}
