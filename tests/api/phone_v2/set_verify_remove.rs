//! Set, verify and remove a phone; the deprecated v2beta paths; the details every answer carries.

use anyhow::Result;
use serde_json::json;

use crate::check_eq;
use crate::helpers::{Backend, PHONE_A, PHONE_B, TestApp};

crate::suite!(phone_v2;
    set_phone_modes_and_errors, set_phone_is_verified_needs_permission_even_on_oneself,
    set_phone_same_number_is_not_changed, verify_right_wrong_expired_and_empty, verify_needs_no_permission,
    too_many_attempts_kill_the_code_until_a_resend, remove_phone_then_remove_again, v2beta_paths_behave_as_v2,
    details_report_the_last_sequence,
);

async fn set_phone_modes_and_errors(b: Backend) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    let id = app.human("ada").await?;
    // sendCode is the default: an SMS, no code in the response.
    let r = app.set_phone(&id, "+41 79 123 45 67").send().await;
    anyhow::ensure!(r.ok()?.get("verificationCode").is_none());
    check_eq!(app.deliver().await?, 1);
    check_eq!(app.codes_sent_to(PHONE_A).len(), 1);
    // Stored as E.164; the SMS went out.
    let user = app.get_user(&id).send().await;
    check_eq!(
        user.ok()?["user"]["human"]["phone"],
        json!({"phone": PHONE_A, "codeDelivery": "CODE_DELIVERY_SENT"})
    );
    // returnCode: code in the response.
    let r = app.set_phone(&id, PHONE_B).return_code().send().await;
    anyhow::ensure!(r.ok()?["verificationCode"].is_string());
    check_eq!(app.deliver().await?, 0);
    // Errors: empty, invalid, isVerified false, two choices, too long.
    app.set_phone(&id, "")
        .send()
        .await
        .invalid("SetPhoneRequest.Phone: value length must be between 1 and 200 runes")?;
    app.set_phone(&id, "not a number")
        .send()
        .await
        .err(400, 3, "PHONE-so0wa")?;
    app.post(&format!("/v2/users/{id}/phone"))
        .json(json!({"phone": PHONE_A, "isVerified": false}))
        .send()
        .await
        .invalid("IsVerified")?;
    app.set_phone(&id, PHONE_A)
        .send_code()
        .return_code()
        .send()
        .await
        .invalid("only one of")?;
    app.set_phone(&id, &"1".repeat(201))
        .send()
        .await
        .invalid("Phone")?;
    // None of the refusals changed the user.
    check_eq!(app.event_types(&id).await?.len(), 6);
    Ok(())
}

/// Ours, stricter than ZITADEL: a user may not vouch for a number, neither by isVerified nor by taking the code
/// in the response (which no SMS proves); self-service needs the code to go out by SMS.
async fn set_phone_is_verified_needs_permission_even_on_oneself(b: Backend) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    let id = app.human("ada").await?;
    let own = app.token_for(&id);
    let r = app.set_phone(&id, PHONE_A).verified().by(&own).send().await;
    r.err(403, 7, "AUTH-5mWD2")?;
    for returning_a_code in [app.set_phone(&id, PHONE_A), app.resend(&id)] {
        returning_a_code
            .return_code()
            .by(&own)
            .send()
            .await
            .err(403, 7, "AUTH-5mWD2")?;
    }
    // With the code sent by SMS, self-service needs no role; and then resending by SMS neither.
    app.set_phone(&id, PHONE_A)
        .send_code()
        .by(&own)
        .send()
        .await
        .ok()?;
    app.resend(&id).send_code().by(&own).send().await.ok()?;
    // An admin may mark it verified.
    app.set_phone(&id, PHONE_B).verified().send().await.ok()?;
    let user = app.get_user(&id).send().await;
    check_eq!(
        user.ok()?["user"]["human"]["phone"],
        json!({"phone": PHONE_B, "isVerified": true})
    );
    Ok(())
}

async fn set_phone_same_number_is_not_changed(b: Backend) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    let (id, _) = app.with_pending_code("ada", PHONE_A).await?;
    app.set_phone(&id, "079 123 45 67")
        .return_code()
        .send()
        .await
        .err(400, 9, "COMMAND-Uch5e")?;
    app.set_phone(&id, PHONE_A)
        .verified()
        .send()
        .await
        .err(400, 9, "COMMAND-Uch5e")
}

async fn verify_right_wrong_expired_and_empty(b: Backend) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    let (id, code) = app.with_pending_code("ada", PHONE_A).await?;
    app.verify(&id, "").send().await.invalid(
        "VerifyPhoneRequest.VerificationCode: value length must be between 1 and 20 runes",
    )?;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    app.verify(&id, wrong)
        .send()
        .await
        .err(400, 3, "COMMAND-eis9R")?;
    check_eq!(
        app.last_event(&id).await?.as_deref(),
        Some("user.human.phone.verification.failed")
    );
    // Expired: the right code after its lifetime answers exactly like a wrong one.
    app.clock.advance(chrono::Duration::seconds(601));
    let expired = app.verify(&id, &code).send().await;
    expired.err(400, 3, "COMMAND-eis9R")?;
    // A fresh code verifies; the code is gone afterwards.
    let fresh = app.returned_code(&id).await?;
    app.verify(&id, &fresh).send().await.ok()?;
    check_eq!(
        app.last_event(&id).await?.as_deref(),
        Some("user.human.phone.verified")
    );
    app.verify(&id, &fresh)
        .send()
        .await
        .err(400, 3, "COMMAND-eis9R")?;
    // Unknown user.
    app.verify("999", "1")
        .send()
        .await
        .err(404, 5, "COMMAND-ieJ2e")?;
    app.verify(&id, &"1".repeat(21))
        .send()
        .await
        .invalid("VerificationCode")
}

async fn verify_needs_no_permission(b: Backend) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    let (id, code) = app.with_pending_code("ada", PHONE_A).await?;
    let stranger = app.human("stranger").await?;
    let r = app
        .verify(&id, &code)
        .by(&app.token_for(&stranger))
        .send()
        .await;
    r.ok()?;
    Ok(())
}

async fn too_many_attempts_kill_the_code_until_a_resend(b: Backend) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    let (id, code) = app.with_pending_code("ada", PHONE_A).await?;
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for _ in 0..5 {
        app.verify(&id, wrong)
            .send()
            .await
            .err(400, 3, "COMMAND-eis9R")?;
    }
    let dead = app.verify(&id, &code).send().await;
    dead.err(400, 9, "PHONE-aTt3m")?;
    anyhow::ensure!(
        dead.text.contains("Too many attempts, request a new code"),
        "{}",
        dead.text
    );
    let fresh = app.returned_code(&id).await?;
    app.verify(&id, &fresh).send().await.ok()?;
    Ok(())
}

async fn remove_phone_then_remove_again(b: Backend) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    let (id, _) = app.with_pending_code("ada", PHONE_A).await?;
    app.remove_phone(&id).send().await.ok()?;
    let user = app.get_user(&id).send().await;
    check_eq!(user.ok()?["user"]["human"]["phone"], json!({}));
    app.remove_phone(&id)
        .send()
        .await
        .err(404, 5, "COMMAND-ieJ2e")?;
    let nobody = app.human("nobody").await?;
    app.set_phone(&id, PHONE_A)
        .return_code()
        .send()
        .await
        .ok()?;
    app.remove_phone(&id)
        .by(&app.token_for(&nobody))
        .send()
        .await
        .err(403, 7, "AUTH-5mWD2")?;
    app.remove_phone(&id)
        .by(&app.token_for(&id))
        .send()
        .await
        .ok()?;
    Ok(())
}

async fn v2beta_paths_behave_as_v2(b: Backend) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    let id = app.human("ada").await?;
    let beta = app.v2beta();
    beta.set_phone(&id, PHONE_A)
        .return_code()
        .send()
        .await
        .ok()?;
    let r = beta.resend(&id).return_code().send().await;
    let code = r.verification_code()?;
    beta.verify(&id, &code).send().await.ok()?;
    beta.resend(&id)
        .send()
        .await
        .err(400, 9, "PHONE-5xrra88eq8")?;
    beta.remove_phone(&id).send().await.ok()?;
    Ok(())
}

async fn details_report_the_last_sequence(b: Backend) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    let id = app.human("ada").await?; // 1: human.added
    let r = app.set_phone(&id, PHONE_A).return_code().send().await;
    check_eq!(r.sequence()?, 3); // 2: phone.changed, 3: code.added
    let details = &r.ok()?["details"];
    check_eq!(details["resourceOwner"], json!(app.org_id));
    anyhow::ensure!(
        details.get("creationDate").is_none(),
        "creationDate only on create"
    );
    let change = details["changeDate"].as_str().unwrap_or_default();
    anyhow::ensure!(
        change.starts_with("2026-06-01T09:00:00") && change.ends_with('Z'),
        "{change}"
    );
    let r = app.resend(&id).return_code().send().await;
    check_eq!(r.sequence()?, 4);
    let read = app.get_user(&id).send().await;
    check_eq!(read.ok()?["details"]["sequence"], json!("4"));
    anyhow::ensure!(read.body["details"]["creationDate"].is_string());
    Ok(())
}
