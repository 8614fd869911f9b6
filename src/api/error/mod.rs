//! The only place where outcomes become gRPC codes, error IDs and HTTP statuses: the error format here,
//! the codes in `code`, which outcome gets which code and ID in `zitadel_ids`, and in `cause` how the
//! cause of a 5xx answer reaches the log without reaching the client.

mod cause;
mod code;
mod zitadel_ids;

use std::error::Error;
use std::sync::Arc;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use self::cause::ErrorCause;

#[cfg(test)]
pub(crate) use cause::CapturedLog;
pub(crate) use cause::log_server_errors;
pub use code::Code;
pub use zitadel_ids::Op;

#[derive(Debug, Clone)]
pub struct ApiError {
    pub code: Code,
    pub id: Option<&'static str>,
    pub message: String,
    /// For 405, which keeps its HTTP status although its code is 12.
    pub status_override: Option<StatusCode>,
    /// Seconds to send as `Retry-After` (with code 8).
    pub retry_after: Option<u64>,
    /// Why it failed on our side, for the log only: it goes with the response to `log_server_errors`
    /// and never into the body.
    pub source: Option<Arc<dyn Error + Send + Sync>>,
}

/// `{code, message, details}` as grpc-gateway writes a `google.rpc.Status`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// gRPC status code.
    pub code: i32,
    /// Human text followed by the error ID in parentheses.
    pub message: String,
    /// Always present, possibly empty, as grpc-gateway writes it.
    pub details: Vec<ErrorDetail>,
}

/// One entry of `details`: ZITADEL's error ID (`zitadel.v1.ErrorDetail`), or with code 8 how long to wait
/// (`google.rpc.RetryInfo`, as gRPC's rich error model puts it).
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// `type.googleapis.com/zitadel.v1.ErrorDetail` or `type.googleapis.com/google.rpc.RetryInfo`.
    #[serde(rename = "@type")]
    pub type_url: &'static str,
    /// The error ID (ErrorDetail).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<&'static str>,
    /// The error text without the ID (ErrorDetail).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Seconds to wait before retrying, as a protobuf Duration in JSON, e.g. `"23s"` (RetryInfo).
    #[serde(rename = "retryDelay", skip_serializing_if = "Option::is_none")]
    pub retry_delay: Option<String>,
}

const ERROR_DETAIL_TYPE: &str = "type.googleapis.com/zitadel.v1.ErrorDetail";
pub const RETRY_INFO_TYPE: &str = "type.googleapis.com/google.rpc.RetryInfo";

impl ApiError {
    pub fn new(code: Code, id: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            id: Some(id),
            message: message.into(),
            status_override: None,
            retry_after: None,
            source: None,
        }
    }

    /// A request-shape error (as protobuf validation): code 3, a message naming the field, no ID.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self {
            code: Code::InvalidArgument,
            id: None,
            message: message.into(),
            status_override: None,
            retry_after: None,
            source: None,
        }
    }

    /// A request field ZITADEL defines that this service does not implement: refused by name (code 12,
    /// HTTP 501) rather than dropped, so a request never succeeds having done less than it asked.
    pub fn unsupported_field(path: &str) -> Self {
        Self::new(
            Code::Unimplemented,
            "API-N0tIm",
            format!("{path} is not supported by this service"),
        )
    }

    pub fn not_found_route() -> Self {
        Self {
            code: Code::NotFound,
            id: None,
            message: "Not Found".into(),
            status_override: None,
            retry_after: None,
            source: None,
        }
    }

    pub fn method_not_allowed() -> Self {
        Self {
            code: Code::Unimplemented,
            id: None,
            message: "Method Not Allowed".into(),
            status_override: Some(StatusCode::METHOD_NOT_ALLOWED),
            retry_after: None,
            source: None,
        }
    }

    /// Records why the request failed, for the log.
    pub fn caused_by(self, cause: impl Into<Box<dyn Error + Send + Sync>>) -> Self {
        Self {
            source: Some(Arc::from(cause.into())),
            ..self
        }
    }

    pub fn timeout() -> Self {
        Self::new(Code::DeadlineExceeded, "API-Tm0ut", "Request took too long")
    }

    /// The request body did not arrive in time: 408, code 4.
    pub fn body_timeout() -> Self {
        Self {
            status_override: Some(StatusCode::REQUEST_TIMEOUT),
            ..Self::new(
                Code::DeadlineExceeded,
                "API-B0dyT",
                "Request body took too long to arrive",
            )
        }
    }

    pub fn internal() -> Self {
        Self::new(Code::Internal, "API-Int3r", "Internal error")
    }

    pub fn unavailable() -> Self {
        Self::new(
            Code::Unavailable,
            "STORE-Unav1",
            "Service is unavailable, try again later",
        )
    }

    pub fn body(&self) -> ErrorBody {
        let (message, mut details) = match self.id {
            Some(id) => (
                format!("{} ({id})", self.message),
                vec![ErrorDetail {
                    type_url: ERROR_DETAIL_TYPE,
                    id: Some(id),
                    message: Some(self.message.clone()),
                    retry_delay: None,
                }],
            ),
            None => (self.message.clone(), vec![]),
        };
        if let Some(secs) = self.retry_after {
            details.push(ErrorDetail {
                type_url: RETRY_INFO_TYPE,
                id: None,
                message: None,
                retry_delay: Some(format!("{secs}s")),
            });
        }
        ErrorBody {
            code: self.code as i32,
            message,
            details,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self
            .status_override
            .unwrap_or_else(|| self.code.http_status());
        let mut response = (status, Json(self.body())).into_response();
        if let Some(secs) = self.retry_after
            && let Ok(value) = HeaderValue::from_str(&secs.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        if self.code == Code::Unauthenticated {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(cause) = self.source {
            response.extensions_mut().insert(ErrorCause(cause));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::ServiceError;

    #[test]
    fn body_has_message_with_id_and_a_detail() {
        let body = serde_json::to_value(
            ApiError::new(
                Code::FailedPrecondition,
                "PHONE-5xrra88eq8",
                "Code is empty",
            )
            .body(),
        )
        .unwrap();
        assert_eq!(
            body,
            serde_json::json!({"code": 9, "message": "Code is empty (PHONE-5xrra88eq8)",
                "details": [{"@type": "type.googleapis.com/zitadel.v1.ErrorDetail", "id": "PHONE-5xrra88eq8", "message": "Code is empty"}]})
        );
        let plain = serde_json::to_value(ApiError::invalid("invalid field").body()).unwrap();
        assert_eq!(
            plain,
            serde_json::json!({"code": 3, "message": "invalid field", "details": []})
        );
    }

    #[tokio::test]
    async fn a_rate_limit_says_how_long_to_wait_in_the_header_and_the_details() {
        let e = ApiError {
            retry_after: Some(23),
            ..ApiError::new(Code::ResourceExhausted, "PHONE-r3s3nd", "Too soon")
        };
        let response = e.into_response();
        assert_eq!(response.headers()[header::RETRY_AFTER], "23");
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["details"][0]["id"], "PHONE-r3s3nd");
        assert_eq!(
            body["details"][1],
            serde_json::json!({"@type": RETRY_INFO_TYPE, "retryDelay": "23s"})
        );
    }

    #[test]
    fn method_not_allowed_keeps_its_http_status() {
        let r = ApiError::method_not_allowed().into_response();
        assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    }

    /// The answer's status and body text, and the cause it hands to the logging layer.
    async fn answered(e: ApiError) -> (u16, String, Option<String>) {
        let response = e.into_response();
        let cause = response
            .extensions()
            .get::<ErrorCause>()
            .map(|c| cause::chain(c.0.as_ref()));
        let status = response.status().as_u16();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, String::from_utf8(body.to_vec()).unwrap(), cause)
    }

    #[tokio::test]
    async fn internal_causes_are_logged_not_returned() {
        let e = ApiError::from_service(
            ServiceError::internal("syntax error near SELECT password"),
            Op::Other,
        );
        let (status, body, cause) = answered(e).await;
        assert_eq!(status, 500);
        assert_eq!(
            body,
            r#"{"code":13,"message":"Internal error (API-Int3r)","details":[{"@type":"type.googleapis.com/zitadel.v1.ErrorDetail","id":"API-Int3r","message":"Internal error"}]}"#
        );
        assert_eq!(
            cause.as_deref(),
            Some("internal error: syntax error near SELECT password")
        );

        let e = ApiError::from_service(
            ServiceError::Unavailable(crate::store::StoreError::Unavailable(
                "connection refused 10.0.0.1".into(),
            )),
            Op::Other,
        );
        let (status, body, cause) = answered(e).await;
        assert_eq!(status, 503);
        assert!(!body.contains("refused"), "{body}");
        assert!(cause.is_some_and(|c| c.contains("connection refused 10.0.0.1")));
    }
}
