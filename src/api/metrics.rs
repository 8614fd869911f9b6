//! Prometheus metrics: what an operator alerts on. No authentication, like the health checks.

use std::fmt::Write;

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;

use super::OrApi;
use super::error::{ApiError, ErrorBody, Op};
use super::extract::AppState;
use crate::store::JobCounts;

/// Prometheus' text exposition format.
const CONTENT_TYPE_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// SMS delivery jobs by state, in Prometheus text format: a growing `pending` means the provider is not
/// keeping up or is down; `failed` counts codes that were given up.
#[utoipa::path(get, path = "/metrics", tag = "Operations",
    responses(
        (status = 200, description = "Prometheus text format (version 0.0.4)", content_type = "text/plain", body = String,
         example = "# TYPE phoneverify_sms_jobs gauge\nphoneverify_sms_jobs{state=\"pending\"} 0\n"),
        (status = 503, description = "Database unavailable", body = ErrorBody)))]
pub async fn metrics(State(s): State<AppState>) -> Result<impl IntoResponse, ApiError> {
    let counts = s.job_counts().await.api(Op::Other)?;
    Ok(([(CONTENT_TYPE, CONTENT_TYPE_TEXT)], render(&counts)))
}

fn render(counts: &JobCounts) -> String {
    let mut out = String::new();
    out.push_str("# HELP phoneverify_sms_jobs SMS delivery jobs by state.\n");
    out.push_str("# TYPE phoneverify_sms_jobs gauge\n");
    for (state, n) in [
        ("pending", counts.pending),
        ("sent", counts.sent),
        ("failed", counts.failed),
        ("dropped", counts.dropped),
    ] {
        // Writing to a String cannot fail.
        let _ = writeln!(out, "phoneverify_sms_jobs{{state=\"{state}\"}} {n}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_state_as_a_gauge() {
        let text = render(&JobCounts {
            pending: 3,
            sent: 10,
            failed: 1,
            dropped: 0,
        });
        assert_eq!(
            text,
            "# HELP phoneverify_sms_jobs SMS delivery jobs by state.\n\
             # TYPE phoneverify_sms_jobs gauge\n\
             phoneverify_sms_jobs{state=\"pending\"} 3\n\
             phoneverify_sms_jobs{state=\"sent\"} 10\n\
             phoneverify_sms_jobs{state=\"failed\"} 1\n\
             phoneverify_sms_jobs{state=\"dropped\"} 0\n"
        );
    }
}
