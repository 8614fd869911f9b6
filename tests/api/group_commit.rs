//! Group commit through the real store: many concurrent commits share transactions, and a commit that fails
//! (a conflicting sequence, a used-up quota, a lost lease) fails alone while its neighbours are written.

use std::sync::Arc;

use anyhow::Result;
use chrono::{DateTime, Duration, TimeZone, Utc};
use phoneverify::domain::events::{AGGREGATE_USER, NewEvent};
use phoneverify::store::{
    Commit, JobState, JobUpdate, NewSmsJob, OrgSmsQuota, SmsQuota, Store, StoreError,
};
use serde_json::json;

use crate::check_eq;
use crate::helpers::{Backend, TestApp};

crate::suite!(group_commit;
    a_conflicting_commit_fails_alone_among_concurrent_ones,
    a_used_up_quota_fails_only_the_commit_that_exceeds_it,
    a_job_settled_under_a_lost_lease_fails_alone,
    commits_behind_the_log_fail_alone_among_concurrent_ones,
    sends_counted_together_reach_the_cap_exactly,
);

fn event(aggregate: &str, sequence: i64) -> NewEvent {
    NewEvent {
        aggregate_type: AGGREGATE_USER,
        aggregate_id: aggregate.into(),
        sequence,
        event_type: "user.human.phone.verification.failed".into(),
        payload: Some(json!({})),
        resource_owner: "org-1".into(),
        creator: "tester".into(),
        created_at: Utc.with_ymd_and_hms(2026, 7, 1, 8, 0, 0).unwrap(),
    }
}

/// Sends every commit at once and returns their outcomes in order.
async fn concurrently(store: &Arc<dyn Store>, commits: Vec<Commit>) -> Vec<Result<(), StoreError>> {
    let handles: Vec<_> = commits
        .into_iter()
        .map(|c| {
            let store = store.clone();
            tokio::spawn(async move { store.commit(c).await })
        })
        .collect();
    let mut outcomes = Vec::new();
    for h in handles {
        outcomes.push(h.await.unwrap_or(Err(StoreError::Conflict)));
    }
    outcomes
}

async fn a_conflicting_commit_fails_alone_among_concurrent_ones(b: Backend) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    let store = app.services.store.clone();
    // 24 aggregates that nobody else writes, and 8 writers racing for sequence 1 of one more.
    let mut commits: Vec<Commit> = (0..24)
        .map(|i| Commit {
            events: vec![event(&format!("solo-{i}"), 1)],
            ..Commit::default()
        })
        .collect();
    commits.extend((0..8).map(|_| Commit {
        events: vec![event("contested", 1)],
        ..Commit::default()
    }));
    let outcomes = concurrently(&store, commits).await;
    for (i, outcome) in outcomes[..24].iter().enumerate() {
        anyhow::ensure!(outcome.is_ok(), "solo-{i}: {outcome:?}");
        check_eq!(store.last_sequence(&format!("solo-{i}")).await?, 1);
    }
    let won = outcomes[24..].iter().filter(|o| o.is_ok()).count();
    let conflicts = outcomes[24..]
        .iter()
        .filter(|o| matches!(o, Err(StoreError::Conflict)))
        .count();
    check_eq!((won, conflicts), (1, 7));
    check_eq!(store.events("contested").await?.len(), 1);
    Ok(())
}

async fn a_used_up_quota_fails_only_the_commit_that_exceeds_it(b: Backend) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    let store = app.services.store.clone();
    let quota = SmsQuota {
        phone: "+41791234567".into(),
        day: "2026-07-01".into(),
        limit: 3,
    };
    let commits = (0..10)
        .map(|i| Commit {
            events: vec![event(&format!("sender-{i}"), 1)],
            sms_quota: Some(quota.clone()),
            ..Commit::default()
        })
        .collect();
    let outcomes = concurrently(&store, commits).await;
    let written = outcomes.iter().filter(|o| o.is_ok()).count();
    let refused = outcomes
        .iter()
        .filter(|o| matches!(o, Err(StoreError::QuotaExceeded)))
        .count();
    check_eq!((written, refused), (3, 7));
    let mut with_events = 0;
    for i in 0..10 {
        with_events += store.events(&format!("sender-{i}")).await?.len();
    }
    // A refused commit wrote nothing, not even its event.
    check_eq!(with_events, 3);
    Ok(())
}

fn at(secs: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 7, 1, 8, 0, 0).unwrap() + Duration::seconds(secs)
}

/// The delivery worker's commits (a job settled, an event on its user) racing the resends' commits: the one
/// made under a lease that is no longer the job's is refused, and every other is written.
async fn a_job_settled_under_a_lost_lease_fails_alone(b: Backend) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    let store = app.services.store.clone();
    let jobs = (0..16)
        .map(|i| NewSmsJob {
            id: format!("job-{i}"),
            user_id: format!("owner-{i}"),
            code_sequence: 1,
            phone: "+41791234567".into(),
            encrypted_code: "sealed".into(),
            language: "en".into(),
            expires_at: at(600),
            created_at: at(0),
        })
        .collect();
    store
        .commit(Commit {
            jobs,
            ..Commit::default()
        })
        .await?;
    let lease = at(61);
    check_eq!(store.claim_jobs(at(1), lease, 100).await?.len(), 16);
    let settle = |i: usize, lease_until| Commit {
        events: vec![event(&format!("owner-{i}"), 1)],
        job_updates: vec![JobUpdate {
            id: format!("job-{i}"),
            lease_until,
            state: JobState::Sent,
            attempts: 1,
            next_attempt_at: at(2),
            last_error: None,
            updated_at: at(2),
        }],
        ..Commit::default()
    };
    // Job 7 is settled under a lease it never had; resends of other users go in between.
    let mut commits: Vec<Commit> = (0..16)
        .map(|i| settle(i, if i == 7 { at(99) } else { lease }))
        .collect();
    commits.extend((0..16).map(|i| Commit {
        events: vec![event(&format!("resender-{i}"), 1)],
        ..Commit::default()
    }));
    let outcomes = concurrently(&store, commits).await;
    for (i, outcome) in outcomes.iter().enumerate() {
        match i {
            7 => anyhow::ensure!(matches!(outcome, Err(StoreError::LeaseLost)), "{outcome:?}"),
            _ => anyhow::ensure!(outcome.is_ok(), "commit {i}: {outcome:?}"),
        }
    }
    let counts = store.job_counts().await?;
    check_eq!((counts.sent, counts.pending), (15, 1));
    // The refused commit wrote nothing, not even its event.
    check_eq!(store.events("owner-7").await?.len(), 0);
    check_eq!(store.events("owner-8").await?.len(), 1);
    check_eq!(store.events("resender-15").await?.len(), 1);
    Ok(())
}

/// Commits decided on a state an earlier batch has moved on from (their sequence is already in the log) are
/// refused with `Conflict`; the commits they share a batch with are written.
async fn commits_behind_the_log_fail_alone_among_concurrent_ones(b: Backend) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    let store = app.services.store.clone();
    for i in 0..4 {
        store
            .commit(Commit {
                events: vec![event(&format!("moved-{i}"), 1)],
                ..Commit::default()
            })
            .await?;
    }
    let mut commits: Vec<Commit> = Vec::new();
    for i in 0..24 {
        commits.push(Commit {
            events: vec![event(&format!("fresh-{i}"), 1)],
            ..Commit::default()
        });
        if i % 6 == 0 {
            commits.push(Commit {
                events: vec![event(&format!("moved-{}", i / 6), 1)],
                ..Commit::default()
            });
        }
    }
    let outcomes = concurrently(&store, commits).await;
    let (mut written, mut behind) = (0, 0);
    for (i, outcome) in outcomes.iter().enumerate() {
        match outcome {
            Ok(()) => written += 1,
            Err(StoreError::Conflict) => behind += 1,
            Err(e) => anyhow::bail!("commit {i}: {e:?}"),
        }
    }
    check_eq!((written, behind), (24, 4));
    for i in 0..24 {
        check_eq!(store.last_sequence(&format!("fresh-{i}")).await?, 1);
    }
    for i in 0..4 {
        check_eq!(store.events(&format!("moved-{i}")).await?.len(), 1);
    }
    Ok(())
}

/// Sends of concurrent commits are counted together (one row per number, and per organization, a batch) and
/// still add up: after 10 of a cap of 12, exactly 2 more go through, for the number and for the organization.
async fn sends_counted_together_reach_the_cap_exactly(b: Backend) -> Result<()> {
    let app = TestApp::spawn(&b).await?;
    let store = app.services.store.clone();
    let sending = |name: String, phone: &str| Commit {
        events: vec![event(&name, 1)],
        sms_quota: Some(SmsQuota {
            phone: phone.into(),
            day: "2026-07-01".into(),
            limit: 12,
        }),
        org_sms_quota: Some(OrgSmsQuota {
            org_id: "org-1".into(),
            day: "2026-07-01".into(),
            limit: 12,
        }),
        ..Commit::default()
    };
    let first = (0..10)
        .map(|i| sending(format!("first-{i}"), "+41790000001"))
        .collect();
    let outcomes = concurrently(&store, first).await;
    anyhow::ensure!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");
    let more = (0..5)
        .map(|i| sending(format!("more-{i}"), "+41790000001"))
        .collect();
    let outcomes = concurrently(&store, more).await;
    let written = outcomes.iter().filter(|o| o.is_ok()).count();
    let refused = outcomes
        .iter()
        .filter(|o| matches!(o, Err(StoreError::QuotaExceeded)))
        .count();
    check_eq!((written, refused), (2, 3));
    // Another number of the same organization: the organization's count is at 12 already.
    let other = concurrently(&store, vec![sending("other".into(), "+41790000002")]).await;
    anyhow::ensure!(
        matches!(other[0], Err(StoreError::OrgQuotaExceeded) | Ok(())),
        "{other:?}"
    );
    Ok(())
}
