//! `palisade keys …`: key generation, rotation, re-encryption, retirement and status;
//! pepper rotation.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE;
use clap::Subcommand;
use palisade::password::PepperSet;
use palisade::secret::{FernetKey, Keyring};
use zeroize::Zeroizing;

use crate::config::Config;
use crate::keys::{KeySource, load_keyring, replace_private};
use crate::store::Store;

#[derive(Subcommand)]
pub(crate) enum KeysAction {
    /// Write a new key file (mode 0600) with --output, or print one new key on stdout.
    Generate {
        #[arg(long, value_name = "FILE")]
        output: Option<PathBuf>,
    },
    /// Add a new key that encrypts from now on; older keys still decrypt.
    Rotate,
    /// Re-seal every vault secret under the current key, in batches, while the service runs.
    Reencrypt {
        #[arg(long, default_value_t = 100)]
        batch: i64,
    },
    /// Remove a key, refusing while anything still depends on it.
    Retire { id: String },
    /// Show how many secrets and password hashes depend on each key and pepper version.
    Status,
    /// Add a new pepper version, used for new hashes and on each user's next login.
    RotatePepper,
}

fn key_file(config: &Config) -> Result<PathBuf, String> {
    match load_keyring(config, false)?.1 {
        KeySource::File(path) => Ok(path),
        KeySource::Env => Err(
            "the keys come from PALISADE_KEYS: change that variable (the first key encrypts)"
                .into(),
        ),
    }
}

fn write_keys(path: &std::path::Path, ring: &Keyring) -> Result<(), String> {
    let mut text = Zeroizing::new(String::from(
        "# palisade Fernet keys: the first encrypts, all decrypt. Keep this file private.\n",
    ));
    for key in ring.keys() {
        key.encode()
            .expose(|k| text.push_str(std::str::from_utf8(k).expect("base64")));
        text.push('\n');
    }
    replace_private(path, text.as_bytes())
}

pub(crate) async fn run_keys(config: &Config, action: KeysAction) -> Result<ExitCode, String> {
    match action {
        KeysAction::Generate { output: Some(path) } => {
            let ring = Keyring::new(vec![FernetKey::generate().map_err(|e| e.to_string())?])
                .map_err(|e| e.to_string())?;
            ring.write_new_file(&path).map_err(|e| e.to_string())?;
            eprintln!("wrote key {} to {}", ring.keys()[0].id(), path.display());
        }
        KeysAction::Generate { output: None } => {
            let key = FernetKey::generate().map_err(|e| e.to_string())?;
            key.encode()
                .expose(|k| {
                    std::io::stdout()
                        .write_all(k)
                        .and_then(|()| writeln!(std::io::stdout()))
                })
                .map_err(|e| e.to_string())?;
        }
        KeysAction::Rotate => {
            let path = key_file(config)?;
            let (old, _, _) = load_keyring(config, false)?;
            let new = FernetKey::generate().map_err(|e| e.to_string())?;
            let id = new.id();
            let mut keys = vec![new];
            for k in old.keys() {
                keys.push(
                    k.encode()
                        .expose(|e| FernetKey::parse(std::str::from_utf8(e).expect("base64")))
                        .map_err(|e| e.to_string())?,
                );
            }
            write_keys(&path, &Keyring::new(keys).map_err(|e| e.to_string())?)?;
            println!(
                "key {id} now encrypts; restart or reload the service, then run `palisade keys reencrypt`"
            );
        }
        KeysAction::Retire { id } => {
            let path = key_file(config)?;
            let (ring, _, _) = load_keyring(config, false)?;
            let position = ring
                .keys()
                .iter()
                .position(|k| k.id() == id)
                .ok_or_else(|| format!("no key {id} in {}", path.display()))?;
            if position == 0 {
                return Err(format!("key {id} is the current key: rotate first"));
            }
            let store = Store::new(crate::db::connect(config).await?.pool);
            let depending = store
                .secrets_per_key()
                .await
                .map_err(|e| e.to_string())?
                .into_iter()
                .find(|(k, _)| *k == id)
                .map_or(0, |(_, n)| n);
            if depending > 0 {
                eprintln!(
                    "palisade: {depending} secrets still depend on key {id}: run `palisade keys reencrypt` first"
                );
                return Ok(ExitCode::from(1));
            }
            let keys = ring
                .keys()
                .iter()
                .filter(|k| k.id() != id)
                .map(|k| {
                    k.encode()
                        .expose(|e| FernetKey::parse(std::str::from_utf8(e).expect("base64")))
                })
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| e.to_string())?;
            write_keys(&path, &Keyring::new(keys).map_err(|e| e.to_string())?)?;
            println!("retired key {id}");
        }
        KeysAction::Reencrypt { batch } => {
            return reencrypt(config, batch.clamp(1, 10_000), None)
                .await
                .map(|_| ExitCode::SUCCESS);
        }
        KeysAction::Status => {
            let (ring, _, _) = load_keyring(config, false)?;
            let store = Store::new(crate::db::connect(config).await?.pool);
            let counts = store.secrets_per_key().await.map_err(|e| e.to_string())?;
            println!("{:<10} {:<8} secrets", "key", "role");
            for (i, key) in ring.keys().iter().enumerate() {
                let n = counts
                    .iter()
                    .find(|(k, _)| *k == key.id())
                    .map_or(0, |(_, n)| *n);
                println!(
                    "{:<10} {:<8} {n}",
                    key.id(),
                    if i == 0 { "current" } else { "old" }
                );
            }
            for (id, n) in counts
                .iter()
                .filter(|(k, _)| !ring.keys().iter().any(|key| key.id() == *k))
            {
                println!(
                    "{id:<10} {:<8} {n}   (NOT LOADED: these cannot be read)",
                    "missing"
                );
            }
            let (peppers, _) = crate::keys::load_or_create_pepper(&config.data_dir)?;
            let mut per_version = std::collections::BTreeMap::<String, i64>::new();
            for hash in store.password_hashes().await.map_err(|e| e.to_string())? {
                let version = match hash
                    .strip_prefix("$pepper$")
                    .and_then(|r| r.split('$').next())
                {
                    Some(v) => format!("v{v}"),
                    None => "none (imported)".to_owned(),
                };
                *per_version.entry(version).or_default() += 1;
            }
            println!("\n{:<16} {:<8} password hashes", "pepper", "role");
            for v in peppers.versions() {
                let n = per_version.remove(&format!("v{v}")).unwrap_or(0);
                println!(
                    "{:<16} {:<8} {n}",
                    format!("v{v}"),
                    if v == peppers.current() {
                        "current"
                    } else {
                        "old"
                    }
                );
            }
            for (v, n) in per_version {
                println!("{v:<16} {:<8} {n}", "-");
            }
        }
        KeysAction::RotatePepper => {
            let (peppers, _) = crate::keys::load_or_create_pepper(&config.data_dir)?;
            let next = peppers.versions().max().unwrap_or(0) + 1;
            let key = PepperSet::generate_key().map_err(|e| e.to_string())?;
            let old = crate::keys::pepper_file_text(&config.data_dir)?;
            let text = Zeroizing::new(
                key.expose(|k| format!("{next} {}\n{}", URL_SAFE.encode(k), old.as_str())),
            );
            replace_private(&config.data_dir.join("pepper"), text.as_bytes())?;
            println!(
                "pepper v{next} is current; hashes move to it as users log in (restart the service to use it)"
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Re-seals every secret not under the current key, one committed batch at a time: safe to
/// interrupt and run again. `max_batches` stops early (for tests of an interruption).
pub(crate) async fn reencrypt(
    config: &Config,
    batch: i64,
    max_batches: Option<usize>,
) -> Result<u64, String> {
    let (ring, _, _) = load_keyring(config, false)?;
    let store = Store::new(crate::db::connect(config).await?.pool);
    let current = ring.keys()[0].id();
    let total: i64 = store
        .secrets_per_key()
        .await
        .map_err(|e| e.to_string())?
        .iter()
        .filter(|(k, _)| *k != current)
        .map(|(_, n)| n)
        .sum();
    let progress = std::io::stderr().is_terminal();
    let (mut after, mut done, mut failed, mut batches) =
        ((i64::MIN, String::new()), 0u64, 0u64, 0usize);
    loop {
        if max_batches.is_some_and(|m| batches >= m) {
            break;
        }
        let rows = store
            .secrets_to_reseal(&current, (after.0, &after.1), batch)
            .await
            .map_err(|e| e.to_string())?;
        let Some(last) = rows.last() else { break };
        after = (last.0, last.1.clone());
        let mut resealed = Vec::new();
        for (owner, name, sealed) in rows {
            match ring.reseal(&sealed, &crate::vault::aad(owner, &name)) {
                Ok(new) => resealed.push((owner, name, sealed, new)),
                Err(e) => {
                    failed += 1;
                    eprintln!(
                        "\npalisade: secret {name:?} of user {owner} cannot be re-encrypted: {e}"
                    );
                }
            }
        }
        done += store
            .reseal_batch(&resealed, &current, crate::clock::system_now())
            .await
            .map_err(|e| e.to_string())?;
        batches += 1;
        if progress {
            eprint!("\rre-encrypted {done}/{total}");
        }
    }
    if progress {
        eprintln!();
    }
    println!(
        "re-encrypted {done} secrets under key {current}{}",
        if failed > 0 {
            format!("; {failed} could not be read")
        } else {
            String::new()
        }
    );
    if failed > 0 {
        return Err(format!("{failed} secrets could not be re-encrypted"));
    }
    Ok(done)
}
