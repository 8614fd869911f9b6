//! Admin API v1: instance-wide memberships.

use axum::Json;
use axum::extract::State;

use super::OrApi;
use super::error::{ApiError, ErrorBody, Op};
use super::extract::{ApiJson, AppState, Auth};
use super::types::{AddMemberRequest, Details, DetailsResponse, timestamp};
use crate::domain::events::INSTANCE_ID;

/// Grants an instance-wide role (IAM_OWNER, IAM_USER_MANAGER, ...) to a user. Needs iam.member.write.
#[utoipa::path(post, path = "/admin/v1/members", tag = "Admin API v1", security(("bearer" = [])), request_body = AddMemberRequest,
    responses((status = 200, body = DetailsResponse), (status = "default", description = "Error", body = ErrorBody)))]
pub async fn add_iam_member(
    State(s): State<AppState>,
    Auth(caller): Auth,
    ApiJson(req): ApiJson<AddMemberRequest>,
) -> Result<Json<DetailsResponse>, ApiError> {
    let (sequence, at) = s
        .add_iam_member(&caller, &req.user_id, &req.roles)
        .await
        .api(Op::IamMember)?;
    Ok(Json(DetailsResponse {
        details: Details {
            sequence: Some(sequence.to_string()),
            creation_date: None,
            change_date: Some(timestamp(at)),
            resource_owner: INSTANCE_ID.to_owned(),
        },
    }))
}
