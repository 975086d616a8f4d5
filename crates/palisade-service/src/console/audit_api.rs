//! `GET /api/v1/admin/audit` and `…/audit/export`: the audit log's filters, checked, and
//! its pages and export.

use super::api::actor;
use crate::body::ApiQuery;
use crate::console::Format;
use crate::console::access::AdminSession;
use crate::error::AppError;
use crate::state::AppState;
use crate::store::AuditQuery;
use crate::web::sensitive;
use axum::extract::State;
use axum::response::Response;
use axum::{Extension, Json};
use palisade::http::ClientInfo;
use serde::Deserialize;

/// The audit log's filters; each at most once, no others.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AuditParams {
    /// Events about this user.
    pub(super) user: Option<String>,
    /// Events of this kind (`logged_in`, `admin_user_disabled`, …).
    pub(super) event: Option<String>,
    /// Events from this client address.
    pub(super) client: Option<String>,
    /// From this Unix time (inclusive).
    pub(super) since: Option<i64>,
    /// Until this Unix time (inclusive).
    pub(super) until: Option<i64>,
    /// The `next` of the previous page.
    pub(super) before: Option<i64>,
    pub(super) limit: Option<i64>,
    /// For the export: `jsonl` (the default) or `csv`.
    pub(super) format: Option<String>,
}

fn bad(field: &str) -> AppError {
    AppError::Body {
        field: Some(field.into()),
        status: http::StatusCode::BAD_REQUEST,
    }
}

/// The filters, checked; `None` when they name a user there is not (nothing matches).
pub(super) async fn audit_query(
    state: &AppState,
    p: &AuditParams,
) -> Result<Option<AuditQuery>, AppError> {
    if p.event.as_deref().is_some_and(|e| {
        e.is_empty() || e.len() > 64 || !e.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
    }) {
        return Err(bad("event"));
    }
    if p.client
        .as_deref()
        .is_some_and(|c| c.parse::<std::net::IpAddr>().is_err())
    {
        return Err(bad("client"));
    }
    if p.user
        .as_deref()
        .is_some_and(|u| palisade::validate::Username::parse(u).is_err())
    {
        return Err(bad("user"));
    }
    let limit = p.limit.unwrap_or(100);
    if !(1..=crate::console::AUDIT_PAGE_MAX).contains(&limit) {
        return Err(bad("limit"));
    }
    let user_id = match &p.user {
        None => None,
        Some(name) => match state.console.user_id(name).await? {
            Some(id) => Some(id),
            None => return Ok(None),
        },
    };
    Ok(Some(AuditQuery {
        user_id,
        event: p.event.clone(),
        client: p
            .client
            .as_deref()
            .map(|c| c.parse::<std::net::IpAddr>().expect("checked").to_string()),
        since: p.since.unwrap_or(i64::MIN),
        until: p.until.unwrap_or(i64::MAX),
        before: p.before.unwrap_or(i64::MAX),
        limit,
    }))
}

#[utoipa::path(get, path = "/api/v1/admin/audit", tag = "admin", operation_id = "admin_audit",
    params(("user" = Option<String>, Query), ("event" = Option<String>, Query), ("client" = Option<String>, Query, description = "an IP address"), ("since" = Option<i64>, Query, description = "Unix time"), ("until" = Option<i64>, Query, description = "Unix time"), ("before" = Option<i64>, Query, description = "the `next` of the previous page"), ("limit" = Option<i64>, Query, description = "1 to 500 (100)")),
    responses((status = 200, body = serde_json::Value, description = "`events`, newest first, and `next`"), (status = 400, description = "a filter is unknown, repeated or invalid; `field` names it")))]
pub(crate) async fn audit(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<AuditParams>,
) -> Result<Response, AppError> {
    if params.format.is_some() {
        return Err(bad("format"));
    }
    let Some(query) = audit_query(&state, &params).await? else {
        return Ok(sensitive(Json(
            serde_json::json!({"events": [], "next": null}),
        )));
    };
    let events = state.console.audit_page(&query).await?;
    let next = (events.len() as i64 == query.limit).then(|| events[events.len() - 1].id);
    Ok(sensitive(Json(
        serde_json::json!({"events": events, "next": next}),
    )))
}

#[utoipa::path(get, path = "/api/v1/admin/audit/export", tag = "admin", operation_id = "admin_audit_export",
    params(("format" = Option<String>, Query, description = "`jsonl` (the default) or `csv`"), ("user" = Option<String>, Query), ("event" = Option<String>, Query), ("client" = Option<String>, Query, description = "an IP address"), ("since" = Option<i64>, Query, description = "Unix time"), ("until" = Option<i64>, Query, description = "Unix time")),
    responses((status = 200, description = "every event the filters select, streamed", content_type = "application/x-ndjson"), (status = 400, description = "a filter is unknown, repeated or invalid; `field` names it")))]
pub(crate) async fn audit_export(
    State(state): State<AppState>,
    Extension(admin): Extension<AdminSession>,
    client: ClientInfo,
    ApiQuery(params): ApiQuery<AuditParams>,
) -> Result<Response, AppError> {
    let format = match params.format.as_deref() {
        None | Some("jsonl") => Format::JsonLines,
        Some("csv") => Format::Csv,
        Some(_) => return Err(bad("format")),
    };
    if params.before.is_some() || params.limit.is_some() {
        return Err(bad(if params.before.is_some() {
            "before"
        } else {
            "limit"
        }));
    }
    let query = audit_query(&state, &params).await?;
    let address = client.addr.to_string();
    let what = format!(
        "exported the audit log as {} (user {:?}, event {:?}, client {:?}, since {:?}, until {:?})",
        format.extension(),
        params.user,
        params.event,
        params.client,
        params.since,
        params.until
    );
    state
        .console
        .audit_exported(&actor(&admin, &address), &what)
        .await?;
    let body = match query {
        Some(query) => state.console.export(query, format),
        None => axum::body::Body::empty(),
    };
    let disposition = format!(
        "attachment; filename=\"palisade-audit.{}\"",
        format.extension()
    );
    let response = (
        [
            (http::header::CONTENT_TYPE, format.content_type().to_owned()),
            (http::header::CONTENT_DISPOSITION, disposition),
        ],
        body,
    );
    Ok(sensitive(response))
}
