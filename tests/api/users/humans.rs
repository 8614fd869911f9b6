//! Humans and machines: creation, reading, deactivation and removal, and the caller as /me.

use anyhow::Result;
use serde_json::json;

use crate::check_eq;
use crate::helpers::{Backend, PHONE_A, TestApp};

crate::suite!(users;
    add_human_with_phone_modes, add_human_errors, get_user_permissions, deactivate_reactivate_delete,
    me_returns_the_caller_as_zitadel,
);

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
    // Every profile field, with ZITADEL's values for what this service does not keep.
    check_eq!(
        human["profile"],
        json!({"givenName": "A", "familyName": "B", "nickName": "", "displayName": "A B",
               "preferredLanguage": "und", "gender": "GENDER_UNSPECIFIED", "avatarUrl": ""})
    );
    // A caller-chosen id.
    let r = app.post("/v2/users/human").json(json!({"userId": "custom-1", "profile": {"givenName": "C", "familyName": "D"}, "email": {"email": "c@d.ch"}})).send().await;
    check_eq!(r.ok()?["userId"], json!("custom-1"));
    check_eq!(r.status, 201);
    // Username defaults to the email.
    let u = app.get("/v2/users/custom-1").send().await;
    check_eq!(u.ok()?["user"]["username"], json!("c@d.ch"));
    Ok(())
}

async fn add_human_errors(b: Backend) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    app.human("taken").await?;
    let add = |v: serde_json::Value| app.post("/v2/users/human").json(v);
    // Request validation, as ZITADEL's: required messages and 1-200 character names and email.
    add(json!({"profile": {"givenName": "A", "familyName": "B"}, "email": {"email": ""}}))
        .send()
        .await
        .invalid("AddHumanUserRequest.Email.Email: value length must be between 1 and 200 runes")?;
    add(json!({"email": {"email": "a@b.ch"}}))
        .send()
        .await
        .invalid("AddHumanUserRequest.Profile: value is required")?;
    add(json!({"profile": {"givenName": "A", "familyName": "B"}}))
        .send()
        .await
        .invalid("AddHumanUserRequest.Email: value is required")?;
    add(json!({"profile": {"givenName": "A", "familyName": "B"}, "email": {"email": "nope"}}))
        .send()
        .await
        .err(400, 3, "EMAIL-599BI")?;
    add(json!({"profile": {"givenName": "", "familyName": "B"}, "email": {"email": "a@b.ch"}}))
        .send()
        .await
        .invalid(
            "AddHumanUserRequest.Profile.GivenName: value length must be between 1 and 200 runes",
        )?;
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
    let profile = &user["human"]["profile"];
    check_eq!(
        (&profile["nickName"], &profile["preferredLanguage"]),
        (&json!(""), &json!("en"))
    );
    check_eq!(
        (&profile["gender"], &profile["avatarUrl"]),
        (&json!("GENDER_UNSPECIFIED"), &json!(""))
    );
    Ok(())
}
