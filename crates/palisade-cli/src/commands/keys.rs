//! `palisade keys …`: key generation, rotation, re-encryption, retirement and status;
//! pepper rotation.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;
use palisade::secret::FernetKey;
use palisade_service::Config;
use palisade_service::admin::{self, Admin, Retired};

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
    /// Start new OpenID signing keys: published now, signing in an hour (while every
    /// cache of the key set learns them); the old keys stay published until their tokens
    /// expire. `--now`: sign with the new keys at once and withdraw the old ones (a leak).
    RotateSigning {
        #[arg(long)]
        now: bool,
    },
}

pub(crate) async fn run_keys(config: &Config, action: KeysAction) -> Result<ExitCode, String> {
    match action {
        KeysAction::Generate { output: Some(path) } => {
            let id = admin::new_key_file(&path)?;
            eprintln!("wrote key {id} to {}", path.display());
        }
        KeysAction::Generate { output: None } => {
            let key = FernetKey::generate().map_err(|e| e.to_string())?;
            key.encode()
                .expose(|k| {
                    let mut out = std::io::stdout();
                    out.write_all(k).and_then(|()| writeln!(out))
                })
                .map_err(|e| e.to_string())?;
        }
        KeysAction::Rotate => {
            let id = admin::rotate_key(config)?;
            println!(
                "key {id} now encrypts; restart or reload the service, then run `palisade keys reencrypt`"
            );
        }
        KeysAction::Retire { id } => match Admin::open(config).await?.retire_key(&id).await? {
            Retired::Done => println!("retired key {id}"),
            Retired::StillNeeded(n) => {
                eprintln!(
                    "palisade: {n} secrets still depend on key {id}: run `palisade keys reencrypt` first"
                );
                return Ok(ExitCode::from(1));
            }
        },
        KeysAction::Reencrypt { batch } => reencrypt(config, batch).await?,
        KeysAction::Status => status(&Admin::open(config).await?).await?,
        KeysAction::RotateSigning { now } => {
            let made = Admin::open(config).await?.rotate_signing_keys(now).await?;
            if now {
                println!(
                    "new signing keys ({}) sign now; the old ones are withdrawn (instances pick this up within 10 s)",
                    made.join(", ")
                );
            } else {
                println!(
                    "new signing keys ({}) are published and sign in an hour",
                    made.join(", ")
                );
            }
        }
        KeysAction::RotatePepper => {
            let next = admin::rotate_pepper(config)?;
            println!(
                "pepper v{next} is current; hashes move to it as users log in (restart the service to use it)"
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn reencrypt(config: &Config, batch: i64) -> Result<(), String> {
    let admin = Admin::open(config).await?;
    let terminal = std::io::stderr().is_terminal();
    let mut progress = |done: u64, total: i64| {
        if terminal {
            eprint!("\rre-encrypted {done}/{total}");
        }
    };
    let report = admin.reencrypt(batch, None, &mut progress).await?;
    if terminal {
        eprintln!();
    }
    for (owner, name, why) in &report.failed {
        eprintln!("palisade: secret {name:?} of user {owner} cannot be re-encrypted: {why}");
    }
    let failed = match report.failed.len() {
        0 => String::new(),
        n => format!("; {n} could not be read"),
    };
    println!(
        "re-encrypted {} secrets under key {}{failed}",
        report.done, report.key
    );
    Ok(())
}

async fn status(admin: &Admin) -> Result<(), String> {
    let status = admin.key_status().await?;
    println!("{:<10} {:<8} secrets", "key", "role");
    for (i, (id, n)) in status.keys.iter().enumerate() {
        let role = if i == 0 { "current" } else { "old" };
        println!("{id:<10} {role:<8} {n}");
    }
    for (id, n) in &status.missing {
        println!(
            "{id:<10} {:<8} {n}   (NOT LOADED: these cannot be read)",
            "missing"
        );
    }
    println!("\n{:<16} {:<8} password hashes", "pepper", "role");
    for (v, current, n) in &status.peppers {
        let role = if *current { "current" } else { "old" };
        println!("{:<16} {role:<8} {n}", format!("v{v}"));
    }
    for (v, n) in &status.other_hashes {
        println!("{v:<16} {:<8} {n}", "-");
    }
    Ok(())
}
