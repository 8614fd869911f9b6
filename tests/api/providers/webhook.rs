//! What the webhook sends: a ZITADEL-shaped body in the user's language, signed over the exact bytes.

use anyhow::{Context, Result, ensure};
use axum::http::Method;
use phoneverify::notify::SIGNATURE_HEADER;
use serde_json::json;

use super::gateway::{Gateway, Reply};
use super::{SIGNING_KEY, the_one_sms, verifies_after_one_send, webhook, webhook_toml};
use crate::check_eq;
use crate::helpers::{Backend, PHONE_A, TestApp};
use crate::signature::check_signature;

crate::suite!(providers;
    webhook_body_is_zitadel_shaped_and_signed, unsigned_webhook_carries_no_signature,
);

async fn webhook_body_is_zitadel_shaped_and_signed(b: Backend) -> Result<()> {
    let gateway = Gateway::start(Reply::Status(200, "{}")).await?;
    let app = TestApp::spawn_with(&b, &webhook_toml(&gateway, SIGNING_KEY)).await?;
    let worker = app.worker_with(webhook(&app)?);
    let id = app.human_speaking("heidi", "de-CH").await?;
    let r = &the_one_sms(&app, &worker, &gateway, &id).await?;
    check_eq!(r.method, Method::POST);
    check_eq!(r.path.as_str(), "/sms");
    check_eq!(
        r.header("content-type").as_deref(),
        Some("application/json")
    );
    let body = r.json();
    let code = body["args"]["code"]
        .as_str()
        .context("args.code")?
        .to_owned();
    check_eq!(
        body,
        json!({
            "contextInfo": {
                "recipientPhoneNumber": PHONE_A,
                "eventType": "user.human.phone.code.added",
                "provider": {"id": "pv-test", "description": "test gateway"}
            },
            // The user prefers de-CH: the `de` template of the defaults, with the code and its lifetime.
            "templateData": {"text": format!("Ihr Bestätigungscode lautet {code}. Er ist 10 Minuten gültig.")},
            "args": {"code": code, "expiry": "10m0s", "userId": id, "preferredLanguage": "de-CH"}
        })
    );
    // Signed over the exact bytes sent, at the app's (pinned) time.
    let header = r.header(SIGNATURE_HEADER).context("signature header")?;
    let t = check_signature(&header, &r.body, SIGNING_KEY).map_err(anyhow::Error::msg)?;
    check_eq!(t, app.now().timestamp());
    ensure!(
        check_signature(&header, &r.body, "another-key").is_err(),
        "a receiver with another key rejects it"
    );
    let mut tampered = r.body.to_vec();
    tampered.extend_from_slice(b" ");
    ensure!(check_signature(&header, &tampered, SIGNING_KEY).is_err());

    verifies_after_one_send(&app, &id, &code).await
}

async fn unsigned_webhook_carries_no_signature(b: Backend) -> Result<()> {
    let gateway = Gateway::start(Reply::Status(204, "")).await?;
    let app = TestApp::spawn_with(&b, &webhook_toml(&gateway, "")).await?;
    let worker = app.worker_with(webhook(&app)?);
    let id = app.human("ada").await?;
    let r = the_one_sms(&app, &worker, &gateway, &id).await?;
    check_eq!(r.header(SIGNATURE_HEADER), None);
    // No preferred language: the default template; 204 counts as delivered.
    let text = r.json()["templateData"]["text"]
        .as_str()
        .context("text")?
        .to_owned();
    ensure!(text.starts_with("Your verification code is "), "{text}");
    check_eq!(r.json()["args"]["preferredLanguage"], json!(""));
    check_eq!(app.job_counts().await?.sent, 1);
    Ok(())
}
