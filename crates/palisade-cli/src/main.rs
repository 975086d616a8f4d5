//! `palisade`: the account service (`serve`) and its tools. Each subcommand is a file in
//! `commands/`; the service itself is the `palisade-service` library.
#![forbid(unsafe_code)]

mod commands;

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

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

#[derive(Subcommand)]
enum Command {
    /// Run the account service.
    Serve {
        #[command(flatten)]
        common: commands::Common,
        /// Address to listen on (default 127.0.0.1:8080).
        #[arg(long, value_name = "ADDR")]
        listen: Option<std::net::SocketAddr>,
    },
    /// Manage encryption keys and pepper versions.
    Keys {
        #[command(flatten)]
        common: commands::Common,
        #[command(subcommand)]
        action: commands::keys::KeysAction,
    },
    /// Encrypt or decrypt a value with the keyring (Fernet; interoperates with Python).
    Secret {
        #[command(flatten)]
        common: commands::Common,
        #[command(subcommand)]
        action: commands::secret::SecretAction,
    },
    /// Content-Security-Policy tools.
    Csp {
        #[command(subcommand)]
        action: CspAction,
    },
    /// Audit lockfiles (Cargo.lock; Python requirements, Pipfile.lock, poetry.lock) against
    /// local advisory databases (RustSec, OSV).
    Audit(commands::audit::AuditArgs),
    /// Fetch a page and grade its security headers, cookies and CSP.
    Scan(commands::scan::ScanArgs),
    /// Manage users.
    User {
        #[command(flatten)]
        common: commands::Common,
        #[command(subcommand)]
        action: commands::user::UserAction,
    },
    /// Mail: `test` sends a message through the configured transport.
    Mail {
        #[command(flatten)]
        common: commands::Common,
        #[command(subcommand)]
        action: commands::mail::MailAction,
    },
    /// The OpenID Connect provider: its clients, and secrets for the configuration file.
    Oidc {
        #[command(flatten)]
        common: commands::Common,
        #[command(subcommand)]
        action: commands::oidc::OidcAction,
    },
    /// Copy the SQLite database (consistent, while the service runs), keys and pepper to
    /// FILE, FILE.keys and FILE.pepper, readable by their owner only.
    Backup {
        #[command(flatten)]
        common: commands::Common,
        /// Where to write the copy; it must not exist.
        file: std::path::PathBuf,
    },
    /// Restore a backup (FILE, FILE.keys, FILE.pepper) into an empty data directory.
    Restore {
        /// The backup's database file.
        file: std::path::PathBuf,
        /// The data directory to fill; it must hold no database, keys or pepper.
        #[arg(long, value_name = "DIR")]
        data_dir: std::path::PathBuf,
    },
    /// The configuration: `check` it without starting.
    Config {
        #[command(flatten)]
        common: commands::Common,
        #[command(subcommand)]
        action: commands::config::ConfigAction,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Write the man pages (palisade.1 and one per subcommand) into a directory.
    Man {
        /// Where to write them.
        dir: std::path::PathBuf,
    },
    /// Forward-auth access rules: `check` which rule decides a URL.
    Authz {
        #[command(flatten)]
        common: commands::Common,
        #[command(subcommand)]
        action: commands::authz::AuthzAction,
    },
}

#[derive(Subcommand)]
enum CspAction {
    /// Judge a policy: parse problems and weaknesses, each with a fix.
    Check(commands::csp::CheckArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Colour only for a person at a terminal; `PALISADE_LOG_FORMAT=json` for log processors.
    let logs = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("PALISADE_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_writer(std::io::stderr);
    if std::env::var("PALISADE_LOG_FORMAT").as_deref() == Ok("json") {
        logs.json().init();
    } else {
        logs.init();
    }
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
            Command::Serve { common, listen } => commands::serve::run(common.config(listen)?).await,
            Command::Keys { common, action } => {
                commands::keys::run_keys(&common.config(None)?, action).await
            }
            Command::Secret { common, action } => {
                commands::secret::run_secret(&common.config(None)?, action)
            }
            Command::Csp {
                action: CspAction::Check(args),
            } => commands::csp::run(args),
            Command::Scan(args) => commands::scan::run(args).await,
            Command::Audit(args) => commands::audit::run(args),
            Command::User { common, action } => {
                commands::user::run(common.config(None)?, action).await
            }
            Command::Mail { common, action } => {
                commands::mail::run(&common.config(None)?, action).await
            }
            Command::Oidc { common, action } => {
                commands::oidc::run(&common.config(None)?, action).await
            }
            Command::Backup { common, file } => {
                commands::backup::backup(&common.config(None)?, &file).await
            }
            Command::Restore { file, data_dir } => {
                commands::backup::restore(&file, &data_dir).await
            }
            Command::Config { common, action } => commands::config::run(common, action),
            Command::Completions { shell } => {
                commands::manual::completions(&mut Cli::command(), shell)
            }
            Command::Man { dir } => commands::manual::man_pages(Cli::command(), &dir),
            Command::Authz { common, action } => {
                commands::authz::run(common.config(None)?, action).await
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
