//! Auth API v1: the caller's own phone. The user is always the caller; `x-zitadel-orgid` does not change that.

use axum::Json;
use axum::extract::State;

use super::OrApi;
use super::code_times::WithCodeTimes;
use super::error::{ApiError, ErrorBody, Op};
use super::extract::{ApiJson, AppState, Auth, OrgHeader, check_len_between, check_prefix};
use super::types::{
    DetailsResponse, Empty, GetMyUserResponse, GetPhoneV1Response, SetMyPhoneRequest, UserV1,
    VerifyMyPhoneRequest,
};
use super::v1_phone;

const TAG: &str = "Auth API v1";

/// The caller's phone number and whether it is verified.
#[utoipa::path(get, path = "/auth/v1/users/me/phone", tag = TAG, security(("bearer" = [])),
    responses((status = 200, body = GetPhoneV1Response), (status = "default", description = "Error", body = ErrorBody)))]
pub async fn get_my_phone(
    State(s): State<AppState>,
    Auth(caller): Auth,
    org: OrgHeader,
) -> Result<Json<GetPhoneV1Response>, ApiError> {
    let target = s
        .me_target(&caller, org.as_deref())
        .await
        .api(Op::V1GetPhone)?;
    v1_phone::get(&s, &target).await
}

/// Sets the caller's phone; it becomes unverified and a code is sent by SMS.
#[utoipa::path(put, path = "/auth/v1/users/me/phone", tag = TAG, security(("bearer" = [])), request_body = SetMyPhoneRequest,
    responses((status = 200, body = DetailsResponse), (status = "default", description = "Error", body = ErrorBody)))]
pub async fn set_my_phone(
    State(s): State<AppState>,
    Auth(caller): Auth,
    org: OrgHeader,
    ApiJson(req): ApiJson<SetMyPhoneRequest>,
) -> Result<WithCodeTimes<Json<DetailsResponse>>, ApiError> {
    check_len_between("SetMyPhoneRequest", "Phone", &req.phone, 1, 50)?;
    check_prefix("SetMyPhoneRequest", "Phone", &req.phone, "+")?;
    let target = s
        .me_target(&caller, org.as_deref())
        .await
        .api(Op::V1SetPhone)?;
    v1_phone::set(&s, &caller, &target, &req.phone, false).await
}

/// Removes the caller's phone number.
#[utoipa::path(delete, path = "/auth/v1/users/me/phone", tag = TAG, security(("bearer" = [])),
    responses((status = 200, body = DetailsResponse), (status = "default", description = "Error", body = ErrorBody)))]
pub async fn remove_my_phone(
    State(s): State<AppState>,
    Auth(caller): Auth,
    org: OrgHeader,
) -> Result<Json<DetailsResponse>, ApiError> {
    let target = s
        .me_target(&caller, org.as_deref())
        .await
        .api(Op::V1RemovePhone)?;
    v1_phone::remove(&s, &caller, &target).await
}

/// Verifies the caller's phone with the code from the SMS.
#[utoipa::path(post, path = "/auth/v1/users/me/phone/_verify", tag = TAG, security(("bearer" = [])), request_body = VerifyMyPhoneRequest,
    responses((status = 200, body = DetailsResponse), (status = "default", description = "Error", body = ErrorBody)))]
pub async fn verify_my_phone(
    State(s): State<AppState>,
    Auth(caller): Auth,
    org: OrgHeader,
    ApiJson(req): ApiJson<VerifyMyPhoneRequest>,
) -> Result<Json<DetailsResponse>, ApiError> {
    check_len_between("VerifyMyPhoneRequest", "Code", &req.code, 1, 200)?;
    let target = s
        .me_target(&caller, org.as_deref())
        .await
        .api(Op::V1Verify)?;
    let written = s
        .verify_v1(&caller, &target, &req.code)
        .await
        .api(Op::V1Verify)?;
    Ok(Json(DetailsResponse::changed(&written)))
}

/// Sends a new code to the caller's unverified phone; the previous code stops working.
#[utoipa::path(post, path = "/auth/v1/users/me/phone/_resend_verification", tag = TAG, security(("bearer" = [])), request_body = Empty,
    responses((status = 200, body = DetailsResponse), (status = "default", description = "Error", body = ErrorBody)))]
pub async fn resend_my_phone_verification(
    State(s): State<AppState>,
    Auth(caller): Auth,
    org: OrgHeader,
    ApiJson(_empty): ApiJson<Empty>,
) -> Result<WithCodeTimes<Json<DetailsResponse>>, ApiError> {
    let target = s
        .me_target(&caller, org.as_deref())
        .await
        .api(Op::V1Resend)?;
    v1_phone::resend(&s, &caller, &target).await
}

/// The caller's own user.
#[utoipa::path(get, path = "/auth/v1/users/me", tag = TAG, security(("bearer" = [])),
    responses((status = 200, body = GetMyUserResponse), (status = "default", description = "Error", body = ErrorBody)))]
pub async fn get_my_user(
    State(s): State<AppState>,
    Auth(caller): Auth,
    org: OrgHeader,
) -> Result<Json<GetMyUserResponse>, ApiError> {
    s.me_target(&caller, org.as_deref()).await.api(Op::Other)?;
    let user = s.me(&caller).await.api(Op::Other)?;
    Ok(Json(GetMyUserResponse {
        user: UserV1::of(&user),
    }))
}
