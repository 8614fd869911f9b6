//! Every REST error case gives the same code, message and error ID over gRPC, gRPC-web and Connect; and the
//! failures only RPC has (an empty path field, a deadline, an oversized message, an unknown method).

use anyhow::{Context, Result, ensure};
use phoneverify::rpc::proto::zitadel::user::v2 as user;
use phoneverify::rpc::proto::zitadel::user::v2::__buffa::oneof as user_oneof;
use serde_json::json;

use super::phone_flows::return_code;
use crate::check_eq;
use crate::helpers::{Backend, PHONE_A, PROTOCOLS, Protocol, Resp, Rpc, RpcError, TestApp};

crate::suite!(rpc;
    rest_error_cases_answer_alike_over_every_protocol, throttled_sends_carry_the_retry_delay,
    an_empty_user_id_is_refused_as_request_validation_refuses_it, grpc_timeout_is_honoured,
    a_message_over_the_size_limit_is_refused, connect_errors_use_connects_http_statuses,
);

const USERS: &str = user::USER_SERVICE_SERVICE_NAME;

/// The RPC error matches the REST error body: code, message and error ID.
fn same_error(rest: &Resp, rpc: &RpcError, case: &str) -> Result<()> {
    compare(rest, rpc, case).with_context(|| format!("{case}: REST {} vs RPC {rpc:?}", rest.text))
}

fn compare(rest: &Resp, rpc: &RpcError, case: &str) -> Result<()> {
    ensure!(rest.status >= 400, "{case}: REST succeeded: {}", rest.text);
    check_eq!(
        i64::from(rpc.code),
        rest.body["code"].as_i64().context("code")?
    );
    check_eq!(
        rpc.message.as_str(),
        rest.body["message"].as_str().context("message")?
    );
    check_eq!(
        rpc.error_id.as_deref(),
        rest.body["details"][0]["id"].as_str()
    );
    Ok(())
}

async fn resend(
    rpc: &Rpc<'_>,
    user_id: &str,
) -> Result<Result<user::ResendPhoneCodeResponse, RpcError>> {
    rpc.call(
        USERS,
        "ResendPhoneCode",
        &user::ResendPhoneCodeRequest {
            user_id: user_id.into(),
            verification: Some(return_code()),
            ..Default::default()
        },
    )
    .await
}

fn failed<T: std::fmt::Debug>(answer: Result<T, RpcError>, case: &str) -> Result<RpcError> {
    match answer {
        Ok(v) => anyhow::bail!("{case}: expected an error, got {v:?}"),
        Err(e) => Ok(e),
    }
}

async fn rest_error_cases_answer_alike_over_every_protocol(b: Backend) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    let (ada, _) = app.with_pending_code("ada", PHONE_A).await?;
    let bob = app.human("bob").await?;
    let bob_token = app.token_for(&bob);
    for protocol in PROTOCOLS {
        let rpc = app.rpc(protocol);
        let p = format!("{protocol:?}");

        let case = format!("{p}: resend for an unknown user");
        let rest = app
            .post("/v2/users/4711/phone/resend")
            .json(json!({"returnCode": {}}))
            .send()
            .await;
        rest.err(404, 5, "COMMAND-ieJ2e")?;
        let e = failed(resend(&rpc, "4711").await?, &case)?;
        e.expect(5, "COMMAND-ieJ2e")?;
        same_error(&rest, &e, &case)?;

        let case = format!("{p}: a wrong code");
        // A fresh code, so that earlier rounds' wrong guesses do not reach the attempt limit.
        app.returned_code(&ada).await?;
        let rest = app.verify(&ada, "000000x").send().await;
        let e = failed(
            rpc.call::<_, user::VerifyPhoneResponse>(
                USERS,
                "VerifyPhone",
                &user::VerifyPhoneRequest {
                    user_id: ada.clone(),
                    verification_code: "000000x".into(),
                    ..Default::default()
                },
            )
            .await?,
            &case,
        )?;
        same_error(&rest, &e, &case)?;

        let case = format!("{p}: no token");
        let rest = app
            .post(&format!("/v2/users/{ada}/phone/resend"))
            .anonymous()
            .json(json!({}))
            .send()
            .await;
        let e = failed(resend(&app.rpc(protocol).anonymous(), &ada).await?, &case)?;
        check_eq!(e.code, 16);
        same_error(&rest, &e, &case)?;

        let case = format!("{p}: someone else's phone without permission");
        let rest = app
            .post(&format!("/v2/users/{ada}/phone/resend"))
            .by(&bob_token)
            .json(json!({"returnCode": {}}))
            .send()
            .await;
        let e = failed(
            resend(&app.rpc(protocol).by(&bob_token), &ada).await?,
            &case,
        )?;
        check_eq!(e.code, 7);
        same_error(&rest, &e, &case)?;

        let case = format!("{p}: marking one's own phone verified without a code");
        let rest = app
            .set_phone(&bob, PHONE_A)
            .verified()
            .by(&bob_token)
            .send()
            .await;
        let e = failed(
            app.rpc(protocol)
                .by(&bob_token)
                .call::<_, user::SetPhoneResponse>(
                    USERS,
                    "SetPhone",
                    &user::SetPhoneRequest {
                        user_id: bob.clone(),
                        phone: PHONE_A.into(),
                        verification: Some(
                            user_oneof::set_phone_request::Verification::IsVerified(true),
                        ),
                        ..Default::default()
                    },
                )
                .await?,
            &case,
        )?;
        same_error(&rest, &e, &case)?;

        let case = format!("{p}: an invalid number");
        let rest = app.set_phone(&ada, "+41 12").return_code().send().await;
        let e = failed(
            rpc.call::<_, user::SetPhoneResponse>(
                USERS,
                "SetPhone",
                &user::SetPhoneRequest {
                    user_id: ada.clone(),
                    phone: "+41 12".into(),
                    verification: Some(user_oneof::set_phone_request::Verification::ReturnCode(
                        Box::default(),
                    )),
                    ..Default::default()
                },
            )
            .await?,
            &case,
        )?;
        check_eq!(e.code, 3);
        same_error(&rest, &e, &case)?;
    }
    Ok(())
}

async fn throttled_sends_carry_the_retry_delay(b: Backend) -> Result<()> {
    let app = TestApp::spawn_with(&b, "[limits]\nresend_cooldown_secs = 30\n").await?;
    let ada = app.human("ada").await?;
    app.set_phone(&ada, PHONE_A).send_code().send().await.ok()?;
    let rest = app.resend(&ada).send_code().send().await;
    check_eq!(rest.status, 429);
    let retry_after: i64 = rest
        .headers
        .get("retry-after")
        .context("Retry-After")?
        .to_str()?
        .parse()?;
    for protocol in PROTOCOLS {
        let answer = app
            .rpc(protocol)
            .call::<_, user::ResendPhoneCodeResponse>(
                USERS,
                "ResendPhoneCode",
                &user::ResendPhoneCodeRequest {
                    user_id: ada.clone(),
                    verification: Some(
                        user_oneof::resend_phone_code_request::Verification::SendCode(
                            Box::default(),
                        ),
                    ),
                    ..Default::default()
                },
            )
            .await?;
        let e = failed(answer, "throttled")?;
        check_eq!(e.code, 8);
        same_error(&rest, &e, "throttled")?;
        let delay = e.retry_delay.context("RetryInfo")?;
        ensure!(
            delay > 0 && delay <= retry_after,
            "{delay} vs {retry_after}"
        );
        ensure!(
            e.headers.get("retry-after").is_some(),
            "{protocol:?}: retry-after header"
        );
    }
    Ok(())
}

async fn an_empty_user_id_is_refused_as_request_validation_refuses_it(b: Backend) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    for protocol in PROTOCOLS {
        let e = failed(resend(&app.rpc(protocol), "").await?, "empty id")?;
        check_eq!(e.code, 3);
        check_eq!(
            e.message.as_str(),
            "invalid ResendPhoneCodeRequest.UserId: value length must be between 1 and 200 runes, inclusive"
        );
    }
    Ok(())
}

async fn grpc_timeout_is_honoured(b: Backend) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    let (ada, _) = app.with_pending_code("ada", PHONE_A).await?;
    let e = failed(
        resend(&app.rpc(Protocol::Grpc).header("grpc-timeout", "1n"), &ada).await?,
        "1 ns deadline",
    )?;
    check_eq!(e.code, 4);
    // Expired before its work began: it wrote nothing.
    let codes = || app.count_events(&ada, "user.human.phone.code.added");
    check_eq!(codes().await?, 1);
    let ok = resend(&app.rpc(Protocol::Grpc).header("grpc-timeout", "10S"), &ada).await?;
    ensure!(ok.is_ok(), "a 10 s deadline is enough: {ok:?}");
    check_eq!(codes().await?, 2);
    Ok(())
}

async fn a_message_over_the_size_limit_is_refused(b: Backend) -> Result<()> {
    let app = TestApp::spawn_with(&b, "[http]\nmax_body_bytes = 4096\n").await?;
    let (ada, _) = app.with_pending_code("ada", PHONE_A).await?;
    for protocol in PROTOCOLS {
        let e = failed(
            resend(&app.rpc(protocol), &"1".repeat(5000)).await?,
            "oversized",
        )?;
        check_eq!(e.code, 8);
    }
    check_eq!(
        app.count_events(&ada, "user.human.phone.code.added")
            .await?,
        1
    );
    Ok(())
}

async fn connect_errors_use_connects_http_statuses(b: Backend) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    let e = failed(
        resend(&app.rpc(Protocol::ConnectJson), "4711").await?,
        "not found",
    )?;
    check_eq!(e.http_status, 404);
    let e = failed(
        resend(&app.rpc(Protocol::ConnectJson).anonymous(), "4711").await?,
        "anonymous",
    )?;
    check_eq!(e.http_status, 401);
    let unknown = app
        .post("/zitadel.user.v2.UserService/NoSuchCall")
        .json(json!({}))
        .send()
        .await;
    check_eq!(unknown.status, 404);
    check_eq!(unknown.body["code"].as_str(), Some("unimplemented"));
    Ok(())
}
