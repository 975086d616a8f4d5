//! One client's settings compiled: every field checked once, into a form that cannot be
//! misread; an error names the client and the field.

use super::super::jwt::{Alg, PublicKey};
use super::super::settings::{ClientSettings, OidcSettings};
use super::{Client, ClientAuth, MAX_ACCESS_MINUTES, SCOPES};
use crate::authz::Policy;

/// Where `url` may be a redirect target: an absolute `https` URL (`http` on a loopback
/// host, for development and native apps), without userinfo or fragment.
fn check_uri(url: &str, field: &str) -> Result<String, String> {
    let parsed = url::Url::parse(url)
        .map_err(|e| format!("{field}: {url:?} is not an absolute URL ({e})"))?;
    let loopback = match parsed.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(a)) => a.is_loopback(),
        Some(url::Host::Ipv6(a)) => a.is_loopback(),
        None => false,
    };
    let ok_scheme = parsed.scheme() == "https" || (parsed.scheme() == "http" && loopback);
    if !ok_scheme {
        return Err(format!(
            "{field}: {url:?} must be https (http only on a loopback host)"
        ));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(format!(
            "{field}: {url:?} must not hold a user name or password"
        ));
    }
    if parsed.fragment().is_some() || url.contains('#') {
        return Err(format!("{field}: {url:?} must not have a fragment"));
    }
    if !url.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(format!(
            "{field}: {url:?} must be printable ASCII, percent-encoded where needed"
        ));
    }
    Ok(url.to_owned())
}

/// A client id: 1–64 of letters, digits, `-`, `_`, `.`.
pub(crate) fn is_client_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

/// The site's requirements every client's policy is applied under.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SiteRequirements {
    pub(crate) second_factor: bool,
    pub(crate) verified_email: bool,
}

/// Compiles one client's settings; `secret_hash` is a stored client's (hex).
pub(crate) fn compile(
    settings: &ClientSettings,
    secret_hash: Option<&str>,
    defaults: &OidcSettings,
    site: SiteRequirements,
    at: &str,
) -> Result<Client, String> {
    if !is_client_id(&settings.id) {
        return Err(format!(
            "{at}.id: {:?} is not a client id (1 to 64 letters, digits, '-', '_' or '.')",
            settings.id
        ));
    }
    let at = format!("{at} ({})", settings.id);
    if settings.name.trim().is_empty() || settings.name.chars().count() > 100 {
        return Err(format!(
            "{at}.name: give the app's name (at most 100 characters)"
        ));
    }
    let hash_field = |text: &str, field: &str| -> Result<[u8; 32], String> {
        let bytes: Vec<u8> = (0..text.len())
            .step_by(2)
            .map(|i| {
                text.get(i..i + 2)
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
            })
            .collect::<Option<_>>()
            .unwrap_or_default();
        bytes
            .try_into()
            .map_err(|_| format!("{at}.{field}: not a SHA-256 in hex (64 hex digits; `palisade oidc secret` prints one)"))
    };
    let auth = match (
        &settings.jwks,
        settings.public,
        &settings.secret_sha256,
        secret_hash,
    ) {
        (Some(jwks), false, None, None) => {
            let alg_name = settings.assertion_alg.as_deref().ok_or_else(|| {
                format!("{at}.assertion_alg: name the one algorithm its assertions use (ES256, RS256 or EdDSA)")
            })?;
            let alg = Alg::parse(alg_name).ok_or_else(|| {
                format!("{at}.assertion_alg: {alg_name:?} is not ES256, RS256 or EdDSA")
            })?;
            let set: serde_json::Value =
                serde_json::from_str(jwks).map_err(|e| format!("{at}.jwks: not JSON: {e}"))?;
            let keys = set["keys"]
                .as_array()
                .ok_or_else(|| format!("{at}.jwks: not a JWKS (an object with \"keys\")"))?
                .iter()
                .enumerate()
                .map(|(i, k)| {
                    PublicKey::from_jwk(k, alg).map_err(|e| format!("{at}.jwks.keys[{i}]: {e}"))
                })
                .collect::<Result<Vec<_>, _>>()?;
            if keys.is_empty() {
                return Err(format!("{at}.jwks: holds no key"));
            }
            ClientAuth::PrivateKeyJwt { keys, alg }
        }
        (Some(_), _, _, _) => {
            return Err(format!(
                "{at}.jwks: a client with keys is confidential and has no secret"
            ));
        }
        (None, true, None, None) => ClientAuth::None,
        (None, true, _, _) => {
            return Err(format!("{at}.secret_sha256: a public client has no secret"));
        }
        (None, false, Some(hex), _) => {
            ClientAuth::Secret(hex.expose(|hex| hash_field(hex, "secret_sha256"))?)
        }
        (None, false, None, Some(hex)) => ClientAuth::Secret(hash_field(hex, "secret")?),
        (None, false, None, None) => ClientAuth::Unusable,
    };
    let redirect_uris = settings
        .redirect_uris
        .iter()
        .enumerate()
        .map(|(i, u)| check_uri(u, &format!("{at}.redirect_uris[{i}]")))
        .collect::<Result<Vec<_>, _>>()?;
    let post_logout_redirect_uris = settings
        .post_logout_redirect_uris
        .iter()
        .enumerate()
        .map(|(i, u)| check_uri(u, &format!("{at}.post_logout_redirect_uris[{i}]")))
        .collect::<Result<Vec<_>, _>>()?;
    let backchannel_logout_uri = settings
        .backchannel_logout_uri
        .as_deref()
        .map(|u| check_uri(u, &format!("{at}.backchannel_logout_uri")))
        .transpose()?;
    let default_grants = ["authorization_code".to_owned(), "refresh_token".to_owned()];
    let grants = settings.grant_types.as_deref().unwrap_or(&default_grants);
    for (i, g) in grants.iter().enumerate() {
        if !["authorization_code", "refresh_token", "client_credentials"].contains(&g.as_str()) {
            return Err(format!(
                "{at}.grant_types[{i}]: {g:?} is not authorization_code, refresh_token or client_credentials"
            ));
        }
    }
    let has = |g: &str| grants.iter().any(|x| x == g);
    let (code_grant, refresh_grant, client_credentials_grant) = (
        has("authorization_code"),
        has("refresh_token"),
        has("client_credentials"),
    );
    if code_grant && redirect_uris.is_empty() {
        return Err(format!(
            "{at}.redirect_uris: give at least one (authorization_code needs it)"
        ));
    }
    if client_credentials_grant && matches!(auth, ClientAuth::None) {
        return Err(format!(
            "{at}.grant_types: a public client cannot use client_credentials"
        ));
    }
    let scopes = match &settings.scopes {
        None => SCOPES.iter().map(|s| (*s).to_owned()).collect(),
        Some(scopes) => {
            for (i, s) in scopes.iter().enumerate() {
                if !SCOPES.contains(&s.as_str()) {
                    return Err(format!(
                        "{at}.scopes[{i}]: {s:?} is not one of {}",
                        SCOPES.join(", ")
                    ));
                }
            }
            scopes.clone()
        }
    };
    let access_minutes = settings
        .access_token_minutes
        .unwrap_or(defaults.access_token_minutes);
    if access_minutes == 0 || access_minutes > MAX_ACCESS_MINUTES {
        return Err(format!(
            "{at}.access_token_minutes: from 1 to {MAX_ACCESS_MINUTES}"
        ));
    }
    let refresh_days = settings
        .refresh_token_days
        .unwrap_or(defaults.refresh_token_days);
    if refresh_days == 0 || refresh_days > 365 {
        return Err(format!("{at}.refresh_token_days: from 1 to 365"));
    }
    let signing_alg = match settings.signing_alg.as_deref() {
        None => Alg::Rs256,
        Some(name) => Alg::parse(name)
            .ok_or_else(|| format!("{at}.signing_alg: {name:?} is not RS256, ES256 or EdDSA"))?,
    };
    let pairwise = match settings.subject_type.as_deref() {
        None | Some("public") => false,
        Some("pairwise") => true,
        Some(other) => {
            return Err(format!(
                "{at}.subject_type: {other:?} is not public or pairwise"
            ));
        }
    };
    let subjects =
        crate::authz::compile_subjects(settings.subject.values(), &format!("{at}.subject"))?;
    let policy = match settings.policy.as_deref() {
        None => Policy::Authenticated,
        Some(name) => match Policy::parse(name, &format!("{at}.policy"))? {
            p @ (Policy::Authenticated | Policy::TwoFactor) => p,
            _ => {
                return Err(format!(
                    "{at}.policy: a client's policy is authenticated or two_factor"
                ));
            }
        },
    };
    Ok(Client {
        id: settings.id.clone(),
        name: settings.name.trim().to_owned(),
        require_pkce: settings.require_pkce || matches!(auth, ClientAuth::None),
        auth,
        redirect_uris,
        post_logout_redirect_uris,
        backchannel_logout_uri,
        code_grant,
        refresh_grant,
        client_credentials_grant,
        scopes,
        access_token_secs: (access_minutes * 60) as i64,
        refresh_token_secs: (refresh_days * 86_400) as i64,
        first_party: settings.first_party,
        signing_alg,
        pairwise,
        subjects,
        policy,
        require_second_factor: site.second_factor,
        require_verified_email: site.verified_email,
    })
}
