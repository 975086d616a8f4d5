//! An authorization request, read and checked (OIDC Core §3.1.2.1, RFC 6749 §4.1.1, RFC
//! 7636): what cannot be trusted to name where to send the browser (the client, the
//! redirect URI) is refused with a page; everything else is refused back to the app.
//! Every parameter appears at most once: a repeated one is ambiguous and refused.

use std::sync::Arc;

use super::Client;
use super::Oidc;
use super::clients::SCOPES;
use crate::error::AppError;

/// How the answer reaches the app.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ResponseMode {
    Query,
    FormPost,
}

/// Where and how an answer goes back to the app.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub(crate) redirect_uri: String,
    pub(crate) mode: ResponseMode,
    pub(crate) state: Option<String>,
}

/// `prompt`, read.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Prompt {
    pub(crate) none: bool,
    pub(crate) login: bool,
    pub(crate) consent: bool,
}

/// A checked authorization request.
#[derive(Debug, Clone)]
pub(crate) struct AuthRequest {
    pub(crate) client: Arc<Client>,
    pub(crate) reply: Reply,
    /// The scopes asked for, known and allowed, in a fixed order, space-separated.
    pub(crate) scope: String,
    pub(crate) nonce: Option<String>,
    pub(crate) code_challenge: Option<String>,
    pub(crate) prompt: Prompt,
    pub(crate) max_age: Option<i64>,
    pub(crate) login_hint: Option<String>,
    /// The parameters as given (to carry the request through the login and consent pages).
    pub(crate) params: Vec<(String, String)>,
}

/// Why a request was refused.
#[derive(Debug)]
pub(crate) enum Refusal {
    /// Nowhere trustworthy to send the browser: a page says why.
    Page(String),
    /// Told to the app at its redirect URI.
    ToClient {
        reply: Reply,
        error: &'static str,
        description: String,
    },
    /// The service failed.
    Service(AppError),
}

impl From<crate::store::StoreError> for Refusal {
    fn from(e: crate::store::StoreError) -> Self {
        Self::Service(e.into())
    }
}

const MAX_STATE: usize = 2048;
const MAX_NONCE: usize = 512;

/// The one value of `name`, `Ok(None)` when absent, `Err` when given more than once.
fn one<'a>(params: &'a [(String, String)], name: &str) -> Result<Option<&'a str>, String> {
    let mut found = params
        .iter()
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.as_str());
    let first = found.next();
    if found.next().is_some() {
        return Err(format!("{name} is given more than once"));
    }
    // An empty value is treated as absent (OIDC Core §3.1.2.1 / RFC 6749 §3.1).
    Ok(first.filter(|v| !v.is_empty()))
}

/// Reads an authorization request's parameters.
pub(crate) async fn read(
    oidc: &Oidc,
    params: Vec<(String, String)>,
) -> Result<AuthRequest, Refusal> {
    let page = |m: &str| Refusal::Page(m.to_owned());
    let client_id = one(&params, "client_id")
        .map_err(|e| page(&format!("The app's request is not valid: {e}.")))?
        .ok_or_else(|| page("The app's request names no client (client_id is missing)."))?;
    let Some(client) = oidc.clients.get(client_id).await? else {
        return Err(page(
            "The app that sent you here is not known to this site (unknown client_id).",
        ));
    };
    let redirect_uri = one(&params, "redirect_uri")
        .map_err(|e| page(&format!("The app's request is not valid: {e}.")))?
        .ok_or_else(|| {
            page("The app's request does not say where to return (redirect_uri is missing).")
        })?;
    let Some(redirect_uri) = client.redirect_uri(redirect_uri).map(str::to_owned) else {
        return Err(page(
            "The app asked to return to an address it has not registered (redirect_uri does not match exactly), so you were not sent there.",
        ));
    };
    // From here on, a refusal goes back to the app. `state` and the mode first, to
    // address it; a repeated one of them is refused as a query.
    let state = one(&params, "state").ok().flatten().map(str::to_owned);
    let mode = match one(&params, "response_mode") {
        Ok(None) | Ok(Some("query")) => Ok(ResponseMode::Query),
        Ok(Some("form_post")) => Ok(ResponseMode::FormPost),
        Ok(Some(other)) => Err(format!(
            "response_mode {other:?} is not supported (query or form_post)"
        )),
        Err(e) => Err(e),
    };
    let mut reply = Reply {
        redirect_uri,
        mode: ResponseMode::Query,
        state,
    };
    let to_client = |reply: &Reply, error: &'static str, description: String| Refusal::ToClient {
        reply: reply.clone(),
        error,
        description,
    };
    reply.mode = mode.map_err(|e| to_client(&reply, "invalid_request", e))?;
    if reply.state.as_ref().is_some_and(|s| s.len() > MAX_STATE) {
        reply.state = None;
        return Err(to_client(
            &reply,
            "invalid_request",
            format!("state is longer than {MAX_STATE} bytes"),
        ));
    }
    let get = |name: &str| one(&params, name).map_err(|e| to_client(&reply, "invalid_request", e));
    match get("response_type")? {
        Some("code") => {}
        None => {
            return Err(to_client(
                &reply,
                "invalid_request",
                "response_type is missing".into(),
            ));
        }
        Some(_) => {
            return Err(to_client(
                &reply,
                "unsupported_response_type",
                "only response_type=code is supported".into(),
            ));
        }
    }
    if !client.code_grant {
        return Err(to_client(
            &reply,
            "unauthorized_client",
            "this client may not use the authorization code flow".into(),
        ));
    }
    if get("request")?.is_some() {
        return Err(to_client(
            &reply,
            "request_not_supported",
            "request objects are not supported".into(),
        ));
    }
    if get("request_uri")?.is_some() {
        return Err(to_client(
            &reply,
            "request_uri_not_supported",
            "request_uri is not supported".into(),
        ));
    }
    let asked = get("scope")?.unwrap_or("");
    let mut scope = Vec::new();
    for s in asked.split(' ').filter(|s| !s.is_empty()) {
        if !SCOPES.contains(&s) || !client.scopes.iter().any(|c| c == s) {
            return Err(to_client(
                &reply,
                "invalid_scope",
                format!("the scope {s:?} is not available to this client"),
            ));
        }
    }
    // A fixed order, without repeats: consent compares sets.
    for known in SCOPES {
        if asked.split(' ').any(|s| s == known)
            && (known != "offline_access" || client.refresh_grant)
        {
            scope.push(known);
        }
    }
    if scope.is_empty() {
        return Err(to_client(
            &reply,
            "invalid_scope",
            "ask for at least one scope (openid for OpenID Connect)".into(),
        ));
    }
    let code_challenge = match (get("code_challenge")?, get("code_challenge_method")?) {
        (None, None) if client.require_pkce => {
            return Err(to_client(
                &reply,
                "invalid_request",
                "PKCE is required: send code_challenge with code_challenge_method=S256".into(),
            ));
        }
        (None, None) => None,
        (Some(challenge), Some("S256")) => {
            let ok = challenge.len() == 43
                && challenge
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !ok {
                return Err(to_client(
                    &reply,
                    "invalid_request",
                    "code_challenge is not an S256 challenge (43 base64url characters)".into(),
                ));
            }
            Some(challenge.to_owned())
        }
        (_, method) => {
            return Err(to_client(
                &reply,
                "invalid_request",
                format!(
                    "code_challenge_method must be S256 (given: {})",
                    method.unwrap_or("none, which means plain")
                ),
            ));
        }
    };
    let nonce = get("nonce")?.map(str::to_owned);
    if nonce.as_ref().is_some_and(|n| n.len() > MAX_NONCE) {
        return Err(to_client(
            &reply,
            "invalid_request",
            format!("nonce is longer than {MAX_NONCE} bytes"),
        ));
    }
    let mut prompt = Prompt::default();
    if let Some(values) = get("prompt")? {
        for value in values.split(' ').filter(|v| !v.is_empty()) {
            match value {
                "none" => prompt.none = true,
                "login" | "select_account" => prompt.login = true,
                "consent" => prompt.consent = true,
                other => {
                    return Err(to_client(
                        &reply,
                        "invalid_request",
                        format!("prompt {other:?} is not none, login, consent or select_account"),
                    ));
                }
            }
        }
        if prompt.none && (prompt.login || prompt.consent) {
            return Err(to_client(
                &reply,
                "invalid_request",
                "prompt=none cannot be combined with another prompt".into(),
            ));
        }
    }
    let max_age = match get("max_age")? {
        None => None,
        Some(text) => Some(text.parse::<u32>().map_err(|_| {
            to_client(
                &reply,
                "invalid_request",
                "max_age is not a number of seconds".into(),
            )
        })? as i64),
    };
    let login_hint = get("login_hint")?
        .filter(|h| h.len() <= 254)
        .map(str::to_owned);
    // `acr_values` is voluntary (OIDC Core §3.1.2.1): the ID token's `acr` says what was
    // done; a client needing a second factor sets `policy = "two_factor"`.
    get("acr_values")?;
    Ok(AuthRequest {
        client,
        reply,
        scope: scope.join(" "),
        nonce,
        code_challenge,
        prompt,
        max_age,
        login_hint,
        params,
    })
}

impl AuthRequest {
    /// This request as a URL of the authorization endpoint, with `prompt` and `max_age`
    /// as given by `rewrite` (to come back after a login without asking for it again).
    pub(crate) fn url(&self, oidc: &Oidc, rewrite: Option<(&str, Option<String>)>) -> String {
        let mut query = form_urlencoded::Serializer::new(String::new());
        for (name, value) in &self.params {
            if rewrite.is_some() && (name == "prompt" || name == "max_age") {
                continue;
            }
            query.append_pair(name, value);
        }
        if let Some((name, Some(value))) = rewrite.as_ref().map(|(n, v)| (n, v.clone())) {
            query.append_pair(name, &value);
        }
        format!("{}?{}", oidc.url(super::api::AUTHORIZE), query.finish())
    }

    /// Whether the user behind a session authenticated at `auth_time` must sign in again
    /// at `now`.
    pub(crate) fn needs_fresh_login(&self, auth_time: i64, now: i64) -> bool {
        self.prompt.login || self.max_age.is_some_and(|max| now - auth_time > max)
    }
}
