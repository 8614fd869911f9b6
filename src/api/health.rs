//! Liveness, readiness and key discovery: no authentication.

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use super::OrApi;
use super::error::{ApiError, ErrorBody, Op};
use super::extract::AppState;

/// 200 while the process runs.
#[utoipa::path(get, path = "/healthz", tag = "Operations", responses((status = 200, description = "Process is up")))]
pub async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

/// 200 only while the database answers.
#[utoipa::path(get, path = "/readyz", tag = "Operations",
    responses((status = 200, description = "Database answers"), (status = 503, description = "Database unavailable", body = ErrorBody)))]
pub async fn readyz(State(s): State<AppState>) -> Result<Json<Value>, ApiError> {
    let backend = s.readiness().await.api(Op::Other)?;
    Ok(Json(json!({"status": "ready", "database": backend})))
}

/// The public keys that verify this service's tokens (JWKS).
#[utoipa::path(get, path = "/oauth/v2/keys", tag = "Operations", responses((status = 200, description = "JSON Web Key Set")))]
pub async fn jwks(State(s): State<AppState>) -> Json<Value> {
    Json(s.tokens.jwks())
}
