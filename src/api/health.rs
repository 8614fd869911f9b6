//! Liveness, readiness and key discovery: no authentication.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use super::error::{ApiError, ErrorBody};
use super::extract::AppState;

/// Readiness waits this long for the database before calling it down.
const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// 200 while the process runs.
#[utoipa::path(get, path = "/healthz", tag = "Operations", responses((status = 200, description = "Process is up")))]
pub async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// 200 only while the database answers.
#[utoipa::path(get, path = "/readyz", tag = "Operations",
    responses((status = 200, description = "Database answers"), (status = 503, description = "Database unavailable", body = ErrorBody)))]
pub async fn readyz(State(s): State<AppState>) -> Result<Json<Value>, ApiError> {
    match tokio::time::timeout(READY_TIMEOUT, s.store.ping()).await {
        Ok(Ok(())) => Ok(Json(
            json!({"status": "ready", "database": s.store.backend()}),
        )),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness check failed");
            Err(ApiError::unavailable())
        }
        Err(_) => {
            tracing::warn!("readiness check timed out");
            Err(ApiError::unavailable())
        }
    }
}

/// The public keys that verify this service's tokens (JWKS).
#[utoipa::path(get, path = "/oauth/v2/keys", tag = "Operations", responses((status = 200, description = "JSON Web Key Set")))]
pub async fn jwks(State(s): State<AppState>) -> Json<Value> {
    Json(s.tokens.jwks())
}
