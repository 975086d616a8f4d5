//! `POST /admin/users/{name}/{action}`: the forms of a user's page. Each carries the
//! session's form token; the password when its last entry is stale; a second factor
//! (one box: six digits are an app's code, anything else a recovery code) when the
//! change touches who administers or an administrator's account. Success goes back to
//! the user's page saying what was done (or to the search, after a deletion); a refusal
//! shows the page again with the reason.

use axum::Extension;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use palisade::http::ClientInfo;
use palisade::secret::SecretString;
use serde::Deserialize;

use super::users::user_view;
use crate::body::Form;
use crate::console::access::ConsoleAdmin;
use crate::error::AppError;
use crate::sessions::IssuedToken;
use crate::state::AppState;
use crate::web::{FormErrors, check_form_token, see_other};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ActionForm {
    csrf: String,
    #[serde(default)]
    password: Option<SecretString>,
    #[serde(default)]
    code: Option<SecretString>,
    /// `group-add`, `group-remove`.
    #[serde(default)]
    group: Option<String>,
    /// `end-session`.
    #[serde(default)]
    session: Option<String>,
    /// `revoke-token`.
    #[serde(default)]
    token: Option<String>,
    /// `address`.
    #[serde(default)]
    new_email: Option<String>,
    /// `delete`: the username typed again.
    #[serde(default)]
    confirm: Option<String>,
}

fn missing(field: &'static str) -> AppError {
    AppError::Invalid(palisade::validate::ValidationError::new(
        field,
        palisade::validate::Rule::Empty,
    ))
}

/// The proofs a change needs (see the module), checked before anything changes.
async fn proved(
    state: &AppState,
    admin: &ConsoleAdmin,
    client: &ClientInfo,
    form: &mut ActionForm,
    admin_rights: bool,
) -> Result<Option<IssuedToken>, AppError> {
    check_form_token(state, &admin.0, &form.csrf)?;
    let password = form.password.take().filter(|p| !p.is_empty());
    if admin_rights {
        let proof = crate::mfa::pages::typed_proof(form.code.take(), None)?;
        state
            .mfa
            .guard(
                &state.accounts,
                &state.keyring,
                &admin.0,
                password,
                proof,
                client,
            )
            .await
    } else {
        state
            .accounts
            .require_recent_password(&admin.0, password)
            .await
    }
}

/// Where a change leaves the administrator.
enum Then {
    /// The user's page, saying what was done.
    Done(&'static str),
    /// The search (the user is gone).
    Search,
}

async fn act(
    state: &AppState,
    admin: &ConsoleAdmin,
    client: &ClientInfo,
    username: &str,
    action: &str,
    mut form: ActionForm,
) -> Result<(Option<IssuedToken>, Then), AppError> {
    let console = &state.console;
    let target_admin = console.guarded_target(admin.0.user.id, username).await?;
    let group = form.group.take().unwrap_or_default();
    let rights = target_admin
        || (matches!(action, "group-add" | "group-remove") && group == console.admin_group());
    let known = [
        "end-sessions",
        "end-session",
        "disable",
        "enable",
        "reset-second-factors",
        "reset-link",
        "unlock",
        "address",
        "group-add",
        "group-remove",
        "revoke-token",
        "delete",
    ];
    if !known.contains(&action) {
        return Err(AppError::NotFound);
    }
    if action == "delete" && form.confirm.as_deref().map(str::trim) != Some(username) {
        return Err(AppError::Invalid(palisade::validate::ValidationError::new(
            "confirm",
            palisade::validate::Rule::Format("must be the account's username, to be sure"),
        )));
    }
    let token = proved(state, admin, client, &mut form, rights).await?;
    let address = client.addr.to_string();
    let who = crate::console::Actor::of(&admin.0.user, &address);
    let then = match action {
        "end-sessions" => {
            console.end_sessions(&who, username).await?;
            Then::Done("end-sessions")
        }
        "end-session" => {
            let id = form.session.ok_or_else(|| missing("session"))?;
            console.end_session(&who, username, &id).await?;
            Then::Done("end-session")
        }
        "disable" | "enable" => {
            console
                .set_disabled(&who, username, action == "disable")
                .await?;
            Then::Done(if action == "disable" {
                "disable"
            } else {
                "enable"
            })
        }
        "reset-second-factors" => {
            console.reset_factors(&who, username).await?;
            Then::Done("reset-second-factors")
        }
        "reset-link" => {
            console.mail_reset_link(&who, username).await?;
            Then::Done("reset-link")
        }
        "unlock" => {
            console.unlock(&who, username).await?;
            Then::Done("unlock")
        }
        "address" => {
            let new_email = form.new_email.ok_or_else(|| missing("new_email"))?;
            console
                .change_address(&who, &state.accounts, username, &new_email)
                .await?;
            Then::Done("address")
        }
        "group-add" => {
            console.add_to_group(&who, username, group.trim()).await?;
            Then::Done("group-add")
        }
        "group-remove" => {
            console.remove_from_group(&who, username, &group).await?;
            Then::Done("group-remove")
        }
        "revoke-token" => {
            let name = form.token.ok_or_else(|| missing("token"))?;
            console.revoke_token(&who, username, &name).await?;
            Then::Done("revoke-token")
        }
        _ => {
            console
                .delete_user(&who, &state.account_data, username)
                .await?;
            Then::Search
        }
    };
    Ok((token, then))
}

pub(super) async fn submit(
    State(state): State<AppState>,
    Extension(admin): Extension<ConsoleAdmin>,
    client: ClientInfo,
    jar: CookieJar,
    Path((username, action)): Path<(String, String)>,
    Form(form): Form<ActionForm>,
) -> Response {
    match act(&state, &admin, &client, &username, &action, form).await {
        Ok((token, then)) => {
            let jar = state
                .accounts
                .sessions
                .cookies
                .set_renewed(jar, token.as_ref());
            let to = match then {
                Then::Done(done) => format!(
                    "/admin/users/{}?done={done}",
                    form_urlencoded::byte_serialize(username.as_bytes()).collect::<String>()
                ),
                Then::Search => "/admin?deleted=1".to_owned(),
            };
            (jar, see_other(&to)).into_response()
        }
        Err(AppError::NotFound) => AppError::NotFound.into_response(),
        Err(e) => crate::web::with_retry_after(
            user_view(
                &state,
                &admin,
                &username,
                e.problem().status(),
                None,
                FormErrors::general(&e),
            )
            .await,
            &e,
        ),
    }
}
