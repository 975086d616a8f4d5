//! `palisade config check`: the configuration as `serve` would read it, every problem at
//! once, without starting anything.

use std::process::ExitCode;

use super::Common;

/// What `palisade config` does.
#[derive(clap::Subcommand)]
pub(crate) enum ConfigAction {
    /// Check the configuration (file, environment, flags) as `serve` would read it: every
    /// problem is named, and the exit status is 1 if there is any.
    Check,
}

pub(crate) fn run(common: Common, action: ConfigAction) -> Result<ExitCode, String> {
    match action {
        ConfigAction::Check => match common.config_all_problems() {
            Ok(config) => {
                println!(
                    "configuration is valid: serves {} on {}, data in {}",
                    config.origin(),
                    config.listen,
                    config.data_dir.display()
                );
                Ok(ExitCode::SUCCESS)
            }
            Err(problems) => {
                for problem in &problems {
                    eprintln!("palisade: {problem}");
                }
                eprintln!(
                    "palisade: {} problem{} in the configuration",
                    problems.len(),
                    if problems.len() == 1 { "" } else { "s" }
                );
                Ok(ExitCode::from(1))
            }
        },
    }
}
