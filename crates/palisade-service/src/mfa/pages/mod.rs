//! `/account/second-factors`: add an authenticator app (its key and
//! QR code shown once, on a page that is not cached), confirm it, see the recovery codes
//! once, remove a factor, new recovery codes. The login's second step is `second_step.rs`.

mod authenticator_app;
mod second_step;

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum_extra::extract::CookieJar;
use http::StatusCode;
use palisade::http::ClientInfo;
use palisade::secret::SecretString;
use serde::Deserialize;

use super::Proof;
use crate::body::Form;
use crate::error::AppError;
use crate::sessions::{Authenticated, MaybeEnrolling};
use crate::state::AppState;
use crate::web::{FormErrors, When, allow_webauthn, guarded, passkey_nonce, render, see_other};
use palisade::http::CspNonce;
use zeroize::Zeroizing;

/// A factor as the account page lists it.
struct FactorLine {
    id: String,
    name: String,
    kind: String,
    added: When,
    last_used: Option<When>,
}

/// What an enrolment shows once: the QR code (our own SVG markup) and the key.
struct EnrolmentShown {
    qr_svg: Zeroizing<String>,
    secret: Zeroizing<String>,
}

#[derive(Template)]
#[template(path = "second_factors.html")]
struct FactorsPage<'a> {
    site: &'a crate::web::Site,
    passkey_nonce: Option<String>,
    /// Whether the user has a passkey (forms without a code then ask the page's script to
    /// prove it).
    has_passkey: bool,
    factors: Vec<FactorLine>,
    recovery_codes_left: i64,
    csrf: String,
    factor_name: &'a str,
    enrolment: Option<EnrolmentShown>,
    /// The factor awaiting its first code, when the page asks for it.
    confirm_id: Option<&'a str>,
    recovery_codes: Option<Vec<Zeroizing<String>>>,
    /// Other sessions to offer ending, after a change.
    other_sessions: usize,
    notice: Option<&'a str>,
    errors: FormErrors,
}

#[derive(Default)]
struct Shown<'a> {
    name: &'a str,
    enrolment: Option<EnrolmentShown>,
    confirm_id: Option<&'a str>,
    recovery_codes: Option<Vec<Zeroizing<String>>>,
    offer_end_others: bool,
    notice: Option<&'a str>,
    errors: FormErrors,
}

async fn factors_view(
    state: &AppState,
    nonce: &CspNonce,
    auth: &Authenticated,
    status: StatusCode,
    shown: Shown<'_>,
) -> Response {
    let listed = async {
        let (factors, left) = state.mfa.list(auth.user.id).await?;
        let others = if shown.offer_end_others {
            let sessions = state.accounts.sessions.list(auth.user.id).await?;
            sessions.iter().filter(|s| s.id != auth.session.id).count()
        } else {
            0
        };
        Ok::<_, AppError>((factors, left, others))
    }
    .await;
    let (factors, left, other_sessions) = match listed {
        Ok(l) => l,
        Err(e) => return e.into_response(),
    };
    let has_passkey = state.mfa.passkeys_available() && factors.iter().any(|f| f.kind == "passkey");
    let now = state.accounts.clock.now();
    let factors = factors
        .into_iter()
        .map(|f| FactorLine {
            id: f.id,
            name: f.name,
            kind: match f.kind.as_str() {
                "totp" => "authenticator app".to_owned(),
                other => other.to_owned(),
            },
            added: When::at(f.created_at, now),
            last_used: f.last_used_at.map(|u| When::at(u, now)),
        })
        .collect();
    let page = render(
        status,
        &FactorsPage {
            site: &state.site,
            passkey_nonce: passkey_nonce(state, nonce),
            has_passkey,
            factors,
            recovery_codes_left: left,
            csrf: state.forms.token(auth.session.id.as_bytes()),
            factor_name: shown.name,
            enrolment: shown.enrolment,
            confirm_id: shown.confirm_id,
            recovery_codes: shown.recovery_codes,
            other_sessions,
            notice: shown.notice.or_else(|| {
                state.accounts.sessions.needs_second_factor(auth).then_some(
                    "This site needs a second factor: add an authenticator app to continue.",
                )
            }),
            errors: shown.errors,
        },
    );
    allow_webauthn(state, page)
}

fn exposed(secret: &SecretString) -> Zeroizing<String> {
    Zeroizing::new(secret.expose(str::to_owned))
}

/// A page's proof: a passkey's answer (JSON, put in the form by the page's script), else
/// the one "code" box, which takes either kind: six digits are an app's code, anything
/// else a recovery code.
pub(crate) fn typed_proof(
    code: Option<SecretString>,
    passkey: Option<String>,
) -> Result<Option<Proof>, AppError> {
    if let Some(passkey) = passkey.filter(|p| !p.is_empty()) {
        let credential = serde_json::from_str(&passkey).map_err(|_| {
            palisade::validate::ValidationError::new(
                "passkey",
                palisade::validate::Rule::Format(
                    "must be a passkey's answer, as the page sends it",
                ),
            )
        })?;
        return Ok(Some(Proof::Passkey(Box::new(credential))));
    }
    let Some(code) = code.filter(|c| !c.is_empty()) else {
        return Ok(None);
    };
    Ok(Some(if code.expose(super::is_app_code) {
        Proof::Totp(code)
    } else {
        Proof::RecoveryCode(code)
    }))
}

async fn factors_page(
    State(state): State<AppState>,
    nonce: CspNonce,
    MaybeEnrolling(auth): MaybeEnrolling,
) -> Response {
    let Some(auth) = auth else {
        return see_other("/login");
    };
    factors_view(&state, &nonce, &auth, StatusCode::OK, Shown::default()).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ProofForm {
    csrf: String,
    /// A passkey's answer, when the page's script proved one.
    #[serde(default)]
    passkey: Option<String>,
    #[serde(default)]
    code: Option<SecretString>,
    #[serde(default)]
    password: Option<SecretString>,
}

async fn remove_submit(
    State(state): State<AppState>,
    nonce: CspNonce,
    client: ClientInfo,
    jar: CookieJar,
    MaybeEnrolling(auth): MaybeEnrolling,
    Path(id): Path<String>,
    Form(form): Form<ProofForm>,
) -> Response {
    let Some(auth) = auth else {
        return see_other("/login");
    };
    let password = form.password.filter(|p| !p.is_empty());
    let proof = typed_proof(form.code, form.passkey);
    let result = guarded(&state, &auth, &form.csrf, async {
        state
            .mfa
            .remove(
                &state.accounts,
                &state.keyring,
                &auth,
                &id,
                password,
                proof?,
                &client,
            )
            .await
    })
    .await;
    match result {
        Ok(reissued) => {
            let jar = state
                .accounts
                .sessions
                .cookies
                .set_renewed(jar, reissued.as_ref());
            let shown = Shown {
                offer_end_others: true,
                notice: Some("Removed."),
                ..Shown::default()
            };
            let page = factors_view(&state, &nonce, &auth, StatusCode::OK, shown).await;
            (jar, page).into_response()
        }
        Err(e) => {
            let shown = Shown {
                errors: FormErrors::general(&e),
                ..Shown::default()
            };
            factors_view(&state, &nonce, &auth, e.problem().status(), shown).await
        }
    }
}

async fn codes_submit(
    State(state): State<AppState>,
    nonce: CspNonce,
    client: ClientInfo,
    jar: CookieJar,
    MaybeEnrolling(auth): MaybeEnrolling,
    Form(form): Form<ProofForm>,
) -> Response {
    let Some(auth) = auth else {
        return see_other("/login");
    };
    let password = form.password.filter(|p| !p.is_empty());
    let proof = typed_proof(form.code, form.passkey);
    let result = guarded(&state, &auth, &form.csrf, async {
        state
            .mfa
            .regenerate_codes(
                &state.accounts,
                &state.keyring,
                &auth,
                password,
                proof?,
                &client,
            )
            .await
    })
    .await;
    match result {
        Ok((codes, reissued)) => {
            let jar = state
                .accounts
                .sessions
                .cookies
                .set_renewed(jar, reissued.as_ref());
            let shown = Shown {
                recovery_codes: Some(codes.iter().map(exposed).collect()),
                notice: Some("New recovery codes: the old ones no longer work."),
                ..Shown::default()
            };
            let page = factors_view(&state, &nonce, &auth, StatusCode::OK, shown).await;
            (jar, page).into_response()
        }
        Err(e) => {
            let shown = Shown {
                errors: FormErrors::general(&e),
                ..Shown::default()
            };
            factors_view(&state, &nonce, &auth, e.problem().status(), shown).await
        }
    }
}

pub(crate) fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/login/second-step",
            get(second_step::second_step_page).post(second_step::second_step_submit),
        )
        .route("/account/second-factors", get(factors_page))
        .route(
            "/account/second-factors/totp",
            post(authenticator_app::add_submit),
        )
        .route(
            "/account/second-factors/totp/{id}/confirm",
            post(authenticator_app::confirm_submit),
        )
        .route("/account/second-factors/{id}/remove", post(remove_submit))
        .route("/account/second-factors/recovery-codes", post(codes_submit))
}
