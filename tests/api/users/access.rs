//! Who may act: organizations and their members, instance members, personal access tokens, scopes.

use anyhow::Result;
use serde_json::json;

use crate::check_eq;
use crate::helpers::{Backend, PHONE_A, TestApp};

crate::suite!(users;
    organizations_and_members, personal_access_tokens_authenticate_until_removed,
    acting_on_a_user_needs_its_every_scope,
);

async fn organizations_and_members(b: Backend) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    let r = app
        .post("/v2/organizations")
        .json(json!({"name": "Acme"}))
        .send()
        .await;
    check_eq!(r.status, 201);
    let acme = r.field("organizationId")?;
    check_eq!(r.body["details"]["resourceOwner"], json!(acme));
    app.post("/v2/organizations")
        .json(json!({"name": "acme"}))
        .send()
        .await
        .err(409, 6, "V3-DKcYh")?;
    app.post("/v2/organizations")
        .json(json!({"name": " "}))
        .send()
        .await
        .err(400, 3, "ORG-mruNY")?;
    app.post("/v2/organizations")
        .json(json!({"name": ""}))
        .send()
        .await
        .invalid("AddOrganizationRequest.Name: value length must be between 1 and 200 runes")?;
    // An org admin gets ORG_OWNER and can manage users there, but cannot create orgs.
    let boss = app.human("boss").await?;
    app.post("/v2/organizations")
        .json(json!({"name": "Boss Inc", "admins": [{"userId": boss}]}))
        .send()
        .await
        .ok()?;
    let boss_token = app.token_for(&boss);
    app.post("/v2/organizations")
        .by(&boss_token)
        .json(json!({"name": "Nope"}))
        .send()
        .await
        .err(403, 7, "AUTH-5mWD2")?;
    // Members.
    let member = app.human("member").await?;
    let add = |user: &str, roles: &[&str]| app.add_org_member(&acme, user, roles);
    add(&member, &[]).send().await.err(400, 3, "ORG-4Mlfs")?;
    add(&member, &["IAM_OWNER"])
        .send()
        .await
        .err(400, 3, "Org-4N8es")?;
    add("nobody", &["ORG_OWNER"])
        .send()
        .await
        .err(400, 9, "ORG-GoXOn")?;
    add(&member, &["ORG_USER_MANAGER"]).send().await.ok()?;
    add(&member, &["ORG_OWNER"])
        .send()
        .await
        .err(409, 6, "ORG-poWwe")?;
    // IAM members.
    app.add_iam_member(&member, &["ORG_OWNER"])
        .send()
        .await
        .err(400, 3, "INSTANCE-4m0fS")?;
    app.add_iam_member("nobody", &["IAM_OWNER"])
        .send()
        .await
        .err(400, 9, "INSTA-GSXOn")?;
    app.grant_iam_role(&member, "IAM_OWNER_VIEWER").await?;
    app.add_iam_member(&member, &["IAM_OWNER"])
        .send()
        .await
        .err(409, 6, "INSTA-pFDwe")?;
    app.add_iam_member(&boss, &["IAM_OWNER"])
        .by(&boss_token)
        .send()
        .await
        .err(403, 7, "AUTH-5mWD2")?;
    Ok(())
}

async fn personal_access_tokens_authenticate_until_removed(b: Backend) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    let bot = app.machine("bot").await?;
    let pats = format!("/management/v1/users/{bot}/pats");
    let r = app.post(&pats).json(json!({})).send().await;
    let body = r.ok()?.clone();
    let (token_id, token) = (
        body["tokenId"].as_str().unwrap_or_default(),
        body["token"].as_str().unwrap_or_default(),
    );
    check_eq!(r.sequence()?, 2);
    // The machine user calls the API with it, within its roles.
    let me = app.get("/auth/v1/users/me").by(token).send().await;
    check_eq!(me.ok()?["user"]["machine"]["name"], json!("Bot"));
    let (target, _) = app.with_pending_code("target", PHONE_A).await?;
    let resend = || app.resend(&target).return_code().by(token);
    resend().send().await.err(403, 7, "AUTH-5mWD2")?;
    app.grant_org_role(&app.org_id, &bot, "ORG_USER_MANAGER")
        .await?;
    resend().send().await.ok()?;
    // It survives a rebuild of the projections.
    app.services.rebuild_projections().await?;
    app.get("/auth/v1/users/me").by(token).send().await.ok()?;
    // Removed: refused at once, everywhere; removing again is "not found".
    app.delete(&format!("{pats}/{token_id}"))
        .send()
        .await
        .ok()?;
    let r = app.get("/auth/v1/users/me").by(token).send().await;
    r.err(401, 16, "AUTH-7fs1e")?;
    app.delete(&format!("{pats}/{token_id}"))
        .send()
        .await
        .err(404, 5, "COMMAND-4m77G")?;
    // An expiration date is honoured.
    let r = app
        .post(&pats)
        .json(json!({"expirationDate": "2026-06-01T10:00:00Z"}))
        .send()
        .await;
    let short = r.ok()?["token"].as_str().unwrap_or_default().to_owned();
    app.get("/auth/v1/users/me").by(&short).send().await.ok()?;
    app.clock.advance(chrono::Duration::hours(2));
    app.get("/auth/v1/users/me")
        .by(&short)
        .send()
        .await
        .err(401, 16, "AUTH-7fs1e")?;
    // Refusals.
    app.post(&pats)
        .json(json!({"expirationDate": "2020-01-01T00:00:00Z"}))
        .send()
        .await
        .err(400, 3, "DOMAIN-dv3t5")?;
    app.post(&pats)
        .json(json!({"expirationDate": "tomorrow"}))
        .send()
        .await
        .invalid("expirationDate")?;
    let human = app.human("human").await?;
    app.post(&format!("/management/v1/users/{human}/pats"))
        .send()
        .await
        .err(400, 9, "COMMAND-Df2f1")?;
    app.post("/management/v1/users/404/pats")
        .send()
        .await
        .err(400, 9, "COMMAND-Dggw2")?;
    let other = app.org("Other").await?;
    app.post(&pats)
        .org(&other)
        .send()
        .await
        .err(400, 9, "COMMAND-Dggw2")?;
    let nobody = app.human("nobody").await?;
    app.post(&pats)
        .by(&app.token_for(&nobody))
        .send()
        .await
        .err(403, 7, "AUTH-5mWD2")?;
    Ok(())
}

/// An org's user manager cannot delete or deactivate an instance administrator, nor mint a token that carries
/// instance roles; an instance administrator can.
async fn acting_on_a_user_needs_its_every_scope(b: Backend) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    let manager = app.human("manager").await?;
    app.grant_org_role(&app.org_id, &manager, "ORG_USER_MANAGER")
        .await?;
    let m = app.token_for(&manager);
    let admin = app.admin_id.clone();
    app.delete_user(&admin)
        .by(&m)
        .send()
        .await
        .err(403, 7, "AUTH-5mWD2")?;
    app.deactivate(&admin)
        .by(&m)
        .send()
        .await
        .err(403, 7, "AUTH-5mWD2")?;
    let ci = app.machine("ci").await?;
    app.grant_iam_role(&ci, "IAM_OWNER").await?;
    app.post(&format!("/management/v1/users/{ci}/pats"))
        .by(&m)
        .send()
        .await
        .err(403, 7, "AUTH-5mWD2")?;
    // Plain users of the org remain the manager's to manage.
    let bot = app.machine("bot").await?;
    app.post(&format!("/management/v1/users/{bot}/pats"))
        .by(&m)
        .send()
        .await
        .ok()?;
    let plain = app.human("plain").await?;
    app.deactivate(&plain).by(&m).send().await.ok()?;
    // The instance owner covers every scope.
    app.post(&format!("/management/v1/users/{ci}/pats"))
        .send()
        .await
        .ok()?;
    // A chosen user id must not name another aggregate either.
    let r = app.post("/v2/users/human")
        .json(json!({"userId": "instance", "profile": {"givenName": "A", "familyName": "B"}, "email": {"email": "i@x.ch"}}))
        .send()
        .await;
    r.err(400, 9, "COMMAND-7yiox1isql")?;
    let r = app.post("/v2/users/human")
        .json(json!({"userId": app.org_id, "profile": {"givenName": "A", "familyName": "B"}, "email": {"email": "o@x.ch"}}))
        .send()
        .await;
    r.err(400, 9, "COMMAND-7yiox1isql")
}
