//! Resend: a new code, by SMS or in the response; when there is none to replace, and who may ask for one.

use anyhow::Result;
use serde_json::json;

use crate::check_eq;
use crate::helpers::{Backend, PHONE_A, PHONE_B, TestApp};

crate::suite!(phone_v2;
    resend_return_code_returns_a_new_code_and_sends_nothing,
    resend_send_code_and_default_send_an_sms_and_return_no_code, resend_replaces_the_previous_code,
    resend_unknown_machine_or_deleted_user_is_phone_not_found, resend_without_pending_code_is_code_empty,
    resend_on_someone_else_needs_user_write_in_their_org, resend_checks_existence_before_permission,
    none_provider_refuses_sends_and_writes_nothing,
);

async fn resend_return_code_returns_a_new_code_and_sends_nothing(b: Backend) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    let (id, first) = app.with_pending_code("ada", PHONE_A).await?;
    let code = app.returned_code(&id).await?;
    check_eq!(code.len(), 6);
    anyhow::ensure!(code.chars().all(|c| c.is_ascii_digit()), "{code}");
    anyhow::ensure!(
        code != first || app.codes_sent_to(PHONE_A).is_empty(),
        "a new code"
    );
    check_eq!(app.deliver().await?, 0);
    check_eq!(app.sms.sent().len(), 0);
    let events = app.event_types(&id).await?;
    check_eq!(
        events.last().map(String::as_str),
        Some("user.human.phone.code.added")
    );
    let stored = app.events(&id).await?;
    check_eq!(
        stored
            .last()
            .and_then(|e| e.payload.as_ref())
            .map(|p| p["code_returned"].clone()),
        Some(json!(true))
    );
    Ok(())
}

async fn resend_send_code_and_default_send_an_sms_and_return_no_code(b: Backend) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    let (id, _) = app.with_pending_code("ada", PHONE_A).await?;
    for body in [json!({"sendCode": {}}), json!({}), json!(null)] {
        let req = app.post(&format!("/v2/users/{id}/phone/resend"));
        let req = if body.is_null() { req } else { req.json(body) };
        let r = req.send().await;
        anyhow::ensure!(
            r.ok()?.get("verificationCode").is_none(),
            "no code in {}",
            r.text
        );
        check_eq!(app.deliver().await?, 1);
    }
    check_eq!(app.codes_sent_to(PHONE_A).len(), 3);
    let events = app.event_types(&id).await?;
    check_eq!(
        events
            .iter()
            .filter(|e| *e == "user.human.phone.code.sent")
            .count(),
        3
    );
    Ok(())
}

async fn resend_replaces_the_previous_code(b: Backend) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    let (id, old) = app.with_pending_code("ada", PHONE_A).await?;
    let new = app.returned_code(&id).await?;
    if old != new {
        app.verify(&id, &old)
            .send()
            .await
            .err(400, 3, "COMMAND-eis9R")?;
    }
    app.verify(&id, &new).send().await.ok()?;
    Ok(())
}

async fn resend_unknown_machine_or_deleted_user_is_phone_not_found(b: Backend) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    let bot = app.machine("bot").await?;
    let (gone, _) = app.with_pending_code("gone", PHONE_A).await?;
    app.delete_user(&gone).send().await.ok()?;
    for user in ["404404", &bot, &gone] {
        app.resend(user).send().await.err(404, 5, "COMMAND-ieJ2e")?;
    }
    Ok(())
}

async fn resend_without_pending_code_is_code_empty(b: Backend) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    let code_empty = async |user: &str| {
        app.resend(user)
            .send()
            .await
            .err(400, 9, "PHONE-5xrra88eq8")
    };
    // Never set.
    code_empty(&app.human("never").await?).await?;
    // Verified with its code.
    let (verified, code) = app.with_pending_code("verified", PHONE_A).await?;
    app.verify(&verified, &code).send().await.ok()?;
    code_empty(&verified).await?;
    // Set as verified.
    let direct = app.human("direct").await?;
    app.set_phone(&direct, PHONE_B)
        .verified()
        .send()
        .await
        .ok()?;
    code_empty(&direct).await?;
    // Removed.
    let (removed, _) = app.with_pending_code("removed", PHONE_A).await?;
    app.remove_phone(&removed).send().await.ok()?;
    let before = app.event_types(&removed).await?.len();
    code_empty(&removed).await?;
    check_eq!(app.event_types(&removed).await?.len(), before);
    Ok(())
}

async fn resend_on_someone_else_needs_user_write_in_their_org(b: Backend) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    let (target, _) = app.with_pending_code("target", PHONE_A).await?;
    let resend_by = |user: &str| app.resend(&target).by(&app.token_for(user));
    let nobody = app.human("nobody").await?;
    resend_by(&nobody).send().await.err(403, 7, "AUTH-5mWD2")?;
    // A viewer may read but not write.
    let viewer = app.human("viewer").await?;
    app.grant_org_role(&app.org_id, &viewer, "ORG_OWNER_VIEWER")
        .await?;
    resend_by(&viewer).send().await.err(403, 7, "AUTH-5mWD2")?;
    // A user manager of another org has no say here.
    let other = app.org("Other").await?;
    let foreign = app.human_in(&other, "foreign").await?;
    app.grant_org_role(&other, &foreign, "ORG_USER_MANAGER")
        .await?;
    resend_by(&foreign).send().await.err(403, 7, "AUTH-5mWD2")?;
    // A user manager of the target's org may, and so may the user itself.
    let manager = app.human("manager").await?;
    app.grant_org_role(&app.org_id, &manager, "ORG_USER_MANAGER")
        .await?;
    resend_by(&manager).send().await.ok()?;
    resend_by(&target).send().await.ok()?;
    Ok(())
}

async fn resend_checks_existence_before_permission(b: Backend) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    let nobody = app.human("nobody").await?;
    let r = app
        .resend("123456789")
        .by(&app.token_for(&nobody))
        .send()
        .await;
    r.err(404, 5, "COMMAND-ieJ2e")
}

async fn none_provider_refuses_sends_and_writes_nothing(b: Backend) -> Result<()> {
    let app = TestApp::spawn_with(&b, "[sms]\nprovider = \"none\"").await?;
    let (id, _) = app.with_pending_code("ada", PHONE_A).await?;
    let before = app.event_types(&id).await?;
    app.resend(&id)
        .send_code()
        .send()
        .await
        .err(400, 9, "SMS-n0Pr0v")?;
    app.set_phone(&id, PHONE_B)
        .send()
        .await
        .err(400, 9, "SMS-n0Pr0v")?;
    app.v1_me(&app.token_for(&id))
        .resend()
        .send()
        .await
        .err(400, 9, "SMS-n0Pr0v")?;
    check_eq!(app.event_types(&id).await?, before);
    check_eq!(app.job_counts().await?.pending, 0);
    // returnCode needs no provider.
    app.resend(&id).return_code().send().await.ok()?;
    Ok(())
}
