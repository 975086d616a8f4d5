//! The authorization endpoint (the front channel): a checked request, palisade's own
//! sign-in (the request rides through the login page and the second step as `rd`), the
//! client's access rule, consent, then a code — and the answer to the app, by redirect or
//! by an auto-submitted form (`form_post`), always with `iss` (RFC 9207).

use askama::Template;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode};
use palisade::http::{CspNonce, FormActionOrigin};

use super::request::{self, AuthRequest, Refusal, Reply, ResponseMode};
use super::{Oidc, random_id, random_secret, secret_hash, sid_of};
use crate::authz::Identity;
use crate::error::AppError;
use crate::sessions::{Authenticated, Credential, MaybeAuth};
use crate::state::AppState;
use crate::store::{CodeRow, GrantRow, Groups};

/// How long a code may wait to be redeemed, seconds.
const CODE_SECS: i64 = 60;

/// The parameters of a query or form body, in order, decoded.
pub(crate) fn pairs(text: &str) -> Vec<(String, String)> {
    form_urlencoded::parse(text.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

pub(super) async fn authorize_get(
    State(state): State<AppState>,
    MaybeAuth(auth): MaybeAuth,
    headers: HeaderMap,
    nonce: CspNonce,
    RawQuery(query): RawQuery,
) -> Response {
    let params = pairs(query.as_deref().unwrap_or(""));
    authorize(&state, auth, &headers, &nonce, params).await
}

pub(super) async fn authorize_post(
    State(state): State<AppState>,
    MaybeAuth(auth): MaybeAuth,
    headers: HeaderMap,
    nonce: CspNonce,
    body: Bytes,
) -> Response {
    let Ok(text) = std::str::from_utf8(&body) else {
        return super::error::error_page(
            &state.site,
            StatusCode::BAD_REQUEST,
            "The app's request is not valid: its form is not UTF-8 text.",
        );
    };
    authorize(&state, auth, &headers, &nonce, pairs(text)).await
}

async fn authorize(
    state: &AppState,
    auth: Option<Authenticated>,
    headers: &HeaderMap,
    nonce: &CspNonce,
    params: Vec<(String, String)>,
) -> Response {
    let oidc = &state.oidc;
    let req = match request::read(oidc, params).await {
        Ok(req) => req,
        Err(refusal) => return refused(state, refusal, nonce),
    };
    match decide(state, &req, auth.as_ref(), false).await {
        Ok(Step::Code(code)) => answer(oidc, &req.reply, &[("code", code)], headers, nonce),
        Ok(Step::Respond(response)) => response,
        Ok(Step::Consent(auth)) => super::consent::page(state, &req, &auth),
        Err(refusal) => refused(state, refusal, nonce),
    }
}

/// What comes next for a request.
pub(super) enum Step {
    /// Issued: the code.
    Code(String),
    /// Ask the user.
    Consent(Authenticated),
    /// Already answered (sent to log in, refused with a page).
    Respond(Response),
}

/// Everything between a checked request and its code: sign-in, fresh sign-in, the
/// client's rule, consent (`consented`: the consent form was just sent), then the code.
pub(super) async fn decide(
    state: &AppState,
    req: &AuthRequest,
    auth: Option<&Authenticated>,
    consented: bool,
) -> Result<Step, Refusal> {
    let oidc = &state.oidc;
    let now = oidc.clock.now();
    let to_client = |error: &'static str, description: &str| Refusal::ToClient {
        reply: req.reply.clone(),
        error,
        description: description.to_owned(),
    };
    let login = |fresh: bool| {
        let rd = req.url(oidc, fresh.then_some(("max_age", Some("300".to_owned()))));
        let mut to = form_urlencoded::Serializer::new(String::new());
        to.append_pair("rd", &rd);
        if fresh {
            to.append_pair("prompt", "login");
        }
        if let Some(hint) = &req.login_hint {
            to.append_pair("login_hint", hint);
        }
        Step::Respond(crate::web::see_other(&format!("/login?{}", to.finish())))
    };
    let Some(auth) = auth else {
        if req.prompt.none {
            return Err(to_client("login_required", "nobody is signed in"));
        }
        return Ok(login(false));
    };
    if !consented && req.needs_fresh_login(auth.session.last_auth_at, now) {
        if req.prompt.none {
            return Err(to_client(
                "login_required",
                "the sign-in is older than max_age",
            ));
        }
        return Ok(login(true));
    }
    let client = &req.client;
    let groups = if client.uses_groups() {
        oidc.store.remembered_groups_of(auth.user.id).await?
    } else {
        Groups::from([])
    };
    let who = Identity {
        username: &auth.user.username,
        groups: &groups,
        credential: if auth.session.second_factor != 0 {
            Credential::SessionWithSecondFactor
        } else {
            Credential::Session
        },
        email_verified: auth.user.email_verified_at.is_some(),
    };
    if !client.admits(who) {
        if req.prompt.none {
            return Err(to_client(
                "access_denied",
                "this user may not use this client",
            ));
        }
        return Ok(Step::Respond(denied_page(state, req)));
    }
    if !client.first_party && !consented {
        let given = oidc.store.consent(auth.user.id, &client.id).await?;
        let covered = given.as_deref().is_some_and(|given| {
            super::tokens::scopes(&req.scope).all(|s| super::tokens::has_scope(given, s))
        });
        if !covered || req.prompt.consent {
            if req.prompt.none {
                return Err(to_client(
                    "consent_required",
                    "the user has not consented to this client",
                ));
            }
            return Ok(Step::Consent(auth.clone()));
        }
    }
    let code = random_secret().map_err(Refusal::Service)?;
    let grant = GrantRow {
        id: random_id().map_err(Refusal::Service)?,
        client_id: client.id.clone(),
        user_id: auth.user.id,
        session_id: auth.session.id.clone(),
        sid: sid_of(&auth.session.id),
        offline: i64::from(super::tokens::has_scope(&req.scope, "offline_access")),
        scope: req.scope.clone(),
        auth_time: auth.session.last_auth_at,
        second_factor: auth.session.second_factor,
        created_at: now,
        session_seen_at: None,
    };
    let row = CodeRow {
        grant_id: grant.id.clone(),
        redirect_uri: req.reply.redirect_uri.clone(),
        code_challenge: req.code_challenge.clone(),
        nonce: req.nonce.clone(),
        expires_at: now + CODE_SECS,
        used_at: None,
    };
    if !oidc
        .store
        .insert_grant_with_code(&grant, &secret_hash(&code), &row)
        .await?
    {
        // The session ended meanwhile.
        return Ok(login(false));
    }
    Ok(Step::Code(code))
}

/// The page a user the client's rule refuses sees; its link tells the app `access_denied`.
fn denied_page(state: &AppState, req: &AuthRequest) -> Response {
    let back = reply_url(
        &state.oidc,
        &req.reply,
        &[
            ("error", "access_denied".to_owned()),
            (
                "error_description",
                "this user may not use this client".to_owned(),
            ),
        ],
    );
    let message = if req.client.wants_second_factor() {
        format!(
            "{} asks for a sign-in with a second factor. Sign out, then sign in again with your second factor (or add one to your account first).",
            req.client.name
        )
    } else {
        format!(
            "Your account is not allowed to use {}. Ask the site's administrators if you need it.",
            req.client.name
        )
    };
    crate::web::render(
        StatusCode::FORBIDDEN,
        &super::error::MessagePage {
            site: &state.site,
            title: "No access to this app",
            message: &message,
            link: Some(("Return to the app", &back)),
        },
    )
}

/// A refusal, answered: a page, or the error sent to the app.
pub(super) fn refused(state: &AppState, refusal: Refusal, nonce: &CspNonce) -> Response {
    match refusal {
        Refusal::Page(message) => {
            super::error::error_page(&state.site, StatusCode::BAD_REQUEST, &message)
        }
        Refusal::ToClient {
            reply,
            error,
            description,
        } => answer(
            &state.oidc,
            &reply,
            &[
                ("error", error.to_owned()),
                ("error_description", description),
            ],
            &HeaderMap::new(),
            nonce,
        ),
        Refusal::Service(e) => e.into_response(),
    }
}

/// The redirect URI with the answer's parameters, `state` and `iss` in its query.
fn reply_url(oidc: &Oidc, reply: &Reply, fields: &[(&str, String)]) -> String {
    let mut url = reply.redirect_uri.clone();
    let mut query = form_urlencoded::Serializer::new(String::new());
    for (name, value) in all_fields(oidc, reply, fields) {
        query.append_pair(name, &value);
    }
    url.push(if url.contains('?') { '&' } else { '?' });
    url.push_str(&query.finish());
    url
}

fn all_fields<'a>(
    oidc: &Oidc,
    reply: &Reply,
    fields: &[(&'a str, String)],
) -> Vec<(&'a str, String)> {
    let mut all = fields.to_vec();
    if let Some(state) = &reply.state {
        all.push(("state", state.clone()));
    }
    all.push(("iss", oidc.issuer.clone()));
    all
}

#[derive(Template)]
#[template(path = "oidc_form_post.html")]
struct FormPostPage<'a> {
    site: &'a crate::web::Site,
    action: &'a str,
    fields: Vec<(&'a str, String)>,
    nonce: String,
}

#[derive(Template)]
#[template(path = "oidc_continue.html")]
struct ContinuePage<'a> {
    site: &'a crate::web::Site,
    to: &'a str,
}

/// The answer to the app. By redirect (`query`) — through a page that moves on by
/// itself when the browser arrived from one of palisade's own forms (the login), whose
/// `form-action` would otherwise stop the redirect to the app — or as a form the page
/// posts to the app (`form_post`).
pub(super) fn answer(
    oidc: &Oidc,
    reply: &Reply,
    fields: &[(&str, String)],
    headers: &HeaderMap,
    nonce: &CspNonce,
) -> Response {
    let site = &*oidc.site;
    let mut response = match reply.mode {
        ResponseMode::Query => {
            let to = reply_url(oidc, reply, fields);
            let from_our_page = headers
                .get("sec-fetch-site")
                .is_some_and(|v| v.as_bytes() == b"same-origin");
            if from_our_page {
                crate::web::render(StatusCode::OK, &ContinuePage { site, to: &to })
            } else {
                crate::web::see_other(&to)
            }
        }
        ResponseMode::FormPost => crate::web::render(
            StatusCode::OK,
            &FormPostPage {
                site,
                action: &reply.redirect_uri,
                fields: all_fields(oidc, reply, fields),
                nonce: nonce.to_string(),
            },
        ),
    };
    if let Some(origin) = url::Url::parse(&reply.redirect_uri)
        .ok()
        .and_then(|u| FormActionOrigin::new(&u.origin().ascii_serialization()))
    {
        response.extensions_mut().insert(origin);
    }
    response
}

impl From<AppError> for Refusal {
    fn from(e: AppError) -> Self {
        Self::Service(e)
    }
}
