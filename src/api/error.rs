//! The only place where outcomes become gRPC codes, error IDs and HTTP statuses. IDs and texts are
//! ZITADEL's (see docs/zitadel-error-reference.md) so that clients matching on them keep working.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::DomainError;
use crate::service::{AuthFailure, ServiceError};

/// gRPC status codes used by the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Code {
    InvalidArgument = 3,
    DeadlineExceeded = 4,
    NotFound = 5,
    AlreadyExists = 6,
    PermissionDenied = 7,
    ResourceExhausted = 8,
    FailedPrecondition = 9,
    Aborted = 10,
    Unimplemented = 12,
    Internal = 13,
    Unavailable = 14,
    Unauthenticated = 16,
}

impl Code {
    /// grpc-gateway's mapping.
    pub fn http_status(self) -> StatusCode {
        match self {
            Code::InvalidArgument | Code::FailedPrecondition => StatusCode::BAD_REQUEST,
            Code::DeadlineExceeded => StatusCode::GATEWAY_TIMEOUT,
            Code::NotFound => StatusCode::NOT_FOUND,
            Code::AlreadyExists | Code::Aborted => StatusCode::CONFLICT,
            Code::PermissionDenied => StatusCode::FORBIDDEN,
            Code::ResourceExhausted => StatusCode::TOO_MANY_REQUESTS,
            Code::Unimplemented => StatusCode::NOT_IMPLEMENTED,
            Code::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            Code::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Code::Unauthenticated => StatusCode::UNAUTHORIZED,
        }
    }
}

/// Which call failed: the same outcome has a different ID (and sometimes code) per API and operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    V1GetPhone,
    V1SetPhone,
    V1RemovePhone,
    V1Verify,
    V1Resend,
    V2SetPhone,
    V2Resend,
    V2Verify,
    V2RemovePhone,
    V2GetUser,
    V2AddHuman,
    V2Deactivate,
    V2Reactivate,
    V2Delete,
    V2AddOrg,
    OrgMember,
    IamMember,
    AddMachine,
    AddPat,
    RemovePat,
    Other,
}

impl Op {
    fn is_v1(self) -> bool {
        matches!(
            self,
            Op::V1GetPhone | Op::V1SetPhone | Op::V1RemovePhone | Op::V1Verify | Op::V1Resend
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub code: Code,
    pub id: Option<&'static str>,
    pub message: String,
    /// For 405, which keeps its HTTP status although its code is 12.
    pub status_override: Option<StatusCode>,
    /// Seconds to send as `Retry-After` (with code 8).
    pub retry_after: Option<u64>,
}

/// `{code, message, details}` as grpc-gateway writes a `google.rpc.Status`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// gRPC status code.
    pub code: i32,
    /// Human text followed by the error ID in parentheses.
    pub message: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub details: Vec<ErrorDetail>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    #[serde(rename = "@type")]
    pub type_url: &'static str,
    pub id: &'static str,
    pub message: String,
}

const COOLDOWN_ID: &str = "PHONE-c0oLd";
const COOLDOWN_TEXT: &str = "A code was sent moments ago, wait before requesting another";

const ERROR_DETAIL_TYPE: &str = "type.googleapis.com/zitadel.v1.ErrorDetail";

impl ApiError {
    pub fn new(code: Code, id: &'static str, message: impl Into<String>) -> Self {
        Self {
            code,
            id: Some(id),
            message: message.into(),
            status_override: None,
            retry_after: None,
        }
    }

    /// A request-shape error (as protobuf validation): code 3, a message naming the field, no ID.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self {
            code: Code::InvalidArgument,
            id: None,
            message: message.into(),
            status_override: None,
            retry_after: None,
        }
    }

    pub fn not_found_route() -> Self {
        Self {
            code: Code::NotFound,
            id: None,
            message: "Not Found".into(),
            status_override: None,
            retry_after: None,
        }
    }

    pub fn method_not_allowed() -> Self {
        Self {
            code: Code::Unimplemented,
            id: None,
            message: "Method Not Allowed".into(),
            status_override: Some(StatusCode::METHOD_NOT_ALLOWED),
            retry_after: None,
        }
    }

    pub fn timeout() -> Self {
        Self::new(Code::DeadlineExceeded, "API-Tm0ut", "Request took too long")
    }

    pub fn internal() -> Self {
        Self::new(Code::Internal, "API-Int3r", "Internal error")
    }

    pub fn unavailable() -> Self {
        Self::new(
            Code::Unavailable,
            "STORE-Unav1",
            "Service is unavailable, try again later",
        )
    }

    pub fn body(&self) -> ErrorBody {
        let (message, details) = match self.id {
            Some(id) => (
                format!("{} ({id})", self.message),
                vec![ErrorDetail {
                    type_url: ERROR_DETAIL_TYPE,
                    id,
                    message: self.message.clone(),
                }],
            ),
            None => (self.message.clone(), vec![]),
        };
        ErrorBody {
            code: self.code as i32,
            message,
            details,
        }
    }

    /// Maps a refused or failed command. Causes of 5xx answers are logged here, once, in the request's span.
    pub fn from_service(err: ServiceError, op: Op) -> Self {
        match err {
            ServiceError::Domain(e) => Self::from_domain(e, op),
            ServiceError::Unauthenticated(reason) => {
                let message = match reason {
                    AuthFailure::HeaderMissing => "auth header missing",
                    AuthFailure::InvalidHeader => "invalid auth header",
                    AuthFailure::Token(_)
                    | AuthFailure::UserNotActive(_)
                    | AuthFailure::PatRemoved(_) => {
                        tracing::info!(%reason, "request refused: token is invalid");
                        "Token is invalid"
                    }
                };
                Self::new(Code::Unauthenticated, "AUTH-7fs1e", message)
            }
            ServiceError::OrgFromHeaderNotFound => Self::new(
                Code::PermissionDenied,
                "AUTH-Bs7Ds",
                "Organisation doesn't exist",
            ),
            ServiceError::DailyCapReached { retry_after_secs } => Self::rate_limited(
                "PHONE-d4iLy",
                "Too many codes were sent to this number today",
                retry_after_secs,
            ),
            ServiceError::NoSmsProvider => Self::new(
                Code::FailedPrecondition,
                "SMS-n0Pr0v",
                "No SMS provider is active; the code cannot be sent",
            ),
            ServiceError::Aborted => {
                tracing::warn!("command gave up after repeated concurrent modifications");
                Self::new(
                    Code::Aborted,
                    "STORE-Abrt1",
                    "The user was changed concurrently, please retry",
                )
            }
            ServiceError::Unavailable(cause) => {
                tracing::error!(%cause, "database unavailable");
                Self::unavailable()
            }
            cause @ (ServiceError::Internal { .. } | ServiceError::JobLeaseLost) => {
                tracing::error!(%cause, "internal error");
                Self::internal()
            }
        }
    }

    /// 8 RESOURCE_EXHAUSTED (429) with `Retry-After`.
    fn rate_limited(id: &'static str, message: &str, retry_after_secs: u64) -> Self {
        Self {
            retry_after: Some(retry_after_secs),
            ..Self::new(Code::ResourceExhausted, id, message)
        }
    }

    fn from_domain(e: DomainError, op: Op) -> Self {
        use Code::*;
        use DomainError as D;
        let v1 = op.is_v1();
        let (code, id, message): (Code, &'static str, &str) = match e {
            D::UserNotFound => match op {
                Op::V1GetPhone => (NotFound, "QUERY-DAvb3", "User could not be found"),
                Op::V1SetPhone => (
                    FailedPrecondition,
                    "COMMAND-3M0fs",
                    "User could not be found",
                ),
                Op::V1RemovePhone => (
                    FailedPrecondition,
                    "COMMAND-3M9fs",
                    "User could not be found",
                ),
                Op::V1Verify => (
                    FailedPrecondition,
                    "COMMAND-Rsj8c",
                    "User could not be found",
                ),
                Op::V1Resend => (
                    FailedPrecondition,
                    "COMMAND-2M0fs",
                    "User could not be found",
                ),
                // v2's phone commands call a missing user "Phone not found".
                Op::V2SetPhone | Op::V2Resend | Op::V2Verify | Op::V2RemovePhone => {
                    (NotFound, "COMMAND-ieJ2e", "Phone not found")
                }
                Op::V2GetUser => (NotFound, "QUERY-Dfbg2", "User could not be found"),
                Op::V2Deactivate => (NotFound, "COMMAND-5gp2p62iin", "User could not be found"),
                Op::V2Reactivate => (NotFound, "COMMAND-9hy5kzbuk6", "User could not be found"),
                Op::V2Delete => (NotFound, "COMMAND-bd4ir1mblj", "User could not be found"),
                Op::OrgMember | Op::V2AddOrg => {
                    (FailedPrecondition, "ORG-GoXOn", "User could not be found")
                }
                Op::IamMember => (FailedPrecondition, "INSTA-GSXOn", "User could not be found"),
                Op::AddPat => (
                    FailedPrecondition,
                    "COMMAND-Dggw2",
                    "User could not be found",
                ),
                _ => (NotFound, "QUERY-DAvb3", "User could not be found"),
            },
            D::UserNotHuman => (
                FailedPrecondition,
                "QUERY-hliQl",
                "The User must be personal",
            ),
            D::PhoneEmpty => (InvalidArgument, "PHONE-Zt0NV", "Phone is empty"),
            D::PhoneInvalid => (InvalidArgument, "PHONE-so0wa", "Phone is invalid"),
            D::PhoneNotChanged if v1 => (FailedPrecondition, "COMMAND-wF94r", "Phone not changed"),
            D::PhoneNotChanged => (FailedPrecondition, "COMMAND-Uch5e", "Phone not changed"),
            D::PhoneNotFound => match op {
                Op::V1Resend => (NotFound, "COMMAND-2b7Hf", "Phone not found"),
                Op::V1RemovePhone => (NotFound, "COMMAND-p6rsc", "Phone not found"),
                _ => (NotFound, "COMMAND-ieJ2e", "Phone not found"),
            },
            D::PhoneAlreadyVerified => (
                FailedPrecondition,
                "COMMAND-2M9sf",
                "Phone already verified",
            ),
            D::CodeEmpty if v1 => (InvalidArgument, "COMMAND-wMe9f", "Code is empty"),
            D::CodeEmpty => (InvalidArgument, "COMMAND-Fia4a", "Code is empty"),
            D::NoCode => match op {
                Op::V1Verify => (NotFound, "COMMAND-Rsj8c", "Code not found"),
                Op::V2Verify => (InvalidArgument, "COMMAND-eis9R", "Code is invalid"),
                _ => (FailedPrecondition, "PHONE-5xrra88eq8", "Code is empty"),
            },
            D::CodeInvalid if v1 => (InvalidArgument, "COMMAND-sM0cs", "Code is invalid"),
            D::CodeInvalid => (InvalidArgument, "COMMAND-eis9R", "Code is invalid"),
            D::ResendTooSoon { retry_after_secs } => {
                return Self::rate_limited(COOLDOWN_ID, COOLDOWN_TEXT, retry_after_secs);
            }
            D::TooManyAttempts => (
                FailedPrecondition,
                "PHONE-aTt3m",
                "Too many attempts, request a new code",
            ),
            D::PermissionDenied => (
                PermissionDenied,
                "AUTH-5mWD2",
                "No matching permissions found",
            ),
            D::UsernameTaken => (AlreadyExists, "V3-DKcYh", "User already exists"),
            D::UserIdTaken => (
                FailedPrecondition,
                "COMMAND-7yiox1isql",
                "User already exists",
            ),
            D::UsernameInvalid => (InvalidArgument, "V2-zzad3", "Username is empty or too long"),
            D::GivenNameMissing => (
                InvalidArgument,
                "USER-UCej2",
                "Given name in profile is empty",
            ),
            D::FamilyNameMissing => (
                InvalidArgument,
                "USER-4hB7d",
                "Family name in profile is empty",
            ),
            D::EmailEmpty => (InvalidArgument, "EMAIL-spblu", "Email is empty"),
            D::EmailInvalid => (InvalidArgument, "EMAIL-599BI", "Email is invalid"),
            D::OrgNotFound => (
                FailedPrecondition,
                "COMMAND-QXPGs",
                "Organisation not found",
            ),
            D::OrgNameEmpty => (InvalidArgument, "ORG-mruNY", "Organisation name is empty"),
            D::OrgNameTaken => (
                AlreadyExists,
                "V3-DKcYh",
                "Organisation's name or id already taken",
            ),
            D::UserAlreadyInactive => (
                FailedPrecondition,
                "COMMAND-5gunjw0cd7",
                "User already inactive",
            ),
            D::UserNotInactive => (
                FailedPrecondition,
                "COMMAND-s5qqcz97hf",
                "User is not inactive",
            ),
            D::RolesMissing => (InvalidArgument, "ORG-4Mlfs", "Roles are missing"),
            D::InvalidRoles if op == Op::IamMember => {
                (InvalidArgument, "INSTANCE-4m0fS", "Member is invalid")
            }
            D::InvalidRoles => (InvalidArgument, "Org-4N8es", "Member is invalid"),
            D::MemberAlreadyExists if op == Op::IamMember => {
                (AlreadyExists, "INSTA-pFDwe", "Member already exists")
            }
            D::MemberAlreadyExists => (AlreadyExists, "ORG-poWwe", "Member already exists"),
            D::NotMachineUser => (
                FailedPrecondition,
                "COMMAND-Df2f1",
                "The user has the wrong type",
            ),
            D::ExpirationInPast => (
                InvalidArgument,
                "DOMAIN-dv3t5",
                "Expiration date is in the past",
            ),
            D::PatNotFound => (NotFound, "COMMAND-4m77G", "Personal Access Token not found"),
            D::MachineNameMissing => (InvalidArgument, "USER-Mach1", "Name is empty"),
        };
        Self::new(code, id, message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self
            .status_override
            .unwrap_or_else(|| self.code.http_status());
        let mut response = (status, Json(self.body())).into_response();
        if let Some(secs) = self.retry_after
            && let Ok(value) = HeaderValue::from_str(&secs.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        if self.code == Code::Unauthenticated {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapped(e: DomainError, op: Op) -> (i32, u16, Option<&'static str>) {
        let a = ApiError::from_service(ServiceError::Domain(e), op);
        (a.code as i32, a.code.http_status().as_u16(), a.id)
    }

    #[test]
    fn the_same_outcome_speaks_each_apis_dialect() {
        assert_eq!(
            mapped(DomainError::UserNotFound, Op::V1Resend),
            (9, 400, Some("COMMAND-2M0fs"))
        );
        assert_eq!(
            mapped(DomainError::UserNotFound, Op::V2Resend),
            (5, 404, Some("COMMAND-ieJ2e"))
        );
        assert_eq!(
            mapped(DomainError::PhoneNotChanged, Op::V1SetPhone),
            (9, 400, Some("COMMAND-wF94r"))
        );
        assert_eq!(
            mapped(DomainError::PhoneNotChanged, Op::V2SetPhone),
            (9, 400, Some("COMMAND-Uch5e"))
        );
        assert_eq!(
            mapped(DomainError::NoCode, Op::V2Resend),
            (9, 400, Some("PHONE-5xrra88eq8"))
        );
        assert_eq!(
            mapped(DomainError::NoCode, Op::V1Verify),
            (5, 404, Some("COMMAND-Rsj8c"))
        );
        assert_eq!(
            mapped(DomainError::NoCode, Op::V2Verify),
            (3, 400, Some("COMMAND-eis9R"))
        );
        assert_eq!(
            mapped(DomainError::CodeInvalid, Op::V1Verify),
            (3, 400, Some("COMMAND-sM0cs"))
        );
        assert_eq!(
            mapped(DomainError::PhoneNotFound, Op::V1Resend),
            (5, 404, Some("COMMAND-2b7Hf"))
        );
        assert_eq!(
            mapped(DomainError::PermissionDenied, Op::V2Resend),
            (7, 403, Some("AUTH-5mWD2"))
        );
    }

    #[test]
    fn body_has_message_with_id_and_a_detail() {
        let body = serde_json::to_value(
            ApiError::new(
                Code::FailedPrecondition,
                "PHONE-5xrra88eq8",
                "Code is empty",
            )
            .body(),
        )
        .unwrap();
        assert_eq!(
            body,
            serde_json::json!({"code": 9, "message": "Code is empty (PHONE-5xrra88eq8)",
                "details": [{"@type": "type.googleapis.com/zitadel.v1.ErrorDetail", "id": "PHONE-5xrra88eq8", "message": "Code is empty"}]})
        );
        let plain = serde_json::to_value(ApiError::invalid("invalid field").body()).unwrap();
        assert_eq!(
            plain,
            serde_json::json!({"code": 3, "message": "invalid field"})
        );
    }

    #[test]
    fn status_codes_follow_grpc_gateway() {
        let table = [
            (Code::InvalidArgument, 400),
            (Code::DeadlineExceeded, 504),
            (Code::NotFound, 404),
            (Code::AlreadyExists, 409),
            (Code::PermissionDenied, 403),
            (Code::ResourceExhausted, 429),
            (Code::FailedPrecondition, 400),
            (Code::Aborted, 409),
            (Code::Unimplemented, 501),
            (Code::Internal, 500),
            (Code::Unavailable, 503),
            (Code::Unauthenticated, 401),
        ];
        for (code, status) in table {
            assert_eq!(code.http_status().as_u16(), status, "{code:?}");
        }
        let r = ApiError::method_not_allowed().into_response();
        assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    }

    #[test]
    fn internal_causes_are_not_returned() {
        let a = ApiError::from_service(
            ServiceError::internal("syntax error near SELECT password"),
            Op::Other,
        );
        assert!(!serde_json::to_string(&a.body()).unwrap().contains("SELECT"));
        let a = ApiError::from_service(
            ServiceError::Unavailable(crate::store::StoreError::Unavailable(
                "connection refused 10.0.0.1".into(),
            )),
            Op::Other,
        );
        assert_eq!(a.code, Code::Unavailable);
        assert!(!a.message.contains("refused"));
    }
}
