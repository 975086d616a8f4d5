//! `palisade oidc`: the OpenID provider's clients kept in the database (seen by every
//! instance), and `secret`, which makes a secret for a client of the configuration file.
//! A client's secret is printed once, on stdout, and never again.

use std::process::ExitCode;

use clap::Subcommand;
use palisade_service::admin::{Admin, ClientSummary};
use palisade_service::{ClientSettings, Config, OneOrMany};

#[derive(Subcommand)]
pub(crate) enum OidcAction {
    /// Manage the clients stored in the database.
    Client {
        #[command(subcommand)]
        action: ClientAction,
    },
    /// Print a new client secret and its SHA-256, for `secret_sha256` in the
    /// configuration file's `[[oidc.clients]]`.
    Secret,
}

#[derive(Subcommand)]
pub(crate) enum ClientAction {
    /// Add a client; a confidential one's secret is printed once.
    Add(Box<AddArgs>),
    /// List every client (configuration file and database).
    List,
    /// Show a client's settings (never its secret).
    Show { id: String },
    /// Remove a stored client; every token issued to it ends.
    Remove { id: String },
    /// Give a stored confidential client a new secret (printed once); the old one stops
    /// working at once.
    RotateSecret { id: String },
}

#[derive(clap::Args)]
pub(crate) struct AddArgs {
    /// The client_id (letters, digits, '-', '_', '.').
    id: String,
    /// The app's name, shown on the consent page.
    #[arg(long)]
    name: String,
    /// A redirect URI (repeat for several); compared byte for byte.
    #[arg(long = "redirect-uri", value_name = "URI")]
    redirect_uris: Vec<String>,
    /// A post-logout redirect URI (repeat for several).
    #[arg(long = "post-logout-redirect-uri", value_name = "URI")]
    post_logout_redirect_uris: Vec<String>,
    /// Where back-channel logout tokens are posted.
    #[arg(long, value_name = "URI")]
    backchannel_logout_uri: Option<String>,
    /// A public client (no secret; PKCE only).
    #[arg(long)]
    public: bool,
    /// An app of the site itself: no consent page.
    #[arg(long)]
    first_party: bool,
    /// Grant types (authorization_code, refresh_token, client_credentials).
    #[arg(long = "grant-type", value_name = "GRANT")]
    grant_types: Vec<String>,
    /// Scopes it may ask for.
    #[arg(long = "scope", value_name = "SCOPE")]
    scopes: Vec<String>,
    /// RS256 (default), ES256 or EdDSA.
    #[arg(long, value_name = "ALG")]
    signing_alg: Option<String>,
    /// public (default) or pairwise.
    #[arg(long, value_name = "TYPE")]
    subject_type: Option<String>,
    /// Who may use it: user:NAME or group:NAME (repeat for several).
    #[arg(long = "subject", value_name = "SUBJECT")]
    subjects: Vec<String>,
    /// authenticated (default) or two_factor.
    #[arg(long)]
    policy: Option<String>,
    /// private_key_jwt: a file holding the client's public keys (JWKS).
    #[arg(long, value_name = "FILE")]
    jwks_file: Option<std::path::PathBuf>,
    /// private_key_jwt: the one algorithm of its assertions.
    #[arg(long, value_name = "ALG")]
    assertion_alg: Option<String>,
}

fn print_summary(c: &ClientSummary) {
    let s = &c.settings;
    let kind = if s.public {
        "public"
    } else if s.jwks.is_some() {
        "private_key_jwt"
    } else {
        "confidential"
    };
    println!("{}\t{}\t{kind}\t{}", s.id, s.name, c.source);
}

pub(crate) async fn run(config: &Config, action: OidcAction) -> Result<ExitCode, String> {
    let action = match action {
        OidcAction::Secret => {
            let (secret, hash) = palisade_service::admin::new_client_secret()?;
            secret.expose(|s| println!("secret: {s}"));
            println!("secret_sha256 = \"{hash}\"");
            eprintln!(
                "give the secret to the app; put only secret_sha256 in the configuration file"
            );
            return Ok(ExitCode::SUCCESS);
        }
        OidcAction::Client { action } => action,
    };
    let admin = Admin::open(config).await?;
    match action {
        ClientAction::Add(args) => {
            let jwks = match &args.jwks_file {
                Some(path) => Some(
                    std::fs::read_to_string(path)
                        .map_err(|e| format!("--jwks-file {}: {e}", path.display()))?,
                ),
                None => None,
            };
            let mut settings = ClientSettings::new(&args.id, &args.name);
            settings.public = args.public;
            settings.first_party = args.first_party;
            settings.redirect_uris = args.redirect_uris;
            settings.post_logout_redirect_uris = args.post_logout_redirect_uris;
            settings.backchannel_logout_uri = args.backchannel_logout_uri;
            settings.grant_types = (!args.grant_types.is_empty()).then_some(args.grant_types);
            settings.scopes = (!args.scopes.is_empty()).then_some(args.scopes);
            settings.signing_alg = args.signing_alg;
            settings.subject_type = args.subject_type;
            settings.subject = OneOrMany::Many(args.subjects);
            settings.policy = args.policy;
            settings.jwks = jwks;
            settings.assertion_alg = args.assertion_alg;
            match admin.add_oidc_client(settings).await? {
                Some(secret) => {
                    secret.expose(|s| println!("client_secret: {s}"));
                    eprintln!("added client {}; the secret is shown this once", args.id);
                }
                None => eprintln!("added client {}", args.id),
            }
        }
        ClientAction::List => {
            for client in admin.oidc_clients().await? {
                print_summary(&client);
            }
        }
        ClientAction::Show { id } => {
            let client = admin.oidc_client(&id).await?;
            let text = toml::to_string_pretty(&client.settings).map_err(|e| e.to_string())?;
            println!(
                "# {} ({}; {})",
                id,
                client.source,
                if client.has_secret {
                    "has a secret"
                } else {
                    "no secret"
                }
            );
            print!("{text}");
        }
        ClientAction::Remove { id } => {
            admin.remove_oidc_client(&id).await?;
            eprintln!("removed client {id}; every token issued to it has ended");
        }
        ClientAction::RotateSecret { id } => {
            let secret = admin.rotate_oidc_secret(&id).await?;
            secret.expose(|s| println!("client_secret: {s}"));
            eprintln!(
                "client {id} has a new secret (shown this once); the old one no longer works"
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
