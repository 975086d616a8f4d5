//! `palisade secret encrypt|decrypt`: Fernet on standard input and output, with the
//! keyring; interoperates with Python's `cryptography`.

use std::io::{Read, Write};
use std::process::ExitCode;
use std::time::Duration;

use clap::Subcommand;
use zeroize::Zeroizing;

use palisade_service::Config;
use palisade_service::admin::keyring;

#[derive(Subcommand)]
pub(crate) enum SecretAction {
    /// Encrypt standard input into a Fernet token on standard output.
    Encrypt,
    /// Decrypt a Fernet token on standard input; the value goes to standard output.
    Decrypt {
        /// Refuse tokens older than this many seconds.
        #[arg(long, value_name = "SECONDS")]
        ttl: Option<u64>,
    },
}

const MAX_STDIN: u64 = 1024 * 1024;

fn read_stdin() -> Result<Zeroizing<Vec<u8>>, String> {
    let mut input = Zeroizing::new(Vec::new());
    std::io::stdin()
        .take(MAX_STDIN + 1)
        .read_to_end(&mut input)
        .map_err(|e| format!("standard input: {e}"))?;
    if input.len() as u64 > MAX_STDIN {
        return Err("standard input is larger than 1 MiB".into());
    }
    Ok(input)
}

pub(crate) fn run_secret(config: &Config, action: SecretAction) -> Result<ExitCode, String> {
    let ring = keyring(config)?;
    let input = read_stdin()?;
    let mut out = std::io::stdout().lock();
    match action {
        SecretAction::Encrypt => {
            let token = ring.encrypt(&input).map_err(|e| e.to_string())?;
            writeln!(out, "{token}").map_err(|e| e.to_string())?;
        }
        SecretAction::Decrypt { ttl } => {
            let token = std::str::from_utf8(&input)
                .map_err(|_| "the token is not text".to_owned())?
                .trim();
            let decrypted = ring
                .decrypt(token, ttl.map(Duration::from_secs))
                .map_err(|e| e.to_string())?;
            decrypted
                .plaintext
                .expose(|v| out.write_all(v))
                .map_err(|e| e.to_string())?;
        }
    }
    out.flush().map_err(|e| e.to_string())?;
    Ok(ExitCode::SUCCESS)
}
