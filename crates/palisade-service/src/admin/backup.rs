//! `palisade backup FILE` and `palisade restore FILE`: a consistent copy of the SQLite
//! database taken while the service runs (SQLite's `VACUUM INTO`, one read transaction:
//! every write committed before it began is in the copy), with the keyring and the pepper
//! beside it, every file readable by its owner only. PostgreSQL is backed up with
//! `pg_dump` (the book's Backups chapter); the keys and pepper are still these files.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use sqlx::any::AnyConnectOptions;
use sqlx::{ConnectOptions, Connection};

use crate::config::Config;

/// What a backup wrote.
#[derive(Debug)]
pub struct BackupReport {
    /// The database copy (`FILE`).
    pub database: PathBuf,
    /// `FILE.keys`, or `None` when the keys come from `PALISADE_KEYS` (kept by whoever
    /// keeps that variable).
    pub keys: Option<PathBuf>,
    /// `FILE.pepper`.
    pub pepper: PathBuf,
    /// Accounts in the copy.
    pub users: i64,
}

/// What a restore wrote.
#[derive(Debug)]
pub struct RestoreReport {
    /// The data directory now holding the restored files.
    pub data_dir: PathBuf,
    /// Accounts in the restored database.
    pub users: i64,
    /// Whether a keyring was restored (else `PALISADE_KEYS` must hold the keys).
    pub keys: bool,
}

fn beside(file: &Path, suffix: &str) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Copies the database, keys and pepper of `config` to `file`, `file.keys` and
/// `file.pepper`. Nothing is overwritten: any of them existing is an error.
pub async fn backup(config: &Config, file: &Path) -> Result<BackupReport, String> {
    if config.uses_postgres() {
        return Err("the database is PostgreSQL: back it up with pg_dump --format=custom, and keep the data directory's keys and pepper files with the dump (the book's Backups chapter)".into());
    }
    let source = config.data_dir.join("palisade.db");
    if !source.is_file() {
        return Err(format!(
            "no database at {}: nothing to back up (is --data-dir right?)",
            source.display()
        ));
    }
    let keys_source = if std::env::var_os("PALISADE_KEYS").is_some() {
        None
    } else {
        Some(
            config
                .keys_file
                .clone()
                .unwrap_or_else(|| config.data_dir.join("keys")),
        )
    };
    let keys_target = keys_source.as_ref().map(|_| beside(file, ".keys"));
    let pepper_target = beside(file, ".pepper");
    for target in std::iter::once(file)
        .chain(keys_target.as_deref())
        .chain([pepper_target.as_path()])
    {
        if target.exists() {
            return Err(format!(
                "{} exists: a backup never overwrites a file",
                target.display()
            ));
        }
    }
    // The copy is made inside a directory only the owner may enter, then made private and
    // moved into place: it is never readable by others, not even while being written.
    let staging = Staging::create(beside(file, ".partial"))?;
    let staged = staging.0.join("palisade.db");
    let mut conn = open(&source, "ro").await?;
    sqlx::query("VACUUM INTO ?")
        .bind(staged.to_string_lossy().into_owned())
        .execute(&mut conn)
        .await
        .map_err(|e| format!("copying {}: {e}", source.display()))?;
    conn.close().await.map_err(|e| e.to_string())?;
    restrict(&staged)?;
    let users = check_copy(&staged).await?;
    let pepper = crate::keys::read_private(&config.data_dir.join("pepper"))?;
    crate::keys::write_private(&pepper_target, pepper.as_bytes())?;
    if let (Some(from), Some(to)) = (&keys_source, &keys_target) {
        let keys = crate::keys::read_private(from)?;
        crate::keys::write_private(to, keys.as_bytes())?;
    }
    std::fs::rename(&staged, file).map_err(|e| format!("{}: {e}", file.display()))?;
    Ok(BackupReport {
        database: file.to_owned(),
        keys: keys_target,
        pepper: pepper_target,
        users,
    })
}

/// Restores a backup made by [`backup`] into `data_dir`, which must hold no database,
/// keys or pepper yet. The copy is checked before anything is written.
pub async fn restore(file: &Path, data_dir: &Path) -> Result<RestoreReport, String> {
    if !file.is_file() {
        return Err(format!("{} is not a file", file.display()));
    }
    let pepper_source = beside(file, ".pepper");
    if !pepper_source.is_file() {
        return Err(format!(
            "{} is missing: without the pepper no password can be checked",
            pepper_source.display()
        ));
    }
    let keys_source = beside(file, ".keys");
    let has_keys = keys_source.is_file();
    if !has_keys && std::env::var_os("PALISADE_KEYS").is_none() {
        return Err(format!(
            "{} is missing and PALISADE_KEYS is not set: sealed values (second factors, vault) could not be opened",
            keys_source.display()
        ));
    }
    for name in ["palisade.db", "palisade.db-wal", "keys", "pepper"] {
        let existing = data_dir.join(name);
        if existing.exists() {
            return Err(format!(
                "{} exists: restore goes into an empty data directory",
                existing.display()
            ));
        }
    }
    let users = check_copy(file).await?;
    crate::keys::ensure_private_dir(data_dir)?;
    let pepper = crate::keys::read_private(&pepper_source)?;
    crate::keys::write_private(&data_dir.join("pepper"), pepper.as_bytes())?;
    if has_keys {
        let keys = crate::keys::read_private(&keys_source)?;
        crate::keys::write_private(&data_dir.join("keys"), keys.as_bytes())?;
    }
    let target = data_dir.join("palisade.db");
    let staged = data_dir.join("palisade.db.restoring");
    std::fs::copy(file, &staged).map_err(|e| format!("{}: {e}", staged.display()))?;
    restrict(&staged)?;
    std::fs::File::open(&staged)
        .and_then(|f| f.sync_all())
        .map_err(|e| format!("{}: {e}", staged.display()))?;
    std::fs::rename(&staged, &target).map_err(|e| format!("{}: {e}", target.display()))?;
    Ok(RestoreReport {
        data_dir: data_dir.to_owned(),
        users,
        keys: has_keys,
    })
}

async fn open(path: &Path, mode: &str) -> Result<sqlx::AnyConnection, String> {
    sqlx::any::install_default_drivers();
    let url = format!("sqlite://{}?mode={mode}", path.display());
    AnyConnectOptions::from_str(&url)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .connect()
        .await
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// The copy is a whole, sound palisade database: SQLite's integrity check passes and it
/// holds the accounts table. Returns how many accounts it holds.
async fn check_copy(path: &Path) -> Result<i64, String> {
    let mut conn = open(path, "ro").await?;
    let fail = |e: sqlx::Error| format!("{} is not a sound palisade database: {e}", path.display());
    let integrity: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&mut conn)
        .await
        .map_err(fail)?;
    if integrity != "ok" {
        return Err(format!(
            "{} failed SQLite's integrity check: {integrity}",
            path.display()
        ));
    }
    let users: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
        .fetch_one(&mut conn)
        .await
        .map_err(fail)?;
    conn.close().await.map_err(|e| e.to_string())?;
    Ok(users)
}

/// A directory only its owner may enter, removed with whatever is left in it.
struct Staging(PathBuf);

impl Staging {
    fn create(path: PathBuf) -> Result<Self, String> {
        let mut builder = std::fs::DirBuilder::new();
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(&path).map_err(|e| match e.kind() {
            std::io::ErrorKind::AlreadyExists => format!(
                "{} exists: left by a backup that was stopped? remove it",
                path.display()
            ),
            _ => format!("{}: {e}", path.display()),
        })?;
        Ok(Self(path))
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn restrict(path: &Path) -> Result<(), String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}
