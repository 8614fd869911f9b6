//! Liveness, readiness and key discovery: no authentication.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::OrApi;
use super::error::{ApiError, ErrorBody, Op};
use super::extract::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    #[schema(example = "ok")]
    status: &'static str,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    #[schema(example = "ready")]
    status: &'static str,
    /// `sqlite` or `postgres`.
    #[schema(example = "sqlite")]
    database: &'static str,
}

/// A public key as RFC 7517 writes it; the fields depend on its type (`kty`).
#[derive(Debug, Serialize, ToSchema)]
pub struct JsonWebKey {
    #[schema(example = "EC")]
    kty: String,
    #[schema(example = "sig")]
    r#use: String,
    #[schema(example = "ES256")]
    alg: String,
    kid: String,
    #[schema(example = "P-256")]
    crv: Option<String>,
    x: Option<String>,
    y: Option<String>,
}

/// The schema of `/oauth/v2/keys`, for the document; the handler writes the key set as JSON.
#[derive(Debug, Serialize, ToSchema)]
pub struct JsonWebKeySet {
    keys: Vec<JsonWebKey>,
}

/// 200 while the process runs.
#[utoipa::path(get, path = "/healthz", tag = "Operations", responses((status = 200, description = "Process is up", body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

/// 200 only while the database answers.
#[utoipa::path(get, path = "/readyz", tag = "Operations",
    responses((status = 200, description = "Database answers", body = Readiness), (status = 503, description = "Database unavailable", body = ErrorBody)))]
pub async fn readyz(State(s): State<AppState>) -> Result<Json<Readiness>, ApiError> {
    let database = s.readiness().await.api(Op::Other)?;
    Ok(Json(Readiness {
        status: "ready",
        database,
    }))
}

/// The public keys that verify this service's tokens (JWKS).
#[utoipa::path(get, path = "/oauth/v2/keys", tag = "Operations", responses((status = 200, description = "JSON Web Key Set", body = JsonWebKeySet)))]
pub async fn jwks(State(s): State<AppState>) -> Json<Value> {
    Json(s.tokens.jwks(s.clock.now()))
}
