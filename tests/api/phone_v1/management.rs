//! Management API v1: a user's phone by id, in the org the context (x-zitadel-orgid) selects.

use anyhow::Result;
use serde_json::json;

use crate::check_eq;
use crate::helpers::{Backend, PHONE_A, PHONE_B, TestApp};

crate::suite!(phone_v1;
    management_resend_and_its_preconditions, management_user_of_another_org_is_not_found,
    management_org_header_selects_the_org, management_permissions, management_update_with_verified_flag,
    management_get_and_remove,
);

async fn management_resend_and_its_preconditions(b: Backend) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    let (id, old) = app.with_pending_code("ada", PHONE_A).await?;
    let r = app.v1_managed(&id).resend().json_body().send().await;
    check_eq!(r.sequence()?, 4);
    check_eq!(app.deliver().await?, 1);
    let new = app.codes_sent_to(PHONE_A).pop().unwrap_or_default();
    // Only the latest code is valid.
    if new != old {
        app.verify(&id, &old)
            .send()
            .await
            .err(400, 3, "COMMAND-eis9R")?;
    }
    // Unknown, machine and deleted users: "User could not be found", 400 as ZITADEL.
    let bot = app.machine("bot").await?;
    let gone = app.human("gone").await?;
    app.delete_user(&gone).send().await.ok()?;
    for user in ["424242", &bot, &gone] {
        app.v1_managed(user)
            .resend()
            .send()
            .await
            .err(400, 9, "COMMAND-2M0fs")?;
    }
    // No phone, then verified.
    let bare = app.human("bare").await?;
    app.v1_managed(&bare)
        .resend()
        .send()
        .await
        .err(404, 5, "COMMAND-2b7Hf")?;
    app.verify(&id, &new).send().await.ok()?;
    app.v1_managed(&id)
        .resend()
        .send()
        .await
        .err(400, 9, "COMMAND-2M9sf")
}

/// A new org "Other" and a user there whose phone is PHONE_A, unverified; returns (org id, user id).
async fn foreign_user_with_phone(app: &TestApp) -> Result<(String, String)> {
    let other = app.org("Other").await?;
    let foreign = app.human_in(&other, "foreign").await?;
    app.set_phone(&foreign, PHONE_A)
        .return_code()
        .send()
        .await
        .ok()?;
    Ok((other, foreign))
}

async fn management_user_of_another_org_is_not_found(b: Backend) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    let (_, foreign) = foreign_user_with_phone(&app).await?;
    // Acting in the admin's own org (no header): the user is elsewhere.
    let elsewhere = app.v1_managed(&foreign);
    elsewhere
        .resend()
        .send()
        .await
        .err(400, 9, "COMMAND-2M0fs")?;
    elsewhere
        .get_phone()
        .send()
        .await
        .err(404, 5, "QUERY-DAvb3")?;
    elsewhere
        .set_phone(PHONE_B)
        .send()
        .await
        .err(400, 9, "COMMAND-3M0fs")?;
    elsewhere
        .remove_phone()
        .send()
        .await
        .err(400, 9, "COMMAND-3M9fs")?;
    // v2 acts on the user's own org regardless.
    app.resend(&foreign).return_code().send().await.ok()?;
    Ok(())
}

async fn management_org_header_selects_the_org(b: Backend) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    let (other, foreign) = foreign_user_with_phone(&app).await?;
    let managed = app.v1_managed(&foreign);
    let r = managed.resend().org(&other).send().await;
    check_eq!(r.ok()?["details"]["resourceOwner"], json!(other));
    let r = managed.get_phone().org(&other).send().await;
    check_eq!(r.ok()?["phone"]["phone"], json!(PHONE_A));
    // An org that does not exist.
    for r in [
        managed.resend().org("999").send().await,
        app.resend(&foreign).org("999").send().await,
        app.v1_me(&app.admin_token)
            .get_phone()
            .org("999")
            .send()
            .await,
    ] {
        r.err(403, 7, "AUTH-Bs7Ds")?;
    }
    // The auth API does not use the header to find the user: it is always the caller.
    let me = app.human("me").await?;
    let r = app
        .v1_me(&app.token_for(&me))
        .get_phone()
        .org(&other)
        .send()
        .await;
    check_eq!(r.ok()?["details"]["resourceOwner"], json!(app.org_id));
    Ok(())
}

async fn management_permissions(b: Backend) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    let (target, _) = app.with_pending_code("target", PHONE_A).await?;
    let managed = app.v1_managed(&target);
    let nobody = app.human("nobody").await?;
    managed
        .resend()
        .by(&app.token_for(&nobody))
        .send()
        .await
        .err(403, 7, "AUTH-5mWD2")?;
    // Even a missing user answers 403 to a caller without rights: the permission comes first in v1.
    app.v1_managed("4711")
        .resend()
        .by(&app.token_for(&nobody))
        .send()
        .await
        .err(403, 7, "AUTH-5mWD2")?;
    let viewer = app.human("viewer").await?;
    app.grant_org_role(&app.org_id, &viewer, "ORG_OWNER_VIEWER")
        .await?;
    let v = app.token_for(&viewer);
    managed.get_phone().by(&v).send().await.ok()?;
    managed
        .resend()
        .by(&v)
        .send()
        .await
        .err(403, 7, "AUTH-5mWD2")?;
    let manager = app.human("manager").await?;
    app.grant_org_role(&app.org_id, &manager, "ORG_USER_MANAGER")
        .await?;
    managed
        .resend()
        .by(&app.token_for(&manager))
        .send()
        .await
        .ok()?;
    // An org role counts only in its org.
    let other = app.org("Other").await?;
    managed
        .resend()
        .by(&app.token_for(&manager))
        .org(&other)
        .send()
        .await
        .err(403, 7, "AUTH-5mWD2")?;
    // An IAM role counts everywhere.
    let iam = app.human("iam").await?;
    app.grant_iam_role(&iam, "IAM_USER_MANAGER").await?;
    managed
        .resend()
        .by(&app.token_for(&iam))
        .send()
        .await
        .ok()?;
    Ok(())
}

async fn management_update_with_verified_flag(b: Backend) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    let id = app.human("ada").await?;
    let managed = app.v1_managed(&id);
    managed.set_phone(PHONE_A).verified().send().await.ok()?;
    check_eq!(app.deliver().await?, 0);
    let r = managed.get_phone().send().await;
    check_eq!(
        r.ok()?["phone"],
        json!({"phone": PHONE_A, "isPhoneVerified": true})
    );
    // A new number without the flag: unverified, SMS.
    managed.set_phone(PHONE_B).send().await.ok()?;
    check_eq!(app.deliver().await?, 1);
    // The same, unverified number with the flag confirms it; without it, "not changed".
    managed
        .set_phone(PHONE_B)
        .send()
        .await
        .err(400, 9, "COMMAND-wF94r")?;
    app.put(&format!("/management/v1/users/{id}/phone"))
        .json(json!({"phone": PHONE_B, "is_phone_verified": true}))
        .send()
        .await
        .ok()?;
    let r = managed.get_phone().send().await;
    check_eq!(
        r.ok()?["phone"],
        json!({"phone": PHONE_B, "isPhoneVerified": true})
    );
    Ok(())
}

async fn management_get_and_remove(b: Backend) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    let bot = app.machine("bot").await?;
    app.v1_managed(&bot)
        .get_phone()
        .send()
        .await
        .err(400, 9, "QUERY-hliQl")?;
    app.v1_managed("31337")
        .get_phone()
        .send()
        .await
        .err(404, 5, "QUERY-DAvb3")?;
    let (id, _) = app.with_pending_code("ada", PHONE_A).await?;
    let managed = app.v1_managed(&id);
    let r = managed.get_phone().send().await;
    let body = r.ok()?;
    check_eq!(body["details"]["sequence"], json!("3"));
    anyhow::ensure!(
        body["details"]["creationDate"].is_string() && body["details"]["changeDate"].is_string()
    );
    managed.remove_phone().send().await.ok()?;
    managed
        .remove_phone()
        .send()
        .await
        .err(404, 5, "COMMAND-p6rsc")?;
    managed.resend().send().await.err(404, 5, "COMMAND-2b7Hf")
}
