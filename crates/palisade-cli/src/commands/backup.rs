//! `palisade backup FILE` and `palisade restore FILE`: see `palisade_service::admin::backup`.

use std::path::Path;
use std::process::ExitCode;

use palisade_service::Config;

pub(crate) async fn backup(config: &Config, file: &Path) -> Result<ExitCode, String> {
    let report = palisade_service::admin::backup(config, file).await?;
    println!(
        "backed up {} accounts to {}",
        report.users,
        report.database.display()
    );
    println!("pepper: {}", report.pepper.display());
    match &report.keys {
        Some(keys) => println!("keys: {}", keys.display()),
        None => println!("keys: from PALISADE_KEYS, not copied: keep that value with the backup"),
    }
    println!(
        "every file is readable by its owner only; keep them together, and apart from the server"
    );
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn restore(file: &Path, data_dir: &Path) -> Result<ExitCode, String> {
    let report = palisade_service::admin::restore(file, data_dir).await?;
    println!(
        "restored {} accounts into {}{}",
        report.users,
        report.data_dir.display(),
        if report.keys {
            ""
        } else {
            " (keys: PALISADE_KEYS must hold them)"
        }
    );
    println!(
        "start it with: palisade serve --data-dir {} (migrations, forward only, run at start)",
        report.data_dir.display()
    );
    Ok(ExitCode::SUCCESS)
}
