//! Management API v1: a user by ID, in the org of `x-zitadel-orgid` (or the caller's org). A user of another
//! org is "not found". The permission is checked first, as ZITADEL's interceptor does.

use axum::Json;
use axum::extract::State;

use super::OrApi;
use super::code_times::WithCodeTimes;
use super::error::{ApiError, ErrorBody, Op};
use super::extract::{
    ApiJson, AppState, Auth, OrgHeader, PatPath, UserIdPath, check_len, check_len_between,
    check_prefix,
};
use super::input::check_custom_user_id;
use super::types::{
    AddMachineUserRequest, AddMemberRequest, AddPersonalAccessTokenRequest,
    AddPersonalAccessTokenResponse, AddUserResponse, Details, DetailsResponse, Empty,
    GetPhoneV1Response, UpdateHumanPhoneRequest,
};
use super::v1_phone;
use crate::domain::permission::{USER_READ, USER_WRITE};
use crate::service::NewMachine;

const TAG: &str = "Management API v1";

/// A user's phone number and whether it is verified. Needs user.read.
#[utoipa::path(get, path = "/management/v1/users/{userId}/phone", tag = TAG, security(("bearer" = [])),
    params(("userId" = String, Path), ("x-zitadel-orgid" = Option<String>, Header, description = "Organization to act in")),
    responses((status = 200, body = GetPhoneV1Response), (status = "default", description = "Error", body = ErrorBody)))]
pub async fn get_human_phone(
    State(s): State<AppState>,
    Auth(caller): Auth,
    org: OrgHeader,
    UserIdPath(user_id): UserIdPath,
) -> Result<Json<GetPhoneV1Response>, ApiError> {
    let target = s
        .managed_target(&caller, org.as_deref(), &user_id, USER_READ)
        .await
        .api(Op::V1GetPhone)?;
    v1_phone::get(&s, &target).await
}

/// Sets a user's phone. With `isPhoneVerified` it is marked verified and no code is sent.
#[utoipa::path(put, path = "/management/v1/users/{userId}/phone", tag = TAG, security(("bearer" = [])), request_body = UpdateHumanPhoneRequest,
    params(("userId" = String, Path), ("x-zitadel-orgid" = Option<String>, Header, description = "Organization to act in")),
    responses((status = 200, body = DetailsResponse), (status = "default", description = "Error", body = ErrorBody)))]
pub async fn update_human_phone(
    State(s): State<AppState>,
    Auth(caller): Auth,
    org: OrgHeader,
    UserIdPath(user_id): UserIdPath,
    ApiJson(req): ApiJson<UpdateHumanPhoneRequest>,
) -> Result<WithCodeTimes<Json<DetailsResponse>>, ApiError> {
    check_len_between("UpdateHumanPhoneRequest", "Phone", &req.phone, 1, 50)?;
    check_prefix("UpdateHumanPhoneRequest", "Phone", &req.phone, "+")?;
    let target = s
        .managed_target(&caller, org.as_deref(), &user_id, USER_WRITE)
        .await
        .api(Op::V1SetPhone)?;
    v1_phone::set(&s, &caller, &target, &req.phone, req.is_phone_verified).await
}

/// Removes a user's phone number. Needs user.write.
#[utoipa::path(delete, path = "/management/v1/users/{userId}/phone", tag = TAG, security(("bearer" = [])),
    params(("userId" = String, Path), ("x-zitadel-orgid" = Option<String>, Header, description = "Organization to act in")),
    responses((status = 200, body = DetailsResponse), (status = "default", description = "Error", body = ErrorBody)))]
pub async fn remove_human_phone(
    State(s): State<AppState>,
    Auth(caller): Auth,
    org: OrgHeader,
    UserIdPath(user_id): UserIdPath,
) -> Result<Json<DetailsResponse>, ApiError> {
    let target = s
        .managed_target(&caller, org.as_deref(), &user_id, USER_WRITE)
        .await
        .api(Op::V1RemovePhone)?;
    v1_phone::remove(&s, &caller, &target).await
}

/// Sends a new code to the user's unverified phone; the previous code stops working.
#[utoipa::path(post, path = "/management/v1/users/{userId}/phone/_resend_verification", tag = TAG, security(("bearer" = [])), request_body = Empty,
    params(("userId" = String, Path), ("x-zitadel-orgid" = Option<String>, Header, description = "Organization to act in")),
    responses((status = 200, body = DetailsResponse), (status = "default", description = "Error", body = ErrorBody)))]
pub async fn resend_human_phone_verification(
    State(s): State<AppState>,
    Auth(caller): Auth,
    org: OrgHeader,
    UserIdPath(user_id): UserIdPath,
    ApiJson(_empty): ApiJson<Empty>,
) -> Result<WithCodeTimes<Json<DetailsResponse>>, ApiError> {
    let target = s
        .managed_target(&caller, org.as_deref(), &user_id, USER_WRITE)
        .await
        .api(Op::V1Resend)?;
    v1_phone::resend(&s, &caller, &target).await
}

/// Adds a machine user (a service account) to the org; `phoneverify token --user-id` issues its tokens.
#[utoipa::path(post, path = "/management/v1/users/machine", tag = TAG, security(("bearer" = [])), request_body = AddMachineUserRequest,
    params(("x-zitadel-orgid" = Option<String>, Header, description = "Organization to act in")),
    responses((status = 200, body = AddUserResponse), (status = "default", description = "Error", body = ErrorBody)))]
pub async fn add_machine_user(
    State(s): State<AppState>,
    Auth(caller): Auth,
    org: OrgHeader,
    ApiJson(req): ApiJson<AddMachineUserRequest>,
) -> Result<Json<AddUserResponse>, ApiError> {
    if req.access_token_type.is_set() {
        return Err(ApiError::unsupported_field(
            "AddMachineUserRequest.AccessTokenType",
        ));
    }
    check_len_between("AddMachineUserRequest", "UserName", &req.user_name, 1, 200)?;
    check_len_between("AddMachineUserRequest", "Name", &req.name, 1, 200)?;
    for (field, value, max) in [
        ("UserId", req.user_id.as_deref().unwrap_or_default(), 200),
        ("Description", &req.description, 500),
    ] {
        check_len("AddMachineUserRequest", field, value, max)?;
    }
    check_custom_user_id("AddMachineUserRequest", req.user_id.as_deref())?;
    let new = NewMachine {
        user_id: req.user_id,
        username: req.user_name,
        name: req.name,
        description: req.description,
    };
    let written = s
        .add_machine(&caller, org.as_deref(), new)
        .await
        .api(Op::AddMachine)?;
    Ok(Json(AddUserResponse {
        user_id: written.user.id.to_string(),
        details: Details::changed(&written),
    }))
}

/// Grants an organization role to a user of the organization. Needs org.member.write.
#[utoipa::path(post, path = "/management/v1/orgs/me/members", tag = TAG, security(("bearer" = [])), request_body = AddMemberRequest,
    params(("x-zitadel-orgid" = Option<String>, Header, description = "Organization to act in")),
    responses((status = 200, body = DetailsResponse), (status = "default", description = "Error", body = ErrorBody)))]
pub async fn add_org_member(
    State(s): State<AppState>,
    Auth(caller): Auth,
    org: OrgHeader,
    ApiJson(req): ApiJson<AddMemberRequest>,
) -> Result<Json<DetailsResponse>, ApiError> {
    let org = s
        .add_org_member(&caller, org.as_deref(), &req.user_id, &req.roles)
        .await
        .api(Op::OrgMember)?;
    Ok(Json(DetailsResponse {
        details: Details::org_changed(&org, false),
    }))
}

/// Adds a personal access token for a machine user of the org; the token is in the response only.
#[utoipa::path(post, path = "/management/v1/users/{userId}/pats", tag = TAG, security(("bearer" = [])), request_body = AddPersonalAccessTokenRequest,
    params(("userId" = String, Path), ("x-zitadel-orgid" = Option<String>, Header, description = "Organization to act in")),
    responses((status = 200, body = AddPersonalAccessTokenResponse), (status = "default", description = "Error", body = ErrorBody)))]
pub async fn add_personal_access_token(
    State(s): State<AppState>,
    Auth(caller): Auth,
    org: OrgHeader,
    UserIdPath(user_id): UserIdPath,
    ApiJson(req): ApiJson<AddPersonalAccessTokenRequest>,
) -> Result<Json<AddPersonalAccessTokenResponse>, ApiError> {
    let (written, token_id, token) = s
        .add_personal_access_token(&caller, org.as_deref(), &user_id, req.expiration_date)
        .await
        .api(Op::AddPat)?;
    Ok(Json(AddPersonalAccessTokenResponse {
        token_id,
        token,
        details: Details::changed(&written),
    }))
}

/// Removes a personal access token; it stops authenticating at once.
#[utoipa::path(delete, path = "/management/v1/users/{userId}/pats/{tokenId}", tag = TAG, security(("bearer" = [])),
    params(("userId" = String, Path), ("tokenId" = String, Path), ("x-zitadel-orgid" = Option<String>, Header, description = "Organization to act in")),
    responses((status = 200, body = DetailsResponse), (status = "default", description = "Error", body = ErrorBody)))]
pub async fn remove_personal_access_token(
    State(s): State<AppState>,
    Auth(caller): Auth,
    org: OrgHeader,
    path: PatPath,
) -> Result<Json<DetailsResponse>, ApiError> {
    let written = s
        .remove_personal_access_token(&caller, org.as_deref(), &path.user_id, &path.token_id)
        .await
        .api(Op::RemovePat)?;
    Ok(Json(DetailsResponse::changed(&written)))
}
