//! Which REST route answers each RPC. A line per call: the RPC, its HTTP method and path, and the request
//! fields that fill the path's `{}` in order.

use std::sync::Arc;

use axum::http::Method;
use connectrpc::{RequestContext, ServiceRequest, ServiceResult};

use super::proto::zitadel::{admin, auth, management, org, user};
use super::transcode::{Rest, segment};

/// Implements a generated service trait for [`Rest`] from a table of calls.
macro_rules! answered_by_rest {
    ($service:path { $( $rpc:ident($request:ident) -> $response:ident = $verb:ident $path:literal $(, $field:ident)*; )* }) => {
        // The generated traits return `impl Encodable<_>`; the concrete message is one.
        #[allow(refining_impl_trait)]
        impl $service for Rest {
            $(
                async fn $rpc(
                    &self,
                    ctx: RequestContext,
                    request: ServiceRequest<'_, $request>,
                ) -> ServiceResult<$response> {
                    let request: $request = request.to_owned_message();
                    let path = format!(
                        $path
                        $(, segment(stringify!($request), stringify!($field), &request.$field)?)*
                    );
                    self.call::<_, $response>(&ctx, Method::$verb, path, &request).await
                }
            )*
        }
    };
}

/// User service v2 and its deprecated v2beta twin have the same calls and routes.
macro_rules! user_service {
    ($version:ident) => {
        mod $version {
            use super::*;
            use crate::rpc::proto::zitadel::user::$version::*;

            answered_by_rest!(UserService {
                add_human_user(AddHumanUserRequest) -> AddHumanUserResponse = POST "/v2/users/human";
                get_user_by_id(GetUserByIDRequest) -> GetUserByIDResponse = GET "/v2/users/{}", user_id;
                set_phone(SetPhoneRequest) -> SetPhoneResponse = POST "/v2/users/{}/phone", user_id;
                remove_phone(RemovePhoneRequest) -> RemovePhoneResponse = DELETE "/v2/users/{}/phone", user_id;
                resend_phone_code(ResendPhoneCodeRequest) -> ResendPhoneCodeResponse = POST "/v2/users/{}/phone/resend", user_id;
                verify_phone(VerifyPhoneRequest) -> VerifyPhoneResponse = POST "/v2/users/{}/phone/verify", user_id;
                deactivate_user(DeactivateUserRequest) -> DeactivateUserResponse = POST "/v2/users/{}/deactivate", user_id;
                reactivate_user(ReactivateUserRequest) -> ReactivateUserResponse = POST "/v2/users/{}/reactivate", user_id;
                delete_user(DeleteUserRequest) -> DeleteUserResponse = DELETE "/v2/users/{}", user_id;
            });
        }
    };
}

user_service!(v2);
user_service!(v2beta);

mod auth_v1 {
    use super::*;
    use crate::rpc::proto::zitadel::auth::v1::*;

    answered_by_rest!(AuthService {
        get_my_user(GetMyUserRequest) -> GetMyUserResponse = GET "/auth/v1/users/me";
        get_my_phone(GetMyPhoneRequest) -> GetMyPhoneResponse = GET "/auth/v1/users/me/phone";
        set_my_phone(SetMyPhoneRequest) -> SetMyPhoneResponse = PUT "/auth/v1/users/me/phone";
        verify_my_phone(VerifyMyPhoneRequest) -> VerifyMyPhoneResponse = POST "/auth/v1/users/me/phone/_verify";
        resend_my_phone_verification(ResendMyPhoneVerificationRequest) -> ResendMyPhoneVerificationResponse = POST "/auth/v1/users/me/phone/_resend_verification";
        remove_my_phone(RemoveMyPhoneRequest) -> RemoveMyPhoneResponse = DELETE "/auth/v1/users/me/phone";
    });
}

mod management_v1 {
    use super::*;
    use crate::rpc::proto::zitadel::management::v1::*;

    answered_by_rest!(ManagementService {
        add_machine_user(AddMachineUserRequest) -> AddMachineUserResponse = POST "/management/v1/users/machine";
        get_human_phone(GetHumanPhoneRequest) -> GetHumanPhoneResponse = GET "/management/v1/users/{}/phone", user_id;
        update_human_phone(UpdateHumanPhoneRequest) -> UpdateHumanPhoneResponse = PUT "/management/v1/users/{}/phone", user_id;
        remove_human_phone(RemoveHumanPhoneRequest) -> RemoveHumanPhoneResponse = DELETE "/management/v1/users/{}/phone", user_id;
        resend_human_phone_verification(ResendHumanPhoneVerificationRequest) -> ResendHumanPhoneVerificationResponse = POST "/management/v1/users/{}/phone/_resend_verification", user_id;
        add_personal_access_token(AddPersonalAccessTokenRequest) -> AddPersonalAccessTokenResponse = POST "/management/v1/users/{}/pats", user_id;
        remove_personal_access_token(RemovePersonalAccessTokenRequest) -> RemovePersonalAccessTokenResponse = DELETE "/management/v1/users/{}/pats/{}", user_id, token_id;
        add_org_member(AddOrgMemberRequest) -> AddOrgMemberResponse = POST "/management/v1/orgs/me/members";
        list_user_changes(ListUserChangesRequest) -> ListUserChangesResponse = POST "/management/v1/users/{}/changes/_search", user_id;
    });
}

mod admin_v1 {
    use super::*;
    use crate::rpc::proto::zitadel::admin::v1::*;

    answered_by_rest!(AdminService {
        add_iam_member(AddIAMMemberRequest) -> AddIAMMemberResponse = POST "/admin/v1/members";
    });
}

mod org_v2 {
    use super::*;
    use crate::rpc::proto::zitadel::org::v2::*;

    answered_by_rest!(OrganizationService {
        add_organization(AddOrganizationRequest) -> AddOrganizationResponse = POST "/v2/organizations";
    });
}

/// Adds every service to `router`.
pub(super) fn register(rest: Arc<Rest>, router: connectrpc::Router) -> connectrpc::Router {
    let router = user::v2::UserServiceExt::register(Arc::clone(&rest), router);
    let router = user::v2beta::UserServiceExt::register(Arc::clone(&rest), router);
    let router = auth::v1::AuthServiceExt::register(Arc::clone(&rest), router);
    let router = management::v1::ManagementServiceExt::register(Arc::clone(&rest), router);
    let router = admin::v1::AdminServiceExt::register(Arc::clone(&rest), router);
    org::v2::OrganizationServiceExt::register(rest, router)
}
