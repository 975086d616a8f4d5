//! RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0): an app sends the browser
//! here to end the user's session. The browser goes back only to a
//! `post_logout_redirect_uri` registered, byte for byte, by the client the request names
//! (by `client_id` or the `id_token_hint`'s audience). The session ends at once when the
//! hint names this very session; otherwise the user is asked, with a form a cross-site
//! page cannot send, so no page can sign anyone out by linking here.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum_extra::extract::CookieJar;
use http::{HeaderValue, StatusCode};
use palisade::http::{ClientInfo, FormActionOrigin};

use super::authorize::pairs;
use super::error::{MessagePage, error_page};
use super::{Oidc, sid_of};
use crate::sessions::{Authenticated, MaybeSignedIn};
use crate::state::AppState;

/// Where a logout goes back to, checked.
struct Onwards {
    client_id: Option<String>,
    uri: Option<String>,
    state: Option<String>,
    /// The hint's `sid`, when a valid hint was given.
    hinted_sid: Option<String>,
}

fn one<'a>(params: &'a [(String, String)], name: &str) -> Result<Option<&'a str>, String> {
    let mut found = params
        .iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.as_str());
    let first = found.next();
    if found.next().is_some() {
        return Err(format!(
            "The sign-out request is not valid: {name} is given more than once."
        ));
    }
    Ok(first.filter(|v| !v.is_empty()))
}

/// Reads and checks a logout request; an error is the page's message.
async fn read(oidc: &Oidc, params: &[(String, String)]) -> Result<Onwards, String> {
    let mut client_id = one(params, "client_id")?.map(str::to_owned);
    let mut hinted_sid = None;
    if let Some(hint) = one(params, "id_token_hint")? {
        let invalid = || {
            "The app's sign-out request is not valid (its id_token_hint is not one of this site's ID tokens).".to_owned()
        };
        let keys =
            oidc.keys.public_keys().await.map_err(|_| {
                "The site cannot check the request right now; try again.".to_owned()
            })?;
        let alg = super::jwt::header_alg(hint).ok_or_else(invalid)?;
        // An expired hint still names who signed in: OIDC allows it here.
        let claims = super::jwt::verify(hint, &keys, alg).map_err(|_| invalid())?;
        if claims["iss"].as_str() != Some(oidc.issuer.as_str()) {
            return Err(invalid());
        }
        let audience = match &claims["aud"] {
            serde_json::Value::String(aud) => Some(aud.clone()),
            serde_json::Value::Array(auds) if auds.len() == 1 => {
                auds[0].as_str().map(str::to_owned)
            }
            _ => None,
        }
        .ok_or_else(invalid)?;
        if client_id.as_ref().is_some_and(|c| *c != audience) {
            return Err("The sign-out request names two different apps.".into());
        }
        client_id = Some(audience);
        hinted_sid = claims["sid"].as_str().map(str::to_owned);
    }
    let state = one(params, "state")?
        .filter(|s| s.len() <= 2048)
        .map(str::to_owned);
    let uri = match one(params, "post_logout_redirect_uri")? {
        None => None,
        Some(uri) => {
            let client = match &client_id {
                Some(id) => oidc.clients.get(id).await.map_err(|_| {
                    "The site cannot check the request right now; try again.".to_owned()
                })?,
                None => None,
            };
            let registered = client
                .as_ref()
                .and_then(|c| c.post_logout_redirect_uri(uri));
            Some(registered.map(str::to_owned).ok_or_else(|| {
                "The app asked to return to an address it has not registered, so you were not sent there.".to_owned()
            })?)
        }
    };
    Ok(Onwards {
        client_id,
        uri,
        state,
        hinted_sid,
    })
}

#[derive(Template)]
#[template(path = "oidc_logout.html")]
struct ConfirmPage<'a> {
    site: &'a crate::web::Site,
    csrf: String,
    client_id: &'a str,
    uri: &'a str,
    state: &'a str,
}

pub(super) async fn logout_get(
    State(state): State<AppState>,
    client: ClientInfo,
    jar: CookieJar,
    MaybeSignedIn(auth): MaybeSignedIn,
    RawQuery(query): RawQuery,
) -> Response {
    logout(
        &state,
        &client,
        jar,
        auth,
        pairs(query.as_deref().unwrap_or("")),
    )
    .await
}

pub(super) async fn logout_post(
    State(state): State<AppState>,
    client: ClientInfo,
    jar: CookieJar,
    MaybeSignedIn(auth): MaybeSignedIn,
    body: Bytes,
) -> Response {
    let text = String::from_utf8_lossy(&body);
    logout(&state, &client, jar, auth, pairs(&text)).await
}

async fn logout(
    state: &AppState,
    client: &ClientInfo,
    jar: CookieJar,
    auth: Option<Authenticated>,
    params: Vec<(String, String)>,
) -> Response {
    let site = &*state.site;
    let onwards = match read(&state.oidc, &params).await {
        Ok(onwards) => onwards,
        Err(message) => return error_page(site, StatusCode::BAD_REQUEST, &message),
    };
    match auth {
        None => finish(state, &onwards, None),
        Some(auth) if onwards.hinted_sid.as_deref() == Some(sid_of(&auth.session.id).as_str()) => {
            end(state, client, jar, &auth, &onwards).await
        }
        Some(auth) => {
            let mut page = crate::web::render(
                StatusCode::OK,
                &ConfirmPage {
                    site,
                    csrf: state.forms.token(auth.session.id.as_bytes()),
                    client_id: onwards.client_id.as_deref().unwrap_or(""),
                    uri: onwards.uri.as_deref().unwrap_or(""),
                    state: onwards.state.as_deref().unwrap_or(""),
                },
            );
            allow_form_to(&mut page, onwards.uri.as_deref());
            page
        }
    }
}

fn allow_form_to(page: &mut Response, uri: Option<&str>) {
    if let Some(origin) = uri
        .and_then(|u| url::Url::parse(u).ok())
        .and_then(|u| FormActionOrigin::new(&u.origin().ascii_serialization()))
    {
        page.extensions_mut().insert(origin);
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ConfirmForm {
    csrf: String,
    client_id: String,
    post_logout_redirect_uri: String,
    state: String,
}

pub(super) async fn confirm_submit(
    State(state): State<AppState>,
    client: ClientInfo,
    jar: CookieJar,
    MaybeSignedIn(auth): MaybeSignedIn,
    axum::Form(form): axum::Form<ConfirmForm>,
) -> Response {
    let mut params = vec![
        ("client_id".to_owned(), form.client_id),
        ("state".to_owned(), form.state),
    ];
    params.push((
        "post_logout_redirect_uri".to_owned(),
        form.post_logout_redirect_uri,
    ));
    let onwards = match read(&state.oidc, &params).await {
        Ok(onwards) => onwards,
        Err(message) => {
            return error_page(&state.site, StatusCode::BAD_REQUEST, &message);
        }
    };
    let Some(auth) = auth else {
        return finish(&state, &onwards, None);
    };
    if crate::web::check_form_token(&state, &auth, &form.csrf).is_err() {
        return error_page(
            &state.site,
            StatusCode::FORBIDDEN,
            "This form has expired or did not come from this site. You are still signed in.",
        );
    }
    end(&state, &client, jar, &auth, &onwards).await
}

/// Ends the session and moves on.
async fn end(
    state: &AppState,
    client: &ClientInfo,
    jar: CookieJar,
    auth: &Authenticated,
    onwards: &Onwards,
) -> Response {
    if let Err(e) = state.accounts.logout(auth, client).await {
        return e.into_response();
    }
    finish(state, onwards, Some(jar))
}

/// Signed out: back to the app, or a page that says so.
fn finish(state: &AppState, onwards: &Onwards, jar: Option<CookieJar>) -> Response {
    let mut response = match &onwards.uri {
        Some(uri) => {
            let mut to = uri.clone();
            if let Some(s) = &onwards.state {
                to.push(if to.contains('?') { '&' } else { '?' });
                to.push_str(
                    &form_urlencoded::Serializer::new(String::new())
                        .append_pair("state", s)
                        .finish(),
                );
            }
            crate::web::see_other(&to)
        }
        None => crate::web::render(
            StatusCode::OK,
            &MessagePage {
                site: &state.site,
                title: "Signed out",
                message: "You are signed out.",
                link: Some(("Sign in again", "/login")),
            },
        ),
    };
    if let Some(jar) = jar {
        let cleared = state.accounts.sessions.cookies.clear(jar).into_response();
        for value in cleared.headers().get_all(http::header::SET_COOKIE) {
            response
                .headers_mut()
                .append(http::header::SET_COOKIE, value.clone());
        }
        response
            .headers_mut()
            .insert("clear-site-data", HeaderValue::from_static("\"cookies\""));
    }
    response
}
