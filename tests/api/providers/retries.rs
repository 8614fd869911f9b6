//! A gateway that fails, hangs or stays down: retried with backoff, delivered once, given up when the code
//! expires; pending jobs survive a restart, and replaced or expired codes never go out.

use std::time::{Duration as StdDuration, Instant};

use anyhow::{Context, Result, ensure};
use chrono::Duration;
use serde_json::{Value, json};

use super::gateway::{Gateway, Reply};
use super::{SIGNING_KEY, code_delivery, tuned_webhook_toml, webhook, webhook_toml};
use crate::check_eq;
use crate::helpers::{Backend, PHONE_A, PHONE_B, TestApp, deliver_all};

crate::suite!(providers;
    gateway_errors_are_retried_and_delivered_once, hanging_gateway_times_out_and_is_retried,
    gateway_down_longer_than_the_code_lives_gives_up, pending_jobs_are_delivered_after_a_restart,
    replaced_and_expired_codes_never_reach_the_gateway,
);

async fn gateway_errors_are_retried_and_delivered_once(b: Backend) -> Result<()> {
    let gateway = Gateway::start(Reply::Status(200, "{}")).await?;
    gateway.then([
        Reply::Status(500, r#"{"error":"boom"}"#),
        Reply::Status(500, r#"{"error":"boom"}"#),
    ]);
    let app = TestApp::spawn_with(&b, &webhook_toml(&gateway, SIGNING_KEY)).await?;
    let worker = app.worker_with(webhook(&app)?);
    let id = app.human("ada").await?;
    app.set_phone(&id, PHONE_A).send_code().send().await.ok()?;

    check_eq!(deliver_all(&worker).await?, 1); // 500: rescheduled
    check_eq!(gateway.received().len(), 1);
    check_eq!(deliver_all(&worker).await?, 0); // backing off: nothing due
    check_eq!(gateway.received().len(), 1);
    check_eq!(
        code_delivery(&app, &id).await?,
        json!("CODE_DELIVERY_PENDING")
    );
    app.clock.advance(Duration::seconds(10));
    check_eq!(deliver_all(&worker).await?, 1); // 500 again
    check_eq!(gateway.received().len(), 2);
    app.clock.advance(Duration::seconds(20));
    check_eq!(deliver_all(&worker).await?, 1); // 200
    check_eq!(gateway.received().len(), 3);

    // Delivered once: nothing more goes out, however long we wait.
    app.clock.advance(Duration::hours(1));
    check_eq!(deliver_all(&worker).await?, 0);
    let got = gateway.received();
    check_eq!(got.len(), 3);
    let codes: Vec<Value> = got
        .iter()
        .map(|r| r.json()["args"]["code"].clone())
        .collect();
    check_eq!(codes[0], codes[2]);
    check_eq!(
        app.count_events(&id, "user.human.phone.code.sent").await?,
        1
    );
    check_eq!(
        app.count_events(&id, "user.human.phone.code.delivery.failed")
            .await?,
        0
    );
    let counts = app.job_counts().await?;
    check_eq!((counts.pending, counts.sent, counts.failed), (0, 1, 0));
    check_eq!(code_delivery(&app, &id).await?, json!("CODE_DELIVERY_SENT"));
    Ok(())
}

async fn hanging_gateway_times_out_and_is_retried(b: Backend) -> Result<()> {
    let gateway = Gateway::start(Reply::Status(200, "{}")).await?;
    gateway.then([Reply::Hang]);
    let app = TestApp::spawn_with(&b, &webhook_toml(&gateway, SIGNING_KEY)).await?;
    let worker = app.worker_with(webhook(&app)?);
    let id = app.human("ada").await?;
    app.set_phone(&id, PHONE_A).send_code().send().await.ok()?;

    let started = Instant::now();
    check_eq!(deliver_all(&worker).await?, 1);
    let took = started.elapsed();
    // timeout_secs = 1: the worker is not stuck on the hanging request.
    ensure!(
        took >= StdDuration::from_millis(900) && took < StdDuration::from_secs(5),
        "the attempt took {took:?}"
    );
    check_eq!(gateway.received().len(), 1);
    let counts = app.job_counts().await?;
    check_eq!((counts.pending, counts.sent), (1, 0));
    check_eq!(
        app.count_events(&id, "user.human.phone.code.sent").await?,
        0
    );

    app.clock.advance(Duration::seconds(10));
    check_eq!(deliver_all(&worker).await?, 1);
    check_eq!(gateway.received().len(), 2);
    check_eq!(
        app.count_events(&id, "user.human.phone.code.sent").await?,
        1
    );
    check_eq!(app.job_counts().await?.sent, 1);
    Ok(())
}

async fn gateway_down_longer_than_the_code_lives_gives_up(b: Backend) -> Result<()> {
    let gateway = Gateway::start(Reply::Status(503, "{}")).await?;
    // Attempts would last longer than the code: it is its expiry that ends them.
    let toml = tuned_webhook_toml(&gateway, SIGNING_KEY, 100, 1);
    let app = TestApp::spawn_with(&b, &toml).await?;
    let worker = app.worker_with(webhook(&app)?);
    let id = app.human("ada").await?;
    app.set_phone(&id, PHONE_A).send_code().send().await.ok()?;

    let mut minutes = 0;
    while app
        .count_events(&id, "user.human.phone.code.delivery.failed")
        .await?
        == 0
    {
        ensure!(minutes < 30, "never given up");
        deliver_all(&worker).await?;
        app.clock.advance(Duration::minutes(1));
        minutes += 1;
    }
    // Given up at the first round after the code (10 minutes) expired: not before, and not minutes later
    // because the backoff had grown past its expiry.
    check_eq!(minutes, 12);
    let tried = gateway.received().len();
    ensure!(
        tried >= 5,
        "retried while the code lived ({tried} attempts)"
    );
    check_eq!(
        app.last_event(&id).await?.as_deref(),
        Some("user.human.phone.code.delivery.failed")
    );
    check_eq!(
        app.count_events(&id, "user.human.phone.code.sent").await?,
        0
    );
    let counts = app.job_counts().await?;
    check_eq!((counts.pending, counts.failed, counts.sent), (0, 1, 0));
    check_eq!(
        code_delivery(&app, &id).await?,
        json!("CODE_DELIVERY_FAILED")
    );

    // The gateway comes back: the dead code is not sent, and the job stays closed.
    gateway.set_default(Reply::Status(200, "{}"));
    app.clock.advance(Duration::hours(1));
    check_eq!(deliver_all(&worker).await?, 0);
    check_eq!(gateway.received().len(), tried);
    Ok(())
}

async fn pending_jobs_are_delivered_after_a_restart(b: Backend) -> Result<()> {
    let gateway = Gateway::start(Reply::Status(500, "{}")).await?;
    let app = TestApp::spawn_with(&b, &webhook_toml(&gateway, SIGNING_KEY)).await?;
    let id = app.human("ada").await?;
    app.set_phone(&id, PHONE_A).send_code().send().await.ok()?;
    app.set_phone(&app.human("bob").await?, PHONE_B)
        .send_code()
        .send()
        .await
        .ok()?;
    // One failed attempt, then the process goes away with both jobs pending.
    {
        let worker = app.worker_with(webhook(&app)?);
        check_eq!(deliver_all(&worker).await?, 2);
    }
    check_eq!(app.job_counts().await?.pending, 2);
    let app = app.restart().await?;

    gateway.set_default(Reply::Status(200, "{}"));
    app.clock.advance(Duration::seconds(10));
    let worker = app.worker_with(webhook(&app)?);
    check_eq!(deliver_all(&worker).await?, 2);
    let got = gateway.received();
    check_eq!(got.len(), 4);
    let mut phones: Vec<String> = got[2..].iter().map(|r| r.recipient()).collect();
    phones.sort();
    check_eq!(phones, vec![PHONE_B.to_owned(), PHONE_A.to_owned()]);
    // The new process decrypted the code the old one sealed: it verifies.
    let code = got[2..]
        .iter()
        .map(|r| r.json())
        .find(|j| j["args"]["userId"] == json!(id))
        .context("ada's SMS")?["args"]["code"]
        .as_str()
        .context("code")?
        .to_owned();
    app.verify(&id, &code).send().await.ok()?;
    check_eq!(app.job_counts().await?.sent, 2);
    Ok(())
}

async fn replaced_and_expired_codes_never_reach_the_gateway(b: Backend) -> Result<()> {
    let gateway = Gateway::start(Reply::Status(200, "{}")).await?;
    let app = TestApp::spawn_with(&b, &webhook_toml(&gateway, SIGNING_KEY)).await?;
    let worker = app.worker_with(webhook(&app)?);
    let id = app.human("ada").await?;
    app.set_phone(&id, PHONE_A).send_code().send().await.ok()?;
    app.clock.advance(Duration::seconds(31));
    app.resend(&id).send_code().send().await.ok()?;
    app.clock.advance(Duration::seconds(31));
    app.resend(&id).send_code().send().await.ok()?;
    // Each new code rewrote the job queued before it: the worker finds only the last.
    check_eq!(deliver_all(&worker).await?, 1);
    // Only the last code went out, and it is the one that verifies.
    let got = gateway.received();
    check_eq!(got.len(), 1);
    let code = got[0].json()["args"]["code"]
        .as_str()
        .context("code")?
        .to_owned();
    app.verify(&id, &code).send().await.ok()?;
    let counts = app.job_counts().await?;
    check_eq!((counts.sent, counts.dropped, counts.pending), (1, 0, 0));

    // A code that expired before the worker came round is given up, not sent.
    let bob = app.human("bob").await?;
    app.set_phone(&bob, PHONE_B).send_code().send().await.ok()?;
    app.clock.advance(Duration::minutes(11));
    check_eq!(deliver_all(&worker).await?, 1);
    check_eq!(gateway.received().len(), 1);
    check_eq!(
        app.count_events(&bob, "user.human.phone.code.delivery.failed")
            .await?,
        1
    );
    // A removed number is not sent to either.
    let carol = app.human("carol").await?;
    app.set_phone(&carol, PHONE_A)
        .send_code()
        .send()
        .await
        .ok()?;
    app.remove_phone(&carol).send().await.ok()?;
    check_eq!(deliver_all(&worker).await?, 1);
    check_eq!(gateway.received().len(), 1);
    Ok(())
}
