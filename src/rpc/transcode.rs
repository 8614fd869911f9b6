//! An RPC answered by the REST handler of the same call: the request message becomes the REST request (path
//! fields in the path, the whole message as the JSON body, which REST reads as ZITADEL's JSON mapping), and
//! the REST answer becomes the response message or the error.

use axum::body::Body;
use axum::http::{HeaderValue, Method, Request, header};
use connectrpc::{ConnectError, RequestContext, Response, ServiceResult};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tower::ServiceExt;

use super::errors;
use crate::api::extract::ORG_HEADER;
use crate::api::input::pascal_case;

/// The REST routes without their outer layers (the RPC stack has its own deadline and logging).
#[derive(Clone)]
pub struct Rest {
    router: axum::Router,
}

/// Characters left as they are in a path segment: RFC 3986's unreserved set.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Headers of this service's own (not ZITADEL's) that an RPC answer passes on.
const OWN_HEADER_PREFIX: &str = "x-phoneverify-";

/// Longest accepted ID in a path field, as the REST path extractors.
const MAX_ID_LEN: usize = 200;

/// `value` of the request field `field` of `message`, ready for a URL path. Empty or over-long values are
/// refused as ZITADEL's request validation refuses them, since REST could not even route them.
pub(super) fn segment(message: &str, field: &str, value: &str) -> Result<String, ConnectError> {
    if value.is_empty() || value.chars().count() > MAX_ID_LEN {
        return Err(ConnectError::invalid_argument(format!(
            "invalid {message}.{}: value length must be between 1 and {MAX_ID_LEN} runes, inclusive",
            pascal_case(field)
        )));
    }
    // The input policy, named as the RPC's field; REST would refuse it too, but naming the path parameter.
    if let Err(why) = crate::domain::text::check_text(value) {
        return Err(ConnectError::invalid_argument(format!(
            "invalid {message}.{}: {why}",
            pascal_case(field)
        )));
    }
    Ok(utf8_percent_encode(value, SEGMENT).to_string())
}

impl Rest {
    pub fn new(router: axum::Router) -> Self {
        Self { router }
    }

    /// Sends `body` to the REST route `method path` with the caller's credentials and org, and reads the
    /// answer as `Resp`, with the REST answer's own `x-phoneverify-*` headers (the code's times) as response
    /// headers.
    pub(super) async fn call<Req, Resp>(
        &self,
        ctx: &RequestContext,
        method: Method,
        path: String,
        body: &Req,
    ) -> ServiceResult<Resp>
    where
        Req: Serialize,
        Resp: DeserializeOwned,
    {
        // The RPC layer keeps the deadline with a timer that fires on millisecond ticks: a call that finishes
        // within the tick would be answered, and its write kept, although its deadline passed before its work
        // began. A call whose deadline has passed does nothing.
        if ctx
            .deadline()
            .is_some_and(|deadline| std::time::Instant::now() >= deadline)
        {
            return Err(ConnectError::deadline_exceeded(
                "the deadline passed before the call started",
            ));
        }
        let json = serde_json::to_vec(body).map_err(|e| {
            tracing::error!(error = %e, "an RPC request did not serialize to JSON");
            ConnectError::internal("Internal error")
        })?;
        let mut request = Request::builder().method(method).uri(path).header(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        for name in [header::AUTHORIZATION.as_str(), ORG_HEADER] {
            if let Some(value) = ctx.headers().get(name) {
                request = request.header(name, value.clone());
            }
        }
        let request = request.body(Body::from(json)).map_err(|e| {
            tracing::error!(error = %e, "an RPC became no valid REST request");
            ConnectError::internal("Internal error")
        })?;
        let Ok(response) = self.router.clone().oneshot(request).await;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let own_headers: Vec<_> = response
            .headers()
            .iter()
            .filter(|(name, _)| name.as_str().starts_with(OWN_HEADER_PREFIX))
            .map(|(name, value)| (name.clone(), value.clone()))
            .collect();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "the REST answer of an RPC could not be read");
                ConnectError::internal("Internal error")
            })?;
        if !status.is_success() {
            return Err(errors::from_rest(status, &bytes, retry_after));
        }
        let message = serde_json::from_slice(&bytes).map_err(|e| {
            tracing::error!(error = %e, "the REST answer of an RPC does not fit its response message");
            ConnectError::internal("Internal error")
        })?;
        let mut answer = Response::new(message);
        answer.headers.extend(own_headers);
        Ok(answer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_are_percent_encoded_and_bounded() {
        assert_eq!(segment("M", "user_id", "123").unwrap(), "123");
        assert_eq!(segment("M", "user_id", "a/b c").unwrap(), "a%2Fb%20c");
        let empty = segment("ResendPhoneCodeRequest", "user_id", "").unwrap_err();
        assert_eq!(
            empty.message.as_deref(),
            Some(
                "invalid ResendPhoneCodeRequest.UserId: value length must be between 1 and 200 runes, inclusive"
            )
        );
        assert!(segment("M", "token_id", &"x".repeat(201)).is_err());
        assert!(segment("M", "token_id", &"é".repeat(200)).is_ok());
    }
}
