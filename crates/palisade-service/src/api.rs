//! The JSON API under `/api/v1`: its OpenAPI document and the problem+json answer for
//! anything unknown. The routes themselves live with their capability.

use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use utoipa::OpenApi;

use crate::error::AppError;
use crate::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "palisade account service",
        description = "Errors are application/problem+json (RFC 9457) with a `field` member naming the field at fault."
    ),
    paths(
        crate::accounts::api::register,
        crate::accounts::signup_web::confirm,
        crate::accounts::api::login,
        crate::accounts::api::logout,
        crate::accounts::api::me,
        crate::accounts::api::change_password,
        crate::sessions::api::sessions,
        crate::accounts::api::end_session,
        crate::accounts::api::end_other_sessions,
        crate::vault::api::list,
        crate::vault::api::put,
        crate::vault::api::reveal,
        crate::vault::api::delete,
        crate::api_tokens::api::create,
        crate::api_tokens::api::list,
        crate::api_tokens::api::revoke,
        crate::authz::api::forward_auth,
        crate::authz::api::auth_request,
        crate::mfa::api::list,
        crate::mfa::api::add_totp,
        crate::mfa::api::confirm_totp,
        crate::mfa::api::remove,
        crate::mfa::api::regenerate_codes,
        crate::mfa::api::second_step,
        crate::mfa::api::second_step_challenge,
        crate::mfa::api::add_passkey,
        crate::mfa::api::finish_passkey,
        crate::mfa::api::reauth_challenge,
        crate::mfa::api::passkey_sign_in_challenge,
        crate::mfa::api::passkey_sign_in,
        crate::recovery::api::request,
        crate::recovery::api::complete,
        crate::recovery::api::challenge,
        crate::accounts::email_api::resend,
        crate::accounts::email_api::change,
        crate::accounts::email_api::confirm,
        crate::oidc::apps::list,
        crate::oidc::apps::revoke,
        crate::oidc::discovery::openid_configuration,
        crate::oidc::discovery::oauth_metadata,
        crate::oidc::discovery::jwks,
        crate::oidc::token::token,
        crate::oidc::userinfo::userinfo,
        crate::oidc::introspect::introspect,
        crate::oidc::introspect::revoke,
        crate::account_data::api::export,
        crate::account_data::api::delete_account,
        crate::console::api::search,
        crate::console::api::user,
        crate::console::api::end_sessions,
        crate::console::api::disable,
        crate::console::api::enable,
        crate::console::api::group_add,
        crate::console::api::group_remove,
        crate::console::audit_api::audit,
        crate::console::audit_api::audit_export,
        crate::console::account_api::end_session,
        crate::console::account_api::revoke_token,
        crate::console::account_api::reset_factors,
        crate::console::account_api::reset_link,
        crate::console::account_api::unlock,
        crate::console::account_api::change_address,
        crate::console::account_api::delete_user,
        crate::console::account_api::groups,
        crate::console::clients_api::list,
        crate::console::clients_api::add,
        crate::console::clients_api::rotate_secret,
        crate::console::clients_api::remove
    )
)]
pub(crate) struct ApiDoc;

async fn openapi() -> Response {
    static DOCUMENT: std::sync::OnceLock<serde_json::Value> = std::sync::OnceLock::new();
    Json(DOCUMENT.get_or_init(document)).into_response()
}

/// Operations anyone may call; every other one needs a session (cookie or bearer token).
const PUBLIC: [&str; 13] = [
    "register",
    "confirm_signup",
    "login",
    "login_second_step",
    "second_step_challenge",
    "passkey_sign_in_challenge",
    "passkey_sign_in",
    "request_password_reset",
    "complete_password_reset",
    "password_reset_challenge",
    "confirm_email",
    "forward_auth",
    "auth_request",
];

/// Operations throttled per client.
const THROTTLED: [&str; 7] = [
    "register",
    "login",
    "login_second_step",
    "passkey_sign_in_challenge",
    "passkey_sign_in",
    "request_password_reset",
    "complete_password_reset",
];

/// The OpenAPI document: the operations as their handlers declare them, plus what every
/// operation can answer from the layers around it, so a client (and a schema-driven test)
/// knows every status it may meet: 401 without a session, 400/413/415/422 for a body that
/// does not fit, 403 for a refused cross-site request, 503 while the database is out of
/// reach — all `application/problem+json`.
pub(crate) fn document() -> serde_json::Value {
    use serde_json::json;
    let mut doc = serde_json::to_value(ApiDoc::openapi()).expect("the document serializes");
    let problem =
        json!({"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}});
    let components = doc["components"].as_object_mut().expect("components");
    components["schemas"]["Problem"] = json!({
        "type": "object",
        "required": ["type", "title", "status"],
        "properties": {
            "type": {"type": "string"}, "title": {"type": "string"},
            "status": {"type": "integer"}, "detail": {"type": "string"},
            "field": {"type": "string", "description": "the field at fault"},
        },
    });
    components.insert(
        "securitySchemes".into(),
        json!({
            "bearer": {"type": "http", "scheme": "bearer", "description": "the token from /api/v1/login"},
            "cookie": {"type": "apiKey", "in": "cookie", "name": crate::SESSION_COOKIE},
        }),
    );
    let paths = doc["paths"].as_object_mut().expect("paths");
    // Links, so a stateful client walks register → login, and store → reveal → delete.
    paths["/api/v1/register"]["post"]["responses"]["201"]["links"] = json!({
        "login": {"operationId": "login", "requestBody": {
            "identifier": "$request.body#/username", "password": "$request.body#/password"}},
    });
    let by_name = |operation: &str| json!({"operationId": operation, "parameters": {"path.name": "$request.path.name"}});
    paths["/api/v1/secrets/{name}"]["put"]["responses"]["204"]["links"] =
        json!({"reveal": by_name("reveal"), "delete": by_name("delete")});
    for (_, item) in paths.iter_mut() {
        for (method, operation) in item.as_object_mut().expect("path item") {
            let id = operation["operationId"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            if id.starts_with("oidc_") || id.starts_with("oauth_") {
                // OAuth's own endpoints answer in OAuth's JSON (RFC 6749 §5.2), not
                // problems; only an outage is the service's answer.
                let responses = operation["responses"].as_object_mut().expect("responses");
                responses.entry("503").or_insert_with(|| {
                    json!({"description": "the database is out of reach", "content": problem.clone()})
                });
                continue;
            }
            let has_body = operation.get("requestBody").is_some();
            let names_a_secret = operation
                .get("parameters")
                .and_then(serde_json::Value::as_array)
                .is_some_and(|ps| ps.iter().any(|p| p["name"] == "name"));
            let unsafe_method = method != "get";
            let mut extra: Vec<(&str, &str)> = vec![(
                "503",
                "the database is out of reach; Retry-After says when to try again",
            )];
            if id.starts_with("admin_") {
                // Nobody but an administrator learns the admin API is there.
                operation["security"] = json!([{"bearer": []}, {"cookie": []}]);
                extra.push((
                    "404",
                    "not an administrator (or not signed in): the same answer as a path that does not exist",
                ));
                extra.push((
                    "403",
                    "an administrator's session without a second factor, a password or second factor needed or wrong, or a cross-site request",
                ));
            } else if !PUBLIC.contains(&id.as_str()) {
                operation["security"] = json!([{"bearer": []}, {"cookie": []}]);
                extra.push(("401", "not signed in, or the session has ended"));
            }
            if unsafe_method {
                extra.push((
                    "403",
                    "refused: a cross-site request, or a password is needed or wrong",
                ));
            }
            if has_body {
                extra.extend([
                    ("400", "the body is not valid JSON for this operation"),
                    ("413", "the body is too large"),
                    ("415", "the body is not application/json"),
                ]);
            }
            if names_a_secret {
                extra.push(("422", "the secret's name is invalid; `field` names it"));
            }
            if THROTTLED.contains(&id.as_str()) {
                extra.push((
                    "429",
                    "too many attempts; Retry-After says when to try again",
                ));
            }
            if let Some(parameters) = operation
                .get_mut("parameters")
                .and_then(serde_json::Value::as_array_mut)
            {
                for parameter in parameters.iter_mut().filter(|p| p["name"] == "name") {
                    parameter["schema"] =
                        json!({"type": "string", "pattern": "^[A-Za-z0-9._-]{1,64}$"});
                }
            }
            let responses = operation["responses"].as_object_mut().expect("responses");
            for (status, description) in extra {
                responses
                    .entry(status)
                    .or_insert_with(|| json!({"description": description}));
            }
            for (status, response) in responses.iter_mut() {
                let response = response.as_object_mut().expect("response");
                if !response.contains_key("description") {
                    response.insert("description".into(), json!(status_text(status)));
                }
                if status.starts_with('4') || status.starts_with('5') {
                    response.insert("content".into(), problem.clone());
                }
            }
        }
    }
    doc
}

fn status_text(status: &str) -> &'static str {
    status
        .parse::<u16>()
        .ok()
        .and_then(|s| http::StatusCode::from_u16(s).ok())
        .and_then(|s| s.canonical_reason())
        .unwrap_or("see the operation")
}

async fn not_found() -> AppError {
    AppError::NotFound
}

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/openapi.json", get(openapi))
        .route("/api/v1/{*rest}", axum::routing::any(not_found))
}
