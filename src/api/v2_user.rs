//! User service v2 (also served under /v2beta). Acting on oneself needs no permission, except marking a
//! number verified without a code; acting on others needs user.write in their org.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use super::OrApi;
use super::code_times::WithCodeTimes;
use super::error::{ApiError, ErrorBody, Op};
use super::extract::{
    ApiJson, AppState, Auth, OrgHeader, UserIdPath, check_len, check_len_between, required,
};
use super::input::check_custom_user_id;
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
) -> Result<WithCodeTimes<Json<PhoneCodeResponse>>, ApiError> {
    check_len_between("SetPhoneRequest", "Phone", &req.phone, 1, 200)?;
    let mode = phone_mode(&req, "SetPhoneRequest")?;
    let (written, code) = s
        .set_phone_v2(&caller, org.as_deref(), &user_id, &req.phone, mode)
        .await
        .api(Op::V2SetPhone)?;
    let body = Json(PhoneCodeResponse::changed(&written, code));
    Ok(WithCodeTimes::of(&s, &written.user, body))
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
) -> Result<WithCodeTimes<Json<PhoneCodeResponse>>, ApiError> {
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
    let body = Json(PhoneCodeResponse::changed(&written, code));
    Ok(WithCodeTimes::of(&s, &written.user, body))
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
    check_len_between(
        "VerifyPhoneRequest",
        "VerificationCode",
        &req.verification_code,
        1,
        20,
    )?;
    let written = s
        .verify_v2(&caller, org.as_deref(), &user_id, &req.verification_code)
        .await
        .api(Op::V2Verify)?;
    Ok(Json(DetailsResponse::changed(&written)))
}

/// Removes a user's phone number. Needs user.write, even on oneself.
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

/// Creates a human user, optionally with a phone (and a code for it). Answers 201.
#[utoipa::path(post, path = "/v2/users/human", tag = TAG, security(("bearer" = [])), request_body = AddHumanUserRequest,
    responses((status = 201, description = "Created", body = AddHumanUserResponse), (status = "default", description = "Error", body = ErrorBody)))]
pub async fn add_human_user(
    State(s): State<AppState>,
    Auth(caller): Auth,
    org: OrgHeader,
    ApiJson(req): ApiJson<AddHumanUserRequest>,
) -> Result<WithCodeTimes<(StatusCode, Json<AddHumanUserResponse>)>, ApiError> {
    const MESSAGE: &str = "AddHumanUserRequest";
    if let Some(field) = req.unsupported_field() {
        return Err(ApiError::unsupported_field(&format!("{MESSAGE}.{field}")));
    }
    let profile = required(MESSAGE, "Profile", req.profile.as_ref())?;
    let email = required(MESSAGE, "Email", req.email.as_ref())?;
    check_len_between(MESSAGE, "Profile.GivenName", &profile.given_name, 1, 200)?;
    check_len_between(MESSAGE, "Profile.FamilyName", &profile.family_name, 1, 200)?;
    check_len_between(MESSAGE, "Email.Email", &email.email, 1, 200)?;
    for (field, value) in [
        ("Username", req.username.as_deref()),
        ("UserId", req.user_id.as_deref()),
        ("Profile.DisplayName", profile.display_name.as_deref()),
        ("Profile.NickName", profile.nick_name.as_deref()),
        (
            "Profile.PreferredLanguage",
            profile.preferred_language.as_deref(),
        ),
    ] {
        check_len(MESSAGE, field, value.unwrap_or_default(), 200)?;
    }
    check_custom_user_id("AddHumanUserRequest", req.user_id.as_deref())?;
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
    let (profile, email) = (
        req.profile.unwrap_or_default(),
        req.email.unwrap_or_default(),
    );
    let new = NewHuman {
        user_id: req.user_id,
        org_id: req.organization.and_then(|o| o.org_id),
        profile: HumanInput {
            username: req.username,
            given_name: profile.given_name,
            family_name: profile.family_name,
            display_name: profile.display_name,
            nick_name: profile.nick_name.unwrap_or_default(),
            preferred_language: profile.preferred_language.unwrap_or_default(),
            email: email.email,
            email_verified: email.is_verified.unwrap_or(false),
        },
        phone,
    };
    let (written, code) = s
        .add_human(&caller, org.as_deref(), new)
        .await
        .api(Op::V2AddHuman)?;
    // 201, as ZITADEL's gateway answers this call.
    let body = (
        StatusCode::CREATED,
        Json(AddHumanUserResponse {
            user_id: written.user.id.to_string(),
            details: Details::changed(&written),
            phone_code: code.map(|c| c.expose().to_owned()),
        }),
    );
    Ok(WithCodeTimes::of(&s, &written.user, body))
}

/// A user by ID, with its phone and the delivery state of a pending code.
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

/// Deletes a user. Needs user.delete.
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

/// Deactivates a user: its tokens stop working until it is reactivated. Needs user.write.
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

/// Reactivates a deactivated user. Needs user.write.
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
