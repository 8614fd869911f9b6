//! What every request passes through around its handler: the body limit, the time limit, panic recovery,
//! the one log line of a failed request, and the request's span and log line (`request_log`).

use std::any::Any;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use tower_http::catch_panic::CatchPanicLayer;

use super::error::{self, ApiError};
use crate::metrics::Metrics;

/// Wraps `app` in the layers, innermost first.
pub(super) fn around<S>(
    app: Router<S>,
    timeout: Duration,
    body_limit: usize,
    metrics: Arc<Metrics>,
) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    let app = app
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(middleware::from_fn_with_state(
            body_limit,
            refuse_announced_oversize,
        ))
        .layer(middleware::from_fn_with_state(timeout, request_timeout))
        .layer(CatchPanicLayer::custom(panic_response))
        // Inside the request's span and outside everything that can answer 5xx, so that each such answer
        // is logged once, with its cause; the trace layer's own failure log would only repeat the status.
        .layer(middleware::map_response(error::log_server_errors));
    super::request_log::around(app, metrics)
}

/// The layers of the REST routes when an RPC calls them in process (`crate::rpc`): the RPC stack has its own
/// span, deadline and size limit, so only panic recovery and the log line of a server error remain.
pub(super) fn in_process<S>(app: Router<S>) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    app.layer(CatchPanicLayer::custom(panic_response))
        .layer(middleware::map_response(error::log_server_errors))
}

/// A body announced larger than the limit is refused before a byte of it is read.
async fn refuse_announced_oversize(
    State(limit): State<usize>,
    req: Request,
    next: Next,
) -> Response {
    let announced = req
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match announced {
        Some(length) if length > u64::try_from(limit).unwrap_or(u64::MAX) => ApiError::invalid(
            format!("request body too large: {length} bytes announced, at most {limit} accepted"),
        )
        .into_response(),
        _ => next.run(req).await,
    }
}

/// A request that outlives the limit answers 4 DEADLINE_EXCEEDED instead of hanging.
async fn request_timeout(State(limit): State<Duration>, req: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(response) => response,
        Err(_) => ApiError::timeout()
            .caused_by(format!("request took longer than {limit:?}"))
            .into_response(),
    }
}

fn panic_response(payload: Box<dyn Any + Send + 'static>) -> Response {
    let message = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(no message)");
    ApiError::internal()
        .caused_by(format!("request handler panicked: {message}"))
        .into_response()
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::routing::get;
    use tower::ServiceExt;

    use super::*;
    use crate::api::error::CapturedLog;

    async fn panicking() -> &'static str {
        panic!("boom")
    }

    async fn call(path: &str) -> (u16, String, String) {
        let log = CapturedLog::start();
        let app = around(
            Router::new()
                .route(
                    "/failing",
                    get(|| async { ApiError::internal().caused_by("disk full on /var/lib/db") }),
                )
                .route(
                    "/slow",
                    get(|| async {
                        tokio::time::sleep(Duration::from_secs(5)).await;
                        "late"
                    }),
                )
                .route("/refused", get(|| async { ApiError::invalid("bad field") }))
                .route("/panicking", get(panicking)),
            Duration::from_millis(50),
            1024,
            Arc::new(Metrics::new(None)),
        );
        let request = Request::get(path).body(Body::empty()).unwrap();
        let response = app.oneshot(request).await.unwrap();
        let status = response.status().as_u16();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (
            status,
            String::from_utf8(body.to_vec()).unwrap(),
            log.text(),
        )
    }

    fn error_lines(log: &str) -> Vec<&str> {
        log.lines().filter(|l| l.contains("ERROR")).collect()
    }

    #[tokio::test]
    async fn a_server_error_is_logged_once_in_the_request_span_and_its_cause_is_not_sent() {
        let (status, body, log) = call("/failing").await;
        assert_eq!(status, 500);
        assert!(!body.contains("disk full"), "{body}");
        let errors = error_lines(&log);
        assert_eq!(errors.len(), 1, "{log}");
        assert!(errors[0].contains("route=\"/failing\""), "{log}");
        assert!(errors[0].contains("disk full on /var/lib/db"), "{log}");
    }

    #[tokio::test]
    async fn a_timeout_is_logged_with_the_limit() {
        let (status, _, log) = call("/slow").await;
        assert_eq!(status, 504);
        let errors = error_lines(&log);
        assert_eq!(errors.len(), 1, "{log}");
        assert!(errors[0].contains("request took longer than 50ms"), "{log}");
    }

    #[tokio::test]
    async fn a_panic_is_logged_with_its_message() {
        let (status, body, log) = call("/panicking").await;
        assert_eq!(status, 500);
        assert!(!body.contains("boom"), "{body}");
        let errors = error_lines(&log);
        assert_eq!(errors.len(), 1, "{log}");
        assert!(
            errors[0].contains("request handler panicked: boom"),
            "{log}"
        );
    }

    #[tokio::test]
    async fn a_refusal_logs_no_error() {
        let (status, _, log) = call("/refused").await;
        assert_eq!(status, 400);
        assert!(error_lines(&log).is_empty(), "{log}");
    }
}
