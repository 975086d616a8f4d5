//! The consent page: names the app and what it will learn; the user's answer is
//! remembered per (user, client) with the scopes, so the app is not asked about again
//! until it asks for more. The form carries the whole request, read and checked again
//! when it comes back, and a form token bound to the session (and the shield refuses it
//! cross-site).

use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use palisade::http::{CspNonce, FormActionOrigin};
use serde::Deserialize;

use super::authorize::{Step, answer, decide, pairs, refused};
use super::request::{self, AuthRequest, Refusal};
use crate::sessions::{Authenticated, MaybeAuth};
use crate::state::AppState;

/// What each scope lets an app learn, in words.
fn described(scope: &str) -> Option<&'static str> {
    match scope {
        "openid" => Some("that you are signed in, and an identifier for you that stays the same"),
        "profile" => Some("your username and display name"),
        "email" => Some("your email address, and whether it is confirmed"),
        "groups" => Some("the groups you belong to"),
        "offline_access" => Some("to stay signed in while you are away, until you revoke it"),
        _ => None,
    }
}

#[derive(Template)]
#[template(path = "oidc_consent.html")]
struct ConsentPage<'a> {
    site: &'a crate::web::Site,
    app: &'a str,
    username: &'a str,
    learns: Vec<&'static str>,
    request: String,
    csrf: String,
}

/// The page asking `auth`'s user to let the client have what `req` asks for.
pub(super) fn page(state: &AppState, req: &AuthRequest, auth: &Authenticated) -> Response {
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (name, value) in &req.params {
        query.append_pair(name, value);
    }
    let mut response = crate::web::render(
        StatusCode::OK,
        &ConsentPage {
            site: &state.site,
            app: &req.client.name,
            username: &auth.user.username,
            learns: super::tokens::scopes(&req.scope)
                .filter_map(described)
                .collect(),
            request: query.finish(),
            csrf: state.forms.token(auth.session.id.as_bytes()),
        },
    );
    // The answer after the form goes to the app: `form-action` must allow its origin.
    if let Some(origin) = url::Url::parse(&req.reply.redirect_uri)
        .ok()
        .and_then(|u| FormActionOrigin::new(&u.origin().ascii_serialization()))
    {
        response.extensions_mut().insert(origin);
    }
    response
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ConsentForm {
    csrf: String,
    request: String,
    decision: String,
}

pub(super) async fn consent_submit(
    State(state): State<AppState>,
    MaybeAuth(auth): MaybeAuth,
    headers: http::HeaderMap,
    nonce: CspNonce,
    Form(form): Form<ConsentForm>,
) -> Response {
    let Some(auth) = auth else {
        return super::error::error_page(
            &state.site,
            StatusCode::FORBIDDEN,
            "You were signed out before answering. Go back to the app and sign in again.",
        );
    };
    if crate::web::check_form_token(&state, &auth, &form.csrf).is_err() {
        return super::error::error_page(
            &state.site,
            StatusCode::FORBIDDEN,
            "This form has expired or did not come from this site. Go back to the app and try again.",
        );
    }
    let req = match request::read(&state.oidc, pairs(&form.request)).await {
        Ok(req) => req,
        Err(refusal) => return refused(&state, refusal, &nonce),
    };
    let refusal = |error: &'static str, description: &str| Refusal::ToClient {
        reply: req.reply.clone(),
        error,
        description: description.to_owned(),
    };
    match form.decision.as_str() {
        "allow" => {}
        "deny" => return refused(&state, refusal("access_denied", "the user said no"), &nonce),
        _ => {
            return super::error::error_page(
                &state.site,
                StatusCode::BAD_REQUEST,
                "The form's answer is neither allow nor deny.",
            );
        }
    }
    let oidc = &state.oidc;
    let given = match oidc.store.consent(auth.user.id, &req.client.id).await {
        Ok(given) => given.unwrap_or_default(),
        Err(e) => return crate::error::AppError::from(e).into_response(),
    };
    // What was consented to before stays, with what is consented to now.
    let union: Vec<&str> = super::clients::SCOPES
        .into_iter()
        .filter(|s| super::tokens::has_scope(&given, s) || super::tokens::has_scope(&req.scope, s))
        .collect();
    match decide(&state, &req, Some(&auth), true).await {
        Ok(Step::Code(code)) => {
            if let Err(e) = oidc
                .store
                .save_consent(
                    auth.user.id,
                    &req.client.id,
                    &union.join(" "),
                    oidc.clock.now(),
                )
                .await
            {
                return crate::error::AppError::from(e).into_response();
            }
            answer(oidc, &req.reply, &[("code", code)], &headers, &nonce)
        }
        Ok(Step::Respond(response)) => response,
        Ok(Step::Consent(_)) => super::error::error_page(
            &state.site,
            StatusCode::CONFLICT,
            "The app's request changed. Go back to the app and try again.",
        ),
        Err(refusal) => refused(&state, refusal, &nonce),
    }
}
