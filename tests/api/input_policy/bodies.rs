//! Every text field of every request body: a control character is code 3 naming the field
//! (`invalid {Message}.{Field}: ...`), and nothing is written. Each case then succeeds without the control
//! character, which shows that the refusal was the policy's and that no earlier attempt left anything behind
//! (a stored username, org name, membership or user ID would make the clean request fail).

use anyhow::{Context, Result};
use phoneverify::domain::events::INSTANCE_ID;
use serde_json::{Value, json};

use super::{CONTROLS, refusal, with_control};
use crate::check_eq;
use crate::helpers::{Backend, PHONE_A, PHONE_B, TestApp};

crate::suite!(input_policy;
    control_characters_in_add_human_fields_are_refused, control_characters_in_phone_and_code_fields_are_refused,
    control_characters_in_machine_member_and_org_fields_are_refused,
);

/// Sets the string at `pointer` to itself with `c` inside.
fn poison(body: &Value, pointer: &str, c: char) -> Result<Value> {
    let mut body = body.clone();
    let slot = body.pointer_mut(pointer).context(pointer.to_owned())?;
    let clean = slot.as_str().context("a string field")?.to_owned();
    *slot = json!(with_control(&clean, c));
    Ok(body)
}

/// Posts `body` with each control character in each field and expects each refused, naming the field.
async fn refuses_each(
    app: &TestApp,
    method: &str,
    path: &str,
    body: &Value,
    fields: &[(&str, &str)],
    token: Option<&str>,
) -> Result<()> {
    for (pointer, field) in fields {
        for c in CONTROLS {
            let req = match method {
                "PUT" => app.put(path),
                _ => app.post(path),
            };
            let req = match token {
                Some(t) => req.by(t),
                None => req,
            };
            req.json(poison(body, pointer, c)?)
                .send()
                .await
                .invalid(&refusal(field))
                .with_context(|| format!("{path} {pointer} {c:?}"))?;
        }
    }
    Ok(())
}

async fn control_characters_in_add_human_fields_are_refused(b: Backend) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    let body = json!({
        "userId": "victim",
        "username": "victim",
        "organization": {"orgId": app.org_id},
        "profile": {"givenName": "Given", "familyName": "Family", "displayName": "Display",
                    "nickName": "Nick", "preferredLanguage": "de"},
        "email": {"email": "victim@example.com"},
        "phone": {"phone": PHONE_A, "returnCode": {}},
    });
    let fields = [
        ("/userId", "AddHumanUserRequest.UserId"),
        ("/username", "AddHumanUserRequest.Username"),
        (
            "/organization/orgId",
            "AddHumanUserRequest.Organization.OrgId",
        ),
        (
            "/profile/givenName",
            "AddHumanUserRequest.Profile.GivenName",
        ),
        (
            "/profile/familyName",
            "AddHumanUserRequest.Profile.FamilyName",
        ),
        (
            "/profile/displayName",
            "AddHumanUserRequest.Profile.DisplayName",
        ),
        ("/profile/nickName", "AddHumanUserRequest.Profile.NickName"),
        (
            "/profile/preferredLanguage",
            "AddHumanUserRequest.Profile.PreferredLanguage",
        ),
        ("/email/email", "AddHumanUserRequest.Email.Email"),
        ("/phone/phone", "AddHumanUserRequest.Phone.Phone"),
    ];
    refuses_each(&app, "POST", "/v2/users/human", &body, &fields, None).await?;
    // Proto (snake_case) names are named as the message's fields too.
    let snake = json!({"profile": {"given_name": "Gi\u{0}ven", "family_name": "F"}, "email": {"email": "s@x.ch"}});
    app.post("/v2/users/human")
        .json(snake)
        .send()
        .await
        .invalid(&refusal("AddHumanUserRequest.Profile.GivenName"))?;
    check_eq!(app.events("victim").await?.len(), 0);
    let created = app.post("/v2/users/human").json(body).send().await;
    check_eq!(created.field("userId")?, "victim");
    let user = app.get_user("victim").send().await;
    check_eq!(
        user.ok()?["user"]["human"]["profile"]["nickName"],
        json!("Nick")
    );
    Ok(())
}

async fn control_characters_in_phone_and_code_fields_are_refused(b: Backend) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    let (ada, code) = app.with_pending_code("ada", PHONE_A).await?;
    let ada_token = app.token_for(&ada);
    let before = app.events(&ada).await?.len();
    let v2 = format!("/v2/users/{ada}/phone");
    refuses_each(
        &app,
        "POST",
        &v2,
        &json!({"phone": PHONE_B}),
        &[("/phone", "SetPhoneRequest.Phone")],
        None,
    )
    .await?;
    let verify = format!("/v2/users/{ada}/phone/verify");
    let fields = [("/verificationCode", "VerifyPhoneRequest.VerificationCode")];
    refuses_each(
        &app,
        "POST",
        &verify,
        &json!({"verificationCode": code}),
        &fields,
        None,
    )
    .await?;
    // Any caller: the user's own v1 self-service, whose wrong code would otherwise spend an attempt.
    let fields = [("/phone", "SetMyPhoneRequest.Phone")];
    let me = "/auth/v1/users/me/phone";
    refuses_each(
        &app,
        "PUT",
        me,
        &json!({"phone": PHONE_B}),
        &fields,
        Some(&ada_token),
    )
    .await?;
    let fields = [("/code", "VerifyMyPhoneRequest.Code")];
    let me_verify = "/auth/v1/users/me/phone/_verify";
    refuses_each(
        &app,
        "POST",
        me_verify,
        &json!({"code": code}),
        &fields,
        Some(&ada_token),
    )
    .await?;
    let managed = format!("/management/v1/users/{ada}/phone");
    let fields = [("/phone", "UpdateHumanPhoneRequest.Phone")];
    refuses_each(
        &app,
        "PUT",
        &managed,
        &json!({"phone": PHONE_B}),
        &fields,
        None,
    )
    .await?;
    // A string anywhere in the body counts, even inside the (otherwise empty) sendCode message.
    app.post(&format!("/v2/users/{ada}/phone/resend"))
        .json(json!({"sendCode": {"note": "x\u{0}"}}))
        .send()
        .await
        .invalid(&refusal("ResendPhoneCodeRequest.SendCode.Note"))?;
    check_eq!(app.events(&ada).await?.len(), before);
    // The code is still pending with all its attempts, and the number unchanged.
    app.verify(&ada, &code).send().await.ok()?;
    let user = app.get_user(&ada).send().await;
    check_eq!(
        user.ok()?["user"]["human"]["phone"]["phone"],
        json!(PHONE_A)
    );
    Ok(())
}

async fn control_characters_in_machine_member_and_org_fields_are_refused(b: Backend) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    let bob = app.human("bob").await?;
    let (bob_before, org_before) = (
        app.events(&bob).await?.len(),
        app.events(&app.org_id).await?.len(),
    );
    let instance_before = app.events(INSTANCE_ID).await?.len();

    let machine =
        json!({"userId": "bot-1", "userName": "bot", "name": "Bot", "description": "Builds"});
    let fields = [
        ("/userId", "AddMachineUserRequest.UserId"),
        ("/userName", "AddMachineUserRequest.UserName"),
        ("/name", "AddMachineUserRequest.Name"),
        ("/description", "AddMachineUserRequest.Description"),
    ];
    refuses_each(
        &app,
        "POST",
        "/management/v1/users/machine",
        &machine,
        &fields,
        None,
    )
    .await?;

    let member = json!({"userId": bob, "roles": ["ORG_USER_MANAGER"]});
    let fields = [
        ("/userId", "AddMemberRequest.UserId"),
        ("/roles/0", "AddMemberRequest.Roles[0]"),
    ];
    refuses_each(
        &app,
        "POST",
        "/management/v1/orgs/me/members",
        &member,
        &fields,
        None,
    )
    .await?;
    let iam = json!({"userId": bob, "roles": ["IAM_OWNER"]});
    refuses_each(&app, "POST", "/admin/v1/members", &iam, &fields, None).await?;

    let org = json!({"name": "Acme", "admins": [{"userId": bob, "roles": ["ORG_OWNER"]}]});
    let fields = [
        ("/name", "AddOrganizationRequest.Name"),
        (
            "/admins/0/userId",
            "AddOrganizationRequest.Admins[0].UserId",
        ),
        (
            "/admins/0/roles/0",
            "AddOrganizationRequest.Admins[0].Roles[0]",
        ),
    ];
    refuses_each(&app, "POST", "/v2/organizations", &org, &fields, None).await?;

    check_eq!(app.events("bot-1").await?.len(), 0);
    check_eq!(app.events(&bob).await?.len(), bob_before);
    check_eq!(app.events(&app.org_id).await?.len(), org_before);
    check_eq!(app.events(INSTANCE_ID).await?.len(), instance_before);
    // Clean, each succeeds: nothing refused above took the ID, the name or the membership.
    let r = app
        .post("/management/v1/users/machine")
        .json(machine)
        .send()
        .await;
    check_eq!(r.field("userId")?, "bot-1");
    app.post("/management/v1/orgs/me/members")
        .json(member)
        .send()
        .await
        .ok()?;
    app.post("/admin/v1/members").json(iam).send().await.ok()?;
    app.post("/v2/organizations").json(org).send().await.ok()?;
    Ok(())
}
