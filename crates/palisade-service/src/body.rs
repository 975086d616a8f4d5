//! Body extractors whose rejections are problem+json naming the field, never echoing input.

use axum::body::to_bytes;
use axum::extract::{FromRequest, Request};
use http::{StatusCode, header};
use serde::de::DeserializeOwned;

use crate::error::AppError;

/// Largest request body accepted by the API and the forms.
pub(crate) const MAX_BODY: usize = 64 * 1024;

/// JSON body: `application/json`, at most 64 KiB, unknown fields refused.
pub(crate) struct ApiJson<T>(pub(crate) T);

/// Form body: `application/x-www-form-urlencoded`, at most 64 KiB, unknown fields refused.
pub(crate) struct Form<T>(pub(crate) T);

async fn read(req: Request, expected: &str) -> Result<axum::body::Bytes, AppError> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .eq_ignore_ascii_case(expected)
    {
        return Err(AppError::Body {
            field: Some("content-type".into()),
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
        });
    }
    to_bytes(req.into_body(), MAX_BODY)
        .await
        .map_err(|_| AppError::Body {
            field: None,
            status: StatusCode::PAYLOAD_TOO_LARGE,
        })
}

fn field_of<E>(e: &serde_path_to_error::Error<E>) -> Option<String> {
    let path = e.path().to_string();
    (path != "." && !path.is_empty()).then_some(path)
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, AppError> {
        let bytes = read(req, "application/json").await?;
        let de = &mut serde_json::Deserializer::from_slice(&bytes);
        serde_path_to_error::deserialize(de)
            .map(ApiJson)
            .map_err(|e| AppError::Body {
                field: field_of(&e),
                status: StatusCode::BAD_REQUEST,
            })
    }
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Form<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, _state: &S) -> Result<Self, AppError> {
        let bytes = read(req, "application/x-www-form-urlencoded").await?;
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(&bytes));
        serde_path_to_error::deserialize(de)
            .map(Form)
            .map_err(|e| AppError::Body {
                field: field_of(&e),
                status: StatusCode::BAD_REQUEST,
            })
    }
}

/// Query string: unknown and repeated parameters refused, problems naming the parameter.
pub(crate) struct ApiQuery<T>(pub(crate) T);

impl<S: Send + Sync, T: DeserializeOwned> axum::extract::FromRequestParts<S> for ApiQuery<T> {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut http::request::Parts,
        _state: &S,
    ) -> Result<Self, AppError> {
        let query = parts.uri.query().unwrap_or("");
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(de)
            .map(ApiQuery)
            .map_err(|e| AppError::Body {
                field: field_of(&e),
                status: StatusCode::BAD_REQUEST,
            })
    }
}

impl<S: Send + Sync, T: DeserializeOwned> axum::extract::OptionalFromRequest<S> for ApiJson<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Option<Self>, AppError> {
        let empty = req.headers().get(header::CONTENT_TYPE).is_none()
            && req
                .headers()
                .get(header::CONTENT_LENGTH)
                .is_none_or(|v| v.as_bytes() == b"0");
        if empty {
            return Ok(None);
        }
        <Self as FromRequest<S>>::from_request(req, state)
            .await
            .map(Some)
    }
}
