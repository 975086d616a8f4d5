//! Lockfiles and advisories from a repository under audit: requirements files,
//! Pipfile.lock, poetry.lock and OSV advisories never panic the reader.
#![no_main]

use libfuzzer_sys::fuzz_target;
use palisade_audit::python;

fuzz_target!(|data: &[u8]| {
    let Some((&kind, body)) = data.split_first() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let name = [
        "requirements.txt",
        "Pipfile.lock",
        "poetry.lock",
        "advisory.json",
        "advisory.yaml",
    ][usize::from(kind) % 5];
    let path = dir.path().join(name);
    std::fs::write(&path, body).unwrap();
    let _ = match kind % 5 {
        0 => python::read_requirements(&path).map(drop),
        1 => python::read_pipfile_lock(&path).map(drop),
        2 => python::read_poetry_lock(&path).map(drop),
        _ => python::OsvDb::open(dir.path()).map(drop),
    };
});
