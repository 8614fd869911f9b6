//! The phone flows of the three APIs as ZITADEL's generated clients drive them, over every protocol.

use anyhow::{Context, Result, ensure};
use phoneverify::rpc::proto::zitadel::auth::v1 as auth;
use phoneverify::rpc::proto::zitadel::management::v1 as mgmt;
use phoneverify::rpc::proto::zitadel::user::v2 as user;
use phoneverify::rpc::proto::zitadel::user::v2::__buffa::oneof as user_oneof;
use phoneverify::rpc::proto::zitadel::user::v2beta as user_beta;
use phoneverify::rpc::proto::zitadel::user::v2beta::__buffa::oneof as beta_oneof;

use crate::check_eq;
use crate::helpers::{PHONE_A, PHONE_B, PROTOCOLS, Protocol, Rpc, TestApp};

crate::suite!(rpc;
    v2_phone_flow_over_every_protocol, v2beta_phone_calls_answer_as_v2,
    v1_auth_phone_flow_with_the_users_own_token, v1_management_phone_flow_in_the_org_of_the_header,
);

const USERS: &str = user::USER_SERVICE_SERVICE_NAME;

pub(super) fn return_code() -> user_oneof::resend_phone_code_request::Verification {
    user_oneof::resend_phone_code_request::Verification::ReturnCode(Box::default())
}

fn send_code() -> user_oneof::resend_phone_code_request::Verification {
    user_oneof::resend_phone_code_request::Verification::SendCode(Box::default())
}

/// A human with a phone whose code was returned; its id and the code.
pub(super) async fn add_human_returning_code(
    rpc: &Rpc<'_>,
    username: &str,
) -> Result<(String, String)> {
    let request = user::AddHumanUserRequest {
        username: Some(username.to_owned()),
        profile: user::SetHumanProfile {
            given_name: "Ada".into(),
            family_name: "Lovelace".into(),
            ..Default::default()
        }
        .into(),
        email: user::SetHumanEmail {
            email: format!("{username}@example.com"),
            ..Default::default()
        }
        .into(),
        phone: user::SetHumanPhone {
            phone: PHONE_A.into(),
            verification: Some(user_oneof::set_human_phone::Verification::ReturnCode(
                Box::default(),
            )),
            ..Default::default()
        }
        .into(),
        ..Default::default()
    };
    let added: user::AddHumanUserResponse = rpc
        .call(USERS, "AddHumanUser", &request)
        .await?
        .map_err(|e| anyhow::anyhow!("AddHumanUser: {e:?}"))?;
    ensure!(!added.user_id.is_empty(), "a user id");
    let code = added.phone_code.context("phoneCode with returnCode")?;
    Ok((added.user_id, code))
}

async fn human_phone(rpc: &Rpc<'_>, id: &str) -> Result<Option<user::HumanPhone>> {
    let got: user::GetUserByIDResponse = rpc
        .call(
            USERS,
            "GetUserByID",
            &user::GetUserByIDRequest {
                user_id: id.into(),
                ..Default::default()
            },
        )
        .await?
        .map_err(|e| anyhow::anyhow!("GetUserByID: {e:?}"))?;
    let found = got.user.as_option().context("user")?;
    check_eq!(found.user_id, id);
    match &found.r#type {
        Some(user_oneof::user::Type::Human(h)) => Ok(h.phone.as_option().cloned()),
        other => anyhow::bail!("a human, got {other:?}"),
    }
}

async fn v2_phone_flow_over_every_protocol(b: crate::helpers::Backend) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    for (i, protocol) in PROTOCOLS.into_iter().enumerate() {
        let rpc = app.rpc(protocol);
        let context = format!("{protocol:?}");
        let (id, _) = add_human_returning_code(&rpc, &format!("ada{i}"))
            .await
            .context(context.clone())?;

        let (sent, headers): (user::ResendPhoneCodeResponse, _) = rpc
            .call_with_headers(
                USERS,
                "ResendPhoneCode",
                &user::ResendPhoneCodeRequest {
                    user_id: id.clone(),
                    verification: Some(send_code()),
                    ..Default::default()
                },
            )
            .await?
            .map_err(|e| anyhow::anyhow!("{context}: {e:?}"))?;
        ensure!(
            sent.verification_code.is_none(),
            "{context}: sendCode returns no code"
        );
        // The code's times reach RPC clients as response headers, as they reach REST clients.
        check_eq!(headers.contains_key("x-phoneverify-next-send-in"), true);
        check_eq!(app.deliver().await?, 1);

        let returned: user::ResendPhoneCodeResponse = rpc
            .call(
                USERS,
                "ResendPhoneCode",
                &user::ResendPhoneCodeRequest {
                    user_id: id.clone(),
                    verification: Some(return_code()),
                    ..Default::default()
                },
            )
            .await?
            .map_err(|e| anyhow::anyhow!("{context}: {e:?}"))?;
        let code = returned
            .verification_code
            .context("returnCode returns the code")?;
        let details = returned.details.as_option().context("details")?;
        ensure!(
            details.sequence > 0 && !details.resource_owner.is_empty(),
            "{context}: {details:?}"
        );

        let _: user::VerifyPhoneResponse = rpc
            .call(
                USERS,
                "VerifyPhone",
                &user::VerifyPhoneRequest {
                    user_id: id.clone(),
                    verification_code: code,
                    ..Default::default()
                },
            )
            .await?
            .map_err(|e| anyhow::anyhow!("{context}: {e:?}"))?;
        let phone = human_phone(&rpc, &id).await?.context("a phone")?;
        check_eq!((phone.phone.as_str(), phone.is_verified), (PHONE_A, true));

        let set: user::SetPhoneResponse = rpc
            .call(
                USERS,
                "SetPhone",
                &user::SetPhoneRequest {
                    user_id: id.clone(),
                    phone: PHONE_B.into(),
                    verification: Some(user_oneof::set_phone_request::Verification::ReturnCode(
                        Box::default(),
                    )),
                    ..Default::default()
                },
            )
            .await?
            .map_err(|e| anyhow::anyhow!("{context}: {e:?}"))?;
        ensure!(
            set.verification_code.is_some(),
            "{context}: SetPhone returnCode"
        );
        let phone = human_phone(&rpc, &id).await?.context("a phone")?;
        check_eq!((phone.phone.as_str(), phone.is_verified), (PHONE_B, false));

        let _: user::RemovePhoneResponse = rpc
            .call(
                USERS,
                "RemovePhone",
                &user::RemovePhoneRequest {
                    user_id: id.clone(),
                    ..Default::default()
                },
            )
            .await?
            .map_err(|e| anyhow::anyhow!("{context}: {e:?}"))?;
        let phone = human_phone(&rpc, &id).await?;
        ensure!(
            phone.as_ref().is_none_or(|p| p.phone.is_empty()),
            "{context}: phone removed, got {phone:?}"
        );
    }
    Ok(())
}

async fn v2beta_phone_calls_answer_as_v2(b: crate::helpers::Backend) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    let id = app.human("ada").await?;
    let rpc = app.rpc(Protocol::Grpc);
    let service = user_beta::USER_SERVICE_SERVICE_NAME;
    let set: user_beta::SetPhoneResponse = rpc
        .call(
            service,
            "SetPhone",
            &user_beta::SetPhoneRequest {
                user_id: id.clone(),
                phone: PHONE_A.into(),
                verification: Some(beta_oneof::set_phone_request::Verification::ReturnCode(
                    Box::default(),
                )),
                ..Default::default()
            },
        )
        .await?
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let code = set.verification_code.context("code")?;
    let _: user_beta::VerifyPhoneResponse = rpc
        .call(
            service,
            "VerifyPhone",
            &user_beta::VerifyPhoneRequest {
                user_id: id.clone(),
                verification_code: code,
                ..Default::default()
            },
        )
        .await?
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let got: user_beta::GetUserByIDResponse = rpc
        .call(
            service,
            "GetUserByID",
            &user_beta::GetUserByIDRequest {
                user_id: id.clone(),
                ..Default::default()
            },
        )
        .await?
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let verified = match got.user.as_option().and_then(|u| u.r#type.as_ref()) {
        Some(beta_oneof::user::Type::Human(h)) => h.phone.as_option().map(|p| p.is_verified),
        _ => None,
    };
    check_eq!(verified, Some(true));
    Ok(())
}

async fn v1_auth_phone_flow_with_the_users_own_token(b: crate::helpers::Backend) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    let service = auth::AUTH_SERVICE_SERVICE_NAME;
    for (i, protocol) in [Protocol::Grpc, Protocol::GrpcWeb, Protocol::ConnectJson]
        .into_iter()
        .enumerate()
    {
        let id = app.human(&format!("ada{i}")).await?;
        let rpc = app.rpc(protocol).by(&app.token_for(&id));
        let context = format!("{protocol:?}");
        let _: auth::SetMyPhoneResponse = rpc
            .call(
                service,
                "SetMyPhone",
                &auth::SetMyPhoneRequest {
                    phone: PHONE_A.into(),
                    ..Default::default()
                },
            )
            .await?
            .map_err(|e| anyhow::anyhow!("{context}: {e:?}"))?;
        let _: auth::ResendMyPhoneVerificationResponse = rpc
            .call(
                service,
                "ResendMyPhoneVerification",
                &auth::ResendMyPhoneVerificationRequest::default(),
            )
            .await?
            .map_err(|e| anyhow::anyhow!("{context}: {e:?}"))?;
        // The resent code replaced the first before it went out: one SMS.
        check_eq!(app.deliver().await?, 1);
        let code = app
            .codes_sent_to(PHONE_A)
            .last()
            .cloned()
            .context("a code by SMS")?;
        let _: auth::VerifyMyPhoneResponse = rpc
            .call(
                service,
                "VerifyMyPhone",
                &auth::VerifyMyPhoneRequest {
                    code,
                    ..Default::default()
                },
            )
            .await?
            .map_err(|e| anyhow::anyhow!("{context}: {e:?}"))?;
        let phone: auth::GetMyPhoneResponse = rpc
            .call(service, "GetMyPhone", &auth::GetMyPhoneRequest::default())
            .await?
            .map_err(|e| anyhow::anyhow!("{context}: {e:?}"))?;
        let phone = phone.phone.as_option().context("phone")?;
        check_eq!(
            (phone.phone.as_str(), phone.is_phone_verified),
            (PHONE_A, true)
        );
        let me: auth::GetMyUserResponse = rpc
            .call(service, "GetMyUser", &auth::GetMyUserRequest::default())
            .await?
            .map_err(|e| anyhow::anyhow!("{context}: {e:?}"))?;
        check_eq!(me.user.as_option().map(|u| u.id.clone()), Some(id.clone()));
        let _: auth::RemoveMyPhoneResponse = rpc
            .call(
                service,
                "RemoveMyPhone",
                &auth::RemoveMyPhoneRequest::default(),
            )
            .await?
            .map_err(|e| anyhow::anyhow!("{context}: {e:?}"))?;
    }
    Ok(())
}

async fn v1_management_phone_flow_in_the_org_of_the_header(
    b: crate::helpers::Backend,
) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    let org = app.org("acme").await?;
    let id = app.human_in(&org, "ada").await?;
    let service = mgmt::MANAGEMENT_SERVICE_SERVICE_NAME;
    let update = mgmt::UpdateHumanPhoneRequest {
        user_id: id.clone(),
        phone: PHONE_A.into(),
        ..Default::default()
    };
    // Without the header the user is looked up in the caller's org, where it does not exist.
    let outside = app
        .rpc(Protocol::Grpc)
        .call::<_, mgmt::UpdateHumanPhoneResponse>(service, "UpdateHumanPhone", &update)
        .await?;
    let rest = app
        .put(&format!("/management/v1/users/{id}/phone"))
        .json(serde_json::json!({"phone": PHONE_A}))
        .send()
        .await;
    let outside = outside.err().context("refused outside the user's org")?;
    check_eq!(
        i64::from(outside.code),
        rest.body["code"].as_i64().context("code")?
    );
    check_eq!(
        outside.error_id.as_deref(),
        rest.body["details"][0]["id"].as_str()
    );

    let rpc = app.rpc(Protocol::Grpc).org(&org);
    let _: mgmt::UpdateHumanPhoneResponse = rpc
        .call(service, "UpdateHumanPhone", &update)
        .await?
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let _: mgmt::ResendHumanPhoneVerificationResponse = rpc
        .call(
            service,
            "ResendHumanPhoneVerification",
            &mgmt::ResendHumanPhoneVerificationRequest {
                user_id: id.clone(),
                ..Default::default()
            },
        )
        .await?
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    check_eq!(app.deliver().await?, 1);
    let phone: mgmt::GetHumanPhoneResponse = rpc
        .call(
            service,
            "GetHumanPhone",
            &mgmt::GetHumanPhoneRequest {
                user_id: id.clone(),
                ..Default::default()
            },
        )
        .await?
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let phone = phone.phone.as_option().context("phone")?;
    check_eq!(
        (phone.phone.as_str(), phone.is_phone_verified),
        (PHONE_A, false)
    );
    let _: mgmt::RemoveHumanPhoneResponse = rpc
        .call(
            service,
            "RemoveHumanPhone",
            &mgmt::RemoveHumanPhoneRequest {
                user_id: id.clone(),
                ..Default::default()
            },
        )
        .await?
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    check_eq!(
        app.event_types(&id).await?.last().map(String::as_str),
        Some("user.human.phone.removed")
    );
    Ok(())
}
