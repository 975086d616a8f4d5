//! `/admin` (find users) and `/admin/users/{name}` (one user, with the forms that change
//! them).

use askama::Template;
use axum::Extension;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde::Deserialize;

use super::Frame;
use crate::body::ApiQuery;
use crate::console::PAGE_MAX;
use crate::console::access::ConsoleAdmin;
use crate::error::AppError;
use crate::state::AppState;
use crate::store::{UserListRow, UserQuery};
use crate::web::{FormErrors, When, render};

/// The search form's fields (a GET form: the page's address is the search).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct SearchForm {
    #[serde(default)]
    q: String,
    #[serde(default)]
    disabled: Option<String>,
    #[serde(default)]
    unconfirmed: Option<String>,
    #[serde(default)]
    no_second_factor: Option<String>,
    #[serde(default)]
    throttled: Option<String>,
    #[serde(default)]
    group: String,
    #[serde(default)]
    after: String,
    /// After a deletion from a user's page.
    #[serde(default)]
    deleted: Option<String>,
}

#[derive(Template)]
#[template(path = "admin_users.html")]
struct UsersPage<'a> {
    site: &'a crate::web::Site,
    frame: Frame,
    form: SearchForm,
    users: Vec<UserListRow>,
    /// The address of the next page, when there may be one.
    next: Option<String>,
    error: Option<String>,
}

const SEARCH_PAGE: i64 = 50;

pub(super) async fn search(
    State(state): State<AppState>,
    Extension(admin): Extension<ConsoleAdmin>,
    ApiQuery(form): ApiQuery<SearchForm>,
) -> Response {
    let mut error = None;
    if form.q.chars().count() > 128 {
        error = Some("The search is at most 128 characters.".to_owned());
    }
    let group = form.group.trim().to_owned();
    if !group.is_empty() && !crate::authz::is_group_name(&group) {
        error = Some("A group name is 1 to 64 lowercase letters, digits, '-', '_' or '.'.".into());
    }
    let users = match error {
        Some(_) => Vec::new(),
        None => {
            let query = UserQuery {
                prefix: form.q.clone(),
                disabled_only: form.disabled.is_some(),
                unconfirmed_only: form.unconfirmed.is_some(),
                without_second_factor_only: form.no_second_factor.is_some(),
                in_group: (!group.is_empty()).then_some(group),
                throttled_only: form.throttled.is_some(),
                after: form.after.clone(),
                limit: SEARCH_PAGE.min(PAGE_MAX),
            };
            match state.console.search(query).await {
                Ok(users) => users,
                Err(e) => return e.into_response(),
            }
        }
    };
    let next = (users.len() as i64 == SEARCH_PAGE).then(|| {
        let last = &users[users.len() - 1].username;
        let mut query = form_urlencoded::Serializer::new(String::new());
        query.append_pair("q", &form.q);
        for (name, on) in [
            ("disabled", form.disabled.is_some()),
            ("unconfirmed", form.unconfirmed.is_some()),
            ("no_second_factor", form.no_second_factor.is_some()),
            ("throttled", form.throttled.is_some()),
        ] {
            if on {
                query.append_pair(name, "1");
            }
        }
        if !form.group.is_empty() {
            query.append_pair("group", &form.group);
        }
        query.append_pair("after", last);
        format!("/admin?{}", query.finish())
    });
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    render(
        status,
        &UsersPage {
            site: &state.site,
            frame: Frame::new(&state, &admin, "users"),
            form,
            users,
            next,
            error,
        },
    )
}

struct SessionLine {
    id: String,
    created: When,
    last_seen: When,
    client_addr: String,
    browser: String,
    user_agent: String,
    second_factor: bool,
}

struct FactorLine {
    kind: String,
    name: String,
    added: When,
    last_used: Option<When>,
}

struct TokenLine {
    name: String,
    created: When,
    expires: Option<When>,
    last_used: Option<When>,
}

struct EventLine {
    at: When,
    event: String,
    client_addr: String,
    detail: String,
}

#[derive(Template)]
#[template(path = "admin_user.html")]
struct UserPage<'a> {
    site: &'a crate::web::Site,
    frame: Frame,
    username: String,
    email: String,
    display_name: Option<String>,
    disabled: bool,
    email_confirmed: bool,
    created: When,
    /// The user administers (and is someone else): changes to them need a second factor.
    is_admin: bool,
    /// The user is the administrator looking.
    is_self: bool,
    /// Failed sign-ins counted against the account, and the last one's time.
    failed_sign_ins: Option<(i64, When)>,
    admin_group: String,
    groups: Vec<String>,
    sessions: Vec<SessionLine>,
    factors: Vec<FactorLine>,
    tokens: Vec<TokenLine>,
    events: Vec<EventLine>,
    notice: Option<&'static str>,
    errors: FormErrors,
}

/// What a change's redirect says, by its `done`.
fn notice(done: Option<&str>) -> Option<&'static str> {
    Some(match done? {
        "end-sessions" => "Every session of this account is ended.",
        "end-session" => "The session is ended.",
        "disable" => "The account is disabled; its sessions are ended. Its owner was told.",
        "enable" => "The account is enabled again. Its owner was told.",
        "reset-second-factors" => {
            "Its second factors, recovery codes, sessions and API tokens are gone. Its owner was told."
        }
        "reset-link" => "A reset link went to the account's address.",
        "unlock" => "The sign-in throttle of this account is cleared.",
        "address" => {
            "A link went to the new address (the address changes when it is opened); a notice to the current one."
        }
        "group-add" => "Added to the group.",
        "group-remove" => "Removed from the group.",
        "revoke-token" => "The token is revoked.",
        _ => return None,
    })
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Done {
    done: Option<String>,
}

pub(super) async fn user(
    State(state): State<AppState>,
    Extension(admin): Extension<ConsoleAdmin>,
    Path(username): Path<String>,
    ApiQuery(done): ApiQuery<Done>,
) -> Response {
    let shown = notice(done.done.as_deref());
    user_view(
        &state,
        &admin,
        &username,
        StatusCode::OK,
        shown,
        FormErrors::default(),
    )
    .await
}

/// The user's page, after a change (`notice`) or with the error a form met.
pub(super) async fn user_view(
    state: &AppState,
    admin: &ConsoleAdmin,
    username: &str,
    status: StatusCode,
    notice: Option<&'static str>,
    errors: FormErrors,
) -> Response {
    match user_page(state, admin, username, status, notice, errors).await {
        Ok(page) => page,
        Err(e) => e.into_response(),
    }
}

async fn user_page(
    state: &AppState,
    admin: &ConsoleAdmin,
    username: &str,
    status: StatusCode,
    notice: Option<&'static str>,
    errors: FormErrors,
) -> Result<Response, AppError> {
    let detail = state.console.user(username).await?;
    let now = state.accounts.clock.now();
    let u = &detail.user;
    let is_self = u.id == admin.0.user.id;
    let is_admin = !is_self
        && detail
            .groups
            .iter()
            .any(|g| g == state.console.admin_group());
    let page = UserPage {
        site: &state.site,
        frame: Frame::new(state, admin, "users"),
        username: u.username.clone(),
        email: u.email.clone(),
        display_name: u.display_name.clone(),
        disabled: u.disabled != 0,
        email_confirmed: u.email_verified_at.is_some(),
        created: When::at(u.created_at, now),
        is_admin,
        is_self,
        failed_sign_ins: (detail.failed_sign_ins > 0).then(|| {
            (
                detail.failed_sign_ins,
                When::at(detail.last_failed_sign_in_at.unwrap_or(now), now),
            )
        }),
        admin_group: state.console.admin_group().to_owned(),
        sessions: detail
            .sessions
            .iter()
            .map(|s| SessionLine {
                id: s.id.clone(),
                created: When::at(s.created_at, now),
                last_seen: When::at(s.last_seen_at, now),
                client_addr: s.client_addr.clone(),
                browser: crate::web::describe_browser(&s.user_agent),
                user_agent: s.user_agent.clone(),
                second_factor: s.second_factor != 0,
            })
            .collect(),
        factors: detail
            .factors
            .iter()
            .map(|(kind, name, added, used)| FactorLine {
                kind: kind.clone(),
                name: name.clone(),
                added: When::at(*added, now),
                last_used: used.map(|t| When::at(t, now)),
            })
            .collect(),
        tokens: detail
            .tokens
            .iter()
            .map(|(name, created, expires, used)| TokenLine {
                name: name.clone(),
                created: When::at(*created, now),
                expires: expires.map(|t| When::at(t, now)),
                last_used: used.map(|t| When::at(t, now)),
            })
            .collect(),
        events: detail
            .audit
            .iter()
            .map(|e| EventLine {
                at: When::at(e.at, now),
                event: e.event.clone(),
                client_addr: e.client_addr.clone().unwrap_or_default(),
                detail: e.detail.clone().unwrap_or_default(),
            })
            .collect(),
        groups: detail.groups,
        notice,
        errors,
    };
    Ok(render(status, &page))
}
