//! REST error answers as RPC errors: the same code and message, ZITADEL's `zitadel.v1.ErrorDetail` as the
//! status detail (Connect's `details`, gRPC's `grpc-status-details-bin`), and a throttle's delay as
//! `google.rpc.RetryInfo` plus a `retry-after` header.

use axum::http::{HeaderMap, HeaderValue, StatusCode};
use connectrpc::error::ErrorDetail as StatusDetail;
use connectrpc::{ConnectError, ErrorCode};
use serde::Deserialize;

use super::proto::google::rpc::RetryInfo;
use super::proto::zitadel::v1::ErrorDetail;
use buffa_types::google::protobuf::Duration;

const ERROR_DETAIL: &str = "zitadel.v1.ErrorDetail";
const RETRY_INFO: &str = "google.rpc.RetryInfo";

/// The REST error body: `{code, message, details}`.
#[derive(Deserialize)]
struct RestError {
    code: u32,
    message: String,
    #[serde(default)]
    details: Vec<RestDetail>,
}

/// A REST detail; only ErrorDetail entries carry `id` and `message`. The RetryInfo entry is rebuilt from
/// `Retry-After`, so it is skipped here.
#[derive(Deserialize)]
struct RestDetail {
    id: Option<String>,
    message: Option<String>,
}

pub(super) fn from_rest(status: StatusCode, body: &[u8], retry_after: Option<u64>) -> ConnectError {
    let Ok(rest) = serde_json::from_slice::<RestError>(body) else {
        tracing::error!(%status, "a REST error answer of an RPC is not in the API's error format");
        return ConnectError::internal("Internal error");
    };
    let code = ErrorCode::from_grpc_code(rest.code).unwrap_or(ErrorCode::Unknown);
    let mut error = ConnectError::new(code, rest.message);
    for detail in rest.details {
        let (Some(id), Some(message)) = (detail.id, detail.message) else {
            continue;
        };
        error = error.with_detail(StatusDetail::from_message(
            ERROR_DETAIL,
            &ErrorDetail {
                id,
                message,
                ..Default::default()
            },
        ));
    }
    if let Some(seconds) = retry_after {
        error = error.with_detail(StatusDetail::from_message(
            RETRY_INFO,
            &RetryInfo {
                retry_delay: Duration {
                    seconds: i64::try_from(seconds).unwrap_or(i64::MAX),
                    ..Default::default()
                }
                .into(),
                ..Default::default()
            },
        ));
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", HeaderValue::from(seconds));
        error = error.with_headers(headers);
    }
    error
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_message_and_detail_carry_over() {
        let body = br#"{"code":5,"message":"User not found (COMMAND-ieJ2e)","details":[{"@type":"type.googleapis.com/zitadel.v1.ErrorDetail","id":"COMMAND-ieJ2e","message":"User not found"}]}"#;
        let e = from_rest(StatusCode::NOT_FOUND, body, None);
        assert_eq!(e.code, ErrorCode::NotFound);
        assert_eq!(e.message.as_deref(), Some("User not found (COMMAND-ieJ2e)"));
        assert_eq!(e.details.len(), 1);
        assert_eq!(e.details[0].type_url, ERROR_DETAIL);
    }

    #[test]
    fn a_throttle_carries_its_delay() {
        let body = br#"{"code":8,"message":"Too many codes (PHONE-Thr0t)"}"#;
        let e = from_rest(StatusCode::TOO_MANY_REQUESTS, body, Some(23));
        assert_eq!(e.code, ErrorCode::ResourceExhausted);
        assert_eq!(e.details.len(), 1);
        assert_eq!(e.details[0].type_url, RETRY_INFO);
        assert_eq!(e.response_headers().get("retry-after").unwrap(), "23");
    }

    #[test]
    fn an_unexpected_body_is_an_internal_error_without_its_text() {
        let e = from_rest(StatusCode::BAD_GATEWAY, b"upstream secret", None);
        assert_eq!(e.code, ErrorCode::Internal);
        assert_eq!(e.message.as_deref(), Some("Internal error"));
    }
}
