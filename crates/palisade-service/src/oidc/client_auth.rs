//! Client authentication at the token, introspection and revocation endpoints:
//! `client_secret_basic`, `client_secret_post`, `private_key_jwt` (RFC 7523: the one
//! algorithm the client registered, each `jti` once across every instance) and `none` for
//! public clients — each client exactly the method it is registered for.
//!
//! Failures are counted (atomic upserts) per client and address, per client and per
//! address. An address past its limit for a client, or past its own, is refused even with
//! the right secret (it is the guesser); a client past its limit refuses only addresses
//! that have failed for it, so its owner, who does not guess, is never locked out.

use std::net::IpAddr;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::{HeaderMap, header};

use super::clients::ClientAuth;
use super::error::{EndpointError, OAuthError};
use super::{Client, Oidc};

pub(super) const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// Failures within this window count, seconds.
const WINDOW: i64 = 300;
/// Failures of one address for one client before that address is refused for it.
pub(crate) const PAIR_LIMIT: u32 = 10;
/// Failures for one client before every address that failed for it is refused.
const CLIENT_LIMIT: u32 = 100;
/// Failures of one address, any client, before it is refused.
const ADDRESS_LIMIT: u32 = 100;
/// Longest lifetime an assertion may claim, seconds.
const MAX_ASSERTION_SECS: i64 = 600;

/// A request's parameters, each at most once.
pub(super) struct Params(pub(super) Vec<(String, String)>);

impl Params {
    /// The one value of `name`; a repeated parameter is refused.
    pub(super) fn get(&self, name: &str) -> Result<Option<&str>, OAuthError> {
        let mut found = self
            .0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str());
        let first = found.next();
        if found.next().is_some() {
            return Err(OAuthError::invalid_request(format!(
                "{name} is given more than once"
            )));
        }
        Ok(first.filter(|v| !v.is_empty()))
    }

    /// Reads a form body (`application/x-www-form-urlencoded`, UTF-8).
    pub(super) fn from_form(headers: &HeaderMap, body: &[u8]) -> Result<Self, OAuthError> {
        let form = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| {
                v.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            });
        if !form {
            return Err(OAuthError::invalid_request(
                "send the parameters as application/x-www-form-urlencoded",
            ));
        }
        let text = std::str::from_utf8(body)
            .map_err(|_| OAuthError::invalid_request("the form is not UTF-8 text"))?;
        Ok(Self(super::authorize::pairs(text)))
    }
}

/// What a request presented.
enum Presented {
    Secret {
        id: String,
        secret: String,
        basic: bool,
    },
    Assertion {
        id: Option<String>,
        assertion: String,
    },
    Nothing {
        id: String,
    },
}

fn presented(headers: &HeaderMap, params: &Params) -> Result<Presented, OAuthError> {
    let basic = match headers.get(header::AUTHORIZATION) {
        None => None,
        Some(value) => {
            let text = value.to_str().unwrap_or("");
            let (scheme, rest) = text.split_once(' ').unwrap_or((text, ""));
            if !scheme.eq_ignore_ascii_case("basic") {
                return Err(client_error(
                    "use HTTP Basic or the form to authenticate the client",
                    true,
                ));
            }
            let decoded = STANDARD
                .decode(rest.trim())
                .ok()
                .and_then(|d| String::from_utf8(d).ok())
                .ok_or_else(|| client_error("the Basic credentials cannot be read", true))?;
            let (id, secret) = decoded
                .split_once(':')
                .ok_or_else(|| client_error("the Basic credentials cannot be read", true))?;
            // RFC 6749 §2.3.1: each part is form-encoded first.
            let decode = |s: &str| {
                form_urlencoded::parse(format!("x={s}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default()
            };
            Some((decode(id), decode(secret)))
        }
    };
    let body_id = params.get("client_id")?;
    let body_secret = params.get("client_secret")?;
    let assertion = params.get("client_assertion")?;
    let assertion_type = params.get("client_assertion_type")?;
    let methods = usize::from(basic.is_some())
        + usize::from(body_secret.is_some())
        + usize::from(assertion.is_some());
    if methods > 1 {
        return Err(OAuthError::invalid_request(
            "use exactly one way to authenticate the client",
        ));
    }
    if let Some((id, secret)) = basic {
        if body_id.is_some_and(|b| b != id) {
            return Err(client_error(
                "client_id differs from the Basic credentials' client",
                true,
            ));
        }
        return Ok(Presented::Secret {
            id,
            secret,
            basic: true,
        });
    }
    if let Some(secret) = body_secret {
        let id = body_id.ok_or_else(|| client_error("client_id is missing", false))?;
        return Ok(Presented::Secret {
            id: id.to_owned(),
            secret: secret.to_owned(),
            basic: false,
        });
    }
    if let Some(assertion) = assertion {
        if assertion_type != Some(ASSERTION_TYPE) {
            return Err(OAuthError::invalid_request(format!(
                "client_assertion_type must be {ASSERTION_TYPE}"
            )));
        }
        return Ok(Presented::Assertion {
            id: body_id.map(str::to_owned),
            assertion: assertion.to_owned(),
        });
    }
    let id = body_id
        .ok_or_else(|| client_error("authenticate the client (client_id is missing)", false))?;
    Ok(Presented::Nothing { id: id.to_owned() })
}

fn client_error(description: &str, basic: bool) -> OAuthError {
    let mut e = OAuthError::new("invalid_client", description);
    e.basic_challenge = basic;
    e
}

fn throttled(retry_after: u64) -> OAuthError {
    let mut e = OAuthError::new(
        "slow_down",
        "too many failed client authentications: wait before trying again",
    );
    e.status = http::StatusCode::TOO_MANY_REQUESTS;
    e.retry_after = Some(retry_after.max(1));
    e
}

/// The client a request authenticates as.
pub(super) async fn authenticate(
    oidc: &Oidc,
    headers: &HeaderMap,
    params: &Params,
    address: IpAddr,
) -> Result<Arc<Client>, EndpointError> {
    let presented = presented(headers, params)?;
    let (id, basic) = match &presented {
        Presented::Secret { id, basic, .. } => (id.clone(), *basic),
        Presented::Nothing { id } => (id.clone(), false),
        Presented::Assertion { id, assertion } => {
            // The client is the assertion's `sub` (checked against `iss` below).
            let sub = unverified_claim(assertion, "sub");
            match (id, sub) {
                (Some(id), Some(sub)) if *id != sub => {
                    return Err(client_error(
                        "client_id differs from the assertion's subject",
                        false,
                    )
                    .into());
                }
                (_, Some(sub)) => (sub, false),
                (Some(id), None) => (id.clone(), false),
                (None, None) => {
                    return Err(client_error("the assertion names no client", false).into());
                }
            }
        }
    };
    let now = oidc.clock.now();
    let store = &oidc.store;
    let address_key = format!("oidc-address:{address}");
    let pair_key = format!("oidc-pair:{id}:{address}");
    let client_key = format!("oidc-client:{id}");
    let (address_key, pair_key, client_key) = (&address_key, &pair_key, &client_key);
    // `known`: the client exists. Only then are its counters kept — made-up ids (of any
    // length, from anyone) would otherwise each leave rows behind; the address's own
    // counter bounds those.
    let fail = |description: &'static str, known: bool| async move {
        let counted = async {
            let address = store.count_attempt(address_key, now, WINDOW).await?;
            if !known {
                let none = palisade::throttle::Counter::default();
                return Ok::<_, crate::store::StoreError>((address, none, none));
            }
            let pair = store.count_attempt(pair_key, now, WINDOW).await?;
            let client = store.count_attempt(client_key, now, WINDOW).await?;
            Ok((address, pair, client))
        };
        match counted.await {
            Err(e) => EndpointError::from(e),
            Ok((address, pair, client)) => {
                let over = [
                    (address, ADDRESS_LIMIT),
                    (pair, PAIR_LIMIT),
                    (client, CLIENT_LIMIT),
                ]
                .into_iter()
                .filter(|(c, limit)| c.failures > *limit)
                .map(|(c, _)| (c.at + WINDOW - now).max(1) as u64)
                .max();
                match over {
                    Some(wait) => throttled(wait).into(),
                    None => client_error(description, basic).into(),
                }
            }
        }
    };
    let Some(client) = oidc.clients.get(&id).await? else {
        return Err(fail("unknown client, or wrong credentials", false).await);
    };
    let proved = match (&client.auth, &presented) {
        (ClientAuth::None, Presented::Nothing { .. }) => true,
        (ClientAuth::Secret(_), Presented::Secret { secret, .. }) => client.secret_matches(secret),
        (ClientAuth::PrivateKeyJwt { keys, alg }, Presented::Assertion { assertion, .. }) => {
            match check_assertion(oidc, &client.id, assertion, keys, *alg, now) {
                Some((jti, exp)) => store.first_use_of_assertion(&client.id, &jti, exp).await?,
                None => false,
            }
        }
        _ => false,
    };
    if !proved {
        return Err(fail("unknown client, or wrong credentials", true).await);
    }
    // The right credentials from an address that has been guessing are refused all the
    // same; an address that has not failed for this client is never held back by others.
    let pair = store.counter(pair_key).await?;
    if pair.failures > 0 && pair.at + WINDOW > now {
        let address = store.counter(address_key).await?;
        let client_count = store.counter(client_key).await?;
        let over = pair.failures >= PAIR_LIMIT
            || (address.failures >= ADDRESS_LIMIT && address.at + WINDOW > now)
            || (client_count.failures >= CLIENT_LIMIT && client_count.at + WINDOW > now);
        if over {
            return Err(throttled((pair.at + WINDOW - now).max(1) as u64).into());
        }
    }
    Ok(client)
}

/// A claim of a JWT read without checking it (only to know which client to check with).
fn unverified_claim(token: &str, name: &str) -> Option<String> {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let payload = token.split('.').nth(1)?;
    let claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?;
    claims[name].as_str().map(str::to_owned)
}

/// A client assertion's `jti` and `exp`, if it is signed by the client with its one
/// algorithm, names the client as `iss` and `sub`, is meant for this provider, and is
/// current and short-lived.
fn check_assertion(
    oidc: &Oidc,
    client_id: &str,
    assertion: &str,
    keys: &[super::jwt::PublicKey],
    alg: super::jwt::Alg,
    now: i64,
) -> Option<(String, i64)> {
    let claims = super::jwt::verify(assertion, keys, alg).ok()?;
    let token_endpoint = oidc.url(super::api::TOKEN);
    let audience_ok = match &claims["aud"] {
        serde_json::Value::String(aud) => *aud == oidc.issuer || *aud == token_endpoint,
        serde_json::Value::Array(auds) => auds.iter().any(|a| {
            a.as_str()
                .is_some_and(|a| a == oidc.issuer || a == token_endpoint)
        }),
        _ => false,
    };
    let exp = claims["exp"].as_i64()?;
    let iat_ok = claims["iat"].as_i64().is_none_or(|iat| iat <= now + 60);
    let ok = claims["iss"].as_str() == Some(client_id)
        && claims["sub"].as_str() == Some(client_id)
        && audience_ok
        && exp > now
        && exp <= now + MAX_ASSERTION_SECS
        && iat_ok;
    let jti = claims["jti"]
        .as_str()
        .filter(|j| !j.is_empty() && j.len() <= 256)?;
    ok.then(|| (jti.to_owned(), exp))
}
