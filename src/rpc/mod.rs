//! ZITADEL's gRPC services over Connect, gRPC and gRPC-web, on the same listener as the REST API.
//!
//! One implementation: every RPC is answered by the REST handler of the same call (`transcode`), so the
//! permission checks, request validation, error codes and error IDs are those of REST by construction. The
//! messages are generated at build time from `proto/` (see build.rs); grpc.health.v1 and gRPC server
//! reflection (v1 and v1alpha) are served beside them, and gRPC-web's text mode is translated in `web_text`.

mod errors;
mod services;
mod transcode;
mod web_text;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use connectrpc::{ConnectRpcService, DeadlinePolicy, Limits};

pub use self::transcode::Rest;

/// The generated messages and service traits.
pub mod proto {
    connectrpc::include_generated!();
}

/// Every .proto file we serve, with its imports, as a serialized FileDescriptorSet (for reflection).
pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/descriptors.bin"));

/// The fully qualified names of the services answered here, as clients address them.
pub const SERVICES: &[&str] = &[
    proto::zitadel::user::v2::USER_SERVICE_SERVICE_NAME,
    proto::zitadel::user::v2beta::USER_SERVICE_SERVICE_NAME,
    proto::zitadel::auth::v1::AUTH_SERVICE_SERVICE_NAME,
    proto::zitadel::management::v1::MANAGEMENT_SERVICE_SERVICE_NAME,
    proto::zitadel::admin::v1::ADMIN_SERVICE_SERVICE_NAME,
    proto::zitadel::org::v2::ORGANIZATION_SERVICE_SERVICE_NAME,
];

const HEALTH_SERVICE: &str = "grpc.health.v1.Health";
const REFLECTION_SERVICES: [&str; 2] = [
    "grpc.reflection.v1.ServerReflection",
    "grpc.reflection.v1alpha.ServerReflection",
];

/// How big a request message may be and how long a call may take when the client names no deadline: the
/// REST API's limits, so the protocol chosen changes neither.
#[derive(Debug, Clone, Copy)]
pub struct RpcLimits {
    pub max_message_bytes: usize,
    pub default_timeout: Duration,
}

/// The axum routes of every RPC service, answered by `rest` (the REST routes without their outer layers).
pub fn routes(rest: Rest, limits: RpcLimits, metrics: Arc<crate::metrics::Metrics>) -> Router {
    let router = services::register(Arc::new(rest), connectrpc::Router::new());
    let (router, _health) = connectrpc_health::install_static(router, SERVICES.iter().copied());
    // The set is embedded at build time, so this fails only with a broken build; the API still serves.
    let router = match connectrpc_reflection::Reflector::from_descriptor_set_bytes(
        FILE_DESCRIPTOR_SET,
    ) {
        Ok(reflector) => connectrpc_reflection::install(router, reflector),
        Err(e) => {
            tracing::error!(error = %e, "gRPC reflection is off: the embedded descriptor set does not load");
            router
        }
    };
    let service = ConnectRpcService::new(router)
        .with_limits(
            Limits::default()
                .with_max_message_size(limits.max_message_bytes)
                .with_max_request_body_size(limits.max_message_bytes.saturating_add(16)),
        )
        .with_deadline_policy(DeadlinePolicy::new().with_default_timeout(limits.default_timeout));
    // Only the paths of the services we serve reach the RPC stack; anything else stays with the REST
    // fallback, which answers in the API's error format.
    let mut app = Router::new();
    for name in SERVICES
        .iter()
        .copied()
        .chain([HEALTH_SERVICE])
        .chain(REFLECTION_SERVICES)
    {
        app = app.route_service(&format!("/{name}/{{method}}"), service.clone());
    }
    crate::api::request_log::around(
        app.layer(axum::middleware::from_fn_with_state(
            limits.max_message_bytes,
            web_text::translate,
        )),
        metrics,
    )
}
