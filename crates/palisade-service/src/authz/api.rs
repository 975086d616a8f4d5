//! The endpoints a reverse proxy asks, one per proxy family:
//! - `GET /api/v1/authz/forward-auth` (Traefik ForwardAuth, Caddy `forward_auth`, HAProxy):
//!   the original request in `X-Forwarded-Method`, `-Proto`, `-Host`, `-Uri`; a redirect
//!   answer goes through to the browser.
//! - `GET /api/v1/authz/auth-request` (nginx `auth_request`): `X-Original-Method` and
//!   `X-Original-URL`; nginx passes on only 2xx, 401 and 403, so "log in first" is a 401
//!   whose `Location` the documented configuration turns into a redirect.
//!
//! - `/api/v1/authz/ext-authz/<original path>` (Envoy `ext_authz` in HTTP mode), any
//!   method: the original method, path and query, and `Host` (HTTP/1.1) or `:authority`
//!   (HTTP/2) as sent; `X-Forwarded-Proto` must be among the headers Envoy passes.
//!
//! All answer 200 with `Remote-User`, `-Email`, `-Name` and `-Groups` when allowed; 403
//! when denied, and when the request to the endpoint did not come from a trusted proxy or
//! described the original request incompletely or ambiguously (fail closed).

use axum::Router;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use http::request::Parts;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use palisade::http::{ClientInfo, Problem};

use super::{Answer, Malformed, Outcome, Target};
use crate::error::AppError;
use crate::state::AppState;

// The handlers take the request by value: axum's `Parts` extractor would clone every
// header and extension of every request a proxy asks about.

/// Where Envoy's check requests arrive (the original path follows).
pub(crate) const EXT_AUTHZ_PREFIX: &str = "/api/v1/authz/ext-authz/";

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/authz/forward-auth", get(forward_auth))
        .route("/api/v1/authz/auth-request", get(auth_request))
        .route("/api/v1/authz/ext-authz/", any(ext_authz))
        .route("/api/v1/authz/ext-authz/{*path}", any(ext_authz))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flavor {
    ForwardAuth,
    AuthRequest,
}

#[utoipa::path(get, path = "/api/v1/authz/forward-auth",
    params(
        ("X-Forwarded-Method" = String, Header, description = "the original request's method"),
        ("X-Forwarded-Proto" = String, Header, description = "http or https"),
        ("X-Forwarded-Host" = String, Header, description = "the original Host"),
        ("X-Forwarded-Uri" = String, Header, description = "the original path and query"),
    ),
    responses(
        (status = 200, description = "allowed; Remote-User, Remote-Email, Remote-Name and Remote-Groups name the user, if any"),
        (status = 302, description = "log in first (a browser's GET or HEAD); Location is the login page"),
        (status = 303, description = "log in first (a browser's other methods)"),
        (status = 401, description = "log in first (a script or API client)"),
        (status = 403, description = "denied by the rules; or not asked by a trusted proxy; or the original request is described incompletely or ambiguously"),
    ))]
pub(crate) async fn forward_auth(
    State(state): State<AppState>,
    client: ClientInfo,
    request: Request,
) -> Response {
    let (parts, _) = request.into_parts();
    let target = (|| {
        Target::from_parts(
            described(&parts.headers, "x-forwarded-method")?,
            described(&parts.headers, "x-forwarded-proto")?,
            described(&parts.headers, "x-forwarded-host")?,
            described(&parts.headers, "x-forwarded-uri")?,
            client.addr,
            state.authz.reading(),
        )
    })();
    answer(&state, client, &parts, Flavor::ForwardAuth, target).await
}

#[utoipa::path(get, path = "/api/v1/authz/auth-request",
    params(
        ("X-Original-Method" = String, Header, description = "the original request's method"),
        ("X-Original-URL" = String, Header, description = "the original absolute URL"),
    ),
    responses(
        (status = 200, description = "allowed; Remote-User, Remote-Email, Remote-Name and Remote-Groups name the user, if any"),
        (status = 401, description = "log in first; for a browser, Location is the login page"),
        (status = 403, description = "denied by the rules; or not asked by a trusted proxy; or the original request is described incompletely or ambiguously"),
    ))]
pub(crate) async fn auth_request(
    State(state): State<AppState>,
    client: ClientInfo,
    request: Request,
) -> Response {
    let (parts, _) = request.into_parts();
    let target = (|| {
        Target::from_url(
            described(&parts.headers, "x-original-method")?,
            described(&parts.headers, "x-original-url")?,
            client.addr,
            state.authz.reading(),
        )
    })();
    answer(&state, client, &parts, Flavor::AuthRequest, target).await
}

async fn ext_authz(
    State(state): State<AppState>,
    client: ClientInfo,
    request: Request,
) -> Response {
    let (parts, _) = request.into_parts();
    let target = (|| {
        let rest = parts
            .uri
            .path_and_query()
            .map_or("", |original| original.as_str())
            .strip_prefix(EXT_AUTHZ_PREFIX)
            .ok_or_else(|| Malformed("path: not under the ext-authz prefix".into()))?;
        let uri = format!("/{rest}");
        Target::from_parts(
            parts.method.as_str(),
            described(&parts.headers, "x-forwarded-proto")?,
            original_host(&parts)?,
            &uri,
            client.addr,
            state.authz.reading(),
        )
    })();
    answer(&state, client, &parts, Flavor::ForwardAuth, target).await
}

/// The original Host as Envoy sends it: the `Host` header over HTTP/1.1, the `:authority`
/// over HTTP/2 (which hyper puts in the URI). Both, disagreeing, is ambiguous: refused.
fn original_host(parts: &Parts) -> Result<&str, Malformed> {
    let Some(authority) = parts.uri.authority().map(|a| a.as_str()) else {
        return described(&parts.headers, "host");
    };
    if !parts.headers.contains_key(header::HOST) {
        return Ok(authority);
    }
    let host = described(&parts.headers, "host")?;
    if host.eq_ignore_ascii_case(authority) {
        Ok(authority)
    } else {
        Err(Malformed(
            "host: differs from the request's :authority".into(),
        ))
    }
}

/// One header of the description, exactly once.
fn described<'h>(headers: &'h HeaderMap, name: &'static str) -> Result<&'h str, Malformed> {
    let mut values = headers.get_all(name).iter();
    match (values.next(), values.next()) {
        (Some(value), None) => value
            .to_str()
            .map_err(|_| Malformed(format!("{name}: not visible ASCII"))),
        (None, _) => Err(Malformed(format!("{name}: missing"))),
        (Some(_), Some(_)) => Err(Malformed(format!("{name}: given more than once"))),
    }
}

async fn answer(
    state: &AppState,
    client: ClientInfo,
    parts: &Parts,
    flavor: Flavor,
    target: Result<Target, Malformed>,
) -> Response {
    if !state.authz.trusts_peer(client.peer) {
        counter(Counted::Refused).increment(1);
        return refused(
            "untrusted-proxy",
            "Only a trusted proxy may ask",
            "this address is not in trusted_proxies".into(),
        );
    }
    let target = match target {
        Ok(target) => target,
        Err(Malformed(why)) => {
            counter(Counted::Refused).increment(1);
            tracing::warn!(
                why = %palisade::validate::LogSafe::new(&why),
                "forward-auth: refused a malformed description of the original request"
            );
            return refused(
                "malformed-original-request",
                "The original request is not described completely and unambiguously",
                why,
            );
        }
    };
    match decide(state, parts, &target).await {
        Ok(answer) => respond(state, parts, flavor, &target, answer),
        Err(e) => e.into_response(),
    }
}

async fn decide(state: &AppState, parts: &Parts, target: &Target) -> Result<Answer, AppError> {
    let user = crate::web::caller(state, parts).await?;
    state.authz.ask(target, user).await
}

fn respond(
    state: &AppState,
    parts: &Parts,
    flavor: Flavor,
    target: &Target,
    answer: Answer,
) -> Response {
    let outcome = answer.decision.outcome;
    counter(match outcome {
        Outcome::Allow => Counted::Allow,
        Outcome::LogIn => Counted::LogIn,
        Outcome::Deny => Counted::Deny,
    })
    .increment(1);
    let mut response = match outcome {
        Outcome::Allow => {
            let mut response = StatusCode::OK.into_response();
            if let Some((user, groups)) = &answer.user {
                let headers = response.headers_mut();
                let name = user.display_name.as_deref().unwrap_or(&user.username);
                for (header, value) in [
                    ("remote-user", user.username.as_str()),
                    ("remote-email", user.email.as_str()),
                    ("remote-name", name),
                    ("remote-groups", &groups.join(",")),
                ] {
                    // Validated at entry, so never a control character; UTF-8 passes as is.
                    if let Ok(value) = HeaderValue::from_bytes(value.as_bytes()) {
                        headers.insert(HeaderName::from_static(header), value);
                    }
                }
            }
            response
        }
        Outcome::Deny => (StatusCode::FORBIDDEN, "access denied\n").into_response(),
        Outcome::LogIn => {
            let browser = wants_html(&parts.headers);
            let location = state.authz.login_redirect(target);
            let mut response = match (flavor, browser) {
                (Flavor::ForwardAuth, true) => {
                    let status = if matches!(target.method, Method::GET | Method::HEAD) {
                        StatusCode::FOUND
                    } else {
                        StatusCode::SEE_OTHER
                    };
                    status.into_response()
                }
                _ => (StatusCode::UNAUTHORIZED, "log in first\n").into_response(),
            };
            let headers = response.headers_mut();
            if browser {
                if let Ok(location) = HeaderValue::from_str(&location) {
                    headers.insert(header::LOCATION, location);
                }
            } else {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"palisade\""),
                );
            }
            response
        }
    };
    no_store_no_content(&mut response);
    response
}

/// An answer to a proxy, never a page: not stored, and the tightest content policy (which
/// also spares every answer the page policy and its per-response nonce).
fn no_store_no_content(response: &mut Response) {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
    );
}

/// A browser navigating (it accepts HTML and is not a script's `XMLHttpRequest`), as
/// opposed to an API client, which gets a 401 it can handle instead of a login page.
fn wants_html(headers: &HeaderMap) -> bool {
    let xhr = headers
        .get("x-requested-with")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"XMLHttpRequest"));
    let html = headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.to_ascii_lowercase().contains("text/html"));
    html && !xhr
}

/// The outcomes counted in `palisade_authz_total`.
#[derive(Clone, Copy)]
enum Counted {
    Allow,
    LogIn,
    Deny,
    Refused,
}

/// The counter of one outcome, looked up in the metrics registry once, not per request.
fn counter(outcome: Counted) -> &'static metrics::Counter {
    static COUNTERS: std::sync::OnceLock<[metrics::Counter; 4]> = std::sync::OnceLock::new();
    let counters = COUNTERS.get_or_init(|| {
        ["allow", "log_in", "deny", "refused"]
            .map(|label| metrics::counter!("palisade_authz_total", "outcome" => label))
    });
    &counters[outcome as usize]
}

fn refused(kind: &str, title: &str, detail: String) -> Response {
    let mut response = Problem::new(StatusCode::FORBIDDEN, kind, title)
        .with_detail(detail)
        .into_response();
    no_store_no_content(&mut response);
    response
}
