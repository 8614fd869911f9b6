//! Send limits (spec section 9): a per-user resend cooldown and a per-number daily cap, answered with
//! 8 RESOURCE_EXHAUSTED (429) and Retry-After. Only sends that cost an SMS count.

use anyhow::Result;
use chrono::Duration;

use crate::check_eq;
use crate::helpers::{Backend, PHONE_A, PHONE_B, Resp, TestApp};

crate::suite!(limits;
    resend_waits_for_the_cooldown_in_every_api, the_daily_cap_counts_sends_to_a_number_across_users,
);

/// Settings with a resend cooldown and a daily cap per number (0: off).
fn limits(cooldown_secs: u32, sends_per_day: u32) -> String {
    format!(
        "[limits]\nresend_cooldown_secs = {cooldown_secs}\nmax_sends_per_phone_per_day = {sends_per_day}"
    )
}

fn retry_after(r: &Resp) -> Option<String> {
    r.headers
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(String::from)
}

async fn resend_waits_for_the_cooldown_in_every_api(b: Backend) -> Result<()> {
    let app = TestApp::spawn_with(&b, &limits(30, 0)).await?;
    let id = app.human("ada").await?;
    let me = app.token_for(&id);
    app.set_phone(&id, PHONE_A).send().await.ok()?;
    let before = app.event_types(&id).await?.len();

    let r = app.resend(&id).send_code().send().await;
    r.err(429, 8, "PHONE-c0oLd")?;
    check_eq!(retry_after(&r), Some("30".to_string()));
    app.clock.advance(Duration::seconds(10));
    let r = app.v1_me(&me).resend().send().await;
    r.err(429, 8, "PHONE-c0oLd")?;
    check_eq!(retry_after(&r), Some("20".to_string()));
    let r = app.v1_managed(&id).resend().send().await;
    r.err(429, 8, "PHONE-c0oLd")?;
    check_eq!(app.event_types(&id).await?.len(), before);
    // A returned code costs no SMS and is not limited.
    app.resend(&id).return_code().send().await.ok()?;
    // Setting another number by SMS is a send too; setting it with a returned code is not.
    app.v1_me(&me)
        .set_phone(PHONE_B)
        .send()
        .await
        .err(429, 8, "PHONE-c0oLd")?;
    app.set_phone(&id, PHONE_B)
        .send()
        .await
        .err(429, 8, "PHONE-c0oLd")?;
    app.set_phone(&id, PHONE_B)
        .return_code()
        .send()
        .await
        .ok()?;
    // Once the cooldown is over, the next SMS goes out; and starts the next cooldown.
    app.clock.advance(Duration::seconds(20));
    app.resend(&id).send().await.ok()?;
    app.resend(&id).send().await.err(429, 8, "PHONE-c0oLd")?;
    Ok(())
}

async fn the_daily_cap_counts_sends_to_a_number_across_users(b: Backend) -> Result<()> {
    let app = TestApp::spawn_with(&b, &limits(0, 3)).await?;
    let a = app.human("a").await?;
    let c = app.human("c").await?;
    app.set_phone(&a, PHONE_A).send().await.ok()?; // 1
    app.resend(&a).send().await.ok()?; // 2
    app.set_phone(&c, PHONE_A).send().await.ok()?; // 3
    let jobs = app.job_counts().await?.pending;
    let events = app.event_types(&c).await?.len();
    // The clock stands at 09:00 UTC: the cap lifts at midnight, 15 hours away.
    let r = app.resend(&c).send().await;
    r.err(429, 8, "PHONE-d4iLy")?;
    check_eq!(retry_after(&r), Some((15 * 3600).to_string()));
    app.resend(&a).send().await.err(429, 8, "PHONE-d4iLy")?;
    // Refused sends wrote nothing: no event, no job.
    check_eq!(app.event_types(&c).await?.len(), events);
    check_eq!(app.job_counts().await?.pending, jobs);
    // Another number has its own count; a returned code costs nothing.
    app.set_phone(&a, PHONE_B).send().await.ok()?;
    app.resend(&c).return_code().send().await.ok()?;
    // The next UTC day starts a new count.
    app.clock.advance(Duration::hours(15));
    app.resend(&c).send().await.ok()?;
    Ok(())
}
