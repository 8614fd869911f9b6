//! Extractors whose rejections speak the API's error format.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{FromRequest, FromRequestParts, Path, RawPathParams, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::error::{ApiError, Op};
use super::input::{check_body, check_named};
use crate::service::{Caller, Services};

pub type AppState = Arc<Services>;

/// The authenticated caller. Runs first in every handler, so an unauthenticated request learns nothing else.
pub struct Auth(pub Caller);

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let auth = authenticate(parts, state).await?;
        // Into the request's span, so the request's log line names who made it.
        super::request_log::record_caller(auth.0.user_id.as_str());
        Ok(auth)
    }
}

/// The path parameter that names the user a route acts on.
const USER_ID_PARAM: &str = "userId";

/// The caller named by the `Authorization` header.
async fn authenticate(parts: &mut Parts, state: &AppState) -> Result<Auth, ApiError> {
    // The user the path names is read with the caller; a path that cannot be decoded names nobody here, and
    // its handler refuses it.
    let params = RawPathParams::from_request_parts(parts, state).await.ok();
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
    let named = params
        .as_ref()
        .and_then(|p| p.iter().find(|(name, _)| *name == USER_ID_PARAM))
        .map(|(_, value)| value);
    state
        .authenticate(header, named)
        .await
        .map(Auth)
        .map_err(|e| ApiError::from_service(e, Op::Other))
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
            // `to_str` already refuses bytes outside visible ASCII, except the tab, which the policy refuses.
            Some(v) => match v.to_str() {
                Ok(s) if !s.trim().is_empty() => {
                    check_named(&format!("header {ORG_HEADER}"), s.trim())?;
                    Ok(OrgHeader(Some(s.trim().to_owned())))
                }
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
        check_named("userId", &id)?;
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
            check_named(name, value)?;
        }
        Ok(PatPath { user_id, token_id })
    }
}

/// A JSON body. An empty body reads as `{}` (so requests without required fields need none); unknown fields
/// are ignored; a malformed body or a wrong type is code 3 with a message naming the field, and so is a
/// string anywhere in it that the input policy refuses (`input::check_body`).
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        // A body trickling in (a byte a second, say) must not hold the request until its overall deadline.
        let read = Bytes::from_request(req, state);
        let Ok(read) = tokio::time::timeout(state.config.http.body_read_timeout, read).await else {
            return Err(ApiError::body_timeout());
        };
        let bytes = read.map_err(|e| match e {
            BytesRejection::FailedToBufferBody(_) => {
                ApiError::invalid("request body too large or unreadable")
            }
            other => ApiError::invalid(format!("invalid request body: {}", other.body_text())),
        })?;
        parse_body(&bytes).map(ApiJson)
    }
}

/// The body rules of [`ApiJson`] on bytes already read: what the handlers see, and what `fuzz/` drives with
/// arbitrary input.
pub fn parse_body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let text: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        bytes
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
    // Trailing data after the JSON value is refused, as protojson does.
    de.end()
        .map_err(|e| ApiError::invalid(format!("invalid request body: malformed JSON: {e}")))?;
    // Parsed a second time as a tree for the policy walk: bodies are small (`http.max_body_bytes`), and the
    // typed parse above keeps its line-and-column error messages.
    let tree: serde_json::Value = serde_json::from_slice(text)
        .map_err(|e| ApiError::invalid(format!("invalid request body: malformed JSON: {e}")))?;
    check_body(message_name::<T>(), &tree)?;
    Ok(value)
}

/// The request message's name for error texts (`AddHumanUserRequest`): the type's name without its path.
fn message_name<T>() -> &'static str {
    let full = std::any::type_name::<T>();
    full.rsplit("::").next().unwrap_or(full)
}

/// A field whose length the proto's validation rules bound on both sides (a required text): refused with
/// the rule's own wording, without an error ID, as ZITADEL's request validation answers.
pub fn check_len_between(
    message: &str,
    field: &str,
    value: &str,
    min: usize,
    max: usize,
) -> Result<(), ApiError> {
    let len = value.chars().count();
    if len < min || len > max {
        return Err(ApiError::invalid(format!(
            "invalid {message}.{field}: value length must be between {min} and {max} runes, inclusive"
        )));
    }
    Ok(())
}

/// A field the proto's validation rules make start with `prefix` (the v1 phone's `+`).
pub fn check_prefix(message: &str, field: &str, value: &str, prefix: &str) -> Result<(), ApiError> {
    if !value.starts_with(prefix) {
        return Err(ApiError::invalid(format!(
            "invalid {message}.{field}: value does not have prefix \"{prefix}\""
        )));
    }
    Ok(())
}

/// A message field the proto's validation rules require.
pub fn required<'a, T>(
    message: &str,
    field: &str,
    value: Option<&'a T>,
) -> Result<&'a T, ApiError> {
    value.ok_or_else(|| ApiError::invalid(format!("invalid {message}.{field}: value is required")))
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
