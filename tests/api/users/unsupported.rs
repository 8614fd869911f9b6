//! Request fields ZITADEL defines and this service does not implement: refused by name (12, HTTP 501) on
//! every creation, with nothing written, instead of a success that did less than asked.

use anyhow::Result;
use serde_json::{Value, json};

use crate::check_eq;
use crate::helpers::{Backend, TestApp};

crate::suite!(users;
    unsupported_human_fields_are_refused_by_name, unsupported_org_and_machine_fields_are_refused_by_name,
);

fn human(extra: Value) -> Value {
    let mut body = json!({"username": "zoe", "profile": {"givenName": "Z", "familyName": "Y"},
        "email": {"email": "zoe@example.com"}});
    merge(&mut body, extra);
    body
}

/// `extra`'s members into `body`, objects merged member by member.
fn merge(body: &mut Value, extra: Value) {
    match (body, extra) {
        (Value::Object(b), Value::Object(e)) => {
            for (k, v) in e {
                merge(b.entry(k).or_insert(Value::Null), v);
            }
        }
        (b, e) => *b = e,
    }
}

async fn unsupported_human_fields_are_refused_by_name(b: Backend) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    for (extra, field) in [
        (
            json!({"metadata": [{"key": "k", "value": "dg=="}]}),
            "Metadata",
        ),
        (json!({"password": {"password": "Secret1!"}}), "Password"),
        (
            json!({"hashedPassword": {"hash": "$2a$"}}),
            "HashedPassword",
        ),
        (json!({"idpLinks": [{"idpId": "1"}]}), "IdpLinks"),
        (json!({"totp_secret": "JBSWY3DP"}), "TotpSecret"),
        (
            json!({"organization": {"orgDomain": "acme.example.com"}}),
            "Organization.OrgDomain",
        ),
        (json!({"email": {"sendCode": {}}}), "Email.SendCode"),
        (json!({"email": {"returnCode": {}}}), "Email.ReturnCode"),
        (
            json!({"profile": {"gender": "GENDER_FEMALE"}}),
            "Profile.Gender",
        ),
    ] {
        let r = app.post("/v2/users/human").json(human(extra)).send().await;
        check_eq!(r.status, 501);
        check_eq!(r.body["code"], json!(12));
        check_eq!(r.body["details"][0]["id"], json!("API-N0tIm"));
        let message = r.body["message"].as_str().unwrap_or_default();
        anyhow::ensure!(
            message.starts_with(&format!("AddHumanUserRequest.{field} is not supported")),
            "{field}: {message}"
        );
    }
    // Their zero values are no request for anything: accepted, and the user is made only now.
    let r = app
        .post("/v2/users/human")
        .json(human(
            json!({"metadata": [], "profile": {"gender": "GENDER_UNSPECIFIED"}, "totpSecret": ""}),
        ))
        .send()
        .await;
    check_eq!(r.status, 201);
    Ok(())
}

async fn unsupported_org_and_machine_fields_are_refused_by_name(b: Backend) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    let boss = app.human("boss").await?;
    for (body, field) in [
        (
            json!({"name": "Acme", "organizationId": "acme"}),
            "OrganizationId",
        ),
        (json!({"name": "Acme", "orgId": "acme"}), "OrgId"),
        (
            json!({"name": "Acme", "admins": [{"userId": boss}, {"human": {"username": "h"}}]}),
            "Admins.Human",
        ),
    ] {
        let r = app.post("/v2/organizations").json(body).send().await;
        check_eq!(r.status, 501);
        let message = r.body["message"].as_str().unwrap_or_default();
        anyhow::ensure!(
            message.starts_with(&format!("AddOrganizationRequest.{field} is not supported")),
            "{message}"
        );
    }
    check_eq!(
        app.post("/v2/organizations")
            .json(json!({"name": "Acme"}))
            .send()
            .await
            .status,
        201
    );

    let r = app
        .post("/management/v1/users/machine")
        .json(json!({"userName": "bot", "name": "Bot", "accessTokenType": "ACCESS_TOKEN_TYPE_JWT"}))
        .send()
        .await;
    check_eq!(r.status, 501);
    check_eq!(r.body["details"][0]["id"], json!("API-N0tIm"));
    let r = app
        .post("/management/v1/users/machine")
        .json(json!({"userName": "bot", "name": "Bot", "accessTokenType": "ACCESS_TOKEN_TYPE_BEARER"}))
        .send()
        .await;
    r.ok()?;
    Ok(())
}
