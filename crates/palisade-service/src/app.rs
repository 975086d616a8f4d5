//! The router and its layer stack, apart from `main` so tests can drive it with `oneshot`.

use std::net::IpAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use http::{StatusCode, header};
use palisade::http::csp::{CspReport, CspReportSink, ReportLimits, csp_report_router};
use palisade::http::{ClientInfo, CspLayer, CspPolicy, Shield, ShieldConfig};
use subtle::ConstantTimeEq;

use crate::config::Config;
use crate::state::AppState;
use crate::store::Store;

/// Stores CSP reports in the database without holding up the response.
struct DbReportSink(Store, crate::clock::Clock);

impl CspReportSink for DbReportSink {
    fn accept(&self, report: CspReport, client: IpAddr) {
        let store = self.0.clone();
        let now = self.1.now();
        tokio::spawn(async move {
            if let Err(e) = store
                .insert_csp_report(now, &client.to_string(), &report)
                .await
            {
                tracing::error!(error = %e, "could not store CSP report");
            }
        });
    }
}

/// Readiness: whether this instance can serve requests, i.e. reach its database. Load
/// balancers take it out of rotation on 503.
async fn healthz(State(state): State<AppState>) -> Response {
    match state.accounts.store.ping().await {
        Ok(_) => (StatusCode::OK, "ok\n").into_response(),
        Err(e) => {
            tracing::error!(error = %e, "health check: database unavailable");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable\n").into_response()
        }
    }
}

/// Liveness: the process answers. It does not touch the database, so an orchestrator does
/// not restart an instance that is only waiting for the database to come back.
async fn livez() -> &'static str {
    "ok\n"
}

/// What every answer of the app gets, in one layer (each layer costs every request):
/// - the last resort: a handler that panics (a bug — no input should reach one) is answered
///   with the fixed 500 and logged without its message, which could hold request data; the
///   server and every other request carry on;
/// - every 503 says when to come back: the outages it reports (database restarting, disk
///   full) pass on their own;
/// - it is counted by status (the shield's refusals are answered before it, uncounted).
async fn every_answer(request: Request, next: Next) -> Response {
    use futures_util::FutureExt;
    // Cheap to keep (the URI shares its buffer): nothing is copied unless a handler panics.
    let method = request.method().clone();
    let uri = request.uri().clone();
    let response = match std::panic::AssertUnwindSafe(next.run(request))
        .catch_unwind()
        .await
    {
        Ok(response) => response,
        Err(_) => crate::error::AppError::internal(format_args!(
            "a handler panicked on {method} {}",
            palisade::validate::LogSafe::new(uri.path())
        ))
        .into_response(),
    };
    let mut response = as_problem(response, &method, uri.path());
    if response.status() == StatusCode::SERVICE_UNAVAILABLE {
        response
            .headers_mut()
            .entry(header::RETRY_AFTER)
            .or_insert(http::HeaderValue::from_static(UNAVAILABLE_RETRY_AFTER));
    }
    requests_counter(response.status()).increment(1);
    response
}

/// Every error is `application/problem+json`: the refusals axum writes itself (a path
/// parameter that is not UTF-8, a method the route does not take, and the like) are plain
/// text, and are rewritten here with a sentence saying what was wrong; their headers
/// (`Allow`) are kept. Pages' HTML errors, the forward-auth decisions (answers to a
/// proxy, not errors) and a health probe's 503 (its answer to a load balancer: "database
/// unavailable") pass as they are.
fn as_problem(response: Response, method: &http::Method, path: &str) -> Response {
    let status = response.status();
    let probe = matches!(path, "/healthz" | "/readyz") && status == StatusCode::SERVICE_UNAVAILABLE;
    if !(status.is_client_error() || status.is_server_error())
        || path.starts_with("/api/v1/authz/")
        || path.starts_with("/oauth2/")
        || probe
    {
        return response;
    }
    let content_type = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if content_type.starts_with(palisade::http::PROBLEM_JSON)
        || content_type.starts_with("text/html")
    {
        return response;
    }
    let (kind, title, detail) = match status {
        StatusCode::METHOD_NOT_ALLOWED => {
            let allowed = response
                .headers()
                .get(header::ALLOW)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
                .to_owned();
            (
                "method-not-allowed",
                "Method not allowed",
                format!(
                    "This address does not take {}; it takes {allowed}.",
                    palisade::validate::LogSafe::new(method.as_str())
                ),
            )
        }
        StatusCode::BAD_REQUEST => (
            "invalid-path",
            "Invalid address",
            "A part of the address cannot be read: each must be UTF-8 text, percent-encoded where needed.".to_owned(),
        ),
        StatusCode::NOT_FOUND => ("not-found", "Not found", "Not found.".to_owned()),
        StatusCode::PAYLOAD_TOO_LARGE => (
            "too-large",
            "Request too large",
            "The request body is larger than this address accepts.".to_owned(),
        ),
        other => (
            "http-error",
            other.canonical_reason().unwrap_or("Error"),
            format!("The request was refused ({}).", other.as_u16()),
        ),
    };
    let (mut parts, _) = response.into_parts();
    let problem = palisade::http::Problem::new(status, kind, title)
        .with_detail(detail)
        .into_response();
    let (problem_parts, body) = problem.into_parts();
    parts.headers.remove(header::CONTENT_LENGTH);
    for (name, value) in &problem_parts.headers {
        parts.headers.insert(name, value.clone());
    }
    Response::from_parts(parts, body)
}

/// `palisade_http_requests_total` for `status`: the usual statuses' counters are looked up
/// in the registry once, not per request (a lookup hashes and allocates the label).
fn requests_counter(status: StatusCode) -> metrics::Counter {
    const USUAL: [u16; 6] = [200, 302, 303, 401, 403, 404];
    static COUNTERS: std::sync::OnceLock<[metrics::Counter; USUAL.len()]> =
        std::sync::OnceLock::new();
    let counter =
        |status: String| metrics::counter!("palisade_http_requests_total", "status" => status);
    match USUAL.iter().position(|&usual| usual == status.as_u16()) {
        Some(i) => COUNTERS.get_or_init(|| USUAL.map(|s| counter(s.to_string())))[i].clone(),
        None => counter(status.as_u16().to_string()),
    }
}

/// Seconds a client is told to wait after a 503.
const UNAVAILABLE_RETRY_AFTER: &str = "5";

/// Prometheus metrics, for loopback clients or the configured bearer token only.
async fn metrics(
    State(state): State<AppState>,
    client: ClientInfo,
    headers: http::HeaderMap,
) -> Response {
    let local = client.addr.is_loopback() && client.peer.is_loopback();
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let token_ok = match (&state.metrics_token, bearer) {
        (Some(expected), Some(given)) => {
            expected.expose(|e| bool::from(e.as_bytes().ct_eq(given.as_bytes())))
        }
        _ => false,
    };
    if !local && !token_ok {
        return crate::error::AppError::NotFound.into_response();
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response()
}

/// The shield settings the configuration implies.
pub(crate) fn shield_config(config: &Config) -> Result<ShieldConfig, String> {
    let mut shield = ShieldConfig::new(&config.origin(), config.listen)
        .map_err(|e| format!("configuration: {e}"))?;
    shield.proxies = config.trusted_proxies()?;
    // Envoy asks with the original request's method; the decision changes nothing.
    shield.csrf = shield
        .csrf
        .exempt(crate::authz::api::EXT_AUTHZ_PREFIX)
        .map_err(|e| format!("configuration: {e}"))?;
    for path in crate::oidc::api::CROSS_SITE_POSTS {
        shield.csrf = shield
            .csrf
            .exempt_path(path)
            .map_err(|e| format!("configuration: {e}"))?;
    }
    shield.csp = CspLayer::new(CspPolicy::strict())
        .with_report_endpoint("/csp-report")
        .map_err(|e| format!("configuration: {e}"))?;
    Ok(shield)
}

/// The forward-auth endpoints alone, for `authz_listen`: the proxies' own listener.
pub(crate) fn authz_app(state: AppState, shield: ShieldConfig) -> Router {
    Router::new()
        .merge(crate::authz::api::router())
        .route("/livez", get(livez))
        .with_state(state)
        .layer(middleware::from_fn(every_answer))
        .layer(Shield::new(shield))
}

/// The whole service; without the forward-auth endpoints when `authz_listen` serves them,
/// so the public listener (and a proxy's public virtual host in front of it, which the
/// endpoints would trust) never answers them.
pub(crate) fn app(state: AppState, shield: ShieldConfig, with_authz: bool) -> Router {
    let reports = csp_report_router::<AppState>(
        "/csp-report",
        Arc::new(DbReportSink(
            state.accounts.store.clone(),
            state.accounts.clock.clone(),
        )),
        ReportLimits::default(),
    );
    let authz = if with_authz {
        crate::authz::api::router()
    } else {
        Router::new()
    };
    Router::new()
        .merge(crate::web::router())
        .merge(crate::accounts::pages::router())
        .merge(crate::accounts::api::router())
        .merge(crate::sessions::api::router())
        .merge(crate::vault::api::router())
        .merge(crate::vault::pages::router())
        .merge(crate::api::router())
        .merge(authz)
        .merge(crate::api_tokens::api::router())
        .merge(crate::api_tokens::pages::router())
        .merge(crate::mfa::api::router())
        .merge(crate::mfa::pages::router())
        .merge(crate::recovery::api::router())
        .merge(crate::accounts::email_api::router())
        .merge(crate::accounts::email_pages::router())
        .merge(crate::accounts::signup_web::router())
        .merge(crate::recovery::pages::router())
        .merge(crate::oidc::api::router())
        .merge(crate::console::api::router(state.clone()))
        .merge(crate::console::pages::router(state.clone()))
        .merge(crate::account_data::api::router())
        .merge(crate::account_data::pages::router())
        .merge(reports)
        .route("/healthz", get(healthz))
        .route("/readyz", get(healthz))
        .route("/livez", get(livez))
        .route("/metrics", get(metrics))
        .with_state(state)
        .layer(middleware::from_fn(every_answer))
        // Outermost: the real client and scheme first, then HTTPS, CSRF, headers, CSP.
        .layer(Shield::new(shield))
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use tower::ServiceExt;

    use super::*;

    async fn boom() -> &'static str {
        panic!("a bug")
    }

    #[tokio::test]
    async fn a_panicking_handler_is_answered_500_and_the_server_stays_up() {
        let app = Router::new()
            .route("/boom", get(boom))
            .route("/fine", get(|| async { "ok" }))
            .layer(middleware::from_fn(every_answer));
        let get_path = |path: &str| {
            http::Request::builder()
                .uri(path)
                .body(Body::empty())
                .unwrap()
        };
        let boom = app.clone().oneshot(get_path("/boom")).await.unwrap();
        assert_eq!(boom.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = axum::body::to_bytes(boom.into_body(), 4096).await.unwrap();
        let body = String::from_utf8_lossy(&body);
        assert!(
            body.contains("internal") && !body.contains("a bug"),
            "{body}"
        );
        let fine = app.oneshot(get_path("/fine")).await.unwrap();
        assert_eq!(fine.status(), StatusCode::OK);
    }

    /// axum's own refusals (a path parameter that is not UTF-8, a method the route does
    /// not take) come out as problems with a sentence, keeping `Allow`.
    #[tokio::test]
    async fn axum_refusals_are_problems() {
        async fn named(axum::extract::Path(name): axum::extract::Path<String>) -> String {
            name
        }
        let app = Router::new()
            .route("/things/{name}", get(named))
            .layer(middleware::from_fn(every_answer));
        let send = |method: &str, path: &str| {
            app.clone().oneshot(
                http::Request::builder()
                    .method(method)
                    .uri(path)
                    .body(Body::empty())
                    .unwrap(),
            )
        };
        for (method, path, status) in [
            ("GET", "/things/%00%ff", StatusCode::BAD_REQUEST),
            ("DELETE", "/things/a", StatusCode::METHOD_NOT_ALLOWED),
        ] {
            let reply = send(method, path).await.unwrap();
            assert_eq!(reply.status(), status, "{method} {path}");
            assert_eq!(
                reply.headers()[header::CONTENT_TYPE],
                palisade::http::PROBLEM_JSON,
                "{method} {path}"
            );
            if status == StatusCode::METHOD_NOT_ALLOWED {
                assert!(
                    reply.headers()[header::ALLOW]
                        .to_str()
                        .unwrap()
                        .contains("GET")
                );
            }
            let body = axum::body::to_bytes(reply.into_body(), 4096).await.unwrap();
            let problem: serde_json::Value = serde_json::from_slice(&body).unwrap();
            let detail = problem["detail"].as_str().unwrap();
            assert!(
                detail.ends_with('.') && detail.starts_with(char::is_uppercase),
                "{detail}"
            );
        }
        let fine = send("GET", "/things/a").await.unwrap();
        assert_eq!(fine.status(), StatusCode::OK);
    }
}
