//! What the SMS path leaves behind is deleted once nothing needs it: settled jobs once
//! `sms.settled_job_retention_hours` have passed (pending ones never, nor what the user's events say about the
//! delivery), and the daily send counts of days that are over.

use anyhow::{Context, Result};
use chrono::Duration;
use phoneverify::notify::retention::Retention;
use phoneverify::store::JobCounts;
use tokio::sync::watch;

use super::delivery_state::job_gauges;
use crate::check_eq;
use crate::helpers::{Backend, PHONE_A, PHONE_B, TestApp};

crate::suite!(providers;
    settled_jobs_are_deleted_after_the_retention,
    a_retention_of_zero_keeps_every_job_and_past_days_still_go,
    deletions_run_between_the_requests_commits,
);

const KEEP_A_DAY: &str = "[sms]\nsettled_job_retention_hours = 24\n";

async fn settled_jobs_are_deleted_after_the_retention(b: Backend) -> Result<()> {
    let app = TestApp::spawn_with(&b, KEEP_A_DAY).await?;
    let retention = Retention::new(app.services.clone()).with_batch(1);
    let kept_for = retention.kept_for().context("a retention of 24 h")?;
    check_eq!(kept_for, Duration::hours(24));
    let (_stop_tx, stop) = watch::channel(false);

    // Three jobs sent now: old enough to go in a day and an hour.
    let mut early = Vec::new();
    for (name, phone) in [("ada", PHONE_A), ("bob", PHONE_B), ("cy", "+41791112233")] {
        let id = app.human(name).await?;
        app.set_phone(&id, phone).send_code().send().await.ok()?;
        early.push(id);
    }
    check_eq!(app.deliver().await?, 3);
    // Twenty hours later: one more sent, one queued and never sent.
    app.clock.advance(Duration::hours(20));
    let dan = app.human("dan").await?;
    app.set_phone(&dan, "+41791112244")
        .send_code()
        .send()
        .await
        .ok()?;
    check_eq!(app.deliver().await?, 1);
    let eve = app.human("eve").await?;
    app.set_phone(&eve, "+41791112255")
        .send_code()
        .send()
        .await
        .ok()?;
    let sent_events = app
        .count_events(&early[0], "user.human.phone.code.sent")
        .await?;
    check_eq!(sent_events, 1);

    // Nothing is a day old yet.
    check_eq!(retention.prune_jobs(kept_for, &stop).await?, 0);
    check_eq!(app.job_counts().await?, counts(1, 4));

    // A day and an hour after the first sends: those three go, one statement each.
    app.clock.advance(Duration::hours(5));
    check_eq!(retention.prune_jobs(kept_for, &stop).await?, 3);
    check_eq!(app.job_counts().await?, counts(1, 1));
    let r = app.get("/metrics").anonymous().send().await;
    check_eq!(r.status, 200);
    let gauges = job_gauges(&r.text);
    check_eq!(gauges.get("sent").copied(), Some(1));
    check_eq!(gauges.get("pending").copied(), Some(1));
    // The users' record of the delivery is untouched.
    check_eq!(
        app.count_events(&early[0], "user.human.phone.code.sent")
            .await?,
        sent_events
    );

    // Long after, every settled job goes; the one never sent stays pending until the worker gives it up.
    app.clock.advance(Duration::days(30));
    check_eq!(retention.prune_jobs(kept_for, &stop).await?, 1);
    check_eq!(app.job_counts().await?, counts(1, 0));
    check_eq!(retention.prune_jobs(kept_for, &stop).await?, 0);
    Ok(())
}

/// Days of the daily counts (per number, then per organization), read from the database.
async fn counted_days(app: &TestApp) -> Result<Vec<String>> {
    app.raw_column(
        "SELECT day FROM (SELECT day, 1 AS kind FROM sms_daily UNION ALL \
         SELECT day, 2 AS kind FROM sms_org_daily) AS counted ORDER BY kind, day",
        &[],
    )
    .await
}

async fn a_retention_of_zero_keeps_every_job_and_past_days_still_go(b: Backend) -> Result<()> {
    let toml = "[limits]\nmax_sends_per_phone_per_day = 10\nmax_sms_per_org_per_day = 100\n\
                [sms]\nsettled_job_retention_hours = 0\n";
    let app = TestApp::spawn_with(&b, toml).await?;
    check_eq!(Retention::new(app.services.clone()).kept_for(), None);
    let ada = app.human("ada").await?;
    let first_day = app.now().format("%Y-%m-%d").to_string();
    app.set_phone(&ada, PHONE_A).send_code().send().await.ok()?;
    check_eq!(app.deliver().await?, 1);
    app.clock.advance(Duration::days(1));
    let second_day = app.now().format("%Y-%m-%d").to_string();
    app.resend(&ada).send_code().send().await.ok()?;
    check_eq!(app.deliver().await?, 1);
    check_eq!(
        counted_days(&app).await?,
        vec![
            first_day.clone(),
            second_day.clone(),
            first_day,
            second_day.clone()
        ]
    );

    // The day after: the first day's counts go, and yesterday's (the second day's) stay, for a process
    // whose clock is a little behind.
    app.clock.advance(Duration::days(1));
    let (_stop_tx, stop) = watch::channel(false);
    let retention = Retention::new(app.services.clone()).with_batch(1);
    check_eq!(retention.prune_daily_counts(&stop).await?, 2);
    check_eq!(
        counted_days(&app).await?,
        vec![second_day.clone(), second_day]
    );

    // Ten years on, the pass a process makes at start: the last counts go, and both jobs stay.
    app.clock.advance(Duration::days(3650));
    let (stop_tx, stop) = watch::channel(false);
    let running = tokio::spawn(retention.run(stop));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !counted_days(&app).await?.is_empty() {
        anyhow::ensure!(
            std::time::Instant::now() < deadline,
            "the pass at start never deleted the last counts"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    stop_tx.send(true)?;
    tokio::time::timeout(std::time::Duration::from_secs(5), running)
        .await
        .context("the pass stops when asked")??;
    check_eq!(app.job_counts().await?, counts(0, 2));

    // A pass that is asked to stop deletes nothing, whatever is due.
    let (_stop_tx, stopped) = watch::channel(true);
    let keeps_a_day = Retention::new(app.services.clone());
    check_eq!(
        keeps_a_day
            .prune_jobs(Duration::hours(24), &stopped)
            .await?,
        0
    );
    check_eq!(app.job_counts().await?, counts(0, 2));
    Ok(())
}

/// Deletions while requests commit (on SQLite they take turns with the group-commit writer's batches):
/// every request is answered, and exactly the old settled jobs go.
async fn deletions_run_between_the_requests_commits(b: Backend) -> Result<()> {
    let app = std::sync::Arc::new(TestApp::spawn_with(&b, KEEP_A_DAY).await?);
    let mut ids = Vec::new();
    for i in 0..8 {
        let id = app.human(&format!("user{i}")).await?;
        app.set_phone(&id, &format!("+4179111{i:04}"))
            .send_code()
            .send()
            .await
            .ok()?;
        ids.push(id);
    }
    check_eq!(app.deliver().await?, 8);
    app.clock.advance(Duration::hours(25));
    let (_stop_tx, stop) = watch::channel(false);
    let retention = Retention::new(app.services.clone()).with_batch(1);
    let mut resends = tokio::task::JoinSet::new();
    for id in &ids {
        let (app, id) = (app.clone(), id.clone());
        resends.spawn(async move {
            for _ in 0..5 {
                app.resend(&id).send_code().send().await.ok()?;
            }
            Ok::<_, anyhow::Error>(())
        });
    }
    let deleted = retention.prune_jobs(Duration::hours(24), &stop).await?;
    while let Some(done) = resends.join_next().await {
        done??;
    }
    check_eq!(deleted, 8);
    // Each user's newest code waits in one queued job; nothing settled is left.
    check_eq!(app.job_counts().await?, counts(8, 0));
    Ok(())
}

fn counts(pending: i64, sent: i64) -> JobCounts {
    JobCounts {
        pending,
        sent,
        ..JobCounts::default()
    }
}
