//! `palisade authz check URL`: which access rule decides a request, and why.

use std::net::IpAddr;
use std::process::ExitCode;

use palisade_service::Config;
use palisade_service::admin::Admin;

#[derive(clap::Subcommand)]
pub(crate) enum AuthzAction {
    /// Decide a URL as the forward-auth endpoints would, printing the deciding rule.
    /// Exits 0 when allowed, 1 when not.
    Check {
        /// The original request's absolute URL (https://app.example.com/path?query).
        url: String,
        /// Decide for this user (with their groups); without it, for nobody logged in.
        #[arg(long)]
        user: Option<String>,
        #[arg(long, default_value = "GET")]
        method: String,
        /// The client's address.
        #[arg(long, default_value = "127.0.0.1")]
        from: IpAddr,
    },
}

pub(crate) async fn run(config: Config, action: AuthzAction) -> Result<ExitCode, String> {
    let AuthzAction::Check {
        url,
        user,
        method,
        from,
    } = action;
    let admin = Admin::open(&config).await?;
    let report = admin
        .authz_check(&url, user.as_deref(), &method, from)
        .await?;
    let by = match report.rule {
        Some(i) => format!("access_control.rules[{i}]"),
        None => "default_policy".to_owned(),
    };
    println!("{}: {} ({by})", report.url, report.outcome);
    println!("why: {}", report.why);
    for warning in &report.warnings {
        eprintln!("warning: {warning}");
    }
    Ok(if report.outcome == "allow" {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
