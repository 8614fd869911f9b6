//! One log line per request: method, route, status, latency, the authenticated caller and a request ID that
//! the client may send (`x-request-id`) and always gets back, so one request can be followed from a client's
//! log through ours. The line carries no query string, header or body: nothing a token or code could be in.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Response};
use axum::middleware::{self, Next};
use tower_http::trace::TraceLayer;
use tracing::Span;

use crate::metrics::Metrics;

pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Longest client-chosen request ID kept; longer ones (and ones with other characters) are replaced.
const MAX_REQUEST_ID_LEN: usize = 128;

/// Longest RPC path logged as the route (the longest method path we serve is well below it).
const MAX_RPC_PATH_LEN: usize = 160;

/// Wraps `app` so that each request gets an ID, a span (which the caller is recorded into once known), a
/// closing log line, and its count and latency in `metrics`.
pub fn around<S>(app: Router<S>, metrics: Arc<Metrics>) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    app.layer(
        TraceLayer::new_for_http()
            .make_span_with(request_span)
            .on_request(())
            .on_response(log_response)
            .on_failure(()),
    )
    // Outside the span: the span reads the ID this sets.
    .layer(middleware::from_fn_with_state(
        metrics,
        identify_and_measure,
    ))
}

/// Keeps a well-formed ID the client sent, or makes one (the request carries it to the span, the response
/// back to the client), and counts the request with its latency.
async fn identify_and_measure(
    State(metrics): State<Arc<Metrics>>,
    mut req: Request,
    next: Next,
) -> axum::response::Response {
    let started = Instant::now();
    let method = req.method().clone();
    let route = route_of(&req).to_owned();
    let id = req
        .headers()
        .get(REQUEST_ID_HEADER)
        .filter(|v| acceptable(v))
        .cloned()
        .unwrap_or_else(generate);
    req.headers_mut().insert(REQUEST_ID_HEADER, id.clone());
    let mut response = next.run(req).await;
    response.headers_mut().insert(REQUEST_ID_HEADER, id);
    metrics.request(
        method.as_str(),
        &route,
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

/// Letters, digits and `-_.:` only: what goes into the log cannot forge a line or a field.
fn acceptable(value: &HeaderValue) -> bool {
    let bytes = value.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= MAX_REQUEST_ID_LEN
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(b))
}

fn generate() -> HeaderValue {
    let id = uuid::Uuid::new_v4().to_string();
    // A UUID's text is always a valid header value.
    HeaderValue::from_str(&id).unwrap_or_else(|_| HeaderValue::from_static("unknown"))
}

/// The route template that matched, the RPC method's path, or `unmatched`.
fn route_of<B>(req: &axum::http::Request<B>) -> &str {
    match req
        .extensions()
        .get::<MatchedPath>()
        .map(MatchedPath::as_str)
    {
        // An RPC route matches every method of its service; the path names the method.
        Some(template) if template.ends_with("/{method}") => {
            let path = req.uri().path();
            if path.len() <= MAX_RPC_PATH_LEN {
                path
            } else {
                template
            }
        }
        Some(template) => template,
        None => "unmatched",
    }
}

fn request_span<B>(req: &axum::http::Request<B>) -> Span {
    let route = route_of(req);
    let id = req
        .headers()
        .get(REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    tracing::info_span!(
        "request",
        method = %req.method(),
        route,
        request_id = id,
        caller = tracing::field::Empty,
    )
}

fn log_response<B>(response: &Response<B>, latency: Duration, _span: &Span) {
    tracing::info!(
        status = response.status().as_u16(),
        // Whole microseconds as milliseconds: no float noise in the line.
        latency_ms = latency.as_micros() as f64 / 1000.0,
        "request served"
    );
}

/// Records the authenticated caller in the current request's span (a no-op outside one).
pub fn record_caller(user_id: &str) {
    Span::current().record("caller", user_id);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_formed_ids_are_kept_and_others_replaced() {
        assert!(acceptable(&HeaderValue::from_static("req-42_a.b:c")));
        assert!(!acceptable(&HeaderValue::from_static("")));
        assert!(!acceptable(&HeaderValue::from_static("two words")));
        assert!(!acceptable(&HeaderValue::from_static("a\"b")));
        let long = "a".repeat(MAX_REQUEST_ID_LEN + 1);
        assert!(!acceptable(&HeaderValue::from_str(&long).unwrap()));
        let generated = generate();
        assert!(acceptable(&generated));
        assert_ne!(generated, generate());
    }
}
