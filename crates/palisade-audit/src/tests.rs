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

#[test]
fn requirements_syntax() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("base.txt"), "Django==1.11.3 \\\n    --hash=sha256:abc\nrequests[security]==2.19.0 ; python_version >= \"3\"\n# comment\nflask>=1.0\n").unwrap();
    std::fs::write(
        dir.path().join("requirements.txt"),
        "-r base.txt\n-r base.txt\n--index-url https://x\nPyYAML===3.12  # pinned\n-e git+https://example.com/repo.git#egg=mylib\n",
    )
    .unwrap();
    let pkgs = python::read_requirements(&dir.path().join("requirements.txt")).unwrap();
    let got: Vec<(String, Option<String>, usize)> = pkgs
        .iter()
        .map(|p| (p.name.clone(), p.version.clone(), p.line))
        .collect();
    assert_eq!(
        got,
        vec![
            ("django".into(), Some("1.11.3".into()), 1),
            ("requests".into(), Some("2.19.0".into()), 3),
            ("flask".into(), None, 5),
            ("pyyaml".into(), Some("3.12".into()), 4),
            ("mylib".into(), None, 5),
        ]
    );
    assert_eq!(python::normalise("Zope.Interface__x"), "zope-interface-x");
}

#[test]
fn the_shared_python_lockfiles() {
    let Some(dir) = testdata() else { return };
    let db = python::OsvDb::open(&dir.join("advisories/pypa")).unwrap();
    assert!(
        db.withdrawn >= 10,
        "withdrawn advisories are skipped: {}",
        db.withdrawn
    );
    let base = dir.join("lockfiles/python");
    let files = [
        (
            "gothinkster__django-realworld-example-app/requirements.txt",
            1,
        ),
        (
            "gothinkster__flask-realworld-example-app/requirements.txt",
            0,
        ),
        ("gothinkster__flask-realworld-example-app/Pipfile.lock", 1),
        ("adeyosemanputra__pygoat/requirements.txt", 1),
    ];
    for (file, at_least) in files {
        let path = base.join(file);
        let packages = if file.ends_with("Pipfile.lock") {
            python::read_pipfile_lock(&path).unwrap()
        } else {
            python::read_requirements(&path).unwrap()
        };
        let (findings, unpinned) = python::audit_python(&packages, &db);
        eprintln!(
            "{file}: {} packages, {} vulnerabilities, {} not pinned: {}",
            packages.len(),
            findings.len(),
            unpinned.len(),
            findings
                .iter()
                .map(|f| format!("{}@{} {}", f.package, f.version, f.id))
                .collect::<Vec<_>>()
                .join(", ")
        );
        assert!(findings.len() >= at_least, "{file}");
        // Aliases are merged: no two findings for one package share an id or alias.
        for (i, a) in findings.iter().enumerate() {
            for b in &findings[i + 1..] {
                if a.package == b.package && a.version == b.version {
                    assert!(
                        !b.aliases.contains(&a.id) && !a.aliases.contains(&b.id),
                        "{} and {} not merged",
                        a.id,
                        b.id
                    );
                }
            }
        }
    }
}

#[test]
fn poetry_lock_and_osv_ranges() {
    let dir = tempfile::tempdir().unwrap();
    let lock = dir.path().join("poetry.lock");
    std::fs::write(&lock, "[[package]]\nname = \"Jinja2\"\nversion = \"2.10\"\n\n[[package]]\nname = \"safe_pkg\"\nversion = \"9.0\"\n").unwrap();
    let pkgs = python::read_poetry_lock(&lock).unwrap();
    assert_eq!(pkgs[0].name, "jinja2");
    assert_eq!(pkgs[0].line, 2);
    let vulns = dir.path().join("vulns");
    std::fs::create_dir(&vulns).unwrap();
    std::fs::write(vulns.join("A.yaml"), "id: PYSEC-1\naliases: [CVE-1, GHSA-1]\nsummary: bad\naffected:\n- package: {name: jinja2, ecosystem: PyPI}\n  ranges:\n  - type: ECOSYSTEM\n    events: [{introduced: '0'}, {fixed: '2.10.1'}]\n").unwrap();
    std::fs::write(vulns.join("B.json"), r#"{"id": "GHSA-1", "aliases": ["CVE-1"], "affected": [{"package": {"name": "Jinja2", "ecosystem": "PyPI"}, "versions": ["2.10"]}]}"#).unwrap();
    std::fs::write(vulns.join("C.yaml"), "id: PYSEC-2\nwithdrawn: '2020-01-01'\naffected:\n- package: {name: jinja2, ecosystem: PyPI}\n  versions: ['2.10']\n").unwrap();
    std::fs::write(vulns.join("D.yaml"), "id: PYSEC-3\naffected:\n- package: {name: safe-pkg, ecosystem: PyPI}\n  ranges:\n  - type: ECOSYSTEM\n    events: [{introduced: '1.0'}, {last_affected: '8.9'}]\n").unwrap();
    let db = python::OsvDb::open(&vulns).unwrap();
    assert_eq!(db.withdrawn, 1);
    let (findings, unpinned) = python::audit_python(&pkgs, &db);
    assert!(unpinned.is_empty());
    assert_eq!(
        findings.len(),
        1,
        "aliases merged, withdrawn skipped, 9.0 is past last_affected: {findings:?}"
    );
    assert!(findings[0].aliases.contains(&"GHSA-1".to_owned()) || findings[0].id == "GHSA-1");
    assert_eq!(findings[0].fixed_in, vec!["2.10.1".to_owned()]);
    std::fs::write(vulns.join("E.yaml"), "id: [unclosed\n").unwrap();
    let err = python::OsvDb::open(&vulns).unwrap_err().to_string();
    assert!(err.contains("E.yaml") && err.contains("line"), "{err}");
}
