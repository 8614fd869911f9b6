//! The calls around the phone API (organizations, machine users, PATs, members, a user's lifecycle) over
//! gRPC, and what gRPC tooling needs: health checks and server reflection.

use anyhow::{Result, ensure};
use connectrpc_reflection::wire::v1 as reflection;
use phoneverify::rpc::proto::zitadel::admin::v1 as admin;
use phoneverify::rpc::proto::zitadel::management::v1 as mgmt;
use phoneverify::rpc::proto::zitadel::org::v2 as org;
use phoneverify::rpc::proto::zitadel::user::v2 as user;
use serde_json::json;

use crate::check_eq;
use crate::helpers::{Backend, Protocol, Rpc, TestApp};

crate::suite!(rpc;
    organizations_machines_pats_and_members_over_grpc, a_users_lifecycle_over_grpc_web,
    health_answers_serving_for_every_service, reflection_lists_every_service_and_describes_them,
);

const USERS: &str = user::USER_SERVICE_SERVICE_NAME;
const MANAGEMENT: &str = mgmt::MANAGEMENT_SERVICE_SERVICE_NAME;

async fn ok<Req, Resp>(rpc: &Rpc<'_>, service: &str, method: &str, request: &Req) -> Result<Resp>
where
    Req: buffa::Message + serde::Serialize,
    Resp: buffa::Message + serde::de::DeserializeOwned,
{
    rpc.call(service, method, request)
        .await?
        .map_err(|e| anyhow::anyhow!("{method}: {e:?}"))
}

async fn get_user(
    rpc: &Rpc<'_>,
    id: &str,
) -> Result<Result<user::GetUserByIDResponse, crate::helpers::RpcError>> {
    rpc.call(
        USERS,
        "GetUserByID",
        &user::GetUserByIDRequest {
            user_id: id.into(),
            ..Default::default()
        },
    )
    .await
}

async fn organizations_machines_pats_and_members_over_grpc(b: Backend) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    let rpc = app.rpc(Protocol::Grpc);
    let added: org::AddOrganizationResponse = ok(
        &rpc,
        org::ORGANIZATION_SERVICE_SERVICE_NAME,
        "AddOrganization",
        &org::AddOrganizationRequest {
            name: "Acme".into(),
            ..Default::default()
        },
    )
    .await?;
    let acme = added.organization_id;
    ensure!(!acme.is_empty(), "an organization id");

    let in_acme = app.rpc(Protocol::Grpc).org(&acme);
    let machine: mgmt::AddMachineUserResponse = ok(
        &in_acme,
        MANAGEMENT,
        "AddMachineUser",
        &mgmt::AddMachineUserRequest {
            user_name: "robot".into(),
            name: "Robot".into(),
            ..Default::default()
        },
    )
    .await?;
    let robot = machine.user_id;
    check_eq!(
        machine
            .details
            .as_option()
            .map(|d| d.resource_owner.clone()),
        Some(acme.clone())
    );

    let pat: mgmt::AddPersonalAccessTokenResponse = ok(
        &in_acme,
        MANAGEMENT,
        "AddPersonalAccessToken",
        &mgmt::AddPersonalAccessTokenRequest {
            user_id: robot.clone(),
            ..Default::default()
        },
    )
    .await?;
    // The PAT authenticates RPCs like any bearer token: the robot reads itself.
    let as_robot = app.rpc(Protocol::Grpc).by(&pat.token);
    let me = get_user(&as_robot, &robot).await?;
    ensure!(me.is_ok(), "the PAT works: {me:?}");

    let member: mgmt::AddOrgMemberResponse = ok(
        &in_acme,
        MANAGEMENT,
        "AddOrgMember",
        &mgmt::AddOrgMemberRequest {
            user_id: robot.clone(),
            roles: vec!["ORG_USER_MANAGER".into()],
            ..Default::default()
        },
    )
    .await?;
    ensure!(member.details.is_set(), "member details");
    let iam: admin::AddIAMMemberResponse = ok(
        &rpc,
        admin::ADMIN_SERVICE_SERVICE_NAME,
        "AddIAMMember",
        &admin::AddIAMMemberRequest {
            user_id: robot.clone(),
            roles: vec!["IAM_USER_MANAGER".into()],
            ..Default::default()
        },
    )
    .await?;
    ensure!(iam.details.is_set(), "IAM member details");

    let _: mgmt::RemovePersonalAccessTokenResponse = ok(
        &in_acme,
        MANAGEMENT,
        "RemovePersonalAccessToken",
        &mgmt::RemovePersonalAccessTokenRequest {
            user_id: robot.clone(),
            token_id: pat.token_id.clone(),
            ..Default::default()
        },
    )
    .await?;
    let revoked = get_user(&as_robot, &robot).await?;
    ensure!(
        revoked.as_ref().is_err_and(|e| e.code == 16),
        "a revoked PAT: {revoked:?}"
    );
    Ok(())
}

async fn a_users_lifecycle_over_grpc_web(b: Backend) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    let rpc = app.rpc(Protocol::GrpcWeb);
    let id = app.human("ada").await?;
    let token = app.token_for(&id);
    let _: user::DeactivateUserResponse = ok(
        &rpc,
        USERS,
        "DeactivateUser",
        &user::DeactivateUserRequest {
            user_id: id.clone(),
            ..Default::default()
        },
    )
    .await?;
    let got = get_user(&rpc, &id)
        .await?
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    check_eq!(
        got.user.as_option().map(|u| u.state.to_i32()),
        Some(user::UserState::USER_STATE_INACTIVE as i32)
    );
    let refused = get_user(&app.rpc(Protocol::GrpcWeb).by(&token), &id).await?;
    ensure!(
        refused.is_err(),
        "an inactive user cannot call: {refused:?}"
    );
    let _: user::ReactivateUserResponse = ok(
        &rpc,
        USERS,
        "ReactivateUser",
        &user::ReactivateUserRequest {
            user_id: id.clone(),
            ..Default::default()
        },
    )
    .await?;
    let _: user::DeleteUserResponse = ok(
        &rpc,
        USERS,
        "DeleteUser",
        &user::DeleteUserRequest {
            user_id: id.clone(),
            ..Default::default()
        },
    )
    .await?;
    let gone = get_user(&rpc, &id).await?;
    ensure!(gone.as_ref().is_err_and(|e| e.code == 5), "{gone:?}");
    Ok(())
}

async fn health_answers_serving_for_every_service(b: Backend) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    for service in phoneverify::rpc::SERVICES.iter().chain(&[""]) {
        let r = app
            .post("/grpc.health.v1.Health/Check")
            .anonymous()
            .json(json!({"service": service}))
            .send()
            .await;
        check_eq!(r.ok()?["status"].as_str(), Some("SERVING"));
    }
    let unknown = app
        .post("/grpc.health.v1.Health/Check")
        .anonymous()
        .json(json!({"service": "no.such.Service"}))
        .send()
        .await;
    check_eq!(unknown.status, 404);
    Ok(())
}

async fn reflection_lists_every_service_and_describes_them(b: Backend) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    let rpc = app.rpc(Protocol::Grpc).anonymous();
    let list: reflection::ServerReflectionResponse = ok(
        &rpc,
        "grpc.reflection.v1.ServerReflection",
        "ServerReflectionInfo",
        &reflection::ServerReflectionRequest {
            message_request: Some(
                reflection::server_reflection_request::MessageRequest::ListServices(String::new()),
            ),
            ..Default::default()
        },
    )
    .await?;
    let names: Vec<String> = match list.message_response {
        Some(reflection::server_reflection_response::MessageResponse::ListServicesResponse(l)) => {
            l.service.into_iter().map(|s| s.name).collect()
        }
        other => anyhow::bail!("a service list, got {other:?}"),
    };
    for service in phoneverify::rpc::SERVICES {
        ensure!(names.iter().any(|n| n == service), "{service} in {names:?}");
    }
    let described: reflection::ServerReflectionResponse = ok(
        &rpc,
        "grpc.reflection.v1.ServerReflection",
        "ServerReflectionInfo",
        &reflection::ServerReflectionRequest {
            message_request: Some(
                reflection::server_reflection_request::MessageRequest::FileContainingSymbol(
                    format!("{USERS}.ResendPhoneCode"),
                ),
            ),
            ..Default::default()
        },
    )
    .await?;
    match described.message_response {
        Some(reflection::server_reflection_response::MessageResponse::FileDescriptorResponse(
            f,
        )) => {
            ensure!(!f.file_descriptor_proto.is_empty(), "descriptors");
        }
        other => anyhow::bail!("a file descriptor, got {other:?}"),
    }
    let context = "v1alpha";
    let alpha = rpc
        .call::<_, reflection::ServerReflectionResponse>(
            "grpc.reflection.v1alpha.ServerReflection",
            "ServerReflectionInfo",
            &reflection::ServerReflectionRequest {
                message_request: Some(
                    reflection::server_reflection_request::MessageRequest::ListServices(
                        String::new(),
                    ),
                ),
                ..Default::default()
            },
        )
        .await?;
    ensure!(alpha.is_ok(), "{context}: {alpha:?}");
    Ok(())
}
