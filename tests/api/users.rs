//! Users, organizations and memberships (spec section 7): enough to make the phone API usable.

use anyhow::Result;
use serde_json::json;

use crate::check_eq;
use crate::helpers::{Backend, PHONE_A, TestApp};

pub fn tests() -> Vec<(&'static str, crate::TestFn)> {
    crate::suite!(users;
        add_human_with_phone_modes,
        add_human_errors,
        get_user_permissions,
        deactivate_reactivate_delete,
        organizations_and_members,
        me_returns_the_caller_as_zitadel,
        personal_access_tokens_authenticate_until_removed,
        acting_on_a_user_needs_its_every_scope,
    )
}

async fn add_human_with_phone_modes(b: Backend) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    let body = |name: &str, phone: serde_json::Value| {
        json!({
            "username": name, "profile": {"givenName": "A", "familyName": "B"}, "email": {"email": format!("{name}@x.ch"), "isVerified": true},
            "phone": phone,
        })
    };
    let r = app
        .post("/v2/users/human")
        .json(body("ret", json!({"phone": PHONE_A, "returnCode": {}})))
        .send()
        .await;
    let code = r.ok()?["phoneCode"].as_str().unwrap_or_default().to_owned();
    check_eq!(code.len(), 6);
    anyhow::ensure!(
        r.body["details"]["creationDate"].is_string(),
        "creationDate on create"
    );
    check_eq!(r.sequence()?, 3);
    let id = r.body["userId"].as_str().unwrap_or_default().to_owned();
    app.verify(&id, &code).send().await.ok()?;

    let r = app
        .post("/v2/users/human")
        .json(body("send", json!({"phone": PHONE_A})))
        .send()
        .await;
    anyhow::ensure!(r.ok()?.get("phoneCode").is_none());
    check_eq!(app.deliver().await?, 1);
    let r = app
        .post("/v2/users/human")
        .json(body(
            "verified",
            json!({"phone": PHONE_A, "isVerified": true}),
        ))
        .send()
        .await;
    let id = r.ok()?["userId"].as_str().unwrap_or_default().to_owned();
    let user = app.get_user(&id).send().await;
    let human = &user.ok()?["user"]["human"];
    check_eq!(
        human["phone"],
        json!({"phone": PHONE_A, "isVerified": true})
    );
    check_eq!(
        human["email"],
        json!({"email": "verified@x.ch", "isVerified": true})
    );
    check_eq!(human["profile"]["displayName"], json!("A B"));
    // A caller-chosen id.
    let r = app.post("/v2/users/human").json(json!({"userId": "custom-1", "profile": {"givenName": "C", "familyName": "D"}, "email": {"email": "c@d.ch"}})).send().await;
    check_eq!(r.ok()?["userId"], json!("custom-1"));
    // Username defaults to the email.
    let u = app.get("/v2/users/custom-1").send().await;
    check_eq!(u.ok()?["user"]["username"], json!("c@d.ch"));
    Ok(())
}

async fn add_human_errors(b: Backend) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    app.human("taken").await?;
    let add = |v: serde_json::Value| app.post("/v2/users/human").json(v);
    add(json!({"profile": {"givenName": "A", "familyName": "B"}, "email": {"email": ""}}))
        .send()
        .await
        .err(400, 3, "EMAIL-spblu")?;
    add(json!({"profile": {"givenName": "A", "familyName": "B"}, "email": {"email": "nope"}}))
        .send()
        .await
        .err(400, 3, "EMAIL-599BI")?;
    add(json!({"profile": {"givenName": "", "familyName": "B"}, "email": {"email": "a@b.ch"}}))
        .send()
        .await
        .err(400, 3, "USER-UCej2")?;
    add(json!({"profile": {"givenName": "A", "familyName": " "}, "email": {"email": "a@b.ch"}}))
        .send()
        .await
        .err(400, 3, "USER-4hB7d")?;
    add(json!({"username": "TAKEN", "profile": {"givenName": "A", "familyName": "B"}, "email": {"email": "a@b.ch"}})).send().await.err(409, 6, "V3-DKcYh")?;
    add(json!({"profile": {"givenName": "A", "familyName": "B"}, "email": {"email": "a@b.ch"}, "phone": {"phone": "x"}})).send().await.err(400, 3, "PHONE-so0wa")?;
    add(json!({"userId": app.admin_id, "profile": {"givenName": "A", "familyName": "B"}, "email": {"email": "a@b.ch"}})).send().await.err(400, 9, "COMMAND-7yiox1isql")?;
    add(json!({"organization": {"orgId": "777"}, "profile": {"givenName": "A", "familyName": "B"}, "email": {"email": "a@b.ch"}})).send().await.err(400, 9, "COMMAND-QXPGs")?;
    // Fields beyond their length, like ZITADEL's request validation.
    add(json!({"userId": "9".repeat(201), "profile": {"givenName": "A", "familyName": "B"}, "email": {"email": "a@b.ch"}})).send().await.invalid("UserId")?;
    add(json!({"profile": {"givenName": "A", "familyName": "B", "displayName": "d".repeat(201)}, "email": {"email": "a@b.ch"}})).send().await.invalid("DisplayName")?;
    // Without user.write in the org.
    let nobody = app.human("nobody").await?;
    add(json!({"profile": {"givenName": "A", "familyName": "B"}, "email": {"email": "a@b.ch"}}))
        .by(&app.token_for(&nobody))
        .send()
        .await
        .err(403, 7, "AUTH-5mWD2")?;
    // A removed user's name is free again.
    let gone = app.human("gone").await?;
    app.delete_user(&gone).send().await.ok()?;
    app.human("gone").await?;
    Ok(())
}

async fn get_user_permissions(b: Backend) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    let a = app.human("a").await?;
    let other = app.human("other").await?;
    app.get_user(&a).by(&app.token_for(&a)).send().await.ok()?;
    app.get_user(&a)
        .by(&app.token_for(&other))
        .send()
        .await
        .err(403, 7, "AUTH-5mWD2")?;
    app.get_user("0").send().await.err(404, 5, "QUERY-Dfbg2")?;
    let bot = app.machine("bot").await?;
    let r = app.get_user(&bot).send().await;
    check_eq!(r.ok()?["user"]["machine"]["name"], json!("Bot"));
    Ok(())
}

async fn deactivate_reactivate_delete(b: Backend) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    let id = app.human("ada").await?;
    app.reactivate(&id)
        .send()
        .await
        .err(400, 9, "COMMAND-s5qqcz97hf")?;
    app.deactivate(&id).send().await.ok()?;
    app.deactivate(&id)
        .send()
        .await
        .err(400, 9, "COMMAND-5gunjw0cd7")?;
    let r = app.get_user(&id).send().await;
    check_eq!(r.ok()?["user"]["state"], json!("USER_STATE_INACTIVE"));
    app.reactivate(&id).send().await.ok()?;
    app.delete_user(&id).send().await.ok()?;
    app.delete_user(&id)
        .send()
        .await
        .err(404, 5, "COMMAND-bd4ir1mblj")?;
    app.deactivate(&id)
        .send()
        .await
        .err(404, 5, "COMMAND-5gp2p62iin")?;
    app.reactivate(&id)
        .send()
        .await
        .err(404, 5, "COMMAND-9hy5kzbuk6")?;
    app.get_user(&id).send().await.err(404, 5, "QUERY-Dfbg2")?;
    check_eq!(app.last_event(&id).await?.as_deref(), Some("user.removed"));
    Ok(())
}

async fn organizations_and_members(b: Backend) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    let r = app
        .post("/v2/organizations")
        .json(json!({"name": "Acme"}))
        .send()
        .await;
    let acme = r.ok()?["organizationId"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
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
    let add = |org: &str, body: serde_json::Value| {
        app.post("/management/v1/orgs/me/members")
            .org(org)
            .json(body)
    };
    add(&acme, json!({"userId": member, "roles": []}))
        .send()
        .await
        .err(400, 3, "ORG-4Mlfs")?;
    add(&acme, json!({"userId": member, "roles": ["IAM_OWNER"]}))
        .send()
        .await
        .err(400, 3, "Org-4N8es")?;
    add(&acme, json!({"userId": "nobody", "roles": ["ORG_OWNER"]}))
        .send()
        .await
        .err(400, 9, "ORG-GoXOn")?;
    add(
        &acme,
        json!({"userId": member, "roles": ["ORG_USER_MANAGER"]}),
    )
    .send()
    .await
    .ok()?;
    add(&acme, json!({"userId": member, "roles": ["ORG_OWNER"]}))
        .send()
        .await
        .err(409, 6, "ORG-poWwe")?;
    // IAM members.
    app.post("/admin/v1/members")
        .json(json!({"userId": member, "roles": ["ORG_OWNER"]}))
        .send()
        .await
        .err(400, 3, "INSTANCE-4m0fS")?;
    app.post("/admin/v1/members")
        .json(json!({"userId": "nobody", "roles": ["IAM_OWNER"]}))
        .send()
        .await
        .err(400, 9, "INSTA-GSXOn")?;
    app.post("/admin/v1/members")
        .json(json!({"userId": member, "roles": ["IAM_OWNER_VIEWER"]}))
        .send()
        .await
        .ok()?;
    app.post("/admin/v1/members")
        .json(json!({"userId": member, "roles": ["IAM_OWNER"]}))
        .send()
        .await
        .err(409, 6, "INSTA-pFDwe")?;
    app.post("/admin/v1/members")
        .by(&boss_token)
        .json(json!({"userId": boss, "roles": ["IAM_OWNER"]}))
        .send()
        .await
        .err(403, 7, "AUTH-5mWD2")?;
    Ok(())
}

async fn me_returns_the_caller_as_zitadel(b: Backend) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    let r = app.get("/auth/v1/users/me").send().await;
    let user = &r.ok()?["user"];
    check_eq!(user["id"], json!(app.admin_id));
    check_eq!(user["state"], json!("USER_STATE_ACTIVE"));
    check_eq!(user["userName"], json!("admin"));
    check_eq!(user["preferredLoginName"], json!("admin"));
    check_eq!(user["details"]["sequence"], json!("1"));
    check_eq!(user["details"]["resourceOwner"], json!(app.org_id));
    check_eq!(user["human"]["email"]["isEmailVerified"], json!(true));
    check_eq!(user["human"]["phone"], json!({}));
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
