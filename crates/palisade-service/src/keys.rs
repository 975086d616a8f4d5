//! Keys kept in the data directory: the password pepper and the Fernet keyring, generated
//! on first start with mode 0600 and refused when other users can read them.

use std::io::{Read, Write};
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE;
use palisade::password::PepperSet;
use palisade::secret::{FernetKey, Keyring, SecretBytes};
use zeroize::Zeroizing;

/// Creates `dir` with mode 0700 if missing.
pub(crate) fn ensure_private_dir(dir: &Path) -> Result<(), String> {
    if dir.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .map_err(|e| format!("data directory {}: {e}", dir.display()))
}

/// Loads `<data_dir>/pepper` (one `version key` line each, the first is current), creating
/// it with one new pepper when missing.
pub(crate) fn load_or_create_pepper(data_dir: &Path) -> Result<(PepperSet, bool), String> {
    let path = data_dir.join("pepper");
    let created = !path.exists();
    if created {
        let key = PepperSet::generate_key().map_err(|e| e.to_string())?;
        let line = Zeroizing::new(key.expose(|k| format!("1 {}\n", URL_SAFE.encode(k))));
        write_private(&path, line.as_bytes())?;
    }
    let text = read_private(&path)?;
    let mut set: Option<PepperSet> = None;
    for (n, line) in text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty() && !l.starts_with('#'))
    {
        let bad = || {
            format!(
                "pepper file {}: line {} must be `<version> <base64 key>`",
                path.display(),
                n + 1
            )
        };
        let (version, key) = line.trim().split_once(' ').ok_or_else(bad)?;
        let version: u32 = version.parse().map_err(|_| bad())?;
        let key = SecretBytes::new(URL_SAFE.decode(key.trim()).map_err(|_| bad())?);
        set = Some(
            match set {
                None => PepperSet::new(version, key),
                Some(s) => s.with_previous(version, key),
            }
            .map_err(|e| format!("pepper file {}: line {}: {e}", path.display(), n + 1))?,
        );
    }
    set.map(|s| (s, created))
        .ok_or_else(|| format!("pepper file {} holds no pepper", path.display()))
}

/// Where the keyring came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum KeySource {
    /// `PALISADE_KEYS`.
    Env,
    /// A key file.
    File(std::path::PathBuf),
}

/// The keyring: `PALISADE_KEYS` if set, else `keys_file`, else `<data_dir>/keys` (created
/// with one new key when missing and `create` is set).
pub(crate) fn load_keyring(
    config: &crate::config::Config,
    create: bool,
) -> Result<(Keyring, KeySource, bool), String> {
    if std::env::var_os("PALISADE_KEYS").is_some() {
        let ring = Keyring::from_env("PALISADE_KEYS").map_err(|e| e.to_string())?;
        return Ok((ring, KeySource::Env, false));
    }
    let path = config
        .keys_file
        .clone()
        .unwrap_or_else(|| config.data_dir.join("keys"));
    if !create || config.keys_file.is_some() {
        let ring = Keyring::from_file(&path).map_err(|e| e.to_string())?;
        return Ok((ring, KeySource::File(path), false));
    }
    let (ring, created) = load_or_create_keyring(&config.data_dir)?;
    Ok((ring, KeySource::File(path), created))
}

/// Loads `<data_dir>/keys` (the Fernet keyring), creating it with one new key when missing.
pub(crate) fn load_or_create_keyring(data_dir: &Path) -> Result<(Keyring, bool), String> {
    let path = data_dir.join("keys");
    let created = !path.exists();
    if created {
        let ring = Keyring::new(vec![FernetKey::generate().map_err(|e| e.to_string())?])
            .map_err(|e| e.to_string())?;
        ring.write_new_file(&path).map_err(|e| e.to_string())?;
    }
    Keyring::from_file(&path)
        .map(|k| (k, created))
        .map_err(|e| e.to_string())
}

/// Replaces `path` atomically with a new private file holding `bytes`.
pub(crate) fn replace_private(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let tmp = path.with_extension("new");
    let _ = std::fs::remove_file(&tmp);
    write_private(&tmp, bytes)?;
    std::fs::rename(&tmp, path).map_err(|e| format!("{}: {e}", path.display()))
}

/// The lines of the pepper file, for rotation.
pub(crate) fn pepper_file_text(data_dir: &Path) -> Result<Zeroizing<String>, String> {
    read_private(&data_dir.join("pepper"))
}

pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(|e| format!("{}: {e}", path.display()))
}

pub(crate) fn read_private(path: &Path) -> Result<Zeroizing<String>, String> {
    let mut file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = file
            .metadata()
            .map_err(|e| e.to_string())?
            .permissions()
            .mode()
            & 0o777;
        if mode & 0o077 != 0 {
            return Err(format!(
                "{} has mode {mode:04o}: group and others must have no access (chmod 600)",
                path.display()
            ));
        }
    }
    let mut text = Zeroizing::new(String::new());
    file.read_to_string(&mut text)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(text)
}

/// Opens a secret setting given as a Fernet token under the keyring (`palisade secret
/// encrypt`): `database_password_token`, `smtp_password_token`. Errors name the setting,
/// never the token or what it holds.
pub(crate) fn open_setting_token(
    config: &crate::config::Config,
    setting: &str,
    token: &crate::config::Redacted,
) -> Result<palisade::secret::SecretString, String> {
    let (keyring, source, _) = load_keyring(config, false)
        .map_err(|e| format!("configuration: {setting} needs the keyring: {e}"))?;
    let from = match source {
        KeySource::Env => "PALISADE_KEYS".to_owned(),
        KeySource::File(path) => path.display().to_string(),
    };
    let opened = token
        .expose(|t| keyring.decrypt(t.trim(), None))
        .map_err(|_| {
            format!(
                "configuration: {setting} does not open with the keys from {from} (made with another key, or damaged)"
            )
        })?;
    palisade::secret::SecretString::from_utf8(opened.plaintext)
        .ok_or_else(|| format!("configuration: {setting} does not hold UTF-8 text"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pepper_is_created_private_and_reloads() {
        let dir = tempfile::tempdir().unwrap();
        let (first, created) = load_or_create_pepper(dir.path()).unwrap();
        assert!(created);
        let (again, created) = load_or_create_pepper(dir.path()).unwrap();
        assert!(!created);
        assert_eq!(first.current(), again.current());
        use std::os::unix::fs::PermissionsExt;
        let path = dir.path().join("pepper");
        assert_eq!(
            std::fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(
            load_or_create_pepper(dir.path())
                .unwrap_err()
                .contains("chmod 600")
        );
    }
}
