//! User service v2 (also served under /v2beta). Acting on oneself needs no permission, except marking a
//! number verified without a code; acting on others needs user.write in their org.

use axum::Json;
use axum::extract::State;

use super::OrApi;
use super::error::{ApiError, ErrorBody, Op};
use super::extract::{ApiJson, AppState, Auth, OrgHeader, UserIdPath, check_len};
use super::types::{
    AddHumanUserRequest, AddHumanUserResponse, Details, DetailsResponse, GetUserResponse,
    PhoneCodeResponse, ResendPhoneCodeRequest, SetPhoneRequest, UserV2, VerifyPhoneRequest,
};
use crate::domain::user::HumanInput;
use crate::service::{NewHuman, NewHumanPhone, SetPhoneV2, StateChange};

const TAG: &str = "User service v2";

/// The verification choice of a SetPhone request: at most one of the oneof's members, `isVerified` only true.
fn phone_mode(req: &SetPhoneRequest, message: &str) -> Result<SetPhoneV2, ApiError> {
    let chosen = [
        req.send_code.is_some(),
        req.return_code.is_some(),
        req.is_verified.is_some(),
    ];
    if chosen.iter().filter(|c| **c).count() > 1 {
        return Err(ApiError::invalid(format!(
            "invalid {message}: only one of sendCode, returnCode and isVerified may be set"
        )));
    }
    Ok(match (&req.return_code, req.is_verified) {
        (Some(_), _) => SetPhoneV2::ReturnCode,
        (_, Some(true)) => SetPhoneV2::Verified,
        (_, Some(false)) => {
            return Err(ApiError::invalid(format!(
                "invalid {message}.IsVerified: value must equal true"
            )));
        }
        _ => SetPhoneV2::SendCode,
    })
}

/// Sets the phone. `sendCode` (the default) sends a code by SMS, `returnCode` returns it instead,
/// `isVerified: true` marks the number verified.
#[utoipa::path(post, path = "/v2/users/{userId}/phone", tag = TAG, security(("bearer" = [])), request_body = SetPhoneRequest,
    params(("userId" = String, Path)),
    responses((status = 200, body = PhoneCodeResponse), (status = "default", description = "Error", body = ErrorBody)))]
pub async fn set_phone(
    State(s): State<AppState>,
    Auth(caller): Auth,
    org: OrgHeader,
    UserIdPath(user_id): UserIdPath,
    ApiJson(req): ApiJson<SetPhoneRequest>,
) -> Result<Json<PhoneCodeResponse>, ApiError> {
    check_len("SetPhoneRequest", "Phone", &req.phone, 200)?;
    let mode = phone_mode(&req, "SetPhoneRequest")?;
    let (written, code) = s
        .set_phone_v2(&caller, org.as_deref(), &user_id, &req.phone, mode)
        .await
        .api(Op::V2SetPhone)?;
    Ok(Json(PhoneCodeResponse::changed(&written, code)))
}

/// Makes a new code (the previous one stops working) and sends it by SMS, or with `returnCode` returns it.
#[utoipa::path(post, path = "/v2/users/{userId}/phone/resend", tag = TAG, security(("bearer" = [])), request_body = ResendPhoneCodeRequest,
    params(("userId" = String, Path)),
    responses((status = 200, body = PhoneCodeResponse), (status = "default", description = "Error", body = ErrorBody)))]
pub async fn resend_phone_code(
    State(s): State<AppState>,
    Auth(caller): Auth,
    org: OrgHeader,
    UserIdPath(user_id): UserIdPath,
    ApiJson(req): ApiJson<ResendPhoneCodeRequest>,
) -> Result<Json<PhoneCodeResponse>, ApiError> {
    if req.send_code.is_some() && req.return_code.is_some() {
        return Err(ApiError::invalid(
            "invalid ResendPhoneCodeRequest: only one of sendCode and returnCode may be set",
        ));
    }
    let return_code = req.return_code.is_some();
    let (written, code) = s
        .resend_v2(&caller, org.as_deref(), &user_id, return_code)
        .await
        .api(Op::V2Resend)?;
    Ok(Json(PhoneCodeResponse::changed(&written, code)))
}

/// Checks the code. No permission is needed: the code is the proof.
#[utoipa::path(post, path = "/v2/users/{userId}/phone/verify", tag = TAG, security(("bearer" = [])), request_body = VerifyPhoneRequest,
    params(("userId" = String, Path)),
    responses((status = 200, body = DetailsResponse), (status = "default", description = "Error", body = ErrorBody)))]
pub async fn verify_phone(
    State(s): State<AppState>,
    Auth(caller): Auth,
    org: OrgHeader,
    UserIdPath(user_id): UserIdPath,
    ApiJson(req): ApiJson<VerifyPhoneRequest>,
) -> Result<Json<DetailsResponse>, ApiError> {
    check_len(
        "VerifyPhoneRequest",
        "VerificationCode",
        &req.verification_code,
        20,
    )?;
    let written = s
        .verify_v2(&caller, org.as_deref(), &user_id, &req.verification_code)
        .await
        .api(Op::V2Verify)?;
    Ok(Json(DetailsResponse::changed(&written)))
}

#[utoipa::path(delete, path = "/v2/users/{userId}/phone", tag = TAG, security(("bearer" = [])),
    params(("userId" = String, Path)),
    responses((status = 200, body = DetailsResponse), (status = "default", description = "Error", body = ErrorBody)))]
pub async fn remove_phone(
    State(s): State<AppState>,
    Auth(caller): Auth,
    org: OrgHeader,
    UserIdPath(user_id): UserIdPath,
) -> Result<Json<DetailsResponse>, ApiError> {
    let written = s
        .remove_phone_v2(&caller, org.as_deref(), &user_id)
        .await
        .api(Op::V2RemovePhone)?;
    Ok(Json(DetailsResponse::changed(&written)))
}

#[utoipa::path(post, path = "/v2/users/human", tag = TAG, security(("bearer" = [])), request_body = AddHumanUserRequest,
    responses((status = 200, body = AddHumanUserResponse), (status = "default", description = "Error", body = ErrorBody)))]
pub async fn add_human_user(
    State(s): State<AppState>,
    Auth(caller): Auth,
    org: OrgHeader,
    ApiJson(req): ApiJson<AddHumanUserRequest>,
) -> Result<Json<AddHumanUserResponse>, ApiError> {
    for (field, value) in [
        ("Username", req.username.as_deref()),
        ("Profile.GivenName", Some(req.profile.given_name.as_str())),
        ("Profile.FamilyName", Some(req.profile.family_name.as_str())),
        ("Email.Email", Some(req.email.email.as_str())),
        ("UserId", req.user_id.as_deref()),
        ("Profile.DisplayName", req.profile.display_name.as_deref()),
        ("Profile.NickName", req.profile.nick_name.as_deref()),
        (
            "Profile.PreferredLanguage",
            req.profile.preferred_language.as_deref(),
        ),
    ] {
        check_len("AddHumanUserRequest", field, value.unwrap_or_default(), 200)?;
    }
    let phone = match &req.phone {
        Some(p) => {
            check_len("AddHumanUserRequest", "Phone.Phone", &p.phone, 200)?;
            Some(NewHumanPhone {
                phone: p.phone.clone(),
                mode: phone_mode(p, "AddHumanUserRequest.Phone")?,
            })
        }
        None => None,
    };
    let new = NewHuman {
        user_id: req.user_id,
        org_id: req.organization.and_then(|o| o.org_id),
        profile: HumanInput {
            username: req.username,
            given_name: req.profile.given_name,
            family_name: req.profile.family_name,
            display_name: req.profile.display_name,
            nick_name: req.profile.nick_name.unwrap_or_default(),
            preferred_language: req.profile.preferred_language.unwrap_or_default(),
            email: req.email.email,
            email_verified: req.email.is_verified.unwrap_or(false),
        },
        phone,
    };
    let (written, code) = s
        .add_human(&caller, org.as_deref(), new)
        .await
        .api(Op::V2AddHuman)?;
    Ok(Json(AddHumanUserResponse {
        user_id: written.user.id.to_string(),
        details: Details::changed(&written),
        phone_code: code.map(|c| c.expose().to_owned()),
    }))
}

#[utoipa::path(get, path = "/v2/users/{userId}", tag = TAG, security(("bearer" = [])),
    params(("userId" = String, Path)),
    responses((status = 200, body = GetUserResponse), (status = "default", description = "Error", body = ErrorBody)))]
pub async fn get_user_by_id(
    State(s): State<AppState>,
    Auth(caller): Auth,
    org: OrgHeader,
    UserIdPath(user_id): UserIdPath,
) -> Result<Json<GetUserResponse>, ApiError> {
    let user = s
        .get_user(&caller, org.as_deref(), &user_id)
        .await
        .api(Op::V2GetUser)?;
    Ok(Json(GetUserResponse {
        details: Details::read(&user),
        user: UserV2::of(&user),
    }))
}

#[utoipa::path(delete, path = "/v2/users/{userId}", tag = TAG, security(("bearer" = [])),
    params(("userId" = String, Path)),
    responses((status = 200, body = DetailsResponse), (status = "default", description = "Error", body = ErrorBody)))]
pub async fn delete_user(
    State(s): State<AppState>,
    Auth(caller): Auth,
    org: OrgHeader,
    UserIdPath(user_id): UserIdPath,
) -> Result<Json<DetailsResponse>, ApiError> {
    change_state(
        &s,
        &caller,
        &org,
        &user_id,
        StateChange::Delete,
        Op::V2Delete,
    )
    .await
}

#[utoipa::path(post, path = "/v2/users/{userId}/deactivate", tag = TAG, security(("bearer" = [])),
    params(("userId" = String, Path)),
    responses((status = 200, body = DetailsResponse), (status = "default", description = "Error", body = ErrorBody)))]
pub async fn deactivate_user(
    State(s): State<AppState>,
    Auth(caller): Auth,
    org: OrgHeader,
    UserIdPath(user_id): UserIdPath,
) -> Result<Json<DetailsResponse>, ApiError> {
    change_state(
        &s,
        &caller,
        &org,
        &user_id,
        StateChange::Deactivate,
        Op::V2Deactivate,
    )
    .await
}

#[utoipa::path(post, path = "/v2/users/{userId}/reactivate", tag = TAG, security(("bearer" = [])),
    params(("userId" = String, Path)),
    responses((status = 200, body = DetailsResponse), (status = "default", description = "Error", body = ErrorBody)))]
pub async fn reactivate_user(
    State(s): State<AppState>,
    Auth(caller): Auth,
    org: OrgHeader,
    UserIdPath(user_id): UserIdPath,
) -> Result<Json<DetailsResponse>, ApiError> {
    change_state(
        &s,
        &caller,
        &org,
        &user_id,
        StateChange::Reactivate,
        Op::V2Reactivate,
    )
    .await
}

async fn change_state(
    s: &AppState,
    caller: &crate::service::Caller,
    org: &OrgHeader,
    user_id: &str,
    change: StateChange,
    op: Op,
) -> Result<Json<DetailsResponse>, ApiError> {
    let written = s
        .change_user_state(caller, org.as_deref(), user_id, change)
        .await
        .api(op)?;
    Ok(Json(DetailsResponse::changed(&written)))
}
