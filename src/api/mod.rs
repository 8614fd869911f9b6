//! HTTP only: routing, extractors, JSON shapes and error mapping. No SQL and no business rules.

pub mod admin;
pub mod code_times;
pub mod error;
pub mod extract;
pub mod health;
pub mod input;
mod layers;
pub mod metrics;
pub mod oauth;
mod openapi_doc;
pub mod request_log;
pub mod types;
pub mod v1_auth;
pub mod v1_changes;
pub mod v1_management;
mod v1_phone;
pub mod v2_org;
pub mod v2_user;

use axum::Router;
use axum::routing::{get, post};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use utoipa_swagger_ui::{Config, SwaggerUi};

use self::error::{ApiError, Op};
use self::extract::AppState;
use self::openapi_doc::BearerScheme;
use crate::service::ServiceError;

/// Maps a service result to the API's error format in the dialect of `op`.
pub(crate) trait OrApi<T> {
    fn api(self, op: Op) -> Result<T, ApiError>;
}

impl<T> OrApi<T> for Result<T, ServiceError> {
    fn api(self, op: Op) -> Result<T, ApiError> {
        self.map_err(|e| ApiError::from_service(e, op))
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "phoneverify",
        description = "Phone numbers of an identity platform's users, verified by SMS codes. Wire-compatible with \
                       ZITADEL's user phone API (auth v1, management v1, user service v2). The v2 phone routes are \
                       also served under /v2beta with the same shapes. Errors are `{code, message, details}` with \
                       gRPC codes; see the ErrorBody schema.",
        version = env!("CARGO_PKG_VERSION")
    ),
    modifiers(&BearerScheme),
    components(schemas(error::ErrorBody, error::ErrorDetail))
)]
struct ApiDoc;

/// Every documented route: the OpenAPI document is generated from this table, so a route cannot exist
/// without its spec.
fn documented() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(
            v1_auth::get_my_phone,
            v1_auth::set_my_phone,
            v1_auth::remove_my_phone
        ))
        .routes(routes!(v1_auth::verify_my_phone))
        .routes(routes!(v1_auth::resend_my_phone_verification))
        .routes(routes!(v1_auth::get_my_user))
        .routes(routes!(
            v1_management::get_human_phone,
            v1_management::update_human_phone,
            v1_management::remove_human_phone
        ))
        .routes(routes!(v1_management::resend_human_phone_verification))
        .routes(routes!(v1_management::add_machine_user))
        .routes(routes!(v1_management::add_personal_access_token))
        .routes(routes!(v1_management::remove_personal_access_token))
        .routes(routes!(oauth::generate_machine_secret))
        .routes(routes!(oauth::add_machine_key))
        .routes(routes!(v1_management::add_org_member))
        .routes(routes!(v1_changes::list_user_changes))
        .routes(routes!(admin::add_iam_member))
        .routes(routes!(v2_user::set_phone, v2_user::remove_phone))
        .routes(routes!(v2_user::resend_phone_code))
        .routes(routes!(v2_user::verify_phone))
        .routes(routes!(v2_user::add_human_user))
        .routes(routes!(v2_user::get_user_by_id, v2_user::delete_user))
        .routes(routes!(v2_user::deactivate_user))
        .routes(routes!(v2_user::reactivate_user))
        .routes(routes!(v2_org::add_organization))
        .routes(routes!(health::healthz))
        .routes(routes!(health::readyz))
        .routes(routes!(health::jwks))
}

/// The OpenAPI document, as served at /openapi.json and checked in as openapi/openapi.json.
pub fn openapi() -> utoipa::openapi::OpenApi {
    openapi_doc::finish(documented().split_for_parts().1)
}

/// The deprecated v2beta paths of the phone API: same handlers and shapes as v2.
fn v2beta() -> Router<AppState> {
    Router::new()
        .route(
            "/v2beta/users/{userId}/phone",
            post(v2_user::set_phone).delete(v2_user::remove_phone),
        )
        .route(
            "/v2beta/users/{userId}/phone/resend",
            post(v2_user::resend_phone_code),
        )
        .route(
            "/v2beta/users/{userId}/phone/verify",
            post(v2_user::verify_phone),
        )
}

/// The REST routes for in-process calls from the RPC services: no docs, no fallback, no request span.
pub fn in_process_router(state: AppState) -> Router {
    let (api, _) = documented().split_for_parts();
    layers::in_process(api.merge(v2beta())).with_state(state)
}

pub fn router(state: AppState) -> Router {
    let (api, doc) = documented().split_for_parts();
    let doc = openapi_doc::finish(doc);
    let timeout = state.config.http.request_timeout;
    let body_limit = state.config.http.max_body_bytes;
    let app = api
        .merge(v2beta())
        .route("/metrics", get(metrics::metrics))
        // OAuth's own shapes (a form in, RFC 6749 JSON out), for OAuth clients rather than SDK generators.
        .route(
            "/.well-known/openid-configuration",
            get(oauth::openid_configuration),
        )
        .route("/oauth/v2/token", post(oauth::token))
        .merge(
            SwaggerUi::new("/docs")
                .url("/openapi.json", doc)
                // Relative to /docs/, so the UI finds the document behind a path prefix too.
                .config(Config::new(["../openapi.json"])),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed);
    let metrics = state.metrics.clone();
    layers::around(app, timeout, body_limit, metrics).with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::not_found_route()
}

async fn method_not_allowed() -> ApiError {
    ApiError::method_not_allowed()
}
