//! Path IDs (`{userId}`, `{tokenId}`) and the `x-zitadel-orgid` header: a control character is code 3 naming
//! the parameter, for any caller, before any query (it was HTTP 500 on Postgres); a clean ID that does not
//! exist stays "not found" with its error ID.

use anyhow::{Context, Result};
use phoneverify::rpc::proto::zitadel::user::v2 as user;
use serde_json::json;

use super::refusal;
use crate::check_eq;
use crate::helpers::{Backend, PHONE_A, PROTOCOLS, Req, TestApp};

crate::suite!(input_policy;
    control_characters_in_path_user_ids_are_refused_before_any_query,
    control_characters_in_token_ids_are_refused, control_characters_in_the_org_header_are_refused,
    control_characters_in_rpc_path_fields_are_refused, unknown_clean_ids_stay_not_found,
);

/// Percent-encoded path IDs holding control characters (NUL, C0, tab, newline, escape, DEL, C1 NEL).
const BAD_IDS: [&str; 8] = [
    "%00", "a%00b", "%01", "1%092", "%0A", "%1B", "x%7F", "%C2%85",
];

/// Every route with a `{userId}`: method, path template, body.
const ROUTES: [(&str, &str, Option<&str>); 15] = [
    ("GET", "/v2/users/{id}", None),
    ("DELETE", "/v2/users/{id}", None),
    ("POST", "/v2/users/{id}/deactivate", None),
    ("POST", "/v2/users/{id}/reactivate", None),
    (
        "POST",
        "/v2/users/{id}/phone",
        Some(r#"{"phone":"+41791234567"}"#),
    ),
    ("POST", "/v2/users/{id}/phone/resend", Some("{}")),
    ("POST", "/v2beta/users/{id}/phone/resend", Some("{}")),
    (
        "POST",
        "/v2/users/{id}/phone/verify",
        Some(r#"{"verificationCode":"123456"}"#),
    ),
    ("DELETE", "/v2/users/{id}/phone", None),
    ("GET", "/management/v1/users/{id}/phone", None),
    (
        "PUT",
        "/management/v1/users/{id}/phone",
        Some(r#"{"phone":"+41791234567"}"#),
    ),
    ("DELETE", "/management/v1/users/{id}/phone", None),
    (
        "POST",
        "/management/v1/users/{id}/phone/_resend_verification",
        Some("{}"),
    ),
    ("POST", "/management/v1/users/{id}/pats", Some("{}")),
    ("DELETE", "/management/v1/users/{id}/pats/1", None),
];

fn request<'a>(app: &'a TestApp, method: &str, path: &str) -> Req<'a> {
    match method {
        "GET" => app.get(path),
        "PUT" => app.put(path),
        "DELETE" => app.delete(path),
        _ => app.post(path),
    }
}

async fn control_characters_in_path_user_ids_are_refused_before_any_query(
    b: Backend,
) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    let (ada, code) = app.with_pending_code("ada", PHONE_A).await?;
    let ada_token = app.token_for(&ada);
    let before = app.events(&ada).await?.len();
    for (method, template, body) in ROUTES {
        for bad in BAD_IDS {
            let path = template.replace("{id}", bad);
            // As the admin, and as a plain user acting on an ID that cannot be theirs.
            for token in [&app.admin_token, &ada_token] {
                let mut req = request(&app, method, &path).by(token);
                if let Some(body) = body {
                    req = req.raw(body);
                }
                req.send()
                    .await
                    .invalid(&refusal("userId"))
                    .with_context(|| format!("{method} {path}"))?;
            }
        }
    }
    check_eq!(app.events(&ada).await?.len(), before);
    // The pending code survived: no attempt was spent on a refused request.
    app.verify(&ada, &code).send().await.ok()?;
    Ok(())
}

async fn control_characters_in_token_ids_are_refused(b: Backend) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    let bot = app.machine("bot").await?;
    let token_id = app
        .post(&format!("/management/v1/users/{bot}/pats"))
        .json(json!({}))
        .send()
        .await
        .field("tokenId")?;
    let before = app.events(&bot).await?.len();
    for bad in BAD_IDS {
        app.delete(&format!("/management/v1/users/{bot}/pats/{bad}"))
            .send()
            .await
            .invalid(&refusal("tokenId"))
            .with_context(|| bad.to_owned())?;
    }
    check_eq!(app.events(&bot).await?.len(), before);
    app.delete(&format!("/management/v1/users/{bot}/pats/{token_id}"))
        .send()
        .await
        .ok()?;
    Ok(())
}

async fn control_characters_in_the_org_header_are_refused(b: Backend) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    let ada = app.human("ada").await?;
    let before = app.events(&ada).await?.len();
    // A header cannot carry NUL at all; the tab is the one control character HTTP lets through.
    let bad = format!("{}\t1", app.org_id);
    let refused = refusal("header x-zitadel-orgid");
    app.get_user(&ada)
        .org(&bad)
        .send()
        .await
        .invalid(&refused)?;
    app.set_phone(&ada, PHONE_A)
        .return_code()
        .org(&bad)
        .send()
        .await
        .invalid(&refused)?;
    app.post("/management/v1/users/machine")
        .org(&bad)
        .json(json!({"userName": "bot", "name": "Bot"}))
        .send()
        .await
        .invalid(&refused)?;
    check_eq!(app.events(&ada).await?.len(), before);
    // The same header without the tab is the default org, and works.
    app.get_user(&ada).org(&app.org_id).send().await.ok()?;
    Ok(())
}

async fn control_characters_in_rpc_path_fields_are_refused(b: Backend) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    for protocol in PROTOCOLS {
        for bad in ["\0", "a\0b", "\u{1B}", "\u{85}"] {
            let answer = app
                .rpc(protocol)
                .call::<_, user::GetUserByIDResponse>(
                    user::USER_SERVICE_SERVICE_NAME,
                    "GetUserByID",
                    &user::GetUserByIDRequest {
                        user_id: bad.into(),
                        ..Default::default()
                    },
                )
                .await?;
            let e = match answer {
                Ok(v) => anyhow::bail!("{protocol:?} {bad:?}: expected an error, got {v:?}"),
                Err(e) => e,
            };
            check_eq!(e.code, 3);
            anyhow::ensure!(
                e.message.starts_with(&refusal("GetUserByIDRequest.UserId")),
                "{protocol:?} {bad:?}: {}",
                e.message
            );
        }
    }
    Ok(())
}

async fn unknown_clean_ids_stay_not_found(b: Backend) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    app.get("/v2/users/404404")
        .send()
        .await
        .err(404, 5, "QUERY-Dfbg2")?;
    app.resend("404404")
        .send()
        .await
        .err(404, 5, "COMMAND-ieJ2e")?;
    app.v1_managed("404404")
        .get_phone()
        .send()
        .await
        .err(404, 5, "QUERY-DAvb3")?;
    Ok(())
}
