//! Builds the service from its configuration: database, pepper, keys, hashing, policies.

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, OnceLock};

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use palisade::http::FormTokens;
use palisade::password::{
    Algorithm, Argon2Params, Blocklist, HashPool, LegacyPepper, PasswordHasher, PasswordPolicy,
};
use palisade::secret::SecretBytes;
use palisade::throttle::ThrottlePolicy;
use sha2::{Digest, Sha256};

use crate::accounts::Accounts;
use crate::clock::Clock;
use crate::config::Config;
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

/// What `build` found, for the start-up message.
pub(crate) struct Built {
    pub(crate) state: AppState,
    pub(crate) database: String,
    pub(crate) notes: Vec<String>,
}

/// Builds the shared state on the system clock: database, keys, hasher, policy.
pub(crate) async fn build(config: &Config) -> Result<Built, String> {
    build_with_clock(config, Clock::system()).await
}

/// Builds the shared state with time read from `clock`.
pub(crate) async fn build_with_clock(config: &Config, clock: Clock) -> Result<Built, String> {
    crate::keys::ensure_private_dir(&config.data_dir)?;
    let db = crate::db::connect(config).await?;
    let mut notes = Vec::new();
    let (peppers, created) = crate::keys::load_or_create_pepper(&config.data_dir)?;
    if created {
        notes.push(format!(
            "generated a password pepper in {}",
            config.data_dir.join("pepper").display()
        ));
    }
    let (keyring, source, created) = crate::keys::load_keyring(config, true)?;
    match (&source, created) {
        (crate::keys::KeySource::File(path), true) => {
            notes.push(format!("generated an encryption key in {}", path.display()))
        }
        (crate::keys::KeySource::File(path), false) => {
            notes.push(format!("encryption keys from {}", path.display()))
        }
        (crate::keys::KeySource::Env, _) => {
            notes.push("encryption keys from PALISADE_KEYS".to_owned())
        }
    }
    let hasher = PasswordHasher::new(peppers)
        .with_algorithm(Algorithm::Argon2id(Argon2Params {
            m_kib: config.argon2_memory_kib,
            t: config.argon2_iterations,
            p: config.argon2_parallelism,
        }))
        .map_err(|e| format!("configuration: argon2_*: {e}"))?;
    let hasher = match &config.legacy_bcrypt_pepper {
        Some(pepper) => hasher.with_legacy_pepper(LegacyPepper::new(pepper.to_secret())),
        None => hasher,
    };
    let mut policy = PasswordPolicy::new().with_site_words([config.site_name.clone()]);
    let default_list = config.data_dir.join("breached-passwords.txt");
    let list_path = config
        .password_blocklist
        .clone()
        .or_else(|| default_list.is_file().then_some(default_list));
    match list_path {
        Some(path) => {
            let list = Blocklist::from_file(&path)
                .map_err(|e| format!("configuration: password_blocklist: {e}"))?;
            notes.push(format!(
                "refusing {} breached passwords from {}",
                list.len(),
                path.display()
            ));
            policy = policy.with_blocklist(Arc::new(list));
        }
        None => notes.push(format!(
            "no breached-passwords list: put one at {} (see README)",
            config.data_dir.join("breached-passwords.txt").display()
        )),
    }
    // Form tokens need a key every instance shares: derived from the first Fernet key.
    let form_key = keyring.keys()[0].encode().expose(|k| {
        let mut h = Sha256::new();
        h.update(b"palisade form tokens v1\0");
        h.update(k);
        SecretBytes::copy_from(&h.finalize())
    });
    let store = Store::new(db.pool.clone());
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
            },
        ),
        site_name: config.site_name.clone(),
        clock,
        hashes_done: Arc::new(AtomicU64::new(0)),
    };
    let legacy_cost = accounts
        .store
        .max_legacy_cost()
        .await
        .map_err(|e| format!("database: {e}"))?;
    if legacy_cost > 0 {
        notes.push(format!(
            "imported bcrypt hashes remain (cost up to {legacy_cost}): every login pays for one, so none can be told apart by timing"
        ));
    }
    let state = AppState(Arc::new(Inner {
        accounts,
        keyring,
        forms: FormTokens::new(form_key).map_err(|e| e.to_string())?,
        metrics: metrics_handle(),
        metrics_token: config.metrics_token.clone(),
    }));
    Ok(Built {
        state,
        database: db.describe,
        notes,
    })
}
