//! The webhook and Twilio providers against a local gateway (an axum server on 127.0.0.1:0 that records what
//! it gets and answers as scripted), driven by the real outbox worker: payload, signature and request format,
//! retries, timeouts, giving up, restarts, and the delivery state that the API and /metrics show.

mod background;
mod delivery_state;
mod gateway;
mod retention;
mod retries;
mod twilio;
mod webhook;

use std::sync::Arc;

use anyhow::Result;
use phoneverify::notify::{SmsProvider, WebhookProvider, Worker};
use serde_json::Value;

use crate::check_eq;
use crate::helpers::{PHONE_A, TestApp, deliver_all};
use gateway::{Gateway, Received};

pub fn tests() -> Vec<(&'static str, crate::TestFn)> {
    let mut tests = webhook::tests();
    tests.extend(retries::tests());
    tests.extend(background::tests());
    tests.extend(twilio::tests());
    tests.extend(delivery_state::tests());
    tests.extend(retention::tests());
    tests
}

const SIGNING_KEY: &str = "whsec-test-signing-key";

/// Settings for the webhook provider at `gateway`: 5 attempts, a 1 s timeout.
fn webhook_toml(gateway: &Gateway, signing_key: &str) -> String {
    tuned_webhook_toml(gateway, signing_key, 5, 1)
}

fn tuned_webhook_toml(
    gateway: &Gateway,
    signing_key: &str,
    max_attempts: u32,
    timeout_secs: u64,
) -> String {
    format!(
        "[sms]\nprovider = \"webhook\"\nmax_attempts = {max_attempts}\n[sms.webhook]\nurl = \"{}\"\nsigning_key = \"{signing_key}\"\ntimeout_secs = {timeout_secs}\nprovider_id = \"pv-test\"\ndescription = \"test gateway\"\n",
        gateway.url("/sms")
    )
}

/// The webhook provider the configuration describes, on the app's pinned clock (so the signature's timestamp
/// is known).
fn webhook(app: &TestApp) -> Result<Arc<dyn SmsProvider>> {
    Ok(Arc::new(
        WebhookProvider::new(&app.services.config.sms.webhook, app.clock.clone())
            .map_err(anyhow::Error::msg)?,
    ))
}

/// Sets PHONE_A on `user_id` with the code by SMS and runs `worker` until nothing is due; the gateway must
/// have got exactly one request, which is returned.
async fn the_one_sms(
    app: &TestApp,
    worker: &Worker,
    gateway: &Gateway,
    user_id: &str,
) -> Result<Received> {
    app.set_phone(user_id, PHONE_A)
        .send_code()
        .send()
        .await
        .ok()?;
    check_eq!(deliver_all(worker).await?, 1);
    let got = gateway.received();
    check_eq!(got.len(), 1);
    Ok(got[0].clone())
}

/// The code the gateway got is the one that verifies, and its send was recorded once.
async fn verifies_after_one_send(app: &TestApp, id: &str, code: &str) -> Result<()> {
    app.verify(id, code).send().await.ok()?;
    check_eq!(app.count_events(id, "user.human.phone.code.sent").await?, 1);
    Ok(())
}

/// The `codeDelivery` state of the user's pending code, as the v2 API shows it.
async fn code_delivery(app: &TestApp, id: &str) -> Result<Value> {
    let r = app.get_user(id).send().await;
    Ok(r.ok()?["user"]["human"]["phone"]["codeDelivery"].clone())
}
