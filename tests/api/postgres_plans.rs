//! Postgres only: the resend's reads and writes find their rows by key, however small the tables were when
//! the server's connections planned them. On a new database Postgres once planned the user update through an
//! index on the organization, the job rewrite as a scan of every pending job and the caller's lookup as a scan
//! of every user, and kept those plans: each resend read every user of the org, every queued job and every
//! user. Postgres counts the rows each index and each sequential scan returned, which is what this suite holds
//! down. (SQLite's plans are checked in `sqlite_local::decode`.)

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use sqlx::Connection;

use crate::helpers::{Backend, TestApp};

pub fn tests() -> Vec<(&'static str, crate::TestFn)> {
    vec![("postgres_plans::resends_read_a_few_rows_each", |b| {
        Box::pin(resends_read_a_few_rows_each(b))
    })]
}

const USERS: usize = 40;
const ROUNDS: usize = 6;

async fn resends_read_a_few_rows_each(b: Backend) -> Result<()> {
    let url = b.url().context("a Postgres test")?;
    let app = Arc::new(TestApp::spawn(&b).await?);
    let mut ids = Vec::new();
    for i in 0..USERS {
        let phone = format!("+4179{:07}", 1000 + i);
        ids.push(app.with_pending_code(&format!("plan{i}"), &phone).await?.0);
    }
    // What the setup read is reported when its connections have been idle for a while (at the latest ten
    // seconds on): counted after that, it stays out of the resends' share.
    tokio::time::sleep(Duration::from_secs(11)).await;
    let before = index_reads(&url).await?;
    // Every user at once, so that commits also share batches; enough rounds for each connection to settle
    // on the plan it keeps.
    for _ in 0..ROUNDS {
        let mut resends = tokio::task::JoinSet::new();
        for id in &ids {
            let (app, id) = (app.clone(), id.clone());
            resends.spawn(async move { app.resend(&id).send_code().send().await });
        }
        while let Some(answer) = resends.join_next().await {
            answer?.ok()?;
        }
    }
    let resends = (USERS * ROUNDS) as i64;
    // Backends report their counts when idle, at the latest ten seconds on.
    let deadline = Instant::now() + Duration::from_secs(30);
    let after = loop {
        let now = index_reads(&url).await?;
        if now.user_key_scans - before.user_key_scans >= resends || Instant::now() > deadline {
            tokio::time::sleep(Duration::from_secs(11)).await;
            break index_reads(&url).await?;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    anyhow::ensure!(
        after.user_key_scans - before.user_key_scans >= resends,
        "Postgres did not report the resends' lookups: {before:?} -> {after:?}"
    );
    let per_resend = (after.rows - before.rows) as f64 / resends as f64;
    // A resend reads its caller, its user and the user's queued job, and writes the two rows: a few rows
    // each. Through the organization's index (the plan migration 0007 ends) it was about 20 here, with the
    // caller's lookup scanning the users about 60, and both grow with the users.
    anyhow::ensure!(
        per_resend <= 12.0,
        "each resend read {per_resend:.1} rows of users, memberships and sms_jobs ({before:?} -> {after:?})"
    );
    Ok(())
}

#[derive(Debug, Clone, Copy)]
struct IndexReads {
    /// Rows returned by every index and every sequential scan of `users`, `memberships` and `sms_jobs`.
    rows: i64,
    /// Lookups through the primary key of `users`.
    user_key_scans: i64,
}

async fn index_reads(url: &str) -> Result<IndexReads> {
    let mut conn = sqlx::PgConnection::connect(url).await?;
    let (rows, user_key_scans): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT COALESCE(SUM(idx_tup_read), 0) FROM pg_stat_user_indexes WHERE relname IN (\
         'users', 'memberships', 'sms_jobs'))::bigint + (SELECT COALESCE(SUM(seq_tup_read), 0) FROM \
         pg_stat_user_tables WHERE relname IN ('users', 'memberships', 'sms_jobs'))::bigint, \
         COALESCE((SELECT idx_scan FROM pg_stat_user_indexes WHERE indexrelname = 'users_pkey'), 0)::bigint",
    )
    .fetch_one(&mut conn)
    .await?;
    conn.close().await?;
    Ok(IndexReads {
        rows,
        user_key_scans,
    })
}
