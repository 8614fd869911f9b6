//! SMS delivery through the outbox (spec section 8): each acknowledged send is delivered once, retried on
//! provider failure, and dropped when its code was replaced or expired.

use anyhow::Result;
use chrono::Duration;

use crate::check_eq;
use crate::helpers::{Backend, PHONE_A, TestApp};

crate::suite!(delivery;
    a_send_is_delivered_exactly_once_with_the_code, replaced_codes_are_not_sent,
    provider_failures_are_retried_with_backoff, expired_codes_are_given_up_with_an_event,
    jobs_survive_a_restart, jobs_left_when_the_provider_is_switched_off_are_given_up,
);

async fn a_send_is_delivered_exactly_once_with_the_code(b: Backend) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    let id = app.human("ada").await?;
    app.set_phone(&id, PHONE_A).send().await.ok()?;
    check_eq!(app.deliver().await?, 1);
    check_eq!(app.deliver().await?, 0);
    let sent = app.sms.sent();
    check_eq!(sent.len(), 1);
    check_eq!(sent[0].to, PHONE_A.to_string());
    anyhow::ensure!(
        sent[0].text.contains(sent[0].code.expose()),
        "the text carries the code"
    );
    // The code that was sent is the one that verifies.
    let code = sent[0].code.expose().to_owned();
    app.verify(&id, &code).send().await.ok()?;
    let counts = app.job_counts().await?;
    check_eq!((counts.pending, counts.sent), (0, 1));
    Ok(())
}

async fn replaced_codes_are_not_sent(b: Backend) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    let id = app.human("ada").await?;
    app.set_phone(&id, PHONE_A).send().await.ok()?;
    app.resend(&id).send().await.ok()?;
    app.resend(&id).send().await.ok()?;
    // Each new code rewrote the queued job in its own commit: the worker finds only the latest.
    let counts = app.job_counts().await?;
    check_eq!((counts.pending, counts.dropped), (1, 0));
    check_eq!(app.deliver().await?, 1);
    check_eq!(app.sms.sent().len(), 1);
    let counts = app.job_counts().await?;
    check_eq!((counts.sent, counts.pending), (1, 0));
    // A job whose phone was removed is dropped too.
    app.resend(&id).send().await.ok()?;
    app.remove_phone(&id).send().await.ok()?;
    check_eq!(app.deliver().await?, 1);
    check_eq!(app.sms.sent().len(), 1);
    Ok(())
}

async fn provider_failures_are_retried_with_backoff(b: Backend) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    let id = app.human("ada").await?;
    app.sms.fail_next(2);
    app.set_phone(&id, PHONE_A).send().await.ok()?;
    check_eq!(app.deliver().await?, 1); // failed, rescheduled
    check_eq!(app.deliver().await?, 0); // not due yet
    check_eq!(app.sms.sent().len(), 0);
    app.clock.advance(Duration::seconds(10));
    check_eq!(app.deliver().await?, 1); // failed again
    app.clock.advance(Duration::seconds(20));
    check_eq!(app.deliver().await?, 1); // delivered
    check_eq!(app.sms.sent().len(), 1);
    check_eq!(
        app.count_events(&id, "user.human.phone.code.sent").await?,
        1
    );
    Ok(())
}

async fn expired_codes_are_given_up_with_an_event(b: Backend) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    let id = app.human("ada").await?;
    app.sms.fail_next(100);
    app.set_phone(&id, PHONE_A).send().await.ok()?;
    app.deliver().await?;
    app.clock.advance(Duration::minutes(11));
    check_eq!(app.deliver().await?, 1);
    check_eq!(
        app.last_event(&id).await?.as_deref(),
        Some("user.human.phone.code.delivery.failed")
    );
    let counts = app.job_counts().await?;
    check_eq!((counts.pending, counts.failed), (0, 1));
    app.clock.advance(Duration::hours(1));
    check_eq!(app.deliver().await?, 0);
    Ok(())
}

async fn jobs_survive_a_restart(b: Backend) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    let id = app.human("ada").await?;
    app.set_phone(&id, PHONE_A).send().await.ok()?;
    // The process stops before its worker ran; the next one delivers.
    let app = app.restart().await?;
    check_eq!(app.deliver().await?, 1);
    check_eq!(app.codes_sent_to(PHONE_A).len(), 1);
    Ok(())
}

/// A job queued while a provider was active, then `sms.provider = none`: not sent, not pending forever.
async fn jobs_left_when_the_provider_is_switched_off_are_given_up(b: Backend) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    let id = app.human("ada").await?;
    app.set_phone(&id, PHONE_A).send().await.ok()?;
    let off = app.worker_with(std::sync::Arc::new(phoneverify::notify::NoProvider));
    check_eq!(off.run_once().await?, 1);
    check_eq!(app.job_counts().await?.pending, 1);
    app.clock.advance(Duration::minutes(11));
    check_eq!(off.run_once().await?, 1);
    let counts = app.job_counts().await?;
    check_eq!((counts.pending, counts.failed), (0, 1));
    check_eq!(
        app.last_event(&id).await?.as_deref(),
        Some("user.human.phone.code.delivery.failed")
    );
    check_eq!(app.sms.sent().len(), 0);
    Ok(())
}
