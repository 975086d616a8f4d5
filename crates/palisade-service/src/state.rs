//! The state every handler shares.

use std::sync::Arc;

use metrics_exporter_prometheus::PrometheusHandle;
use palisade::http::FormTokens;

use crate::accounts::Accounts;

pub(crate) struct Inner {
    pub(crate) accounts: Accounts,
    pub(crate) authz: crate::authz::Authz,
    pub(crate) api_tokens: crate::api_tokens::ApiTokens,
    /// Administration (the admin API).
    pub(crate) console: crate::console::Administration,
    pub(crate) account_data: crate::account_data::AccountData,
    pub(crate) mfa: crate::mfa::SecondFactors,
    /// The OpenID Connect provider.
    pub(crate) oidc: Arc<crate::oidc::Oidc>,
    /// Seals vault values; the first key seals, every key opens.
    pub(crate) keyring: Arc<palisade::secret::Keyring>,
    pub(crate) forms: FormTokens,
    /// The site's name, stylesheet and logo, as every page shows them.
    pub(crate) site: Arc<crate::web::Site>,
    pub(crate) metrics: PrometheusHandle,
    pub(crate) metrics_token: Option<crate::config::Redacted>,
}

#[derive(Clone)]
pub(crate) struct AppState(pub(crate) Arc<Inner>);

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}
