//! Builds the service from its configuration: database, pepper, keys, hashing, policies.

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, OnceLock};

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use palisade::http::FormTokens;
use palisade::password::{
    Algorithm, Argon2Params, Blocklist, HashPool, LegacyPepper, PasswordHasher, PasswordPolicy,
};
use palisade::secret::{Keyring, SecretBytes};
use palisade::throttle::ThrottlePolicy;
use sha2::{Digest, Sha256};

use crate::accounts::Accounts;
use crate::clock::Clock;
use crate::config::Config;
use crate::keys::KeySource;
use crate::sessions::SessionCookies;
use crate::sessions::{SessionPolicy, Sessions};
use crate::state::{AppState, Inner};
use crate::store::Store;

/// The process-wide metrics recorder (a recorder is global; tests build several states).
fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            let _ = metrics::set_global_recorder(recorder);
            handle
        })
        .clone()
}

/// The built service: its shared state, and what it found at start.
pub struct Service {
    pub(crate) state: AppState,
    database: String,
    notes: Vec<String>,
}

impl Service {
    /// The HTTP application: every page and API route behind the hardening layers.
    pub fn router(&self, config: &Config) -> Result<axum::Router, String> {
        Ok(crate::app::app(
            self.state.clone(),
            crate::app::shield_config(config)?,
            config.authz_listen.is_none(),
        ))
    }

    /// With `authz_listen`, the application of that listener: the forward-auth endpoints
    /// alone.
    pub fn authz_router(&self, config: &Config) -> Result<Option<axum::Router>, String> {
        let Some(listen) = config.authz_listen else {
            return Ok(None);
        };
        let mut shield = crate::app::shield_config(config)?;
        shield.https = palisade::http::HttpsPolicy::for_listener(listen);
        Ok(Some(crate::app::authz_app(self.state.clone(), shield)))
    }

    /// Starts the background task that deletes expired sessions and stale counters.
    pub fn spawn_cleanup(&self) {
        crate::sessions::spawn_cleanup(&self.state.accounts);
    }

    /// Starts this instance's mail worker: it sends what the outbox holds, retrying with
    /// backoff; any number of instances may run one.
    pub fn spawn_mailer(&self) {
        crate::mail::spawn_sender(self.state.accounts.mail.clone());
    }

    /// Starts this instance's OpenID provider worker: signing-key rotation on schedule,
    /// and back-channel logouts of ended sessions; any number of instances may run one.
    pub fn spawn_oidc(&self) {
        crate::oidc::spawn_worker(self.state.oidc.clone());
    }

    /// One round of the OpenID provider's worker now: keys rotated when due, ended
    /// sessions' back-channel logouts queued and the due ones delivered (how many).
    pub async fn oidc_round(&self) -> Result<usize, String> {
        let oidc = &self.state.oidc;
        if oidc.clients.any().await.map_err(|e| e.to_string())? {
            oidc.keys.rotate_due().await.map_err(|e| e.to_string())?;
        }
        oidc.backchannel_round().await.map_err(|e| e.to_string())
    }

    /// Sends every message the outbox holds that is due now (what the worker does on each
    /// round); returns how many went.
    pub async fn send_due_mail(&self) -> Result<usize, String> {
        self.state
            .accounts
            .mail
            .send_due()
            .await
            .map_err(|e| e.to_string())
    }

    /// Waits for the work requests left behind their answers (a reset request's lookup
    /// and message) to finish.
    pub async fn settle(&self) {
        self.state.accounts.background.settle().await;
    }

    /// Passwords hashed or verified since the start (every login, registration and
    /// password check, padding included): what an attack costs the service.
    pub fn passwords_hashed(&self) -> u64 {
        self.state
            .accounts
            .hashes_done
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The login and registration limits in force.
    pub fn throttle_policy(&self) -> palisade::throttle::ThrottlePolicy {
        self.state.accounts.throttle
    }

    /// What the database is, safe to print (no password).
    pub fn database(&self) -> &str {
        &self.database
    }

    /// What the start-up found or created (keys generated, lists loaded), to tell the
    /// operator.
    pub fn notes(&self) -> &[String] {
        &self.notes
    }
}

/// Builds the shared state on the system clock: database, keys, hasher, policy.
pub async fn build(config: &Config) -> Result<Service, String> {
    build_with_clock(config, Clock::system()).await
}

/// Builds the shared state with time read from `clock`.
pub async fn build_with_clock(config: &Config, clock: Clock) -> Result<Service, String> {
    crate::keys::ensure_private_dir(&config.data_dir)?;
    let db = crate::db::connect(config).await?;
    let mut notes = Vec::new();
    let keyring = Arc::new(load_keys(config, &mut notes)?);
    let hasher = hasher(config, &mut notes)?;
    let policy = password_policy(config, &mut notes)?;
    let store = Store::new(db.pool.clone());
    // Checked once, used by the session cookies and by the way back after login.
    let cookie_domain = config.cookie_domain()?;
    let mail = crate::mail::Mailer::new(config, store.clone(), clock.clone(), keyring.clone())?;
    notes.push(format!("mail goes to {}", mail.describe()));
    if !config.signs_up_by_link() {
        notes.push(
            "sign-up answers 409 for an address that has an account (signup_by_link is off: no smtp_host)".into(),
        );
    }
    let accounts = Accounts {
        store: store.clone(),
        hashing: HashPool::new(Arc::new(hasher), config.hash_concurrency),
        policy,
        throttle: ThrottlePolicy::default(),
        sessions: Sessions::new(
            store.clone(),
            clock.clone(),
            SessionPolicy {
                idle_secs: (config.session_idle_minutes * 60) as i64,
                absolute_secs: (config.session_absolute_minutes * 60) as i64,
                reauth_secs: (config.reauth_minutes * 60) as i64,
                require_second_factor: config.require_second_factor,
                require_verified_email: config.require_verified_email,
            },
            SessionCookies::new(cookie_domain.clone()),
        ),
        site_name: config.site_name.clone(),
        mail: Arc::new(mail),
        background: Default::default(),
        notify_new_sign_in: config.notify_new_sign_in,
        signup_by_link: config.signs_up_by_link(),
        clock,
        hashes_done: Arc::new(AtomicU64::new(0)),
    };
    let legacy_cost = store
        .max_legacy_cost()
        .await
        .map_err(|e| format!("database: {e}"))?;
    if legacy_cost > 0 {
        notes.push(format!(
            "imported bcrypt hashes remain (cost up to {legacy_cost}): every login pays for one, so none can be told apart by timing"
        ));
    }
    let forms = FormTokens::new(form_key(&keyring)).map_err(|e| e.to_string())?;
    let authz = crate::authz::Authz::new(
        crate::authz::AccessRules::compile(&config.access_control)
            .map(|rules| {
                rules
                    .requiring_second_factor(config.require_second_factor)
                    .requiring_verified_email(config.require_verified_email)
            })
            .map_err(|e| format!("configuration: {e}"))?,
        config.trusted_proxies()?,
        &config.origin(),
        cookie_domain.as_deref(),
        store.clone(),
    );
    for warning in authz.warnings() {
        tracing::warn!(%warning, "access rules");
        notes.push(format!("warning: {warning}"));
    }
    let api_tokens = crate::api_tokens::ApiTokens::new(store.clone(), accounts.clock.clone());
    let webauthn = crate::mfa::passkeys::relying_party(&config.origin(), &config.site_name)
        .map_err(|e| format!("configuration: {e}"))?;
    let mfa = crate::mfa::SecondFactors::new(store.clone(), accounts.clock.clone(), webauthn);
    let site = Arc::new(crate::web::Site::from_config(config)?);
    let oidc = Arc::new(crate::oidc::Oidc::new(
        config,
        store.clone(),
        accounts.clock.clone(),
        keyring.clone(),
        site.clone(),
    )?);
    let console = crate::console::Administration::new(
        store.clone(),
        accounts.clock.clone(),
        accounts.mail.clone(),
        config.admin_group.clone(),
    );
    let account_data = crate::account_data::AccountData::new(
        store.clone(),
        accounts.clock.clone(),
        accounts.mail.clone(),
        oidc.clone(),
        config.deleted_username_reserved_days,
        config.admin_group.clone(),
    );
    let state = AppState(Arc::new(Inner {
        account_data,
        accounts,
        authz,
        api_tokens,
        console,
        mfa,
        oidc,
        keyring,
        forms,
        site,
        metrics: metrics_handle(),
        metrics_token: config.metrics_token.clone(),
    }));
    Ok(Service {
        state,
        database: db.describe,
        notes,
    })
}

/// The Fernet keyring, created in the data directory on first start.
fn load_keys(config: &Config, notes: &mut Vec<String>) -> Result<Keyring, String> {
    let (keyring, source, created) = crate::keys::load_keyring(config, true)?;
    notes.push(match (&source, created) {
        (KeySource::File(path), true) => {
            format!("generated an encryption key in {}", path.display())
        }
        (KeySource::File(path), false) => format!("encryption keys from {}", path.display()),
        (KeySource::Env, _) => "encryption keys from PALISADE_KEYS".to_owned(),
    });
    Ok(keyring)
}

/// Argon2id behind the pepper (created on first start), and the legacy pepper of imports.
fn hasher(config: &Config, notes: &mut Vec<String>) -> Result<PasswordHasher, String> {
    let (peppers, created) = crate::keys::load_or_create_pepper(&config.data_dir)?;
    if created {
        notes.push(format!(
            "generated a password pepper in {}",
            config.data_dir.join("pepper").display()
        ));
    }
    let hasher = PasswordHasher::new(peppers)
        .with_algorithm(Algorithm::Argon2id(Argon2Params {
            m_kib: config.argon2_memory_kib,
            t: config.argon2_iterations,
            p: config.argon2_parallelism,
        }))
        .map_err(|e| format!("configuration: argon2_*: {e}"))?;
    Ok(match &config.legacy_bcrypt_pepper {
        Some(pepper) => hasher.with_legacy_pepper(LegacyPepper::new(pepper.to_secret())),
        None => hasher,
    })
}

/// The password policy, with the breached-passwords list when one is configured or present.
fn password_policy(config: &Config, notes: &mut Vec<String>) -> Result<PasswordPolicy, String> {
    // The site's name, each word of it, and the product's: what an attacker tries first.
    let site_words = config
        .site_name
        .split(|c: char| !c.is_alphanumeric())
        .chain([config.site_name.as_str(), "palisade"])
        .filter(|w| w.chars().count() >= 3)
        .map(str::to_lowercase);
    let policy = PasswordPolicy::new().with_site_words(site_words);
    let default_list = config.data_dir.join("breached-passwords.txt");
    let list_path = config
        .password_blocklist
        .clone()
        .or_else(|| default_list.is_file().then_some(default_list.clone()));
    let Some(path) = list_path else {
        notes.push(format!(
            "no breached-passwords list: put one at {} (see README)",
            default_list.display()
        ));
        return Ok(policy);
    };
    let list = Blocklist::from_file(&path)
        .map_err(|e| format!("configuration: password_blocklist: {e}"))?;
    notes.push(format!(
        "refusing {} breached passwords from {}",
        list.len(),
        path.display()
    ));
    Ok(policy.with_blocklist(Arc::new(list)))
}

/// Form tokens need a key every instance shares: derived from the first Fernet key.
fn form_key(keyring: &Keyring) -> SecretBytes {
    keyring.keys()[0].encode().expose(|k| {
        let mut h = Sha256::new();
        h.update(b"palisade form tokens v1\0");
        h.update(k);
        SecretBytes::copy_from(&h.finalize())
    })
}
