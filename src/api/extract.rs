//! Extractors whose rejections speak the API's error format.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::error::{ApiError, Op};
use crate::service::{Caller, Services};

pub type AppState = Arc<Services>;

/// The authenticated caller. Runs first in every handler, so an unauthenticated request learns nothing else.
pub struct Auth(pub Caller);

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    #[tracing::instrument(name = "authenticate", skip_all)]
    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let header = match parts.headers.get(axum::http::header::AUTHORIZATION) {
            Some(v) => Some(v.to_str().map_err(|_| {
                ApiError::from_service(
                    crate::service::ServiceError::Unauthenticated(
                        crate::service::AuthFailure::InvalidHeader,
                    ),
                    Op::Other,
                )
            })?),
            None => None,
        };
        state
            .authenticate(header)
            .await
            .map(Auth)
            .map_err(|e| ApiError::from_service(e, Op::Other))
    }
}

/// `x-zitadel-orgid`, if sent. Whether the org exists is the service's question.
pub struct OrgHeader(pub Option<String>);

impl OrgHeader {
    pub fn as_deref(&self) -> Option<&str> {
        self.0.as_deref()
    }
}

pub const ORG_HEADER: &str = "x-zitadel-orgid";

impl<S: Send + Sync> FromRequestParts<S> for OrgHeader {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        match parts.headers.get(ORG_HEADER) {
            None => Ok(OrgHeader(None)),
            Some(v) => match v.to_str() {
                Ok(s) if !s.trim().is_empty() => Ok(OrgHeader(Some(s.trim().to_owned()))),
                Ok(_) => Ok(OrgHeader(None)),
                Err(_) => Err(ApiError::invalid(format!("invalid header {ORG_HEADER}"))),
            },
        }
    }
}

/// Longest accepted user id in a path, as ZITADEL's request validation.
const MAX_USER_ID_LEN: usize = 200;

/// The `{userId}` path segment.
pub struct UserIdPath(pub String);

impl<S: Send + Sync> FromRequestParts<S> for UserIdPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path(id) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::invalid(format!("invalid path: {}", e.body_text())))?;
        if id.is_empty() || id.chars().count() > MAX_USER_ID_LEN {
            return Err(ApiError::invalid(format!(
                "invalid userId: value length must be between 1 and {MAX_USER_ID_LEN} runes, inclusive"
            )));
        }
        Ok(UserIdPath(id))
    }
}

/// The `{userId}/pats/{tokenId}` path segments.
pub struct PatPath {
    pub user_id: String,
    pub token_id: String,
}

impl<S: Send + Sync> FromRequestParts<S> for PatPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let Path((user_id, token_id)) = Path::<(String, String)>::from_request_parts(parts, state)
            .await
            .map_err(|e| ApiError::invalid(format!("invalid path: {}", e.body_text())))?;
        for (name, value) in [("userId", &user_id), ("tokenId", &token_id)] {
            if value.is_empty() || value.chars().count() > MAX_USER_ID_LEN {
                return Err(ApiError::invalid(format!(
                    "invalid {name}: value length must be between 1 and {MAX_USER_ID_LEN} runes, inclusive"
                )));
            }
        }
        Ok(PatPath { user_id, token_id })
    }
}

/// A JSON body. An empty body reads as `{}` (so requests without required fields need none); unknown fields
/// are ignored; a malformed body or a wrong type is code 3 with a message naming the field.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state).await.map_err(|e| match e {
            BytesRejection::FailedToBufferBody(_) => {
                ApiError::invalid("request body too large or unreadable")
            }
            other => ApiError::invalid(format!("invalid request body: {}", other.body_text())),
        })?;
        let text: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else {
            &bytes
        };
        let mut de = serde_json::Deserializer::from_slice(text);
        let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            if inner.is_syntax() || inner.is_eof() {
                ApiError::invalid(format!("invalid request body: malformed JSON: {inner}"))
            } else if path == "." || path.is_empty() {
                ApiError::invalid(format!("invalid request body: {inner}"))
            } else {
                ApiError::invalid(format!("invalid request body: field {path}: {inner}"))
            }
        })?;
        Ok(ApiJson(value))
    }
}

/// Rejects a string field longer than `max` characters, naming it as protobuf validation does.
pub fn check_len(message: &str, field: &str, value: &str, max: usize) -> Result<(), ApiError> {
    if value.chars().count() > max {
        return Err(ApiError::invalid(format!(
            "invalid {message}.{field}: value length must be at most {max} runes"
        )));
    }
    Ok(())
}
