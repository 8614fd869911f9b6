//! The delivery state of codes as the v2 user and /metrics show it (with the recording provider).

use std::collections::BTreeMap;

use anyhow::{Context, Result, ensure};
use chrono::Duration;
use serde_json::{Value, json};

use super::code_delivery;
use crate::check_eq;
use crate::helpers::{Backend, PHONE_A, PHONE_B, TestApp};

crate::suite!(providers;
    code_delivery_state_shows_on_the_v2_user, metrics_count_jobs_by_state,
    scrapes_within_a_second_share_one_count,
);

async fn code_delivery_state_shows_on_the_v2_user(b: Backend) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    let id = app.human("ada").await?;
    check_eq!(code_delivery(&app, &id).await?, Value::Null);
    app.set_phone(&id, PHONE_A)
        .return_code()
        .send()
        .await
        .ok()?;
    check_eq!(
        code_delivery(&app, &id).await?,
        json!("CODE_DELIVERY_RETURNED")
    );
    app.clock.advance(Duration::seconds(31));
    app.resend(&id).send_code().send().await.ok()?;
    check_eq!(
        code_delivery(&app, &id).await?,
        json!("CODE_DELIVERY_PENDING")
    );
    check_eq!(app.deliver().await?, 1);
    check_eq!(code_delivery(&app, &id).await?, json!("CODE_DELIVERY_SENT"));
    let code = app.codes_sent_to(PHONE_A).pop().context("sent")?;
    app.verify(&id, &code).send().await.ok()?;
    // Verified: no code pending, no delivery state; the ZITADEL fields are as before.
    let r = app.get_user(&id).send().await;
    check_eq!(
        r.ok()?["user"]["human"]["phone"],
        json!({"phone": PHONE_A, "isVerified": true})
    );
    Ok(())
}

/// `phoneverify_sms_jobs{state="..."} N` lines of a scrape.
pub(super) fn job_gauges(text: &str) -> BTreeMap<String, i64> {
    text.lines()
        .filter_map(|l| l.strip_prefix("phoneverify_sms_jobs{state=\""))
        .filter_map(|l| l.split_once("\"} "))
        .map(|(state, n)| (state.to_owned(), n.trim().parse().unwrap_or(-1)))
        .collect()
}

async fn metrics_count_jobs_by_state(b: Backend) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    let scrape = || async {
        let r = app.get("/metrics").anonymous().send().await;
        ensure!(r.status == 200, "{}: {}", r.status, r.text);
        let content_type = r
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        ensure!(
            content_type.starts_with("application/openmetrics-text"),
            "{content_type}"
        );
        ensure!(
            r.text.contains("# TYPE phoneverify_sms_jobs gauge"),
            "{}",
            r.text
        );
        Ok::<_, anyhow::Error>(job_gauges(&r.text))
    };
    let zero: BTreeMap<String, i64> = ["dropped", "failed", "pending", "sent"]
        .into_iter()
        .map(|s| (s.to_owned(), 0))
        .collect();
    check_eq!(scrape().await?, zero);

    // ada: a queued code replaced by a returned one was dropped, the next one sent; bob: given up; carol:
    // still pending.
    let ada = app.human("ada").await?;
    app.set_phone(&ada, PHONE_A).send_code().send().await.ok()?;
    app.clock.advance(Duration::seconds(31));
    app.resend(&ada).return_code().send().await.ok()?;
    app.deliver().await?;
    app.clock.advance(Duration::seconds(31));
    app.resend(&ada).send_code().send().await.ok()?;
    app.deliver().await?;
    let bob = app.human("bob").await?;
    app.set_phone(&bob, PHONE_B).send_code().send().await.ok()?;
    app.clock.advance(Duration::minutes(11));
    app.deliver().await?;
    let carol = app.human("carol").await?;
    app.set_phone(&carol, "+41791112200")
        .send_code()
        .send()
        .await
        .ok()?;

    let expected: BTreeMap<String, i64> =
        [("dropped", 1), ("failed", 1), ("pending", 1), ("sent", 1)]
            .into_iter()
            .map(|(s, n)| (s.to_owned(), n))
            .collect();
    check_eq!(scrape().await?, expected);
    Ok(())
}

/// Counting jobs reads the whole table and `/metrics` needs no token: a count serves the scrapes of the next
/// second, so that a flood of scrapes cannot make the database count more often than that.
async fn scrapes_within_a_second_share_one_count(b: Backend) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    let pending = || async {
        let r = app.get("/metrics").anonymous().send().await;
        ensure!(r.status == 200, "{}: {}", r.status, r.text);
        Ok::<_, anyhow::Error>(job_gauges(&r.text).get("pending").copied())
    };
    check_eq!(pending().await?, Some(0));
    let ada = app.human("ada").await?;
    app.set_phone(&ada, PHONE_A).send_code().send().await.ok()?;
    check_eq!(app.job_counts().await?.pending, 1);
    // The same instant (the app's clock is pinned): the count of a moment ago.
    check_eq!(pending().await?, Some(0));
    app.clock.advance(Duration::milliseconds(999));
    check_eq!(pending().await?, Some(0));
    app.clock.advance(Duration::milliseconds(1));
    check_eq!(pending().await?, Some(1));
    Ok(())
}
