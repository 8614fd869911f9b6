//! Auth API v1: the caller's own phone, whoever the caller is.

use anyhow::Result;
use serde_json::json;

use crate::check_eq;
use crate::helpers::{Backend, PHONE_A, TestApp};

crate::suite!(phone_v1;
    my_phone_lifecycle, my_phone_set_errors, my_verify_errors, my_resend_preconditions_in_order,
);

async fn my_phone_lifecycle(b: Backend) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    let id = app.human("ada").await?;
    let token = app.token_for(&id);
    let me = app.v1_me(&token);
    // No phone yet: an empty phone object, as ZITADEL.
    let r = me.get_phone().send().await;
    check_eq!(r.ok()?["phone"], json!({}));
    // Set: unverified, code by SMS.
    me.set_phone("+41 79 123 45 67").send().await.ok()?;
    check_eq!(app.deliver().await?, 1);
    let r = me.get_phone().send().await;
    check_eq!(r.ok()?["phone"], json!({"phone": PHONE_A}));
    // Resend: a second SMS with a new code; verify with the latest.
    me.resend().json_body().send().await.ok()?;
    check_eq!(app.deliver().await?, 1);
    let codes = app.codes_sent_to(PHONE_A);
    check_eq!(codes.len(), 2);
    me.verify(&codes[1]).send().await.ok()?;
    let r = me.get_phone().send().await;
    check_eq!(
        r.ok()?["phone"],
        json!({"phone": PHONE_A, "isPhoneVerified": true})
    );
    check_eq!(r.body["details"]["resourceOwner"], json!(app.org_id));
    // Remove, then remove again.
    me.remove_phone().send().await.ok()?;
    me.remove_phone()
        .send()
        .await
        .err(404, 5, "COMMAND-p6rsc")?;
    let types = app.event_types(&id).await?;
    check_eq!(
        types,
        vec![
            "user.human.added",
            "user.human.phone.changed",
            "user.human.phone.code.added",
            "user.human.phone.code.sent",
            "user.human.phone.code.added",
            "user.human.phone.code.sent",
            "user.human.phone.verified",
            "user.human.phone.removed",
        ]
    );
    Ok(())
}

async fn my_phone_set_errors(b: Backend) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    let id = app.human("ada").await?;
    let token = app.token_for(&id);
    let me = app.v1_me(&token);
    // Request validation first, as ZITADEL's: 1-50 characters starting with `+`, no error ID.
    me.set_phone("")
        .send()
        .await
        .invalid("SetMyPhoneRequest.Phone: value length must be between 1 and 50 runes")?;
    app.put("/auth/v1/users/me/phone")
        .by(&token)
        .json(json!({}))
        .send()
        .await
        .invalid("SetMyPhoneRequest.Phone: value length must be between 1 and 50 runes")?;
    me.set_phone("0791234567")
        .send()
        .await
        .invalid(r#"SetMyPhoneRequest.Phone: value does not have prefix "+""#)?;
    me.set_phone("+41 12")
        .send()
        .await
        .err(400, 3, "PHONE-so0wa")?;
    me.set_phone(&format!("+41{}", "1".repeat(50)))
        .send()
        .await
        .invalid("Phone")?;
    me.set_phone(PHONE_A).send().await.ok()?;
    me.set_phone("+41 79 123 45 67")
        .send()
        .await
        .err(400, 9, "COMMAND-wF94r")?;
    check_eq!(app.event_types(&id).await?.len(), 3);
    Ok(())
}

async fn my_verify_errors(b: Backend) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    let id = app.human("ada").await?;
    let token = app.token_for(&id);
    let me = app.v1_me(&token);
    me.verify("")
        .send()
        .await
        .invalid("VerifyMyPhoneRequest.Code: value length must be between 1 and 200 runes")?;
    // No code at all.
    me.verify("123456")
        .send()
        .await
        .err(404, 5, "COMMAND-Rsj8c")?;
    me.set_phone(PHONE_A).send().await.ok()?;
    app.deliver().await?;
    let code = app.codes_sent_to(PHONE_A).pop().unwrap_or_default();
    let wrong = if code == "000000" { "111111" } else { "000000" };
    me.verify(wrong).send().await.err(400, 3, "COMMAND-sM0cs")?;
    check_eq!(
        app.last_event(&id).await?.as_deref(),
        Some("user.human.phone.verification.failed")
    );
    app.clock.advance(chrono::Duration::minutes(11));
    me.verify(&code).send().await.err(400, 3, "COMMAND-sM0cs")?;
    Ok(())
}

async fn my_resend_preconditions_in_order(b: Backend) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    let id = app.human("ada").await?;
    let token = app.token_for(&id);
    let me = app.v1_me(&token);
    me.resend().send().await.err(404, 5, "COMMAND-2b7Hf")?;
    me.set_phone(PHONE_A).send().await.ok()?;
    // An empty body and no body are both accepted.
    me.resend().send().await.ok()?;
    app.post("/auth/v1/users/me/phone/_resend_verification")
        .by(&token)
        .raw("")
        .send()
        .await
        .ok()?;
    // Three codes, one queued job: each new code rewrote the queued one, so only the last can go out.
    check_eq!(app.deliver().await?, 1);
    let counts = app.job_counts().await?;
    check_eq!((counts.sent, counts.dropped, counts.pending), (1, 0, 0));
    check_eq!(app.codes_sent_to(PHONE_A).len(), 1);
    let code = app.codes_sent_to(PHONE_A).pop().unwrap_or_default();
    me.verify(&code).send().await.ok()?;
    me.resend().send().await.err(400, 9, "COMMAND-2M9sf")?;
    me.remove_phone().send().await.ok()?;
    me.resend().send().await.err(404, 5, "COMMAND-2b7Hf")
}
