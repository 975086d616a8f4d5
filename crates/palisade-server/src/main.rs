//! `palisade`: the account service and its tools.
#![forbid(unsafe_code)]

mod accounts;
mod api;
mod app;
mod audit_cli;
mod body;
mod clock;
mod config;
mod csp_cli;
mod db;
mod error;
mod keys;
mod keys_cli;
mod scan;
mod serve;
mod sessions;
mod state;
mod store;
mod users;
mod vault;
mod web;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "palisade",
    version,
    about = "Secure-by-default accounts and web hardening"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(clap::Args, Clone)]
struct Common {
    /// TOML configuration file.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Data directory (SQLite database and keys).
    #[arg(long, value_name = "DIR")]
    data_dir: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the account service.
    Serve {
        #[command(flatten)]
        common: Common,
        /// Address to listen on (default 127.0.0.1:8080).
        #[arg(long, value_name = "ADDR")]
        listen: Option<std::net::SocketAddr>,
    },
    /// Manage encryption keys and pepper versions.
    Keys {
        #[command(flatten)]
        common: Common,
        #[command(subcommand)]
        action: keys_cli::KeysAction,
    },
    /// Encrypt or decrypt a value with the keyring (Fernet; interoperates with Python).
    Secret {
        #[command(flatten)]
        common: Common,
        #[command(subcommand)]
        action: keys_cli::SecretAction,
    },
    /// Content-Security-Policy tools.
    Csp {
        #[command(subcommand)]
        action: CspAction,
    },
    /// Audit Cargo.lock files against a local RustSec advisory database.
    Audit(audit_cli::AuditArgs),
    /// Fetch a page and grade its security headers, cookies and CSP.
    Scan(scan::ScanArgs),
    /// Manage users.
    User {
        #[command(flatten)]
        common: Common,
        #[command(subcommand)]
        action: users::UserAction,
    },
}

#[derive(Subcommand)]
enum CspAction {
    /// Judge a policy: parse problems and weaknesses, each with a fix.
    Check(csp_cli::CheckArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("PALISADE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("palisade: cannot start the runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Serve { common, listen } => {
                let overrides = config::Overrides {
                    listen,
                    data_dir: common.data_dir,
                };
                let config = config::Config::load(common.config.as_deref(), overrides)?;
                serve::run(config).await
            }
            Command::Keys { common, action } => {
                let overrides = config::Overrides {
                    listen: None,
                    data_dir: common.data_dir,
                };
                let config = config::Config::load(common.config.as_deref(), overrides)?;
                keys_cli::run_keys(&config, action).await
            }
            Command::Secret { common, action } => {
                let overrides = config::Overrides {
                    listen: None,
                    data_dir: common.data_dir,
                };
                let config = config::Config::load(common.config.as_deref(), overrides)?;
                keys_cli::run_secret(&config, action)
            }
            Command::Csp {
                action: CspAction::Check(args),
            } => csp_cli::run(args),
            Command::Scan(args) => scan::run(args).await,
            Command::Audit(args) => audit_cli::run(args),
            Command::User { common, action } => {
                let overrides = config::Overrides {
                    listen: None,
                    data_dir: common.data_dir,
                };
                let config = config::Config::load(common.config.as_deref(), overrides)?;
                users::run(config, action).await
            }
        }
    });
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("palisade: {message}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests;
