//! The vault: each user's named secrets, sealed before they reach the database, bound to
//! their owner and name; revealing asks for a recent password and is audited.

pub(crate) mod api;
pub(crate) mod pages;

use http::StatusCode;
use palisade::http::ClientInfo;
use palisade::secret::{FernetError, SecretString, sealed_key_id};

use crate::error::AppError;
use crate::sessions::{Authenticated, IssuedToken};
use crate::state::AppState;

/// Largest secret value, in bytes.
const MAX_VALUE_BYTES: usize = 16 * 1024;

/// A secret's name: 1 to 64 of `A-Z a-z 0-9 . _ -`.
fn check_name(name: &str) -> Result<(), AppError> {
    let ok = (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(AppError::Body {
            field: Some("name".into()),
            status: StatusCode::UNPROCESSABLE_ENTITY,
        })
    }
}

/// A name that is not among the user's secrets: a refused authorisation (it may be
/// someone else's), audited, answered 404.
async fn refused(
    state: &AppState,
    auth: &Authenticated,
    client: &ClientInfo,
    name: &str,
) -> AppError {
    state
        .accounts
        .audit_user("secret_access_refused", auth, client, Some(name))
        .await;
    AppError::NotFound
}

/// The associated data binding a sealed value to its owner and name.
pub(crate) fn aad(owner: i64, name: &str) -> Vec<u8> {
    format!("palisade-vault\0{owner}\0{name}").into_bytes()
}

/// Seals and stores a value (created or replaced).
pub(crate) async fn store_value(
    state: &AppState,
    auth: &Authenticated,
    client: &ClientInfo,
    name: &str,
    value: SecretString,
) -> Result<(), AppError> {
    check_name(name)?;
    if value.is_empty() || value.len() > MAX_VALUE_BYTES {
        return Err(AppError::Body {
            field: Some("value".into()),
            status: StatusCode::UNPROCESSABLE_ENTITY,
        });
    }
    let sealed = value
        .expose(|v| state.keyring.seal(v.as_bytes(), &aad(auth.user.id, name)))
        .map_err(|e| AppError::internal(format_args!("sealing: {e}")))?;
    let key_id = sealed_key_id(&sealed).unwrap_or_default().to_owned();
    state
        .accounts
        .store
        .put_secret(
            auth.user.id,
            name,
            &sealed,
            &key_id,
            state.accounts.clock.now(),
        )
        .await?;
    state
        .accounts
        .audit_user("secret_stored", auth, client, Some(name))
        .await;
    Ok(())
}

/// The user's secrets: name and last change, by name.
pub(crate) async fn names(
    state: &AppState,
    auth: &Authenticated,
) -> Result<Vec<(String, i64)>, AppError> {
    Ok(state.accounts.store.secret_names(auth.user.id).await?)
}

/// Opens a value after checking the password entry is recent (or the password given).
/// A value that does not open is reported (audit event) and refused, never returned
/// garbled.
pub(crate) async fn reveal_value(
    state: &AppState,
    auth: &Authenticated,
    client: &ClientInfo,
    name: &str,
    password: Option<SecretString>,
) -> Result<(SecretString, Option<IssuedToken>), AppError> {
    check_name(name)?;
    let reissued = state
        .accounts
        .require_recent_password(auth, password)
        .await?;
    let Some(sealed) = state.accounts.store.secret(auth.user.id, name).await? else {
        return Err(refused(state, auth, client, name).await);
    };
    let value = match state.keyring.open(&sealed, &aad(auth.user.id, name)) {
        Ok(v) => v,
        Err(e) => {
            let detail = match &e {
                FernetError::UnknownKey(id) => {
                    format!("{name}: sealed with key {id}, which is not loaded")
                }
                _ => format!("{name}: does not open (tampered with or moved)"),
            };
            state
                .accounts
                .audit_user("secret_unreadable", auth, client, Some(&detail))
                .await;
            return Err(AppError::internal(format_args!("vault: {detail}")));
        }
    };
    let value = SecretString::from_utf8(value)
        .ok_or_else(|| AppError::internal("vault: value is not UTF-8"))?;
    state
        .accounts
        .audit_user("secret_revealed", auth, client, Some(name))
        .await;
    Ok((value, reissued))
}

pub(crate) async fn remove(
    state: &AppState,
    auth: &Authenticated,
    client: &ClientInfo,
    name: &str,
) -> Result<(), AppError> {
    check_name(name)?;
    if !state
        .accounts
        .store
        .delete_secret(auth.user.id, name)
        .await?
    {
        return Err(refused(state, auth, client, name).await);
    }
    state
        .accounts
        .audit_user("secret_deleted", auth, client, Some(name))
        .await;
    Ok(())
}
