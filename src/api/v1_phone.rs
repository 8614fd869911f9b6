//! The v1 phone calls once their user is known: the auth API acts on the caller, the management API on a
//! user by ID, and from there on both behave and answer alike.

use axum::Json;

use super::OrApi;
use super::code_times::WithCodeTimes;
use super::error::{ApiError, Op};
use super::types::{Details, DetailsResponse, GetPhoneV1Response, PhoneV1};
use crate::service::{Caller, Services, Target};

pub(super) async fn get(
    s: &Services,
    target: &Target,
) -> Result<Json<GetPhoneV1Response>, ApiError> {
    let user = s.get_phone_v1(target).await.api(Op::V1GetPhone)?;
    Ok(Json(GetPhoneV1Response {
        details: Details::read(&user),
        phone: PhoneV1::of(&user),
    }))
}

pub(super) async fn set(
    s: &Services,
    caller: &Caller,
    target: &Target,
    phone: &str,
    verified: bool,
) -> Result<WithCodeTimes<Json<DetailsResponse>>, ApiError> {
    let written = s
        .set_phone_v1(caller, target, phone, verified)
        .await
        .api(Op::V1SetPhone)?;
    let body = Json(DetailsResponse::changed(&written));
    Ok(WithCodeTimes::of(s, &written.user, body))
}

pub(super) async fn remove(
    s: &Services,
    caller: &Caller,
    target: &Target,
) -> Result<Json<DetailsResponse>, ApiError> {
    let written = s
        .remove_phone_v1(caller, target)
        .await
        .api(Op::V1RemovePhone)?;
    Ok(Json(DetailsResponse::changed(&written)))
}

pub(super) async fn resend(
    s: &Services,
    caller: &Caller,
    target: &Target,
) -> Result<WithCodeTimes<Json<DetailsResponse>>, ApiError> {
    let written = s.resend_v1(caller, target).await.api(Op::V1Resend)?;
    let body = Json(DetailsResponse::changed(&written));
    Ok(WithCodeTimes::of(s, &written.user, body))
}
