//! Named API tokens, for scripts and CI jobs that cannot log in through a page: 256 random
//! bits behind a `palisade_at_` prefix (so secret scanners and people can tell them
//! apart), shown once, stored only as SHA-256, optionally expiring, listed with their last
//! use, revocable. They are accepted by `/api/v1/me` and the forward-auth endpoints only:
//! a script holding one cannot change a password, read the vault or manage sessions.
//! A token made with the `admin` scope also reaches the admin API, while its owner
//! administers (read at every request), for changes that do not concern who administers.

pub(crate) mod api;
pub(crate) mod pages;

use std::sync::Arc;

use palisade::http::ClientInfo;
use palisade::secret::SecretString;

use crate::accounts::Accounts;
use crate::clock::Clock;
use crate::error::AppError;
use crate::sessions::{Authenticated, IssuedToken, PresentedToken, hex, random_bytes, token_hash};
use crate::store::{ApiTokenRow, Store, StoreError, TokenInsert, UserRow};

/// What every API token starts with.
pub(crate) const PREFIX: &str = "palisade_at_";

/// Tokens one user may hold at once.
pub(crate) const LIMIT: i64 = 50;

/// Longest lifetime that may be asked for, days.
const MAX_DAYS: u32 = 366;

/// A token's last use is recorded at most this often (seconds), so that a busy script
/// does not turn every request into a write.
const TOUCH_EVERY: i64 = 60;

pub(crate) struct ApiTokens {
    store: Store,
    clock: Clock,
}

/// What a token reaches besides forward-auth and `/api/v1/me`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    /// Nothing more (every token made before scopes).
    Basic,
    /// The admin API, while the owner administers.
    Admin,
}

impl Scope {
    /// The scope a request names: absent or empty is [`Scope::Basic`].
    pub(crate) fn parse(text: Option<&str>) -> Result<Self, AppError> {
        match text.map(str::trim).unwrap_or_default() {
            "" => Ok(Self::Basic),
            "admin" => Ok(Self::Admin),
            _ => Err(palisade::validate::ValidationError::new(
                "scope",
                palisade::validate::Rule::Format("must be empty or \"admin\""),
            )
            .into()),
        }
    }

    fn stored(self) -> &'static str {
        match self {
            Self::Basic => "",
            Self::Admin => "admin",
        }
    }
}

/// What a new token is to be.
pub(crate) struct Wanted<'a> {
    /// What its owner calls it.
    pub(crate) name: &'a str,
    /// Days it lasts; `None`: until revoked.
    pub(crate) days: Option<u32>,
    pub(crate) scope: Scope,
}

/// How the session proved itself for a new token.
pub(crate) enum Proved {
    /// The password, when its last entry is stale (checked by [`ApiTokens::create`]).
    Password(Option<SecretString>),
    /// Already checked by the caller (an admin-scoped token: a fresh second factor), with
    /// the session's new token if it was renewed.
    Checked(Option<IssuedToken>),
}

/// A token's owner, as an API token presents them.
#[derive(Debug, Clone)]
pub(crate) struct TokenCaller {
    pub(crate) user: Arc<UserRow>,
    pub(crate) scope: Scope,
}

/// A new token and how it is listed.
#[derive(Debug)]
pub(crate) struct Created {
    pub(crate) token: IssuedToken,
    pub(crate) row: ApiTokenRow,
    /// Set when the session had to be re-authenticated for this (its new token).
    pub(crate) reissued: Option<IssuedToken>,
}

fn checked_name(name: &str) -> Result<&str, AppError> {
    let ok = (1..=64).contains(&name.chars().count())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || " ._-".contains(c))
        && !name.starts_with(' ')
        && !name.ends_with(' ');
    if ok {
        Ok(name)
    } else {
        Err(palisade::validate::ValidationError::new(
            "name",
            palisade::validate::Rule::Format(
                "must be 1 to 64 letters, digits, spaces, '.', '_' or '-', with no space at either end",
            ),
        )
        .into())
    }
}

impl ApiTokens {
    pub(crate) fn new(store: Store, clock: Clock) -> Self {
        Self { store, clock }
    }

    /// Creates the token `wanted` for the signed-in user. Asks for the password when its
    /// last entry is older than the re-authentication window (unless `proved` says the
    /// caller checked more).
    pub(crate) async fn create(
        &self,
        accounts: &Accounts,
        auth: &Authenticated,
        wanted: Wanted<'_>,
        proved: Proved,
        client: &ClientInfo,
    ) -> Result<Created, AppError> {
        let Wanted { name, days, scope } = wanted;
        let name = checked_name(name.trim())?;
        if days.is_some_and(|d| d == 0 || d > MAX_DAYS) {
            return Err(palisade::validate::ValidationError::new(
                "expires_in_days",
                palisade::validate::Rule::Format(
                    "must be between 1 and 366, or absent for no expiry",
                ),
            )
            .into());
        }
        // A token outlives the session that made it and skips the second step: only a
        // session that passed a second factor may make one, when the user has one or the
        // site requires one.
        if auth.session.second_factor == 0
            && (accounts.sessions.policy().require_second_factor
                || self.store.has_second_factor(auth.user.id).await?)
        {
            return Err(AppError::SecondFactorRequired);
        }
        let reissued = match proved {
            Proved::Password(password) => accounts.require_recent_password(auth, password).await?,
            Proved::Checked(reissued) => reissued,
        };
        let now = self.clock.now();
        let token = IssuedToken::generate_with_prefix(PREFIX)?;
        let row = ApiTokenRow {
            id: hex(&random_bytes::<16>()?),
            name: name.to_owned(),
            created_at: now,
            expires_at: days.map(|d| now + i64::from(d) * 86_400),
            last_used_at: None,
            scope: scope.stored().to_owned(),
        };
        let hash = token.expose(token_hash);
        match self
            .store
            .insert_api_token(auth.user.id, &auth.session.id, &row, &hash, LIMIT)
            .await
        {
            Ok(TokenInsert::Inserted) => {}
            Ok(TokenInsert::AtLimit) => {
                return Err(AppError::Limit {
                    field: "name",
                    limit: LIMIT as u64,
                });
            }
            Ok(TokenInsert::SessionEnded) => return Err(AppError::Unauthenticated),
            Err(StoreError::Conflict(_)) => return Err(AppError::Taken("name")),
            Err(e) => return Err(e.into()),
        }
        accounts
            .audit_user(
                "api_token_created",
                auth,
                client,
                Some(&format!("{} (scope {:?})", row.name, row.scope)),
            )
            .await;
        Ok(Created {
            token,
            row,
            reissued,
        })
    }

    pub(crate) async fn list(&self, auth: &Authenticated) -> Result<Vec<ApiTokenRow>, AppError> {
        Ok(self.store.api_tokens_of(auth.user.id).await?)
    }

    pub(crate) async fn revoke(
        &self,
        accounts: &Accounts,
        auth: &Authenticated,
        id: &str,
        client: &ClientInfo,
    ) -> Result<(), AppError> {
        if !self.store.revoke_api_token(auth.user.id, id).await? {
            return Err(AppError::NotFound);
        }
        accounts
            .audit_user("api_token_revoked", auth, client, Some(id))
            .await;
        Ok(())
    }

    /// The user behind a presented API token, if it is one of ours and current. Under
    /// `require_second_factor`, a token of a user without a second factor (made before the
    /// setting, or before support reset their factors) reaches nothing.
    pub(crate) async fn authenticate(
        &self,
        token: &PresentedToken,
        require_second_factor: bool,
    ) -> Result<Option<TokenCaller>, AppError> {
        let Some(hash) = token.hash_with_prefix(PREFIX) else {
            return Ok(None);
        };
        let now = self.clock.now();
        let Some(owner) = self.store.api_token_user(&hash, now).await? else {
            return Ok(None);
        };
        if require_second_factor && !owner.has_factor {
            return Err(AppError::SecondFactorEnrolment);
        }
        if owner.last_used_at.is_none_or(|t| now - t >= TOUCH_EVERY) {
            self.store.touch_api_token(&owner.token_id, now).await?;
        }
        Ok(Some(TokenCaller {
            user: Arc::new(owner.user),
            scope: if owner.scope == "admin" {
                Scope::Admin
            } else {
                Scope::Basic
            },
        }))
    }
}
