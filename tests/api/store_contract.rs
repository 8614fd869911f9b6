//! The `Store` trait's contract, checked directly on each backend: what the service relies on.

use std::sync::Arc;

use anyhow::Result;
use chrono::{Duration, TimeZone, Utc};
use phoneverify::domain::events::{AGGREGATE_USER, NewEvent};
use phoneverify::domain::ids::{OrgId, UserId};
use phoneverify::domain::names::{Email, Username};
use phoneverify::domain::org::{Membership, Scope};
use phoneverify::domain::phone::PhoneNumber;
use phoneverify::domain::user::{Delivery, Human, PendingCode, Phone, User, UserKind, UserState};
use phoneverify::store::{Commit, JobState, JobUpdate, NewSmsJob, Store, StoreError};
use serde_json::json;

use crate::check_eq;
use crate::helpers::{Backend, TestApp};

crate::suite!(store_contract;
    a_user_round_trips_without_loss, a_duplicate_sequence_is_a_conflict_and_writes_nothing,
    secrets_keep_the_first_value, a_leased_job_is_invisible_until_its_lease_ends,
    a_new_job_replaces_the_users_queued_one_but_not_one_being_sent,
    names_are_unique_case_insensitively_while_in_use,
    a_caller_and_the_user_it_names_are_read_apart,
    concurrent_lookups_each_get_their_own_users,
);

fn t(secs: i64) -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 7, 1, 8, 0, 0)
        .single()
        .unwrap_or_default()
        + Duration::seconds(secs)
        + Duration::microseconds(123_456)
}

fn uid(id: &str) -> UserId {
    UserId::from_stored(id.into())
}

fn user(id: &str, username: &str, sequence: i64) -> User {
    User {
        id: uid(id),
        org_id: OrgId::from_stored("org-1".into()),
        username: Username::from_stored(username.into()),
        state: UserState::Active,
        kind: UserKind::Human(Human {
            given_name: "Ada".into(),
            family_name: "Lovelace".into(),
            display_name: "Ada L.".into(),
            nick_name: "countess".into(),
            preferred_language: "de".into(),
            email: Email::from_stored("ada@example.com".into()),
            email_verified: true,
            phone: Some(Phone {
                number: PhoneNumber::from_stored("+41791234567".into()),
                verified: false,
                code: Some(PendingCode {
                    sequence,
                    hash: "aGFzaA".into(),
                    created_at: t(1),
                    expires_at: t(601),
                    attempts: 3,
                    delivery: Delivery::Sent,
                }),
            }),
            last_sms_at: Some(t(1)),
        }),
        sequence,
        created_at: t(0),
        changed_at: t(1),
    }
}

fn event(id: &str, sequence: i64) -> NewEvent {
    NewEvent {
        aggregate_type: AGGREGATE_USER,
        aggregate_id: id.into(),
        sequence,
        event_type: "user.human.phone.verification.failed".into(),
        payload: Some(json!({"k": "v"})),
        resource_owner: "org-1".into(),
        creator: "tester".into(),
        created_at: t(sequence),
    }
}

async fn store(b: &Backend) -> Result<(TestApp, Arc<dyn Store>)> {
    let app = TestApp::spawn(b).await?;
    let store = app.services.store.clone();
    Ok((app, store))
}

async fn a_user_round_trips_without_loss(b: Backend) -> Result<()> {
    let (_app, store) = store(&b).await?;
    let u = user("u-1", "ada", 2);
    let membership = Membership {
        user_id: uid("u-1"),
        scope: Scope::Org(OrgId::from_stored("org-1".into())),
        roles: vec!["ORG_OWNER".into()],
    };
    store
        .commit(Commit {
            events: vec![event("u-1", 1), event("u-1", 2)],
            users: vec![u.clone()],
            memberships: vec![membership.clone()],
            ..Commit::default()
        })
        .await?;
    check_eq!(store.user(&uid("u-1")).await?, Some(u));
    check_eq!(store.memberships(&uid("u-1")).await?, vec![membership]);
    check_eq!(store.last_sequence("u-1").await?, 2);
    let events = store.events("u-1").await?;
    check_eq!(
        events.iter().map(|e| e.sequence).collect::<Vec<_>>(),
        vec![1, 2]
    );
    check_eq!(events[0].payload, Some(json!({"k": "v"})));
    check_eq!(events[0].created_at, t(1));
    anyhow::ensure!(events[0].position < events[1].position, "positions grow");
    check_eq!(store.user(&uid("nobody")).await?, None);
    Ok(())
}

async fn a_duplicate_sequence_is_a_conflict_and_writes_nothing(b: Backend) -> Result<()> {
    let (_app, store) = store(&b).await?;
    store
        .commit(Commit {
            events: vec![event("u-2", 1)],
            users: vec![user("u-2", "bea", 1)],
            ..Commit::default()
        })
        .await?;
    // A second writer that read the same state: its event 2 would be fine, its event 1 collides.
    let stale = Commit {
        events: vec![event("u-2", 2), event("u-2", 1)],
        users: vec![user("u-2", "bea-renamed", 2)],
        jobs: vec![NewSmsJob {
            id: "job-x".into(),
            user_id: "u-2".into(),
            code_sequence: 2,
            phone: "+41791234567".into(),
            encrypted_code: "sealed".into(),
            language: String::new(),
            expires_at: t(600),
            created_at: t(2),
        }],
        ..Commit::default()
    };
    let result = store.commit(stale).await;
    anyhow::ensure!(matches!(result, Err(StoreError::Conflict)), "{result:?}");
    check_eq!(store.last_sequence("u-2").await?, 1);
    check_eq!(
        store
            .user(&uid("u-2"))
            .await?
            .map(|u| u.username.to_string()),
        Some("bea".to_string())
    );
    check_eq!(store.job_counts().await?.pending, 0);
    Ok(())
}

async fn secrets_keep_the_first_value(b: Backend) -> Result<()> {
    let (_app, store) = store(&b).await?;
    check_eq!(store.secret("k", "first", t(0)).await?, "first".to_string());
    check_eq!(
        store.secret("k", "second", t(1)).await?,
        "first".to_string()
    );
    Ok(())
}

async fn a_leased_job_is_invisible_until_its_lease_ends(b: Backend) -> Result<()> {
    let (app, store) = store(&b).await?;
    // Jobs of two users: a user's new job would replace the other (see the next test).
    let job = |id: &str, at: i64| NewSmsJob {
        id: id.into(),
        user_id: format!("u-{id}"),
        code_sequence: 1,
        phone: "+41791234567".into(),
        encrypted_code: "sealed".into(),
        language: "en".into(),
        expires_at: t(600),
        created_at: t(at),
    };
    store
        .commit(Commit {
            jobs: vec![job("j-1", 0), job("j-2", 5)],
            ..Commit::default()
        })
        .await?;
    check_eq!(store.next_job_due().await?, Some(t(0)));
    // Only j-1 is due at t(1).
    let first = store.claim_jobs(t(1), t(61), 10).await?;
    check_eq!(
        first.iter().map(|j| j.id.as_str()).collect::<Vec<_>>(),
        vec!["j-1"]
    );
    check_eq!(first[0].attempts, 0);
    // A second worker sees j-2 once due, but not the leased j-1.
    let second = store.claim_jobs(t(10), t(70), 10).await?;
    check_eq!(
        second.iter().map(|j| j.id.as_str()).collect::<Vec<_>>(),
        vec!["j-2"]
    );
    check_eq!(store.claim_jobs(t(30), t(90), 10).await?.len(), 0);
    // A lease that ran out (its holder overran or died) makes the job available again.
    let retaken = store.claim_jobs(t(62), t(120), 10).await?;
    check_eq!(retaken.len(), 1);
    check_eq!(retaken[0].lease_until, t(120));
    // The first holder, late, can no longer settle it: its update (and anything committed with it) is refused.
    let late = JobUpdate {
        id: "j-1".into(),
        lease_until: first[0].lease_until,
        state: JobState::Sent,
        attempts: 1,
        next_attempt_at: t(63),
        last_error: None,
        updated_at: t(63),
    };
    let refused = store
        .commit(Commit {
            events: vec![event("u-3", 1)],
            job_updates: vec![late],
            ..Commit::default()
        })
        .await;
    anyhow::ensure!(matches!(refused, Err(StoreError::LeaseLost)), "{refused:?}");
    check_eq!(store.last_sequence("u-3").await?, 0);
    // Settled jobs are never claimed again.
    let done = JobUpdate {
        id: "j-2".into(),
        lease_until: t(70),
        state: JobState::Sent,
        attempts: 1,
        next_attempt_at: t(63),
        last_error: None,
        updated_at: t(63),
    };
    store
        .commit(Commit {
            job_updates: vec![done],
            ..Commit::default()
        })
        .await?;
    check_eq!(
        store
            .claim_jobs(t(500), t(560), 10)
            .await?
            .iter()
            .map(|j| j.id.clone())
            .collect::<Vec<_>>(),
        vec!["j-1".to_string()]
    );
    let counts = store.job_counts().await?;
    check_eq!((counts.pending, counts.sent), (1, 1));
    // The sent job's sealed code is wiped; the pending one keeps it.
    check_eq!(sealed_code(&app, "j-2").await?, Some(String::new()));
    check_eq!(sealed_code(&app, "j-1").await?, Some("sealed".to_owned()));
    Ok(())
}

async fn a_new_job_replaces_the_users_queued_one_but_not_one_being_sent(b: Backend) -> Result<()> {
    let (app, store) = store(&b).await?;
    let job = |id: &str, user: &str, at: i64| NewSmsJob {
        id: id.into(),
        user_id: user.into(),
        code_sequence: at,
        phone: "+41791234567".into(),
        encrypted_code: format!("sealed-{at}"),
        language: "en".into(),
        expires_at: t(600),
        created_at: t(at),
    };
    let queue = |j: NewSmsJob| {
        let store = store.clone();
        async move {
            store
                .commit(Commit {
                    jobs: vec![j],
                    ..Commit::default()
                })
                .await
        }
    };
    queue(job("a-1", "u-a", 0)).await?;
    queue(job("b-1", "u-b", 1)).await?;
    // A worker holds a-1 (the only job due at t(0)) until t(61): it is being sent.
    let claimed = store.claim_jobs(t(0), t(61), 10).await?;
    check_eq!(
        claimed.iter().map(|j| j.id.as_str()).collect::<Vec<_>>(),
        vec!["a-1"]
    );
    queue(job("a-2", "u-a", 2)).await?;
    queue(job("a-3", "u-a", 3)).await?;
    let counts = store.job_counts().await?;
    // a-3 was written into a-2, queued and due, which now carries the new code; no job a-3 was added. a-1
    // (leased) and b-1 (another user) are untouched.
    check_eq!((counts.pending, counts.dropped), (3, 0));
    check_eq!(sealed_code(&app, "a-2").await?, Some("sealed-3".to_owned()));
    check_eq!(sealed_code(&app, "a-3").await?, None);
    let mut due: Vec<(String, i64)> = store
        .claim_jobs(t(100), t(160), 10)
        .await?
        .into_iter()
        .map(|j| (j.id.clone(), j.code_sequence))
        .collect();
    due.sort();
    let due_ids: Vec<(&str, i64)> = due.iter().map(|(id, s)| (id.as_str(), *s)).collect();
    check_eq!(due_ids, vec![("a-1", 0), ("a-2", 3), ("b-1", 1)]);

    // b-1 failed and waits for its retry at t(500): a new code for b does not take its place (it would wait
    // too) but is queued beside it, due at once.
    store
        .commit(Commit {
            job_updates: vec![JobUpdate {
                id: "b-1".into(),
                lease_until: t(160),
                state: JobState::Pending,
                attempts: 1,
                next_attempt_at: t(500),
                last_error: Some("gateway down".into()),
                updated_at: t(100),
            }],
            ..Commit::default()
        })
        .await?;
    queue(job("b-2", "u-b", 200)).await?;
    let due: Vec<String> = store
        .claim_jobs(t(200), t(260), 10)
        .await?
        .into_iter()
        .filter(|j| j.user_id == "u-b")
        .map(|j| j.id.clone())
        .collect();
    check_eq!(due, vec!["b-2"]);
    check_eq!(sealed_code(&app, "b-1").await?, Some("sealed-1".to_owned()));
    Ok(())
}

/// The raw `encrypted_code` column of a job, read past the Store trait.
async fn sealed_code(app: &TestApp, job: &str) -> Result<Option<String>> {
    let sql = "SELECT encrypted_code FROM sms_jobs WHERE id = $1";
    Ok(app.raw_column(sql, &[job]).await?.into_iter().next())
}

async fn names_are_unique_case_insensitively_while_in_use(b: Backend) -> Result<()> {
    let (_app, store) = store(&b).await?;
    store
        .commit(Commit {
            events: vec![event("u-4", 1)],
            users: vec![user("u-4", "Carla", 1)],
            ..Commit::default()
        })
        .await?;
    anyhow::ensure!(store.username_taken("carla").await?);
    // The unique index backs the check: a second live user with the same name cannot be written.
    let clash = store
        .commit(Commit {
            events: vec![event("u-5", 1)],
            users: vec![user("u-5", "CARLA", 1)],
            ..Commit::default()
        })
        .await;
    anyhow::ensure!(matches!(clash, Err(StoreError::Conflict)), "{clash:?}");
    let mut removed = user("u-4", "Carla", 2);
    removed.state = UserState::Removed;
    store
        .commit(Commit {
            events: vec![event("u-4", 2)],
            users: vec![removed],
            ..Commit::default()
        })
        .await?;
    anyhow::ensure!(
        !store.username_taken("carla").await?,
        "a removed user frees the name"
    );
    anyhow::ensure!(
        store.org_name_taken("default").await?,
        "the bootstrap org, whatever the case"
    );
    anyhow::ensure!(!store.org_name_taken("nope").await?);
    Ok(())
}

async fn a_caller_and_the_user_it_names_are_read_apart(b: Backend) -> Result<()> {
    let (_app, store) = store(&b).await?;
    let membership = |id: &str, role: &str| Membership {
        user_id: uid(id),
        scope: Scope::Org(OrgId::from_stored("org-1".into())),
        roles: vec![role.into()],
    };
    store
        .commit(Commit {
            events: vec![event("caller", 1), event("named", 1)],
            users: vec![user("caller", "cal", 1), user("named", "nam", 1)],
            memberships: vec![
                membership("caller", "ORG_OWNER"),
                membership("named", "ORG_USER_MANAGER"),
            ],
            ..Commit::default()
        })
        .await?;
    let (caller, named) = store.caller_and_user(&uid("caller"), &uid("named")).await?;
    check_eq!(
        caller,
        Some((
            user("caller", "cal", 1),
            vec![membership("caller", "ORG_OWNER")]
        ))
    );
    check_eq!(named, Some(user("named", "nam", 1)));
    let (caller, named) = store
        .caller_and_user(&uid("caller"), &uid("nobody"))
        .await?;
    check_eq!(caller.map(|(u, _)| u.id), Some(uid("caller")));
    check_eq!(named, None);
    let (caller, named) = store.caller_and_user(&uid("nobody"), &uid("named")).await?;
    check_eq!(caller, None);
    check_eq!(named.map(|u| u.id), Some(uid("named")));
    Ok(())
}

/// Postgres reads the users of concurrent lookups in one query: each lookup must still get exactly its own
/// users, with memberships only where it asked for them.
async fn concurrent_lookups_each_get_their_own_users(b: Backend) -> Result<()> {
    let (_app, store) = store(&b).await?;
    const USERS: usize = 12;
    let id = |i: usize| format!("many-{i}");
    let membership = |i: usize| Membership {
        user_id: uid(&id(i)),
        scope: Scope::Org(OrgId::from_stored("org-1".into())),
        roles: vec![format!("ROLE_{i}")],
    };
    store
        .commit(Commit {
            events: (0..USERS).map(|i| event(&id(i), 1)).collect(),
            users: (0..USERS)
                .map(|i| user(&id(i), &format!("many{i}"), 1))
                .collect(),
            memberships: (0..USERS).map(membership).collect(),
            ..Commit::default()
        })
        .await?;
    let mut lookups = tokio::task::JoinSet::new();
    for round in 0..8 {
        for i in 0..USERS {
            let (store, other) = (store.clone(), (i + round + 1) % USERS);
            let (me, them) = (uid(&id(i)), uid(&id(other)));
            lookups.spawn(async move {
                let found = match round % 3 {
                    0 => store.user(&me).await?.map(|u| (u, None, None)),
                    1 => store
                        .user_with_memberships(&me)
                        .await?
                        .map(|(u, m)| (u, Some(m), None)),
                    _ => match store.caller_and_user(&me, &them).await? {
                        (Some((u, m)), named) => Some((u, Some(m), Some(named))),
                        (None, _) => None,
                    },
                };
                Ok::<_, StoreError>((i, other, round, found))
            });
        }
    }
    let mut answered = 0;
    while let Some(joined) = lookups.join_next().await {
        let (i, other, round, found) = joined??;
        let Some((user, memberships, named)) = found else {
            anyhow::bail!("lookup {i} (round {round}) found nobody");
        };
        check_eq!(user.id, uid(&id(i)));
        if let Some(memberships) = memberships {
            check_eq!(memberships, vec![membership(i)]);
        }
        if let Some(named) = named {
            check_eq!(named.map(|u| u.id), Some(uid(&id(other))));
        }
        answered += 1;
    }
    check_eq!(answered, 8 * USERS);
    Ok(())
}
