//! Service accounts as ZITADEL's SDKs sign in: management v1 GenerateMachineSecret and AddMachineKey, the
//! OpenID discovery document, and the token endpoint with the client credentials and JWT profile grants.
//! Token endpoint answers follow RFC 6749 (`{"access_token", "token_type", "expires_in"}` or
//! `{"error", "error_description"}`), not the API's error format: OAuth clients parse these.

use std::collections::HashMap;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;

use super::OrApi;
use super::error::{ApiError, ErrorBody, Op};
use super::extract::{ApiJson, AppState, Auth, OrgHeader, UserIdPath};
use super::types::{
    AddMachineKeyRequest, AddMachineKeyResponse, Details, GenerateMachineSecretRequest,
    GenerateMachineSecretResponse,
};
use crate::service::{IssuedToken, OAuthError, ServiceError};

const TAG: &str = "Management v1";
const JWT_BEARER: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// A new client secret for a machine user of the org (client credentials grant); shown only here.
#[utoipa::path(put, path = "/management/v1/users/{userId}/secret", tag = TAG, security(("bearer" = [])), request_body = GenerateMachineSecretRequest,
    params(("userId" = String, Path), ("x-zitadel-orgid" = Option<String>, Header, description = "Organization to act in")),
    responses((status = 200, body = GenerateMachineSecretResponse), (status = "default", description = "Error", body = ErrorBody)))]
pub async fn generate_machine_secret(
    State(s): State<AppState>,
    Auth(caller): Auth,
    org: OrgHeader,
    UserIdPath(user_id): UserIdPath,
    ApiJson(_req): ApiJson<GenerateMachineSecretRequest>,
) -> Result<Json<GenerateMachineSecretResponse>, ApiError> {
    let (written, secret) = s
        .set_machine_secret(&caller, org.as_deref(), &user_id)
        .await
        .api(Op::AddPat)?;
    Ok(Json(GenerateMachineSecretResponse {
        client_id: secret.client_id,
        client_secret: secret.client_secret,
        details: Details::changed(&written),
    }))
}

/// A new key for a machine user of the org (JWT profile grant); the key file is in the response only.
#[utoipa::path(post, path = "/management/v1/users/{userId}/keys", tag = TAG, security(("bearer" = [])), request_body = AddMachineKeyRequest,
    params(("userId" = String, Path), ("x-zitadel-orgid" = Option<String>, Header, description = "Organization to act in")),
    responses((status = 200, body = AddMachineKeyResponse), (status = "default", description = "Error", body = ErrorBody)))]
pub async fn add_machine_key(
    State(s): State<AppState>,
    Auth(caller): Auth,
    org: OrgHeader,
    UserIdPath(user_id): UserIdPath,
    ApiJson(req): ApiJson<AddMachineKeyRequest>,
) -> Result<Json<AddMachineKeyResponse>, ApiError> {
    // Both key types mean the JSON key file; anything else failed to parse as the enum (code 3).
    let _ = req.key_type;
    if req.public_key.is_set() {
        return Err(ApiError::unsupported_field(
            "AddMachineKeyRequest.PublicKey",
        ));
    }
    let (written, key) = s
        .add_machine_key(&caller, org.as_deref(), &user_id, req.expiration_date)
        .await
        .api(Op::AddPat)?;
    Ok(Json(AddMachineKeyResponse {
        key_id: key.key_id,
        key_details: STANDARD.encode(key.key_file),
        details: Details::changed(&written),
    }))
}

/// This service's URL as the client reached it: the discovery document points there.
fn origin(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("localhost");
    let scheme = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .filter(|p| *p == "https")
        .unwrap_or("http");
    format!("{scheme}://{host}")
}

/// `/.well-known/openid-configuration`: where the SDKs find the token endpoint.
pub async fn openid_configuration(State(s): State<AppState>, headers: HeaderMap) -> Response {
    let origin = origin(&headers);
    Json(json!({
        "issuer": s.config.auth.issuer,
        "token_endpoint": format!("{origin}/oauth/v2/token"),
        "jwks_uri": format!("{origin}/oauth/v2/keys"),
        "grant_types_supported": ["client_credentials", JWT_BEARER],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "response_types_supported": ["token"],
        "scopes_supported": ["openid"],
        "id_token_signing_alg_values_supported": ["ES256"],
    }))
    .into_response()
}

/// An RFC 6749 error answer.
fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    let mut response = (
        status,
        Json(json!({"error": error, "error_description": description})),
    )
        .into_response();
    if status == StatusCode::UNAUTHORIZED {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic"));
    }
    response
}

/// `POST /oauth/v2/token` (form-encoded): `grant_type=client_credentials` with the client authenticated by
/// HTTP Basic or `client_id` / `client_secret` in the form, or `grant_type=urn:ietf:params:oauth:grant-type:
/// jwt-bearer` with an `assertion`. `scope` is accepted and ignored: the token carries the user's roles.
pub async fn token(State(s): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let Ok(form) = serde_urlencoded::from_bytes::<HashMap<String, String>>(&body) else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the body must be application/x-www-form-urlencoded",
        );
    };
    let outcome = match form.get("grant_type").map(String::as_str) {
        Some("client_credentials") => {
            let Some((id, secret)) = client_of(&headers, &form) else {
                return oauth_error(
                    StatusCode::UNAUTHORIZED,
                    "invalid_client",
                    "client authentication failed",
                );
            };
            s.token_by_client_secret(&id, &secret).await
        }
        Some(JWT_BEARER) => {
            let Some(assertion) = form.get("assertion") else {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "assertion is missing",
                );
            };
            let origin = origin(&headers);
            let audiences = [
                s.config.auth.issuer.clone(),
                origin.clone(),
                format!("{origin}/"),
                format!("{origin}/oauth/v2/token"),
            ];
            s.token_by_assertion(assertion, &audiences).await
        }
        Some(_) => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "unsupported_grant_type",
                "grant_type must be client_credentials or urn:ietf:params:oauth:grant-type:jwt-bearer",
            );
        }
        None => {
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "grant_type is missing",
            );
        }
    };
    match outcome {
        Ok(token) => issued(token),
        Err(OAuthError::InvalidClient) => oauth_error(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "client authentication failed",
        ),
        Err(OAuthError::InvalidGrant(why)) => {
            tracing::info!(reason = %why, "token request refused");
            oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_grant",
                "the assertion is not valid",
            )
        }
        Err(OAuthError::Service(e)) => service_failure(e),
    }
}

fn issued(token: IssuedToken) -> Response {
    let mut response = Json(json!({
        "access_token": token.access_token,
        "token_type": "Bearer",
        "expires_in": token.expires_in,
    }))
    .into_response();
    // RFC 6749 5.1: tokens are not to be cached.
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn service_failure(e: ServiceError) -> Response {
    match e {
        ServiceError::Unavailable(_) => oauth_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "the service is unavailable, try again later",
        ),
        other => {
            tracing::error!(error = %other, "token request failed");
            oauth_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "server_error",
                "internal error",
            )
        }
    }
}

/// The client's ID and secret: HTTP Basic (RFC 6749 2.3.1, each part form-url-encoded), else the form's.
fn client_of(headers: &HeaderMap, form: &HashMap<String, String>) -> Option<(String, String)> {
    if let Some(basic) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
    {
        let decoded = STANDARD.decode(basic.trim()).ok()?;
        let text = String::from_utf8(decoded).ok()?;
        let (id, secret) = text.split_once(':')?;
        let unescape = |s: &str| {
            percent_encoding::percent_decode_str(&s.replace('+', " "))
                .decode_utf8()
                .ok()
                .map(|c| c.into_owned())
        };
        return Some((unescape(id)?, unescape(secret)?));
    }
    Some((
        form.get("client_id")?.clone(),
        form.get("client_secret")?.clone(),
    ))
}
