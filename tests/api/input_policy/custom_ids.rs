//! Caller-chosen user IDs (`userId` of AddHumanUser and AddMachineUser) must be addressable as one URL path
//! segment: `A-Z a-z 0-9 - . _ ~`, a letter or digit first, no `..`, 1 to 200 characters.

use anyhow::{Context, Result};
use serde_json::json;

use crate::check_eq;
use crate::helpers::{Backend, TestApp};

crate::suite!(input_policy;
    custom_user_ids_no_url_can_address_are_refused, url_safe_custom_user_ids_are_kept_and_addressable,
);

const SHAPE: &str = "value must start with a letter or digit and contain only letters, digits";

async fn custom_user_ids_no_url_can_address_are_refused(b: Backend) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    let too_long = "x".repeat(201);
    let cases: [(&str, &str); 13] = [
        ("a/b", SHAPE),
        ("../../x", SHAPE),
        ("..", SHAPE),
        (".", SHAPE),
        ("-1", SHAPE),
        ("a..b", SHAPE),
        ("a b", SHAPE),
        (" a", SHAPE),
        ("a%2Fb", SHAPE),
        ("a?b", SHAPE),
        ("zoë", SHAPE),
        (&too_long, "value length must be"),
        ("a\u{0}b", "value must not contain control characters"),
    ];
    for (n, (id, why)) in cases.iter().enumerate() {
        let human = json!({"userId": id, "username": format!("h{n}"),
            "profile": {"givenName": "G", "familyName": "F"}, "email": {"email": format!("h{n}@x.ch")}});
        app.post("/v2/users/human")
            .json(human)
            .send()
            .await
            .invalid(&format!("invalid AddHumanUserRequest.UserId: {why}"))
            .with_context(|| format!("human {id:?}"))?;
        let machine = json!({"userId": id, "userName": format!("m{n}"), "name": "Bot"});
        app.post("/management/v1/users/machine")
            .json(machine)
            .send()
            .await
            .invalid(&format!("invalid AddMachineUserRequest.UserId: {why}"))
            .with_context(|| format!("machine {id:?}"))?;
    }
    // Nothing was created: every username is still free.
    for n in 0..cases.len() {
        app.human(&format!("h{n}")).await?;
        app.machine(&format!("m{n}")).await?;
    }
    Ok(())
}

async fn url_safe_custom_user_ids_are_kept_and_addressable(b: Backend) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    let uuid = "0f8fad5b-d9cb-469f-a165-70867728950e";
    let long = "x".repeat(200);
    for (n, id) in ["custom-1", uuid, "a.b_c~d", "7", long.as_str()]
        .iter()
        .enumerate()
    {
        let human = json!({"userId": id, "username": format!("h{n}"),
            "profile": {"givenName": "G", "familyName": "F"}, "email": {"email": format!("h{n}@x.ch")}});
        let r = app.post("/v2/users/human").json(human).send().await;
        check_eq!(r.field("userId")?, *id);
        let got = app.get_user(id).send().await;
        check_eq!(got.ok()?["user"]["userId"], json!(id));
    }
    let machine = json!({"userId": "svc.build-1", "userName": "bot", "name": "Bot"});
    let r = app
        .post("/management/v1/users/machine")
        .json(machine)
        .send()
        .await;
    check_eq!(r.field("userId")?, "svc.build-1");
    // An empty userId still means "generate one".
    let human = json!({"userId": "", "username": "gen",
        "profile": {"givenName": "G", "familyName": "F"}, "email": {"email": "gen@x.ch"}});
    let id = app
        .post("/v2/users/human")
        .json(human)
        .send()
        .await
        .field("userId")?;
    anyhow::ensure!(id.chars().all(|c| c.is_ascii_digit()), "generated id {id}");
    Ok(())
}
