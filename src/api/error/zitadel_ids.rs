//! ZITADEL's error IDs: which gRPC code, ID and text each outcome gets, per API and operation. The only
//! table of them; IDs and texts are ZITADEL's (see docs/zitadel-error-reference.md) so that clients
//! matching on them keep working.

use super::{ApiError, Code};
use crate::domain::DomainError;
use crate::service::{AuthFailure, ServiceError};

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

const COOLDOWN_ID: &str = "PHONE-c0oLd";
const COOLDOWN_TEXT: &str = "A code was sent moments ago, wait before requesting another";

impl ApiError {
    /// Maps a refused or failed command. The cause of a 5xx answer goes with it, for `log_server_errors`.
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
            // Our own ID: ZITADEL has no per-organization budget.
            ServiceError::OrgBudgetSpent { retry_after_secs } => Self::rate_limited(
                "PHONE-0rgBd",
                "The organization's SMS budget for today is spent",
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
            e @ ServiceError::Unavailable(_) => Self::unavailable().caused_by(e),
            e @ (ServiceError::Internal { .. } | ServiceError::JobLeaseLost) => {
                Self::internal().caused_by(e)
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
            // Our own IDs: ZITADEL sends to any number.
            D::PhoneRegionNotAllowed => (
                InvalidArgument,
                "PHONE-r3g1n",
                "Codes are not sent to numbers of this country",
            ),
            D::PhoneTypeNotAllowed => (
                InvalidArgument,
                "PHONE-tyP3s",
                "Codes are not sent to this kind of number (premium-rate, shared-cost, toll-free, landline, ...)",
            ),
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
            // Our own ID: ZITADEL lets an instance lock itself out here.
            D::LastInstanceOwner => (
                FailedPrecondition,
                "USER-L4st0",
                "The last active instance owner cannot be deactivated or deleted",
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
}
