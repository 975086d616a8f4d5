//! The tokens the provider issues: ID tokens (OIDC Core §2), access tokens as JWTs in the
//! RFC 9068 profile (`typ: at+jwt`, so resource servers check them alone), opaque refresh
//! tokens (only their SHA-256 stored), and the claims each scope releases.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Serialize;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256, Sha512};

use super::jwt::Alg;
use super::{Client, Oidc, random_id};
use crate::error::AppError;
use crate::store::{GrantRow, UserRow};

/// The token endpoint's answer.
#[derive(Serialize)]
pub(crate) struct TokenResponse {
    pub(crate) access_token: String,
    pub(crate) token_type: &'static str,
    pub(crate) expires_in: i64,
    pub(crate) scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) id_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) refresh_token: Option<String>,
}

impl std::fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenResponse")
            .field("scope", &self.scope)
            .field("expires_in", &self.expires_in)
            .finish_non_exhaustive()
    }
}

/// `acr` of a session begun with (or since given) a second factor, and of one without.
pub(crate) const ACR_MFA: &str = "urn:palisade:mfa";
pub(crate) const ACR_PASSWORD: &str = "urn:palisade:pwd";

/// The scopes of a space-separated list.
pub(crate) fn scopes(scope: &str) -> impl Iterator<Item = &str> {
    scope.split(' ').filter(|s| !s.is_empty())
}

pub(crate) fn has_scope(scope: &str, wanted: &str) -> bool {
    scopes(scope).any(|s| s == wanted)
}

fn acr_amr(second_factor: bool) -> (&'static str, Value) {
    if second_factor {
        (ACR_MFA, json!(["pwd", "mfa"]))
    } else {
        (ACR_PASSWORD, json!(["pwd"]))
    }
}

/// `at_hash`: the left half of the hash of the access token, with the ID token's
/// algorithm's hash (SHA-512 for Ed25519).
fn at_hash(alg: Alg, access_token: &str) -> String {
    match alg {
        Alg::EdDsa => URL_SAFE_NO_PAD.encode(&Sha512::digest(access_token.as_bytes())[..32]),
        _ => URL_SAFE_NO_PAD.encode(&Sha256::digest(access_token.as_bytes())[..16]),
    }
}

/// The `jti` of an access token names the grant it came from (so introspection and
/// UserInfo can tell when the grant has ended), then a random part.
pub(crate) fn access_jti(grant_id: &str) -> Result<String, AppError> {
    Ok(format!("{grant_id}.{}", random_id()?))
}

/// The grant an access token's `jti` names (`None` for a client's own token).
pub(crate) fn grant_of_jti(jti: &str) -> Option<&str> {
    jti.split_once('.')
        .map(|(grant, _)| grant)
        .filter(|g| !g.is_empty() && *g != "client")
}

impl Oidc {
    /// The claims `scope` releases about `user` (`groups` read only when asked for).
    pub(crate) async fn user_claims(
        &self,
        user: &UserRow,
        scope: &str,
    ) -> Result<Map<String, Value>, AppError> {
        let mut claims = Map::new();
        if has_scope(scope, "profile") {
            let name = user.display_name.as_deref().unwrap_or(&user.username);
            claims.insert("name".into(), json!(name));
            claims.insert("preferred_username".into(), json!(user.username));
            // palisade does not track profile edits yet: the account's creation bounds it.
            claims.insert("updated_at".into(), json!(user.created_at));
        }
        if has_scope(scope, "email") {
            claims.insert("email".into(), json!(user.email));
            claims.insert(
                "email_verified".into(),
                json!(user.email_verified_at.is_some()),
            );
        }
        if has_scope(scope, "groups") {
            let groups = self.store.remembered_groups_of(user.id).await?;
            claims.insert("groups".into(), json!(&*groups));
        }
        Ok(claims)
    }

    /// Signs an access token for `sub` (`grant`: the user's sign-in it comes from).
    async fn access_token(
        &self,
        client: &Client,
        sub: &str,
        scope: &str,
        grant: Option<&GrantRow>,
        now: i64,
    ) -> Result<String, AppError> {
        let mut claims = json!({
            "iss": self.issuer,
            "sub": sub,
            "aud": client.id,
            "client_id": client.id,
            "iat": now,
            "exp": now + client.access_token_secs,
            "scope": scope,
        });
        match grant {
            Some(grant) => {
                let (acr, amr) = acr_amr(grant.second_factor != 0);
                claims["jti"] = json!(access_jti(&grant.id)?);
                claims["auth_time"] = json!(grant.auth_time);
                claims["acr"] = json!(acr);
                claims["amr"] = amr;
                claims["sid"] = json!(grant.sid);
            }
            None => claims["jti"] = json!(format!("client.{}", random_id()?)),
        }
        let key = self.keys.signer(client.signing_alg).await?;
        key.key
            .sign("at+jwt", &claims)
            .map_err(|e| AppError::internal(format_args!("{e}")))
    }

    /// Tokens for a user's grant: an access token, an ID token when `openid` was asked
    /// for, and `refresh_token` (stored by the caller with the spending it follows).
    pub(crate) async fn issue_for_grant(
        &self,
        client: &Client,
        grant: &GrantRow,
        user: &UserRow,
        nonce: Option<&str>,
        refresh_token: Option<String>,
    ) -> Result<TokenResponse, AppError> {
        let now = self.clock.now();
        let sub = self.subject(client, user.id).await?;
        let access_token = self
            .access_token(client, &sub, &grant.scope, Some(grant), now)
            .await?;
        let id_token = if has_scope(&grant.scope, "openid") {
            let (acr, amr) = acr_amr(grant.second_factor != 0);
            let mut claims = json!({
                "iss": self.issuer,
                "sub": sub,
                "aud": client.id,
                "azp": client.id,
                "iat": now,
                "exp": now + self.id_token_secs,
                "auth_time": grant.auth_time,
                "acr": acr,
                "amr": amr,
                "sid": grant.sid,
                "at_hash": at_hash(client.signing_alg, &access_token),
            });
            if let Some(nonce) = nonce {
                claims["nonce"] = json!(nonce);
            }
            if let Value::Object(map) = &mut claims {
                map.extend(self.user_claims(user, &grant.scope).await?);
            }
            let key = self.keys.signer(client.signing_alg).await?;
            Some(
                key.key
                    .sign("JWT", &claims)
                    .map_err(|e| AppError::internal(format_args!("{e}")))?,
            )
        } else {
            None
        };
        Ok(TokenResponse {
            access_token,
            token_type: "Bearer",
            expires_in: client.access_token_secs,
            scope: grant.scope.clone(),
            id_token,
            refresh_token,
        })
    }

    /// A client's own access token (`client_credentials`): its `sub` is its id.
    pub(crate) async fn issue_for_client(
        &self,
        client: &Client,
        scope: &str,
    ) -> Result<TokenResponse, AppError> {
        let now = self.clock.now();
        let access_token = self
            .access_token(client, &client.id, scope, None, now)
            .await?;
        Ok(TokenResponse {
            access_token,
            token_type: "Bearer",
            expires_in: client.access_token_secs,
            scope: scope.to_owned(),
            id_token: None,
            refresh_token: None,
        })
    }

    /// The claims of one of our access tokens, if it verifies, is current and is an
    /// access token (`typ: at+jwt`, so an ID token is not taken for one).
    pub(crate) async fn read_access_token(
        &self,
        token: &str,
    ) -> Result<Option<std::sync::Arc<Value>>, AppError> {
        let now = self.clock.now();
        let key = super::verified::key(token);
        if let Some(claims) = self.verified.get(&key, now) {
            return Ok(Some(claims));
        }
        let keys = self.keys.public_keys().await?;
        let Some(alg) = super::jwt::header_alg(token) else {
            return Ok(None);
        };
        let Ok((header, claims)) = super::jwt::verify_with_header(token, &keys, alg) else {
            return Ok(None);
        };
        let expires_at = claims["exp"].as_i64().unwrap_or(0);
        let current = header["typ"].as_str() == Some("at+jwt")
            && claims["iss"].as_str() == Some(self.issuer.as_str())
            && expires_at > now;
        if !current {
            return Ok(None);
        }
        let claims = std::sync::Arc::new(claims);
        self.verified.put(key, claims.clone(), expires_at, now);
        Ok(Some(claims))
    }
}
