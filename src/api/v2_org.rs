//! Organization service v2.

use axum::Json;
use axum::extract::State;

use super::OrApi;
use super::error::{ApiError, ErrorBody, Op};
use super::extract::{ApiJson, AppState, Auth, OrgHeader, check_len};
use super::types::{AddOrganizationRequest, AddOrganizationResponse, Details};
use crate::service::NewOrgAdmin;

/// Adds an organization; each admin gets the given roles (ORG_OWNER when none). Needs an IAM role.
#[utoipa::path(post, path = "/v2/organizations", tag = "Organization service v2", security(("bearer" = [])), request_body = AddOrganizationRequest,
    responses((status = 200, body = AddOrganizationResponse), (status = "default", description = "Error", body = ErrorBody)))]
pub async fn add_organization(
    State(s): State<AppState>,
    Auth(caller): Auth,
    org: OrgHeader,
    ApiJson(req): ApiJson<AddOrganizationRequest>,
) -> Result<Json<AddOrganizationResponse>, ApiError> {
    check_len("AddOrganizationRequest", "Name", &req.name, 200)?;
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
    Ok(Json(AddOrganizationResponse {
        organization_id: created.id.to_string(),
        details: Details::org_changed(&created, true),
    }))
}
