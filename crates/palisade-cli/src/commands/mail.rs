//! `palisade mail test ADDRESS`: sends a test message at once, past the outbox, so that
//! the operator sees the transport's own error (certificate, authentication, connection).

use std::process::ExitCode;

use clap::Subcommand;
use palisade_service::Config;

#[derive(Subcommand)]
pub(crate) enum MailAction {
    /// Send a test message to ADDRESS through the configured SMTP server (or into
    /// `<data_dir>/outbox/` when none is configured).
    Test { address: String },
}

pub(crate) async fn run(config: &Config, action: MailAction) -> Result<ExitCode, String> {
    match action {
        MailAction::Test { address } => {
            match palisade_service::admin::send_test_mail(config, &address).await {
                Ok(to) => {
                    println!("sent a test message to {address} through {to}");
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    eprintln!("palisade: the test message was not sent: {e}");
                    Ok(ExitCode::from(1))
                }
            }
        }
    }
}
