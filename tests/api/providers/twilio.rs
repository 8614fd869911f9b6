//! The Twilio provider: its Messages API request, a messaging service instead of From, and its errors.

use std::sync::Arc;

use anyhow::{Context, Result, bail, ensure};
use axum::http::Method;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::Duration;
use phoneverify::domain::code::PlainCode;
use phoneverify::notify::{SendError, SmsMessage, SmsProvider, TwilioProvider};

use super::gateway::{Gateway, Reply};
use super::{the_one_sms, verifies_after_one_send};
use crate::check_eq;
use crate::helpers::{Backend, PHONE_A, TestApp};

crate::suite!(providers;
    twilio_request_format, twilio_messaging_service_and_errors,
);

const TWILIO_SID: &str = "AC0123456789abcdef";
const TWILIO_TOKEN: &str = "tw-secret-auth-token";

fn twilio_toml(gateway: &Gateway, sender: &str) -> String {
    format!(
        "[sms]\nprovider = \"twilio\"\n[sms.twilio]\nbase_url = \"{}\"\naccount_sid = \"{TWILIO_SID}\"\nauth_token = \"{TWILIO_TOKEN}\"\n{sender}\ntimeout_secs = 2\n",
        gateway.url("")
    )
}

fn twilio(app: &TestApp) -> Result<Arc<dyn SmsProvider>> {
    Ok(Arc::new(
        TwilioProvider::new(&app.services.config.sms.twilio).map_err(anyhow::Error::msg)?,
    ))
}

async fn twilio_request_format(b: Backend) -> Result<()> {
    let gateway = Gateway::start(Reply::Status(
        201,
        r#"{"sid": "SM0123456789abcdef", "status": "queued"}"#,
    ))
    .await?;
    let app = TestApp::spawn_with(&b, &twilio_toml(&gateway, "from = \"+15005550006\"")).await?;
    let worker = app.worker_with(twilio(&app)?);
    let id = app.human_speaking("francoise", "fr").await?;
    let r = &the_one_sms(&app, &worker, &gateway, &id).await?;
    check_eq!(r.method, Method::POST);
    check_eq!(
        r.path,
        format!("/2010-04-01/Accounts/{TWILIO_SID}/Messages.json")
    );
    check_eq!(
        r.header("content-type").as_deref(),
        Some("application/x-www-form-urlencoded")
    );
    let auth = r.header("authorization").context("authorization")?;
    let credentials = STANDARD.decode(auth.strip_prefix("Basic ").context("basic auth")?)?;
    check_eq!(
        String::from_utf8(credentials)?,
        format!("{TWILIO_SID}:{TWILIO_TOKEN}")
    );
    let form = r.form();
    check_eq!(
        form.keys().map(String::as_str).collect::<Vec<_>>(),
        vec!["Body", "From", "To"]
    );
    check_eq!(form["To"].as_str(), PHONE_A);
    check_eq!(form["From"].as_str(), "+15005550006");
    let body = &form["Body"];
    ensure!(
        body.starts_with("Votre code de vérification est "),
        "{body}"
    );
    let code = body
        .trim_start_matches("Votre code de vérification est ")
        .split('.')
        .next()
        .unwrap_or_default()
        .to_owned();
    verifies_after_one_send(&app, &id, &code).await
}

async fn twilio_messaging_service_and_errors(b: Backend) -> Result<()> {
    let gateway = Gateway::start(Reply::Status(201, "{}")).await?;
    gateway.then([Reply::Status(
        400,
        r#"{"code": 21211, "message": "The 'To' number is not a valid phone number (body: Your code is 482913).", "more_info": "https://www.twilio.com/docs/errors/21211", "status": 400}"#,
    )]);
    let toml = twilio_toml(
        &gateway,
        "from = \"+15005550006\"\nmessaging_service_sid = \"MG0123\"",
    );
    let app = TestApp::spawn_with(&b, &toml).await?;
    let provider = twilio(&app)?;
    let message = SmsMessage {
        to: PHONE_A.to_owned(),
        text: "Your code is 482913".to_owned(),
        code: PlainCode::new("482913".to_owned()),
        user_id: "1".to_owned(),
        language: String::new(),
        expiry: Duration::minutes(10),
        event_type: "user.human.phone.code.added",
    };
    // Twilio's error code and message are kept; the auth token and the code are not.
    let error = match provider.send(&message).await {
        Err(SendError::Failed(e)) => e,
        other => bail!("expected a failure, got {other:?}"),
    };
    ensure!(
        error.contains("400")
            && error.contains("21211")
            && error.contains("not a valid phone number"),
        "{error}"
    );
    ensure!(
        !error.contains(TWILIO_TOKEN) && !error.contains("482913"),
        "{error}"
    );
    // A messaging service replaces From.
    provider.send(&message).await?;
    let got = gateway.received();
    check_eq!(got.len(), 2);
    let form = got[1].form();
    check_eq!(
        form.get("MessagingServiceSid").map(String::as_str),
        Some("MG0123")
    );
    check_eq!(form.get("From"), None);
    check_eq!(form["Body"].as_str(), "Your code is 482913");
    Ok(())
}
