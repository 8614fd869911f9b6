//! Organization service v2.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use super::OrApi;
use super::error::{ApiError, ErrorBody, Op};
use super::extract::{ApiJson, AppState, Auth, OrgHeader, check_len_between};
use super::types::{AddOrganizationRequest, AddOrganizationResponse, Details};
use crate::service::NewOrgAdmin;

/// Adds an organization; each admin gets the given roles (ORG_OWNER when none). Needs an IAM role.
#[utoipa::path(post, path = "/v2/organizations", tag = "Organization service v2", security(("bearer" = [])), request_body = AddOrganizationRequest,
    responses((status = 201, description = "Created", body = AddOrganizationResponse), (status = "default", description = "Error", body = ErrorBody)))]
pub async fn add_organization(
    State(s): State<AppState>,
    Auth(caller): Auth,
    org: OrgHeader,
    ApiJson(req): ApiJson<AddOrganizationRequest>,
) -> Result<(StatusCode, Json<AddOrganizationResponse>), ApiError> {
    if let Some(field) = req.unsupported_field() {
        return Err(ApiError::unsupported_field(&format!(
            "AddOrganizationRequest.{field}"
        )));
    }
    check_len_between("AddOrganizationRequest", "Name", &req.name, 1, 200)?;
    let admins: Vec<NewOrgAdmin> = req
        .admins
        .into_iter()
        .map(|a| NewOrgAdmin {
            user_id: a.user_id,
            roles: a.roles,
        })
        .collect();
    let created = s
        .add_org(&caller, org.as_deref(), &req.name, &admins)
        .await
        .api(Op::V2AddOrg)?;
    // 201, as ZITADEL's gateway answers this call.
    Ok((
        StatusCode::CREATED,
        Json(AddOrganizationResponse {
            organization_id: created.id.to_string(),
            details: Details::org_changed(&created, true),
        }),
    ))
}
