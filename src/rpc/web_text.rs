//! gRPC-web's text mode (`application/grpc-web-text`), which browsers' grpc-web clients use and connectrpc
//! does not speak: the body is the binary mode's, base64-encoded. Unary calls only, so the whole body is
//! decoded, handed on as binary gRPC-web, and the answer encoded back.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

const TEXT: &str = "application/grpc-web-text";
const TEXT_ANSWER: &str = "application/grpc-web-text+proto";
const BINARY: &str = "application/grpc-web+proto";

/// Translates text-mode calls; `max_message_bytes` bounds the decoded message as for every protocol.
pub(super) async fn translate(
    State(max_message_bytes): State<usize>,
    request: Request,
    next: Next,
) -> Response {
    let is_text = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with(TEXT));
    if !is_text {
        return next.run(request).await;
    }
    let (mut parts, body) = request.into_parts();
    // Base64 takes 4 bytes for 3, plus the 5-byte frame header.
    let limit = max_message_bytes.saturating_add(5).saturating_mul(4) / 3 + 4;
    let Ok(text) = axum::body::to_bytes(body, limit).await else {
        return refusal(8, "request message larger than the limit or unreadable");
    };
    let cleaned: Vec<u8> = text
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    let Ok(binary) = STANDARD.decode(&cleaned) else {
        return refusal(3, "grpc-web-text body is not base64");
    };
    parts
        .headers
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(BINARY));
    parts.headers.remove(header::CONTENT_LENGTH);
    let answer = next
        .run(Request::from_parts(parts, Body::from(binary)))
        .await;
    let (mut parts, body) = answer.into_parts();
    let Ok(binary) = axum::body::to_bytes(body, usize::MAX).await else {
        tracing::error!("a gRPC-web answer could not be read for text mode");
        return refusal(13, "Internal error");
    };
    parts
        .headers
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(TEXT_ANSWER));
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(STANDARD.encode(binary)))
}

/// A gRPC-web answer with the status in its headers and no body ("trailers-only").
fn refusal(code: u8, message: &'static str) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(TEXT_ANSWER));
    headers.insert("grpc-status", HeaderValue::from(u16::from(code)));
    headers.insert("grpc-message", HeaderValue::from_static(message));
    response
}
