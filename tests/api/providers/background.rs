//! The worker's real run loop in the background: each send delivered exactly once, and API requests that
//! never wait for a hanging gateway.

use std::sync::Arc;
use std::time::{Duration as StdDuration, Instant};

use anyhow::{Result, ensure};
use phoneverify::notify::SmsProvider;
use serde_json::json;
use tokio::sync::watch;

use super::gateway::{Gateway, Reply};
use super::{SIGNING_KEY, code_delivery, tuned_webhook_toml, webhook, webhook_toml};
use crate::check_eq;
use crate::helpers::{Backend, PHONE_A, PHONE_B, TestApp};

crate::suite!(providers;
    background_worker_delivers_each_send_exactly_once, api_requests_do_not_wait_for_a_hanging_gateway,
    a_hanging_send_holds_up_one_sms_not_the_queue,
);

/// Starts the real run loop (woken by commits) in the background; returns its stop switch and handle.
fn run_in_background(
    app: &TestApp,
    provider: Arc<dyn SmsProvider>,
) -> (watch::Sender<bool>, tokio::task::JoinHandle<()>) {
    let (stop, stopped) = watch::channel(false);
    let worker = app.worker_with(provider);
    (stop, tokio::spawn(worker.run(stopped)))
}

/// A new user per number `{prefix}{i}`, `i < count`, each sent a code by SMS; the numbers, in order.
async fn send_codes_to_new_users(app: &TestApp, count: usize, prefix: &str) -> Result<Vec<String>> {
    let mut phones = Vec::new();
    for i in 0..count {
        let id = app.human(&format!("user{i}")).await?;
        let phone = format!("{prefix}{i}");
        app.set_phone(&id, &phone).send_code().send().await.ok()?;
        phones.push(phone);
    }
    Ok(phones)
}

/// Stops the worker, waits for it to finish the calls in hand (each ends by its timeout at the latest) and
/// gives the (pending, sent) job counts.
async fn stop_and_count(
    app: &TestApp,
    stop: watch::Sender<bool>,
    handle: tokio::task::JoinHandle<()>,
) -> Result<(i64, i64)> {
    let _ = stop.send(true);
    tokio::time::timeout(StdDuration::from_secs(15), handle).await??;
    let counts = app.job_counts().await?;
    Ok((counts.pending, counts.sent))
}

async fn background_worker_delivers_each_send_exactly_once(b: Backend) -> Result<()> {
    let gateway = Gateway::start(Reply::Status(200, "{}")).await?;
    let app = TestApp::spawn_with(&b, &webhook_toml(&gateway, SIGNING_KEY)).await?;
    let (stop, handle) = run_in_background(&app, webhook(&app)?);
    let phones = send_codes_to_new_users(&app, 5, "+4179111220").await?;
    gateway.wait_for(5, StdDuration::from_secs(10)).await?;
    // Let a duplicate show up if there were one.
    tokio::time::sleep(StdDuration::from_millis(500)).await;
    let mut got: Vec<String> = gateway.received().iter().map(|r| r.recipient()).collect();
    got.sort();
    check_eq!(got, phones);
    check_eq!(stop_and_count(&app, stop, handle).await?, (0, 5));
    Ok(())
}

async fn api_requests_do_not_wait_for_a_hanging_gateway(b: Backend) -> Result<()> {
    let gateway = Gateway::start(Reply::Hang).await?;
    // A request that waited for the provider would take its timeout (5 s) at least.
    let toml = tuned_webhook_toml(&gateway, SIGNING_KEY, 5, 5);
    let app = TestApp::spawn_with(&b, &toml).await?;
    let (stop, handle) = run_in_background(&app, webhook(&app)?);
    let ada = app.human("ada").await?;
    let bob = app.human("bob").await?;

    let started = Instant::now();
    app.set_phone(&ada, PHONE_A).send_code().send().await.ok()?;
    let took = started.elapsed();
    ensure!(
        took < StdDuration::from_secs(3),
        "the request took {took:?}"
    );
    // The worker has the SMS in hand, and the gateway holds it ...
    gateway.wait_for(1, StdDuration::from_secs(10)).await?;
    // ... while the API goes on answering, and queues more.
    let started = Instant::now();
    app.set_phone(&bob, PHONE_B).send_code().send().await.ok()?;
    check_eq!(
        code_delivery(&app, &ada).await?,
        json!("CODE_DELIVERY_PENDING")
    );
    let took = started.elapsed();
    ensure!(
        took < StdDuration::from_secs(3),
        "the requests took {took:?}"
    );

    // Stopping finishes the call in hand (cut off by its timeout) instead of hanging with it.
    check_eq!(stop_and_count(&app, stop, handle).await?, (2, 0));
    Ok(())
}

async fn a_hanging_send_holds_up_one_sms_not_the_queue(b: Backend) -> Result<()> {
    let gateway = Gateway::start(Reply::Status(200, "{}")).await?;
    gateway.then([Reply::Hang]);
    // The hanging call ends only with its timeout (5 s, plus the worker's grace).
    let toml = tuned_webhook_toml(&gateway, SIGNING_KEY, 5, 5);
    let app = TestApp::spawn_with(&b, &toml).await?;
    let (stop, handle) = run_in_background(&app, webhook(&app)?);
    let ada = app.human("ada").await?;
    app.set_phone(&ada, PHONE_A).send_code().send().await.ok()?;
    gateway.wait_for(1, StdDuration::from_secs(10)).await?;

    // While ada's SMS hangs, the SMS queued after it go out, each once.
    let phones = send_codes_to_new_users(&app, 3, "+4179111230").await?;
    let started = Instant::now();
    gateway.wait_for(4, StdDuration::from_secs(3)).await?;
    let mut got: Vec<String> = gateway.received()[1..]
        .iter()
        .map(|r| r.recipient())
        .collect();
    got.sort();
    check_eq!(got, phones);
    check_eq!(
        code_delivery(&app, &ada).await?,
        json!("CODE_DELIVERY_PENDING")
    );
    ensure!(
        started.elapsed() < StdDuration::from_secs(3),
        "the queue waited for the hanging call"
    );

    // Ada's call timed out: her job waits for its retry; the others were sent.
    check_eq!(stop_and_count(&app, stop, handle).await?, (1, 3));
    Ok(())
}
