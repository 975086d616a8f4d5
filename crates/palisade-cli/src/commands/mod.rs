//! The `palisade` subcommands, one file each, and the one place they load the
//! configuration.

pub(crate) mod audit;
pub(crate) mod authz;
pub(crate) mod backup;
pub(crate) mod config;
pub(crate) mod csp;
pub(crate) mod keys;
pub(crate) mod mail;
pub(crate) mod manual;
pub(crate) mod oidc;
pub(crate) mod scan;
pub(crate) mod secret;
pub(crate) mod serve;
pub(crate) mod user;

use std::net::SocketAddr;
use std::path::PathBuf;

use palisade_service::{Config, Overrides};

/// The flags every subcommand that touches the data takes, before or after its action
/// (`palisade user --data-dir D list` and `palisade user list --data-dir D` alike).
#[derive(clap::Args, Clone)]
pub(crate) struct Common {
    /// TOML configuration file.
    #[arg(long, value_name = "FILE", global = true)]
    config: Option<PathBuf>,
    /// Data directory (SQLite database and keys).
    #[arg(long, value_name = "DIR", global = true)]
    data_dir: Option<PathBuf>,
}

impl Common {
    /// Defaults < file < environment < these flags (and `listen`, for `serve`).
    pub(crate) fn config(self, listen: Option<SocketAddr>) -> Result<Config, String> {
        let overrides = Overrides {
            listen,
            data_dir: self.data_dir,
        };
        Config::load(self.config.as_deref(), overrides)
    }

    /// As [`Common::config`], with every problem rather than the first.
    pub(crate) fn config_all_problems(self) -> Result<Config, Vec<String>> {
        let overrides = Overrides {
            listen: None,
            data_dir: self.data_dir,
        };
        Config::load_all_problems(self.config.as_deref(), overrides)
    }
}
