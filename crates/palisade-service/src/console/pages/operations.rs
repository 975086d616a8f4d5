//! `/admin/groups` (every group, its size, a link to its members) and `/admin/operations`
//! (mail, keys and peppers, database, version).

use askama::Template;
use axum::Extension;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::StatusCode;

use super::Frame;
use crate::console::access::ConsoleAdmin;
use crate::console::status::Status;
use crate::state::AppState;
use crate::web::{When, render};

#[derive(Template)]
#[template(path = "admin_groups.html")]
struct GroupsPage<'a> {
    site: &'a crate::web::Site,
    frame: Frame,
    groups: Vec<(String, i64)>,
    admin_group: &'a str,
}

pub(super) async fn groups(
    State(state): State<AppState>,
    Extension(admin): Extension<ConsoleAdmin>,
) -> Response {
    let groups = match state.console.groups().await {
        Ok(groups) => groups,
        Err(e) => return e.into_response(),
    };
    render(
        StatusCode::OK,
        &GroupsPage {
            site: &state.site,
            frame: Frame::new(&state, &admin, "groups"),
            groups,
            admin_group: state.console.admin_group(),
        },
    )
}

struct ProblemLine {
    kind: String,
    recipient: String,
    attempts: i64,
    created: When,
    given_up: Option<When>,
    last_error: String,
}

#[derive(Template)]
#[template(path = "admin_operations.html")]
struct OperationsPage<'a> {
    site: &'a crate::web::Site,
    frame: Frame,
    status: Status,
    problems: Vec<ProblemLine>,
}

pub(super) async fn page(
    State(state): State<AppState>,
    Extension(admin): Extension<ConsoleAdmin>,
) -> Response {
    let mut status = match state.console.status(&state.keyring).await {
        Ok(status) => status,
        Err(e) => return e.into_response(),
    };
    let now = state.accounts.clock.now();
    let problems = std::mem::take(&mut status.mail_problems)
        .into_iter()
        .map(|p| ProblemLine {
            kind: p.kind,
            recipient: p.recipient,
            attempts: p.attempts,
            created: When::at(p.created_at, now),
            given_up: p.failed_at.map(|t| When::at(t, now)),
            last_error: p.last_error.unwrap_or_default(),
        })
        .collect();
    render(
        StatusCode::OK,
        &OperationsPage {
            site: &state.site,
            frame: Frame::new(&state, &admin, "operations"),
            status,
            problems,
        },
    )
}
