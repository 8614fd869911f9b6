//! Prometheus metrics: what an operator alerts on (see `crate::metrics` for the families). No
//! authentication, like the health checks.

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;

use super::OrApi;
use super::error::{ApiError, Op};
use super::extract::AppState;

/// OpenMetrics text, which Prometheus reads natively.
const CONTENT_TYPE_TEXT: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Requests, codes, SMS delivery, throttles, the database pool, group-commit batches and delivery jobs by
/// state: a growing `pending` means the provider is not keeping up or is down.
/// Served in OpenMetrics' text format; not in the OpenAPI document, since it is read by Prometheus rather
/// than by an SDK (client generators have no type for `application/openmetrics-text`).
pub async fn metrics(State(s): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    let counts = s.job_counts().await.api(Op::Other)?;
    let jobs = [
        ("pending", counts.pending),
        ("sent", counts.sent),
        ("failed", counts.failed),
        ("dropped", counts.dropped),
    ];
    let text = s.metrics.render(&jobs, s.store.pool_state());
    Ok(([(CONTENT_TYPE, CONTENT_TYPE_TEXT)], text))
}
